//go:build linux

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// The SSM backend end to end: dbtunnel on the laptop, ssmfake's service on
// the laptop's loopback and its agent on the bastion (see
// ssm_helpers_test.go), PostgreSQL behind the bastion. Every test uses the
// agent's default pacing (1 KB per read, 1 ms per read), as the real agent.

// The laptop has no way to the database but the tunnel, and the agent's
// connections come from the bastion.
func TestSSMExec(t *testing.T) {
	b := requireBed(t)
	if out, err := exec.Command("pg_isready", "-h", b.DBIP, "-p", strconv.Itoa(b.DBPort), "-t", "1").CombinedOutput(); err == nil {
		t.Fatalf("pg_isready from the laptop reached %s:%d directly: %s", b.DBIP, b.DBPort, out)
	}

	for _, tc := range []struct{ mode, version string }{
		{"mux", ssmfake.AgentVersionMux},
		{"basic", ssmfake.AgentVersionBasic},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			sb := startSSMFake(t, b, tc.version, ssmfake.Options{})
			l := ssmLaptop(t, b)

			r := l.Run(t, runTimeout, "exec", "pg", "--", "psql", "-X", "-tA", "-c",
				"select 1, host(inet_server_addr()), host(inet_client_addr())")
			want := fmt.Sprintf("1|%s|%s\n", b.DBIP, b.BastionDBSide)
			if r.Code != 0 || r.Stdout != want {
				t.Fatalf("exec pg -- psql -c 'select 1, server, client': exit %d%s, stdout %q, want 0 and %q", r.Code, r.Signal, r.Stdout, want)
			}

			// psql's own exit code comes back: 3 is an error in a script
			// with ON_ERROR_STOP, which only a server that ran it gives.
			script := filepath.Join(t.TempDir(), "fail.sql")
			if err := os.WriteFile(script, []byte("select 1/0;\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r = l.Run(t, runTimeout, "exec", "pg", "--", "psql", "-X", "-v", "ON_ERROR_STOP=1", "-f", script)
			if r.Code != 3 || !strings.Contains(r.Stderr, "division by zero") {
				t.Fatalf("exec pg -- psql -f (select 1/0): exit %d%s, want 3 and psql's \"division by zero\" on stderr", r.Code, r.Signal)
			}

			all := sb.svc.AllSessions()
			if len(all) != 2 {
				t.Fatalf("%d sessions started for two execs, want 2: %+v", len(all), all)
			}
			dest := net.JoinHostPort(b.DBIP, strconv.Itoa(b.DBPort))
			for _, s := range all {
				if s.Target != ssmInstance || s.Document != "AWS-StartPortForwardingSessionToRemoteHost" ||
					s.Destination != dest || s.Mode != tc.mode || s.Streams < 1 {
					t.Errorf("session %s: target %s, document %s, destination %s, mode %q, %d stream(s); want %s, AWS-StartPortForwardingSessionToRemoteHost, %s, %q, ≥1",
						s.SessionID, s.Target, s.Document, s.Destination, s.Mode, s.Streams, ssmInstance, dest, tc.mode)
				}
			}
			sb.assertAllClosed(t)
		})
	}
}

// ssmCopySQL streams about 21 MB (210k rows of ~105 bytes).
const ssmCopySQL = `COPY (SELECT i, md5(i::text), repeat(md5((i * 7)::text), 2) FROM generate_series(1, 210000) AS i) TO STDOUT`

// 20 MB through the tunnel while the websocket is dropped every 2 s and 1%
// of the messages (data and acknowledgements, both ways) are lost: the
// client resumes the same session each time, and what arrives is byte for
// byte what psql in the db's own namespace gets.
func TestSSMTransferWithFaults(t *testing.T) {
	b := requireBed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	direct := &countingHash{Hash: sha256.New()}
	cmd := b.DBPsql(ctx, "-c", ssmCopySQL)
	var dstderr lockedBuffer
	cmd.Stdout, cmd.Stderr = direct, &dstderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("direct COPY in the db ns: %v: %s", err, dstderr.String())
	}
	if direct.n < 20<<20 {
		t.Fatalf("direct COPY produced %d bytes, want at least 20 MiB", direct.n)
	}

	sb := startSSMFake(t, b, ssmfake.AgentVersionMux, ssmfake.Options{Faults: ssmfake.Faults{Seed: 4, Loss: 0.01}})
	l := ssmLaptop(t, b)

	// An abrupt drop (no close handshake) every 2 s, of whatever session
	// is open.
	stopDrops := make(chan struct{})
	var dropper sync.WaitGroup
	dropper.Go(func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopDrops:
				return
			case <-tick.C:
				sb.svc.DropWebsocket("")
			}
		}
	})

	tunneled := &countingHash{Hash: sha256.New()}
	cmd = l.Dbtunnel(t, ctx, "exec", "pg", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", ssmCopySQL)
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = tunneled, &stderr
	t0 := time.Now()
	err := cmd.Run()
	took := time.Since(t0)
	close(stopDrops)
	dropper.Wait()
	code, sig := exitStatus(cmd, err)
	st := sb.svc.Stats()
	t.Logf("through dbtunnel exec: %d bytes in %v (%.2f MB/s), exit %d%s; fake: %d drops, %d resumes, %d messages lost, %d retransmitted by the agent, %d duplicates re-acked, %d early messages buffered",
		tunneled.n, took.Round(time.Millisecond), float64(tunneled.n)/1e6/took.Seconds(), code, sig,
		st.Drops, st.ResumeSession, st.FaultLost, st.Retransmits, st.DuplicatesIn, st.FutureIn)
	if code != 0 {
		t.Fatalf("dbtunnel exec psql COPY: exit %d%s: %s", code, sig, clip(stderr.String(), 4000))
	}
	if tunneled.n != direct.n {
		t.Fatalf("through the tunnel %d bytes, directly %d", tunneled.n, direct.n)
	}
	if got, want := hex.EncodeToString(tunneled.Sum(nil)), hex.EncodeToString(direct.Sum(nil)); got != want {
		t.Fatalf("sha256 through the tunnel %s, directly %s", got, want)
	}

	// The faults happened, and were survived by resuming one session.
	all := sb.svc.AllSessions()
	if len(all) != 1 || st.StartSession != 1 {
		t.Fatalf("%d sessions (%d StartSession calls), want the one session resumed throughout: %+v", len(all), st.StartSession, all)
	}
	if st.Drops < 3 || st.ResumeSession < 3 || int64(all[0].Websockets) != 1+st.ResumeSession {
		t.Errorf("%d drops, %d ResumeSession calls, %d websockets: want ≥3 drops each followed by a resume", st.Drops, st.ResumeSession, all[0].Websockets)
	}
	if st.FaultLost < 100 || st.Retransmits == 0 {
		t.Errorf("%d messages lost, %d retransmitted by the agent: the loss fault did not bite", st.FaultLost, st.Retransmits)
	}
	sb.assertAllClosed(t)
}

// 30 psql connections at once through one `up`, one SSM session: 30
// distinct backends.
func TestSSMConcurrentConnections(t *testing.T) {
	b := requireBed(t)
	sb := startSSMFake(t, b, ssmfake.AgentVersionMux, ssmfake.Options{})
	l := ssmLaptop(t, b)
	u, ready := startSSMUp(t, b, l)

	const n = 30
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		pids = map[string]bool{}
		errs []error
	)
	for range n {
		wg.Go(func() {
			out, err := l.Psql(t, ready.Local, "select pg_backend_pid(), pg_sleep(0.5)")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			pid, _, _ := strings.Cut(out, "|")
			pids[pid] = true
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i < 5 {
			t.Error(err)
		}
	}
	if len(errs) > 0 || len(pids) != n {
		t.Fatalf("%d/%d connections failed, %d distinct backend pids, want %d", len(errs), n, len(pids), n)
	}
	if u.Exited() {
		t.Fatal("dbtunnel up exited during the test")
	}
	all := sb.svc.AllSessions()
	if len(all) != 1 || all[0].Streams < n {
		t.Fatalf("%d sessions, %d streams in the first; want one session carrying all %d connections", len(all), firstStreams(all), n)
	}
	u.Signal(syscall.SIGINT)
	if code, sig := u.Wait(stopTimeout); code != 130 {
		t.Errorf("up after SIGINT: exit %d%s, want 130", code, sig)
	}
	sb.assertAllClosed(t)
}

func firstStreams(all []ssmfake.SessionInfo) int {
	if len(all) == 0 {
		return 0
	}
	return all[0].Streams
}

// Closing leaves nothing open on the service: `up` on SIGINT with a client
// connection still open, and exec when its command ends (with its exit
// code passed on).
func TestSSMCloseTerminatesSession(t *testing.T) {
	b := requireBed(t)

	t.Run("up SIGINT", func(t *testing.T) {
		sb := startSSMFake(t, b, ssmfake.AgentVersionMux, ssmfake.Options{})
		l := ssmLaptop(t, b)
		u := l.StartUp(t, "pg")
		m := u.WaitLine(regexp.MustCompile(`^pg\s+(127\.0\.0\.1:[0-9]+) -> `+
			regexp.QuoteMeta(net.JoinHostPort(b.DBIP, strconv.Itoa(b.DBPort)))+` via ssm `+ssmInstance+` \(ready\)\s*$`), readyTimeout)
		local := m[1]
		if got := mustPsql(t, l, local, "select 1"); got != "1" {
			t.Fatalf("select 1 = %q", got)
		}
		// A client connection still open when the user interrupts.
		held, err := net.Dial("tcp", local)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if err := pollUntil(10*time.Second, func() (bool, error) {
			open := sb.svc.Sessions()
			return len(open) == 1 && open[0].Connected && open[0].Streams == 2, nil
		}); err != nil {
			t.Fatalf("want one connected session with 2 streams (psql, then the held connection): %v: %+v", err, sb.svc.Sessions())
		}

		// The first SIGINT waits for the open connection, the second
		// closes it: the session ends with a stream still open.
		u.Signal(syscall.SIGINT)
		if err := pollUntil(10*time.Second, func() (bool, error) {
			return strings.Contains(u.Stderr(), "closing: waiting"), nil
		}); err != nil {
			t.Fatalf("up did not report it is waiting for the open connection: %v", err)
		}
		u.Signal(syscall.SIGINT)
		if code, sig := u.Wait(stopTimeout); code != 130 {
			t.Errorf("up after SIGINT: exit %d%s, want 130", code, sig)
		}
		sb.assertAllClosed(t)
	})

	t.Run("exec", func(t *testing.T) {
		sb := startSSMFake(t, b, ssmfake.AgentVersionMux, ssmfake.Options{})
		l := ssmLaptop(t, b)
		r := l.Run(t, runTimeout, "exec", "pg", "--", "sh", "-c", `psql -X -tA -c "select 1" && exit 7`)
		if r.Code != 7 || r.Stdout != "1\n" {
			t.Fatalf("exec pg -- sh -c 'psql -c \"select 1\" && exit 7': exit %d%s, stdout %q; want 7 and %q", r.Code, r.Signal, r.Stdout, "1\n")
		}
		sb.assertAllClosed(t)
	})
}
