//go:build unix

package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests drive the real binary on a real terminal: tmux runs
// `dbtunnel demo` in a detached session on a private socket, keys go in
// with send-keys and the screen comes back with capture-pane.

// needTool finds a program the test cannot do without: in CI its absence
// fails the test, elsewhere it skips it.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v; CI must have it", name, err)
	}
	t.Skipf("no %s here", name)
	return ""
}

// tmuxDemo is one `dbtunnel demo` running in its own tmux server.
type tmuxDemo struct {
	t    *testing.T
	tmux string
	sock string
	env  []string
	// tmp is the demo's TMPDIR: the sandbox makes its directory, and
	// the demo its log file, in it; both must be gone after a clean exit.
	tmp  string
	exit string // the demo's exit code is written here when it ends
	errf string // the demo's stderr
}

// screenTimeout bounds every wait for the screen; generous, because the
// machine is shared and the sandbox runs initdb.
const screenTimeout = 60 * time.Second

// startTmuxDemo builds dbtunnel, and runs `dbtunnel demo` on a 120×40
// terminal with a private HOME, XDG directories and TMPDIR, and only the
// environment given here (plus extra).
func startTmuxDemo(t *testing.T, extra ...string) *tmuxDemo {
	t.Helper()
	tmuxBin := needTool(t, "tmux")
	needDemoPostgres(t)
	goBin := needTool(t, "go")

	bin := filepath.Join(t.TempDir(), "dbtunnel")
	build := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	home := t.TempDir()
	// Run as root, the sandbox's PostgreSQL runs as another user, who
	// must be able to traverse TMPDIR; t.TempDir's parent is 0700.
	tmp, err := os.MkdirTemp("", "dbtunnel-tmux-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	d := &tmuxDemo{
		t: t, tmux: tmuxBin, tmp: tmp,
		sock: fmt.Sprintf("dbtunnel-test-%d-%d", os.Getpid(), time.Now().UnixNano()),
		exit: filepath.Join(home, "exit"), errf: filepath.Join(home, "stderr"),
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		// A terminal that can show 256 colours, so that only NO_COLOR
		// can take them away.
		"TERM=xterm-256color", "LANG=C.UTF-8",
	}
	env = append(env, extra...)
	// The tmux server's own sockets go under HOME too.
	d.env = append(env, "TMUX_TMPDIR="+home)

	var cmd strings.Builder
	cmd.WriteString("env -i")
	for _, kv := range env {
		cmd.WriteString(" " + shellQuote(kv))
	}
	fmt.Fprintf(&cmd, " %s demo 2>%s; echo $? >%s.tmp && mv %s.tmp %s",
		shellQuote(bin), shellQuote(d.errf), shellQuote(d.exit), shellQuote(d.exit), shellQuote(d.exit))
	if out, err := d.run("-f", "/dev/null", "new-session", "-d", "-s", "demo", "-x", "120", "-y", "40", cmd.String()); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { d.run("kill-server") })
	return d
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (d *tmuxDemo) run(args ...string) (string, error) {
	cmd := exec.Command(d.tmux, append([]string{"-L", d.sock}, args...)...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// screen is what the terminal shows; with escapes, its attributes and
// colours as SGR sequences.
func (d *tmuxDemo) screen(escapes bool) string {
	args := []string{"capture-pane", "-p", "-t", "demo"}
	if escapes {
		args = append(args, "-e")
	}
	out, err := d.run(args...)
	if err != nil {
		return fmt.Sprintf("(capture-pane: %v: %s)", err, out)
	}
	return out
}

func (d *tmuxDemo) keys(keys ...string) {
	d.t.Helper()
	if out, err := d.run(append([]string{"send-keys", "-t", "demo"}, keys...)...); err != nil {
		d.t.Fatalf("send-keys %q: %v: %s", keys, err, out)
	}
}

// waitScreen polls the screen until re matches it and returns the
// submatches; past the deadline it fails with the screen and the demo's
// stderr.
func (d *tmuxDemo) waitScreen(what string, re *regexp.Regexp) []string {
	d.t.Helper()
	deadline := time.Now().Add(screenTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s := d.screen(false)
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			stderr, _ := os.ReadFile(d.errf)
			d.t.Fatalf("%s: no %q on the screen within %s:\n%s\nstderr:\n%s", what, re, screenTimeout, s, stderr)
		}
		<-tick.C
	}
}

// waitExit waits for the demo to end and returns its exit code, once
// the shell that wrote it has ended too and tmux has closed the session.
func (d *tmuxDemo) waitExit() int {
	d.t.Helper()
	deadline := time.Now().Add(screenTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	code := -1
	for {
		if code < 0 {
			if b, err := os.ReadFile(d.exit); err == nil {
				if code, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
					d.t.Fatalf("exit code %q: %v", b, err)
				}
			}
		}
		if code >= 0 {
			if _, err := d.run("has-session", "-t", "demo"); err != nil {
				return code
			}
		}
		if time.Now().After(deadline) {
			if code >= 0 {
				d.t.Fatalf("the tmux session outlived the demo (exit code %d) by %s", code, screenTimeout)
			}
			d.t.Fatalf("the demo did not exit within %s:\n%s", screenTimeout, d.screen(false))
		}
		<-tick.C
	}
}

// waitTargets waits for both sandbox scopes to be scanned, with the
// cursor on the first config target.
func (d *tmuxDemo) waitTargets() {
	d.t.Helper()
	d.waitScreen("scopes loaded", regexp.MustCompile(`(?s)scopes: ✓ dev/\S+ \(3\) · ✓ prod/\S+ \(3\).*\n› ✓ ok\s+dev-aurora\s`))
}

// pids lists the processes whose command line mentions dir (the
// sandbox's PostgreSQL runs from a directory under it).
func pids(t *testing.T, dir string) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

var statsRe = regexp.MustCompile(`connections (\d+) \((\d+) total\)  in ([\d.]+ [KMG]?i?B)  out ([\d.]+ [KMG]?i?B)  reconnects (\d+)`)

// screenStats are the counters the tunnels screen shows for a tunnel.
type screenStats struct {
	active, total int
	in, out       float64 // bytes, to the precision shown
}

func parseStats(t *testing.T, m []string) screenStats {
	t.Helper()
	a, _ := strconv.Atoi(m[1])
	n, _ := strconv.Atoi(m[2])
	return screenStats{active: a, total: n, in: parseBytes(t, m[3]), out: parseBytes(t, m[4])}
}

func parseBytes(t *testing.T, s string) float64 {
	t.Helper()
	num, unit, _ := strings.Cut(s, " ")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		t.Fatalf("byte count %q: %v", s, err)
	}
	switch unit {
	case "KiB":
		v *= 1 << 10
	case "MiB":
		v *= 1 << 20
	case "GiB":
		v *= 1 << 30
	}
	return v
}

// waitStats waits for the tunnel's line to show active and total
// connections.
func (d *tmuxDemo) waitStats(what string, active, total int) screenStats {
	d.t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`connections %d \(%d total\)  in ([\d.]+ [KMG]?i?B)  out ([\d.]+ [KMG]?i?B)`, active, total))
	d.waitScreen(what, re)
	return parseStats(d.t, statsRe.FindStringSubmatch(d.screen(false)))
}

// heldPsql is a psql session fed through a pipe: it stays connected
// until its input ends.
type heldPsql struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  strings.Builder
	done chan error
}

func startHeldPsql(t *testing.T, psql, url string) *heldPsql {
	t.Helper()
	h := &heldPsql{cmd: exec.Command(psql, "-X", "-At", "-v", "ON_ERROR_STOP=1", url), done: make(chan error, 1)}
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.out
	h.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var err error
	if h.in, err = h.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	t.Cleanup(func() {
		h.in.Close()
		h.cmd.Process.Kill()
		<-h.done
	})
	return h
}

// wait waits for psql to end and returns its error and output.
func (h *heldPsql) wait(t *testing.T) (string, error) {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return h.out.String(), err
	case <-time.After(screenTimeout):
		t.Fatalf("psql did not end within %s", screenTimeout)
	}
	return "", nil
}

// TestDemoInTmux opens a tunnel in the demo's TUI on a real terminal,
// queries the sandbox's PostgreSQL through it with the real psql, reads
// the tunnel's connection counts and bytes back from the screen, and
// quits: the confirmation is asked while a connection is open, and after
// it the process has exited, the port is free and no PostgreSQL, file or
// directory of the sandbox is left.
func TestDemoInTmux(t *testing.T) {
	psql := needTool(t, "psql")
	d := startTmuxDemo(t)
	d.waitTargets()
	if s := d.screen(true); !hasColourSGR(s) {
		t.Fatalf("no colour on a 256-colour terminal without NO_COLOR (the NO_COLOR test would prove nothing):\n%q", s)
	}
	if len(pids(t, d.tmp)) == 0 && runtime.GOOS == "linux" {
		t.Fatalf("no sandbox PostgreSQL running under %s", d.tmp)
	}

	// The cursor is on dev-aurora; o opens it with its best route.
	d.keys("o")
	m := d.waitScreen("tunnel ready", regexp.MustCompile(`› ● dev-aurora\s+ready\s+127\.0\.0\.1:(\d+)\s+via ssm i-[0-9a-f]+`))
	port := m[1]
	url := "postgres://postgres@127.0.0.1:" + port + "/demo?sslmode=disable"
	d.waitScreen("url", regexp.MustCompile(`(?m)^url `+regexp.QuoteMeta(url)+`\s*$`))
	d.waitScreen("idle counters", regexp.MustCompile(`connections 0 \(0 total\)  in 0 B  out 0 B  reconnects 0`))

	// One session held open, one query beside it.
	a := startHeldPsql(t, psql, url)
	d.waitStats("held session", 1, 1)
	q := exec.Command(psql, "-X", "-At", "-c", "select count(*) from orders", url)
	q.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := q.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "100" {
		t.Fatalf("select count(*) from orders through the tunnel: %q, %v", out, err)
	}
	s1 := d.waitStats("held session and a query", 1, 2)
	if s1.in <= 0 || s1.out <= 0 || s1.in <= s1.out {
		// A query's answer and the server's greeting outweigh what
		// the clients sent.
		t.Fatalf("after a query: in %.0f B, out %.0f B", s1.in, s1.out)
	}

	// The held session fetches 100000 bytes and ends: the bytes in grow
	// by at least that.
	fmt.Fprintln(a.in, "select length(repeat('x', 100000)), repeat('x', 100000);")
	a.in.Close()
	aout, err := a.wait(t)
	if err != nil || !strings.HasPrefix(aout, "100000|xxxxxxxx") || len(aout) < 100000 {
		t.Fatalf("held psql: %v: %.200q", err, aout)
	}
	s2 := d.waitStats("held session ended", 0, 2)
	if s2.in-s1.in < 100000-2*52 || s2.out <= s1.out {
		// The screen rounds KiB to a tenth: 52 bytes either way.
		t.Fatalf("after 100000 bytes: in %.0f -> %.0f B, out %.0f -> %.0f B", s1.in, s2.in, s1.out, s2.out)
	}

	// Quitting with a connection open asks first, then closes it.
	b := startHeldPsql(t, psql, url)
	d.waitStats("second held session", 1, 3)
	d.keys("q")
	d.waitScreen("quit confirmation", regexp.MustCompile(`1 connection\(s\) active: quit and close every tunnel\? \(y/n\)`))
	d.keys("y")
	if code := d.waitExit(); code != 0 {
		stderr, _ := os.ReadFile(d.errf)
		t.Fatalf("demo exit code %d; stderr:\n%s", code, stderr)
	}
	// An idle psql notices a closed session only when it next uses it.
	fmt.Fprintln(b.in, "select 1;")
	b.in.Close()
	if bout, err := b.wait(t); err == nil || strings.Contains(bout, "\n1\n") || strings.HasPrefix(bout, "1\n") {
		t.Errorf("psql kept its session after the demo quit: %v: %q", err, bout)
	} else {
		t.Logf("the held psql after the quit: %v: %s", err, strings.TrimSpace(bout))
	}
	t.Logf("counters on the screen: %+v, then %+v", s1, s2)

	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Errorf("port %s still taken after the demo: %v", port, err)
	} else {
		l.Close()
	}
	if left := pids(t, d.tmp); len(left) > 0 {
		t.Errorf("processes left: %q", left)
	}
	if left, err := os.ReadDir(d.tmp); err != nil || len(left) > 0 {
		t.Errorf("left in TMPDIR: %v %v", left, err)
	}
}

// TestDemoInTmuxNoColor: with NO_COLOR the screens carry no colour, only
// bold, underline and reverse.
func TestDemoInTmuxNoColor(t *testing.T) {
	d := startTmuxDemo(t, "NO_COLOR=1")
	d.waitTargets()
	s := d.screen(true)
	if hasColourSGR(s) {
		t.Fatalf("colour with NO_COLOR=1:\n%q", s)
	}
	if !strings.Contains(s, "\x1b[7m") {
		t.Fatalf("no reverse video for the selected row with NO_COLOR=1:\n%q", s)
	}
	d.keys("o")
	d.waitScreen("tunnel ready", regexp.MustCompile(`› ● dev-aurora\s+ready`))
	if s := d.screen(true); hasColourSGR(s) {
		t.Fatalf("colour on the tunnels screen with NO_COLOR=1:\n%q", s)
	}
	d.keys("q")
	if code := d.waitExit(); code != 0 {
		t.Fatalf("demo exit code %d", code)
	}
}

var sgrRe = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// hasColourSGR reports whether s sets a foreground, background or
// underline colour.
func hasColourSGR(s string) bool {
	for _, m := range sgrRe.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			n, err := strconv.Atoi(p)
			if err != nil {
				continue
			}
			if (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) || n == 58 {
				return true
			}
		}
	}
	return false
}
