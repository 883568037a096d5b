package ssm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/dbtunnel/dbtunnel/tunnel"
)

// Dialer is a tunnel.Connector over one or more SSM sessions to Target.
type Dialer struct {
	cfg  Config
	log  *slog.Logger
	dial DialFunc
	n    int
	// pingEvery and pingWait, when set, replace the websocket ping's
	// interval and pong deadline: tests shorten them.
	pingEvery, pingWait time.Duration

	// life ends on Close and cancels a Connect in progress.
	life context.Context
	kill context.CancelFunc
	wg   sync.WaitGroup // every session's goroutine

	connectMu sync.Mutex // one Connect at a time

	mu       sync.Mutex
	sessions []*session // up and handshaken
	lostCh   chan error // of the latest Connect
	closed   bool
}

var _ tunnel.Connector = (*Dialer)(nil)

// New validates cfg. It does not touch the network; Connect does.
func New(cfg Config) (*Dialer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Dialer{cfg: cfg, log: cfg.Logger, dial: cfg.Dial, n: max(cfg.Sessions, 1)}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.dial == nil {
		d.dial = defaultDial
	}
	d.life, d.kill = context.WithCancel(context.Background())
	return d, nil
}

// Connect starts sessions until Sessions are up; sessions still up from
// before are kept, with their connections. The channel yields an error
// when any session is lost for good (resume failed, the service closed
// it, idle timeout); the next Connect replaces it. Access denied and
// rejected credentials are marked tunnel.Permanent; an agent that is not
// connected is not (it may come back).
func (d *Dialer) Connect(ctx context.Context) (<-chan error, error) {
	d.connectMu.Lock()
	defer d.connectMu.Unlock()

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, d.closedErr()
	}
	lost := make(chan error, 1)
	d.lostCh = lost
	missing := d.n - len(d.sessions)
	d.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.life, cancel)()

	started := make([]*session, missing)
	errs := make([]error, missing)
	var wg sync.WaitGroup
	for i := range missing {
		wg.Go(func() { started[i], errs[i] = d.startSession(ctx) })
	}
	wg.Wait()

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		for _, s := range started {
			if s != nil {
				s.close()
			}
		}
		return nil, d.closedErr()
	}
	for _, s := range started {
		if s != nil && !s.dead {
			d.sessions = append(d.sessions, s)
		}
	}
	short := len(d.sessions) < d.n
	d.mu.Unlock()

	if err := firstError(errs); err != nil {
		return nil, err
	}
	if short {
		select {
		case lost <- fmt.Errorf("ssm: a session to %s ended while others were starting", d.cfg.Target):
		default:
		}
	}
	return lost, nil
}

// firstError prefers a Permanent error, which decides the outcome.
func firstError(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if tunnel.IsPermanent(err) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// DialContext opens a connection to the destination in the least loaded
// session. Its CloseWrite does nothing: SSM cannot carry a half-close.
func (d *Dialer) DialContext(ctx context.Context) (net.Conn, error) {
	d.mu.Lock()
	var best *session
	for _, s := range d.sessions {
		if best == nil || s.active.Load() < best.active.Load() {
			best = s
		}
	}
	if best == nil {
		d.mu.Unlock()
		return nil, fmt.Errorf("ssm: open connection to %s via %s: %w", d.cfg.remote(), d.cfg.Target, ErrNotConnected)
	}
	best.active.Add(1)
	d.mu.Unlock()
	conn, err := best.dial(ctx)
	if err != nil {
		best.active.Add(-1)
		d.mu.Lock()
		dead := best.dead
		d.mu.Unlock()
		if dead && !errors.Is(err, ErrNotConnected) {
			// The session ended during the dial.
			err = fmt.Errorf("%w (%w)", ErrNotConnected, err)
		}
		return nil, fmt.Errorf("ssm: open connection to %s via %s (session %s): %w", d.cfg.remote(), d.cfg.Target, best.id, err)
	}
	return conn, nil
}

// Close terminates every session (flag to the agent, TerminateSession to
// the service) and waits for their goroutines. A Connect in progress
// fails.
func (d *Dialer) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	sessions := d.sessions
	d.sessions = nil
	d.mu.Unlock()
	d.kill()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(s.close)
	}
	wg.Wait()
	d.connectMu.Lock() // a Connect in progress has cleaned up
	d.connectMu.Unlock()
	d.wg.Wait()
	return nil
}

// lost takes a session that ended on its own out of the pool.
func (d *Dialer) lost(s *session, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s.dead = true
	d.sessions = slices.DeleteFunc(d.sessions, func(x *session) bool { return x == s })
	if d.closed {
		return
	}
	d.log.Warn("ssm: session lost", "session", s.id, "target", d.cfg.Target, "err", err)
	if d.lostCh != nil {
		select {
		case d.lostCh <- err:
		default:
		}
	}
}

func (d *Dialer) closedErr() error {
	return tunnel.Permanent(fmt.Errorf("ssm: sessions to %s: %w", d.cfg.Target, net.ErrClosed))
}
