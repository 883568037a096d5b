package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
	"github.com/dbtunnel/dbtunnel/discovery/awssource"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/internal/tui"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// Seed 003: the database lives in another account, reached by assuming a
// role there with the home account's credentials; the role's trust policy
// wants an external ID.
func TestCrossAccountRole(t *testing.T) {
	const home, prod, key, ext = "111111111111", "222222222222", "AKIDHOME", "ext-42"
	f := awsfake.NewServer(t)
	f.Account(home, key)
	r := f.Account(prod).RequireExternalID(ext).Region(testRegion)
	vpc := r.VPC("10.1.0.0/16")
	priv := vpc.Subnet("10.1.2.0/24").WithNAT()
	sgB := vpc.SecurityGroup("bastion")
	r.Instance("bastion-private", priv, sgB).InstanceProfile("ssm-core").SSMOnline()
	r.RDSInstance("prod-db", "postgres", []*awsfake.Subnet{priv}, vpc.SecurityGroup("db").AllowIngressFromGroup("tcp", 5432, sgB))
	for _, kv := range f.Env(key, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	role := "arn:aws:iam::" + prod + ":role/dbtunnel"
	withExt := func(id string) string {
		return writeConfig(t, fmt.Sprintf(`
profiles:
  prod: {role_arn: %q, external_id: %s}
discovery: {profiles: [prod]}
targets:
  direct: {database: prod-db, role_arn: %q, external_id: %s}
`, role, id, role, id))
	}

	cfg := withExt(ext)
	res := runApp(t, nil, "--config", cfg, "ls", "--json")
	if res.code != 0 {
		t.Fatalf("%+v", res)
	}
	var dbs []discovery.Database
	if err := json.Unmarshal([]byte(res.stdout), &dbs); err != nil {
		t.Fatal(err)
	}
	if len(dbs) != 1 || dbs[0].Name != "prod-db" || dbs[0].Account != prod || dbs[0].Profile != "prod" ||
		len(dbs[0].Routes) == 0 || dbs[0].Routes[0].Verdict != discovery.VerdictOK {
		t.Fatalf("ls through the role: %s", res.stdout)
	}
	// A target's own role, with the home profile: found in the other account.
	res = runApp(t, nil, "--config", cfg, "doctor", "direct", "--json")
	var doc struct{ Verdict string }
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 0 || doc.Verdict != "ok" {
		t.Fatalf("doctor through the target's role: %v %+v", err, res)
	}

	res = runApp(t, nil, "--config", withExt("wrong"), "ls", "--refresh")
	if res.code == 0 || !strings.Contains(res.stderr, role) || !strings.Contains(res.stderr, "AccessDenied") {
		t.Fatalf("wrong external id: %+v", res)
	}
}

// runWithPrompt is runAppIn with MFA codes answered by prompt instead of
// the terminal.
func runWithPrompt(t *testing.T, home string, prompt awssource.MFAPrompt, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(strings.NewReader(""), &stdout, &stderr, func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	})
	a.identities.SetPrompt(prompt)
	code := a.run(&interrupts{ctx: context.Background(), force: context.Background()}, args)
	return result{code, stdout.String(), stderr.String()}
}

// ssmSplit sends Session Manager's session calls to the fake SSM service
// and the rest of the SSM API to awsfake, and records the access key that
// signed each StartSession.
type ssmSplit struct {
	sessions, api *httputil.ReverseProxy
	mu            sync.Mutex
	startedBy     []string
}

func (s *ssmSplit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	switch target {
	case "AmazonSSM.StartSession", "AmazonSSM.ResumeSession", "AmazonSSM.TerminateSession":
		if target == "AmazonSSM.StartSession" {
			_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
			key, _, _ := strings.Cut(cred, "/")
			s.mu.Lock()
			s.startedBy = append(s.startedBy, key)
			s.mu.Unlock()
		}
		s.sessions.ServeHTTP(w, r)
	default:
		s.api.ServeHTTP(w, r)
	}
}

// One exec through a role with an external ID and MFA: discovery in the
// other account, the managed secret read there and the SSM session started
// there all use one assumed session: one sts:AssumeRole, one code asked
// for (STS refuses a code used twice).
func TestExecThroughRoleWithMFA(t *testing.T) {
	const home, prod, key, ext = "111111111111", "222222222222", "AKIDHOME", "ext-42"
	const serial = "arn:aws:iam::111111111111:mfa/me"
	f := awsfake.NewServer(t)
	f.Account(home, key)
	r := f.Account(prod).RequireExternalID(ext).RequireMFA(serial).Region(testRegion)
	vpc := r.VPC("10.1.0.0/16")
	priv := vpc.Subnet("10.1.2.0/24").WithNAT()
	sgB := vpc.SecurityGroup("bastion")
	bastion := r.Instance("bastion-private", priv, sgB).InstanceProfile("ssm-core").SSMOnline()
	db := r.RDSInstance("prod-db", "postgres", []*awsfake.Subnet{priv}, vpc.SecurityGroup("db").AllowIngressFromGroup("tcp", 5432, sgB)).ManagedSecret()
	secret, _ := r.SecretValue(db.SecretARN())
	var login struct{ Password string }
	if err := json.Unmarshal([]byte(secret), &login); err != nil || login.Password == "" {
		t.Fatalf("managed secret %q: %v", secret, err)
	}

	echo := lineEcho(t)
	var dialed []string
	var dmu sync.Mutex
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dmu.Lock()
		dialed = append(dialed, addr)
		dmu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, echo.String())
	}})
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	svc.AddTarget(bastion.ID(), ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	split := &ssmSplit{}
	srv := httptest.NewServer(split)
	t.Cleanup(srv.Close)
	for _, p := range []struct {
		dst **httputil.ReverseProxy
		url string
	}{{&split.sessions, svc.URL()}, {&split.api, f.URL}} {
		u, err := url.Parse(p.url)
		if err != nil {
			t.Fatal(err)
		}
		// SetURL also sets Host, from which ssmfake builds its stream URL.
		*p.dst = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}
	}
	for _, kv := range f.Env(key, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_SSM", srv.URL)

	role := "arn:aws:iam::" + prod + ":role/dbtunnel"
	cfg := writeConfig(t, fmt.Sprintf(`
profiles:
  prod: {role_arn: %q, external_id: %s, mfa_serial: %q}
targets:
  orders: {database: prod-db, profile: prod, region: %s}
`, role, ext, serial, testRegion))
	var prompts []awssource.MFARequest
	var pmu sync.Mutex
	prompt := func(req awssource.MFARequest) (string, error) {
		pmu.Lock()
		defer pmu.Unlock()
		prompts = append(prompts, req)
		return fmt.Sprintf("%06d", 100000+len(prompts)), nil
	}
	script := `exec 3<>/dev/tcp/$PGHOST/$PGPORT; echo "through the role" >&3; read -r line <&3; echo "$line"; echo "$PGPASSWORD"`
	res := runWithPrompt(t, t.TempDir(), prompt, "--config", cfg, "exec", "orders", "--", "bash", "-c", script)
	if res.code != 0 {
		t.Fatalf("%+v", res)
	}
	if out := strings.Split(strings.TrimSpace(res.stdout), "\n"); len(out) != 2 || out[0] != "through the role" || out[1] != login.Password {
		t.Errorf("exec output %q: want the echo and the prod account's managed secret", res.stdout)
	}

	calls := f.AssumeRoleCalls()
	if len(calls) != 1 || len(prompts) != 1 {
		t.Fatalf("%d sts:AssumeRole calls and %d MFA prompts, want one of each: %+v", len(calls), len(prompts), calls)
	}
	c := calls[0]
	if c.RoleARN != role || c.ExternalID != ext || c.SerialNumber != serial || c.TokenCode != "100001" ||
		c.Caller != "arn:aws:iam::"+home+":user/dbtunnel" || c.AccessKeyID == "" {
		t.Errorf("AssumeRole %+v", c)
	}
	if p := prompts[0]; p.Serial != serial || p.Role != role || p.Profile != "prod" {
		t.Errorf("prompt %+v", p)
	}
	split.mu.Lock()
	startedBy := slices.Clone(split.startedBy)
	split.mu.Unlock()
	if len(startedBy) != 1 || startedBy[0] != c.AccessKeyID {
		t.Errorf("StartSession signed by %v, want the assumed role's key %s", startedBy, c.AccessKeyID)
	}
	dmu.Lock()
	defer dmu.Unlock()
	if len(dialed) != 1 || dialed[0] != db.Endpoint().String() {
		t.Errorf("the agent dialed %v, want %s", dialed, db.Endpoint())
	}
}

// Without a way to ask for the code, the failure names the device and the
// profile that wants it.
func TestRoleMFAWithoutPrompt(t *testing.T) {
	const home, prod, key = "111111111111", "222222222222", "AKIDHOME"
	const serial = "arn:aws:iam::111111111111:mfa/me"
	f := awsfake.NewServer(t)
	f.Account(home, key)
	f.Account(prod).RequireMFA(serial).Region(testRegion)
	for _, kv := range f.Env(key, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg := writeConfig(t, fmt.Sprintf("profiles:\n  prod: {role_arn: \"arn:aws:iam::%s:role/dbtunnel\", mfa_serial: %q}\ndiscovery: {profiles: [prod]}\n", prod, serial))
	refuse := func(req awssource.MFARequest) (string, error) {
		return "", fmt.Errorf("role %s needs a code from MFA device %s (mfa_serial of profile %s) and there is no terminal to ask on", req.Role, req.Serial, req.Profile)
	}
	res := runWithPrompt(t, t.TempDir(), refuse, "--config", cfg, "ls")
	if res.code == 0 || !strings.Contains(res.stderr, "MFA device "+serial) || !strings.Contains(res.stderr, "profile prod") {
		t.Fatalf("%+v", res)
	}
	if calls := f.AssumeRoleCalls(); len(calls) != 0 {
		t.Errorf("AssumeRole called without a code: %+v", calls)
	}
}

// Before the TUI takes the terminal, each role wanting MFA is assumed
// once; afterwards a code is refused with what to do, not read from a
// terminal the TUI draws on.
func TestMFABeforeTUI(t *testing.T) {
	const home, prod, key = "111111111111", "222222222222", "AKIDHOME"
	const serial = "arn:aws:iam::111111111111:mfa/me"
	f := awsfake.NewServer(t)
	f.Account(home, key)
	f.Account(prod).RequireMFA(serial)
	f.Account("333333333333").RequireMFA(serial)
	for _, kv := range f.Env(key, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	path := writeConfig(t, fmt.Sprintf(`
profiles:
  prod: {role_arn: "arn:aws:iam::%s:role/dbtunnel", mfa_serial: %q}
discovery: {profiles: [prod]}
targets:
  orders: {host: db.internal, port: 5432, bastion: i-0123456789abcdef0, profile: prod}
`, prod, serial))
	var stderr bytes.Buffer
	a := newApp(strings.NewReader(""), io.Discard, &stderr, func(string) string { return "" })
	a.configPath = path
	asked := 0
	a.identities.SetPrompt(func(awssource.MFARequest) (string, error) { asked++; return fmt.Sprintf("%06d", 200000+asked), nil })
	cfg, err := a.loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	asker := tui.NewAsker()
	a.mfaBeforeTUI(ctx, cfg, a.scopes(cfg), asker)
	if n := len(f.AssumeRoleCalls()); n != 1 || asked != 1 || stderr.Len() != 0 {
		t.Fatalf("%d AssumeRole calls, %d prompts, stderr %q: want one role assumed once", n, asked, stderr.String())
	}
	other := discovery.Scope{Profile: "ops", Region: testRegion, Role: discovery.Role{ARN: "arn:aws:iam::333333333333:role/dbtunnel", MFASerial: serial}}
	ac, err := connect.LoadAWSConfig(ctx, "", testRegion)
	if err != nil {
		t.Fatal(err)
	}
	// A code wanted while the TUI runs is asked for there; once it has
	// quit, the error names the role, the device and the profile.
	asker.Close()
	_, err = a.identities.Apply(ac, other).Credentials.Retrieve(ctx)
	if err == nil || !strings.Contains(err.Error(), "not answered in the TUI") || !strings.Contains(err.Error(), "profile ops") || !strings.Contains(err.Error(), serial) || asked != 1 {
		t.Errorf("a code wanted after the TUI: %v (prompts %d)", err, asked)
	}
}
