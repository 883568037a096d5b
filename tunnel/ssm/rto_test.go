package ssm

import (
	"testing"
	"time"
)

func TestRTO(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		samples []time.Duration
		want    time.Duration
	}{
		{"initial", nil, 200 * ms},
		// rttvar = (3·25+0)/4 = 18.75, srtt = 100 → 100 + 75 = 175
		{"one exact sample", []time.Duration{100 * ms}, 175 * ms},
		// rttvar = (75+80)/4 = 38.75, srtt = (700+20)/8 = 90 → 90+155 = 245
		{"fast sample", []time.Duration{20 * ms}, 245 * ms},
		{"slow samples hit the cap", []time.Duration{3 * time.Second, 3 * time.Second}, time.Second},
		{"steady loopback keeps the 10ms floor", repeat(100*time.Microsecond, 200), 0},
	} {
		r := newRTO()
		for _, s := range tc.samples {
			r.sample(s)
		}
		if tc.want == 0 {
			if r.rto < minRTOVar || r.rto > minRTOVar+time.Millisecond {
				t.Errorf("%s: rto %v, want just above %v", tc.name, r.rto, minRTOVar)
			}
			continue
		}
		if r.rto != tc.want {
			t.Errorf("%s: rto %v, want %v", tc.name, r.rto, tc.want)
		}
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
