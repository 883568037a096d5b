package ssm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/dbtunnel/dbtunnel/tunnel"
)

var (
	// ErrNotConnected is returned (wrapped) by DialContext while no
	// session is up; it is tunnel.ErrNotConnected, so the tunnel waits
	// for the next.
	ErrNotConnected = tunnel.ErrNotConnected
	// ErrConnectToPort is returned by a connection's Read when the agent
	// reported that it could not connect to the destination.
	ErrConnectToPort = errors.New("the agent could not connect to the destination")
	// errClosed ends a session that dbtunnel closed itself.
	errClosed = errors.New("session closed")
)

// ClosedError says the service ended the session with channel_closed: idle
// timeout, TerminateSession from elsewhere, the agent going away.
type ClosedError struct {
	SessionID string
	Target    string
	Reason    string // the service's Output, as given
}

func (e *ClosedError) Error() string {
	msg := fmt.Sprintf("ssm: session %s on %s closed by the service", e.SessionID, e.Target)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Idle() {
		msg += " (the account's idle session timeout; set keepalive on the target to keep idle tunnels open)"
	}
	return msg
}

// Idle reports whether the service closed the session for inactivity.
func (e *ClosedError) Idle() bool {
	r := strings.ToLower(e.Reason)
	return strings.Contains(r, "inactiv") || strings.Contains(r, "idle") || strings.Contains(r, "timed out")
}

// NotConnectedError is StartSession's TargetNotConnected: the service has
// no live agent for the target. It is retried (agents reconnect); Cause,
// which the caller may fill in from what discovery knows of the instance,
// says why in this case, where the backend alone can only list the usual
// reasons.
type NotConnectedError struct {
	Target string
	Cause  string
	Err    error
}

func (e *NotConnectedError) Error() string {
	cause := e.Cause
	if cause == "" {
		cause = "it is offline, or the instance has no route to SSM (a NAT gateway, or VPC endpoints for ssm, ssmmessages and ec2messages)"
	}
	return fmt.Sprintf("ssm: the SSM agent on %s is not connected: %s: %v", e.Target, cause, e.Err)
}

func (e *NotConnectedError) Unwrap() error { return e.Err }

// startError turns a StartSession failure into an error that names the
// likely cause, marked Permanent when retrying cannot help.
func startError(target, document string, err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("ssm: start session on %s: %w", target, err)
	}
	switch ae.ErrorCode() {
	case "TargetNotConnected":
		return &NotConnectedError{Target: target, Err: err}
	case "AccessDeniedException", "AccessDenied":
		return tunnel.Permanent(fmt.Errorf("ssm: not allowed to start a session on %s: the caller needs ssm:StartSession on the instance and on document %s: %w", target, document, err))
	case "InvalidDocument", "InvalidDocumentOperation":
		return tunnel.Permanent(fmt.Errorf("ssm: document %s cannot be used in this account or region: %w", document, err))
	case "InvalidTarget", "InvalidInstanceId", "InvalidParameters", "ValidationException":
		return tunnel.Permanent(fmt.Errorf("ssm: cannot start a session on %s: %w", target, err))
	case "ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException":
		return tunnel.Permanent(fmt.Errorf("ssm: AWS credentials rejected (expired or wrong; log in again, e.g. aws sso login): %w", err))
	}
	return fmt.Errorf("ssm: start session on %s: %w", target, err)
}

// resumeGone reports a ResumeSession failure after which retrying cannot
// help: the session no longer exists or may not be resumed.
func resumeGone(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "DoesNotExistException", "AccessDeniedException", "AccessDenied", "InvalidParameters", "ValidationException",
		"ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException", "InvalidClientTokenId":
		return true
	}
	return false
}
