package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNoArgumentsWithoutTerminalPrintsHelp(t *testing.T) {
	r := runApp(t, nil)
	if r.code != exitOK || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "the interactive TUI") {
		t.Fatalf("code %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestTUILogPath(t *testing.T) {
	a := newApp(nil, nil, nil, func(k string) string {
		return map[string]string{"XDG_STATE_HOME": "/state", "HOME": "/home/u"}[k]
	})
	if p, _ := a.tuiLogPath(); p != "/state/dbtunnel/tui.log" {
		t.Fatalf("with XDG_STATE_HOME: %s", p)
	}
	a = newApp(nil, nil, nil, func(k string) string {
		return map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/u"}[k]
	})
	if p, _ := a.tuiLogPath(); p != "/home/u/.local/state/dbtunnel/tui.log" {
		t.Fatalf("without an absolute XDG_STATE_HOME: %s", p)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "dbtunnel", "tui.log")
	f, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Fatalf("%s mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
}
