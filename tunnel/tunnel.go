package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Spec says what a tunnel is for. Only Listen changes what it does; the rest
// names it in logs and events.
type Spec struct {
	Name string
	// Listen is the local address; "" means 127.0.0.1 on a free port.
	Listen string
	// Remote is the database's host:port as the bastion sees it.
	Remote  string
	Via     string
	Bastion string
}

// ErrClosed is returned by WaitReady when the tunnel was closed first.
var ErrClosed = errors.New("tunnel closed")

// Tunnel is a bound local listener whose connections are carried to the
// remote database by a Dialer.
type Tunnel struct {
	spec   Spec
	opts   options
	log    *slog.Logger
	ln     net.Listener
	dialer Dialer

	// ctx ends the supervisor and every connection still open; it is
	// cancelled once the drain in Close is over.
	ctx    context.Context
	cancel context.CancelFunc

	closing   chan struct{} // closed when Close starts, after the listener: no new clients
	accepted  chan struct{} // closed when the accept loop has ended
	done      chan struct{} // closed when Close has finished
	closeOnce sync.Once
	kick      chan struct{} // a client is waiting for the backend
	redialReq chan struct{} // the user asked for a new session now

	mu         sync.Mutex
	state      State
	lastErr    error
	failErr    error
	up         chan struct{} // closed while the backend is ready
	down       chan struct{} // closed when the current ready ends
	firstReady chan struct{}
	readyOnce  sync.Once
	events     chan Event
	conns      map[net.Conn]struct{}

	bytesIn, bytesOut     atomic.Int64
	active, total, redial atomic.Int64
	nextID                atomic.Int64

	loops    sync.WaitGroup // accept loop and supervisor
	handlers sync.WaitGroup // one per accepted connection
}

// Forward binds spec.Listen at once, so a busy port fails here, then serves
// it in the background until ctx ends or Close is called.
func Forward(ctx context.Context, spec Spec, d Dialer, opts ...Option) (*Tunnel, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if spec.Listen == "" {
		spec.Listen = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", spec.Listen)
	if err != nil {
		return nil, fmt.Errorf("tunnel %s: listen on %s: %w", spec.Name, spec.Listen, err)
	}
	tctx, cancel := context.WithCancel(context.Background())
	t := &Tunnel{
		spec:       spec,
		opts:       o,
		log:        o.logger.With("tunnel", spec.Name),
		ln:         ln,
		dialer:     d,
		ctx:        tctx,
		cancel:     cancel,
		closing:    make(chan struct{}),
		accepted:   make(chan struct{}),
		done:       make(chan struct{}),
		kick:       make(chan struct{}, 1),
		redialReq:  make(chan struct{}, 1),
		up:         make(chan struct{}),
		down:       make(chan struct{}),
		firstReady: make(chan struct{}),
		events:     make(chan Event, 64),
		conns:      make(map[net.Conn]struct{}),
	}
	t.loops.Add(2)
	go t.acceptLoop()
	go t.supervise()
	go func() {
		select {
		case <-ctx.Done():
			t.Close()
		case <-t.done:
		}
	}()
	return t, nil
}

// LocalAddr is the address clients connect to.
func (t *Tunnel) LocalAddr() net.Addr { return t.ln.Addr() }

// Spec returns the spec with Listen set to the bound address.
func (t *Tunnel) Spec() Spec {
	s := t.spec
	s.Listen = t.ln.Addr().String()
	return s
}

// Events delivers state changes in order. It is closed after the closed
// event. A reader that falls behind loses the oldest events, never the
// latest.
func (t *Tunnel) Events() <-chan Event { return t.events }

// Done is closed when the tunnel has shut down, by Close or by a permanent
// failure.
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// Err is the permanent failure that ended the tunnel, or nil.
func (t *Tunnel) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failErr
}

// Stats returns the counters as they are now.
func (t *Tunnel) Stats() Stats {
	t.mu.Lock()
	state, lastErr := t.state, t.lastErr
	t.mu.Unlock()
	// Connections first: a connection's bytes are counted before it stops
	// being active, so a sample with Active 0 has all of its bytes.
	active, total := t.active.Load(), t.total.Load()
	return Stats{
		State:      state,
		BytesIn:    t.bytesIn.Load(),
		BytesOut:   t.bytesOut.Load(),
		Active:     active,
		Total:      total,
		Reconnects: t.redial.Load(),
		LastErr:    lastErr,
	}
}

// ErrRedialRequested is the reason recorded when Redial replaces a working
// session.
var ErrRedialRequested = errors.New("redial requested")

// Redial asks the supervisor for a new backend session now: a working
// session is replaced (Connect is called again, as after a loss), a
// backoff wait after a failure ends at once, without the demand gap, and
// an idle tunnel opens a session without waiting for a client. It
// returns at once; follow Events for the outcome. Requests made while one
// is pending count once. A Dialer that is not a Connector has no session,
// so there is nothing to redial.
func (t *Tunnel) Redial() {
	select {
	case t.redialReq <- struct{}{}:
	default:
	}
}

// WaitReady blocks until the backend is ready for the first time. It returns
// the failure if the tunnel gave up first, and the last error seen if ctx
// ends first.
func (t *Tunnel) WaitReady(ctx context.Context) error {
	select {
	case <-t.firstReady:
		return nil
	case <-t.done:
		if err := t.Err(); err != nil {
			return err
		}
		return ErrClosed
	case <-ctx.Done():
		if err := t.Stats().LastErr; err != nil {
			return fmt.Errorf("tunnel %s: not ready: %w (last error: %w)", t.spec.Name, ctx.Err(), err)
		}
		return fmt.Errorf("tunnel %s: not ready: %w", t.spec.Name, ctx.Err())
	}
}

// Close stops accepting, lets active connections finish for the grace
// period, then cuts the rest, ends the backend session and closes the
// Dialer. It is safe to call more than once and from any goroutine.
func (t *Tunnel) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), t.opts.grace)
	defer cancel()
	return t.Shutdown(ctx)
}

// Shutdown is Close with the drain bounded by ctx instead of the grace
// period, so a caller can cut it short (a second Ctrl-C). Only the first
// call's ctx counts; later calls wait for it to finish.
func (t *Tunnel) Shutdown(ctx context.Context) error {
	t.closeOnce.Do(func() {
		// The listener goes first, so that once closing is seen no new
		// client can connect; accept reports net.ErrClosed in between.
		t.ln.Close()
		close(t.closing)
		// Every connection accepted is counted in handlers once the
		// loop has ended, so the drain cannot miss one.
		<-t.accepted
		drained := make(chan struct{})
		go func() {
			t.handlers.Wait()
			close(drained)
		}()
		select {
		case <-drained:
		case <-ctx.Done():
			t.log.Info("drain cut short, closing connections", "active", t.active.Load())
		}
		t.cancel()
		t.closeConns()
		<-drained
		t.loops.Wait()
		if err := t.dialer.Close(); err != nil {
			t.log.Debug("close dialer", "err", err)
		}
		t.mu.Lock()
		t.setState(Event{State: StateClosed})
		close(t.events)
		t.mu.Unlock()
		close(t.done)
	})
	<-t.done
	return nil
}

func (t *Tunnel) acceptLoop() {
	defer t.loops.Done()
	defer close(t.accepted)
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-t.closing:
			default:
				t.log.Error("accept failed, closing tunnel", "err", err)
				go t.fail(fmt.Errorf("tunnel %s: accept: %w", t.spec.Name, err))
			}
			return
		}
		t.handlers.Add(1)
		t.active.Add(1)
		t.total.Add(1)
		go t.handle(c, t.nextID.Add(1))
	}
}

func (t *Tunnel) handle(local net.Conn, id int64) {
	defer t.handlers.Done()
	defer t.active.Add(-1)
	log := t.log.With("conn", id)
	t.track(local)
	defer t.untrack(local)

	ctx, cancel := context.WithTimeout(t.ctx, t.opts.dialTimeout)
	remote, err := t.dial(ctx)
	cancel()
	if err != nil {
		log.Warn("closing client: backend unavailable", "client", local.RemoteAddr().String(), "err", err)
		local.Close()
		return
	}
	t.track(remote)
	defer t.untrack(remote)
	log.Debug("open", "client", local.RemoteAddr().String())
	pipe(local, remote, &t.bytesIn, &t.bytesOut)
	log.Debug("closed")
}

// dial waits for the backend to be ready, asking the supervisor to try now
// if it is in a backoff, then opens one remote connection. A session that
// ended before the supervisor saw it is waited out too.
func (t *Tunnel) dial(ctx context.Context) (net.Conn, error) {
	for {
		t.mu.Lock()
		state, up, down := t.state, t.up, t.down
		t.mu.Unlock()
		if state == StateReady {
			c, err := t.dialer.DialContext(ctx)
			if err == nil || !errors.Is(err, ErrNotConnected) {
				return c, err
			}
			select {
			case <-down:
				continue
			case <-t.closing:
				return nil, ErrClosed
			case <-ctx.Done():
				return nil, err
			}
		}
		select {
		case t.kick <- struct{}{}:
		default:
		}
		select {
		case <-up:
		case <-t.closing:
			return nil, ErrClosed
		case <-ctx.Done():
			if err := t.Stats().LastErr; err != nil {
				return nil, fmt.Errorf("waiting for backend: %w", err)
			}
			return nil, fmt.Errorf("waiting for backend: %w", ctx.Err())
		}
	}
}

func (t *Tunnel) track(c net.Conn) {
	t.mu.Lock()
	t.conns[c] = struct{}{}
	t.mu.Unlock()
}

func (t *Tunnel) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

func (t *Tunnel) closeConns() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.Close()
	}
}

// fail records a permanent failure and shuts the tunnel down. The
// listener closes first: once the failure is announced nobody connects.
func (t *Tunnel) fail(err error) {
	t.ln.Close()
	t.mu.Lock()
	if t.failErr == nil {
		t.failErr = err
		t.setState(Event{State: StateFailed, Err: err})
	}
	t.mu.Unlock()
	t.Close()
}

// setState records a transition and emits it. t.mu must be held.
func (t *Tunnel) setState(ev Event) {
	ev.Time = time.Now()
	wasReady := t.state == StateReady
	t.state = ev.State
	if ev.Err != nil {
		t.lastErr = ev.Err
	}
	switch {
	case ev.State == StateReady:
		close(t.up)
		t.down = make(chan struct{})
		t.readyOnce.Do(func() { close(t.firstReady) })
	case wasReady:
		t.up = make(chan struct{})
		close(t.down)
	}
	for {
		select {
		case t.events <- ev:
			return
		default:
		}
		select {
		case <-t.events:
		default:
		}
	}
}
