package ssm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xtaci/smux"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// nopFrame is an smux v1 NOP: version 1, command 3, no data, stream 0.
var nopFrame = []byte{1, 3, 0, 0, 0, 0, 0, 0}

// muxMode carries each local connection as an smux stream over the
// session's in-order byte stream, as the agent's mux port plugin expects.
type muxMode struct {
	s    *session
	pipe *muxPipe
	sess *smux.Session
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func newMux(s *session, keepaliveOff bool) (*muxMode, error) {
	cfg := smux.DefaultConfig()
	cfg.Version = 1
	cfg.KeepAliveDisabled = keepaliveOff
	p := &muxPipe{s: s, closed: make(chan struct{})}
	p.last.Store(time.Now().UnixNano())
	sess, err := smux.Client(p, cfg)
	if err != nil {
		return nil, fmt.Errorf("smux client: %w", err)
	}
	m := &muxMode{s: s, pipe: p, sess: sess, stop: make(chan struct{})}
	if ka := s.d.cfg.Keepalive; ka > 0 {
		m.wg.Go(func() { m.keepalive(ka) })
	}
	m.wg.Go(m.watch)
	return m, nil
}

// watch ends the session when smux dies under a live channel (a protocol
// error, or smux's keepalive with old agents): no stream could be opened
// any more.
func (m *muxMode) watch() {
	select {
	case <-m.sess.CloseChan():
		select {
		case <-m.stop:
		default:
			m.s.abort(errors.New("the multiplexed connection to the agent broke"))
		}
	case <-m.stop:
	}
}

// keepalive writes an smux NOP when nothing was sent for an interval, so
// the service does not close the session as idle. It is our own rather
// than smux's, which would also time the session out on the agent's
// silence (the agent sends no NOPs to current clients).
func (m *muxMode) keepalive(every time.Duration) {
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tk.C:
		}
		if time.Since(time.Unix(0, m.pipe.last.Load())) < every {
			continue
		}
		if _, err := m.pipe.Write(nopFrame); err != nil {
			return
		}
	}
}

func (m *muxMode) close() {
	m.once.Do(func() {
		close(m.stop)
		m.sess.Close()
		m.pipe.Close()
		m.wg.Wait()
	})
}

// dial opens a stream; the agent dials the destination when it accepts
// it. OpenStream takes no context, so a cancelled dial leaves the stream
// to be closed when it arrives.
func (m *muxMode) dial(ctx context.Context) (net.Conn, error) {
	type result struct {
		st  *smux.Stream
		err error
	}
	ch := make(chan result, 1)
	go func() {
		st, err := m.sess.OpenStream()
		ch <- result{st, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			if err := m.s.ch.failure(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("open stream: %w", r.err)
		}
		return &muxConn{Stream: r.st, s: m.s}, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.st != nil {
				r.st.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// muxPipe is the byte stream smux runs over: reads come from the
// channel's in-order payloads, writes go out as ≤1 KiB Output messages.
// One write at a time, so a keepalive NOP falls between smux frames (smux
// writes each frame with one Write).
type muxPipe struct {
	s      *session
	mu     sync.Mutex
	last   atomic.Int64 // UnixNano of the last write
	closed chan struct{}
	once   sync.Once
}

func (p *muxPipe) Read(b []byte) (int, error) {
	return p.s.inbound.read(b, p.closed, nil)
}

func (p *muxPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(b) {
		k := min(len(b)-n, payloadSize)
		if err := p.s.ch.send(context.Background(), p.closed, nil, wire.Output, b[n:n+k]); err != nil {
			return n, err
		}
		n += k
	}
	p.last.Store(time.Now().UnixNano())
	return n, nil
}

func (p *muxPipe) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// muxConn is one local connection's stream. It has no half-close: the
// agent ends both directions when either ends, so CloseWrite does nothing
// and the stream stays open until the destination ends it or Close.
type muxConn struct {
	*smux.Stream
	s       *session
	gotData atomic.Bool
	once    sync.Once
}

func (c *muxConn) Read(p []byte) (int, error) {
	n, err := c.Stream.Read(p)
	if n > 0 {
		c.gotData.Store(true)
	}
	if errors.Is(err, io.EOF) && !c.gotData.Load() && c.s.takeConnectError() {
		return n, fmt.Errorf("ssm: the agent on %s could not connect to %s (is it reachable from the instance: security groups, host, port?): %w",
			c.s.d.cfg.Target, c.s.d.cfg.remote(), ErrConnectToPort)
	}
	return n, err
}

// CloseWrite keeps the stream open: see the type.
func (c *muxConn) CloseWrite() error { return nil }

func (c *muxConn) Close() error {
	err := c.Stream.Close()
	c.once.Do(func() { c.s.active.Add(-1) })
	return err
}

func (c *muxConn) LocalAddr() net.Addr  { return addr("ssm:" + c.s.id) }
func (c *muxConn) RemoteAddr() net.Addr { return addr(c.s.d.cfg.remote()) }

// addr names the ends of an SSM connection.
type addr string

func (a addr) Network() string { return "ssm" }
func (a addr) String() string  { return string(a) }
