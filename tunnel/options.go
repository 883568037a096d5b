package tunnel

import (
	"io"
	"log/slog"
	"time"
)

type options struct {
	logger      *slog.Logger
	dialTimeout time.Duration
	grace       time.Duration
	backoffMin  time.Duration
	backoffMax  time.Duration
	demandGap   time.Duration
}

func defaultOptions() options {
	return options{
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		dialTimeout: 15 * time.Second,
		grace:       5 * time.Second,
		backoffMin:  500 * time.Millisecond,
		backoffMax:  30 * time.Second,
		demandGap:   time.Second,
	}
}

// Option changes how Forward runs a tunnel.
type Option func(*options)

// WithLogger sets the logger; the tunnel adds its name to every record.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDialTimeout bounds how long a local client waits for the backend (a
// session to come up, then its own channel to open) before it is closed.
func WithDialTimeout(d time.Duration) Option { return func(o *options) { o.dialTimeout = d } }

// WithGrace sets how long Close lets active connections finish.
func WithGrace(d time.Duration) Option { return func(o *options) { o.grace = d } }

// WithBackoff sets the first and the largest delay between session attempts.
func WithBackoff(first, max time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = first, max }
}

// WithDemandGap sets the least time between two session attempts that were
// brought forward because a client is waiting. A client arriving while the
// backend is down cuts the backoff short, so a bastion that comes back is
// used at once, yet a burst of clients cannot hammer it.
func WithDemandGap(d time.Duration) Option { return func(o *options) { o.demandGap = d } }
