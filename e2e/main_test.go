//go:build linux

// Package e2e runs dbtunnel end to end against real parts: OpenSSH sshd as
// the bastion and PostgreSQL as the database, each in its own network
// namespace, so that the tunnel is the only way from the test (the "laptop",
// in the root namespace) to the database. See testbed_test.go.
//
// Needs root, /usr/sbin/sshd, ssh, ssh-keygen, psql, the PostgreSQL server
// binaries and working `ip netns`. Without them the tests skip, unless
// CI=true, where they fail. E2E_KEEP=1 keeps the temp dir (logs, configs);
// E2E_RACE=1 builds dbtunnel with -race.
package e2e

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// Set once by TestMain before any test runs, read-only afterwards.
var (
	bed       *Bed
	bedErr    error // setup failed
	prereqErr error // a prerequisite is missing
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	logf := func(format string, args ...any) {
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, format+"\n", args...)
		}
	}
	// Tear down on ^C / SIGTERM too (the test binary would otherwise die
	// without running deferred cleanups). Registered before the setup so a
	// signal during it is not lost; the teardown waits for the setup.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	setUp := make(chan *Bed, 1)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: tearing down the test bed\n", s)
		b := <-setUp
		setUp <- b
		b.Close()
		os.Exit(1)
	}()

	b, err := newBed(logf)
	setUp <- b
	defer b.Close()

	// go test -timeout panics without running deferred functions: tear
	// down a little before that happens.
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, err := time.ParseDuration(f.Value.String()); err == nil && d > 20*time.Second {
			watchdog := time.AfterFunc(d-5*time.Second, func() {
				fmt.Fprintf(os.Stderr, "e2e: test timeout %v about to expire: tearing down the test bed\n", d)
				b.Close()
			})
			defer watchdog.Stop()
		}
	}

	var pe *prereqError
	switch {
	case errors.As(err, &pe):
		prereqErr = err
		if inCI() {
			fmt.Fprintf(os.Stderr, "e2e: prerequisite missing and CI=true, tests will fail: %v\n", err)
		}
	case err != nil:
		bedErr = err
		fmt.Fprintf(os.Stderr, "e2e: test bed setup failed: %v\n", err)
	default:
		bed = b
	}
	return m.Run()
}

// requireBed returns the shared test bed, or skips (fails with CI=true) when
// a prerequisite is missing, or fails when setting it up failed.
func requireBed(t *testing.T) *Bed {
	t.Helper()
	switch {
	case prereqErr != nil && inCI():
		t.Fatalf("e2e prerequisite missing (CI=true, so this is a failure): %v", prereqErr)
	case prereqErr != nil:
		t.Skipf("e2e prerequisite missing: %v", prereqErr)
	case bedErr != nil:
		t.Fatalf("e2e test bed setup failed: %v", bedErr)
	}
	bed.logOnFailure(t)
	return bed
}
