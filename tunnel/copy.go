package tunnel

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Copy buffers grow with the traffic. Each direction of a connection starts
// with minCopyBuffer, enough for queries, small results and handshakes, so
// that the many idle connections of a pool cost little: a buffer is held,
// and its pages touched, for as long as its connection is open. Every read
// that fills the buffer doubles it, up to maxCopyBuffer, so bulk transfers
// (COPY, pg_dump, restores) soon move up to 1 MiB per read and write, with
// fewer syscalls and wakeups per byte. Measured against the former fixed
// 64 KiB buffer in docs/BENCHMARKS.md.
const (
	minCopyBuffer = 4 << 10
	maxCopyBuffer = 1 << 20
	bufferClasses = 9 // minCopyBuffer << (bufferClasses-1) == maxCopyBuffer
)

// bufferPools[i] holds buffers of minCopyBuffer<<i bytes.
var bufferPools [bufferClasses]sync.Pool

func getBuffer(class int) *[]byte {
	if bp, ok := bufferPools[class].Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, minCopyBuffer<<class)
	return &b
}

type closeWriter interface{ CloseWrite() error }

// pipe copies between the local client and the remote connection until both
// directions have ended, then closes both. A clean EOF on one side is passed
// on as a half-close (CloseWrite) so protocols that finish sending before
// they finish reading keep working; an error on either side tears both down.
func pipe(local, remote net.Conn, in, out *atomic.Int64) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			local.Close()
			remote.Close()
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(remote, local, out, closeBoth)
	}()
	copyHalf(local, remote, in, closeBoth)
	<-done
	closeBoth()
}

// copyHalf copies src to dst, adding to n as bytes are written so live
// counters move during long transfers.
func copyHalf(dst, src net.Conn, n *atomic.Int64, abort func()) {
	class := 0
	bp := getBuffer(class)
	defer func() { bufferPools[class].Put(bp) }()
	for {
		buf := *bp
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n.Add(int64(nw))
			if werr != nil {
				abort()
				return
			}
			if nr == len(buf) && class < bufferClasses-1 {
				bufferPools[class].Put(bp)
				class++
				bp = getBuffer(class)
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				abort()
				return
			}
			if cw, ok := dst.(closeWriter); ok {
				if cw.CloseWrite() == nil {
					return
				}
			}
			// No half-close on this transport: ending the whole
			// connection is the only way to pass the EOF on.
			abort()
			return
		}
	}
}
