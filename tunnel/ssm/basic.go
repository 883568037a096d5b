package ssm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// basicMode is the agent's older port plugin: the session is one byte
// stream to the destination, so it carries one connection at a time. A
// second DialContext waits (bounded by its context) for the first to
// close rather than failing, so a client that reconnects at once, or
// opens connections one after another, keeps working.
//
// Limits of the mode, not of this client: the agent does not tell us when
// the destination closes, so a connection ends when the local client
// stops sending (its EOF, half-close or not); and after the first connection the agent dials the destination
// only when data arrives, so a protocol where the server speaks first
// (MySQL) gets no greeting on later connections.
var errNoHalfClose = errors.New("ssm: basic mode cannot half-close; ending the connection")

type basicMode struct {
	s     *session
	slot  chan struct{} // holding it: the one connection
	mu    sync.Mutex
	dials int
}

func newBasic(s *session) *basicMode {
	return &basicMode{s: s, slot: make(chan struct{}, 1)}
}

func (b *basicMode) dial(ctx context.Context) (net.Conn, error) {
	select {
	case b.slot <- struct{}{}:
	default:
		b.s.log.Info("ssm: waiting for the current connection to close: the agent runs basic mode, one connection at a time",
			"agent", b.s.agentVersion.Load())
		select {
		case b.slot <- struct{}{}:
		case <-b.s.ch.done:
			return nil, b.s.ch.failure()
		case <-ctx.Done():
			return nil, fmt.Errorf("the agent on %s (version %v) runs basic mode, which carries one connection at a time, and the current one is still open (update the SSM agent, or use sessions: N): %w",
				b.s.d.cfg.Target, b.s.agentVersion.Load(), ctx.Err())
		}
	}
	b.mu.Lock()
	b.dials++
	first := b.dials == 1
	b.mu.Unlock()
	return &basicConn{b: b, first: first, closed: make(chan struct{}), rd: newDeadline(), wd: newDeadline()}, nil
}

// basicConn is the one connection of a basic session. Close sends DisconnectToPort; the agent then
// closes its connection to the destination and dials a new one on the
// next data.
type basicConn struct {
	b      *basicMode
	first  bool // the session's first connection: it gets what the destination sent before
	closed chan struct{}
	once   sync.Once
	rd, wd *deadline

	wmu   sync.Mutex
	wrote bool
}

func (c *basicConn) Read(p []byte) (int, error) {
	return c.b.s.inbound.read(p, c.closed, c.rd.wait())
}

func (c *basicConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	s := c.b.s
	if !c.wrote {
		c.wrote = true
		if !c.first {
			// Whatever came since the last connection closed was the
			// tail of that connection.
			s.inbound.reset()
		}
		s.discard.Store(false)
	}
	n := 0
	for n < len(p) {
		k := min(len(p)-n, payloadSize)
		if err := s.ch.send(context.Background(), c.closed, c.wd.wait(), wire.Output, p[n:n+k]); err != nil {
			return n, err
		}
		n += k
	}
	return n, nil
}

// CloseWrite fails: in basic mode the end of the local client's data ends
// the connection. A half-close cannot cross SSM, and the agent does not
// report the destination closing, so a connection held open after the
// local EOF would never end.
func (c *basicConn) CloseWrite() error { return errNoHalfClose }

func (c *basicConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.rd.set(time.Time{})
		c.wd.set(time.Time{})
		s := c.b.s
		s.discard.Store(true)
		s.inbound.reset()
		c.wmu.Lock() // a Write in progress has returned
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		if err := s.ch.send(ctx, nil, nil, wire.Flag, wire.FlagPayload(wire.DisconnectToPort)); err != nil {
			s.log.Debug("ssm: send DisconnectToPort", "err", err)
		}
		cancel()
		c.wmu.Unlock()
		s.active.Add(-1)
		<-c.b.slot
	})
	return nil
}

func (c *basicConn) LocalAddr() net.Addr  { return addr("ssm:" + c.b.s.id) }
func (c *basicConn) RemoteAddr() net.Addr { return addr(c.b.s.d.cfg.remote()) }

func (c *basicConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

func (c *basicConn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *basicConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }
