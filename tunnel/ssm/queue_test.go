package ssm

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestByteQueue(t *testing.T) {
	q := newByteQueue(4)
	if !q.push([]byte("abc"), false) || !q.push([]byte("d"), false) {
		t.Fatal("push under the limit refused")
	}
	if q.push([]byte("e"), false) {
		t.Fatal("push over the limit accepted")
	}
	if !q.push([]byte("ef"), true) {
		t.Fatal("forced push refused")
	}
	buf := make([]byte, 5)
	n, err := q.read(buf, nil, nil)
	if err != nil || string(buf[:n]) != "abcde" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	q.close(io.ErrUnexpectedEOF)
	n, err = q.read(buf, nil, nil)
	if err != nil || string(buf[:n]) != "f" {
		t.Fatalf("read after close %q %v: buffered data first", buf[:n], err)
	}
	if _, err := q.read(buf, nil, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read drained: %v", err)
	}
	if !q.push([]byte("x"), false) {
		t.Fatal("push after close must be taken (and dropped)")
	}
}

func TestByteQueueStopAndDeadline(t *testing.T) {
	q := newByteQueue(10)
	stop := make(chan struct{})
	close(stop)
	if _, err := q.read(make([]byte, 1), stop, nil); !errors.Is(err, errStop) {
		t.Fatalf("stop: %v", err)
	}
	d := newDeadline()
	d.set(time.Now().Add(-time.Second))
	if _, err := q.read(make([]byte, 1), nil, d.wait()); !errors.Is(err, errDeadline) {
		t.Fatalf("deadline: %v", err)
	}
	d.set(time.Time{})
	select {
	case <-d.wait():
		t.Fatal("cleared deadline still expired")
	default:
	}
	q.push([]byte("z"), false)
	q.reset()
	if q.buffered() != 0 {
		t.Fatal("reset kept data")
	}
}

// TestByteQueueOnRoom: after a refusal, the producer hears once the
// reader has brought the queue down to half its limit, not before, and
// not again without a new refusal.
func TestByteQueueOnRoom(t *testing.T) {
	q := newByteQueue(8)
	calls := 0
	q.onRoom = func() { calls++ }
	q.push([]byte("abcdefgh"), false)
	if _, err := q.read(make([]byte, 1), nil, nil); err != nil || calls != 0 {
		t.Fatalf("read without a refusal: %v, %d calls", err, calls)
	}
	if q.push([]byte("xy"), false) {
		t.Fatal("push over the limit accepted")
	}
	if _, err := q.read(make([]byte, 2), nil, nil); err != nil || calls != 0 {
		t.Fatalf("read to 5 of 8 bytes: %v, %d calls, want none yet", err, calls)
	}
	if _, err := q.read(make([]byte, 1), nil, nil); err != nil || calls != 1 {
		t.Fatalf("read to half the limit: %v, %d calls, want 1", err, calls)
	}
	if _, err := q.read(make([]byte, 1), nil, nil); err != nil || calls != 1 {
		t.Fatalf("read after the call: %v, %d calls, want still 1", err, calls)
	}
}
