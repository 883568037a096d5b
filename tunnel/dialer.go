// Package tunnel exposes a remote database on a local port: it binds the
// listener, copies bytes both ways for every accepted connection, and keeps
// the backend session alive with a supervisor that redials with backoff.
// It knows nothing of AWS or the config file: callers hand it a Spec and a
// Dialer.
package tunnel

import (
	"context"
	"errors"
	"net"
)

// Dialer opens one connection to the remote database through a bastion.
type Dialer interface {
	DialContext(ctx context.Context) (net.Conn, error)
	Close() error
}

// Connector is a Dialer that keeps one long-lived session to the bastion (an
// SSH connection, an SSM session) and opens each connection inside it. The
// supervisor calls Connect to establish the session, reports the tunnel ready
// once it returns, and calls it again with backoff after the returned channel
// yields the reason the session was lost. DialContext is only called while a
// session is up.
type Connector interface {
	Dialer
	Connect(ctx context.Context) (lost <-chan error, err error)
}

// ErrNotConnected is what a Connector's DialContext returns (wrapped) when
// the session it would open the connection in has ended. The tunnel then
// waits for the supervisor to bring up the next session, within the
// client's dial timeout, rather than failing the client: after a bastion
// restart every pooled client reconnects at once, before the supervisor
// has seen the loss.
var ErrNotConnected = errors.New("not connected")

// Permanent marks err as one that retrying cannot fix (a changed host key,
// rejected credentials): the supervisor gives up at once instead of redialing.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
