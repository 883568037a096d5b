package ssm_test

import (
	"net"
	"testing"
	"time"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// gatedConn holds its first Read until gate is closed: a local reader
// that stops for a while.
type gatedConn struct {
	net.Conn
	gate <-chan struct{}
}

func (c gatedConn) Read(p []byte) (int, error) {
	<-c.gate
	return c.Conn.Read(p)
}

// TestFakeStalledReader: an agent that does not pace sends while the local
// reader stops. What the client cannot deliver it holds without
// acknowledging, so the agent stops at its window instead of sending on
// into messages the client would drop, and the backlog goes through as
// soon as the reader returns, not one retransmission at a time (the agent
// resends only its oldest message per RTO).
func TestFakeStalledReader(t *testing.T) {
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{})
	_, c := f.conn(t)
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	gate := make(chan struct{})
	errc := make(chan error, 1)
	// 20 MiB: more than smux (4 MiB), our queue (1 MiB) and the agent's
	// window (10,000 messages) together, so the agent has to stop and
	// wait for the reader. 9000 messages unacknowledged are far more
	// than the sockets between us can hold in flight: the client is
	// holding them back (or, had it acknowledged the ones after a refused
	// message, has dropped them).
	go func() { errc <- exchange(gatedConn{Conn: c, gate: gate}, 0, 20<<20, 7) }()
	eventually(t, "the agent to have 9000 messages unacknowledged", func() bool { return f.session().Unacked >= 9000 })
	close(gate)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if st := f.svc.Stats(); st.Retransmits > 200 {
		t.Errorf("%d messages resent to catch up a stalled reader, want the backlog delivered without resends", st.Retransmits)
	}
}
