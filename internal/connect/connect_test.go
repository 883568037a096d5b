package connect

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dbtunnel/dbtunnel/config"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(text), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const explicit = `
targets:
  legacy:
    host: db.internal
    port: 5432
    user: app
    dbname: appdb
    via: ssh
    ssh:
      host: bastion.example.com
      user: ec2-user
      identity_file: ~/.ssh/bastion.pem
  aurora:
    database: prod-aurora
`

func TestResolveExplicitTarget(t *testing.T) {
	tg, err := (&Resolver{Config: parse(t, explicit)}).Resolve(context.Background(), "legacy", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Remote() != "db.internal:5432" || tg.Engine != "postgres" || tg.Route.Via != "ssh" || tg.Route.Bastion != "bastion.example.com" {
		t.Fatalf("%+v", tg)
	}
	if tg.Route.SSH.IdentityFile != "/home/u/.ssh/bastion.pem" || tg.Route.SSH.User != "ec2-user" {
		t.Fatalf("ssh route %+v", tg.Route.SSH)
	}
}

func TestResolveOverrides(t *testing.T) {
	tg, err := (&Resolver{Config: parse(t, explicit)}).Resolve(context.Background(), "legacy", Overrides{LocalPort: 16000, Bastion: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if tg.LocalPort != 16000 || tg.Route.SSH.Host != "other" || tg.Route.Bastion != "other" {
		t.Fatalf("%+v", tg)
	}
}

func TestResolveErrorsAreUsageErrors(t *testing.T) {
	cfg := parse(t, explicit)
	for _, c := range []struct {
		name string
		o    Overrides
		want string
	}{
		{"nope", Overrides{}, `unknown target "nope" in test.yaml (known: aurora, legacy)`},
		{"aurora", Overrides{}, "needs discovery, which is not set up"},
		{"legacy", Overrides{Via: "ssm"}, "via ssm with host needs bastion: i-…"},
		{"legacy", Overrides{Via: "pigeon"}, `unknown route "pigeon" (want auto, ssh or ssm)`},
	} {
		_, err := (&Resolver{Config: cfg}).Resolve(context.Background(), c.name, c.o)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v, want usage error with %q", c.name, c.o, err, c.want)
		}
	}
}

func TestEnvForPostgres(t *testing.T) {
	tg, err := (&Resolver{Config: parse(t, explicit)}).Resolve(context.Background(), "legacy", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	env := tg.Env(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 15432})
	for _, want := range []string{
		"PGHOST=127.0.0.1", "PGPORT=15432", "PGUSER=app", "PGDATABASE=appdb", "PGSSLMODE=prefer",
		"MYSQL_HOST=127.0.0.1", "MYSQL_TCP_PORT=15432",
		"DATABASE_URL=postgres://app@127.0.0.1:15432/appdb?sslmode=prefer",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %v", want, env)
		}
	}
}

func TestURLForMySQL(t *testing.T) {
	tg := Target{Engine: engineOf("", 3306), User: "root", DBName: "shop"}
	got := tg.URL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 13306})
	if got != "mysql://root@127.0.0.1:13306/shop" {
		t.Fatal(got)
	}
}

func TestStablePortsAreStableAndInRange(t *testing.T) {
	a, b := stablePorts("prod-aurora"), stablePorts("prod-aurora")
	if !slices.Equal(a, b) {
		t.Fatal("not stable")
	}
	if slices.Equal(a, stablePorts("staging-aurora")) {
		t.Fatal("two names share every port")
	}
	for _, p := range a {
		if p < 20000 || p >= 30000 {
			t.Fatalf("port %d out of range", p)
		}
	}
}

func TestOpenMovesOffABusyStablePort(t *testing.T) {
	tg, err := (&Resolver{Config: parse(t, explicit)}).Resolve(context.Background(), "legacy", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	tg.Route.SSH.Host, tg.Route.SSH.Port = "127.0.0.1", 1
	ports := stablePorts(tg.Name)
	ln, err := net.Listen("tcp", loopback(ports[0]))
	if err != nil {
		t.Skipf("stable port %d taken by something else: %v", ports[0], err)
	}
	defer ln.Close()
	o := &Opener{Logger: slog.New(slog.DiscardHandler), Home: t.TempDir(), AgentSocket: "none"}
	tun, err := o.Open(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	if got := tun.LocalAddr().(*net.TCPAddr).Port; got != ports[1] {
		t.Fatalf("listening on %d, want the next stable port %d", got, ports[1])
	}
}

func TestOpenExplicitBusyPortFails(t *testing.T) {
	tg, err := (&Resolver{Config: parse(t, explicit)}).Resolve(context.Background(), "legacy", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tg.LocalPort = ln.Addr().(*net.TCPAddr).Port
	o := &Opener{Logger: slog.New(slog.DiscardHandler), Home: t.TempDir(), AgentSocket: "none"}
	_, err = o.Open(context.Background(), tg)
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("err = %v, want it to name %s", err, ln.Addr())
	}
}

// A target that names its host, via ssm and an instance opens with no
// discovery at all: the resolver has no Source here.
func TestExplicitSSMTargetNeedsNoDiscovery(t *testing.T) {
	cfg := parse(t, "targets:\n  pg:\n    host: db.internal\n    port: 5432\n    via: ssm\n    bastion: i-0123456789abcdef0\n    profile: prod\n    region: ap-northeast-1\n    sessions: 2\n    keepalive: 10m\n")
	tg, err := (&Resolver{Config: cfg}).Resolve(context.Background(), "pg", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Route.Via != "ssm" || tg.Route.SSM.Instance != "i-0123456789abcdef0" || tg.Profile != "prod" || tg.Region != "ap-northeast-1" || tg.Sessions != 2 || tg.Keepalive != 10*time.Minute || tg.Remote() != "db.internal:5432" {
		t.Fatalf("%+v %+v", tg, tg.Route)
	}
}
