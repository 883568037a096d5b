package ssmfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/coder/websocket"
)

// signUpgrade signs a websocket upgrade of streamURL for service in region
// as a SigV4 client does.
func signUpgrade(t *testing.T, streamURL, service, region string) http.Header {
	t.Helper()
	u := strings.Replace(streamURL, "ws://", "http://", 1)
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	empty := sha256.Sum256(nil)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(empty[:]), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req.Header
}

// The websocket upgrade must carry a SigV4 signature scoped to
// ssmmessages in the region the session was started in; anything else is
// refused with 403 before a websocket exists, and the token is not spent.
func TestDataChannelUpgradeSignature(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
	echo := newEchoServer(t)
	rs := startRawSession(t, svc, DocPort, map[string][]string{"portNumber": {echo.port()}})

	refused := []struct {
		name   string
		header http.Header
		url    string
		reason string
	}{
		{"unsigned", http.Header{}, rs.url, "missing authentication token"},
		{"signed for ssm", signUpgrade(t, rs.url, "ssm", testRegion), rs.url, `"ssmmessages", not "ssm"`},
		{"signed for another region", signUpgrade(t, rs.url, "ssmmessages", "eu-west-1"), rs.url, `"us-east-1", not "eu-west-1"`},
		{"not SigV4", http.Header{"Authorization": {"Bearer " + rs.token}}, rs.url, "missing authentication token"},
		{"malformed scope", http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=" + testAccessKey + "/20240101/ssmmessages"}}, rs.url, "malformed credential"},
		{"presigned for another region", http.Header{}, rs.url + "&X-Amz-Credential=" + url.QueryEscape(testAccessKey+"/20240101/eu-west-1/ssmmessages/aws4_request"), `not "eu-west-1"`},
	}
	for _, c := range refused {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPHeader: c.header})
		cancel()
		if err == nil {
			conn.CloseNow()
			t.Errorf("%s: upgrade accepted", c.name)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %v, want 403", c.name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), c.reason) {
			t.Errorf("%s: 403 %q, want it to say %q", c.name, body, c.reason)
		}
		if strings.Contains(string(body), testAccessKey) {
			t.Errorf("%s: the access key id is in the reply: %q", c.name, body)
		}
	}
	if st := svc.Stats(); st.AuthRejected != int64(len(refused)) || st.Websockets != 0 || st.TokenRejected != 0 {
		t.Fatalf("stats %+v", st)
	}

	// Signed right, with the real signer: accepted, and the token, not
	// spent by the refusals, opens the data channel.
	conn, err := dialRawHeader(rs.url, signUpgrade(t, rs.url, "ssmmessages", testRegion), rs.token, "1.3.0.0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	waitFor(t, 5*time.Second, "the data channel accepted", func() bool { return svc.Stats().Websockets == 1 })
	if st := svc.Stats(); st.TokenRejected != 0 || st.AuthRejected != int64(len(refused)) {
		t.Fatalf("stats %+v", st)
	}
}
