//go:build linux

package e2e

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	runTimeout   = 30 * time.Second // any single dbtunnel exec/up that should finish
	readyTimeout = 30 * time.Second // from start of `up` to its ready line
	stopTimeout  = 15 * time.Second // from a signal to exit
)

// readyLine matches the human ready line of `up` for target pg on this bed
// and captures the local address.
func readyLine(b *Bed) *regexp.Regexp {
	return regexp.MustCompile(`^pg\s+(127\.0\.0\.1:[0-9]+) -> ` +
		regexp.QuoteMeta(net.JoinHostPort(b.DBIP, strconv.Itoa(b.DBPort))) +
		` via ssh ` + regexp.QuoteMeta(b.BastionIP) + ` \(ready\)\s*$`)
}

// startReady starts `up pg args...` (human output) and waits for its ready
// line, returning the process and the local address it reported.
func startReady(t *testing.T, b *Bed, l *Laptop, args ...string) (*Up, string) {
	t.Helper()
	u := l.StartUp(t, append([]string{"pg"}, args...)...)
	m := u.WaitLine(readyLine(b), readyTimeout)
	return u, m[1]
}

func mustPsql(t *testing.T, l *Laptop, addr, sql string) string {
	t.Helper()
	out, err := l.Psql(t, addr, sql)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// 1. exec runs psql through the tunnel, sets the environment, and propagates
// the command's exit code.
func TestExec(t *testing.T) {
	b := requireBed(t)
	l := b.NewLaptop(t)

	t.Run("psql select 1", func(t *testing.T) {
		r := l.Run(t, runTimeout, "exec", "pg", "--", "psql", "-X", "-tA", "-c", "select 1")
		if r.Code != 0 || r.Stdout != "1\n" {
			t.Fatalf("exec pg -- psql -tA -c 'select 1': exit %d%s, stdout %q, want 0 and %q", r.Code, r.Signal, r.Stdout, "1\n")
		}
	})

	t.Run("path goes through the bastion", func(t *testing.T) {
		r := l.Run(t, runTimeout, "exec", "pg", "--", "psql", "-X", "-tA", "-c",
			"select host(inet_server_addr()) || ' ' || host(inet_client_addr())")
		want := b.DBIP + " " + b.BastionDBSide + "\n"
		if r.Code != 0 || r.Stdout != want {
			t.Fatalf("server/client address seen by postgres: exit %d%s, stdout %q, want %q", r.Code, r.Signal, r.Stdout, want)
		}
	})

	t.Run("environment", func(t *testing.T) {
		r := l.Run(t, runTimeout, "exec", "pg", "--", "sh", "-c",
			`printf '%s\n' "$PGHOST" "$PGPORT" "$PGUSER" "$PGDATABASE" "$PGSSLMODE" "$DATABASE_URL"`)
		if r.Code != 0 {
			t.Fatalf("exit %d%s", r.Code, r.Signal)
		}
		v := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
		if len(v) != 6 {
			t.Fatalf("env lines = %q", v)
		}
		host, port, user, db, sslmode, dbURL := v[0], v[1], v[2], v[3], v[4], v[5]
		if host != "127.0.0.1" {
			t.Errorf("PGHOST = %q, want 127.0.0.1", host)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			t.Errorf("PGPORT = %q, want a port number", port)
		}
		if user != "postgres" {
			t.Errorf("PGUSER = %q, want postgres", user)
		}
		if db != "postgres" {
			t.Errorf("PGDATABASE = %q, want postgres", db)
		}
		if sslmode == "" {
			t.Errorf("PGSSLMODE is empty")
		}
		u, err := url.Parse(dbURL)
		switch {
		case err != nil:
			t.Errorf("DATABASE_URL = %q: %v", dbURL, err)
		case u.Scheme != "postgres" && u.Scheme != "postgresql":
			t.Errorf("DATABASE_URL = %q: scheme %q", dbURL, u.Scheme)
		case u.Host != net.JoinHostPort(host, port):
			t.Errorf("DATABASE_URL = %q: host %q, want %s", dbURL, u.Host, net.JoinHostPort(host, port))
		case u.User.Username() != "postgres" || strings.TrimPrefix(u.Path, "/") != "postgres":
			t.Errorf("DATABASE_URL = %q: want user postgres, database postgres", dbURL)
		}
	})

	t.Run("exit code propagated", func(t *testing.T) {
		r := l.Run(t, runTimeout, "exec", "pg", "--", "sh", "-c", "exit 7")
		if r.Code != 7 {
			t.Fatalf("exec pg -- sh -c 'exit 7': exit %d%s, want 7", r.Code, r.Signal)
		}
	})
}

// copySQL streams ~115 MB (1.1M rows of ~105 bytes).
const copySQL = `COPY (SELECT i, md5(i::text), repeat(md5((i * 7)::text), 2) FROM generate_series(1, 1100000) AS i) TO STDOUT`

type countingHash struct {
	hash.Hash
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.Hash.Write(p)
}

// 2. 100+ MB through the tunnel arrive byte for byte as psql in the db's own
// namespace sees them.
func TestExecCopy100MB(t *testing.T) {
	b := requireBed(t)
	l := b.NewLaptop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	direct := &countingHash{Hash: sha256.New()}
	cmd := b.DBPsql(ctx, "-c", copySQL)
	var dstderr lockedBuffer
	cmd.Stdout, cmd.Stderr = direct, &dstderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("direct COPY in the db ns: %v: %s", err, dstderr.String())
	}
	t.Logf("direct: %d bytes in %v", direct.n, time.Since(t0).Round(time.Millisecond))
	if direct.n < 100<<20 {
		t.Fatalf("direct COPY produced %d bytes, want at least 100 MiB", direct.n)
	}

	tunneled := &countingHash{Hash: sha256.New()}
	cmd = l.Dbtunnel(t, ctx, "exec", "pg", "--", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", copySQL)
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = tunneled, &stderr
	t0 = time.Now()
	err := cmd.Run()
	code, sig := exitStatus(cmd, err)
	t.Logf("through dbtunnel exec: %d bytes in %v, exit %d%s", tunneled.n, time.Since(t0).Round(time.Millisecond), code, sig)
	if code != 0 {
		t.Fatalf("dbtunnel exec psql COPY: exit %d%s: %s", code, sig, clip(stderr.String(), 4000))
	}
	if tunneled.n != direct.n {
		t.Fatalf("through the tunnel %d bytes, directly %d", tunneled.n, direct.n)
	}
	if got, want := hex.EncodeToString(tunneled.Sum(nil)), hex.EncodeToString(direct.Sum(nil)); got != want {
		t.Fatalf("sha256 through the tunnel %s, directly %s", got, want)
	}
}

// 3. One `up`, 50 psql sessions at once, 50 distinct backends.
func TestUpConcurrentSessions(t *testing.T) {
	b := requireBed(t)
	l := b.NewLaptop(t)
	u, local := startReady(t, b, l)

	if err := distinctBackends(t, l, local, 50, 0.2); err != nil {
		t.Fatal(err)
	}
	if u.Exited() {
		t.Fatalf("dbtunnel up exited during the test")
	}
}

// 4. sshd dies (every process, established sessions too) and comes back: the
// same `up` process reconnects and serves a new session promptly.
func TestUpReconnectAfterSSHDRestart(t *testing.T) {
	b := requireBed(t)
	l := b.NewLaptop(t)
	u := l.StartUp(t, "pg", "--json")
	ready := u.WaitEvent("ready", readyTimeout, "failed")
	remote := net.JoinHostPort(b.DBIP, strconv.Itoa(b.DBPort))
	if ready.Target != "pg" || ready.Remote != remote || ready.Via != "ssh" || ready.Bastion != b.BastionIP ||
		!strings.HasPrefix(ready.Local, "127.0.0.1:") {
		t.Errorf("ready event = %s, want target pg, local 127.0.0.1:*, remote %s, via ssh, bastion %s", ready.Raw, remote, b.BastionIP)
	}
	if got := mustPsql(t, l, ready.Local, "select 1"); got != "1" {
		t.Fatalf("select 1 before the restart = %q", got)
	}

	b.StopSSHD(t)
	u.WaitEvent("reconnecting", 15*time.Second, "closed")
	if u.Exited() {
		t.Fatal("dbtunnel up exited when sshd died; it must keep the listener and reconnect")
	}
	b.StartSSHD(t)
	accepting := b.WaitSSHD(t)

	out, err := l.Psql(t, ready.Local, "select 1")
	took := time.Since(accepting)
	if err != nil {
		t.Fatalf("first psql after sshd came back (%v after it accepted): %v", took.Round(time.Millisecond), err)
	}
	if out != "1" {
		t.Fatalf("select 1 after the restart = %q", out)
	}
	t.Logf("psql through the reconnected tunnel succeeded %v after sshd accepted", took.Round(time.Millisecond))
	// The waiting client brings the next attempt forward (a 1 s demand
	// gap) instead of leaving it to the backoff, which has grown by now;
	// the bound leaves room for a loaded machine.
	if took > 5*time.Second {
		t.Errorf("psql succeeded %v after sshd accepted again, want < 5s", took.Round(time.Millisecond))
	}

	again := u.WaitEvent("ready", 15*time.Second, "closed")
	if again.Local != ready.Local {
		t.Errorf("local address changed across the reconnect: %s, then %s", ready.Local, again.Local)
	}
}

// sshKeygenPub makes a throwaway ed25519 key and returns "ssh-ed25519 AAAA...".
func sshKeygenPub(t *testing.T) string {
	t.Helper()
	path := t.TempDir() + "/k"
	if err := sshKeygen(path); err != nil {
		t.Fatal(err)
	}
	k, err := pubKey(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// 5. The bastion's host key changed since known_hosts recorded it: refuse,
// and say where the recorded key is.
func TestChangedHostKey(t *testing.T) {
	b := requireBed(t)
	l := b.NewLaptop(t)
	current, err := b.KnownHostsLine()
	if err != nil {
		t.Fatal(err)
	}
	// The bastion's entry is on line 3.
	l.WriteKnownHosts(t, "# dbtunnel e2e", "other.example.internal "+sshKeygenPub(t), current)
	before := readFile(t, l.KnownHosts)
	b.ReplaceHostKey(t)

	r := l.Run(t, runTimeout, "exec", "pg", "--", "sh", "-c", "echo command-ran")
	if r.Code != 1 {
		t.Errorf("exec with a changed host key: exit %d%s, want 1", r.Code, r.Signal)
	}
	if strings.Contains(r.Stdout, "command-ran") {
		t.Errorf("exec ran the command although the host key changed")
	}
	if loc := l.KnownHosts + ":3"; !strings.Contains(r.Stderr, loc) {
		t.Errorf("stderr does not name the recorded key's location %s:\n%s", loc, r.Stderr)
	}

	// accept-new never covers a changed key, and up gives up instead of retrying.
	r = l.Run(t, runTimeout, "up", "pg", "--accept-new-host-key")
	if r.Code != 1 {
		t.Errorf("up --accept-new-host-key with a changed host key: exit %d%s, want 1", r.Code, r.Signal)
	}
	if loc := l.KnownHosts + ":3"; !strings.Contains(r.Stderr, loc) {
		t.Errorf("up stderr does not name %s:\n%s", loc, r.Stderr)
	}
	if after := readFile(t, l.KnownHosts); after != before {
		t.Errorf("known_hosts was modified:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// knownHostsHas reports whether a known_hosts line records key for host
// (plain or hashed host field; port 22 form).
func knownHostsHas(content, host, key string) bool {
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || strings.HasPrefix(f[0], "#") || f[1]+" "+f[2] != key {
			continue
		}
		for _, h := range strings.Split(f[0], ",") {
			if h == host || h == "["+host+"]:22" {
				return true
			}
			if parts := strings.Split(h, "|"); len(parts) == 4 && parts[1] == "1" {
				salt, err1 := base64.StdEncoding.DecodeString(parts[2])
				sum, err2 := base64.StdEncoding.DecodeString(parts[3])
				if err1 != nil || err2 != nil {
					continue
				}
				mac := hmac.New(sha1.New, salt)
				io.WriteString(mac, host)
				if hmac.Equal(mac.Sum(nil), sum) {
					return true
				}
			}
		}
	}
	return false
}

// 6. An unknown bastion key without a terminal is refused with a pointer to
// --accept-new-host-key; with the flag it is recorded (appended) and used.
func TestUnknownHostKey(t *testing.T) {
	b := requireBed(t)
	l := b.NewLaptop(t)
	other := "other.example.internal " + sshKeygenPub(t)
	l.WriteKnownHosts(t, other)
	before := readFile(t, l.KnownHosts)

	for _, args := range [][]string{
		{"exec", "pg", "--", "sh", "-c", "echo command-ran"},
		{"up", "pg"},
	} {
		r := l.Run(t, runTimeout, args...)
		if r.Code != 1 {
			t.Errorf("%s with an unknown host key and no terminal: exit %d%s, want 1", args[0], r.Code, r.Signal)
		}
		if strings.Contains(r.Stdout, "command-ran") {
			t.Errorf("exec ran the command although the host key is unknown")
		}
		if !strings.Contains(r.Stderr, "--accept-new-host-key") {
			t.Errorf("%s stderr does not mention --accept-new-host-key:\n%s", args[0], r.Stderr)
		}
	}
	if after := readFile(t, l.KnownHosts); after != before {
		t.Fatalf("known_hosts modified without --accept-new-host-key:\n%s", after)
	}

	u := l.StartUp(t, "pg", "--json", "--accept-new-host-key")
	ready := u.WaitEvent("ready", readyTimeout, "failed")
	if got := mustPsql(t, l, ready.Local, "select 1"); got != "1" {
		t.Fatalf("select 1 = %q", got)
	}
	u.Signal(syscall.SIGTERM)
	if code, sig := u.Wait(stopTimeout); code != 143 {
		t.Errorf("up after SIGTERM: exit %d%s, want 143", code, sig)
	}

	after := readFile(t, l.KnownHosts)
	if !strings.HasPrefix(after, before) {
		t.Errorf("known_hosts was not appended to; before:\n%s\nafter:\n%s", before, after)
	}
	if !knownHostsHas(after, b.BastionIP, b.HostKey(t)) {
		t.Errorf("known_hosts has no entry for %s with key %s:\n%s", b.BastionIP, b.HostKey(t), after)
	}
	if fi, err := os.Stat(l.KnownHosts); err == nil && fi.Mode().Perm()&0o022 != 0 {
		t.Errorf("known_hosts mode %v is group/world writable", fi.Mode().Perm())
	}

	// Now known: no flag needed.
	r := l.Run(t, runTimeout, "exec", "pg", "--", "psql", "-X", "-tA", "-c", "select 1")
	if r.Code != 0 || r.Stdout != "1\n" {
		t.Errorf("exec after the key was recorded: exit %d%s, stdout %q", r.Code, r.Signal, r.Stdout)
	}
}

// 7. The local port is taken: fail at once, naming it, and run nothing.
func TestBusyLocalPort(t *testing.T) {
	b := requireBed(t)
	l := b.NewLaptop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	check := func(t *testing.T, args ...string) {
		r := l.Run(t, runTimeout, args...)
		if r.Code != 1 {
			t.Errorf("exit %d%s, want 1", r.Code, r.Signal)
		}
		if !strings.Contains(r.Stderr, busy) {
			t.Errorf("stderr does not name %s:\n%s", busy, r.Stderr)
		}
		if strings.Contains(r.Stdout, "command-ran") {
			t.Errorf("exec ran the command although the port is busy")
		}
	}
	t.Run("local_port in config", func(t *testing.T) {
		l.WriteConfig(t, Target{LocalPort: ln.Addr().(*net.TCPAddr).Port})
		defer l.WriteConfig(t, Target{})
		t.Run("exec", func(t *testing.T) { check(t, "exec", "pg", "--", "sh", "-c", "echo command-ran") })
		t.Run("up", func(t *testing.T) { check(t, "up", "pg") })
	})
	t.Run("--local-port", func(t *testing.T) {
		t.Run("exec", func(t *testing.T) {
			// exec's flags go before NAME: after it, everything is the command.
			check(t, "exec", "--local-port", port, "pg", "--", "sh", "-c", "echo command-ran")
		})
		t.Run("up", func(t *testing.T) { check(t, "up", "pg", "--local-port", port) })
	})
}

// 8. SIGTERM → 143, SIGINT → 130, after a clean shutdown that frees the port.
func TestUpSignals(t *testing.T) {
	b := requireBed(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		// hold a client connection open through the tunnel while signalling
		busy bool
	}{
		{syscall.SIGTERM, 143, false},
		{syscall.SIGINT, 130, true},
	} {
		t.Run(fmt.Sprintf("%v", tc.sig), func(t *testing.T) {
			l := b.NewLaptop(t)
			u, local := startReady(t, b, l)
			if got := mustPsql(t, l, local, "select 1"); got != "1" {
				t.Fatalf("select 1 = %q", got)
			}
			var held net.Conn
			if tc.busy {
				c, err := net.Dial("tcp", local)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				held = c
			}

			t0 := time.Now()
			u.Signal(tc.sig)
			code, sig := u.Wait(stopTimeout)
			t.Logf("up exited %v after %v (client connection held: %v)", time.Since(t0).Round(time.Millisecond), tc.sig, tc.busy)
			if code != tc.code {
				t.Errorf("up after %v: exit %d%s, want %d", tc.sig, code, sig, tc.code)
			}

			if held != nil {
				_ = held.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := held.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
					t.Errorf("a client connection through the tunnel is still open after up exited (read: %v)", err)
				}
			}
			ln, err := net.Listen("tcp", local)
			if err != nil {
				t.Fatalf("local port not free after up exited: %v", err)
			}
			ln.Close()
		})
	}
}

// distinctBackends runs n psql sessions at once through addr, each holding
// its backend for hold seconds, and checks that all succeed on n distinct
// backends: the tunnel carried them side by side.
func distinctBackends(t *testing.T, l *Laptop, addr string, n int, hold float64) error {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		pids = map[string]bool{}
		errs []error
	)
	for range n {
		wg.Go(func() {
			out, err := l.Psql(t, addr, fmt.Sprintf("select pg_backend_pid(), pg_sleep(%g)", hold))
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
		return fmt.Errorf("%d/%d sessions failed, %d distinct backend pids, want %d", len(errs), n, len(pids), n)
	}
	return nil
}
