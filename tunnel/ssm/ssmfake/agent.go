package ssmfake

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xtaci/smux"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// portAgent is the agent's port plugin in one mode.
type portAgent interface {
	handle(in inbound)
	close()
}

// agentLoop feeds in-order client payloads to the port plugin, which it
// creates once the handshake has settled the mode.
func (s *session) agentLoop() {
	defer s.svc.wg.Done()
	var a portAgent
	defer func() {
		if a != nil {
			a.close()
		}
	}()
	for {
		in, err := s.popInbound()
		if err != nil {
			return
		}
		if a == nil {
			s.mu.Lock()
			mode := s.mode
			s.mu.Unlock()
			switch mode {
			case "mux":
				a = &muxAgent{s: s}
			case "basic":
				b := &basicAgent{s: s}
				a = b
				if err := b.connect(); err != nil {
					s.terminate("dial failed", "Unable to start port forwarding: "+err.Error(), true)
					return
				}
			default:
				continue
			}
		}
		if in.pt != 0 {
			a.handle(in)
		}
	}
}

func (s *session) dial() (net.Conn, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.svc.opts.DialTimeout)
	defer cancel()
	dial := s.svc.opts.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	c, err := dial(ctx, "tcp", s.dest)
	s.mu.Lock()
	if err != nil {
		s.dialErrors++
	} else {
		s.streams++
	}
	s.mu.Unlock()
	if err != nil {
		s.svc.log.Debug("ssmfake: dial destination", "session", s.id, "destination", s.dest, "err", err)
	}
	return c, err
}

func (s *session) pace() {
	if p := s.svc.opts.Pacing; p > 0 {
		time.Sleep(p)
	}
}

// pump sends what r yields to the client as Output messages of at most
// 1024 bytes, sleeping Pacing after each read, like the agent.
func (s *session) pump(r io.Reader) error {
	buf := make([]byte, payloadSize)
	for {
		if err := s.waitSendable(); err != nil {
			return err
		}
		n, err := r.Read(buf)
		if n > 0 {
			// Publication may have stopped while the read blocked.
			if werr := s.waitSendable(); werr != nil {
				return werr
			}
			if serr := s.sendData(wire.Output, buf[:n]); serr != nil {
				return serr
			}
		}
		if err != nil {
			return err
		}
		s.pace()
	}
}

// basicAgent forwards one connection at a time, dialed at session start
// and again on the first data after the client's DisconnectToPort. It
// never sends flags (a basic client would write them into its stream),
// and a destination that closes is not signalled to the client.
type basicAgent struct {
	s    *session
	mu   sync.Mutex
	conn net.Conn
}

func (b *basicAgent) connect() error {
	c, err := b.s.dial()
	if err != nil {
		return err
	}
	if !b.s.addCloser(c) {
		return errTerminated
	}
	b.mu.Lock()
	b.conn = c
	b.mu.Unlock()
	b.s.svc.wg.Add(1)
	go func() {
		defer b.s.svc.wg.Done()
		_ = b.s.pump(c)
		b.drop(c)
	}()
	return nil
}

func (b *basicAgent) current() net.Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn
}

// drop closes c and forgets it if it is still the current connection.
func (b *basicAgent) drop(c net.Conn) {
	_ = c.Close()
	b.s.removeCloser(c)
	b.mu.Lock()
	if b.conn == c {
		b.conn = nil
	}
	b.mu.Unlock()
}

func (b *basicAgent) handle(in inbound) {
	switch in.pt {
	case wire.Flag:
		if c := b.current(); c != nil && wire.FlagValue(beUint32(in.payload)) == wire.DisconnectToPort {
			b.drop(c)
		}
	case wire.Output:
		c := b.current()
		if c == nil {
			if err := b.connect(); err != nil {
				return // the data is lost, as with the agent
			}
			c = b.current()
		}
		if c == nil {
			return
		}
		if _, err := c.Write(in.payload); err != nil {
			b.drop(c)
		}
	}
}

func (b *basicAgent) close() {
	if c := b.current(); c != nil {
		b.drop(c)
	}
}

// muxAgent runs an smux server over the in-order payload stream, from the
// client's first data message on, and dials the destination per stream.
type muxAgent struct {
	s    *session
	pipe net.Conn // our end; the smux server has the other
	sess *smux.Session
}

func (m *muxAgent) start() error {
	s := m.s
	agentEnd, ourEnd := net.Pipe()
	cfg := smux.DefaultConfig()
	s.mu.Lock()
	cfg.KeepAliveDisabled = !s.keepAlive
	s.mu.Unlock()
	sess, err := smux.Server(agentEnd, cfg)
	if err != nil {
		_ = agentEnd.Close()
		_ = ourEnd.Close()
		return err
	}
	m.pipe, m.sess = ourEnd, sess
	if !s.addCloser(sess) || !s.addCloser(ourEnd) {
		_ = sess.Close()
		_ = ourEnd.Close()
		return errTerminated
	}
	s.svc.wg.Add(2)
	go func() {
		defer s.svc.wg.Done()
		err := s.pump(ourEnd)
		if !errors.Is(err, errTerminated) {
			s.terminate("smux session ended", "", true)
		}
	}()
	go func() {
		defer s.svc.wg.Done()
		for {
			st, err := sess.AcceptStream()
			if err != nil {
				return
			}
			s.svc.wg.Add(1)
			go m.serveStream(st)
		}
	}()
	return nil
}

func (m *muxAgent) serveStream(st *smux.Stream) {
	s := m.s
	defer s.svc.wg.Done()
	conn, err := s.dial()
	if err != nil {
		_ = s.sendData(wire.Flag, wire.FlagPayload(wire.ConnectToPortError))
		_ = st.Close()
		return
	}
	if !s.addCloser(conn) {
		_ = st.Close()
		return
	}
	// No half-close crosses the tunnel: when either direction ends, the
	// stream and the destination connection are both closed.
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			_ = st.Close()
			_ = conn.Close()
			s.removeCloser(conn)
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(conn, st)
		closeBoth()
	}()
	_, _ = io.Copy(st, conn)
	closeBoth()
	<-done
}

func (m *muxAgent) handle(in inbound) {
	if in.pt != wire.Output {
		return
	}
	if m.sess == nil {
		if err := m.start(); err != nil {
			m.s.terminate("smux failed", "", true)
			return
		}
	}
	if _, err := m.pipe.Write(in.payload); err != nil {
		m.s.terminate("smux session ended", "", true)
	}
}

func (m *muxAgent) close() {
	if m.sess != nil {
		_ = m.sess.Close()
		_ = m.pipe.Close()
	}
}

func beUint32(p []byte) uint32 {
	if len(p) != 4 {
		return 0
	}
	return uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
}

// compareVersions compares dotted versions part by part, numerically;
// missing parts count as 0 and non-numeric parts as -1.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		x, y := versionPart(pa, i), versionPart(pb, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionPart(p []string, i int) int {
	if i >= len(p) {
		return 0
	}
	n, err := strconv.Atoi(p[i])
	if err != nil {
		return -1
	}
	return n
}
