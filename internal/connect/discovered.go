package connect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
)

// Found is a discovered database located for a target: the endpoint the
// target asks for and the routes to it, best first.
type Found struct {
	Scope    discovery.Scope
	Database discovery.Database
	Endpoint discovery.Endpoint
	Routes   []discovery.Route
	Bastions []discovery.Bastion
}

// NoRouteError means discovery found the database but no route the user
// allows works; it carries the routes so the message can say why.
type NoRouteError struct {
	Target string
	Routes []discovery.Route
	// Unsupported lists routes that look fine but need a backend this build
	// cannot open yet.
	Unsupported []discovery.Route
}

func (e *NoRouteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no working route to %s", e.Target)
	if len(e.Routes) == 0 && len(e.Unsupported) == 0 {
		b.WriteString(": no bastion can reach it (run `dbtunnel doctor " + e.Target + "`)")
		return b.String()
	}
	for _, r := range e.Routes {
		fmt.Fprintf(&b, "\n  %s %s: %s: %s", r.Via, bastionLabel(r), r.Verdict, strings.Join(r.Reasons, "; "))
		if r.Fix != "" {
			fmt.Fprintf(&b, "\n    fix: %s", r.Fix)
		}
	}
	for _, r := range e.Unsupported {
		fmt.Fprintf(&b, "\n  %s %s: %s, but this build cannot open %s tunnels yet", r.Via, bastionLabel(r), r.Verdict, r.Via)
	}
	return b.String()
}

func bastionLabel(r discovery.Route) string {
	if r.BastionName != "" {
		return r.Bastion + " (" + r.BastionName + ")"
	}
	return r.Bastion
}

// find locates the database a target names. ct is nil for a bare name,
// which is searched for in every discovery scope.
func (r *Resolver) find(ctx context.Context, name string, ct *config.Target) (*Found, error) {
	if r.Source == nil {
		return nil, usageErrorf("target %s needs discovery, which is not set up", name)
	}
	dbName, scopes, endpoint := name, r.Scopes, ""
	if ct != nil {
		dbName, endpoint = ct.Database, ct.Endpoint
		scopes = []discovery.Scope{ScopeFor(r.Config, ct.Profile, ct.Region, ct)}
	}
	var (
		matches []*Found
		errs    []error
	)
	for _, res := range discovery.Scan(ctx, r.Source, scopes, 0) {
		if res.Err != nil {
			errs = append(errs, res.Err)
			continue
		}
		for _, db := range res.Inventory.Databases {
			if f := match(res.Inventory, db, dbName, endpoint); f != nil {
				matches = append(matches, f)
			}
		}
	}
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		var where []string
		for _, m := range matches {
			where = append(where, m.Scope.String())
		}
		return nil, usageErrorf("%q names a database in %d places (%s): add a target with profile and region to the config", dbName, len(matches), strings.Join(where, ", "))
	case len(errs) > 0 && ct == nil:
		// Most likely a typo of a config target; say so before blaming AWS.
		return nil, &UsageError{Err: fmt.Errorf("%w; and discovery could not search for it: %w", unknownTarget(r.Config, name, nil), errors.Join(errs...))}
	case len(errs) > 0:
		return nil, fmt.Errorf("find %s: %w", dbName, errors.Join(errs...))
	case ct != nil:
		return nil, usageErrorf("target %s: database %q not found in %s", name, dbName, scopes[0])
	}
	return nil, unknownTarget(r.Config, name, scopes)
}

// match reports whether db is the one asked for and locates the endpoint
// the target picks.
func match(inv *discovery.Inventory, db discovery.Database, name, endpoint string) *Found {
	pick := EndpointIndex(db, name, endpoint)
	if pick < 0 {
		return nil
	}
	return FoundIn(inv, db, pick)
}

// EndpointIndex reports whether db is the database a target's `database:`
// names, by its identifier or, for Redshift Serverless, by a managed
// endpoint's name, and which of db.Endpoints its `endpoint:` (a role or a
// custom endpoint's name; "" for the first) picks. It is -1 when db is not
// the one. The TUI, which holds the inventory, locates config targets with
// it, so that it opens what a search by name opens.
func EndpointIndex(db discovery.Database, name, endpoint string) int {
	if len(db.Endpoints) == 0 {
		return -1
	}
	if db.Name != name {
		return slices.IndexFunc(db.Endpoints, func(e discovery.Endpoint) bool {
			return e.Role == discovery.RoleManagedEndpoint && e.Name == name
		})
	}
	if endpoint == "" {
		return 0
	}
	if i := slices.IndexFunc(db.Endpoints, func(e discovery.Endpoint) bool {
		return e.Name == endpoint || (e.Name == "" && e.Role == endpoint)
	}); i >= 0 {
		return i
	}
	return slices.IndexFunc(db.Endpoints, func(e discovery.Endpoint) bool { return e.Role == endpoint })
}

// FoundIn locates endpoint ep (an index into db.Endpoints) of a database
// in inv, as a search by name would: an endpoint with a placement of its
// own brings its own routes.
func FoundIn(inv *discovery.Inventory, db discovery.Database, ep int) *Found {
	f := &Found{Scope: inv.Scope, Database: db, Routes: db.Routes, Bastions: inv.Bastions}
	if ep >= 0 && ep < len(db.Endpoints) {
		f.Endpoint = db.Endpoints[ep]
		if f.Endpoint.OwnNetwork() {
			f.Routes = f.Endpoint.Routes
		}
	}
	return f
}

// choose picks the best route the user allows and this build can open: the
// first ok one, else the first whose verdict is unknown.
func (r *Resolver) choose(name string, f *Found, via, bastion string) (discovery.Route, error) {
	var allowed, unsupported []discovery.Route
	for _, rt := range f.Routes {
		if !viaAllows(via, rt) {
			continue
		}
		if !bastionMatches(bastion, rt, f.Bastions) {
			continue
		}
		if !slices.Contains(r.backends(), rt.Via) {
			if rt.Verdict != discovery.VerdictBlocked {
				unsupported = append(unsupported, rt)
			}
			continue
		}
		allowed = append(allowed, rt)
	}
	for _, want := range []discovery.Verdict{discovery.VerdictOK, discovery.VerdictUnknown} {
		if i := slices.IndexFunc(allowed, func(rt discovery.Route) bool { return rt.Verdict == want }); i >= 0 {
			return allowed[i], nil
		}
	}
	return discovery.Route{}, &NoRouteError{Target: name, Routes: allowed, Unsupported: unsupported}
}

// viaAllows applies the target's via setting: auto, ssm or ssh.
func viaAllows(via string, rt discovery.Route) bool {
	return via == "" || via == config.ViaAuto || rt.Via == via
}

// bastionMatches applies the target's bastion setting: auto, an instance
// id, or tag:Key=Value.
func bastionMatches(want string, rt discovery.Route, bastions []discovery.Bastion) bool {
	switch {
	case want == "" || want == config.BastionAuto:
		return true
	case strings.HasPrefix(want, "tag:"):
		k, v, _ := strings.Cut(strings.TrimPrefix(want, "tag:"), "=")
		i := slices.IndexFunc(bastions, func(b discovery.Bastion) bool { return b.InstanceID == rt.Bastion })
		return i >= 0 && bastions[i].Tags[k] == v
	}
	return rt.Bastion == want
}

// fromDiscovery builds the Target for a chosen route.
func fromDiscovery(name string, ct *config.Target, f *Found, rt discovery.Route, o Overrides) Target {
	t := Target{
		Name:   name,
		Engine: engineOf(f.Database.Engine, f.Endpoint.Port),
		Host:   f.Endpoint.Host,
		Port:   f.Endpoint.Port,
		Found:  f,
	}
	var sshCfg config.SSH
	if ct != nil {
		t.LocalPort, t.User, t.DBName, t.SSLMode = ct.LocalPort, ct.User, ct.DBName, ct.SSLMode
		if ct.Engine != "" {
			// aurora-mysql or mariadb in the config is mysql to exec, as
			// discovery's engine names are.
			t.Engine = engineOf(ct.Engine, t.Port)
		}
		if ct.SSH != nil {
			sshCfg = *ct.SSH
		}
	}
	if o.LocalPort != 0 {
		t.LocalPort = o.LocalPort
	}
	t.Profile, t.Region, t.Role = f.Scope.Profile, f.Scope.Region, f.Scope.Role
	if ct != nil {
		t.Sessions = ct.Sessions
		t.Keepalive = ct.Keepalive
	}
	t.Route = Route{Via: rt.Via, Bastion: rt.Bastion, Chosen: &rt}
	if rt.Via == discovery.ViaSSM {
		t.Route.SSM = &SSMRoute{Instance: rt.Bastion}
	}
	if sshCfg.Transport == config.TransportSSM && rt.Via == discovery.ViaSSM {
		// The SSM route's network path, with SSH on top of it.
		if sshCfg.User == "" {
			sshCfg.User = "ec2-user"
		}
		t.Route.Via, t.Route.SSM = discovery.ViaSSH, nil
		t.Route.SSH = sshOverSSM(rt.Bastion, sshCfg)
		return t
	}
	if rt.Via == discovery.ViaSSH {
		i := slices.IndexFunc(f.Bastions, func(b discovery.Bastion) bool { return b.InstanceID == rt.Bastion })
		host := sshCfg.Host
		if host == "" && i >= 0 {
			host = f.Bastions[i].PublicIP
		}
		user := sshCfg.User
		if user == "" {
			// Amazon Linux's default login; ~/.ssh/config can still
			// say otherwise for the address.
			user = "ec2-user"
		}
		t.Route.SSH = &SSHRoute{
			Host: host, Port: sshCfg.Port, User: user,
			IdentityFile: sshCfg.IdentityFile, KnownHosts: sshCfg.KnownHosts, ProxyJump: sshCfg.ProxyJump,
			Instance: rt.Bastion, InstanceConnect: sshCfg.InstanceConnect,
		}
	}
	return t
}
