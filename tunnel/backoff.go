package tunnel

import (
	"math/rand/v2"
	"time"
)

// backoff yields exponentially growing delays with ±20% jitter, so that many
// clients cut off by the same bastion restart do not redial in lockstep.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, next: min}
}

func (b *backoff) delay() time.Duration {
	d := b.next
	b.next = min(b.next*2, b.max)
	jitter := time.Duration(float64(d) * (rand.Float64()*0.4 - 0.2))
	return min(d+jitter, b.max)
}

func (b *backoff) reset() { b.next = b.min }
