// Package connect turns a target the user named into an open tunnel: it
// resolves the target (from the config file now, from discovery later) to a
// route, builds that route's tunnel.Dialer, picks the local port and opens
// the tunnel. `up`, `exec`, the TUI and the demo all open tunnels here.
package connect

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/creds"
)

// Target is a database resolved to one way in.
type Target struct {
	Name string
	// Engine is postgres, mysql, redshift... or "" when unknown.
	Engine string
	// Host and Port are the database as the bastion sees it.
	Host string
	Port int
	// LocalPort is the port to listen on; 0 picks a stable free one.
	LocalPort int
	User      string
	DBName    string
	SSLMode   string
	// SSLRootCert is the CA bundle for sslmode verify-ca/verify-full.
	SSLRootCert string
	// Auth is where the password comes from; nil: none.
	Auth *creds.Request
	// Profile and Region are the AWS scope an SSM route is opened in.
	Profile, Region string
	// Sessions spreads an SSM route's connections over N sessions.
	Sessions int
	// Keepalive keeps an idle SSM session open; 0 leaves the idle policy.
	Keepalive time.Duration
	// Role is assumed for the target's AWS calls (another account).
	Role  discovery.Role
	Route Route
	// Found is what discovery knew of the database; nil for a target
	// that names its host.
	Found *Found
}

// Route is how a Target is reached.
type Route struct {
	Via string // "ssh" (and "ssm" once that backend lands)
	// Bastion names the bastion for people: an address, an ssh config
	// alias or an instance id.
	Bastion string
	SSH     *SSHRoute
	SSM     *SSMRoute
	// Chosen is discovery's judgement of this route, when it made one.
	Chosen *discovery.Route
}

// SSHRoute is what the SSH backend needs beyond the remote address.
type SSHRoute struct {
	Host, User, IdentityFile, KnownHosts, ProxyJump string
	Port                                            int
	// Instance is the bastion's EC2 instance id when it is known (a
	// discovered bastion, bastion: i-…): it enables EC2 Instance Connect
	// and the console check of a new host key.
	Instance string
	// InstanceConnect is the target's ssh.instance_connect: nil means
	// automatic (see docs/config.md).
	InstanceConnect *bool
	// Transport is config.TransportSSM to carry SSH over an SSM session to
	// Instance; "" or tcp dials Host.
	Transport string
}

// SSMRoute is what the SSM backend needs beyond the remote address.
type SSMRoute struct {
	// Instance is the managed instance the session goes through.
	Instance string
}

// Remote is the database's address as the bastion dials it.
func (t Target) Remote() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Overrides are the command-line flags that change a target's route.
type Overrides struct {
	LocalPort int
	Via       string
	Bastion   string
}

// UsageError is an error in what the user asked for (an unknown target, a
// route that cannot be built from the config), as opposed to a failure while
// connecting. The CLI exits 2 for it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// Resolver turns the name a user typed into a Target: a config target that
// names its host, a config target that names a discovered database, or the
// bare identifier of a discovered database.
type Resolver struct {
	Config *config.Config
	// Source finds discovered databases; nil leaves only explicit targets.
	Source discovery.Source
	// Scopes are searched for a bare database name.
	Scopes []discovery.Scope
	// Backends this build can open; nil means ssh only.
	Backends []string
}

func (r *Resolver) backends() []string {
	if r.Backends == nil {
		return []string{discovery.ViaSSM, discovery.ViaSSH}
	}
	return r.Backends
}

// Resolve finds the target called name, applies the overrides and says
// where its password comes from.
func (r *Resolver) Resolve(ctx context.Context, name string, o Overrides) (Target, error) {
	t, err := r.resolveRoute(ctx, name, o)
	if err != nil {
		return Target{}, err
	}
	return withAuth(t, r.Config.Targets[name])
}

func (r *Resolver) resolveRoute(ctx context.Context, name string, o Overrides) (Target, error) {
	ct, ok := r.Config.Targets[name]
	if ok && ct.Host != "" {
		return r.resolveExplicit(name, ct, o)
	}
	if !ok {
		ct = nil
		if r.Source == nil {
			return Target{}, unknownTarget(r.Config, name, nil)
		}
	}
	f, err := r.find(ctx, name, ct)
	if err != nil {
		return Target{}, err
	}
	return r.resolveFound(name, ct, f, o)
}

// ResolveFound builds the Target for a database the caller has already
// located (the TUI holds the inventory, so nothing is searched again). The
// config target called name, when it names this database, supplies the
// local port, user, route preferences and the like; the overrides win.
func (r *Resolver) ResolveFound(name string, f *Found, o Overrides) (Target, error) {
	return r.resolveFound(name, r.configFor(name, f), f, o)
}

// configFor is the config target called name when it names f's database,
// by its identifier or by any of its managed endpoints: a screen that moves
// to another endpoint of the same database keeps the target's settings.
func (r *Resolver) configFor(name string, f *Found) *config.Target {
	ct := r.Config.Targets[name]
	if ct == nil || ct.Host != "" || EndpointIndex(f.Database, ct.Database, "") < 0 {
		return nil
	}
	return ct
}

// PreferredRoute is the index into f.Routes of the route the target
// called name opens on (ResolveFound without overrides); when no route
// works, the first one its via: and bastion: allow, so that a screen shows
// why it fails; 0 when they allow none.
func (r *Resolver) PreferredRoute(name string, f *Found) int {
	via, bastion, err := r.preferences(name, r.configFor(name, f), Overrides{})
	if err != nil {
		return 0
	}
	same := func(want discovery.Route) func(discovery.Route) bool {
		return func(rt discovery.Route) bool { return rt.Via == want.Via && rt.Bastion == want.Bastion }
	}
	if rt, err := r.choose(name, f, via, bastion); err == nil {
		if i := slices.IndexFunc(f.Routes, same(rt)); i >= 0 {
			return i
		}
	}
	if i := slices.IndexFunc(f.Routes, func(rt discovery.Route) bool {
		return viaAllows(via, rt) && bastionMatches(bastion, rt, f.Bastions)
	}); i >= 0 {
		return i
	}
	return 0
}

func (r *Resolver) resolveFound(name string, ct *config.Target, f *Found, o Overrides) (Target, error) {
	via, bastion, err := r.preferences(name, ct, o)
	if err != nil {
		return Target{}, err
	}
	rt, err := r.choose(name, f, via, bastion)
	if err != nil {
		return Target{}, err
	}
	return fromDiscovery(name, ct, f, rt, o), nil
}

// preferences are the backend and bastion a target asks for: the
// overrides, else its config (ct may be nil), else the defaults.
func (r *Resolver) preferences(name string, ct *config.Target, o Overrides) (via, bastion string, err error) {
	via = r.Config.Defaults.Via
	if ct != nil {
		via, bastion = ct.Via, ct.Bastion
	}
	if o.Via != "" {
		via = o.Via
	}
	if o.Bastion != "" {
		bastion = o.Bastion
	}
	if err := checkVia(name, via); err != nil {
		return "", "", err
	}
	if ct != nil && ct.SSH != nil && ct.SSH.Transport == config.TransportSSM && via != config.ViaSSM {
		// SSH over SSM goes where an SSM route goes.
		via = config.ViaSSM
	}
	return via, bastion, nil
}

// Lookup finds what discovery knows of the database a target names, with
// every route, whether or not one works: what `doctor` shows.
func (r *Resolver) Lookup(ctx context.Context, name string) (*Found, error) {
	ct, ok := r.Config.Targets[name]
	if ok && ct.Host != "" {
		return nil, usageErrorf("target %s names its host (%s): there is nothing to discover", name, ct.Host)
	}
	if !ok {
		ct = nil
	}
	return r.find(ctx, name, ct)
}

func checkVia(name, via string) error {
	switch via {
	case "", config.ViaAuto, config.ViaSSH, config.ViaSSM:
		return nil
	}
	return usageErrorf("target %s: unknown route %q (want auto, ssh or ssm)", name, via)
}

func (r *Resolver) resolveExplicit(name string, ct *config.Target, o Overrides) (Target, error) {
	cfg := r.Config
	t := Target{
		Name:      name,
		Engine:    engineOf(ct.Engine, ct.Port),
		Host:      ct.Host,
		Port:      ct.Port,
		LocalPort: ct.LocalPort,
		User:      ct.User,
		DBName:    ct.DBName,
		SSLMode:   ct.SSLMode,
	}
	via := ct.Via
	if o.Via != "" {
		via = o.Via
	}
	if o.LocalPort != 0 {
		t.LocalPort = o.LocalPort
	}
	if err := checkVia(name, via); err != nil {
		return Target{}, err
	}
	t.Profile, t.Region, t.Sessions, t.Keepalive = ct.Profile, ct.Region, ct.Sessions, ct.Keepalive
	t.Role = ScopeFor(cfg, ct.Profile, ct.Region, ct).Role
	bastion := ct.Bastion
	if o.Bastion != "" {
		bastion = o.Bastion
	}
	// With no ssh block, auto means the instance named by bastion.
	if via == config.ViaSSM || (via != config.ViaSSH && ct.SSH == nil) {
		if !isInstanceID(bastion) {
			return Target{}, usageErrorf("target %s: via ssm with host needs bastion: i-… (the instance to go through); or name a discovered database instead of host", name)
		}
		t.Route = Route{Via: discovery.ViaSSM, Bastion: bastion, SSM: &SSMRoute{Instance: bastion}}
		return t, nil
	}
	if ct.SSH != nil && ct.SSH.Transport == config.TransportSSM {
		return t, explicitOverSSM(name, &t, *ct.SSH, bastion)
	}
	if ct.SSH == nil || ct.SSH.Host == "" {
		return Target{}, usageErrorf("target %s: no ssh bastion: add ssh.host to the target in %s", name, configName(cfg))
	}
	s := *ct.SSH
	if o.Bastion != "" {
		s.Host = o.Bastion
	}
	t.Route = Route{
		Via:     discovery.ViaSSH,
		Bastion: s.Host,
		SSH: &SSHRoute{
			Host: s.Host, Port: s.Port, User: s.User,
			IdentityFile: s.IdentityFile, KnownHosts: s.KnownHosts, ProxyJump: s.ProxyJump,
			InstanceConnect: s.InstanceConnect,
		},
	}
	if isInstanceID(bastion) && o.Bastion == "" {
		t.Route.SSH.Instance = bastion
	}
	return t, nil
}

// explicitOverSSM builds the route of an explicit target whose SSH runs
// over an SSM session: the instance is bastion (or ssh.host) and also
// names the host key in known_hosts.
func explicitOverSSM(name string, t *Target, s config.SSH, bastion string) error {
	inst := bastion
	if !isInstanceID(inst) {
		inst = s.Host
	}
	if !isInstanceID(inst) {
		return usageErrorf("target %s: ssh.transport ssm needs the instance: set bastion: i-… (got %q)", name, bastion)
	}
	t.Route = Route{Via: discovery.ViaSSH, Bastion: inst, SSH: sshOverSSM(inst, s)}
	return nil
}

func sshOverSSM(inst string, s config.SSH) *SSHRoute {
	return &SSHRoute{
		Host: inst, Port: s.Port, User: s.User, IdentityFile: s.IdentityFile, KnownHosts: s.KnownHosts,
		Instance: inst, InstanceConnect: s.InstanceConnect, Transport: config.TransportSSM,
	}
}

// isInstanceID accepts EC2 instance ids and SSM managed-node ids.
func isInstanceID(s string) bool {
	return strings.HasPrefix(s, "i-") || strings.HasPrefix(s, "mi-")
}

func unknownTarget(cfg *config.Config, name string, searched []discovery.Scope) error {
	if len(searched) > 0 {
		var where []string
		for _, s := range searched {
			where = append(where, s.String())
		}
		return usageErrorf("unknown target %q: not in %s and no database of that name in %s", name, configName(cfg), strings.Join(where, ", "))
	}
	if len(cfg.Targets) == 0 {
		if cfg.Path == "" {
			return usageErrorf("unknown target %q: no config file found (looked for --config, $DBTUNNEL_CONFIG, ./.dbtunnel.yaml, $XDG_CONFIG_HOME/dbtunnel/config.yaml)", name)
		}
		return usageErrorf("unknown target %q: %s defines no targets", name, cfg.Path)
	}
	names := make([]string, 0, len(cfg.Targets))
	for n := range cfg.Targets {
		names = append(names, n)
	}
	slices.Sort(names)
	return usageErrorf("unknown target %q in %s (known: %s)", name, cfg.Path, strings.Join(names, ", "))
}

func configName(cfg *config.Config) string {
	if cfg.Path == "" {
		return "the config file"
	}
	return cfg.Path
}

// engineOf returns the engine's family (postgres, mysql, redshift...), from
// the configured or discovered engine, else guessed from the well-known port,
// so that `exec` can set the right client variables.
func engineOf(engine string, port int) string {
	e := strings.ToLower(engine)
	switch {
	case strings.Contains(e, "postgres"):
		return "postgres"
	case strings.Contains(e, "mysql"), strings.Contains(e, "mariadb"):
		return "mysql"
	case e != "":
		return e
	}
	switch port {
	case 5432:
		return "postgres"
	case 5439:
		return "redshift"
	case 3306:
		return "mysql"
	}
	return ""
}

// Scope is where the target lives in AWS: its profile, region and role.
func (t Target) Scope() discovery.Scope {
	return discovery.Scope{Profile: t.Profile, Region: t.Region, Role: t.Role}
}

// ScopeFor is the scope for a profile name and region: through the
// config's own profile of that name when it defines a role, and through
// ct's role when the target has one.
func ScopeFor(cfg *config.Config, profile, region string, ct *config.Target) discovery.Scope {
	s := discovery.Scope{Profile: profile, Region: region}
	src, role := profile, config.Role{}
	if cfg != nil {
		src, role = cfg.RoleFor(profile)
	}
	if ct != nil && ct.Role.ARN != "" {
		src, role = profile, ct.Role
	}
	if role.ARN != "" {
		s.Role = discovery.Role{ARN: role.ARN, ExternalID: role.ExternalID, MFASerial: role.MFASerial, SourceProfile: src}
	}
	return s
}
