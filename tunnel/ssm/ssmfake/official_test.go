package ssmfake

// The official client, github.com/aws/session-manager-plugin, built from its
// Go module through the pinned module in testdata/plugin (by package
// internal/testsupport/ssmplugin, which caches it), against the fake. In CI
// (CI=true) a build failure fails the tests; elsewhere it skips them.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dbtunnel/dbtunnel/internal/testsupport/ssmplugin"
)

var (
	toolsOnce sync.Once
	tools     ssmplugin.Tools
	toolsErr  error
)

// loadOfficialTools builds (or finds) the tools once per test binary.
func loadOfficialTools() {
	toolsOnce.Do(func() { tools, toolsErr = ssmplugin.Build(filepath.Join("testdata", "plugin")) })
}

// needOfficialTools builds (or finds) the official plugin and msgcodec.
func needOfficialTools(t *testing.T) ssmplugin.Tools {
	t.Helper()
	loadOfficialTools()
	if toolsErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("official session-manager-plugin unavailable: %v", toolsErr)
		}
		t.Skipf("official session-manager-plugin unavailable (fatal in CI): %v", toolsErr)
	}
	return tools
}

func TestOfficialPluginBuild(t *testing.T) {
	tl := needOfficialTools(t)
	out, err := exec.Command(tl.Plugin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("session-manager-plugin %s (cached %v, %v)", strings.TrimSpace(string(out)), tl.Cached, tl.Took.Round(time.Millisecond))
	if got := strings.TrimSpace(string(out)); got != "1.3.0.0" {
		t.Errorf("plugin version %q, want the pinned 1.3.0.0", got)
	}
}

// pluginRun is one session-manager-plugin process.
type pluginRun struct {
	t         *testing.T
	cmd       *exec.Cmd
	sessionID string
	port      chan int
	done      chan struct{}
	mu        sync.Mutex
	out       strings.Builder
	waitErr   error
}

var portOpened = regexp.MustCompile(`Port (\d+) opened for sessionId`)

// startOfficialPlugin starts a session through the SDK and hands it to the
// official plugin the way the AWS CLI does:
//
//	session-manager-plugin '<StartSession response>' <region> StartSession <profile> '<StartSession request>' <endpoint>
func startOfficialPlugin(t *testing.T, svc *Service, target, doc string, params map[string][]string) *pluginRun {
	t.Helper()
	tl := needOfficialTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := &ssm.StartSessionInput{Target: aws.String(target), DocumentName: aws.String(doc), Parameters: params}
	res, err := sdkClient(svc).StartSession(ctx, req)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	resJSON, _ := json.Marshal(map[string]string{
		"SessionId": aws.ToString(res.SessionId), "StreamUrl": aws.ToString(res.StreamUrl), "TokenValue": aws.ToString(res.TokenValue),
	})
	reqJSON, _ := json.Marshal(map[string]any{"Target": target, "DocumentName": doc, "Parameters": params})
	tmp := t.TempDir()
	cmd := exec.Command(tl.Plugin, string(resJSON), testRegion, "StartSession", "", string(reqJSON), svc.URL())
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tmp,
		"TMPDIR=" + tmp, // the mux socket lives in os.TempDir()
		"AWS_ACCESS_KEY_ID=" + testAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + testSecretKey,
		"AWS_REGION=" + testRegion,
		"AWS_CONFIG_FILE=" + filepath.Join(tmp, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(tmp, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &pluginRun{t: t, cmd: cmd, sessionID: aws.ToString(res.SessionId), port: make(chan int, 1), done: make(chan struct{})}
	cmd.Stderr = writerFunc(p.record)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.record([]byte(line + "\n"))
			if m := portOpened.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				p.port <- n
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("session-manager-plugin output:\n%s", p.output())
		}
	})
	return p
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

func (p *pluginRun) record(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(b)
}

func (p *pluginRun) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// localAddr waits until the plugin listens and returns its address.
func (p *pluginRun) localAddr() string {
	p.t.Helper()
	select {
	case n := <-p.port:
		return "localhost:" + strconv.Itoa(n)
	case <-p.done:
		p.t.Fatalf("session-manager-plugin exited before listening: %v", p.waitErr)
	case <-time.After(20 * time.Second):
		p.t.Fatal("session-manager-plugin did not open its port within 20 s")
	}
	return ""
}

// wait waits for the plugin to exit by itself.
func (p *pluginRun) wait(d time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
		if p.waitErr != nil {
			p.t.Errorf("session-manager-plugin: %v", p.waitErr)
		}
	case <-time.After(d):
		p.t.Fatalf("session-manager-plugin still running after %v", d)
	}
}

// interrupt stops the plugin as a user's Ctrl-C would (it sends the
// TerminateSession flag, then exits). It waits for the session to be
// quiet first: the plugin sends from its signal handler and its upload loop
// without a lock, so a flag sent while smux frames are still going out can
// reuse their sequence number, and the agent then takes it for a duplicate
// (seen here: the flag and a stream's FIN both as seq 3078).
func (p *pluginRun) interrupt(svc *Service) {
	p.t.Helper()
	waitQuiet(p.t, svc, p.sessionID)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		p.t.Fatal(err)
	}
	p.wait(10 * time.Second)
}

// waitQuiet waits until session id has had no data for a while and has
// nothing unacknowledged.
func waitQuiet(t *testing.T, svc *Service, id string) {
	t.Helper()
	waitFor(t, 10*time.Second, "a quiet session", func() bool {
		info, _ := svc.Session(id)
		return info.Unacked == 0 && time.Since(info.LastData) > 300*time.Millisecond
	})
}

// waitNoOpenSession waits until the fake has no open session.
func waitNoOpenSession(t *testing.T, svc *Service) {
	t.Helper()
	waitFor(t, 10*time.Second, "no open session", func() bool { return len(svc.Sessions()) == 0 })
}

func TestOfficialPluginMux(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Version: AgentVersionMux, Online: true})
	dest := newSinkServer(t)
	p := startOfficialPlugin(t, svc, testTarget, DocRemoteHost, map[string][]string{
		"host": {"127.0.0.1"}, "portNumber": {dest.port()}, "localPortNumber": {"0"},
	})
	addr := p.localAddr()

	transfer(t, addr, 2<<20, 2<<20, 1) // 2 MB each way
	// Several connections at once, over one session.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { transfer(t, addr, 256<<10, 256<<10, uint64(10+i)) })
	}
	wg.Wait()

	info, _ := svc.Session(p.sessionID)
	if info.Mode != "mux" || info.ClientVersion != "1.3.0.0" || info.KeepAlive {
		t.Errorf("session %+v: want mux, client 1.3.0.0, agent keepalive off", info)
	}
	if info.Streams != 5 {
		t.Errorf("%d destination connections, want 5", info.Streams)
	}
	p.interrupt(svc)
	waitNoOpenSession(t, svc)
	if info, _ := svc.Session(p.sessionID); info.EndReason != "flag" {
		t.Errorf("session ended by %q, want the TerminateSession flag", info.EndReason)
	}
}

func TestOfficialPluginBasic(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Version: AgentVersionBasic, Online: true})
	dest := newSinkServer(t)
	p := startOfficialPlugin(t, svc, testTarget, DocPort, map[string][]string{
		"portNumber": {dest.port()}, "localPortNumber": {"0"},
	})
	addr := p.localAddr()

	transfer(t, addr, 2<<20, 2<<20, 2)
	// One connection at a time: closing the first makes the plugin send
	// DisconnectToPort; the agent redials for the second.
	transfer(t, addr, 64<<10, 64<<10, 3)

	waitFor(t, 5*time.Second, "second destination connection", func() bool {
		info, _ := svc.Session(p.sessionID)
		return info.Streams == 2
	})
	info, _ := svc.Session(p.sessionID)
	if info.Mode != "basic" {
		t.Errorf("session %+v: want basic", info)
	}
	// TerminateSession through the API: channel_closed makes the plugin exit.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sdkClient(svc).TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(p.sessionID)}); err != nil {
		t.Fatal(err)
	}
	p.wait(10 * time.Second)
	waitNoOpenSession(t, svc)
	if !strings.Contains(p.output(), "Exiting session with sessionId: "+p.sessionID) {
		t.Errorf("plugin did not report the closed channel")
	}
}

// TestOfficialPluginPaced runs a short transfer with the agent's default
// pacing (1 ms per 1 KB read), the real agent's throughput.
func TestOfficialPluginPaced(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{})
	svc.AddTarget(testTarget, Agent{Online: true})
	dest := newSinkServer(t)
	p := startOfficialPlugin(t, svc, testTarget, DocRemoteHost, map[string][]string{
		"host": {"localhost"}, "portNumber": {dest.port()},
	})
	addr := p.localAddr()
	start := time.Now()
	const n = 256 << 10
	transfer(t, addr, n, n, 4)
	d := time.Since(start)
	t.Logf("%d KiB each way, paced, in %v (%.2f MB/s down)", n>>10, d.Round(time.Millisecond), float64(n)/d.Seconds()/1e6)
	p.interrupt(svc)
	waitNoOpenSession(t, svc)
}

// TestOfficialPluginResume: the service closes the websocket with 1000
// "Bye"; the plugin calls ResumeSession, reconnects with the new token and
// the session carries on.
func TestOfficialPluginResume(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Online: true})
	dest := newSinkServer(t)
	p := startOfficialPlugin(t, svc, testTarget, DocRemoteHost, map[string][]string{
		"host": {"127.0.0.1"}, "portNumber": {dest.port()},
	})
	addr := p.localAddr()
	transfer(t, addr, 64<<10, 64<<10, 5)
	// The official client dies if it has to send while the websocket is
	// closed (its mux upload loop returns on the first failed send), so
	// say Bye only once the stream's teardown has crossed.
	waitQuiet(t, svc, p.sessionID)
	svc.SayBye(p.sessionID)
	waitFor(t, 10*time.Second, "the plugin to reconnect", func() bool {
		info, _ := svc.Session(p.sessionID)
		return info.Websockets == 2 && info.Connected
	})
	transfer(t, addr, 256<<10, 256<<10, 6)
	st := svc.Stats()
	if st.ResumeSession != 1 || st.Byes != 1 {
		t.Errorf("stats %+v: want one Bye and one ResumeSession", st)
	}
	p.interrupt(svc)
	waitNoOpenSession(t, svc)
}

// TestOfficialPluginConnectError: in mux mode a destination that refuses
// makes the agent send Flag ConnectToPortError, which the plugin reports.
func TestOfficialPluginConnectError(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Online: true})
	p := startOfficialPlugin(t, svc, testTarget, DocRemoteHost, map[string][]string{
		"host": {"127.0.0.1"}, "portNumber": {closedPort(t)},
	})
	addr := p.localAddr()
	c := dialLocal(t, addr)
	_, _ = c.Write([]byte("hello"))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a refused destination", n)
	}
	_ = c.Close()
	waitFor(t, 5*time.Second, "the plugin to report the failed connection", func() bool {
		return strings.Contains(p.output(), "Connection to destination port failed")
	})
	p.interrupt(svc)
	waitNoOpenSession(t, svc)
}

// TestOfficialPluginIdleTimeout: the service's idle timeout ends the
// session with channel_closed; the plugin prints the reason and exits.
func TestOfficialPluginIdleTimeout(t *testing.T) {
	t.Parallel()
	// The fake's idle clock runs from StartSession, so the timeout also
	// covers starting the plugin, its websocket and the handshake up to
	// "Port opened": a loaded machine can take seconds over that, and a
	// session ended before it fails the test for the wrong reason.
	const idle = 5 * time.Second
	svc := newTestService(t, Options{Pacing: NoPacing, Faults: Faults{IdleTimeout: idle}})
	svc.AddTarget(testTarget, Agent{Online: true})
	dest := newSinkServer(t)
	p := startOfficialPlugin(t, svc, testTarget, DocRemoteHost, map[string][]string{
		"host": {"127.0.0.1"}, "portNumber": {dest.port()},
	})
	p.localAddr()
	p.wait(idle + 20*time.Second) // a safety net against a hang, not a timed assertion
	if !strings.Contains(p.output(), "inactivity") {
		t.Errorf("plugin did not print the idle timeout")
	}
	waitNoOpenSession(t, svc)
}

// TestOfficialPluginFaults: delay, reordering and duplication (no loss, no
// drops: the official client does not survive those) leave a transfer
// intact, both ways.
func TestOfficialPluginFaults(t *testing.T) {
	t.Parallel()
	svc := newTestService(t, Options{Pacing: NoPacing})
	svc.AddTarget(testTarget, Agent{Online: true})
	dest := newSinkServer(t)
	p := startOfficialPlugin(t, svc, testTarget, DocRemoteHost, map[string][]string{
		"host": {"127.0.0.1"}, "portNumber": {dest.port()},
	})
	addr := p.localAddr()
	svc.SetFaults(Faults{Seed: 7, Delay: 2 * time.Millisecond, Reorder: 0.05, Duplicate: 0.05})
	transfer(t, addr, 512<<10, 512<<10, 8)
	st := svc.Stats()
	if st.FaultReordered == 0 || st.FaultDuplicated == 0 || st.DuplicatesIn == 0 || st.FutureIn == 0 {
		t.Errorf("stats %+v: want faults injected both ways", st)
	}
	svc.SetFaults(Faults{})
	p.interrupt(svc)
	waitNoOpenSession(t, svc)
}
