package ssmfake

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// Reliability constants of the agent (shared/ssm-protocol.md, Reliability).
const (
	resendInterval   = 100 * time.Millisecond
	initialRTO       = 200 * time.Millisecond
	initialSRTT      = 100 * time.Millisecond
	clockGranularity = 10 * time.Millisecond
	maxRTO           = time.Second
	maxFuture        = 100000 // client messages buffered ahead of sequence
	maxUnacked       = 10000  // agent messages in flight before its output blocks
	payloadSize      = 1024   // StreamDataPayloadSize
)

var errTerminated = errors.New("ssmfake: session terminated")

type hsState int

const (
	hsNone      hsState = iota // no websocket yet
	hsRequested                // HandshakeRequest sent
	hsComplete                 // HandshakeComplete sent
)

type outMsg struct {
	seq      int64
	frame    []byte
	sentAt   time.Time
	attempts int
}

type inbound struct {
	pt      wire.PayloadType
	payload []byte
}

// session is one Session Manager session: its data channel state, which
// outlives websockets, and its agent.
type session struct {
	svc      *Service
	index    uint64
	id       string
	target   string
	document string
	region   string // of the StartSession call's signature: the data channel's must match
	agent    Agent
	props    map[string]string // the document's properties, as sent in the handshake
	dest     string
	started  time.Time

	ctx    context.Context // cancelled when the session ends
	cancel context.CancelFunc

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced whenever sendability changes
	token      string
	tokenFresh bool // token not yet used by a websocket
	ws         *wsConn
	wsCount    int
	terminated bool
	endReason  string
	ended      time.Time
	rng        *rand.Rand

	// Agent → client.
	nextSeq int64
	unacked []*outMsg // by sequence number
	srtt    float64   // ns
	rttvar  float64   // ns
	rto     time.Duration

	// Client → agent.
	expected int64
	future   map[int64]*wire.Message

	hs            hsState
	hsStarted     time.Time
	clientVersion string
	mode          string
	keepAlive     bool

	paused      bool // pause_publication sent, start_publication not yet
	pausedUntil time.Time
	nextPause   time.Time
	lastData    time.Time

	inq      []inbound // in-order client payloads for the agent
	inNotify chan struct{}

	closers map[io.Closer]struct{} // the agent's connections, closed when the session ends

	streams    int
	dialErrors int
	bytesIn    int64
	bytesOut   int64
}

func newSession(svc *Service, index uint64, id, target, document string, agent Agent, props map[string]string, dest string) *session {
	ctx, cancel := context.WithCancel(svc.ctx)
	now := time.Now()
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	f := svc.Faults()
	return &session{
		svc: svc, index: index, id: id, target: target, document: document,
		agent: agent, props: props, dest: dest, started: now,
		ctx: ctx, cancel: cancel,
		changed:    make(chan struct{}),
		token:      newTokenValue(),
		tokenFresh: true,
		rng:        rand.New(rand.NewPCG(f.Seed, index)),
		srtt:       float64(initialSRTT),
		rto:        initialRTO,
		future:     make(map[int64]*wire.Message),
		lastData:   now,
		inNotify:   make(chan struct{}, 1),
		closers:    make(map[io.Closer]struct{}),
		mode:       "",
	}
}

// start runs the session's timer and agent; called from a tracked request.
func (s *session) start() {
	s.svc.wg.Add(2)
	go s.tickLoop()
	go s.agentLoop()
}

func (s *session) info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SessionInfo{
		SessionID:     s.id,
		Target:        s.target,
		Document:      s.document,
		Destination:   s.dest,
		AgentVersion:  s.agent.Version,
		ClientVersion: s.clientVersion,
		Mode:          s.mode,
		KeepAlive:     s.keepAlive,
		Connected:     s.ws != nil,
		Websockets:    s.wsCount,
		Streams:       s.streams,
		DialErrors:    s.dialErrors,
		BytesIn:       s.bytesIn,
		BytesOut:      s.bytesOut,
		LastData:      s.lastData,
		Unacked:       len(s.unacked),
		Terminated:    s.terminated,
		EndReason:     s.endReason,
		Started:       s.started,
		Ended:         s.ended,
	}
}

func (s *session) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// newToken issues a new token for ResumeSession; the old one stops working.
func (s *session) newToken() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return "", false
	}
	s.token = newTokenValue()
	s.tokenFresh = true
	return s.token, true
}

// useToken consumes the token of a new websocket.
func (s *session) useToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated || !s.tokenFresh || token != s.token {
		return false
	}
	s.tokenFresh = false
	return true
}

// terminate ends the session: channel_closed to the client when notify is
// set and a websocket is attached (then the websocket is closed), the
// agent's connections closed, the session no longer open.
func (s *session) terminate(reason, output string, notify bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.terminateLocked(reason, output, notify)
}

func (s *session) terminateLocked(reason, output string, notify bool) {
	if s.terminated {
		return
	}
	s.terminated = true
	s.endReason = reason
	s.ended = time.Now()
	s.signalLocked()
	if ws := s.ws; ws != nil {
		s.ws = nil
		if notify {
			s.svc.stats.channelClosed.Add(1)
			ws.finish(channelClosedFrame(s.id, output))
		} else {
			ws.closeNow()
		}
	}
	s.cancel()
	for c := range s.closers {
		_ = c.Close()
	}
	clear(s.closers)
	s.svc.log.Debug("ssmfake: session ended", "session", s.id, "reason", reason)
}

// addCloser registers a connection of the agent to be closed when the
// session ends; if it has ended already, c is closed at once.
func (s *session) addCloser(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		_ = c.Close()
		return false
	}
	s.closers[c] = struct{}{}
	return true
}

// removeCloser forgets a connection the agent has closed itself.
func (s *session) removeCloser(c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.closers, c)
}

// attach makes ws the session's websocket (closing any previous one),
// resends the agent's unacknowledged messages and starts the handshake if
// it has not begun.
func (s *session) attach(ws *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return false
	}
	if old := s.ws; old != nil {
		old.closeNow()
	}
	s.ws = ws
	s.wsCount++
	s.signalLocked()
	for _, m := range s.unacked {
		m.sentAt = time.Now()
		m.attempts++
		s.svc.stats.retransmits.Add(1)
		s.transmitLocked(m.frame, true)
	}
	if s.hs == hsNone {
		s.hs = hsRequested
		s.hsStarted = time.Now()
		s.sendDataLocked(wire.HandshakeRequest, s.handshakeRequest())
	}
	return true
}

func (s *session) detach(ws *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws == ws {
		s.ws = nil
		s.signalLocked()
	}
}

func (s *session) handshakeRequest() []byte {
	props := make(map[string]string, len(s.props))
	for k, v := range s.props {
		props[k] = v
	}
	b, _ := json.Marshal(map[string]any{
		"AgentVersion": s.agent.Version,
		"RequestedClientActions": []map[string]any{{
			"ActionType": "SessionType",
			"ActionParameters": map[string]any{
				"SessionType": "Port",
				"Properties":  props,
			},
		}},
	})
	return b
}

// sendDataLocked numbers an agent message, keeps it until acknowledged and
// sends it.
func (s *session) sendDataLocked(pt wire.PayloadType, payload []byte) {
	m := wire.Message{
		Type:           wire.OutputStreamData,
		SchemaVersion:  1,
		SequenceNumber: s.nextSeq,
		PayloadType:    pt,
		Payload:        payload,
	}
	if s.nextSeq == 0 {
		m.Flags = wire.FlagSYN
	}
	frame, err := m.MarshalBinary()
	if err != nil {
		s.svc.log.Error("ssmfake: marshal", "session", s.id, "err", err)
		return
	}
	s.nextSeq++
	s.unacked = append(s.unacked, &outMsg{seq: m.SequenceNumber, frame: frame, sentAt: time.Now()})
	s.svc.stats.dataOut.Add(1)
	if pt == wire.Output {
		s.bytesOut += int64(len(payload))
		s.lastData = time.Now()
	}
	s.transmitLocked(frame, true)
}

// sendData sends agent output unless the session is over.
func (s *session) sendData(pt wire.PayloadType, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return errTerminated
	}
	s.sendDataLocked(pt, payload)
	return nil
}

// transmitLocked hands a frame to the current websocket, through the
// message faults when faulty is set.
func (s *session) transmitLocked(frame []byte, faulty bool) {
	ws := s.ws
	if ws == nil {
		return
	}
	f := s.svc.faults.Load()
	if !faulty {
		ws.enqueue(frame, 0)
		return
	}
	if f.Loss > 0 && s.rng.Float64() < f.Loss {
		s.svc.stats.faultLost.Add(1)
		return
	}
	var hold time.Duration
	if f.Reorder > 0 && s.rng.Float64() < f.Reorder {
		s.svc.stats.faultReordered.Add(1)
		hold = reorderHold
	}
	ws.enqueue(frame, f.Delay+hold)
	if f.Duplicate > 0 && s.rng.Float64() < f.Duplicate {
		s.svc.stats.faultDuplicated.Add(1)
		ws.enqueue(frame, f.Delay+hold)
	}
}

// reorderHold is how long a reordered frame waits: long enough for the
// next frames to overtake it.
const reorderHold = 5 * time.Millisecond

func (s *session) sendAckLocked(m *wire.Message) {
	ack, err := wire.NewAck(m)
	if err != nil {
		return
	}
	frame, err := ack.MarshalBinary()
	if err != nil {
		return
	}
	s.svc.stats.acksOut.Add(1)
	s.transmitLocked(frame, true)
}

// receive handles one binary frame from the client's websocket ws.
func (s *session) receive(ws *wsConn, frame []byte) {
	var m wire.Message
	if err := m.UnmarshalBinary(frame); err != nil {
		s.svc.stats.badFrames.Add(1)
		s.svc.log.Debug("ssmfake: bad frame", "session", s.id, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated || s.ws != ws {
		return
	}
	f := s.svc.faults.Load()
	if m.Type == wire.Acknowledge || m.Type == wire.InputStreamData {
		if f.Loss > 0 && s.rng.Float64() < f.Loss {
			s.svc.stats.faultLost.Add(1)
			return
		}
		if f.Reorder > 0 && ws.heldIn == nil && s.rng.Float64() < f.Reorder {
			s.svc.stats.faultReordered.Add(1)
			ws.heldIn = &m
			return
		}
		if f.Duplicate > 0 && s.rng.Float64() < f.Duplicate {
			s.svc.stats.faultDuplicated.Add(1)
			s.processLocked(&m)
		}
	}
	s.processLocked(&m)
	if held := ws.heldIn; held != nil && held != &m {
		ws.heldIn = nil
		s.processLocked(held)
	}
}

func (s *session) processLocked(m *wire.Message) {
	if s.terminated {
		return
	}
	switch m.Type {
	case wire.Acknowledge:
		s.svc.stats.acksIn.Add(1)
		ack, err := wire.ParseAck(m)
		if err != nil {
			s.svc.stats.badFrames.Add(1)
			return
		}
		s.ackedLocked(ack.AcknowledgedMessageSequenceNumber)
	case wire.InputStreamData:
		s.svc.stats.dataIn.Add(1)
		s.inputLocked(m)
	default:
		s.svc.log.Debug("ssmfake: unexpected message from client", "session", s.id, "message", m.String())
	}
}

// ackedLocked removes an acknowledged agent message and updates the RTO
// (Jacobson/Karels, as the agent does).
func (s *session) ackedLocked(seq int64) {
	for i, m := range s.unacked {
		if m.seq != seq {
			continue
		}
		rtt := float64(time.Since(m.sentAt))
		d := s.srtt - rtt
		if d < 0 {
			d = -d
		}
		s.rttvar = 0.75*s.rttvar + 0.25*d
		s.srtt = 0.875*s.srtt + 0.125*rtt
		s.rto = time.Duration(s.srtt + max(float64(clockGranularity), 4*s.rttvar))
		if s.rto > maxRTO {
			s.rto = maxRTO
		}
		full := len(s.unacked) >= maxUnacked
		s.unacked = append(s.unacked[:i], s.unacked[i+1:]...)
		if full {
			s.signalLocked()
		}
		return
	}
}

// inputLocked applies the agent's receive rules: in order → acknowledge and
// process (then any buffered successors); ahead → buffer and acknowledge;
// behind (a duplicate) → acknowledge again.
func (s *session) inputLocked(m *wire.Message) {
	if s.paused {
		s.svc.stats.inputWhilePaused.Add(1)
	}
	switch seq := m.SequenceNumber; {
	case seq < s.expected:
		s.svc.stats.duplicatesIn.Add(1)
		s.sendAckLocked(m)
	case seq > s.expected:
		if _, ok := s.future[seq]; !ok {
			if len(s.future) >= maxFuture {
				return // neither kept nor acknowledged: the client resends
			}
			s.future[seq] = m
			s.svc.stats.futureIn.Add(1)
		}
		s.sendAckLocked(m)
	default:
		s.sendAckLocked(m)
		s.acceptLocked(m)
		s.expected++
		for !s.terminated {
			next, ok := s.future[s.expected]
			if !ok {
				break
			}
			delete(s.future, s.expected)
			s.acceptLocked(next)
			s.expected++
		}
	}
}

// acceptLocked processes an in-order client message.
func (s *session) acceptLocked(m *wire.Message) {
	switch m.PayloadType {
	case wire.HandshakeResponse:
		if s.hs == hsRequested {
			s.handshakeResponseLocked(m)
		}
	case wire.Flag:
		if len(m.Payload) != 4 {
			return
		}
		switch wire.FlagValue(binary.BigEndian.Uint32(m.Payload)) {
		case wire.TerminateSession:
			s.terminateLocked("flag", "", true)
		case wire.DisconnectToPort:
			if s.hs == hsComplete {
				s.pushInboundLocked(inbound{pt: wire.Flag, payload: m.Payload})
			}
		}
	case wire.Output:
		if s.hs != hsComplete {
			s.svc.stats.discardedEarly.Add(1)
			return
		}
		s.bytesIn += int64(len(m.Payload))
		s.lastData = time.Now()
		s.pushInboundLocked(inbound{pt: wire.Output, payload: m.Payload})
	}
}

type handshakeResponse struct {
	ClientVersion          string
	ProcessedClientActions []struct {
		ActionType   string
		ActionStatus int
		Error        string
	}
	Errors []string
}

func (s *session) handshakeResponseLocked(m *wire.Message) {
	var r handshakeResponse
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		s.terminateLocked("handshake failed", "Handshake failed: invalid HandshakeResponse.", true)
		return
	}
	for _, a := range r.ProcessedClientActions {
		if a.ActionType == "SessionType" && a.ActionStatus != 1 {
			s.terminateLocked("handshake failed", "Handshake failed: "+a.Error, true)
			return
		}
	}
	s.clientVersion = r.ClientVersion
	// The agent multiplexes when it can (newer than 3.0.196.0), the session
	// is LocalPortForwarding and the client is 1.1.70 or later; it turns
	// its smux keepalive off for clients newer than 1.2.331.0.
	if s.props["type"] == "LocalPortForwarding" &&
		compareVersions(s.agent.Version, AgentVersionBasic) > 0 &&
		compareVersions(r.ClientVersion, "1.1.70") >= 0 {
		s.mode = "mux"
		s.keepAlive = compareVersions(r.ClientVersion, "1.2.331.0") <= 0
	} else {
		s.mode = "basic"
	}
	b, _ := json.Marshal(map[string]any{
		"HandshakeTimeToComplete": time.Since(s.hsStarted).Nanoseconds(),
		"CustomerMessage":         "",
	})
	s.hs = hsComplete
	// The handshake is the session's first activity: idleness counts from
	// its end, so a slow start does not eat into the idle timeout.
	s.lastData = time.Now()
	s.sendDataLocked(wire.HandshakeComplete, b)
	s.pushInboundLocked(inbound{}) // wakes the agent: the mode is known
}

func (s *session) pushInboundLocked(in inbound) {
	s.inq = append(s.inq, in)
	select {
	case s.inNotify <- struct{}{}:
	default:
	}
}

// popInbound waits for the next client payload for the agent.
func (s *session) popInbound() (inbound, error) {
	for {
		s.mu.Lock()
		if len(s.inq) > 0 {
			in := s.inq[0]
			s.inq[0] = inbound{}
			s.inq = s.inq[1:]
			s.mu.Unlock()
			return in, nil
		}
		s.mu.Unlock()
		select {
		case <-s.inNotify:
		case <-s.ctx.Done():
			return inbound{}, s.ctx.Err()
		}
	}
}

// waitSendable blocks the agent's output while no websocket is attached,
// publication is paused or too much is unacknowledged.
func (s *session) waitSendable() error {
	for {
		s.mu.Lock()
		if s.terminated {
			s.mu.Unlock()
			return errTerminated
		}
		if s.ws != nil && !s.paused && len(s.unacked) < maxUnacked {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.ctx.Done():
		}
	}
}

func (s *session) pause(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pauseLocked(time.Now(), d)
}

func (s *session) pauseLocked(now time.Time, d time.Duration) {
	if s.terminated || s.ws == nil {
		return
	}
	if !s.paused {
		s.paused = true
		s.svc.stats.pauses.Add(1)
		s.transmitLocked(controlFrame(wire.PausePublication), false)
	}
	s.pausedUntil = now.Add(d)
}

func (s *session) dropWebsocket() {
	s.mu.Lock()
	ws := s.ws
	s.mu.Unlock()
	if ws != nil {
		s.svc.stats.drops.Add(1)
		ws.closeNow()
	}
}

func (s *session) sayBye() {
	s.mu.Lock()
	ws := s.ws
	s.mu.Unlock()
	if ws != nil {
		ws.bye()
	}
}

// tickLoop is the agent's resend scheduler, plus the service's timers:
// handshake timeout, idle timeout and publication pauses.
func (s *session) tickLoop() {
	defer s.svc.wg.Done()
	t := time.NewTicker(resendInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.tick(now)
		}
	}
}

func (s *session) tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.terminated {
		return
	}
	f := s.svc.faults.Load()
	if s.hs == hsRequested && now.Sub(s.hsStarted) > s.svc.opts.HandshakeTimeout {
		s.terminateLocked("handshake timeout", "Session handshake timed out.", true)
		return
	}
	idle := f.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if now.Sub(s.lastData) > idle {
		s.terminateLocked("idle", "Your session timed out due to inactivity and has been terminated.", true)
		return
	}
	if f.PauseEvery > 0 && f.PauseFor > 0 && s.ws != nil {
		if s.nextPause.IsZero() {
			s.nextPause = now.Add(f.PauseEvery)
		} else if !now.Before(s.nextPause) {
			s.pauseLocked(now, f.PauseFor)
			s.nextPause = now.Add(f.PauseFor + f.PauseEvery)
		}
	}
	if s.paused && !now.Before(s.pausedUntil) {
		s.paused = false
		s.transmitLocked(controlFrame(wire.StartPublication), false)
		s.signalLocked()
	}
	if s.paused || s.ws == nil || len(s.unacked) == 0 {
		return
	}
	if head := s.unacked[0]; now.Sub(head.sentAt) > s.rto {
		head.sentAt = now
		head.attempts++
		s.svc.stats.retransmits.Add(1)
		s.transmitLocked(head.frame, true)
	}
}
