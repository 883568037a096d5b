package tunnel

import (
	"errors"
	"time"
)

// idler is implemented by backend errors that may say the session ended
// for inactivity.
type idler interface{ Idle() bool }

// IsIdle reports whether err (or one it wraps) says the backend ended the
// session because it was idle.
func IsIdle(err error) bool {
	var i idler
	return errors.As(err, &i) && i.Idle()
}

// supervise keeps the backend session up: it connects, reports ready, and
// after a loss or a failed attempt tries again with backoff, for as long as
// the tunnel is open. A Dialer that is not a Connector has no session to
// keep, so it is ready at once.
func (t *Tunnel) supervise() {
	defer t.loops.Done()
	t.mu.Lock()
	t.setState(Event{State: StateConnecting})
	t.mu.Unlock()

	c, ok := t.dialer.(Connector)
	if !ok {
		t.mu.Lock()
		t.setState(Event{State: StateReady})
		t.mu.Unlock()
		return
	}

	b := newBackoff(t.opts.backoffMin, t.opts.backoffMax)
	attempt := 0
	connected := false
	for {
		attempt++
		started := time.Now()
		lost, err := c.Connect(t.ctx)
		if t.ctx.Err() != nil {
			return
		}
		if err != nil {
			if IsPermanent(err) {
				t.log.Info("backend failed, not retrying", "err", err)
				go t.fail(err)
				return
			}
			delay := b.delay()
			t.log.Info("backend unavailable", "attempt", attempt, "retry_in", delay.Round(time.Millisecond), "err", err)
			t.mu.Lock()
			t.setState(Event{State: StateReconnecting, Attempt: attempt, Delay: delay, Err: err})
			t.mu.Unlock()
			if !t.sleep(delay, started) {
				return
			}
			continue
		}

		if connected {
			t.redial.Add(1)
		}
		connected = true
		b.reset()
		attempt = 0
		t.log.Info("backend ready")
		// A client's request for the session that just came up is met;
		// kept, it would end an idle wait that no client asked to end.
		select {
		case <-t.kick:
		default:
		}
		t.mu.Lock()
		t.setState(Event{State: StateReady})
		t.mu.Unlock()

		select {
		case err := <-lost:
			if IsIdle(err) {
				t.log.Info("backend session ended for inactivity; a new one starts when a client connects", "err", err)
				t.mu.Lock()
				t.setState(Event{State: StateIdle, Err: err})
				t.mu.Unlock()
				if !t.awaitDemand() {
					return
				}
				t.mu.Lock()
				t.setState(Event{State: StateConnecting})
				t.mu.Unlock()
				continue
			}
			// The first attempt after a loss goes at once: a session
			// that worked a moment ago most likely works again.
			t.log.Info("backend session lost", "err", err)
			t.mu.Lock()
			t.setState(Event{State: StateReconnecting, Attempt: 1, Err: err})
			t.mu.Unlock()
		case <-t.redialReq:
			t.log.Info("redial requested, replacing the backend session")
			t.mu.Lock()
			t.setState(Event{State: StateReconnecting, Attempt: 1, Err: ErrRedialRequested})
			t.mu.Unlock()
		case <-t.ctx.Done():
			return
		}
	}
}

// awaitDemand waits for a client to ask for the backend. It reports false
// when the tunnel is shutting down.
func (t *Tunnel) awaitDemand() bool {
	select {
	case <-t.kick:
		return true
	case <-t.redialReq:
		return true
	case <-t.ctx.Done():
		return false
	}
}

// sleep waits out a backoff delay, but no longer than the demand gap after
// the last attempt started once a client is waiting, and not at all once
// Redial is called. It reports false when
// the tunnel is shutting down.
func (t *Tunnel) sleep(delay time.Duration, lastAttempt time.Time) bool {
	deadline := time.Now().Add(delay)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return true
		case <-t.ctx.Done():
			return false
		case <-t.redialReq:
			return true
		case <-t.kick:
			soonest := time.Until(lastAttempt.Add(t.opts.demandGap))
			if soonest <= 0 {
				return true
			}
			if soonest < time.Until(deadline) {
				timer.Reset(soonest)
			}
		}
	}
}
