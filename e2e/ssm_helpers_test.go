//go:build linux

package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// The SSM end-to-end setup: ssmfake (service and agent) runs in the test
// process. Its HTTP listener is on 127.0.0.1 in the root namespace, where
// the laptop's dbtunnel reaches it; its agent opens every destination
// connection from the bastion namespace (dialFromNS), so the database sees
// the bastion as the client, exactly as with a real instance's agent.

// ssmInstance is the managed instance that stands for the bastion.
const ssmInstance = "i-0e2e0000000000001"

// ssmBed is one test's fake Session Manager, with the bastion as target.
type ssmBed struct {
	svc *ssmfake.Service
}

// startSSMFake starts ssmfake with opts (Addr and Dial are set here) and
// registers the bastion as an online instance whose agent runs version
// agentVersion. It points dbtunnel (run with the laptop's environment,
// which inherits the test's) at the fake, with static credentials and
// nothing of the developer's AWS setup. Cleanup closes the fake.
func startSSMFake(t testing.TB, b *Bed, agentVersion string, opts ssmfake.Options) *ssmBed {
	t.Helper()
	sb := &ssmBed{}
	opts.Addr = "127.0.0.1:0"
	// dialFromNS bounds the dial itself (10 s, the fake's default
	// DialTimeout); the destination is on the bastion's own link.
	opts.Dial = func(_ context.Context, _, address string) (net.Conn, error) {
		return dialFromNS(b.BastionNS, address)
	}
	// E2E_SSM_DEBUG=1 prints the fake's debug log.
	if os.Getenv("E2E_SSM_DEBUG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sb.svc = ssmfake.New(opts)
	if err := sb.svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.svc.Close() })
	sb.svc.AddTarget(ssmInstance, ssmfake.Agent{Version: agentVersion, Online: true})

	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_SSM":        sb.svc.URL(),
		"AWS_ACCESS_KEY_ID":           "AKIDE2ETEST",
		"AWS_SECRET_ACCESS_KEY":       "e2e-not-a-secret",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	return sb
}

// writeSSMConfig (re)writes the laptop's config: target pg is the database
// through the bastion instance over SSM, with no discovery involved.
func writeSSMConfig(t *testing.T, b *Bed, l *Laptop) {
	t.Helper()
	cfg := fmt.Sprintf(`targets:
  pg:
    host: %s
    port: %d
    via: ssm
    bastion: %s
    region: eu-west-1
    user: postgres
    dbname: postgres
`, b.DBIP, b.DBPort, ssmInstance)
	if err := os.WriteFile(l.ConfigPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ssmLaptop is a fresh laptop configured for SSM.
func ssmLaptop(t *testing.T, b *Bed) *Laptop {
	t.Helper()
	l := b.NewLaptop(t)
	writeSSMConfig(t, b, l)
	return l
}

// startSSMUp starts `up pg --json` and waits for its ready event, checking
// that it reports the SSM route.
func startSSMUp(t *testing.T, b *Bed, l *Laptop) (*Up, Event) {
	t.Helper()
	u := l.StartUp(t, "pg", "--json")
	ready := u.WaitEvent("ready", readyTimeout, "failed")
	remote := net.JoinHostPort(b.DBIP, fmt.Sprint(b.DBPort))
	if ready.Via != "ssm" || ready.Bastion != ssmInstance || ready.Remote != remote || !strings.HasPrefix(ready.Local, "127.0.0.1:") {
		t.Errorf("ready event = %s, want via ssm, bastion %s, remote %s, local 127.0.0.1:*", ready.Raw, ssmInstance, remote)
	}
	return u, ready
}

// assertAllClosed checks that no session is open on the fake and that
// every session started was ended by the client's TerminateSession.
func (sb *ssmBed) assertAllClosed(t *testing.T) {
	t.Helper()
	if open := sb.svc.Sessions(); len(open) != 0 {
		t.Errorf("%d session(s) still open on the fake: %+v", len(open), open)
	}
	all := sb.svc.AllSessions()
	st := sb.svc.Stats()
	if len(all) == 0 {
		t.Errorf("no session was ever started")
	}
	if st.TerminateSession < int64(len(all)) {
		t.Errorf("TerminateSession called %d time(s) for %d session(s)", st.TerminateSession, len(all))
	}
	for _, s := range all {
		// The client sends the TerminateSession flag first, then calls
		// the API: whichever the fake saw first ended the session.
		if !s.Terminated || (s.EndReason != "TerminateSession" && s.EndReason != "flag") {
			t.Errorf("session %s: terminated %v, reason %q; want ended by the client (flag or TerminateSession)", s.SessionID, s.Terminated, s.EndReason)
		}
	}
}

// dropEvery drops the websocket of every open session abruptly (no close
// handshake, as a network failure would) every period, until stop is
// called.
func dropEvery(svc *ssmfake.Service, period time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				svc.DropWebsocket("")
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// dropEveryData drops the websocket each time the agent has received
// frames more client data frames: the upload is not paced, so a clock
// would drop it a varying number of times (or not at all on a fast run),
// while a count of frames drops it at the same points of every run.
func dropEveryData(svc *ssmfake.Service, frames int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		next := frames
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if svc.Stats().DataIn >= next {
					svc.DropWebsocket("")
					next += frames
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// assertFaultsSurvived checks that the faults bit and were survived by
// resuming the one session: every drop followed by a ResumeSession, no
// new session, messages lost.
func (sb *ssmBed) assertFaultsSurvived(t *testing.T) {
	t.Helper()
	st := sb.svc.Stats()
	all := sb.svc.AllSessions()
	if len(all) != 1 || st.StartSession != 1 {
		t.Fatalf("%d sessions (%d StartSession calls), want the one session resumed throughout: %+v", len(all), st.StartSession, all)
	}
	// A drop during the session's end may bring a ResumeSession whose
	// websocket never attaches, as the session is terminating: one fewer.
	ws := int64(all[0].Websockets)
	if st.Drops < 3 || st.ResumeSession < 3 || ws < st.ResumeSession || ws > 1+st.ResumeSession {
		t.Errorf("%d drops, %d ResumeSession calls, %d websockets: want ≥3 drops, each followed by a resume", st.Drops, st.ResumeSession, all[0].Websockets)
	}
	if st.FaultLost < 100 {
		t.Errorf("%d messages lost: the loss fault did not bite", st.FaultLost)
	}
}
