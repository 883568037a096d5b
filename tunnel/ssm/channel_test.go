package ssm

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// harness runs a channel against a peer over in-memory links.
type harness struct {
	t      *testing.T
	c      *channel
	peer   *peer
	got    chan string
	refuse atomic.Int32 // refuse this many upcoming first deliveries
	links  chan transport
	fail   chan error // makes reconnect fail
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil) }

// newHarnessWith lets setup adjust the channel and the first link before
// the channel runs.
func newHarnessWith(t *testing.T, setup func(c *channel, client *memEnd)) *harness {
	t.Helper()
	client, agent := newLink()
	h := &harness{t: t, peer: &peer{t: t, end: agent}, got: make(chan string, 8192), links: make(chan transport, 1), fail: make(chan error, 1)}
	h.c = newChannel(testLogger(), "s-1", "i-1", h.deliver, h.reconnect)
	if setup != nil {
		setup(h.c, client)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.c.run(ctx, client)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

func (h *harness) deliver(m *wire.Message, acked bool) bool {
	if !acked && h.refuse.Load() > 0 {
		h.refuse.Add(-1)
		return false
	}
	h.got <- string(m.Payload)
	return true
}

func (h *harness) reconnect(ctx context.Context) (transport, error) {
	select {
	case t := <-h.links:
		return t, nil
	case err := <-h.fail:
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// drop breaks the current link and hands the channel a new one.
func (h *harness) drop() {
	h.peer.end.close(false)
	client, agent := newLink()
	h.peer = &peer{t: h.t, end: agent}
	h.links <- client
}

func (h *harness) delivered() []string {
	var out []string
	for {
		select {
		case s := <-h.got:
			out = append(out, s)
		default:
			return out
		}
	}
}

func (h *harness) send(payload string) {
	h.t.Helper()
	if err := h.c.send(context.Background(), nil, nil, wire.Output, []byte(payload)); err != nil {
		h.t.Fatal(err)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestChannelReordersAndAcksEverything(t *testing.T) {
	h := newHarness(t)
	for _, f := range []struct {
		seq int64
		p   string
	}{{0, "a"}, {2, "c"}, {1, "b"}, {1, "b"}, {0, "a"}, {3, "d"}} {
		h.peer.data(f.seq, wire.Output, f.p)
	}
	var acks []int64
	for range 6 {
		acks = append(acks, ackSeq(t, h.peer.nextOf(wire.Acknowledge)))
	}
	// Future messages and duplicates are acknowledged too: a duplicate
	// means our ack was lost, and without a new one the agent resends it
	// forever.
	if want := []int64{0, 2, 1, 1, 0, 3}; !equalInt64s(acks, want) {
		t.Errorf("acks %v, want %v", acks, want)
	}
	if got := h.delivered(); !equalStrings(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("delivered %q", got)
	}
}

func equalInt64s(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestChannelRefusedDeliveryIsNotAcked(t *testing.T) {
	h := newHarness(t)
	h.refuse.Store(1)
	h.peer.data(0, wire.Output, "a") // refused: held, no ack
	h.peer.data(1, wire.Output, "b") // held behind it, no ack either
	h.peer.data(0, wire.Output, "a") // the agent's resend
	// Had b been acknowledged on arrival, its ack would come first.
	h.wantAcksThenAB(t)
}

// wantAcksThenAB: messages 0 and 1 are acknowledged in order, and "a"
// then "b" delivered.
func (h *harness) wantAcksThenAB(t *testing.T) {
	t.Helper()
	var acks []int64
	for range 2 {
		acks = append(acks, ackSeq(t, h.peer.nextOf(wire.Acknowledge)))
	}
	if want := []int64{0, 1}; !equalInt64s(acks, want) {
		t.Errorf("acks %v, want %v", acks, want)
	}
	if got := h.delivered(); !equalStrings(got, []string{"a", "b"}) {
		t.Errorf("delivered %q", got)
	}
}

// TestChannelKickDeliversTheBacklog: once the local reader has made room,
// the held messages go through and are acknowledged without waiting for
// the agent to resend anything.
func TestChannelKickDeliversTheBacklog(t *testing.T) {
	h := newHarness(t)
	h.refuse.Store(1)
	h.peer.data(0, wire.Output, "a")
	h.peer.data(1, wire.Output, "b")
	waitCond(t, "both messages held", func() bool {
		h.c.rxMu.Lock()
		defer h.c.rxMu.Unlock()
		return h.c.blocked && len(h.c.future) == 2
	})
	h.c.kick()
	h.wantAcksThenAB(t)
}

func TestChannelNoDoubleDeliveryAcrossReconnect(t *testing.T) {
	h := newHarness(t)
	h.peer.data(0, wire.Output, "a")
	if s := <-h.got; s != "a" {
		t.Fatalf("delivered %q", s)
	}
	// The websocket breaks before the agent sees our ack; it resends.
	// The ack is taken off the old websocket first: left queued, it would
	// go out on the new one too and pass for the re-ack of the resend.
	if got := ackSeq(t, h.peer.nextOf(wire.Acknowledge)); got != 0 {
		t.Fatalf("ack for %d, want 0", got)
	}
	h.drop()
	h.peer.data(0, wire.Output, "a")
	if got := ackSeq(t, h.peer.nextOf(wire.Acknowledge)); got != 0 {
		t.Fatalf("ack for %d, want 0", got)
	}
	h.peer.data(1, wire.Output, "b")
	if got := ackSeq(t, h.peer.nextOf(wire.Acknowledge)); got != 1 {
		t.Fatalf("ack for %d, want 1", got)
	}
	if got := h.delivered(); !equalStrings(got, []string{"b"}) {
		t.Errorf("delivered %q after the resend, want only b", got)
	}
}

func TestChannelRetransmitsUntilAcked(t *testing.T) {
	h := newHarness(t)
	h.send("x")
	first := h.peer.nextOf(wire.InputStreamData)
	again := h.peer.nextOf(wire.InputStreamData)
	if first.SequenceNumber != 0 || again.SequenceNumber != 0 || again.MessageID != first.MessageID || string(again.Payload) != "x" {
		t.Fatalf("resend %v of %v", again, first)
	}
	if first.Flags != 0 || first.PayloadType != wire.Output {
		t.Errorf("client data header %v", first)
	}
	h.peer.ack(first)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := h.c.waitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	st := h.c.stats()
	if st.resends < 1 || st.inflight != 0 {
		t.Errorf("stats %+v", st)
	}
	// Karn: a message sent twice gives no RTT sample.
	if st.rto != 200*time.Millisecond {
		t.Errorf("rto %v after an ambiguous ack, want the initial 200ms", st.rto)
	}
}

func TestChannelSequenceAndWindow(t *testing.T) {
	h := newHarness(t)
	for range sendWindow {
		h.send("x")
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.c.send(cancelled, nil, nil, wire.Output, []byte("y")); !errors.Is(err, context.Canceled) {
		t.Fatalf("send with a full window: %v", err)
	}
	// Sequence numbers count up from 0; the ack of any message opens the
	// window.
	seen := map[int64]bool{}
	var m5 *wire.Message
	for len(seen) < sendWindow {
		m := h.peer.nextOf(wire.InputStreamData)
		seen[m.SequenceNumber] = true
		if m.SequenceNumber == 5 {
			m5 = m
		}
	}
	for i := range int64(sendWindow) {
		if !seen[i] {
			t.Fatalf("seq %d never sent", i)
		}
	}
	h.peer.ack(m5)
	h.send("y")
	for {
		if m := h.peer.nextOf(wire.InputStreamData); m.SequenceNumber == sendWindow {
			break
		}
	}
}

func TestChannelHonoursPause(t *testing.T) {
	h := newHarness(t)
	h.peer.control(wire.PausePublication)
	h.peer.data(0, wire.Output, "a")
	if got := ackSeq(t, h.peer.next()); got != 0 {
		t.Fatalf("ack %d", got)
	}
	h.send("x")
	h.peer.data(1, wire.Output, "b")
	if m := h.peer.next(); m.Type != wire.Acknowledge {
		t.Fatalf("got %v while paused, want only acks", m)
	}
	h.c.mu.Lock()
	queued := len(h.c.sendQ)
	h.c.mu.Unlock()
	if queued != 1 {
		t.Fatalf("%d messages queued while paused, want 1", queued)
	}
	h.peer.control(wire.StartPublication)
	if m := h.peer.next(); m.Type != wire.InputStreamData || string(m.Payload) != "x" {
		t.Fatalf("after start_publication got %v", m)
	}
}

func TestChannelResumeResendsAndContinues(t *testing.T) {
	h := newHarness(t)
	h.peer.data(0, wire.Output, "a")
	if got := ackSeq(t, h.peer.nextOf(wire.Acknowledge)); got != 0 {
		t.Fatalf("ack %d", got)
	}
	h.send("x")
	if m := h.peer.nextOf(wire.InputStreamData); m.SequenceNumber != 0 {
		t.Fatalf("seq %d", m.SequenceNumber)
	}
	h.drop()
	// Unacknowledged data goes again on the new websocket, same number.
	m := h.peer.nextOf(wire.InputStreamData)
	if m.SequenceNumber != 0 || string(m.Payload) != "x" {
		t.Fatalf("after resume got %v", m)
	}
	h.peer.ack(m)
	h.send("y")
	if m := h.peer.nextOf(wire.InputStreamData); m.SequenceNumber != 1 || string(m.Payload) != "y" {
		t.Fatalf("next message %v, want seq 1", m)
	}
	h.peer.data(1, wire.Output, "b")
	for ackSeq(t, h.peer.nextOf(wire.Acknowledge)) != 1 {
	}
	if got := h.delivered(); !equalStrings(got, []string{"a", "b"}) {
		t.Errorf("delivered %q", got)
	}
}

func TestChannelClosedByService(t *testing.T) {
	h := newHarness(t)
	p, _ := json.Marshal(wire.ChannelClosedPayload{SessionId: "s-1", Output: "Your session timed out due to inactivity and has been terminated."})
	h.peer.send(&wire.Message{Type: wire.ChannelClosed, SchemaVersion: 1, Payload: p})
	<-h.c.done
	var ce *ClosedError
	if !errors.As(h.c.failure(), &ce) || !ce.Idle() || ce.SessionID != "s-1" {
		t.Fatalf("failure %v", h.c.failure())
	}
	if err := h.c.send(context.Background(), nil, nil, wire.Output, []byte("x")); !errors.As(err, &ce) {
		t.Errorf("send after close: %v", err)
	}
}

func TestChannelResumeFailureEnds(t *testing.T) {
	h := newHarness(t)
	gone := errors.New("session gone")
	h.fail <- gone
	h.peer.end.close(false)
	<-h.c.done
	if !errors.Is(h.c.failure(), gone) {
		t.Fatalf("failure %v", h.c.failure())
	}
}

func TestChannelIgnoresBadFrames(t *testing.T) {
	h := newHarness(t)
	if err := h.peer.end.write(context.Background(), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	b, _ := (&wire.Message{Type: wire.OutputStreamData, Payload: []byte("a")}).MarshalBinary()
	b[len(b)-1] ^= 1 // digest mismatch: dropped, not acked, the agent resends
	if err := h.peer.end.write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	h.peer.data(0, wire.Output, "a")
	if got := ackSeq(t, h.peer.nextOf(wire.Acknowledge)); got != 0 {
		t.Fatalf("ack %d", got)
	}
	if got := h.delivered(); !equalStrings(got, []string{"a"}) {
		t.Errorf("delivered %q", got)
	}
}

// A websocket whose pings go unanswered is dead even though nothing
// failed on it: the channel drops it, takes a new one and resends what the
// agent has not acknowledged, with the same sequence number.
func TestChannelUnansweredPingsResume(t *testing.T) {
	var first *memEnd
	h := newHarnessWith(t, func(c *channel, client *memEnd) {
		c.pingEvery = 5 * time.Millisecond
		c.pingWait = 20 * time.Millisecond
		first = client
	})
	h.send("x")
	if m := h.peer.nextOf(wire.InputStreamData); m.SequenceNumber != 0 {
		t.Fatalf("seq %d", m.SequenceNumber)
	}
	// Deaf only once x has been read: a link that died earlier could lose
	// x with it (a read races the close), however slow the machine.
	first.l.deaf.Store(true)
	select {
	case <-first.l.closed:
	case <-time.After(testTimeout):
		t.Fatal("the channel kept a websocket whose pings go unanswered")
	}
	if first.l.unanswered.Load() == 0 {
		t.Fatal("the websocket was closed without an unanswered ping")
	}
	client, agent := newLink()
	h.peer = &peer{t: t, end: agent}
	h.links <- client
	m := h.peer.nextOf(wire.InputStreamData)
	if m.SequenceNumber != 0 || string(m.Payload) != "x" {
		t.Fatalf("after the redial got %v, want the unacknowledged x again", m)
	}
	h.peer.ack(m)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := h.c.waitAcked(ctx); err != nil {
		t.Fatal(err)
	}
	// Pings that are answered keep the new websocket: it is still the
	// one in use after several of them.
	for n := client.l.pings.Load(); client.l.pings.Load() < n+3; {
		select {
		case <-client.l.closed:
			t.Fatal("an answering websocket was dropped")
		case <-ctx.Done():
			t.Fatal("no pings on the new websocket")
		case <-time.After(time.Millisecond):
		}
	}
	h.send("y")
	if m := h.peer.nextOf(wire.InputStreamData); m.SequenceNumber != 1 || string(m.Payload) != "y" {
		t.Fatalf("next message %v, want seq 1 on the new websocket", m)
	}
	if err := h.c.failure(); err != nil {
		t.Fatalf("channel ended: %v", err)
	}
}

// waitCond polls cond until it holds, failing the test after testTimeout.
func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	tk := time.NewTicker(time.Millisecond)
	defer tk.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		<-tk.C
	}
}
