package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
	"github.com/dbtunnel/dbtunnel/internal/testsupport/tcptest"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// lineEcho answers each connection by echoing what it reads.
func lineEcho(t *testing.T) *net.TCPAddr { return tcptest.Echo(t) }

// A target with host, via ssm and an instance goes straight to
// StartSession: no discovery call, one session, closed afterwards.
func TestExecViaSSM(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	echo := lineEcho(t)
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	const instance = "i-0123456789abcdef0"
	svc.AddTarget(instance, ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())

	cfg := writeConfig(t, fmt.Sprintf(`
targets:
  db:
    host: 127.0.0.1
    port: %d
    via: ssm
    bastion: %s
    region: ap-northeast-1
`, echo.Port, instance))
	script := `exec 3<>/dev/tcp/$PGHOST/$PGPORT; echo "hello over ssm" >&3; read -r line <&3; echo "$line"`
	r := runApp(t, nil, "--config", cfg, "exec", "db", "--", bash, "-c", script)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "hello over ssm" {
		t.Fatalf("%+v", r)
	}
	if open := svc.Sessions(); len(open) != 0 {
		t.Fatalf("sessions left open: %+v", open)
	}
	if all := svc.AllSessions(); len(all) != 1 {
		t.Fatalf("%d sessions started, want 1", len(all))
	}
}

// A database on the instance itself (host localhost) goes through
// AWS-StartPortForwardingSession, which needs no remote host.
func TestExecViaSSMOnTheInstance(t *testing.T) {
	echo := lineEcho(t)
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	const instance = "i-0123456789abcdef0"
	svc.AddTarget(instance, ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())
	cfg := writeConfig(t, fmt.Sprintf("targets:\n  db: {host: localhost, port: %d, via: ssm, bastion: %s, region: ap-northeast-1}\n", echo.Port, instance))
	script := `exec 3<>/dev/tcp/$PGHOST/$PGPORT; echo "on the instance" >&3; read -r line <&3; echo "$line"`
	r := runApp(t, nil, "--config", cfg, "exec", "db", "--", "bash", "-c", script)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "on the instance" {
		t.Fatalf("%+v", r)
	}
	if all := svc.AllSessions(); len(all) != 1 || all[0].Document != "AWS-StartPortForwardingSession" {
		t.Fatalf("sessions %+v", all)
	}
}

// TargetNotConnected is explained with what discovery finds wrong with the
// instance, here a private bastion with no instance profile and no way out.
func TestExecViaSSMTargetNotConnected(t *testing.T) {
	f := awsfake.NewServer(t)
	r := f.Account(testAccount, testKey).Region(testRegion)
	vpc := r.VPC("10.0.0.0/16")
	priv := vpc.Subnet("10.0.2.0/24")
	bastion := r.Instance("bastion-private", priv, vpc.SecurityGroup("bastion"))
	for _, kv := range f.Env(testKey, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())
	cfg := writeConfig(t, fmt.Sprintf(`
targets:
  db:
    host: 127.0.0.1
    port: 5432
    via: ssm
    bastion: %s
    region: %s
`, bastion.ID(), testRegion))
	res := runApp(t, nil, "--config", cfg, "exec", "db", "--timeout", "2s", "--", "true")
	if res.code != exitFailure || !strings.Contains(res.stderr, "the SSM agent on "+bastion.ID()+" is not connected: no instance profile") ||
		!strings.Contains(res.stderr, "aws ec2 associate-iam-instance-profile --instance-id "+bastion.ID()) {
		t.Fatalf("%+v", res)
	}
}

// lineOnce answers each connection with the first line it reads, then
// closes it. A destination that closes ends the tunnelled connection: SSM
// carries no half-close, so one that waits for the client to finish would
// keep it open until the tunnel closes.
func lineOnce(t *testing.T) *net.TCPAddr {
	return tcptest.Serve(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(waitTimeout))
		if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			io.WriteString(c, line)
		}
	})
}

// echoThrough sends msg through the tunnel at addr and checks it comes back.
func echoThrough(t *testing.T, addr, msg string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != msg+"\n" {
		t.Fatalf("echo of %q through %s: %q, %v", msg, addr, line, err)
	}
}

// ssmOnly is an SSM service with one online agent in front of an echo
// server, and a config target that goes straight to it.
func ssmOnly(t *testing.T, faults ssmfake.Faults) (*ssmfake.Service, string) {
	t.Helper()
	echo := lineOnce(t)
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing, Faults: faults})
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	svc.AddTarget(testInstance, ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())
	return svc, writeConfig(t, fmt.Sprintf("targets:\n  db: {host: 127.0.0.1, port: %d, via: ssm, bastion: %s, region: ap-northeast-1}\n", echo.Port, testInstance))
}

const testInstance = "i-0123456789abcdef0"

// up prints the service's idle timeout as its own line, leaves the tunnel
// listening with no session, and a new local connection brings a new
// session and a new ready line.
func TestUpViaSSMIdleTimeoutText(t *testing.T) {
	// Long enough for the first echo to go through before it, even on a
	// loaded machine: the test wants the idle line to end the session that
	// served it.
	svc, cfg := ssmOnly(t, ssmfake.Faults{IdleTimeout: 3 * time.Second})
	up := start(t, "--config", cfg, "up", "db")
	var out, errs int
	ready := up.stdout.await(t, &out, "the ready line", func(l string) bool { return strings.HasSuffix(l, "(ready)") })
	addr := readyAddr(t, ready)
	if want := "via ssm " + testInstance + " (ready)"; !strings.HasPrefix(ready, "db  127.0.0.1:") || !strings.HasSuffix(ready, want) {
		t.Fatalf("ready line %q", ready)
	}
	echoThrough(t, addr, "before idle")

	idle := up.stderr.await(t, &errs, "the idle line", func(l string) bool { return strings.HasPrefix(l, "db  idle: ") })
	if !strings.Contains(idle, "inactivity") || !strings.HasSuffix(idle, "; a new session starts when a client connects") {
		t.Fatalf("idle line %q", idle)
	}
	if open, all := svc.Sessions(), svc.AllSessions(); len(open) != 0 || len(all) != 1 || all[0].EndReason != "idle" {
		t.Fatalf("after the idle line: open %+v, all %+v; want the one session ended for idleness", open, all)
	}

	echoThrough(t, addr, "after idle")
	again := up.stdout.await(t, &out, "a second ready line", func(l string) bool { return strings.HasSuffix(l, "(ready)") })
	if again != ready {
		t.Errorf("ready line after idle %q, want %q", again, ready)
	}
	if all := svc.AllSessions(); len(all) != 2 || all[1].Terminated {
		t.Fatalf("sessions %+v, want a second, open one", all)
	}
	if strings.Contains(up.stderr.String(), "failed") {
		t.Errorf("stderr: %s", up.stderr)
	}
	up.stop(t)
	if open := svc.Sessions(); len(open) != 0 {
		t.Errorf("sessions left open: %+v", open)
	}
}

// With --json the same story is events: ready, idle (with the reason),
// then connecting and ready when a client comes back.
func TestUpViaSSMIdleTimeoutJSON(t *testing.T) {
	// The second session must carry an echo before it idles out too.
	svc, cfg := ssmOnly(t, ssmfake.Faults{IdleTimeout: 2 * time.Second})
	up := start(t, "--config", cfg, "up", "db", "--json")
	var pos int
	next := func(event string) jsonEvent {
		t.Helper()
		var ev jsonEvent
		up.stdout.await(t, &pos, "a "+event+" event", func(l string) bool {
			ev = jsonEvent{}
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("stdout line %q is not JSON: %v", l, err)
			}
			return ev.Event == event
		})
		return ev
	}
	ready := next("ready")
	if ready.Target != "db" || ready.Via != "ssm" || ready.Bastion != testInstance || ready.Error != "" {
		t.Fatalf("ready event %+v", ready)
	}
	idle := next("idle")
	if idle.Target != "db" || idle.Local != ready.Local || !strings.Contains(idle.Error, "inactivity") {
		t.Fatalf("idle event %+v", idle)
	}
	if open := svc.Sessions(); len(open) != 0 {
		t.Fatalf("sessions open while idle: %+v", open)
	}
	echoThrough(t, ready.Local, "after idle")
	next("connecting")
	if again := next("ready"); again.Local != ready.Local {
		t.Fatalf("ready after idle %+v", again)
	}
	if all := svc.AllSessions(); len(all) != 2 {
		t.Fatalf("%d sessions started, want 2", len(all))
	}
}

// readyAddr is the local address of a ready line.
func readyAddr(t *testing.T, line string) string {
	t.Helper()
	f := strings.Fields(line)
	if len(f) < 2 {
		t.Fatalf("ready line %q", line)
	}
	return f[1]
}

// up on a target whose agent is offline keeps trying, with growing
// delays and the likely cause in every event, logs the fix once, and comes
// up by itself once the agent connects.
func TestUpViaSSMRetriesUntilAgentOnline(t *testing.T) {
	f := awsfake.NewServer(t)
	r := f.Account(testAccount, testKey).Region(testRegion)
	vpc := r.VPC("10.0.0.0/16")
	bastion := r.Instance("bastion-private", vpc.Subnet("10.0.2.0/24"), vpc.SecurityGroup("bastion"))
	for _, kv := range f.Env(testKey, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	echo := lineOnce(t)
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	svc.AddTarget(bastion.ID(), ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: false})
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())
	cfg := writeConfig(t, fmt.Sprintf("targets:\n  db: {host: 127.0.0.1, port: %d, via: ssm, bastion: %s, region: %s}\n", echo.Port, bastion.ID(), testRegion))

	up := start(t, "--config", cfg, "up", "db", "--json")
	var pos int
	next := func(what string, match func(jsonEvent) bool) jsonEvent {
		t.Helper()
		var ev jsonEvent
		up.stdout.await(t, &pos, what, func(l string) bool {
			ev = jsonEvent{}
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("stdout line %q is not JSON: %v", l, err)
			}
			if ev.Event == "ready" || ev.Event == "failed" {
				return true // never skip past the end of the story
			}
			return match(ev)
		})
		return ev
	}
	reconnecting := func(attempt int) jsonEvent {
		t.Helper()
		ev := next(fmt.Sprintf("reconnecting attempt %d", attempt), func(ev jsonEvent) bool { return ev.Event == "reconnecting" })
		if ev.Event != "reconnecting" || ev.Attempt != attempt || ev.RetryInMS <= 0 {
			t.Fatalf("want reconnecting attempt %d with a delay, got %+v", attempt, ev)
		}
		if want := "the SSM agent on " + bastion.ID() + " is not connected: no instance profile"; !strings.Contains(ev.Error, want) {
			t.Fatalf("reconnecting error %q does not name the cause (%q)", ev.Error, want)
		}
		return ev
	}
	first, second := reconnecting(1), reconnecting(2)
	// The delays are the backoff's, reported in the events: doubling with
	// ±20% jitter, so the second is at least 0.8·2/1.2 = 4/3 of the first.
	if second.RetryInMS*3 < first.RetryInMS*4 {
		t.Errorf("retry delays %d ms then %d ms: not backing off", first.RetryInMS, second.RetryInMS)
	}
	if open, all := svc.Sessions(), svc.AllSessions(); len(open) != 0 || len(all) != 0 {
		t.Fatalf("sessions while the agent is offline: %+v", all)
	}

	svc.SetOnline(bastion.ID(), true)
	ready := next("ready once the agent is online", func(jsonEvent) bool { return false })
	if ready.Event != "ready" || ready.Bastion != bastion.ID() {
		t.Fatalf("after the agent came online: %+v", ready)
	}
	echoThrough(t, ready.Local, "agent back")
	if all := svc.AllSessions(); len(all) != 1 || all[0].Target != bastion.ID() {
		t.Fatalf("sessions %+v", all)
	}
	// The fix, a long command, is logged once, not with every retry.
	if n := strings.Count(up.stderr.String(), "aws ec2 associate-iam-instance-profile --instance-id "+bastion.ID()); n != 1 {
		t.Errorf("the fix logged %d times, want once; stderr:\n%s", n, up.stderr)
	}
}

// awsWithSSM serves the fake AWS APIs and the SSM service on one endpoint,
// as AWS_ENDPOINT_URL points every service at one address: the session
// calls and the data channel go to svc, the rest (discovery's EC2, RDS
// and SSM DescribeInstanceInformation) to f.
func awsWithSSM(t *testing.T, f *awsfake.Fake, svc *ssmfake.Service) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Amz-Target") {
		case "AmazonSSM.StartSession", "AmazonSSM.ResumeSession", "AmazonSSM.TerminateSession":
			svc.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v1/data-channel/") {
			svc.ServeHTTP(w, r)
			return
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// --via ssm --bastion i-… on the command line pick, among a discovered
// database's routes, the SSM one through that instance, over the best
// route discovery would choose on its own.
func TestExecDiscoveredViaSSMBastionFlags(t *testing.T) {
	f := awsfake.NewServer(t)
	r := f.Account(testAccount, testKey).Region(testRegion)
	vpc := r.VPC("10.0.0.0/16")
	pub := vpc.Subnet("10.0.1.0/24", awsfake.Public)
	priv := vpc.Subnet("10.0.2.0/24").WithNAT()
	priv2 := vpc.Subnet("10.0.3.0/24").WithNAT()
	sgB := vpc.SecurityGroup("bastion").AllowIngress("tcp", 22, "0.0.0.0/0")
	r.Instance("bastion-public", pub, sgB).PublicIP("198.51.100.10")
	first := r.Instance("bastion-a", priv, sgB).InstanceProfile("ssm-core").SSMOnline()
	second := r.Instance("bastion-b", priv2, sgB).InstanceProfile("ssm-core").SSMOnline()
	db := r.RDSInstance("db-open", "postgres", []*awsfake.Subnet{priv, priv2}, vpc.SecurityGroup("db-open").AllowIngressFromGroup("tcp", 5432, sgB))

	echo := lineOnce(t)
	var dialed sync.Map
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing,
		// The agent resolves the database's endpoint in its VPC: here
		// every address leads to the echo server.
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			dialed.Store(address, true)
			var d net.Dialer
			return d.DialContext(ctx, network, echo.String())
		}})
	t.Cleanup(func() { svc.Close() })
	for _, b := range []*awsfake.Instance{first, second} {
		svc.AddTarget(b.ID(), ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	}
	for _, kv := range f.Env(testKey, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL", awsWithSSM(t, f, svc))

	// On its own, discovery would go another way.
	ls := runApp(t, nil, "ls", "--json")
	var dbs []discovery.Database
	if err := json.Unmarshal([]byte(ls.stdout), &dbs); ls.code != 0 || err != nil || len(dbs) != 1 {
		t.Fatalf("ls: %v %+v", err, ls)
	}
	routes := dbs[0].Routes
	if len(routes) < 3 || routes[0].Via == "ssm" && routes[0].Bastion == second.ID() {
		t.Fatalf("routes %+v: want the chosen one to be other than ssm via %s", routes, second.ID())
	}
	if i := slices.IndexFunc(routes, func(rt discovery.Route) bool { return rt.Via == "ssm" && rt.Bastion == second.ID() }); i < 0 || routes[i].Verdict != discovery.VerdictOK {
		t.Fatalf("routes %+v: no usable ssm route via %s", routes, second.ID())
	}

	script := `exec 3<>/dev/tcp/$PGHOST/$PGPORT; echo "$1" >&3; read -r line <&3; echo "$line"`
	res := runApp(t, nil, "exec", db.ID(), "--", "bash", "-c", script, "-", "without flags")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "without flags" {
		t.Fatalf("%+v", res)
	}
	if all := svc.AllSessions(); len(all) != 1 || all[0].Target != routes[0].Bastion {
		t.Fatalf("without flags: sessions %+v, want one on %s", all, routes[0].Bastion)
	}
	res = runApp(t, nil, "exec", db.ID(), "--via", "ssm", "--bastion", second.ID(), "--", "bash", "-c", script, "-", "picked by flags")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "picked by flags" {
		t.Fatalf("%+v", res)
	}
	all := svc.AllSessions()
	if len(all) != 2 || all[1].Target != second.ID() || all[1].Document != "AWS-StartPortForwardingSessionToRemoteHost" {
		t.Fatalf("sessions %+v, want the second, a port forwarding session on %s", all, second.ID())
	}
	if ep := db.Endpoint().String(); all[1].Destination != ep {
		t.Errorf("the agent was asked for %s, want the discovered endpoint %s", all[1].Destination, ep)
	}
	if _, ok := dialed.Load(db.Endpoint().String()); !ok {
		t.Errorf("the agent did not dial the endpoint")
	}
	if open := svc.Sessions(); len(open) != 0 {
		t.Errorf("sessions left open: %+v", open)
	}
}
