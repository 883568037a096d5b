package ssmfake

// A raw data-channel client for unit tests: it speaks frames by hand so a
// test controls every sequence number and acknowledgement.

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/coder/websocket"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

type rawSession struct {
	id, url, token string
}

func startRawSession(t *testing.T, svc *Service, doc string, params map[string][]string) rawSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := sdkClient(svc).StartSession(ctx, &ssm.StartSessionInput{
		Target: aws.String(testTarget), DocumentName: aws.String(doc), Parameters: params,
	})
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	return rawSession{aws.ToString(res.SessionId), aws.ToString(res.StreamUrl), aws.ToString(res.TokenValue)}
}

type rawClient struct {
	t      *testing.T
	c      *websocket.Conn
	seq    int64 // next client sequence number
	frames chan rawFrame
	// acked holds the agent data sequence numbers this client has
	// acknowledged through ack. The agent resends what it has no ack for
	// after its RTO (200 ms at first), so on a slow machine a resend can
	// cross our ack; readErr skips such a copy instead of handing it to a
	// test that expects the next message.
	mu    sync.Mutex
	acked map[int64]bool
}

type rawFrame struct {
	b   []byte
	err error
}

func dialRaw(t *testing.T, url, token, clientVersion string) *rawClient {
	t.Helper()
	c, err := dialRawErr(url, token, clientVersion)
	if err != nil {
		t.Fatal(err)
	}
	// One reader for the life of the websocket: a Read that times out
	// would close it.
	rc := &rawClient{t: t, c: c, frames: make(chan rawFrame, 4096), acked: map[int64]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			typ, b, err := c.Read(context.Background())
			if err == nil && typ != websocket.MessageBinary {
				err = errors.New("text frame from the service")
			}
			rc.frames <- rawFrame{b, err}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = c.CloseNow()
		<-done
	})
	return rc
}

// next returns the next frame's bytes, or an error after d.
func (r *rawClient) next(d time.Duration) ([]byte, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f, ok := <-r.frames:
		if !ok {
			return nil, errors.New("websocket closed")
		}
		if f.err != nil {
			r.frames <- f // sticky
		}
		return f.b, f.err
	case <-t.C:
		return nil, context.DeadlineExceeded
	}
}

func dialRawErr(url, token, clientVersion string) (*websocket.Conn, error) {
	// The fake reads the credential scope, not the signature.
	header := http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=" + testAccessKey + "/20240101/" + testRegion + "/ssmmessages/aws4_request"}}
	return dialRawHeader(url, header, token, clientVersion)
}

// dialRawHeader opens a data channel with the given upgrade headers and
// presents the token.
func dialRawHeader(url string, header http.Header, token, clientVersion string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	open, _ := json.Marshal(wire.OpenDataChannelInput{
		MessageSchemaVersion: "1.0", RequestId: "11111111-2222-3333-4444-555555555555",
		TokenValue: token, ClientId: "66666666-7777-8888-9999-000000000000", ClientVersion: clientVersion,
	})
	if err := c.Write(ctx, websocket.MessageText, open); err != nil {
		_ = c.CloseNow()
		return nil, err
	}
	return c, nil
}

// read returns the next frame, failing the test after d.
func (r *rawClient) read(d time.Duration) *wire.Message {
	r.t.Helper()
	m, err := r.readErr(d)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return m
}

// readErr returns the next frame within d, skipping resends of agent data
// already acknowledged (see rawClient.acked).
func (r *rawClient) readErr(d time.Duration) (*wire.Message, error) {
	deadline := time.Now().Add(d)
	for {
		b, err := r.next(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		var m wire.Message
		if err := m.UnmarshalBinary(b); err != nil {
			return nil, err
		}
		// Not acknowledged again: our ack is already on its way (the
		// fake loses nothing unless a test asks it to), and an extra one
		// would show in the counters tests assert (AcksIn, FaultLost).
		if !r.ackedBefore(&m) {
			return &m, nil
		}
	}
}

func (r *rawClient) ackedBefore(m *wire.Message) bool {
	if m.Type != wire.OutputStreamData {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acked[m.SequenceNumber]
}

// continueFrom carries a resumed session's client state over from the
// websocket it replaces: the next sequence number and what was acked.
func (r *rawClient) continueFrom(old *rawClient) {
	old.mu.Lock()
	defer old.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq = old.seq
	for seq := range old.acked {
		r.acked[seq] = true
	}
}

// readData returns the next output_stream_data, skipping acknowledgements.
func (r *rawClient) readData(d time.Duration) *wire.Message {
	r.t.Helper()
	for {
		m := r.read(d)
		if m.Type != wire.Acknowledge {
			return m
		}
	}
}

// readAck returns the sequence number of the next acknowledgement,
// skipping (unacknowledged) data.
func (r *rawClient) readAck(d time.Duration) int64 {
	r.t.Helper()
	for {
		m := r.read(d)
		if m.Type == wire.Acknowledge {
			a, err := wire.ParseAck(m)
			if err != nil {
				r.t.Fatal(err)
			}
			return a.AcknowledgedMessageSequenceNumber
		}
	}
}

func (r *rawClient) write(m *wire.Message) {
	r.t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.c.Write(ctx, websocket.MessageBinary, b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func (r *rawClient) ack(m *wire.Message) {
	r.t.Helper()
	a, err := wire.NewAck(m)
	if err != nil {
		r.t.Fatal(err)
	}
	if m.Type == wire.OutputStreamData {
		r.mu.Lock()
		r.acked[m.SequenceNumber] = true
		r.mu.Unlock()
	}
	r.write(a)
}

// input builds client data with sequence number seq.
func input(seq int64, pt wire.PayloadType, payload []byte) *wire.Message {
	return &wire.Message{Type: wire.InputStreamData, SchemaVersion: 1, SequenceNumber: seq, PayloadType: pt, Payload: payload}
}

// send sends the next client data message.
func (r *rawClient) send(pt wire.PayloadType, payload []byte) *wire.Message {
	r.t.Helper()
	m := input(r.seq, pt, payload)
	r.seq++
	r.write(m)
	return m
}

// handshake answers the handshake request and returns it.
func (r *rawClient) handshake(clientVersion string) map[string]any {
	r.t.Helper()
	req := r.readData(5 * time.Second)
	if req.PayloadType != wire.HandshakeRequest || req.SequenceNumber != 0 || req.Flags != wire.FlagSYN {
		r.t.Fatalf("first message %s, want HandshakeRequest seq 0 flags SYN", req.String())
	}
	r.ack(req)
	var hs map[string]any
	if err := json.Unmarshal(req.Payload, &hs); err != nil {
		r.t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]any{
		"ClientVersion":          clientVersion,
		"ProcessedClientActions": []map[string]any{{"ActionType": "SessionType", "ActionStatus": 1, "ActionResult": nil, "Error": ""}},
		"Errors":                 nil,
	})
	sent := r.send(wire.HandshakeResponse, resp)
	if seq := r.readAck(5 * time.Second); seq != sent.SequenceNumber {
		r.t.Fatalf("ack of %d, want the handshake response's %d", seq, sent.SequenceNumber)
	}
	done := r.readData(5 * time.Second)
	if done.PayloadType != wire.HandshakeComplete || done.SequenceNumber != 1 || done.Flags != 0 {
		r.t.Fatalf("after the response: %s, want HandshakeComplete seq 1", done.String())
	}
	r.ack(done)
	return hs
}

// rawConn turns a handshaken rawClient into a byte stream: client data out
// in ≤1024-byte messages, agent Output in, every agent message
// acknowledged. It assumes no faults: agent data arrives in order.
type rawConn struct {
	net.Conn // the test's end of a pipe
	mu       sync.Mutex
	flags    []wire.FlagValue
}

func (r *rawClient) stream(t *testing.T) *rawConn {
	ours, theirs := net.Pipe()
	rc := &rawConn{Conn: ours}
	var wg sync.WaitGroup
	wg.Go(func() { // agent → test
		next := int64(2)
		for {
			m, err := r.readErr(time.Minute)
			if err != nil {
				_ = theirs.Close()
				return
			}
			if m.Type != wire.OutputStreamData {
				continue
			}
			a, _ := wire.NewAck(m)
			b, _ := a.MarshalBinary()
			_ = r.c.Write(context.Background(), websocket.MessageBinary, b)
			if m.SequenceNumber != next {
				continue // a resend
			}
			next++
			switch m.PayloadType {
			case wire.Output:
				if _, err := theirs.Write(m.Payload); err != nil {
					return
				}
			case wire.Flag:
				f, _ := wire.ParseFlag(m.Payload)
				rc.mu.Lock()
				rc.flags = append(rc.flags, f)
				rc.mu.Unlock()
			}
		}
	})
	wg.Go(func() { // test → agent
		buf := make([]byte, payloadSize)
		for {
			n, err := theirs.Read(buf)
			if err != nil {
				return
			}
			m := input(r.seq, wire.Output, buf[:n])
			r.seq++
			b, _ := m.MarshalBinary()
			if err := r.c.Write(context.Background(), websocket.MessageBinary, b); err != nil {
				return
			}
		}
	})
	t.Cleanup(func() {
		_ = ours.Close()
		_ = theirs.Close()
		_ = r.c.CloseNow()
		wg.Wait()
	})
	return rc
}

func (c *rawConn) flagsSeen() []wire.FlagValue {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wire.FlagValue(nil), c.flags...)
}
