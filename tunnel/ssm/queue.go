package ssm

import (
	"net"
	"os"
	"sync"
	"time"
)

var (
	errStop     = net.ErrClosed
	errDeadline = os.ErrDeadlineExceeded
)

// byteQueue holds the payload bytes delivered in order by the data channel
// until the consumer (the smux client, or the basic-mode connection) reads
// them. Its limit is soft: push refuses new data over it, so the message
// stays unacknowledged and the agent sends it again later, which is how a
// slow local reader slows the agent down; data that was already
// acknowledged (drained from the reorder buffer) is always taken.
type byteQueue struct {
	limit int
	ready chan struct{} // one token: data or an error arrived
	// onRoom, if set, is called (without the lock) when a read or reset
	// brings the queue to half its limit after push refused data, so the
	// producer can retry at once instead of waiting for a resend.
	onRoom func()

	mu      sync.Mutex
	bufs    [][]byte
	n       int
	err     error
	refused bool
}

func newByteQueue(limit int) *byteQueue {
	return &byteQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// push appends p, which the queue keeps. It reports false when the queue
// is over its limit and force is not set. After close it drops p and
// reports true: nobody will read it.
func (q *byteQueue) push(p []byte, force bool) bool {
	if len(p) == 0 {
		return true
	}
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return true
	}
	if !force && q.n > 0 && q.n+len(p) > q.limit {
		q.refused = true
		q.mu.Unlock()
		return false
	}
	q.bufs = append(q.bufs, p)
	q.n += len(p)
	q.mu.Unlock()
	q.signal()
	return true
}

func (q *byteQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// read copies buffered bytes into p, waiting for some. It returns the
// queue's error once drained, errStop when stop is closed and
// errDeadline when deadline is closed (either may be nil).
func (q *byteQueue) read(p []byte, stop, deadline <-chan struct{}) (int, error) {
	for {
		q.mu.Lock()
		if q.n > 0 {
			n := 0
			for n < len(p) && len(q.bufs) > 0 {
				c := copy(p[n:], q.bufs[0])
				n += c
				if c == len(q.bufs[0]) {
					q.bufs[0] = nil
					q.bufs = q.bufs[1:]
				} else {
					q.bufs[0] = q.bufs[0][c:]
				}
			}
			q.n -= n
			more := q.n > 0 || q.err != nil
			room := q.roomLocked()
			q.mu.Unlock()
			if more {
				q.signal()
			}
			if room {
				q.onRoom()
			}
			return n, nil
		}
		err := q.err
		q.mu.Unlock()
		if err != nil {
			q.signal()
			return 0, err
		}
		select {
		case <-q.ready:
		case <-stop:
			return 0, errStop
		case <-deadline:
			return 0, errDeadline
		}
	}
}

// buffered is the number of bytes waiting.
func (q *byteQueue) buffered() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// roomLocked reports whether onRoom is due, and clears the refusal.
func (q *byteQueue) roomLocked() bool {
	if !q.refused || q.onRoom == nil || q.n > q.limit/2 {
		return false
	}
	q.refused = false
	return true
}

// reset drops whatever is buffered.
func (q *byteQueue) reset() {
	q.mu.Lock()
	q.bufs, q.n = nil, 0
	room := q.roomLocked()
	q.mu.Unlock()
	if room {
		q.onRoom()
	}
}

// close makes read return err once the buffer is drained.
func (q *byteQueue) close(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	q.signal()
}

// deadline is a settable point in time with a channel closed when it
// passes, for net.Conn deadlines.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{}
}

func newDeadline() *deadline { return &deadline{ch: make(chan struct{})} }

// set arms the deadline; the zero time disarms it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.ch // the old timer closed it; it is replaced below
	}
	d.timer = nil
	select {
	case <-d.ch:
		d.ch = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.ch)
		return
	}
	ch := d.ch
	d.timer = time.AfterFunc(dur, func() { close(ch) })
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}
