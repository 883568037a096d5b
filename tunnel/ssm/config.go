// Package ssm is the Session Manager tunnel backend: native port forwarding
// through the SSM agent on an instance, with no session-manager-plugin
// binary. It speaks the data-channel protocol itself (package wire): a
// websocket to ssmmessages, per-message acknowledgement and retransmission,
// the agent handshake, then either smux streams (one per local connection)
// or, with agents too old for that, one connection at a time.
//
// A Dialer is a tunnel.Connector: Connect starts the session(s), DialContext
// opens one connection to the database, and routine websocket drops are
// resumed without the caller noticing.
package ssm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/coder/websocket"
)

// SSMAPI is the part of the SSM API a Dialer uses; *ssm.Client satisfies it.
type SSMAPI interface {
	StartSession(ctx context.Context, in *awsssm.StartSessionInput, optFns ...func(*awsssm.Options)) (*awsssm.StartSessionOutput, error)
	ResumeSession(ctx context.Context, in *awsssm.ResumeSessionInput, optFns ...func(*awsssm.Options)) (*awsssm.ResumeSessionOutput, error)
	TerminateSession(ctx context.Context, in *awsssm.TerminateSessionInput, optFns ...func(*awsssm.Options)) (*awsssm.TerminateSessionOutput, error)
}

// DialFunc opens the data-channel websocket. header carries the SigV4
// signature of the upgrade request.
type DialFunc func(ctx context.Context, url string, header http.Header) (*websocket.Conn, error)

// Config says which instance to go through and where to.
type Config struct {
	// API starts, resumes and ends sessions. Required.
	API SSMAPI
	// Credentials sign the websocket upgrade for service ssmmessages. When
	// nil the upgrade is unsigned (the session token alone, which fakes
	// accept).
	Credentials aws.CredentialsProvider
	// Region of the SSM endpoint, for the signature. Empty: taken from the
	// stream URL's host.
	Region string
	// Target is the managed instance: i-… or mi-…. Required.
	Target string
	// Host is the database as the instance sees it. Empty means the
	// instance itself (document AWS-StartPortForwardingSession).
	Host string
	// Port is the database port. Required.
	Port int
	// SSH starts AWS-StartSSHSession instead of port forwarding: the
	// session carries one SSH connection to Port (usually 22) on the
	// instance itself, whose byte stream the caller hands to an SSH
	// client. Host must be empty. These sessions run in basic mode (one
	// connection per session), as the agent does for this document.
	SSH bool
	// LocalPort is reported to the agent as localPortNumber; informational.
	LocalPort int
	// Sessions spreads local connections over this many SSM sessions, least
	// loaded first. 0 means 1. Each session is paced by the agent to about
	// 1 MB/s, so N sessions give about N times the throughput.
	Sessions int
	// Keepalive, when positive, sends a no-op on an idle session at this
	// interval so the service's idle timeout (20 minutes by default) does
	// not end it. Off by default: that timeout is the account's policy.
	// Only mux sessions can carry it.
	Keepalive time.Duration
	// Logger receives the backend's records. Nil discards them.
	Logger *slog.Logger
	// Dial opens the websocket; nil uses github.com/coder/websocket.
	Dial DialFunc
}

// NewFromAWS builds the Dialer from an aws.Config whose profile and region
// the caller resolved: the SSM client, the credentials and the region come
// from it; cfg supplies the rest.
func NewFromAWS(ac aws.Config, cfg Config) (*Dialer, error) {
	if cfg.API == nil {
		cfg.API = awsssm.NewFromConfig(ac)
	}
	if cfg.Credentials == nil {
		cfg.Credentials = ac.Credentials
	}
	if cfg.Region == "" {
		cfg.Region = ac.Region
	}
	return New(cfg)
}

// DocumentSSH is the SSM document that carries an SSH connection to the
// instance.
const DocumentSSH = "AWS-StartSSHSession"

// document names the SSM document and its parameters for cfg.
func (c *Config) document() (string, map[string][]string) {
	if c.SSH {
		return DocumentSSH, map[string][]string{"portNumber": {fmt.Sprint(c.Port)}}
	}
	params := map[string][]string{
		"portNumber":      {fmt.Sprint(c.Port)},
		"localPortNumber": {fmt.Sprint(c.LocalPort)},
	}
	if c.Host == "" {
		return "AWS-StartPortForwardingSession", params
	}
	params["host"] = []string{c.Host}
	return "AWS-StartPortForwardingSessionToRemoteHost", params
}

// remote names the destination for messages.
func (c *Config) remote() string {
	host := c.Host
	if host == "" {
		host = "localhost"
	}
	return fmt.Sprintf("%s:%d", host, c.Port)
}

func (c *Config) validate() error {
	switch {
	case c.API == nil:
		return errors.New("ssm: no SSM API client")
	case c.Target == "":
		return errors.New("ssm: no target instance")
	case !strings.HasPrefix(c.Target, "i-") && !strings.HasPrefix(c.Target, "mi-"):
		return fmt.Errorf("ssm: target %q is not a managed instance id (i-… or mi-…)", c.Target)
	case c.SSH && c.Host != "":
		return fmt.Errorf("ssm: an SSH session reaches the instance %s itself; host %q cannot be set", c.Target, c.Host)
	case c.Port <= 0 || c.Port > 65535:
		return fmt.Errorf("ssm: invalid port %d for %s", c.Port, c.Target)
	case c.LocalPort < 0 || c.LocalPort > 65535:
		return fmt.Errorf("ssm: invalid local port %d", c.LocalPort)
	case c.Sessions < 0:
		return fmt.Errorf("ssm: invalid number of sessions %d", c.Sessions)
	case c.Keepalive < 0:
		return fmt.Errorf("ssm: invalid keepalive %s", c.Keepalive)
	}
	return nil
}
