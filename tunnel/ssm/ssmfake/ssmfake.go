// Package ssmfake is a fake AWS Systems Manager Session Manager: the control
// plane (StartSession, ResumeSession, TerminateSession over AWS JSON 1.1), the
// data channel (the websocket the service relays) and the SSM agent's port
// plugin (mux over xtaci/smux, or basic), as described in
// shared/ssm-protocol.md. It is faithful enough that the official
// session-manager-plugin completes port forwarding against it (the
// conformance tests prove it), and it injects faults on demand: websocket
// drops, periodic `close 1000 "Bye"`, delay, duplication, reordering and loss
// of messages, idle timeouts, offline targets, pause_publication bursts,
// unanswered pings and API errors. Like the service, it refuses a data
// channel whose upgrade is not SigV4-signed for ssmmessages in the region
// the session was started in.
//
// Use it from tests and the sandbox only:
//
//	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
//	if err := svc.Start(); err != nil { ... }
//	defer svc.Close()
//	svc.AddTarget("i-0123456789abcdef0", ssmfake.Agent{Version: "3.3.0.0", Online: true})
//	// point the SSM client at svc.URL(); every session's agent dials from
//	// this process.
package ssmfake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// NoPacing, as Options.Pacing, turns off the agent's per-read sleep.
const NoPacing time.Duration = -1

// Agent versions worth naming: the first that does not multiplex (the
// official client picks mux only for agents newer than 3.0.196.0) and a
// current one.
const (
	AgentVersionBasic = "3.0.196.0"
	AgentVersionMux   = "3.3.0.0"
)

// Options configure a Service. The zero value is usable.
type Options struct {
	// Addr is where Start listens; default "127.0.0.1:0".
	Addr string
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Pacing is how long the agent sleeps after each read (of at most 1024
	// bytes) that it sends to the client, like the real agent's 1 ms. Zero
	// means 1 ms; NoPacing (any negative value) means no sleep.
	Pacing time.Duration
	// DialTimeout bounds the agent's dial of the destination; default 10 s.
	DialTimeout time.Duration
	// Dial, if set, is how the agent connects to destinations (e.g. from
	// another network namespace); default a net.Dialer with DialTimeout.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// HandshakeTimeout: the agent gives up (and the session ends) when the
	// handshake is not complete this long after it began; default 15 s.
	HandshakeTimeout time.Duration
	// InstanceAddress is where AWS-StartPortForwardingSession and
	// AWS-StartSSHSession connect (the instance's own address) for targets
	// whose Agent.Address is empty; default 127.0.0.1.
	InstanceAddress string
	// Faults are the faults in force from the start; see SetFaults.
	Faults Faults
}

// Faults are injected on demand. Message faults (Loss, Duplicate, Reorder)
// apply, in both directions, to data messages and acknowledgements only,
// never to channel_closed or publication control messages. Decisions come
// from a per-session generator seeded from Seed (when the session starts)
// and the session's ordinal, so a run is repeatable as far as timing allows.
type Faults struct {
	Seed uint64
	// Loss is the probability that a message is lost: one the service
	// sends never leaves (the agent retransmits data), one it receives is
	// ignored.
	Loss float64
	// Duplicate is the probability that a message is sent (or processed)
	// twice.
	Duplicate float64
	// Reorder is the probability that a message is held back and overtaken
	// by the next one.
	Reorder float64
	// Delay is one-way latency added to every frame the service sends.
	Delay time.Duration
	// ByeEvery closes each websocket with `close 1000 "Bye"` this long after
	// it opened, as the real service does about hourly. Zero: never.
	ByeEvery time.Duration
	// IdleTimeout ends a session with channel_closed after this long
	// without data in either direction; zero means the service default of
	// 20 minutes. Acknowledgements are not data; smux keepalives are.
	IdleTimeout time.Duration
	// PauseEvery and PauseFor make the service send pause_publication every
	// PauseEvery, stop the agent's output for PauseFor, then send
	// start_publication. Both must be set.
	PauseEvery, PauseFor time.Duration
	// IgnorePings leaves the client's websocket pings unanswered, as a
	// connection that is half dead would: frames still flow, no pong
	// comes back.
	IgnorePings bool
}

// DefaultIdleTimeout is the service's idle timeout unless Faults.IdleTimeout
// says otherwise.
const DefaultIdleTimeout = 20 * time.Minute

// Agent is the SSM agent on a target (a managed instance).
type Agent struct {
	// Version is the AgentVersion of the handshake; default AgentVersionMux.
	// Versions above 3.0.196.0 multiplex connections with smux; others are
	// basic (one connection at a time).
	Version string
	// Online: whether the agent is connected; StartSession to an offline or
	// unknown target fails with TargetNotConnected.
	Online bool
	// Address is the instance's own address, where
	// AWS-StartPortForwardingSession connects; default
	// Options.InstanceAddress.
	Address string
}

// APIError is an error reply of the control plane: HTTP Status (default 400)
// with body {"__type": Type, "Message": Message}.
type APIError struct {
	Status  int
	Type    string
	Message string
}

func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// SessionInfo describes one session for tests.
type SessionInfo struct {
	SessionID     string
	Target        string
	Document      string
	Destination   string // host:port the agent dials
	AgentVersion  string
	ClientVersion string // from the handshake response
	Mode          string // "mux" or "basic" once the handshake is complete
	KeepAlive     bool   // the agent's smux keepalive (mux only)
	Connected     bool   // a websocket is attached
	Websockets    int    // websockets accepted so far
	Streams       int    // destination connections opened (mux streams or basic dials)
	DialErrors    int
	BytesIn       int64     // payload bytes of in-order client data
	BytesOut      int64     // payload bytes of agent data (first transmissions)
	LastData      time.Time // last data message either way
	Unacked       int       // agent messages awaiting acknowledgement
	Terminated    bool
	EndReason     string // "TerminateSession", "flag", "idle", "handshake timeout", ...
	Started       time.Time
	Ended         time.Time
}

// Stats are the service's counters since New.
type Stats struct {
	StartSession     int64 // successful calls
	ResumeSession    int64
	TerminateSession int64
	APIErrors        int64 // error replies of the control plane

	Websockets    int64 // data channels accepted (valid token)
	TokenRejected int64 // data channels refused: bad or used token
	AuthRejected  int64 // upgrades refused with 403: unsigned, or signed for another service or region
	PingsIn       int64 // websocket pings from clients, answered or not

	DataIn           int64 // input_stream_data frames received, duplicates included
	DataOut          int64 // output_stream_data messages sent (first transmissions)
	AcksIn           int64
	AcksOut          int64
	Retransmits      int64 // agent data sent again after the RTO or on reconnect
	DuplicatesIn     int64 // client data already delivered: re-acknowledged
	FutureIn         int64 // client data ahead of sequence: buffered and acknowledged
	DiscardedEarly   int64 // client data before HandshakeComplete: acknowledged, dropped
	InputWhilePaused int64 // client data received while publication was paused
	BadFrames        int64 // undecodable frames

	FaultLost       int64
	FaultDuplicated int64
	FaultReordered  int64

	ChannelClosed int64 // channel_closed messages sent
	Byes          int64 // websockets closed with 1000 "Bye"
	Drops         int64 // websockets dropped on demand
	Pauses        int64 // pause_publication messages sent
}

type counters struct {
	startSession, resumeSession, terminateSession, apiErrors            atomic.Int64
	websockets, tokenRejected, authRejected, pingsIn                    atomic.Int64
	dataIn, dataOut, acksIn, acksOut, retransmits                       atomic.Int64
	duplicatesIn, futureIn, discardedEarly, inputWhilePaused, badFrames atomic.Int64
	faultLost, faultDuplicated, faultReordered                          atomic.Int64
	channelClosed, byes, drops, pauses                                  atomic.Int64
}

// Service is the fake: control plane, data channel and agents. It is an
// http.Handler; Start serves it on its own listener.
type Service struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the service starts
	faults atomic.Pointer[Faults]
	stats  counters

	mu        sync.Mutex // guards the fields below; never held while locking a session
	closed    bool
	ln        net.Listener
	srv       *http.Server
	targets   map[string]Agent
	sessions  map[string]*session
	apiErrors map[string]*APIError
	nsessions uint64
}

// New returns a Service that is not yet listening; call Start, or mount it
// as an http.Handler (StreamUrl then names the request's Host).
func New(opts Options) *Service {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Pacing == 0 {
		opts.Pacing = time.Millisecond
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 15 * time.Second
	}
	if opts.InstanceAddress == "" {
		opts.InstanceAddress = "127.0.0.1"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{
		opts:      opts,
		log:       log,
		ctx:       ctx,
		cancel:    cancel,
		targets:   make(map[string]Agent),
		sessions:  make(map[string]*session),
		apiErrors: make(map[string]*APIError),
	}
	f := opts.Faults
	s.faults.Store(&f)
	return s
}

// Start listens on Options.Addr and serves.
func (s *Service) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("ssmfake: start: service closed")
	}
	if s.ln != nil {
		return errors.New("ssmfake: start: already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("ssmfake: listen %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	return nil
}

// URL is the endpoint of the control plane (and the base of every
// StreamUrl), e.g. http://127.0.0.1:41234; empty before Start.
func (s *Service) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close ends every session (without channel_closed), closes every
// connection and the listener, and waits for all goroutines to exit.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.srv
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	for _, ss := range sessions {
		ss.terminate("service closed", "", false)
	}
	s.cancel()
	s.wg.Wait()
	return err
}

// track registers a goroutine (or request) with the service; false once
// the service is closed.
func (s *Service) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// AddTarget adds or replaces a managed instance.
func (s *Service) AddTarget(id string, a Agent) {
	if a.Version == "" {
		a.Version = AgentVersionMux
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.targets[id] = a
}

// SetOnline connects or disconnects a target's agent; StartSession to an
// offline target fails with TargetNotConnected. Sessions already open are
// not affected. Unknown targets are ignored.
func (s *Service) SetOnline(id string, online bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.targets[id]; ok {
		a.Online = online
		s.targets[id] = a
	}
}

// SetFaults replaces the faults in force; sessions pick them up at once
// (ByeEvery at their next websocket).
func (s *Service) SetFaults(f Faults) { s.faults.Store(&f) }

// Faults returns the faults in force.
func (s *Service) Faults() Faults { return *s.faults.Load() }

// SetAPIError makes every call of op ("StartSession", "ResumeSession",
// "TerminateSession") fail with e until it is called again with nil.
func (s *Service) SetAPIError(op string, e *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e == nil {
		delete(s.apiErrors, op)
		return
	}
	c := *e
	if c.Status == 0 {
		c.Status = http.StatusBadRequest
	}
	s.apiErrors[op] = &c
}

// Sessions returns the sessions that are open (not terminated), oldest
// first.
func (s *Service) Sessions() []SessionInfo {
	var out []SessionInfo
	for _, ss := range s.sessionList() {
		if info := ss.info(); !info.Terminated {
			out = append(out, info)
		}
	}
	return out
}

// AllSessions returns every session since New, terminated ones included,
// oldest first.
func (s *Service) AllSessions() []SessionInfo {
	var out []SessionInfo
	for _, ss := range s.sessionList() {
		out = append(out, ss.info())
	}
	return out
}

// Session returns one session by id.
func (s *Service) Session(id string) (SessionInfo, bool) {
	ss := s.lookup(id)
	if ss == nil {
		return SessionInfo{}, false
	}
	return ss.info(), true
}

func (s *Service) sessionList() []*session {
	s.mu.Lock()
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].index < list[j].index })
	return list
}

func (s *Service) lookup(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// forSessions runs f on the session id, or on every open session when id
// is empty.
func (s *Service) forSessions(id string, f func(*session)) {
	if id != "" {
		if ss := s.lookup(id); ss != nil {
			f(ss)
		}
		return
	}
	for _, ss := range s.sessionList() {
		f(ss)
	}
}

// DropWebsocket closes the websocket of session id (every session's when
// id is empty) abruptly, without a close handshake, as a network failure
// would. The sessions stay open: the client is expected to ResumeSession.
func (s *Service) DropWebsocket(id string) {
	s.forSessions(id, func(ss *session) { ss.dropWebsocket() })
}

// SayBye closes the websocket of session id (every session's when id is
// empty) with `close 1000 "Bye"`, as the real service does about hourly.
func (s *Service) SayBye(id string) {
	s.forSessions(id, func(ss *session) { ss.sayBye() })
}

// Pause sends pause_publication to session id (every session when id is
// empty), stops its agent's output for d, then sends start_publication.
func (s *Service) Pause(id string, d time.Duration) {
	s.forSessions(id, func(ss *session) { ss.pause(d) })
}

// Terminate ends session id as TerminateSession does: channel_closed to the
// client (with output as its Output), then the websocket is closed.
func (s *Service) Terminate(id, output string) {
	if ss := s.lookup(id); ss != nil {
		ss.terminate("terminated by test", output, true)
	}
}

// Stats returns the counters.
func (s *Service) Stats() Stats {
	c := &s.stats
	return Stats{
		StartSession:     c.startSession.Load(),
		ResumeSession:    c.resumeSession.Load(),
		TerminateSession: c.terminateSession.Load(),
		APIErrors:        c.apiErrors.Load(),
		Websockets:       c.websockets.Load(),
		TokenRejected:    c.tokenRejected.Load(),
		AuthRejected:     c.authRejected.Load(),
		PingsIn:          c.pingsIn.Load(),
		DataIn:           c.dataIn.Load(),
		DataOut:          c.dataOut.Load(),
		AcksIn:           c.acksIn.Load(),
		AcksOut:          c.acksOut.Load(),
		Retransmits:      c.retransmits.Load(),
		DuplicatesIn:     c.duplicatesIn.Load(),
		FutureIn:         c.futureIn.Load(),
		DiscardedEarly:   c.discardedEarly.Load(),
		InputWhilePaused: c.inputWhilePaused.Load(),
		BadFrames:        c.badFrames.Load(),
		FaultLost:        c.faultLost.Load(),
		FaultDuplicated:  c.faultDuplicated.Load(),
		FaultReordered:   c.faultReordered.Load(),
		ChannelClosed:    c.channelClosed.Load(),
		Byes:             c.byes.Load(),
		Drops:            c.drops.Load(),
		Pauses:           c.pauses.Load(),
	}
}

// ServeHTTP routes the data channel (GET /v1/data-channel/<id>) and the
// control plane (POST with X-Amz-Target).
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.track() {
		http.Error(w, "service closed", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	if id, ok := cutDataChannelPath(r.URL.Path); ok {
		s.serveDataChannel(w, r, id)
		return
	}
	s.serveAPI(w, r)
}
