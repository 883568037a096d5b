// Package awssource is the discovery.Source that reads AWS through
// aws-sdk-go-v2: databases (RDS, Aurora, DocumentDB, Neptune, RDS Proxy,
// Redshift, Redshift Serverless, VPC resource endpoints), the EC2
// instances that could serve as bastions, and the network around them.
//
// Credentials and endpoints are resolved exactly as the aws CLI resolves
// them, by the SDK's own chain: profiles, SSO, assume-role,
// credential_process, environment, AWS_ENDPOINT_URL[_<SERVICE>].
package awssource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/reach"
)

// DefaultConcurrency bounds the API calls in flight for one scope.
const DefaultConcurrency = 8

// Options configure a Source. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// LoadOptions are appended after the profile and region when the
	// SDK configuration is loaded: tests point the SDK at a fake with
	// them (config.WithBaseEndpoint, static credentials, an HTTP client).
	LoadOptions []func(*config.LoadOptions) error
	// Concurrency bounds the API calls in flight for one scope;
	// DefaultConcurrency when 0.
	Concurrency int
	// NewClients builds the service clients from the loaded
	// configuration; NewClients (the SDK's) when nil.
	NewClients func(aws.Config) *Clients
	// Reach tunes the route verdicts Discover fills in.
	Reach reach.Options
	// Now stamps Inventory.FetchedAt; time.Now when nil.
	Now func() time.Time
	// Identities shares credentials and assumed roles with the rest of
	// the command (one MFA prompt); nil: each scope gets its own.
	Identities *Identities
}

// Source discovers one scope at a time; it is safe for concurrent use.
type Source struct {
	opts Options
	log  *slog.Logger
}

var _ discovery.Source = (*Source)(nil)

// New returns a Source.
func New(o Options) *Source {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.NewClients == nil {
		o.NewClients = NewClients
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{opts: o, log: log}
}

// Discover reads everything in one profile and region and judges the
// routes to every database (reach.Annotate). A denied or
// missing API leaves a warning in the inventory; credentials that do not
// work are an error (*LoginError, *CredentialsError).
func (s *Source) Discover(ctx context.Context, scope discovery.Scope) (*discovery.Inventory, error) {
	// Errors name the scope with the region the SDK resolved, once known.
	named := scope
	inv, err := s.discover(ctx, scope, &named)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", named, err)
	}
	return inv, nil
}

func (s *Source) discover(ctx context.Context, scope discovery.Scope, named *discovery.Scope) (*discovery.Inventory, error) {
	lo := make([]func(*config.LoadOptions) error, 0, 3+len(s.opts.LoadOptions))
	if p := scope.AWSProfile(); p != "" {
		lo = append(lo, config.WithSharedConfigProfile(p))
	}
	if scope.Region != "" {
		lo = append(lo, config.WithRegion(scope.Region))
	}
	lo = append(lo, s.opts.Identities.LoadOption(scope.AWSProfile()))
	lo = append(lo, s.opts.LoadOptions...)
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		var notExist config.SharedConfigProfileNotExistError
		if errors.As(err, &notExist) {
			return nil, fmt.Errorf("profile %s is not in the AWS config files: %w", notExist.Profile, err)
		}
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	profile, usesSSO := profileInfo(cfg, scope.AWSProfile())
	cfg = s.opts.Identities.Apply(cfg, scope)
	if scope.Role.ARN != "" {
		profile += " assuming " + scope.Role.ARN
	}
	named.Region = cfg.Region
	if cfg.Region == "" {
		return nil, fmt.Errorf("no region for profile %s: set --region, AWS_REGION or region in the profile", profile)
	}
	if cfg.Credentials == nil {
		return nil, &CredentialsError{Profile: profile, Region: cfg.Region, Reason: CredentialsMissing, Err: errors.New("no credential provider")}
	}
	// Fetch the credentials once up front: every call below shares them
	// through the SDK's cache, and a failure here is about credentials
	// and nothing else.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, credentialsFailure(err, profile, cfg.Region, usesSSO)
	}
	clients := s.opts.NewClients(cfg)
	// Logs name the scope as resolved ("default/ap-northeast-1"), not as
	// asked ("default/" when the region comes from the environment).
	resolved := discovery.Scope{Profile: scope.Profile, Region: cfg.Region, Role: scope.Role}
	run := runner{
		clients:     clients,
		concurrency: s.opts.Concurrency,
		log:         s.log.With("scope", resolved.String()),
		profile:     profile,
		region:      cfg.Region,
		usesSSO:     usesSSO,
	}
	raw, err := run.fetch(ctx)
	if err != nil {
		return nil, err
	}
	inv := build(raw, scope, cfg.Region, s.opts.Now().UTC())
	for _, w := range inv.Warnings {
		s.log.Warn("discovery incomplete", "scope", resolved.String(), "warning", w)
	}
	reach.Annotate(inv, s.opts.Reach)
	return inv, nil
}

// profileInfo names the profile for messages (the one the SDK actually
// used: the scope's, else AWS_PROFILE, else "default") and says whether
// its credentials come from IAM Identity Center, directly or as the
// source of an assumed role.
func profileInfo(cfg aws.Config, requested string) (name string, usesSSO bool) {
	name = requested
	envKeys := false
	for _, src := range cfg.ConfigSources {
		if ec, ok := src.(config.EnvConfig); ok && ec.Credentials.HasKeys() {
			envKeys = true
		}
	}
	for _, src := range cfg.ConfigSources {
		sc, ok := src.(config.SharedConfig)
		if !ok {
			continue
		}
		if name == "" {
			name = sc.Profile
		}
		for c, depth := &sc, 0; c != nil && depth < 10; c, depth = c.Source, depth+1 {
			if c.SSOSessionName != "" || c.SSOStartURL != "" || c.SSOSession != nil {
				usesSSO = true
			}
		}
	}
	if envKeys && requested == "" {
		// The environment's keys win over the default profile.
		usesSSO = false
	}
	if name == "" {
		name = os.Getenv("AWS_PROFILE")
	}
	if name == "" {
		name = config.DefaultSharedConfigProfile
	}
	return name, usesSSO
}
