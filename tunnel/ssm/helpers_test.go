package ssm

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// testTimeout is a safety net against hangs, never a timed assertion.
const testTimeout = 20 * time.Second

var errLinkClosed = errors.New("link closed")

// link is an in-memory websocket: two ends, closed together.
type link struct {
	closed chan struct{}
	once   sync.Once
	pings  atomic.Int64 // pings sent by either end
	deaf   atomic.Bool  // pings go unanswered: ping waits for its deadline
	// unanswered counts the pings that met a deaf link, so a test can
	// tell a close caused by one from a close that came after answered
	// pings only.
	unanswered atomic.Int64
}

type memEnd struct {
	l   *link
	in  chan []byte
	out chan []byte
}

func newLink() (client, agent *memEnd) {
	l := &link{closed: make(chan struct{})}
	a2b, b2a := make(chan []byte, 8192), make(chan []byte, 8192)
	return &memEnd{l: l, in: b2a, out: a2b}, &memEnd{l: l, in: a2b, out: b2a}
}

func (e *memEnd) read(ctx context.Context) ([]byte, error) {
	select {
	case b := <-e.in:
		return b, nil
	case <-e.l.closed:
		return nil, errLinkClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *memEnd) write(ctx context.Context, frame []byte) error {
	select {
	case <-e.l.closed:
		return errLinkClosed
	default:
	}
	select {
	case e.out <- append([]byte(nil), frame...):
		return nil
	case <-e.l.closed:
		return errLinkClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *memEnd) ping(ctx context.Context) error {
	e.l.pings.Add(1)
	if !e.l.deaf.Load() {
		return nil
	}
	e.l.unanswered.Add(1)
	select {
	case <-e.l.closed:
		return errLinkClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *memEnd) close(bool) { e.l.once.Do(func() { close(e.l.closed) }) }

// peer plays the agent's side of a link in tests.
type peer struct {
	t   *testing.T
	end *memEnd
}

// next returns the next frame from the client.
func (p *peer) next() *wire.Message {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	b, err := p.end.read(ctx)
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	var m wire.Message
	if err := m.UnmarshalBinary(b); err != nil {
		p.t.Fatalf("peer decode: %v", err)
	}
	return &m
}

// nextOf skips frames until one of type typ.
func (p *peer) nextOf(typ string) *wire.Message {
	p.t.Helper()
	for {
		if m := p.next(); m.Type == typ {
			return m
		}
	}
}

func (p *peer) send(m *wire.Message) {
	p.t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.end.write(context.Background(), b); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

func (p *peer) data(seq int64, pt wire.PayloadType, payload string) *wire.Message {
	m := &wire.Message{Type: wire.OutputStreamData, SchemaVersion: 1, SequenceNumber: seq, PayloadType: pt, Payload: []byte(payload), MessageID: uuid.New()}
	p.send(m)
	return m
}

func (p *peer) ack(m *wire.Message) {
	p.t.Helper()
	a, err := wire.NewAck(m)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(a)
}

func (p *peer) control(typ string) { p.send(&wire.Message{Type: typ, SchemaVersion: 1}) }

// ackSeq decodes an acknowledge message's sequence number.
func ackSeq(t *testing.T, m *wire.Message) int64 {
	t.Helper()
	a, err := wire.ParseAck(m)
	if err != nil {
		t.Fatal(err)
	}
	return a.AcknowledgedMessageSequenceNumber
}

func testLogger() *slog.Logger {
	if os.Getenv("SSM_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// nilAPI satisfies SSMAPI for tests that never call it.
type nilAPI struct{ SSMAPI }
