package ssm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/dbtunnel/dbtunnel/tunnel"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/wire"
)

func TestVersionAbove(t *testing.T) {
	for _, tc := range []struct {
		v, than string
		want    bool
	}{
		{"3.0.196.0", "3.0.196.0", false},
		{"3.0.196.1", "3.0.196.0", true},
		{"3.0.197.0", "3.0.196.0", true},
		{"3.1.0.0", "3.0.196.0", true},
		{"2.9.999.9", "3.0.196.0", false},
		{"3.3.0.0", "3.1.1511.0", true},
		{"3.1.1511.0", "3.1.1511.0", false},
		{"3.3", "3.0.196.0", false},
		{"3.3.0.0.1", "3.0.196.0", false},
		{"3.x.0.0", "3.0.196.0", false},
		{"", "3.0.196.0", false},
	} {
		if got := versionAbove(tc.v, tc.than); got != tc.want {
			t.Errorf("versionAbove(%q, %q) = %v", tc.v, tc.than, got)
		}
	}
}

func TestDecideMode(t *testing.T) {
	req := func(version, typ string) *wire.HandshakeRequestPayload {
		props := map[string]any{"portNumber": "5432"}
		if typ != "" {
			props["type"] = typ
		}
		return &wire.HandshakeRequestPayload{AgentVersion: version, RequestedClientActions: []wire.RequestedClientAction{{
			ActionType: wire.ActionSessionType, ActionParameters: wire.ActionParameters{SessionType: "Port", Properties: props},
		}}}
	}
	for _, tc := range []struct {
		version, typ string
		mode         mode
		keepaliveOff bool
	}{
		{"3.3.0.0", "LocalPortForwarding", modeMux, true},
		{"3.1.1511.0", "LocalPortForwarding", modeMux, false},
		{"3.0.196.0", "LocalPortForwarding", modeBasic, false},
		{"3.3.0.0", "", modeBasic, true}, // AWS-StartSSHSession: no type
		{"3.3", "LocalPortForwarding", modeBasic, false},
	} {
		md, off := decideMode(req(tc.version, tc.typ))
		if md != tc.mode || off != tc.keepaliveOff {
			t.Errorf("%s %q: %v keepaliveOff=%v, want %v %v", tc.version, tc.typ, md, off, tc.mode, tc.keepaliveOff)
		}
	}
}

func TestHandshakeResponse(t *testing.T) {
	in := `{"AgentVersion":"3.3.0.0","RequestedClientActions":[{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{"portNumber":"5432","type":"LocalPortForwarding"}}}]}`
	var req wire.HandshakeRequestPayload
	if err := json.Unmarshal([]byte(in), &req); err != nil {
		t.Fatal(err)
	}
	resp, refusal := handshakeResponse(&req)
	if refusal != nil {
		t.Fatal(refusal)
	}
	b, _ := json.Marshal(resp)
	const want = `{"ClientVersion":"1.3.0.0","ProcessedClientActions":[{"ActionType":"SessionType","ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}`
	if string(b) != want {
		t.Errorf("response\n got %s\nwant %s", b, want)
	}

	req.RequestedClientActions = append(req.RequestedClientActions, wire.RequestedClientAction{ActionType: wire.ActionKMSEncryption})
	resp, refusal = handshakeResponse(&req)
	if refusal == nil || resp.ProcessedClientActions[1].ActionStatus != wire.ActionFailed {
		t.Errorf("KMS accepted: %+v", resp)
	}
}

func TestStartError(t *testing.T) {
	msg := func(s string) *string { return &s }
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
		mentions  string
	}{
		{"not connected", &types.TargetNotConnected{Message: msg("i-1 is not connected.")}, false, "is not connected: it is offline, or the instance has no route to SSM"},
		{"denied", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}, true, "ssm:StartSession"},
		{"bad document", &types.InvalidDocument{Message: msg("x")}, true, "AWS-StartPortForwardingSessionToRemoteHost"},
		{"expired", &smithy.GenericAPIError{Code: "ExpiredTokenException"}, true, "credentials"},
		{"network", errors.New("dial tcp: connection refused"), false, "start session on i-1"},
	} {
		err := startError("i-1", "AWS-StartPortForwardingSessionToRemoteHost", tc.err)
		if tunnel.IsPermanent(err) != tc.permanent {
			t.Errorf("%s: permanent=%v: %v", tc.name, !tc.permanent, err)
		}
		if !strings.Contains(err.Error(), tc.mentions) || !errors.Is(err, tc.err) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
			t.Errorf("%s: not lowercase: %v", tc.name, err)
		}
	}
}

func TestClosedErrorIdle(t *testing.T) {
	e := &ClosedError{SessionID: "s", Target: "i-1", Reason: "Your session timed out due to inactivity and has been terminated."}
	if !e.Idle() || !strings.Contains(e.Error(), "keepalive") {
		t.Errorf("%v", e)
	}
	e.Reason = "Session terminated by user"
	if e.Idle() {
		t.Errorf("%v idle", e)
	}
}

func TestConfigDocument(t *testing.T) {
	c := Config{Target: "i-1", Host: "db.internal", Port: 5432}
	doc, params := c.document()
	if doc != "AWS-StartPortForwardingSessionToRemoteHost" || params["host"][0] != "db.internal" || params["portNumber"][0] != "5432" || params["localPortNumber"][0] != "0" {
		t.Errorf("%s %v", doc, params)
	}
	c.Host = ""
	doc, params = c.document()
	if _, ok := params["host"]; doc != "AWS-StartPortForwardingSession" || ok {
		t.Errorf("%s %v", doc, params)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{API: nilAPI{}, Target: "i-0abc", Port: 5432}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no api":    func(c *Config) { c.API = nil },
		"no target": func(c *Config) { c.Target = "" },
		"bad id":    func(c *Config) { c.Target = "db-1" },
		"port":      func(c *Config) { c.Port = 0 },
		"sessions":  func(c *Config) { c.Sessions = -1 },
	} {
		c := ok
		mut(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
