package ssm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/google/uuid"

	"github.com/dbtunnel/dbtunnel/tunnel"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

const (
	// handshakeTimeout bounds the wait for the agent's handshake; the
	// agent itself gives up after 15 s.
	handshakeTimeout = 30 * time.Second
	// resumeWindow bounds how long a dropped websocket is retried before
	// the session counts as lost.
	resumeWindow = 2 * time.Minute
	resumeMin    = 100 * time.Millisecond
	resumeMax    = 5 * time.Second
	// inboundLimit is how many received bytes may wait for the local
	// reader before the channel stops acknowledging new data.
	inboundLimit = 1 << 20
	// payloadSize is the most we put in one message. The agent writes
	// whatever it gets to its socket and reads no limit off the websocket,
	// but the service in between is only known to carry what the official
	// client sends, which is 1 KiB; so is this.
	payloadSize = 1024
	// closeGrace bounds the goodbye: the TerminateSession flag and the
	// TerminateSession call.
	closeGrace = 5 * time.Second
	// flagGrace bounds the wait for the agent to acknowledge the
	// TerminateSession flag; TerminateSession ends the session anyway.
	flagGrace = time.Second
)

type mode int32

const (
	modeUnknown mode = iota
	modeBasic
	modeMux
)

func (m mode) String() string {
	switch m {
	case modeBasic:
		return "basic"
	case modeMux:
		return "mux"
	}
	return "unknown"
}

// hsEvent is a handshake message handed from the reader to Connect.
type hsEvent struct {
	typ wire.PayloadType
	req *wire.HandshakeRequestPayload
}

// session is one SSM session: its data channel and the mode on top.
type session struct {
	d         *Dialer
	log       *slog.Logger
	id        string
	clientID  string
	streamURL string // owned by the channel's goroutine once started
	ch        *channel
	inbound   *byteQueue
	hs        chan hsEvent
	cancel    context.CancelCauseFunc // ends the channel with its cause
	stopped   chan struct{}

	mode         atomic.Int32 // decided by the reader from the handshake request
	keepaliveOff atomic.Bool
	agentVersion atomic.Value // string
	handshook    atomic.Bool  // HandshakeComplete received: Output is data
	discard      atomic.Bool  // basic mode: between connections, drop what arrives
	connectErrs  atomic.Int32 // ConnectToPortError flags not yet matched to a stream
	active       atomic.Int64 // connections open or being opened
	closeOnce    sync.Once

	mu      sync.Mutex
	closing bool
	dead    bool // reported lost; guarded by d.mu
	mux     *muxMode
	basic   *basicMode
}

func (d *Dialer) newSession(id, streamURL string) *session {
	s := &session{
		d:         d,
		log:       d.log.With("session", id),
		id:        id,
		clientID:  uuid.NewString(),
		streamURL: streamURL,
		inbound:   newByteQueue(inboundLimit),
		hs:        make(chan hsEvent, 4),
		stopped:   make(chan struct{}),
	}
	s.ch = newChannel(s.log, id, d.cfg.Target, s.deliver, s.resume)
	if d.pingEvery > 0 {
		s.ch.pingEvery = d.pingEvery
	}
	if d.pingWait > 0 {
		s.ch.pingWait = d.pingWait
	}
	s.inbound.onRoom = s.ch.kick
	return s
}

// startSession starts an SSM session and completes the agent handshake.
func (d *Dialer) startSession(ctx context.Context) (*session, error) {
	doc, params := d.cfg.document()
	out, err := d.cfg.API.StartSession(ctx, &awsssm.StartSessionInput{
		Target:       aws.String(d.cfg.Target),
		DocumentName: aws.String(doc),
		Parameters:   params,
		Reason:       aws.String("dbtunnel"),
	})
	if err != nil {
		return nil, startError(d.cfg.Target, doc, err)
	}
	id, streamURL, token := aws.ToString(out.SessionId), aws.ToString(out.StreamUrl), aws.ToString(out.TokenValue)
	if id == "" || streamURL == "" || token == "" {
		return nil, fmt.Errorf("ssm: start session on %s: the service returned no session, stream url or token", d.cfg.Target)
	}
	s := d.newSession(id, streamURL)
	t, err := s.openStream(ctx, streamURL, token)
	if err != nil {
		s.terminate()
		return nil, err
	}
	s.start(t)
	if err := s.handshake(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// start runs the channel over t, and reports the session lost when the
// channel ends other than by close.
func (s *session) start(t transport) {
	ctx, cancel := context.WithCancelCause(context.Background())
	s.cancel = cancel
	s.d.wg.Go(func() {
		defer close(s.stopped)
		s.ch.run(ctx, t)
		err := s.ch.failure()
		var closed *ClosedError
		if !errors.As(err, &closed) && !errors.Is(err, errClosed) {
			err = fmt.Errorf("ssm: session %s on %s lost: %w", s.id, s.d.cfg.Target, err)
		}
		s.inbound.close(err)
		s.mu.Lock()
		closing, m := s.closing, s.mux
		s.mu.Unlock()
		if m != nil {
			m.close()
		}
		if closing {
			return
		}
		s.d.lost(s, err)
		if closed == nil {
			// The service may still hold the session (and the agent its
			// connection to the database) until it notices.
			s.terminate()
		}
	})
}

// deliver takes in-order messages from the channel (reader goroutine).
func (s *session) deliver(m *wire.Message, acked bool) bool {
	switch m.PayloadType {
	case wire.Output:
		if !s.handshook.Load() || s.discard.Load() {
			return true
		}
		return s.inbound.push(m.Payload, acked)
	case wire.HandshakeRequest:
		if s.handshook.Load() {
			return true // a resumed session has no new handshake
		}
		var req wire.HandshakeRequestPayload
		if err := json.Unmarshal(m.Payload, &req); err != nil {
			s.log.Warn("ssm: bad handshake request from the agent", "err", err)
			return true
		}
		md, keepaliveOff := decideMode(&req)
		s.mode.Store(int32(md))
		s.keepaliveOff.Store(keepaliveOff)
		s.agentVersion.Store(req.AgentVersion)
		return s.pushHS(hsEvent{typ: wire.HandshakeRequest, req: &req}, acked)
	case wire.HandshakeComplete:
		if !s.pushHS(hsEvent{typ: wire.HandshakeComplete}, acked) {
			return false
		}
		s.handshook.Store(true)
	case wire.Flag:
		s.flag(m.Payload)
	}
	return true
}

func (s *session) pushHS(e hsEvent, force bool) bool {
	select {
	case s.hs <- e:
		return true
	default:
		return force
	}
}

// flag handles a flag from the agent. Only mux sessions get them.
func (s *session) flag(p []byte) {
	f, err := wire.ParseFlag(p)
	if err != nil || mode(s.mode.Load()) != modeMux {
		return
	}
	if f == wire.ConnectToPortError {
		s.connectErrs.Add(1)
		s.log.Warn("ssm: the agent could not connect to the destination", "target", s.d.cfg.Target, "remote", s.d.cfg.remote())
	}
}

// takeConnectError matches one ConnectToPortError flag to a stream.
func (s *session) takeConnectError() bool {
	for {
		n := s.connectErrs.Load()
		if n <= 0 {
			return false
		}
		if s.connectErrs.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// handshake answers the agent's handshake request and waits for its
// completion, then sets up mux or basic mode.
func (s *session) handshake(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	ev, err := s.awaitHS(ctx, wire.HandshakeRequest)
	if err != nil {
		return err
	}
	resp, refusal := handshakeResponse(ev.req)
	body, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	if err := s.ch.send(ctx, nil, nil, wire.HandshakeResponse, body); err != nil {
		return s.hsError(ctx, err)
	}
	if refusal != nil {
		return tunnel.Permanent(fmt.Errorf("ssm: session %s on %s: %w", s.id, s.d.cfg.Target, refusal))
	}
	if _, err := s.awaitHS(ctx, wire.HandshakeComplete); err != nil {
		return err
	}
	md := mode(s.mode.Load())
	s.mu.Lock()
	if md == modeMux {
		m, err := newMux(s, s.keepaliveOff.Load())
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("ssm: session %s: %w", s.id, err)
		}
		s.mux = m
	} else {
		s.basic = newBasic(s)
	}
	s.mu.Unlock()
	s.log.Info("ssm: session started", "target", s.d.cfg.Target, "remote", s.d.cfg.remote(), "mode", md.String(), "agent", s.agentVersion.Load())
	if md == modeBasic && s.d.cfg.Keepalive > 0 {
		s.log.Warn("ssm: keepalive needs mux mode; this agent runs basic mode, idle sessions will time out", "agent", s.agentVersion.Load())
	}
	return nil
}

func (s *session) awaitHS(ctx context.Context, typ wire.PayloadType) (hsEvent, error) {
	for {
		select {
		case ev := <-s.hs:
			if ev.typ == typ {
				return ev, nil
			}
		case <-s.ch.done:
			return hsEvent{}, s.ch.failure()
		case <-ctx.Done():
			return hsEvent{}, s.hsError(ctx, ctx.Err())
		}
	}
}

func (s *session) hsError(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return fmt.Errorf("ssm: session %s: no handshake from the agent on %s within %s: %w", s.id, s.d.cfg.Target, handshakeTimeout, err)
	}
	return fmt.Errorf("ssm: session %s: handshake with the agent on %s: %w", s.id, s.d.cfg.Target, err)
}

// handshakeResponse answers each requested action. refusal is set when
// the session needs something dbtunnel does not do.
func handshakeResponse(req *wire.HandshakeRequestPayload) (resp wire.HandshakeResponsePayload, refusal error) {
	resp.ClientVersion = clientVersion
	resp.ProcessedClientActions = []wire.ProcessedClientAction{}
	for _, a := range req.RequestedClientActions {
		p := wire.ProcessedClientAction{ActionType: a.ActionType, ActionStatus: wire.ActionSuccess}
		switch a.ActionType {
		case wire.ActionSessionType:
			if a.ActionParameters.SessionType != "Port" {
				p.ActionStatus = wire.ActionFailed
				p.Error = fmt.Sprintf("session type %s is not supported", a.ActionParameters.SessionType)
				refusal = fmt.Errorf("the agent offers a %q session, not port forwarding", a.ActionParameters.SessionType)
			}
		case wire.ActionKMSEncryption:
			p.ActionStatus = wire.ActionFailed
			p.Error = "KMS encryption is not supported by this client"
			refusal = errors.New("the account's Session Manager preferences require KMS encryption, which dbtunnel does not support")
		default:
			p.ActionStatus = wire.ActionUnsupported
			p.Error = fmt.Sprintf("action %s is not supported", a.ActionType)
		}
		resp.ProcessedClientActions = append(resp.ProcessedClientActions, p)
	}
	return resp, refusal
}

// decideMode picks mux or basic the way the agent does, so both agree:
// mux for LocalPortForwarding with an agent newer than 3.0.196.0; smux
// keepalive off with an agent newer than 3.1.1511.0.
func decideMode(req *wire.HandshakeRequestPayload) (mode, bool) {
	typ := ""
	for _, a := range req.RequestedClientActions {
		if a.ActionType == wire.ActionSessionType {
			typ, _ = a.ActionParameters.Properties["type"].(string)
		}
	}
	md := modeBasic
	if typ == "LocalPortForwarding" && versionAbove(req.AgentVersion, "3.0.196.0") {
		md = modeMux
	}
	return md, versionAbove(req.AgentVersion, "3.1.1511.0")
}

// versionAbove reports v > than for four-part dotted versions; anything
// else is not above.
func versionAbove(v, than string) bool {
	a, ok1 := parseVersion(v)
	b, ok2 := parseVersion(than)
	if !ok1 || !ok2 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

func parseVersion(v string) ([4]int, bool) {
	var out [4]int
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

// resume replaces a dropped websocket: ResumeSession for a fresh token,
// then a new websocket, retried with backoff for resumeWindow.
func (s *session) resume(ctx context.Context) (transport, error) {
	deadline := time.Now().Add(resumeWindow)
	delay := resumeMin
	var last error
	for attempt := 1; ; attempt++ {
		out, err := s.d.cfg.API.ResumeSession(ctx, &awsssm.ResumeSessionInput{SessionId: aws.String(s.id)})
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			if resumeGone(err) {
				return nil, fmt.Errorf("resume: %w", err)
			}
			last = fmt.Errorf("resume: %w", err)
		case aws.ToString(out.TokenValue) == "":
			return nil, errors.New("the service no longer resumes the session")
		default:
			if u := aws.ToString(out.StreamUrl); u != "" {
				s.streamURL = u
			}
			t, err := s.openStream(ctx, s.streamURL, aws.ToString(out.TokenValue))
			if err == nil {
				return t, nil
			}
			last = err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("gave up resuming after %d attempts: %w", attempt, last)
		}
		s.log.Debug("ssm: resume failed, retrying", "attempt", attempt, "in", delay, "err", last)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
		delay = min(2*delay, resumeMax)
	}
}

// dial opens one connection to the destination in this session.
func (s *session) dial(ctx context.Context) (net.Conn, error) {
	s.mu.Lock()
	m, b := s.mux, s.basic
	s.mu.Unlock()
	switch {
	case m != nil:
		return m.dial(ctx)
	case b != nil:
		return b.dial(ctx)
	}
	return nil, ErrNotConnected
}

// close ends the session for good: the TerminateSession flag to the agent,
// TerminateSession to the service, then the channel.
func (s *session) close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		if s.handshook.Load() && s.ch.failure() == nil {
			ctx, cancel := context.WithTimeout(context.Background(), flagGrace)
			if err := s.ch.send(ctx, nil, nil, wire.Flag, wire.FlagPayload(wire.TerminateSession)); err == nil {
				_ = s.ch.waitAcked(ctx)
			}
			cancel()
		}
		s.terminate()
		if s.cancel != nil {
			s.cancel(errClosed)
			<-s.stopped
		}
	})
}

// abort ends the session on a failure above the channel; it is reported
// lost like any other.
func (s *session) abort(err error) {
	if s.cancel != nil {
		s.cancel(err)
	}
}

// terminate asks the service to end the session; best effort.
func (s *session) terminate() {
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	if _, err := s.d.cfg.API.TerminateSession(ctx, &awsssm.TerminateSessionInput{SessionId: aws.String(s.id)}); err != nil {
		s.log.Debug("ssm: terminate session", "err", err)
	}
}
