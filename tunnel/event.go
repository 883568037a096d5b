package tunnel

import "time"

// State is where a tunnel's backend stands.
type State string

const (
	StateConnecting   State = "connecting"
	StateReady        State = "ready"
	StateReconnecting State = "reconnecting"
	// StateIdle: the backend ended the session for inactivity (the SSM
	// service's idle timeout, the account's policy). No new session is made
	// until a client connects, so the policy holds.
	StateIdle   State = "idle"
	StateFailed State = "failed"
	StateClosed State = "closed"
)

// Event reports a change of State. Events for one tunnel arrive in order.
type Event struct {
	State State
	Time  time.Time
	// Attempt counts the session attempts since the last success (1 for the
	// first try after a loss).
	Attempt int
	// Delay is how long the supervisor waits before the next attempt
	// (reconnecting only).
	Delay time.Duration
	// Err is why the session was lost or could not be made (reconnecting,
	// idle, failed).
	Err error
}

// Stats is a snapshot of a tunnel's counters.
type Stats struct {
	State State
	// BytesIn went from the remote database to local clients, BytesOut the
	// other way.
	BytesIn, BytesOut int64
	// Active connections now, Total accepted since the start.
	Active, Total int64
	// Reconnects counts sessions made after the first.
	Reconnects int64
	LastErr    error
}
