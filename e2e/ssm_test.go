//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// The SSM backend end to end: dbtunnel on the laptop, ssmfake's service on
// the laptop's loopback and its agent on the bastion (see
// ssm_helpers_test.go), PostgreSQL behind the bastion. Every test uses the
// agent's default pacing (reads of at most 1 KB, 1 ms sleep after each), as
// the real agent.

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

// 20 MB each way through the tunnel while the websocket is dropped every
// 2 s (every 3 MB for the faster upload) and 1% of the messages (data and acknowledgements, both ways) are
// lost: the client resumes the same session each time and retransmits what
// was lost, and what arrives is byte for byte what psql in the db's own
// namespace gets (down) or gave (up).
func TestSSMTransferWithFaults(t *testing.T) {
	b := requireBed(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	var data bytes.Buffer
	direct := &countingHash{Hash: sha256.New()}
	cmd := b.DBPsql(ctx, "-c", ssmCopySQL)
	var dstderr lockedBuffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(direct, &data), &dstderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("direct COPY in the db ns: %v: %s", err, dstderr.String())
	}
	if direct.n < 20<<20 {
		t.Fatalf("direct COPY produced %d bytes, want at least 20 MiB", direct.n)
	}
	wantSum := hex.EncodeToString(direct.Sum(nil))

	t.Run("down", func(t *testing.T) {
		sb := startSSMFake(t, b, ssmfake.AgentVersionMux, ssmfake.Options{Faults: ssmfake.Faults{Seed: 4, Loss: 0.01}})
		l := ssmLaptop(t, b)
		stopDrops := dropEvery(sb.svc, 2*time.Second)
		got := &countingHash{Hash: sha256.New()}
		r := runSSMTransfer(t, l, ctx, nil, got, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", ssmCopySQL)
		stopDrops()
		st := sb.svc.Stats()
		t.Logf("down: %d bytes in %v (%.2f MB/s); fake: %d drops, %d resumes, %d messages lost, %d retransmitted by the agent",
			got.n, r.took.Round(time.Millisecond), float64(got.n)/1e6/r.took.Seconds(), st.Drops, st.ResumeSession, st.FaultLost, st.Retransmits)
		if r.code != 0 {
			t.Fatalf("dbtunnel exec psql COPY TO STDOUT: exit %d%s: %s", r.code, r.sig, clip(r.stderr, 4000))
		}
		if sum := hex.EncodeToString(got.Sum(nil)); got.n != direct.n || sum != wantSum {
			t.Fatalf("through the tunnel %d bytes, sha256 %s; directly %d bytes, sha256 %s", got.n, sum, direct.n, wantSum)
		}
		sb.assertFaultsSurvived(t)
		if st.Retransmits == 0 {
			t.Errorf("the agent retransmitted nothing")
		}
		sb.assertAllClosed(t)
	})

	t.Run("up", func(t *testing.T) {
		const table = "ssm_upload"
		mustDBPsql(t, ctx, b, fmt.Sprintf("drop table if exists %[1]s; create table %[1]s (i int primary key, a text, b text)", table))
		t.Cleanup(func() { mustDBPsql(t, context.Background(), b, "drop table if exists "+table) })

		sb := startSSMFake(t, b, ssmfake.AgentVersionMux, ssmfake.Options{Faults: ssmfake.Faults{Seed: 5, Loss: 0.01}})
		l := ssmLaptop(t, b)
		// Uploads are not paced: 20 MB take a second or two, so a drop
		// every 2 s would come once at most. A drop every 3000 frames of
		// 1 KiB gives six resumes in the middle of the transfer.
		stopDrops := dropEveryData(sb.svc, 3000)
		r := runSSMTransfer(t, l, ctx, bytes.NewReader(data.Bytes()), io.Discard,
			"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "COPY "+table+" FROM STDIN")
		stopDrops()
		st := sb.svc.Stats()
		t.Logf("up: %d bytes in %v (%.2f MB/s); fake: %d drops, %d resumes, %d messages lost, %d client messages ahead of a gap, %d duplicates",
			data.Len(), r.took.Round(time.Millisecond), float64(data.Len())/1e6/r.took.Seconds(), st.Drops, st.ResumeSession, st.FaultLost, st.FutureIn, st.DuplicatesIn)
		if r.code != 0 {
			t.Fatalf("dbtunnel exec psql COPY FROM STDIN: exit %d%s: %s", r.code, r.sig, clip(r.stderr, 4000))
		}
		stored := &countingHash{Hash: sha256.New()}
		cmd := b.DBPsql(ctx, "-c", "COPY (SELECT * FROM "+table+" ORDER BY i) TO STDOUT")
		var stderr lockedBuffer
		cmd.Stdout, cmd.Stderr = stored, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("reading back %s in the db ns: %v: %s", table, err, stderr.String())
		}
		if sum := hex.EncodeToString(stored.Sum(nil)); stored.n != direct.n || sum != wantSum {
			t.Fatalf("stored through the tunnel: %d bytes, sha256 %s; sent %d bytes, sha256 %s", stored.n, sum, direct.n, wantSum)
		}
		sb.assertFaultsSurvived(t)
		// Client data lost on the way in leaves a gap that later messages
		// arrive ahead of; it was filled, or the data would not match.
		if st.FutureIn == 0 {
			t.Errorf("no client message arrived ahead of a gap: the loss fault did not bite the upload")
		}
		sb.assertAllClosed(t)
	})
}

type transferResult struct {
	code   int
	sig    string
	stderr string
	took   time.Duration
}

// runSSMTransfer runs `dbtunnel exec pg -- cmd...` with stdin and stdout.
func runSSMTransfer(t *testing.T, l *Laptop, ctx context.Context, stdin io.Reader, stdout io.Writer, cmdline ...string) transferResult {
	t.Helper()
	cmd := l.Dbtunnel(t, ctx, append([]string{"exec", "pg", "--"}, cmdline...)...)
	var stderr lockedBuffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	r := transferResult{took: time.Since(t0), stderr: stderr.String()}
	r.code, r.sig = exitStatus(cmd, err)
	return r
}

func mustDBPsql(t *testing.T, ctx context.Context, b *Bed, sql string) {
	t.Helper()
	if out, err := b.DBPsql(ctx, "-c", sql).CombinedOutput(); err != nil {
		t.Fatalf("psql in the db ns -c %q: %v: %s", sql, err, out)
	}
}

// 30 psql connections at once through one `up`, one SSM session: 30
// distinct backends.
func TestSSMConcurrentConnections(t *testing.T) {
	b := requireBed(t)
	sb := startSSMFake(t, b, ssmfake.AgentVersionMux, ssmfake.Options{})
	l := ssmLaptop(t, b)
	u, ready := startSSMUp(t, b, l)

	const n = 30
	if err := distinctBackends(t, l, ready.Local, n, 0.5); err != nil {
		t.Fatal(err)
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
