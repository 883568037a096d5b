package ssm

import "time"

// Retransmission timing, as the agent and the official client do it.
const (
	initialSRTT   = 100 * time.Millisecond
	initialRTTVar = 25 * time.Millisecond // so the first RTO is 200 ms
	minRTOVar     = 10 * time.Millisecond
	maxRTO        = time.Second
)

// rtoEstimator is Jacobson/Karels: SRTT and RTTVAR as exponentially
// weighted averages (α 1/8, β 1/4), RTO = SRTT + max(10 ms, 4·RTTVAR),
// capped at 1 s. Samples come only from messages sent once (Karn).
type rtoEstimator struct {
	srtt, rttvar, rto time.Duration
}

func newRTO() rtoEstimator {
	r := rtoEstimator{srtt: initialSRTT, rttvar: initialRTTVar}
	r.update()
	return r
}

func (r *rtoEstimator) sample(rtt time.Duration) {
	if rtt < 0 {
		rtt = 0
	}
	diff := r.srtt - rtt
	if diff < 0 {
		diff = -diff
	}
	r.rttvar = (3*r.rttvar + diff) / 4
	r.srtt = (7*r.srtt + rtt) / 8
	r.update()
}

func (r *rtoEstimator) update() {
	r.rto = min(r.srtt+max(minRTOVar, 4*r.rttvar), maxRTO)
}
