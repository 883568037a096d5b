package ssmfake

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/coder/websocket"
	"github.com/xtaci/smux"
	"go.uber.org/goleak"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

// echoServer echoes every connection and counts them.
type echoServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns int
	eofs  int
	wg    sync.WaitGroup
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	var (
		open   []net.Conn
		closed bool
	)
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns++
			// A connection accepted while the cleanup runs would
			// miss its close loop and keep wg.Wait waiting.
			if closed {
				c.Close()
			}
			open = append(open, c)
			e.mu.Unlock()
			e.wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				e.mu.Lock()
				e.eofs++
				e.mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		e.mu.Lock()
		closed = true
		for _, c := range open {
			_ = c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) port() string {
	_, p, _ := net.SplitHostPort(e.ln.Addr().String())
	return p
}

func (e *echoServer) counts() (conns, eofs int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns, e.eofs
}

// readEcho reads agent data until want has arrived, acknowledging each.
func (r *rawClient) readEcho(want string) {
	r.t.Helper()
	var got []byte
	for len(got) < len(want) {
		m := r.readData(5 * time.Second)
		r.ack(m)
		if m.PayloadType != wire.Output {
			r.t.Fatalf("agent sent %s, want Output", m.String())
		}
		got = append(got, m.Payload...)
	}
	if string(got) != want {
		r.t.Fatalf("echo %q, want %q", got, want)
	}
}

// expectSilence fails if the agent sends data within d (acks are fine).
func (r *rawClient) expectSilence(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		m, err := r.readErr(left)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return
			}
			r.t.Fatalf("read: %v", err)
		}
		if m.Type != wire.Acknowledge {
			r.t.Fatalf("agent sent %s, want silence", m.String())
		}
	}
}

func TestControlPlane(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{})
	ctx := context.Background()
	c := sdkClient(svc)
	start := func(target, doc string, params map[string][]string) (*ssm.StartSessionOutput, error) {
		return c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(target), DocumentName: aws.String(doc), Parameters: params})
	}
	params := map[string][]string{"host": {"db.internal"}, "portNumber": {"5432"}, "localPortNumber": {"15432"}}

	var notConnected *types.TargetNotConnected
	if _, err := start(testTarget, DocRemoteHost, params); !errors.As(err, &notConnected) {
		t.Errorf("unknown target: %v, want TargetNotConnected", err)
	}
	svc.AddTarget(testTarget, Agent{Version: AgentVersionMux})
	if _, err := start(testTarget, DocRemoteHost, params); !errors.As(err, &notConnected) {
		t.Errorf("offline target: %v, want TargetNotConnected", err)
	}
	svc.SetOnline(testTarget, true)
	var invalidDoc *types.InvalidDocument
	if _, err := start(testTarget, "AWS-StartInteractiveCommand", nil); !errors.As(err, &invalidDoc) {
		t.Errorf("unknown document: %v, want InvalidDocument", err)
	}
	var apiErr smithy.APIError
	if _, err := start(testTarget, DocRemoteHost, map[string][]string{"portNumber": {"5432"}}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameters" {
		t.Errorf("no host: %v, want InvalidParameters", err)
	}
	svc.SetAPIError("StartSession", &APIError{Type: "AccessDeniedException", Message: "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ssm:StartSession"})
	if _, err := start(testTarget, DocRemoteHost, params); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
		t.Errorf("denied: %v, want AccessDeniedException", err)
	}
	svc.SetAPIError("StartSession", nil)

	out, err := start(testTarget, DocRemoteHost, params)
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.SessionId)
	wantURL := regexp.MustCompile(`^ws://127\.0\.0\.1:\d+/v1/data-channel/` + regexp.QuoteMeta(id) + `\?role=publish_subscribe$`)
	if !wantURL.MatchString(aws.ToString(out.StreamUrl)) || aws.ToString(out.TokenValue) == "" {
		t.Errorf("StartSession → %q %q", aws.ToString(out.StreamUrl), aws.ToString(out.TokenValue))
	}
	if s := svc.Sessions(); len(s) != 1 || s[0].SessionID != id || s[0].Destination != "db.internal:5432" || s[0].Target != testTarget {
		t.Errorf("Sessions() = %+v", s)
	}

	res, err := c.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: out.SessionId})
	if err != nil || aws.ToString(res.TokenValue) == "" || aws.ToString(res.TokenValue) == aws.ToString(out.TokenValue) ||
		aws.ToString(res.StreamUrl) != aws.ToString(out.StreamUrl) {
		t.Errorf("ResumeSession → %+v, %v: want a new token, the same StreamUrl", res, err)
	}
	var notExist *types.DoesNotExistException
	if _, err := c.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: aws.String("nobody-0123456789abcdef0")}); !errors.As(err, &notExist) {
		t.Errorf("ResumeSession of an unknown session: %v, want DoesNotExistException", err)
	}
	if _, err := c.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: out.SessionId}); err != nil {
		t.Fatal(err)
	}
	if s := svc.Sessions(); len(s) != 0 {
		t.Errorf("open sessions after TerminateSession: %+v", s)
	}
	if res, err := c.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: out.SessionId}); err != nil || res.TokenValue != nil {
		t.Errorf("ResumeSession of a terminated session → %+v, %v: want no token", res, err)
	}

	// An unsigned request is refused, in the JSON 1.1 error shape.
	req, _ := http.NewRequest(http.MethodPost, svc.URL(), strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", "AmazonSSM.StartSession")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusBadRequest || body["__type"] != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned request → %d %v", resp.StatusCode, body)
	}
	if st := svc.Stats(); st.StartSession != 1 || st.ResumeSession != 2 || st.TerminateSession != 1 || st.APIErrors != 7 {
		t.Errorf("stats %+v", st)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
	echo := newEchoServer(t)
	rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})

	refused := func(token string) {
		t.Helper()
		c, err := dialRawErr(rs.url, token, "1.3.0.0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Errorf("token %.8q…: %v, want close 1008", token, err)
		}
	}
	refused("not-the-token")
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	rc.handshake("1.3.0.0")
	refused(rs.token) // a token opens one websocket

	res, err := sdkClient(svc).ResumeSession(context.Background(), &ssm.ResumeSessionInput{SessionId: aws.String(rs.id)})
	if err != nil {
		t.Fatal(err)
	}
	rc2 := dialRaw(t, rs.url, aws.ToString(res.TokenValue), "1.3.0.0")
	// The new websocket replaces the old one; the handshake is not repeated.
	rc2.continueFrom(rc)
	rc2.send(wire.Output, []byte("after resume"))
	rc2.readEcho("after resume")
	// Frames the agent sent before the switch may still be buffered ahead
	// of the end of the old websocket.
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, err := rc.readErr(time.Until(deadline))
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("the old websocket is still open")
		}
		if err != nil {
			break
		}
	}
	if st := svc.Stats(); st.TokenRejected != 2 || st.Websockets != 2 || st.AuthRejected != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestBasicReliability: the agent's receive and resend rules, in basic mode.
func TestBasicReliability(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
	echo := newEchoServer(t)
	rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}, "localPortNumber": {"0"}})
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	hs := rc.handshake("1.3.0.0")

	if hs["AgentVersion"] != AgentVersionBasic {
		t.Errorf("AgentVersion %v", hs["AgentVersion"])
	}
	acts, _ := hs["RequestedClientActions"].([]any)
	if len(acts) != 1 {
		t.Fatalf("RequestedClientActions %v", hs["RequestedClientActions"])
	}
	act := acts[0].(map[string]any)
	params := act["ActionParameters"].(map[string]any)
	props := params["Properties"].(map[string]any)
	if act["ActionType"] != "SessionType" || params["SessionType"] != "Port" || props["type"] != "LocalPortForwarding" ||
		props["portNumber"] != echo.port() || props["localPortNumber"] != "0" {
		t.Errorf("handshake request action %v", act)
	}
	// The destination sees the connection before the agent records it.
	waitFor(t, 5*time.Second, "the agent to dial", func() bool {
		conns, _ := echo.counts()
		info, _ := svc.Session(rs.id)
		return conns == 1 && info.Streams == 1
	})
	if info, _ := svc.Session(rs.id); info.Mode != "basic" || info.Streams != 1 {
		t.Errorf("session %+v: want basic, dialed at once", info)
	}

	// Ahead of sequence: buffered and acknowledged; the gap filled, both
	// are delivered in order.
	rc.write(input(2, wire.Output, []byte("B")))
	if seq := rc.readAck(5 * time.Second); seq != 2 {
		t.Fatalf("ack %d, want 2", seq)
	}
	rc.write(input(1, wire.Output, []byte("A")))
	if seq := rc.readAck(5 * time.Second); seq != 1 {
		t.Fatalf("ack %d, want 1", seq)
	}
	rc.readEcho("AB")
	// A duplicate is acknowledged again, not delivered again.
	rc.write(input(1, wire.Output, []byte("A")))
	if seq := rc.readAck(5 * time.Second); seq != 1 {
		t.Fatalf("re-ack %d, want 1", seq)
	}
	rc.seq = 3
	// Unacknowledged agent data is resent after the RTO.
	rc.send(wire.Output, []byte("C"))
	first := rc.readData(5 * time.Second)
	again := rc.readData(5 * time.Second)
	if again.SequenceNumber != first.SequenceNumber || !bytes.Equal(again.Payload, []byte("C")) {
		t.Fatalf("after %s, got %s: want the same message resent", first.String(), again.String())
	}
	rc.ack(again)
	// DisconnectToPort closes the destination connection; the next data
	// redials.
	rc.send(wire.Flag, wire.FlagPayload(wire.DisconnectToPort))
	waitFor(t, 5*time.Second, "the destination connection to close", func() bool { _, eofs := echo.counts(); return eofs == 1 })
	rc.send(wire.Output, []byte("D"))
	rc.readEcho("D")
	if conns, _ := echo.counts(); conns != 2 {
		t.Errorf("%d destination connections, want 2", conns)
	}
	st := svc.Stats()
	if st.FutureIn != 1 || st.DuplicatesIn != 1 || st.Retransmits < 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestDataBeforeHandshakeComplete: client data that precedes the handshake
// response is acknowledged and discarded.
func TestDataBeforeHandshakeComplete(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
	echo := newEchoServer(t)
	rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	req := rc.readData(5 * time.Second)
	rc.ack(req)
	rc.send(wire.Output, []byte("early"))
	if seq := rc.readAck(5 * time.Second); seq != 0 {
		t.Fatalf("ack %d, want 0", seq)
	}
	resp, _ := json.Marshal(map[string]any{"ClientVersion": "1.3.0.0",
		"ProcessedClientActions": []map[string]any{{"ActionType": "SessionType", "ActionStatus": 1}}})
	rc.send(wire.HandshakeResponse, resp)
	if seq := rc.readAck(5 * time.Second); seq != 1 {
		t.Fatalf("ack %d, want 1", seq)
	}
	if m := rc.readData(5 * time.Second); m.PayloadType != wire.HandshakeComplete {
		t.Fatalf("got %s, want HandshakeComplete", m.String())
	} else {
		rc.ack(m)
	}
	rc.send(wire.Output, []byte("late"))
	rc.readEcho("late")
	if st := svc.Stats(); st.DiscardedEarly != 1 {
		t.Errorf("DiscardedEarly %d, want 1", st.DiscardedEarly)
	}
}

func TestMux(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Online: true})
	echo := newEchoServer(t)
	rs := startRawSession(t, svc, DocRemoteHost, map[string][]string{"host": {"127.0.0.1"}, "portNumber": {echo.port()}})
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	rc.handshake("1.3.0.0")
	// Once the handshake is acknowledged the agent has nothing to resend,
	// so only a copy already on its way can arrive (readErr skips it).
	waitFor(t, 5*time.Second, "the handshake to be acknowledged", func() bool {
		info, _ := svc.Session(rs.id)
		return info.Unacked == 0
	})
	// Nothing from the agent until the client's first data.
	rc.expectSilence(300 * time.Millisecond)
	if info, _ := svc.Session(rs.id); info.Mode != "mux" || info.KeepAlive || info.Streams != 0 {
		t.Errorf("session %+v: want mux, keepalive off, nothing dialed", info)
	}
	cfg := smux.DefaultConfig()
	cfg.KeepAliveDisabled = true
	mux, err := smux.Client(rc.stream(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			st, err := mux.OpenStream()
			if err != nil {
				t.Error(err)
				return
			}
			defer st.Close()
			msg := bytes.Repeat([]byte{byte('a' + i)}, 10000)
			if _, err := st.Write(msg); err != nil {
				t.Error(err)
				return
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(st, got); err != nil || !bytes.Equal(got, msg) {
				t.Errorf("stream %d: echo %v", i, err)
			}
		})
	}
	wg.Wait()
	// Closing a stream closes the destination connection.
	waitFor(t, 5*time.Second, "destination connections to close", func() bool { _, eofs := echo.counts(); return eofs == 3 })
	if info, _ := svc.Session(rs.id); info.Streams != 3 {
		t.Errorf("%d streams, want 3", info.Streams)
	}
}

// TestMuxNoHalfClose: when the destination ends its side, the agent closes
// the whole stream (and so the client sees EOF); nothing half-closes.
func TestMuxNoHalfClose(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Online: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gotEOF := make(chan bool, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("bye"))
		_ = c.(*net.TCPConn).CloseWrite()
		// A half-close is not carried over: the agent closes this
		// connection fully instead of waiting for the client's data.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		gotEOF <- err == io.EOF
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	rs := startRawSession(t, svc, DocRemoteHost, map[string][]string{"host": {"127.0.0.1"}, "portNumber": {port}})
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	rc.handshake("1.3.0.0")
	cfg := smux.DefaultConfig()
	cfg.KeepAliveDisabled = true
	mux, err := smux.Client(rc.stream(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_ = st.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(st)
	if string(b) != "bye" || err != nil {
		t.Errorf("stream read %q, %v: want bye then EOF", b, err)
	}
	if !<-gotEOF {
		t.Error("the destination connection was not closed")
	}
}

// TestMuxConnectError: a destination that refuses makes the agent send
// Flag ConnectToPortError and close the stream.
func TestMuxConnectError(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Online: true})
	rs := startRawSession(t, svc, DocRemoteHost, map[string][]string{"host": {"127.0.0.1"}, "portNumber": {closedPort(t)}})
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	rc.handshake("1.3.0.0")
	conn := rc.stream(t)
	cfg := smux.DefaultConfig()
	cfg.KeepAliveDisabled = true
	mux, err := smux.Client(conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = st.Write([]byte("x"))
	_ = st.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := st.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("stream read: %v, want EOF", err)
	}
	waitFor(t, 5*time.Second, "ConnectToPortError", func() bool {
		f := conn.flagsSeen()
		return len(f) == 1 && f[0] == wire.ConnectToPortError
	})
	if info, _ := svc.Session(rs.id); info.DialErrors != 1 {
		t.Errorf("%d dial errors, want 1", info.DialErrors)
	}
}

// TestModeFromClientVersion: the agent's side of the mux/basic decision and
// of smux keepalive.
func TestModeFromClientVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		agent, client, mode string
		keepAlive           bool
	}{
		{AgentVersionMux, "1.3.0.0", "mux", false},
		{AgentVersionMux, "1.2.331.0", "mux", true},
		{AgentVersionMux, "1.1.70.0", "mux", true},
		{AgentVersionMux, "1.1.69.0", "basic", false},
		{"3.0.196.1", "1.3.0.0", "mux", false},
		{AgentVersionBasic, "1.3.0.0", "basic", false},
	} {
		svc := newTestService(t, Options{Pacing: NoPacing})
		svc.AddTarget(testTarget, Agent{Version: tc.agent, Online: true})
		echo := newEchoServer(t)
		rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})
		rc := dialRaw(t, rs.url, rs.token, tc.client)
		rc.handshake(tc.client)
		if info, _ := svc.Session(rs.id); info.Mode != tc.mode || info.KeepAlive != tc.keepAlive {
			t.Errorf("agent %s, client %s: mode %q keepalive %v, want %q %v", tc.agent, tc.client, info.Mode, info.KeepAlive, tc.mode, tc.keepAlive)
		}
	}
}

// readClosed expects channel_closed, checks the service's framing (112-byte
// header, NUL padding) and returns its payload.
func (r *rawClient) readClosed() wire.ChannelClosedPayload {
	r.t.Helper()
	for {
		b, err := r.next(5 * time.Second)
		if err != nil {
			r.t.Fatalf("read: %v, want channel_closed", err)
		}
		var m wire.Message
		if err := m.UnmarshalBinary(b); err != nil {
			r.t.Fatal(err)
		}
		if m.Type != wire.ChannelClosed {
			continue
		}
		if hl := binary.BigEndian.Uint32(b); hl != wire.ShortHeaderLength || b[4+len(wire.ChannelClosed)] != 0 {
			r.t.Errorf("channel_closed header length %d, padding %q", hl, b[4+len(wire.ChannelClosed)])
		}
		var p wire.ChannelClosedPayload
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			r.t.Fatal(err)
		}
		// Then the service closes the websocket normally.
		if _, err := r.next(5 * time.Second); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			r.t.Errorf("after channel_closed: %v, want close 1000", err)
		}
		return p
	}
}

func TestSessionEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   Options
		end    func(svc *Service, rc *rawClient, id string)
		reason string
		output string
	}{
		{"TerminateSession", Options{}, func(svc *Service, rc *rawClient, id string) {
			if _, err := sdkClient(svc).TerminateSession(context.Background(), &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
				t.Error(err)
			}
		}, "TerminateSession", ""},
		{"flag", Options{}, func(svc *Service, rc *rawClient, id string) {
			rc.send(wire.Flag, wire.FlagPayload(wire.TerminateSession))
		}, "flag", ""},
		{"idle", Options{Faults: Faults{IdleTimeout: 300 * time.Millisecond}}, func(*Service, *rawClient, string) {},
			"idle", "Your session timed out due to inactivity and has been terminated."},
		{"handshake timeout", Options{HandshakeTimeout: 300 * time.Millisecond}, nil, "handshake timeout", "Session handshake timed out."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Pacing = NoPacing
			svc := newTestService(t, tc.opts)
			svc.AddTarget(testTarget, Agent{Online: true})
			echo := newEchoServer(t)
			rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})
			rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
			if tc.end != nil {
				rc.handshake("1.3.0.0")
				tc.end(svc, rc, rs.id)
			}
			p := rc.readClosed()
			if p.SessionId != rs.id || p.MessageType != wire.ChannelClosed || p.Output != tc.output || p.SchemaVersion != 1 {
				t.Errorf("channel_closed %+v", p)
			}
			if s := svc.Sessions(); len(s) != 0 {
				t.Errorf("open sessions %+v", s)
			}
			if info, _ := svc.Session(rs.id); info.EndReason != tc.reason || !info.Terminated {
				t.Errorf("session %+v, want ended by %q", info, tc.reason)
			}
		})
	}
}

func TestPausePublication(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
	echo := newEchoServer(t)
	rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	rc.handshake("1.3.0.0")
	// Long enough that P, sent once the pause is seen, lands inside it
	// even on a loaded machine (InputWhilePaused below).
	const pause = time.Second
	// Taken before Pause, whose clock reading inside starts the pause:
	// the agent may publish again only on a tick at or after that plus
	// pause, so nothing of the echo can arrive sooner than start+pause.
	start := time.Now()
	svc.Pause(rs.id, pause)
	if m := rc.read(5 * time.Second); m.Type != wire.PausePublication {
		t.Fatalf("got %s, want pause_publication", m.String())
	}
	sent := rc.send(wire.Output, []byte("P")) // a client that ignores the pause
	// The ack of P and start_publication, in either order (acks go out
	// during a pause, so a slow client can see the pause end first); no
	// agent data before start_publication.
	for acked, started := false, false; !acked || !started; {
		m := rc.read(5 * time.Second)
		switch {
		case m.Type == wire.Acknowledge:
			a, err := wire.ParseAck(m)
			if err != nil || a.AcknowledgedMessageSequenceNumber != sent.SequenceNumber {
				t.Fatalf("ack %+v, %v: want one of P's %d", a, err, sent.SequenceNumber)
			}
			acked = true
		case m.Type == wire.StartPublication:
			started = true
		case !started:
			t.Fatalf("the agent sent %s during the pause", m.String())
		default:
			t.Fatalf("got %s before the ack of P", m.String())
		}
	}
	rc.readEcho("P")
	if d := time.Since(start); d < pause {
		t.Errorf("the echo arrived %v after the %v pause began", d, pause)
	}
	if st := svc.Stats(); st.Pauses != 1 || st.InputWhilePaused != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestByeAndResume: `close 1000 "Bye"`, then ResumeSession and a new
// websocket; the unacknowledged agent message is resent.
func TestByeAndResume(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing, Faults: Faults{ByeEvery: 500 * time.Millisecond}})
	svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
	echo := newEchoServer(t)
	rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	rc.handshake("1.3.0.0")
	rc.send(wire.Output, []byte("unacked"))
	lost := rc.readData(5 * time.Second) // not acknowledged
	var ce websocket.CloseError
	for {
		if _, err := rc.readErr(5 * time.Second); err != nil {
			if !errors.As(err, &ce) || ce.Code != websocket.StatusNormalClosure || ce.Reason != "Bye" {
				t.Fatalf("websocket ended with %v, want close 1000 Bye", err)
			}
			break
		}
	}
	svc.SetFaults(Faults{})
	if s := svc.Sessions(); len(s) != 1 {
		t.Fatalf("open sessions after Bye: %+v", s)
	}
	res, err := sdkClient(svc).ResumeSession(context.Background(), &ssm.ResumeSessionInput{SessionId: aws.String(rs.id)})
	if err != nil {
		t.Fatal(err)
	}
	rc2 := dialRaw(t, aws.ToString(res.StreamUrl), aws.ToString(res.TokenValue), "1.3.0.0")
	rc2.continueFrom(rc)
	m := rc2.readData(5 * time.Second)
	if m.SequenceNumber != lost.SequenceNumber || !bytes.Equal(m.Payload, lost.Payload) {
		t.Fatalf("after resume: %s, want %s again", m.String(), lost.String())
	}
	rc2.ack(m)
	rc2.send(wire.Output, []byte("more"))
	rc2.readEcho("more")
	if st := svc.Stats(); st.Byes != 1 || st.Websockets != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestDropWebsocket(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Online: true})
	echo := newEchoServer(t)
	rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})
	rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
	rc.handshake("1.3.0.0")
	svc.DropWebsocket("")
	_, err := rc.readErr(5 * time.Second)
	if err == nil || websocket.CloseStatus(err) != -1 {
		t.Errorf("after a drop: %v, want a read error without a close frame", err)
	}
	waitFor(t, 5*time.Second, "the session to notice", func() bool {
		info, _ := svc.Session(rs.id)
		return !info.Connected
	})
	if s := svc.Sessions(); len(s) != 1 {
		t.Errorf("open sessions after a drop: %+v", s)
	}
}

func TestMessageFaults(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, f Faults) (*Service, *rawClient) {
		svc := newTestService(t, Options{Pacing: NoPacing})
		svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
		echo := newEchoServer(t)
		rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})
		rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
		rc.handshake("1.3.0.0")
		waitFor(t, 5*time.Second, "the handshake to be acknowledged", func() bool {
			info, _ := svc.Session(rs.id)
			return info.Unacked == 0
		})
		svc.SetFaults(f)
		return svc, rc
	}
	t.Run("duplicate", func(t *testing.T) {
		t.Parallel()
		svc, rc := setup(t, Faults{Duplicate: 1})
		rc.send(wire.Output, []byte("X"))
		var data []int64
		for len(data) < 2 {
			if m := rc.read(5 * time.Second); m.Type == wire.OutputStreamData {
				data = append(data, m.SequenceNumber)
			}
		}
		if data[0] != data[1] {
			t.Errorf("data %v, want one message twice", data)
		}
		if st := svc.Stats(); st.FaultDuplicated < 2 || st.DuplicatesIn != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("loss", func(t *testing.T) {
		t.Parallel()
		svc, rc := setup(t, Faults{Loss: 1})
		rc.send(wire.Output, []byte("X"))
		if m, err := rc.readErr(300 * time.Millisecond); err == nil {
			t.Errorf("got %s through a lossy channel", m.String())
		}
		svc.SetFaults(Faults{})
		rc.write(input(1, wire.Output, []byte("X"))) // the client's resend
		rc.readEcho("X")
		if st := svc.Stats(); st.FaultLost != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("delay", func(t *testing.T) {
		t.Parallel()
		_, rc := setup(t, Faults{Delay: 200 * time.Millisecond})
		start := time.Now()
		rc.send(wire.Output, []byte("X"))
		rc.readAck(5 * time.Second)
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("ack after %v, want ≥ 200ms", d)
		}
	})
	t.Run("reorder", func(t *testing.T) {
		t.Parallel()
		svc, rc := setup(t, Faults{Reorder: 1})
		// Held client messages are processed after the next one, and
		// held agent messages overtaken: all still arrive.
		rc.send(wire.Output, []byte("1"))
		rc.send(wire.Output, []byte("2"))
		var got []byte
		for len(got) < 2 {
			m := rc.readData(5 * time.Second)
			rc.ack(m)
			got = append(got, m.Payload...)
		}
		if string(got) != "12" {
			t.Errorf("echo %q", got)
		}
		if st := svc.Stats(); st.FaultReordered < 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestCloseNoLeaks: Close ends everything, with websockets, mux streams and
// destination connections open, and no goroutine survives.
func TestCloseNoLeaks(t *testing.T) {
	loadOfficialTools() // TestMain's build must not look like a leak
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Run("scenario", func(t *testing.T) {
		svc := New(Options{Pacing: NoPacing})
		if err := svc.Start(); err != nil {
			t.Fatal(err)
		}
		svc.AddTarget(testTarget, Agent{Online: true})
		echo := newEchoServer(t)
		// A mux session with a stream open.
		rs := startRawSession(t, svc, DocRemoteHost, map[string][]string{"host": {"127.0.0.1"}, "portNumber": {echo.port()}})
		rc := dialRaw(t, rs.url, rs.token, "1.3.0.0")
		rc.handshake("1.3.0.0")
		cfg := smux.DefaultConfig()
		cfg.KeepAliveDisabled = true
		mux, err := smux.Client(rc.stream(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer mux.Close()
		st, err := mux.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(st, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		// A basic session, and one that never connects.
		svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
		rs = startRawSession(t, svc, DocRemoteHost, map[string][]string{"host": {"127.0.0.1"}, "portNumber": {echo.port()}})
		dialRaw(t, rs.url, rs.token, "1.3.0.0").handshake("1.3.0.0")
		startRawSession(t, svc, DocRemoteHost, map[string][]string{"host": {"127.0.0.1"}, "portNumber": {echo.port()}})
		if err := svc.Close(); err != nil {
			t.Error(err)
		}
		if s := svc.Sessions(); len(s) != 0 {
			t.Errorf("open sessions after Close: %+v", s)
		}
	})
}
