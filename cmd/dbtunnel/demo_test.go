//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dbtunnel/dbtunnel/internal/sandbox"
)

func needDemoPostgres(t *testing.T) {
	t.Helper()
	if sandbox.FindPostgres() != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("PostgreSQL binaries missing (initdb in /usr/lib/postgresql/*/bin or on PATH); CI must have them")
	}
	t.Skip("no PostgreSQL here")
}

// TestDemoJSON runs `dbtunnel demo --no-tui --json` until Ctrl-C (a
// cancelled context): every reachable target gets a tunnel, the blocked ones
// are reported, the real psql queries the sandbox's PostgreSQL through the
// SSM and the SSH tunnel, and after the interrupt nothing is left: no
// goroutine, no postgres process, no directory.
func TestDemoJSON(t *testing.T) {
	needDemoPostgres(t)
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql: %v", err)
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	a := newApp(strings.NewReader(""), pw, &stderr, func(k string) string { return "" })
	code := make(chan int, 1)
	go func() {
		code <- a.run(&interrupts{ctx: ctx, force: context.Background()}, []string{"demo", "--no-tui", "--json"})
		pw.Close()
	}()

	type event struct {
		Event    string `json:"event"`
		Target   string `json:"target"`
		Via      string `json:"via"`
		URL      string `json:"url"`
		Dir      string `json:"dir"`
		Postgres bool   `json:"postgres"`
		PID      int    `json:"postgres_pid"`
	}
	var (
		sb      event
		blocked = map[string]bool{}
		ready   = map[string]string{}
		urls    = map[string]string{}
		closed  = map[string]bool{}
	)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		switch ev.Event {
		case "sandbox":
			sb = ev
		case "blocked":
			blocked[ev.Target] = true
		case "ready":
			ready[ev.Target] = ev.Via
		case "url":
			urls[ev.Target] = ev.URL
		case "closed":
			closed[ev.Target] = true
		case "failed":
			t.Fatalf("tunnel failed: %s", sc.Text())
		}
		if ev.Event == "url" && ev.Target == "prod-aurora-reader" {
			break // the last target, in name order
		}
	}
	if !sb.Postgres || sb.PID == 0 || sb.Dir == "" {
		t.Fatalf("sandbox event %+v; stderr:\n%s", sb, stderr.String())
	}
	if !blocked["dev-legacy"] || !blocked["prod-orders"] || len(blocked) != 2 {
		t.Errorf("blocked %v, want dev-legacy and prod-orders", blocked)
	}
	want := map[string]string{"analytics": "ssm", "dev-aurora": "ssm", "dev-aurora-ssh": "ssh", "dev-mysql": "ssm", "prod-aurora-reader": "ssm"}
	for name, via := range want {
		if ready[name] != via {
			t.Errorf("%s ready via %q, want %s (ready: %v)", name, ready[name], via, ready)
		}
	}
	for _, name := range []string{"dev-aurora", "dev-aurora-ssh"} {
		cmd := exec.Command(psql, "-X", "-A", "-t", "-c", "select count(*) from orders", urls[name])
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "100" {
			t.Fatalf("psql %s (%s): %v: %s", name, urls[name], err, out)
		}
	}

	cancel()
	rest, _ := io.ReadAll(pr)
	for _, line := range strings.Split(strings.TrimSpace(string(rest)), "\n") {
		var ev event
		if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "closed" {
			closed[ev.Target] = true
		}
	}
	select {
	case c := <-code:
		if c != exitOK {
			t.Fatalf("exit %d; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not exit after the interrupt")
	}
	if len(closed) != len(want) {
		t.Errorf("closed %v, want every tunnel", closed)
	}
	if err := syscall.Kill(sb.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("postgres %d still there after the demo: %v", sb.PID, err)
	}
	if _, err := os.Stat(sb.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sandbox dir %s still there: %v", sb.Dir, err)
	}
}

// TestDemoText: headless without a terminal lists the sandbox with the
// verdicts and fixes, prints the ready lines and the psql commands, and
// with --once exits by itself.
func TestDemoText(t *testing.T) {
	needDemoPostgres(t)
	r := runApp(t, nil, "demo", "--once")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{
		"PostgreSQL: a throwaway cluster",
		"NAME", "dev-aurora", "✓ ok", "dev-legacy", "✗ blocked", "prod/ap-northeast-1",
		"analytics via analytics-tools",
		"fix: aws ec2 authorize-security-group-ingress --group-id sg-",
		"or connect through analytics-tools",
		"dev-aurora-ssh  127.0.0.1:", "via ssh i-", "(ready)",
		`psql "postgres://postgres@127.0.0.1:`,
		"nc 127.0.0.1 ",
		"dbtunnel doctor dev-legacy",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "the sandbox and its database are gone") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}
