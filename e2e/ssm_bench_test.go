//go:build linux

package e2e

// Benchmarks of the SSM backend: dbtunnel's native client against the
// official session-manager-plugin, through the same ssmfake (service on the
// laptop's loopback, agent dialling from the bastion namespace) with the
// real agent's default pacing (reads of at most 1 KB, 1 ms sleep after
// each), in the same run.
//
//	BenchmarkSSMThroughput/{plugin,dbtunnel}        bulk db → laptop, one connection, MB/s
//	BenchmarkSSMThroughputUpload/{plugin,dbtunnel}  bulk laptop → db, one connection, MB/s
//	BenchmarkSSMThroughputUnpaced/{plugin,dbtunnel} as BenchmarkSSMThroughput with no agent pacing
//	BenchmarkSSMParallel/{plugin,dbtunnel}          4 connections at once, db → laptop, aggregate MB/s;
//	                                                dbtunnel with `sessions: 4`, the plugin with its one session
//	BenchmarkSSMStartup/{aws-cli,dbtunnel}          from the command's start to the first round trip through its port
//
// The plugin is started as the AWS CLI starts it (StartSession through the
// SDK, then `session-manager-plugin RESPONSE REGION StartSession '' REQUEST
// ENDPOINT`), except in BenchmarkSSMStartup, which runs `aws ssm
// start-session` itself. Nothing here runs without -bench; `bench/run.sh`
// with SUITE=ssm runs them and prints the table (docs/BENCHMARKS.md).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
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
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dbtunnel/dbtunnel/internal/testsupport/ssmplugin"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

const (
	// ssmChunk is one op of the SSM throughput benchmarks: a paced session
	// moves about 1 MB/s, so 1 MiB ops would leave b.N too coarse.
	ssmChunk   = 256 << 10
	ssmRegion  = "eu-west-1"
	ssmDocHost = "AWS-StartPortForwardingSessionToRemoteHost"
	ssmStreams = 4 // connections of BenchmarkSSMParallel, and dbtunnel's sessions there
)

var pluginBuild struct {
	once  sync.Once
	tools ssmplugin.Tools
	err   error
}

// needPlugin builds (or finds in the cache) the official plugin; a failure
// skips, or fails with CI=true.
func needPlugin(b *testing.B) ssmplugin.Tools {
	b.Helper()
	pluginBuild.once.Do(func() {
		// The test binary runs in e2e/, as `go test` runs it.
		pluginBuild.tools, pluginBuild.err = ssmplugin.Build(filepath.Join("..", ssmplugin.ModuleDir))
	})
	if pluginBuild.err != nil {
		if inCI() {
			b.Fatalf("official session-manager-plugin unavailable (CI=true, so this is a failure): %v", pluginBuild.err)
		}
		b.Skipf("official session-manager-plugin unavailable: %v", pluginBuild.err)
	}
	return pluginBuild.tools
}

// ssmBench is one benchmark's setup: the fake with default pacing, the
// bulk source behind the bastion, and a laptop whose config reaches it
// over SSM with one session (target bulk) and with ssmStreams sessions
// (target bulk4).
type ssmBench struct {
	bd     *Bed
	sb     *ssmBed
	l      *Laptop
	tools  ssmplugin.Tools
	remote string // the bulk source as the bastion sees it
}

func newSSMBench(b *testing.B) *ssmBench {
	b.Helper()
	return newSSMBenchPaced(b, 0)
}

// newSSMBenchPaced is newSSMBench with the agent's pacing (ssmfake
// Options.Pacing: 0 is the real agent's default).
func newSSMBenchPaced(b *testing.B, pacing time.Duration) *ssmBench {
	b.Helper()
	bd := requireBedB(b)
	e := &ssmBench{bd: bd, tools: needPlugin(b)}
	port := bulkSourcePort(b, bd)
	e.remote = net.JoinHostPort(bd.DBIP, strconv.Itoa(port))
	e.sb = startSSMFake(b, bd, ssmfake.AgentVersionMux, ssmfake.Options{Pacing: pacing})
	e.l = bd.NewLaptop(b)
	cfg := fmt.Sprintf(`targets:
  bulk:
    host: %[1]s
    port: %[2]d
    via: ssm
    bastion: %[3]s
    region: %[4]s
  bulk4:
    host: %[1]s
    port: %[2]d
    via: ssm
    bastion: %[3]s
    region: %[4]s
    sessions: %[5]d
`, bd.DBIP, port, ssmInstance, ssmRegion, ssmStreams)
	if err := os.WriteFile(e.l.ConfigPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	return e
}

// params are the port-forwarding document's parameters to the bulk source.
func (e *ssmBench) params(localPort int) map[string][]string {
	host, port, _ := net.SplitHostPort(e.remote)
	return map[string][]string{"host": {host}, "portNumber": {port}, "localPortNumber": {strconv.Itoa(localPort)}}
}

// toolEnv is the environment of the official tools: the laptop's (which
// has the fake's static credentials from startSSMFake) with a private
// TMPDIR, where the plugin puts its mux socket, and extra.
func (e *ssmBench) toolEnv(b *testing.B, extra ...string) []string {
	var env []string
	for _, kv := range e.l.Env() {
		// startSSMFake blanks AWS_PROFILE and the like, which the AWS
		// CLI takes for a profile named "".
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") && v == "" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"TMPDIR=" + b.TempDir(), "AWS_DEFAULT_REGION=" + ssmRegion}, extra...)...)
}

var pluginPortRe = regexp.MustCompile(`Port (\d+) opened for sessionId`)

// startPlugin starts a session through the SDK and hands it to the
// official plugin as the AWS CLI does; it returns once the plugin listens.
// Cleanup interrupts it as Ctrl-C would, once the session is quiet (the
// plugin can reuse a sequence number if the TerminateSession flag races
// its own output; see ssmfake's official tests).
func (e *ssmBench) startPlugin(b *testing.B) tunnelProc {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api := awsssm.New(awsssm.Options{
		Region:       ssmRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		BaseEndpoint: aws.String(e.sb.svc.URL()),
	})
	params := e.params(0)
	res, err := api.StartSession(ctx, &awsssm.StartSessionInput{Target: aws.String(ssmInstance), DocumentName: aws.String(ssmDocHost), Parameters: params})
	if err != nil {
		b.Fatalf("StartSession: %v", err)
	}
	id := aws.ToString(res.SessionId)
	resJSON, _ := json.Marshal(map[string]string{"SessionId": id, "StreamUrl": aws.ToString(res.StreamUrl), "TokenValue": aws.ToString(res.TokenValue)})
	reqJSON, _ := json.Marshal(map[string]any{"Target": ssmInstance, "DocumentName": ssmDocHost, "Parameters": params})
	cmd := exec.Command(e.tools.Plugin, string(resJSON), ssmRegion, "StartSession", "", string(reqJSON), e.sb.svc.URL())
	cmd.Env = e.toolEnv(b)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	var out lockedBuffer
	cmd.Stderr = &out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	p, err := startProc(cmd)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		e.waitQuiet(b, id)
		p.stop(syscall.SIGINT, stopTimeout)
		if b.Failed() {
			b.Logf("session-manager-plugin output:\n%s", clip(out.String(), 4000))
		}
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = out.Write(append(sc.Bytes(), '\n'))
			if m := pluginPortRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case port <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case pt := <-port:
		return tunnelProc{Local: net.JoinHostPort("127.0.0.1", pt), PID: cmd.Process.Pid}
	case <-p.done:
		b.Fatalf("session-manager-plugin exited before listening: %v", p.err)
	case <-time.After(readyTimeout):
		b.Fatalf("session-manager-plugin did not open its port within %v", readyTimeout)
	}
	return tunnelProc{}
}

// waitQuiet waits (bounded) until session id has had no data for a while
// and nothing unacknowledged.
func (e *ssmBench) waitQuiet(b *testing.B, id string) {
	err := pollUntil(10*time.Second, func() (bool, error) {
		info, ok := e.sb.svc.Session(id)
		return !ok || info.Terminated || info.Unacked == 0 && time.Since(info.LastData) > 300*time.Millisecond, nil
	})
	if err != nil {
		b.Logf("session %s not quiet before the interrupt: %v", id, err)
	}
}

// ssmPaths starts the plugin and dbtunnel (target) to the bulk source,
// and the dbtunnels of DBTUNNEL_BENCH_VARIANTS as dbtunnel@NAME.
func (e *ssmBench) ssmPaths(b *testing.B, target string) []path {
	plugin := e.startPlugin(b)
	paths := []path{{name: "plugin", dial: tcpDialer(plugin.Local), proc: plugin}}
	for _, v := range dbtunnelVariants(b) {
		dbt := startDbtunnel(b, e.l, target, v)
		paths = append(paths, path{name: v.name, dial: tcpDialer(dbt.Local), proc: dbt})
	}
	return paths
}

// download reads n bytes of the bulk source through c.
func download(c net.Conn, n int64, buf []byte) error {
	if err := sendRequest(c, 'D', n); err != nil {
		return err
	}
	var got int64
	for got < n {
		k, err := c.Read(buf)
		got += int64(k)
		if err != nil {
			return fmt.Errorf("after %d of %d bytes: %w", got, n, err)
		}
	}
	return nil
}

// upload writes chunks × data to the bulk source through c and waits for
// its ack.
func upload(c net.Conn, chunks int, data []byte) error {
	if err := sendRequest(c, 'U', int64(chunks)*int64(len(data))); err != nil {
		return err
	}
	for range chunks {
		if _, err := c.Write(data); err != nil {
			return err
		}
	}
	var ack [1]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil || ack[0] != 'K' {
		return fmt.Errorf("ack: %q, %v", ack, err)
	}
	return nil
}

// warmConn makes one small round trip through p, so the session and the
// agent's side exist before the timer runs, then returns a fresh
// connection (the source closes after each request), closed when b ends.
func warmConn(b *testing.B, p path) net.Conn {
	b.Helper()
	c, err := p.dial()
	if err != nil {
		b.Fatal(err)
	}
	err = download(c, 1, make([]byte, 1))
	c.Close()
	if err != nil {
		b.Fatalf("first round trip: %v", err)
	}
	if c, err = p.dial(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// clientCPU measures the CPU time of one tunnel process.
type clientCPU struct {
	pid   int
	start time.Duration
}

func startClientCPU(pid int) clientCPU { return clientCPU{pid: pid, start: procCPU(pid)} }

// report adds tunnel-cpu-ms/GB for bytes moved.
func (m clientCPU) report(b *testing.B, bytes int64) {
	if bytes > 0 {
		b.ReportMetric((procCPU(m.pid)-m.start).Seconds()*1e3/(float64(bytes)/1e9), "tunnel-cpu-ms/GB")
	}
}

// BenchmarkSSMThroughput is bulk transfer from the db to the laptop over
// one connection: the direction the agent paces.
func BenchmarkSSMThroughput(b *testing.B) {
	benchSSMDownload(b, newSSMBench(b))
}

// BenchmarkSSMThroughputUnpaced is BenchmarkSSMThroughput with an agent
// that does not sleep between reads: not the real agent, but it shows
// what each client itself can take, which the paced figure cannot.
func BenchmarkSSMThroughputUnpaced(b *testing.B) {
	benchSSMDownload(b, newSSMBenchPaced(b, ssmfake.NoPacing))
}

func benchSSMDownload(b *testing.B, e *ssmBench) {
	for _, p := range e.ssmPaths(b, "bulk") {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(ssmChunk)
			c := warmConn(b, p)
			buf := make([]byte, 64<<10)
			cpu := startClientCPU(p.proc.PID)
			b.ResetTimer()
			if err := download(c, int64(b.N)*ssmChunk, buf); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cpu.report(b, int64(b.N)*ssmChunk)
		})
	}
}

// BenchmarkSSMThroughputUpload is bulk transfer from the laptop to the db
// over one connection, then an ack: the direction nothing paces but the
// client and the agent's acknowledgements.
func BenchmarkSSMThroughputUpload(b *testing.B) {
	e := newSSMBench(b)
	data := make([]byte, ssmChunk)
	r := rand.NewChaCha8([32]byte{'s', 's', 'm', 'u', 'p'})
	_, _ = r.Read(data)
	for _, p := range e.ssmPaths(b, "bulk") {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(ssmChunk)
			c := warmConn(b, p)
			cpu := startClientCPU(p.proc.PID)
			b.ResetTimer()
			if err := upload(c, b.N, data); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			cpu.report(b, int64(b.N)*ssmChunk)
		})
	}
}

// BenchmarkSSMParallel downloads over ssmStreams connections at once:
// b.N chunks on each, so an op is ssmStreams chunks. dbtunnel spreads them
// over `sessions: 4`; the plugin multiplexes them on its one session.
func BenchmarkSSMParallel(b *testing.B) {
	e := newSSMBench(b)
	for _, p := range e.ssmPaths(b, "bulk4") {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(ssmStreams * ssmChunk)
			conns := make([]net.Conn, ssmStreams)
			for i := range conns {
				c, err := p.dial()
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				conns[i] = c
			}
			// All ssmStreams connections are open (and spread over
			// dbtunnel's sessions) before the first byte is asked for.
			cpu := startClientCPU(p.proc.PID)
			b.ResetTimer()
			errs := make([]error, ssmStreams)
			var wg sync.WaitGroup
			for i, c := range conns {
				wg.Go(func() { errs[i] = download(c, int64(b.N)*ssmChunk, make([]byte, 64<<10)) })
			}
			wg.Wait()
			b.StopTimer()
			for i, err := range errs {
				if err != nil {
					b.Fatalf("connection %d: %v", i, err)
				}
			}
			cpu.report(b, int64(b.N)*ssmStreams*ssmChunk)
		})
	}
}

// BenchmarkSSMStartup is the time from starting the command to the first
// round trip through its local port: `dbtunnel up` (which binds its
// listener before the session exists, so accepting is not enough) against
// `aws ssm start-session` running the official plugin. One op is one
// start; stopping the command and waiting for its session to end are not
// timed.
func BenchmarkSSMStartup(b *testing.B) {
	requireTool(b, "aws")
	e := newSSMBench(b)
	// The AWS CLI runs `session-manager-plugin` from PATH.
	bin := b.TempDir()
	if err := os.Symlink(e.tools.Plugin, filepath.Join(bin, "session-manager-plugin")); err != nil {
		b.Fatal(err)
	}
	pathEnv := "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")
	starters := []struct {
		name  string
		quiet bool // interrupt only a quiet session (the plugin's sequence race)
		start func(port int) *exec.Cmd
	}{
		{"aws-cli", true, func(port int) *exec.Cmd {
			params, _ := json.Marshal(e.params(port))
			cmd := exec.Command("aws", "ssm", "start-session",
				"--endpoint-url", e.sb.svc.URL(), "--region", ssmRegion,
				"--target", ssmInstance, "--document-name", ssmDocHost, "--parameters", string(params))
			cmd.Env = e.toolEnv(b, pathEnv)
			cmd.Dir = e.l.Home
			return cmd
		}},
		{"dbtunnel", false, func(port int) *exec.Cmd {
			return e.l.Dbtunnel(b, context.Background(), "up", "bulk", "--local-port", strconv.Itoa(port))
		}},
	}
	for _, s := range starters {
		b.Run(s.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				port := freePort(b)
				cmd := s.start(port)
				// Its own process group: the interrupt reaches the AWS
				// CLI and the plugin it runs, as a terminal's Ctrl-C.
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
				var out lockedBuffer
				cmd.Stdout, cmd.Stderr = &out, &out
				b.StartTimer()
				p, err := startProc(cmd)
				if err != nil {
					b.Fatal(err)
				}
				err = waitRoundTrip(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), readyTimeout, p.exited)
				b.StopTimer()
				if err != nil {
					p.stop(syscall.SIGKILL, 0)
					b.Fatalf("%s: no round trip through port %d: %v\n%s", s.name, port, err, clip(out.String(), 4000))
				}
				e.stopSessions(b, p, s.quiet)
				b.StartTimer()
			}
		})
	}
}

// waitRoundTrip polls addr until one byte comes back from the bulk source
// through it, or exited reports the command gone.
func waitRoundTrip(addr string, timeout time.Duration, exited func() bool) error {
	buf := make([]byte, 1)
	return pollUntilEvery(timeout, 2*time.Millisecond, func() (bool, error) {
		if exited() {
			return false, fmt.Errorf("the command exited")
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		return download(c, 1, buf) == nil, nil
	})
}

// stopSessions interrupts the command (once its sessions are quiet, if
// quiet) and waits until the fake has no open session, so each start
// begins alike.
func (e *ssmBench) stopSessions(b *testing.B, p *proc, quiet bool) {
	for _, s := range e.sb.svc.Sessions() {
		if quiet {
			e.waitQuiet(b, s.SessionID)
		}
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	if err := pollUntil(10*time.Second, func() (bool, error) { return len(e.sb.svc.Sessions()) == 0, nil }); err != nil {
		b.Fatalf("sessions still open on the fake after the command stopped: %+v", e.sb.svc.Sessions())
	}
}
