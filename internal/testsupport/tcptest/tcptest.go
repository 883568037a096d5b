// Package tcptest starts the throwaway TCP services that tests put behind a
// tunnel: a destination database stand-in on loopback that is gone, with
// every connection it accepted, when the test ends. Only tests import it.
package tcptest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Serve listens on 127.0.0.1:0 and runs handle for each connection, closing
// the connection when handle returns. The listener closes, and every
// handler has returned, before the test's later cleanups run.
func Serve(t testing.TB, handle func(net.Conn)) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	return ln.Addr().(*net.TCPAddr)
}

// Echo serves connections that echo what they read until the client
// closes.
func Echo(t testing.TB) *net.TCPAddr {
	t.Helper()
	return Serve(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}
