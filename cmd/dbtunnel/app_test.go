package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

type result struct {
	code           int
	stdout, stderr string
}

// runApp runs the command line in-process with a clean environment: HOME is
// a temp dir and only the given variables are set.
func runApp(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runAppIn(t, t.TempDir(), env, args...)
}

// runAppIn is runApp with a given HOME, for runs that share a cache.
func runAppIn(t *testing.T, home string, env map[string]string, args ...string) result {
	t.Helper()
	getenv := func(k string) string {
		if k == "HOME" {
			return home
		}
		return env[k]
	}
	var stdout, stderr bytes.Buffer
	a := newApp(strings.NewReader(""), &stdout, &stderr, getenv)
	code := a.run(&interrupts{ctx: context.Background(), force: context.Background()}, args)
	return result{code, stdout.String(), stderr.String()}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dbtunnel.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const sshTarget = `
targets:
  pg:
    host: db.internal
    port: 5432
    via: ssh
    local_port: %PORT%
    ssh:
      host: 127.0.0.1
      port: 1
      user: ec2-user
`

func TestUnknownTargetIsUsageError(t *testing.T) {
	cfg := writeConfig(t, strings.ReplaceAll(sshTarget, "%PORT%", "15432"))
	r := runApp(t, nil, "--config", cfg, "up", "nope")
	if r.code != exitUsage || !strings.Contains(r.stderr, `unknown target "nope"`) || !strings.Contains(r.stderr, "known: pg") {
		t.Fatalf("%+v", r)
	}
}

func TestConfigErrorNamesPosition(t *testing.T) {
	cfg := writeConfig(t, "targets:\n  pg:\n    host: x\n    port: 5432\n    colour: red\n")
	r := runApp(t, nil, "--config", cfg, "up", "pg")
	if r.code != exitUsage || !strings.Contains(r.stderr, cfg+":5:5") || !strings.Contains(r.stderr, "targets.pg.colour") {
		t.Fatalf("%+v", r)
	}
}

func TestMissingExplicitConfig(t *testing.T) {
	r := runApp(t, nil, "--config", filepath.Join(t.TempDir(), "absent.yaml"), "up", "pg")
	if r.code != exitUsage || !strings.Contains(r.stderr, "absent.yaml") {
		t.Fatalf("%+v", r)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	cfg := writeConfig(t, strings.ReplaceAll(sshTarget, "%PORT%", "15432"))
	r := runApp(t, map[string]string{"DBTUNNEL_CONFIG": cfg}, "url", "pg")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "postgres://127.0.0.1:15432?sslmode=prefer" {
		t.Fatalf("%+v", r)
	}
}

func TestBusyLocalPortFailsNamingAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := writeConfig(t, strings.ReplaceAll(sshTarget, "%PORT%", "0"))
	for _, args := range [][]string{
		{"--config", cfg, "exec", "--local-port", itoa(port), "pg", "--", "true"},
		{"--config", cfg, "exec", "pg", "--local-port", itoa(port), "--", "true"},
		{"--config", cfg, "up", "pg", "--local-port", itoa(port)},
	} {
		r := runApp(t, nil, args...)
		if r.code != exitFailure || !strings.Contains(r.stderr, ln.Addr().String()) {
			t.Fatalf("%q: %+v", args, r)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cfg := writeConfig(t, strings.ReplaceAll(sshTarget, "%PORT%", "0"))
	for _, args := range [][]string{
		{"up"},
		{"exec", "pg"},
		{"exec", "pg", "--"},
		{"--config", cfg, "exec", "pg", "--local-port", "1", "psql", "--", "x"},
		{"--config", cfg, "exec", "pg", "--bogus", "--", "psql"},
		{"--config", cfg, "up", "pg", "pg"},
		{"up", "--no-such-flag", "pg"},
		{"--log-level", "loud", "version"},
		{"--config", cfg, "up", "--via", "carrier-pigeon", "pg"},
	} {
		r := runApp(t, nil, args...)
		if r.code != exitUsage || r.stderr == "" {
			t.Errorf("%q: %+v", args, r)
		}
	}
}

func TestVersion(t *testing.T) {
	r := runApp(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "dbtunnel dev") {
		t.Fatalf("%+v", r)
	}
}

func TestCompletion(t *testing.T) {
	r := runApp(t, nil, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "dbtunnel") {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
}

func TestLogFileIsPrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dbtunnel.log")
	r := runApp(t, nil, "--log-file", p, "version")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("log file mode %v", fi.Mode().Perm())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
