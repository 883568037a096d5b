package ssm_test

import (
	"testing"
	"time"

	"github.com/dbtunnel/dbtunnel/tunnel"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// Through the tunnel core: the service's idle timeout shows as an idle
// event, no session replaces it until a client connects, and that client
// is served by a new one.
func TestTunnelIdleTimeout(t *testing.T) {
	f := newFixture(t, ssmfake.Options{Pacing: ssmfake.NoPacing, Faults: ssmfake.Faults{IdleTimeout: 200 * time.Millisecond}}, ssmfake.Agent{})
	tn := f.forward()
	deadline := time.After(30 * time.Second)
	for idle := false; !idle; {
		select {
		case ev := <-tn.Events():
			idle = ev.State == tunnel.StateIdle
			if idle && !tunnel.IsIdle(ev.Err) {
				t.Fatalf("idle event without the idle error: %v", ev.Err)
			}
		case <-deadline:
			t.Fatal("no idle event")
		}
	}
	if open, all := f.svc.Sessions(), f.svc.AllSessions(); len(open) != 0 || len(all) != 1 {
		t.Fatalf("while idle: %d open, %d started; want 0 and 1", len(open), len(all))
	}
	if err := transfer(tn, 1000, 1000, 7); err != nil {
		t.Fatal(err)
	}
	if all := f.svc.AllSessions(); len(all) != 2 {
		t.Fatalf("%d sessions started, want 2", len(all))
	}
}
