package awssource

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
)

// LoginError means the profile gets its credentials from IAM Identity
// Center (SSO) and its session is missing or expired: the user has to log
// in again.
type LoginError struct {
	Profile string
	Err     error
}

func (e *LoginError) Error() string {
	return fmt.Sprintf("sso session of profile %s has expired or is missing: run aws sso login --profile %s", e.Profile, e.Profile)
}

func (e *LoginError) Unwrap() error { return e.Err }

// Command is the command that renews the session.
func (e *LoginError) Command() string { return "aws sso login --profile " + e.Profile }

// CredentialsReason says what is wrong with a profile's credentials.
type CredentialsReason int

const (
	// CredentialsMissing: the SDK's chain found no credentials at all.
	CredentialsMissing CredentialsReason = iota + 1
	// CredentialsExpired: the credentials were found but have expired.
	CredentialsExpired
	// CredentialsRejected: AWS did not accept the credentials (a wrong
	// key, or a region the account has not enabled).
	CredentialsRejected
	// CredentialsUnavailable: the credential provider failed (assume-role
	// denied, credential_process failing, ...).
	CredentialsUnavailable
)

// CredentialsError means no usable credentials for the profile; nothing in
// the scope can be read.
type CredentialsError struct {
	Profile string
	Region  string
	Reason  CredentialsReason
	Err     error
}

func (e *CredentialsError) Error() string {
	switch e.Reason {
	case CredentialsMissing:
		return fmt.Sprintf("no AWS credentials found for profile %s: configure the profile (aws configure --profile %s) or set AWS_PROFILE", e.Profile, e.Profile)
	case CredentialsExpired:
		return fmt.Sprintf("credentials for profile %s have expired: %v", e.Profile, e.Err)
	case CredentialsRejected:
		return fmt.Sprintf("credentials for profile %s were rejected in %s (wrong keys, or a region not enabled for the account): %v", e.Profile, e.Region, e.Err)
	default:
		return fmt.Sprintf("cannot get credentials for profile %s: %v", e.Profile, e.Err)
	}
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// errorCode is the AWS error code in err's chain, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isAccessDenied(err error) bool {
	switch code := errorCode(err); code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
		"UnauthorizedAccess", "AuthorizationError", "Forbidden":
		return true
	default:
		return strings.HasSuffix(code, ".UnauthorizedOperation")
	}
}

// isExpired reports an API error that says the request's credentials have
// expired.
func isExpired(err error) bool {
	switch errorCode(err) {
	case "ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired":
		return true
	}
	return false
}

// isRejected reports an API error that says the credentials are not valid.
func isRejected(err error) bool {
	switch errorCode(err) {
	case "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure",
		"SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature",
		"MissingAuthenticationToken", "MissingAuthenticationTokenException":
		return true
	}
	return false
}

// isUnavailable reports a service that does not exist in the region: its
// regional host does not resolve, or the endpoint does not know the call.
func isUnavailable(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return true
	}
	switch errorCode(err) {
	case "UnknownOperationException", "InvalidAction", "UnsupportedOperation", "NotImplemented":
		return true
	}
	return false
}

// credentialsFailure classifies an error from retrieving credentials.
func credentialsFailure(err error, profile, region string, usesSSO bool) error {
	if isSSOError(err) || (usesSSO && !isNetError(err)) {
		return &LoginError{Profile: profile, Err: err}
	}
	var empty *credentials.StaticCredentialsEmptyError
	msg := err.Error()
	switch {
	case errors.As(err, &empty), strings.Contains(msg, "EC2 IMDS"):
		// The chain fell through to the instance metadata service: nothing
		// was configured.
		return &CredentialsError{Profile: profile, Region: region, Reason: CredentialsMissing, Err: err}
	case isExpired(err) || strings.Contains(strings.ToLower(msg), "expired"):
		return &CredentialsError{Profile: profile, Region: region, Reason: CredentialsExpired, Err: err}
	case isRejected(err):
		return &CredentialsError{Profile: profile, Region: region, Reason: CredentialsRejected, Err: err}
	}
	return &CredentialsError{Profile: profile, Region: region, Reason: CredentialsUnavailable, Err: err}
}

// isSSOError recognises the SDK's ways of saying the SSO token is gone:
// ssocreds' InvalidTokenError, the SSO portal refusing the access token,
// the OIDC service refusing the refresh token, a missing token cache file.
func isSSOError(err error) bool {
	var inv *ssocreds.InvalidTokenError
	if errors.As(err, &inv) {
		return true
	}
	switch errorCode(err) {
	case "InvalidGrantException", "UnauthorizedException", "InvalidClientException":
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "SSO session has expired or is invalid") ||
		strings.Contains(msg, "cached SSO token") ||
		strings.Contains(msg, "SSO token file") ||
		strings.Contains(msg, "refresh SSO token")
}

func isNetError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// apiFailure turns an API error into a fatal error when it concerns the
// credentials themselves (every other call would fail the same way), else
// returns nil and the caller records a warning.
func apiFailure(err error, profile, region string, usesSSO bool) error {
	switch {
	case isExpired(err):
		if usesSSO {
			return &LoginError{Profile: profile, Err: err}
		}
		return &CredentialsError{Profile: profile, Region: region, Reason: CredentialsExpired, Err: err}
	case isRejected(err):
		return &CredentialsError{Profile: profile, Region: region, Reason: CredentialsRejected, Err: err}
	}
	return nil
}
