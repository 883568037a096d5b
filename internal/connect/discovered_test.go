package connect

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/creds"
)

// fakeSource serves fixed inventories by scope.
type fakeSource map[discovery.Scope]*discovery.Inventory

func (f fakeSource) Discover(_ context.Context, s discovery.Scope) (*discovery.Inventory, error) {
	if inv, ok := f[s]; ok {
		return inv, nil
	}
	return nil, errors.New("no such scope")
}

var (
	prod = discovery.Scope{Profile: "prod", Region: "ap-northeast-1"}
	dev  = discovery.Scope{Profile: "dev", Region: "ap-northeast-1"}
)

func route(via, bastion string, v discovery.Verdict, reason, fix string) discovery.Route {
	return discovery.Route{Via: via, Bastion: bastion, Verdict: v, Reasons: []string{reason}, Fix: fix}
}

func inventories() fakeSource {
	bastions := []discovery.Bastion{
		{InstanceID: "i-0private", Name: "bastion-private", Tags: map[string]string{"Name": "bastion-private"}},
		{InstanceID: "i-0public", Name: "bastion-public", PublicIP: "198.51.100.10", Tags: map[string]string{"Name": "bastion-public"}},
	}
	return fakeSource{
		prod: {Scope: prod, Bastions: bastions, Databases: []discovery.Database{{
			Name: "prod-aurora", Kind: discovery.KindAuroraCluster, Engine: "aurora-postgresql",
			Profile: "prod", Region: "ap-northeast-1",
			Endpoints: []discovery.Endpoint{
				{Role: discovery.RoleWriter, Host: "prod-aurora.cluster-abc.rds.amazonaws.com", Port: 5432},
				{Role: discovery.RoleReader, Host: "prod-aurora.cluster-ro-abc.rds.amazonaws.com", Port: 5432},
			},
			Routes: []discovery.Route{
				route("ssm", "i-0private", discovery.VerdictOK, "sg-0db allows tcp/5432 from sg-0priv", ""),
				route("ssh", "i-0public", discovery.VerdictOK, "sg-0db allows tcp/5432 from sg-0pub", ""),
			},
		}, {
			Name: "blocked-db", Kind: discovery.KindRDSInstance, Engine: "mysql",
			Endpoints: []discovery.Endpoint{{Role: discovery.RoleInstance, Host: "blocked.rds.amazonaws.com", Port: 3306}},
			Routes: []discovery.Route{
				route("ssh", "i-0public", discovery.VerdictBlocked, "sg-0db has no inbound rule for tcp/3306 from sg-0pub or 10.0.1.23",
					"aws ec2 authorize-security-group-ingress --group-id sg-0db --protocol tcp --port 3306 --source-group sg-0pub"),
			},
		}, {
			Name: "analytics", Kind: discovery.KindRedshiftServerless, Engine: "redshift",
			Endpoints: []discovery.Endpoint{
				{Role: discovery.RoleInstance, Host: "analytics.123.ap-northeast-1.redshift-serverless.amazonaws.com", Port: 5439},
				{Role: discovery.RoleManagedEndpoint, Name: "analytics-ep", Host: "analytics-ep-endpoint.123.redshift-serverless.amazonaws.com", Port: 5439,
					VPCID: "vpc-other", Routes: []discovery.Route{route("ssh", "i-0public", discovery.VerdictOK, "sg-0ep allows tcp/5439 from sg-0pub", "")}},
			},
		}}},
		dev: {Scope: dev, Databases: []discovery.Database{{
			Name: "prod-aurora", Endpoints: []discovery.Endpoint{{Role: discovery.RoleWriter, Host: "x", Port: 5432}},
		}}},
	}
}

func resolver(t *testing.T, yaml string, scopes ...discovery.Scope) *Resolver {
	return &Resolver{Config: parse(t, yaml), Source: inventories(), Scopes: scopes}
}

func TestDiscoveredTargetTakesBestRoute(t *testing.T) {
	r := resolver(t, "targets:\n  pa:\n    database: prod-aurora\n    profile: prod\n    region: ap-northeast-1\n    user: app\n    sessions: 4\n")
	tg, err := r.Resolve(context.Background(), "pa", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Route.Via != "ssm" || tg.Route.SSM.Instance != "i-0private" || tg.Profile != "prod" || tg.Region != "ap-northeast-1" || tg.Sessions != 4 {
		t.Fatalf("%+v route %+v", tg, tg.Route)
	}
	if tg.Remote() != "prod-aurora.cluster-abc.rds.amazonaws.com:5432" || tg.Engine != "postgres" || tg.User != "app" {
		t.Fatalf("%+v", tg)
	}
}

// A config engine names the client family as discovery's engine does:
// aurora-mysql and mariadb are mysql to exec, so the password goes into
// MYSQL_PWD and not PGPASSWORD.
func TestDiscoveredTargetEngineFromConfig(t *testing.T) {
	for _, engine := range []string{"aurora-mysql", "mariadb", "MySQL"} {
		r := resolver(t, "targets:\n  pa:\n    database: prod-aurora\n    profile: prod\n    region: ap-northeast-1\n    engine: "+engine+"\n")
		tg, err := r.Resolve(context.Background(), "pa", Overrides{})
		if err != nil {
			t.Fatal(err)
		}
		if tg.Engine != "mysql" {
			t.Errorf("engine %s: target engine %q, want mysql", engine, tg.Engine)
		}
		env := strings.Join(tg.EnvWith(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3306}, &creds.Credential{User: "u", Password: "pw"}), "\n")
		if !strings.Contains(env, "MYSQL_PWD=pw") || strings.Contains(env, "PGPASSWORD") || !strings.Contains(env, "DATABASE_URL=mysql://") {
			t.Errorf("engine %s: env\n%s", engine, env)
		}
	}
}

func TestDiscoveredSSHRouteUsesPublicIP(t *testing.T) {
	r := resolver(t, "targets:\n  pa:\n    database: prod-aurora\n    profile: prod\n    region: ap-northeast-1\n    via: ssh\n")
	tg, err := r.Resolve(context.Background(), "pa", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Route.Via != "ssh" || tg.Route.SSH.Host != "198.51.100.10" || tg.Route.SSH.User != "ec2-user" || tg.Route.Bastion != "i-0public" {
		t.Fatalf("route %+v ssh %+v", tg.Route, tg.Route.SSH)
	}
}

func TestDiscoveredReaderEndpoint(t *testing.T) {
	r := resolver(t, "targets:\n  pa:\n    database: prod-aurora\n    profile: prod\n    region: ap-northeast-1\n    endpoint: reader\n")
	tg, err := r.Resolve(context.Background(), "pa", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tg.Host, "cluster-ro") {
		t.Fatalf("host %s, want the reader", tg.Host)
	}
}

func TestBareNameSearchesScopes(t *testing.T) {
	r := resolver(t, "{}", prod)
	tg, err := r.Resolve(context.Background(), "blocked-db", Overrides{})
	var nr *NoRouteError
	if !errors.As(err, &nr) {
		t.Fatalf("Resolve = %+v, %v; want NoRouteError", tg, err)
	}
	for _, want := range []string{"no working route to blocked-db", "no inbound rule for tcp/3306", "fix: aws ec2 authorize-security-group-ingress"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestBareNameInTwoScopesIsAmbiguous(t *testing.T) {
	r := resolver(t, "{}", prod, dev)
	_, err := r.Resolve(context.Background(), "prod-aurora", Overrides{})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "prod/ap-northeast-1, dev/ap-northeast-1") {
		t.Fatalf("err = %v", err)
	}
}

func TestManagedEndpointByName(t *testing.T) {
	r := resolver(t, "{}", prod)
	tg, err := r.Resolve(context.Background(), "analytics-ep", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Port != 5439 || !strings.HasPrefix(tg.Host, "analytics-ep-endpoint") || tg.Route.Chosen.Reasons[0] != "sg-0ep allows tcp/5439 from sg-0pub" {
		t.Fatalf("%+v", tg)
	}
}

func TestRouteNeedingAMissingBackendIsNamed(t *testing.T) {
	r := resolver(t, "{}", prod)
	r.Backends = []string{"ssh"}
	_, err := r.Resolve(context.Background(), "prod-aurora", Overrides{Via: "ssm"})
	if err == nil || !strings.Contains(err.Error(), "cannot open ssm tunnels yet") {
		t.Fatalf("err = %v", err)
	}
}

func TestBastionOverrideByTag(t *testing.T) {
	r := resolver(t, "{}", prod)
	tg, err := r.Resolve(context.Background(), "prod-aurora", Overrides{Bastion: "tag:Name=bastion-public"})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Route.Bastion != "i-0public" {
		t.Fatalf("bastion %s", tg.Route.Bastion)
	}
}

func TestUnknownBareName(t *testing.T) {
	r := resolver(t, "{}", prod)
	_, err := r.Resolve(context.Background(), "nope", Overrides{})
	var ue *UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no database of that name in prod/ap-northeast-1") {
		t.Fatalf("err = %v", err)
	}
}

func TestLookupKeepsEveryRoute(t *testing.T) {
	r := resolver(t, "{}", prod)
	f, err := r.Lookup(context.Background(), "prod-aurora")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Routes) != 2 || f.Routes[0].Via != "ssm" {
		t.Fatalf("routes %+v", f.Routes)
	}
}

func TestResolveFoundSearchesNothing(t *testing.T) {
	inv := inventories()[prod]
	// No Source: the database is already located.
	r := &Resolver{Config: parse(t, "targets:\n  prod-aurora:\n    database: prod-aurora\n    local_port: 15432\n    user: app\n")}
	f := FoundIn(inv, inv.Databases[0], 0)
	tg, err := r.ResolveFound("prod-aurora", f, Overrides{Via: "ssh"})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Route.Via != "ssh" || tg.Route.SSH.Host != "198.51.100.10" || tg.LocalPort != 15432 || tg.User != "app" {
		t.Fatalf("%+v route %+v", tg, tg.Route)
	}
	// A config target of the same name for another database lends nothing.
	r = &Resolver{Config: parse(t, "targets:\n  prod-aurora:\n    database: other\n    local_port: 15432\n")}
	tg, err = r.ResolveFound("prod-aurora", f, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if tg.LocalPort != 0 || tg.Route.Via != "ssm" {
		t.Fatalf("%+v", tg)
	}
	if _, err := r.ResolveFound("blocked-db", FoundIn(inv, inv.Databases[1], 0), Overrides{}); !errors.As(err, new(*NoRouteError)) {
		t.Fatalf("blocked-db: err = %v, want NoRouteError", err)
	}
}

// TestResolveFoundOnAnotherEndpointKeepsTheTarget: a target that names a
// managed endpoint keeps its settings on the workgroup's own endpoint (the
// TUI's e), and one that names a cluster keeps them on its reader.
func TestResolveFoundOnAnotherEndpointKeepsTheTarget(t *testing.T) {
	inv := inventories()[prod]
	analytics := inv.Databases[2]
	analytics.Routes = []discovery.Route{route("ssm", "i-0private", discovery.VerdictOK, "sg-0wg allows tcp/5439 from sg-0priv", "")}
	r := &Resolver{Config: parse(t, `targets:
  tools:
    database: analytics-ep
    local_port: 15439
    user: analyst
  aurora:
    database: prod-aurora
    local_port: 15432
`)}
	for _, c := range []struct {
		name string
		f    *Found
		port int
	}{
		{"tools", FoundIn(inv, analytics, 1), 15439},
		{"tools", FoundIn(inv, analytics, 0), 15439},
		{"aurora", FoundIn(inv, inv.Databases[0], 1), 15432},
	} {
		tg, err := r.ResolveFound(c.name, c.f, Overrides{})
		if err != nil {
			t.Fatalf("%s on %s: %v", c.name, c.f.Endpoint.Host, err)
		}
		if tg.LocalPort != c.port || tg.Host != c.f.Endpoint.Host {
			t.Errorf("%s on %s: local port %d host %s, want %d", c.name, c.f.Endpoint.Host, tg.LocalPort, tg.Host, c.port)
		}
	}
	// Another database of the same account lends nothing.
	tg, err := r.ResolveFound("tools", FoundIn(inv, inv.Databases[0], 0), Overrides{})
	if err != nil || tg.LocalPort != 0 {
		t.Fatalf("tools on prod-aurora: local port %d, %v", tg.LocalPort, err)
	}
}

func TestFoundInManagedEndpointBringsOwnRoutes(t *testing.T) {
	inv := inventories()[prod]
	f := FoundIn(inv, inv.Databases[2], 1)
	if f.Endpoint.Name != "analytics-ep" || len(f.Routes) != 1 || f.Routes[0].Reasons[0] != "sg-0ep allows tcp/5439 from sg-0pub" {
		t.Fatalf("%+v", f)
	}
}

func TestDiagnoseWithoutRoutesSaysWhatToLaunch(t *testing.T) {
	inv := inventories()[prod]
	db := inv.Databases[2]
	db.VPCID = "vpc-0abc"
	rep := Diagnose("analytics", FoundIn(inv, db, 0))
	if rep.Verdict != discovery.VerdictBlocked || len(rep.Checks) != 1 || !strings.Contains(rep.Checks[0].Fix, "vpc-0abc") {
		t.Fatalf("%+v", rep)
	}
	rep = Diagnose("prod-aurora", FoundIn(inv, inv.Databases[0], 0))
	if rep.Verdict != discovery.VerdictOK || rep.Via != "ssm" || len(rep.Routes) != 2 {
		t.Fatalf("%+v", rep)
	}
}

// TestPreferredRoute: the route a screen preselects is the one a target
// opens on, and when none works the one its via: and bastion: ask for.
func TestPreferredRoute(t *testing.T) {
	inv := inventories()[prod]
	aurora := FoundIn(inv, inv.Databases[0], 0)
	blocked := FoundIn(inv, inv.Databases[1], 0)
	r := &Resolver{Config: parse(t, `targets:
  aurora-ssh:
    profile: prod
    database: prod-aurora
    via: ssh
  aurora-public:
    profile: prod
    database: prod-aurora
    bastion: tag:Name=bastion-public
  blocked-ssm:
    profile: prod
    database: blocked-db
    via: ssm
`)}
	for _, c := range []struct {
		name string
		f    *Found
		want int
	}{
		{"prod-aurora", aurora, 0},   // a bare name: the best route
		{"aurora-ssh", aurora, 1},    // via: ssh
		{"aurora-public", aurora, 1}, // bastion: by tag
		{"blocked-db", blocked, 0},   // nothing works: the best route, blocked
		{"blocked-ssm", blocked, 0},  // no ssm route at all
	} {
		if got := r.PreferredRoute(c.name, c.f); got != c.want {
			t.Errorf("%s: route %d, want %d", c.name, got, c.want)
		}
	}
}
