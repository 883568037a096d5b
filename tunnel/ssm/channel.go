package ssm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// Data-channel limits.
const (
	// sendWindow bounds the data messages sent and not yet acknowledged.
	// Uploads are not paced: they go as fast as this window lets them. At
	// the 1 KiB payload it is 1 MiB in flight, which keeps about 10 MB/s
	// going over a 100 ms round trip, stays far below what the agent
	// buffers out of order (100,000 messages), and bounds the memory a
	// stalled session holds.
	sendWindow = 1024
	// sendSpan bounds the distance from the oldest unacknowledged
	// message to the next one sent, so a message that takes long to get
	// through cannot let the rest run ahead of what the agent holds out
	// of order, nor grow our bookkeeping without bound.
	sendSpan = 8 * sendWindow
	// maxFuture bounds the messages held ahead of delivery: out of order
	// while a gap is filled, or unacknowledged while the local reader
	// lags. It covers the agent's whole window (10,000 messages in flight,
	// about 10 MB): the agent resends only its oldest unacknowledged
	// message per RTO, so every message dropped here would cost one RTO to
	// recover, and a lagging reader would collapse the session to a few
	// messages a second.
	maxFuture = 10240
	// retransmitTick is how often unacknowledged messages are checked
	// against the RTO.
	retransmitTick = 20 * time.Millisecond
	// maxResendsPerTick and maxScanPerTick bound a retransmission burst
	// and the work of finding it.
	maxResendsPerTick = 16
	maxScanPerTick    = sendWindow
	// writeBatch is how many data frames the writer takes at once.
	writeBatch = 64
	// pingInterval and pingTimeout: a websocket ping finds a dead
	// connection that would otherwise wait for TCP to give up.
	pingInterval = 30 * time.Second
	pingTimeout  = 20 * time.Second
)

// transport is one websocket of a data channel. A session goes through
// several: the service closes each about hourly and the session resumes.
type transport interface {
	read(ctx context.Context) ([]byte, error)
	write(ctx context.Context, frame []byte) error
	ping(ctx context.Context) error
	// close ends the websocket; graceful sends a normal close first.
	close(graceful bool)
}

// deliverFunc takes one in-order message off the channel. It reports false
// when it cannot take it now; the message is then held, unacknowledged,
// and offered again on the next kick or when the agent resends it. acked
// is set for messages already acknowledged (held out of order until the
// gap filled): those must be taken.
type deliverFunc func(m *wire.Message, acked bool) bool

// reconnectFunc opens a new websocket for the session (ResumeSession and a
// new token), or fails for good.
type reconnectFunc func(ctx context.Context) (transport, error)

// outMsg is one data message we sent, kept until acknowledged.
type outMsg struct {
	seq    int64
	frame  []byte
	sentAt time.Time // last transmission
	sends  int
	acked  bool
	queued bool // waiting in sendQ for the writer
}

// ackReq is an acknowledgement the writer still has to send.
type ackReq struct {
	typ string
	id  uuid.UUID
	seq int64
}

// channel is the reliability layer of one session: it numbers and keeps
// what we send until the agent acknowledges it, resends after the RTO,
// acknowledges every data message it receives (duplicates included, so a
// lost ack cannot stall the agent), reorders, and delivers each message
// exactly once. It survives websocket drops: reconnect supplies the next
// websocket, sequence numbers continue, unacknowledged messages are sent
// again.
type channel struct {
	log       *slog.Logger
	sessionID string
	target    string
	deliver   deliverFunc
	reconnect reconnectFunc
	pingEvery time.Duration
	pingWait  time.Duration // for the pong, before the websocket counts as dead

	wake chan struct{} // one token: the writer has work
	done chan struct{} // closed when the channel has ended

	mu       sync.Mutex
	err      error // why the channel ended
	nextSeq  int64
	inflight map[int64]*outMsg // not yet acknowledged
	order    []*outMsg         // sent messages in sequence order; acked ones pruned from the front
	sendQ    []*outMsg         // waiting for their first transmission (or the first on a new websocket)
	acks     []ackReq
	paused   bool
	rto      rtoEstimator
	check    time.Time     // last retransmission check
	changed  chan struct{} // closed when an ack frees the window or the channel ends
	waiting  bool          // someone waits on changed
	resends  int64

	// Receive state: the reader of the current websocket, and the local
	// reader when it makes room (kick).
	rxMu     sync.Mutex
	expected int64
	future   map[int64]heldMsg
	blocked  bool // the message expected was refused by deliver
}

// heldMsg is a received message waiting for its turn. acked: we
// acknowledged it on arrival (out of order); otherwise the ack is sent
// when it is delivered, so the agent's window bounds how many we hold.
type heldMsg struct {
	m     *wire.Message
	acked bool
}

func newChannel(log *slog.Logger, sessionID, target string, deliver deliverFunc, reconnect reconnectFunc) *channel {
	return &channel{
		log:       log,
		sessionID: sessionID,
		target:    target,
		deliver:   deliver,
		reconnect: reconnect,
		pingEvery: pingInterval,
		pingWait:  pingTimeout,
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		inflight:  make(map[int64]*outMsg),
		rto:       newRTO(),
		changed:   make(chan struct{}),
		future:    make(map[int64]heldMsg),
	}
}

// run serves the channel over t and its successors until ctx ends (its
// cause is then the channel's failure), the service closes the channel,
// or a websocket cannot be replaced.
func (c *channel) run(ctx context.Context, t transport) {
	for {
		err := c.serve(ctx, t)
		if ctx.Err() != nil {
			c.finish(context.Cause(ctx))
			return
		}
		var closed *ClosedError
		if errors.As(err, &closed) {
			c.finish(err)
			return
		}
		c.log.Info("ssm: websocket lost, resuming session", "session", c.sessionID, "err", err)
		next, rerr := c.reconnect(ctx)
		if rerr != nil {
			if ctx.Err() != nil {
				c.finish(context.Cause(ctx))
			} else {
				c.finish(rerr)
			}
			return
		}
		c.requeue()
		c.log.Info("ssm: session resumed", "session", c.sessionID)
		t = next
	}
}

// serve runs the reader, writer and pinger of one websocket until one of
// them fails or ctx ends.
func (c *channel) serve(ctx context.Context, t transport) error {
	gctx, cancel := context.WithCancel(ctx)
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { errs <- c.readLoop(gctx, t) })
	wg.Go(func() { errs <- c.writeLoop(gctx, t) })
	wg.Go(func() { errs <- c.pingLoop(gctx, t) })
	var err error
	select {
	case err = <-errs:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if ctx.Err() != nil {
		t.close(true)
		cancel()
	} else {
		cancel()
		t.close(false)
	}
	wg.Wait()
	return err
}

func (c *channel) finish(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
	c.broadcastLocked()
	c.mu.Unlock()
}

// failure is why the channel ended; nil while it runs.
func (c *channel) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *channel) readLoop(ctx context.Context, t transport) error {
	for {
		b, err := t.read(ctx)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		var m wire.Message
		if err := m.UnmarshalBinary(b); err != nil {
			c.log.Debug("ssm: dropping a bad frame", "session", c.sessionID, "err", err)
			continue
		}
		switch m.Type {
		case wire.Acknowledge:
			a, err := wire.ParseAck(&m)
			if err != nil {
				c.log.Debug("ssm: dropping a bad ack", "session", c.sessionID, "err", err)
				continue
			}
			c.acked(a.AcknowledgedMessageSequenceNumber)
		case wire.OutputStreamData:
			c.receive(&m)
		case wire.ChannelClosed:
			var p wire.ChannelClosedPayload
			_ = json.Unmarshal(m.Payload, &p) // the reason is a nicety
			return &ClosedError{SessionID: c.sessionID, Target: c.target, Reason: p.Output}
		case wire.PausePublication:
			c.setPaused(true)
		case wire.StartPublication:
			c.setPaused(false)
		default:
			c.log.Debug("ssm: ignoring message", "session", c.sessionID, "type", m.Type)
		}
	}
}

// receive handles one data message from the agent.
//
// When deliver refuses the message expected (the local reader lags), it
// and everything after it are held without an acknowledgement: acking
// them would let the agent send on without bound, and dropping them would
// leave each to a retransmission. The agent stops at its window; kick
// delivers and acknowledges the backlog once the reader has made room.
func (c *channel) receive(m *wire.Message) {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	seq := m.SequenceNumber
	switch {
	case seq < c.expected:
		// Delivered before; our ack was lost. Ack again or the agent
		// resends it forever.
		c.queueAck(m)
	case seq > c.expected:
		if h, held := c.future[seq]; held {
			if h.acked {
				c.queueAck(m) // our ack was lost
			}
			return
		}
		if len(c.future) >= maxFuture {
			return
		}
		c.future[seq] = heldMsg{m: m, acked: !c.blocked}
		if !c.blocked {
			c.queueAck(m)
		}
	default:
		if _, held := c.future[seq]; !held {
			c.future[seq] = heldMsg{m: m}
		}
		c.advanceLocked()
	}
}

// advanceLocked delivers held messages from the one expected on, until one
// is missing or deliver refuses one (then the channel is blocked).
func (c *channel) advanceLocked() {
	for {
		h, ok := c.future[c.expected]
		if !ok {
			c.blocked = false
			return
		}
		if !c.deliver(h.m, h.acked) {
			c.blocked = true
			return
		}
		delete(c.future, c.expected)
		if !h.acked {
			c.queueAck(h.m)
		}
		c.expected++
	}
}

// kick retries delivery after a refusal; the local reader calls it when it
// has made room.
func (c *channel) kick() {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	if c.blocked {
		c.advanceLocked()
	}
}

func (c *channel) queueAck(m *wire.Message) {
	c.mu.Lock()
	c.acks = append(c.acks, ackReq{typ: m.Type, id: m.MessageID, seq: m.SequenceNumber})
	c.mu.Unlock()
	c.signal()
}

// acked removes an acknowledged message and samples the round trip.
func (c *channel) acked(seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.inflight[seq]
	if m == nil {
		return
	}
	delete(c.inflight, seq)
	m.acked = true
	if m.sends == 1 {
		c.rto.sample(time.Since(m.sentAt))
	}
	for len(c.order) > 0 && c.order[0].acked {
		c.order[0] = nil
		c.order = c.order[1:]
	}
	c.broadcastLocked()
}

func (c *channel) setPaused(p bool) {
	c.mu.Lock()
	c.paused = p
	c.mu.Unlock()
	c.log.Debug("ssm: publication", "session", c.sessionID, "paused", p)
	c.signal()
}

func (c *channel) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *channel) broadcastLocked() {
	if c.waiting {
		close(c.changed)
		c.changed = make(chan struct{})
		c.waiting = false
	}
}

func (c *channel) waitLocked() <-chan struct{} {
	c.waiting = true
	return c.changed
}

// send queues one data message, waiting while the window is full. It
// fails when the channel has ended, ctx ends, stop is closed (errStop) or
// deadline is closed (errDeadline); both may be nil.
func (c *channel) send(ctx context.Context, stop, deadline <-chan struct{}, pt wire.PayloadType, payload []byte) error {
	c.mu.Lock()
	for c.err == nil && c.fullLocked() {
		ch := c.waitLocked()
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return errStop
		case <-deadline:
			return errDeadline
		}
		c.mu.Lock()
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	m := wire.Message{Type: wire.InputStreamData, SchemaVersion: 1, SequenceNumber: c.nextSeq, PayloadType: pt, Payload: payload}
	frame, err := m.MarshalBinary()
	if err != nil {
		c.mu.Unlock()
		return err
	}
	om := &outMsg{seq: c.nextSeq, frame: frame, queued: true}
	c.nextSeq++
	c.inflight[om.seq] = om
	c.order = append(c.order, om)
	c.sendQ = append(c.sendQ, om)
	c.mu.Unlock()
	c.signal()
	return nil
}

func (c *channel) fullLocked() bool {
	return len(c.inflight) >= sendWindow || len(c.order) > 0 && c.nextSeq-c.order[0].seq >= sendSpan
}

// waitAcked waits until everything sent has been acknowledged.
func (c *channel) waitAcked(ctx context.Context) error {
	c.mu.Lock()
	for c.err == nil && len(c.inflight) > 0 {
		ch := c.waitLocked()
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
	err := c.err
	c.mu.Unlock()
	return err
}

// requeue puts every unacknowledged message back for sending on a new
// websocket, in sequence order.
func (c *channel) requeue() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sendQ = c.sendQ[:0]
	for _, m := range c.order {
		if !m.acked {
			m.queued = true
			c.sendQ = append(c.sendQ, m)
		}
	}
	c.paused = false
	c.check = time.Time{}
}

func (c *channel) writeLoop(ctx context.Context, t transport) error {
	timer := time.NewTimer(retransmitTick)
	defer timer.Stop()
	var acks []ackReq
	var data []*outMsg
	for {
		var armed bool
		acks, data, armed = c.next(acks[:0], data[:0])
		if len(acks) == 0 && len(data) == 0 {
			if armed {
				timer.Reset(retransmitTick)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-c.wake:
			case <-timer.C:
			}
			continue
		}
		for _, a := range acks {
			frame, err := encodeAck(a)
			if err != nil {
				return err
			}
			if err := t.write(ctx, frame); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		for i, m := range data {
			if c.markSent(m) {
				if err := t.write(ctx, m.frame); err != nil {
					return fmt.Errorf("write: %w", err)
				}
			}
			data[i] = nil
		}
	}
}

// next takes the writer's next batch: acknowledgements first, then
// messages due for retransmission, then new messages. Nothing but acks
// goes out while the service has paused publication. armed says whether
// unacknowledged messages need the retransmission timer.
func (c *channel) next(acks []ackReq, data []*outMsg) ([]ackReq, []*outMsg, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.acks) > 0 {
		acks, c.acks = c.acks, acks
	}
	if c.paused {
		return acks, data, false
	}
	now := time.Now()
	if now.Sub(c.check) >= retransmitTick {
		c.check = now
		data = c.dueLocked(now, data)
	}
	for len(c.sendQ) > 0 && len(data) < writeBatch {
		m := c.sendQ[0]
		c.sendQ[0] = nil
		c.sendQ = c.sendQ[1:]
		m.queued = false
		if !m.acked {
			data = append(data, m)
		}
	}
	return acks, data, len(c.inflight) > 0
}

// markSent records a transmission just before it happens, so the RTT and
// the RTO clock start at the write itself. It reports false when the
// message was acknowledged meanwhile.
func (c *channel) markSent(m *outMsg) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.acked {
		return false
	}
	m.sentAt = time.Now()
	m.sends++
	return true
}

// dueLocked appends the oldest sent messages whose RTO has passed. Each
// resend of a message doubles its own timeout (up to the 1 s cap), so a
// burst of late acks, which a full window can cause, does not turn into a
// burst of resends.
func (c *channel) dueLocked(now time.Time, data []*outMsg) []*outMsg {
	rto := c.rto.rto
	resends := 0
	for i, m := range c.order {
		if i >= maxScanPerTick || resends >= maxResendsPerTick {
			break
		}
		if m.acked || m.queued || m.sends == 0 {
			continue
		}
		if now.Sub(m.sentAt) < min(rto<<min(m.sends-1, 7), maxRTO) {
			continue
		}
		data = append(data, m)
		resends++
	}
	c.resends += int64(resends)
	return data
}

func (c *channel) pingLoop(ctx context.Context, t transport) error {
	tk := time.NewTicker(c.pingEvery)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.pingWait)
		err := t.ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ping: %w", err)
		}
	}
}

func encodeAck(a ackReq) ([]byte, error) {
	m, err := wire.NewAck(&wire.Message{Type: a.typ, MessageID: a.id, SequenceNumber: a.seq})
	if err != nil {
		return nil, err
	}
	return m.MarshalBinary()
}

// channelStats are counters for tests and debug logs.
type channelStats struct {
	inflight int
	resends  int64
	rto      time.Duration
}

func (c *channel) stats() channelStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return channelStats{inflight: len(c.inflight), resends: c.resends, rto: c.rto.rto}
}
