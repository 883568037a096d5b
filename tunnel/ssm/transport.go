package ssm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

const (
	// clientVersion is what we report to the service and the agent. The
	// agent picks mux mode for clients ≥ 1.1.70 and turns its smux
	// keepalive off for clients > 1.2.331.0, which is what we want: with
	// an older version the two ends would disagree on keepalive and idle
	// sessions would die after about 30 s.
	clientVersion = "1.3.0.0"
	// readLimit bounds one websocket message. The agent sends at most
	// 1 KiB of payload per message; service messages are small JSON.
	readLimit = 1 << 20
	// signingService is the SigV4 service name of the data channel.
	signingService = "ssmmessages"
)

var emptyPayloadHash = func() string {
	h := sha256.Sum256(nil)
	return hex.EncodeToString(h[:])
}()

// wsTransport is a transport over a coder/websocket connection.
type wsTransport struct{ c *websocket.Conn }

func (w *wsTransport) read(ctx context.Context) ([]byte, error) {
	for {
		typ, b, err := w.c.Read(ctx)
		if err != nil {
			return nil, err
		}
		if typ == websocket.MessageBinary {
			return b, nil
		}
		// The service sends nothing but binary frames; a text frame is
		// not a protocol message.
	}
}

func (w *wsTransport) write(ctx context.Context, frame []byte) error {
	return w.c.Write(ctx, websocket.MessageBinary, frame)
}

func (w *wsTransport) ping(ctx context.Context) error { return w.c.Ping(ctx) }

func (w *wsTransport) close(graceful bool) {
	if graceful {
		_ = w.c.Close(websocket.StatusNormalClosure, "")
		return
	}
	_ = w.c.CloseNow()
}

// defaultDial opens the websocket with coder/websocket.
func defaultDial(ctx context.Context, u string, header http.Header) (*websocket.Conn, error) {
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// openStream opens the data-channel websocket at streamURL and presents
// the token; the channel is usable at once, the service sends no reply.
func (s *session) openStream(ctx context.Context, streamURL, token string) (transport, error) {
	header := http.Header{}
	if err := s.sign(ctx, streamURL, header); err != nil {
		return nil, err
	}
	c, err := s.d.dial(ctx, streamURL, header)
	if err != nil {
		return nil, fmt.Errorf("ssm: open data channel of session %s: %w", s.id, err)
	}
	c.SetReadLimit(readLimit)
	open, err := json.Marshal(wire.OpenDataChannelInput{
		MessageSchemaVersion: "1.0",
		RequestId:            uuid.NewString(),
		TokenValue:           token,
		ClientId:             s.clientID,
		ClientVersion:        clientVersion,
	})
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	if err := c.Write(ctx, websocket.MessageText, open); err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("ssm: open data channel of session %s: %w", s.id, err)
	}
	return &wsTransport{c: c}, nil
}

// sign adds a SigV4 signature for ssmmessages to header.
func (s *session) sign(ctx context.Context, streamURL string, header http.Header) error {
	creds := s.d.cfg.Credentials
	if creds == nil {
		return nil
	}
	u, err := url.Parse(streamURL)
	if err != nil {
		return fmt.Errorf("ssm: stream url of session %s: %w", s.id, err)
	}
	region := s.d.cfg.Region
	if region == "" {
		region = regionFromHost(u.Hostname())
	}
	if region == "" {
		return errors.New("ssm: no region to sign the data channel with")
	}
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("ssm: credentials for the data channel: %w", err)
	}
	// The signature covers method, host, path and query; the scheme is
	// not part of it.
	su := *u
	su.Scheme = strings.Replace(strings.Replace(su.Scheme, "wss", "https", 1), "ws", "http", 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, su.String(), nil)
	if err != nil {
		return err
	}
	if err := v4.NewSigner().SignHTTP(ctx, c, req, emptyPayloadHash, signingService, region, time.Now()); err != nil {
		return fmt.Errorf("ssm: sign data channel request: %w", err)
	}
	for k, v := range req.Header {
		header[k] = v
	}
	return nil
}

// regionFromHost reads the region out of ssmmessages.<region>.amazonaws.com.
func regionFromHost(host string) string {
	parts := strings.Split(host, ".")
	if len(parts) >= 3 && parts[0] == signingService {
		return parts[1]
	}
	return ""
}
