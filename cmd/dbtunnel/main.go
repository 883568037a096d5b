// Command dbtunnel opens tunnels from this machine to private databases.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, sig := notifyContext()
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	os.Exit(a.run(ctx, sig, os.Args[1:]))
}

// notifyContext is the one place signals are handled: the first SIGINT or
// SIGTERM cancels ctx, and the returned func tells which it was, so commands
// can shut down cleanly and exit 128+signal.
func notifyContext() (context.Context, func() os.Signal) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	got := make(chan os.Signal, 1)
	go func() {
		s := <-ch
		got <- s
		cancel()
	}()
	return ctx, func() os.Signal {
		select {
		case s := <-got:
			got <- s
			return s
		default:
			return nil
		}
	}
}
