package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout is a safety net against hangs, never a timed assertion.
const waitTimeout = 30 * time.Second

// lineLog collects what a command writes, line by line, for tests that
// wait for a line to appear.
type lineLog struct {
	mu      sync.Mutex
	partial string
	lines   []string
	grew    chan struct{} // closed and replaced when a line arrives
}

func newLineLog() *lineLog { return &lineLog{grew: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial += string(p)
	added := false
	for {
		line, rest, ok := strings.Cut(l.partial, "\n")
		if !ok {
			break
		}
		l.lines = append(l.lines, line)
		l.partial = rest
		added = true
	}
	if added {
		close(l.grew)
		l.grew = make(chan struct{})
	}
	return len(p), nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + l.partial
}

// await returns the first line at or after *pos that match accepts, and
// moves *pos past it.
func (l *lineLog) await(t *testing.T, pos *int, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for ; *pos < len(l.lines); *pos++ {
			if line := l.lines[*pos]; match(line) {
				*pos++
				l.mu.Unlock()
				return line
			}
		}
		grew := l.grew
		l.mu.Unlock()
		select {
		case <-grew:
		case <-deadline.C:
			t.Fatalf("no line for %s; got:\n%s", what, l.String())
		}
	}
}

// running is a long-lived command (up) run in-process until stop.
type running struct {
	stdout, stderr *lineLog
	cancel         context.CancelFunc
	done           chan int
}

// start runs the command line like runApp, but in the background; the
// test's end stops it.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	home := t.TempDir()
	getenv := func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: newLineLog(), stderr: newLineLog(), cancel: cancel, done: make(chan int, 1)}
	a := newApp(strings.NewReader(""), r.stdout, r.stderr, getenv)
	go func() { r.done <- a.run(&interrupts{ctx: ctx, force: context.Background()}, args) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop interrupts the command and waits for it to exit.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		r.done <- code
	case <-time.After(waitTimeout):
		t.Fatalf("the command did not exit when interrupted; stderr:\n%s", r.stderr)
	}
}
