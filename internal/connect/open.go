package connect

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awssource"
	"github.com/dbtunnel/dbtunnel/tunnel"
	"github.com/dbtunnel/dbtunnel/tunnel/ssh"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm"
)

// Opener builds backends and opens tunnels with the user's environment.
type Opener struct {
	Logger *slog.Logger
	// Home is the user's home directory, for ~/.ssh.
	Home string
	// AgentSocket is $SSH_AUTH_SOCK.
	AgentSocket string
	// Prompter asks on the terminal; nil when there is none.
	Prompter         ssh.Prompter
	AcceptNewHostKey bool
	// TunnelOptions are passed to every tunnel.Forward.
	TunnelOptions []tunnel.Option
	// AWSConfig loads the AWS configuration for an SSM route's profile and
	// region; nil resolves them as the AWS CLI does.
	AWSConfig func(ctx context.Context, profile, region string) (aws.Config, error)
	// Discovery, when set, is asked about an SSM target's instance when its
	// agent is not connected, to name the cause.
	Discovery discovery.Source
	// Identities shares AWS credentials and assumed roles between the
	// credential fetch, the tunnels and discovery: one sts:AssumeRole and
	// one MFA code per profile and role. Nil: every call assumes anew.
	Identities *awssource.Identities
}

// Open builds the target's dialer and binds its local port. The tunnel
// connects in the background; use WaitReady or Events to follow it.
func (o *Opener) Open(ctx context.Context, t Target) (*tunnel.Tunnel, error) {
	d, err := o.dialer(ctx, t)
	if err != nil {
		return nil, err
	}
	spec := tunnel.Spec{Name: t.Name, Remote: t.Remote(), Via: t.Route.Via, Bastion: t.Route.Bastion}
	opts := append([]tunnel.Option{tunnel.WithLogger(o.Logger)}, o.TunnelOptions...)
	if t.LocalPort != 0 {
		spec.Listen = loopback(t.LocalPort)
		tun, err := tunnel.Forward(ctx, spec, d, opts...)
		if err != nil {
			d.Close()
		}
		return tun, err
	}
	// The same target gets the same port from one run to the next, so
	// saved client settings keep working; a busy port moves to the next.
	for _, port := range stablePorts(t.Name) {
		spec.Listen = loopback(port)
		tun, err := tunnel.Forward(ctx, spec, d, opts...)
		if err == nil {
			return tun, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			d.Close()
			return nil, err
		}
	}
	spec.Listen = loopback(0)
	tun, err := tunnel.Forward(ctx, spec, d, opts...)
	if err != nil {
		d.Close()
	}
	return tun, err
}

func (o *Opener) dialer(ctx context.Context, t Target) (tunnel.Dialer, error) {
	switch {
	case t.Route.SSM != nil:
		ac, err := o.awsConfig(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		d, err := ssm.NewFromAWS(ac, ssm.Config{
			Target:    t.Route.SSM.Instance,
			Host:      remoteHost(t.Host),
			Port:      t.Port,
			LocalPort: t.LocalPort,
			Sessions:  t.Sessions,
			Keepalive: t.Keepalive,
			Logger:    o.Logger.With("tunnel", t.Name),
		})
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		return &explaining{Dialer: d, log: o.Logger.With("tunnel", t.Name), target: t.Route.SSM.Instance,
			explain: func(ctx context.Context) (string, string) { return o.explainNotConnected(ctx, t) }}, nil
	case t.Route.SSH != nil:
		r := t.Route.SSH
		cfg := ssh.Config{
			Host:             r.Host,
			Port:             r.Port,
			User:             r.User,
			ProxyJump:        r.ProxyJump,
			Home:             o.Home,
			AgentSocket:      o.AgentSocket,
			Remote:           t.Remote(),
			AcceptNewHostKey: o.AcceptNewHostKey,
			Prompter:         o.Prompter,
			Logger:           o.Logger.With("tunnel", t.Name),
		}
		if r.IdentityFile != "" {
			cfg.IdentityFiles = []string{r.IdentityFile}
		}
		if r.KnownHosts != "" {
			cfg.KnownHostsFiles = []string{r.KnownHosts}
		}
		if err := o.awsSSH(ctx, t, &cfg); err != nil {
			return nil, err
		}
		d, err := ssh.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		return d, nil
	}
	return nil, usageErrorf("target %s: no route", t.Name)
}

// awsConfig is the AWS configuration for t's calls: its profile and
// region, through its role when it has one.
func (o *Opener) awsConfig(ctx context.Context, t Target) (aws.Config, error) {
	load := o.AWSConfig
	if load == nil {
		load = func(ctx context.Context, profile, region string) (aws.Config, error) {
			return LoadAWSConfig(ctx, profile, region, o.Identities.LoadOption(profile))
		}
	}
	ac, err := load(ctx, t.Scope().AWSProfile(), t.Region)
	if err != nil {
		return aws.Config{}, err
	}
	return o.Identities.Apply(ac, t.Scope()), nil
}

// StablePort is the port a target with no local_port listens on when it is
// free.
func StablePort(name string) int { return stablePorts(name)[0] }

// LoadAWSConfig resolves credentials and region as the AWS CLI does, for
// the profile and region a target names ("" leaves each to the SDK); extra
// options come first, so the profile and region win.
func LoadAWSConfig(ctx context.Context, profile, region string, extra ...func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	opts := extra
	if profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config for profile %q: %w", profile, err)
	}
	if ac.Region == "" {
		return aws.Config{}, fmt.Errorf("no region for profile %q: set region in the target, the profile, or AWS_REGION", profile)
	}
	return ac, nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// stablePorts are the ports tried, in order, for a target with no
// local_port: a run of ports from a hash of its name, in a range clear of
// the usual database ports and of Linux's ephemeral range.
func stablePorts(name string) []int {
	const base, span, tries = 20000, 10000, 8
	h := fnv.New32a()
	h.Write([]byte(name))
	first := int(h.Sum32() % span)
	ports := make([]int, tries)
	for i := range ports {
		ports[i] = base + (first+i)%span
	}
	return ports
}

// remoteHost is the SSM document's host for a target host: none for the
// instance's own loopback, so that AWS-StartPortForwardingSession is used
// (a database on the bastion itself), which needs no remote-host
// permission on the document.
func remoteHost(host string) string {
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return ""
	}
	return host
}
