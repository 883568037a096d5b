// Command dbtunnel opens tunnels from this machine to private databases.
package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	os.Exit(a.run(notify(), os.Args[1:]))
}

// interrupts is what the commands see of signals: the first SIGINT or
// SIGTERM cancels ctx (shut down cleanly, then exit 128+signal), a second
// cancels force (stop waiting for open connections).
type interrupts struct {
	ctx, force context.Context
	mu         sync.Mutex
	first      os.Signal
}

// signal returns the first signal received, or nil.
func (i *interrupts) signal() os.Signal {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.first
}

// notify is the one place signals are handled.
func notify() *interrupts {
	ctx, stop := context.WithCancel(context.Background())
	force, stopNow := context.WithCancel(context.Background())
	in := &interrupts{ctx: ctx, force: force}
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-ch
		in.mu.Lock()
		in.first = s
		in.mu.Unlock()
		stop()
		<-ch
		stopNow()
	}()
	return in
}
