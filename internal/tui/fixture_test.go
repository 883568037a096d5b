package tui

import (
	"context"
	"errors"
	"fmt"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
)

var (
	prod   = discovery.Scope{Profile: "prod", Region: "ap-northeast-1"}
	dev    = discovery.Scope{Profile: "dev", Region: "us-east-1"}
	denied = discovery.Scope{Profile: "audit", Region: "eu-west-1"}
)

// memSource serves fixed inventories; a scope it lacks fails as AWS would
// for a profile without access. gate, when set, holds every answer until
// the test releases it.
type memSource struct {
	invs map[discovery.Scope]*discovery.Inventory
	gate chan struct{}
}

func (s memSource) Discover(ctx context.Context, scope discovery.Scope) (*discovery.Inventory, error) {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if inv, ok := s.invs[scope]; ok {
		return inv, nil
	}
	return nil, fmt.Errorf("discover %s: operation error EC2: DescribeInstances, api error UnauthorizedOperation", scope)
}

func route(via, bastion, name string, v discovery.Verdict, reason, fix string) discovery.Route {
	return discovery.Route{Via: via, Bastion: bastion, BastionName: name, Verdict: v, Reasons: []string{reason}, Fix: fix}
}

func fixtureInventories() map[discovery.Scope]*discovery.Inventory {
	bastions := []discovery.Bastion{
		{InstanceID: "i-0priv", Name: "bastion-private"},
		{InstanceID: "i-0pub", Name: "bastion-public", PublicIP: "198.51.100.10", Tags: map[string]string{"Name": "bastion-public"}},
	}
	return map[discovery.Scope]*discovery.Inventory{
		prod: {Scope: prod, Bastions: bastions, Databases: []discovery.Database{{
			Name: "prod-aurora", Kind: discovery.KindAuroraCluster, Engine: "aurora-postgresql",
			Profile: "prod", Region: "ap-northeast-1", VPCID: "vpc-0app", Status: "available",
			Endpoints: []discovery.Endpoint{
				{Role: discovery.RoleWriter, Host: "prod-aurora.cluster-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
				{Role: discovery.RoleReader, Host: "prod-aurora.cluster-ro-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
			},
			Routes: []discovery.Route{
				withChecks(route("ssm", "i-0priv", "bastion-private", discovery.VerdictOK, "sg-0db allows tcp/5432 from sg-0priv", "")),
				route("ssh", "i-0pub", "bastion-public", discovery.VerdictBlocked, "sg-0db has no inbound rule for tcp/5432 from sg-0pub",
					"aws ec2 authorize-security-group-ingress --group-id sg-0db --protocol tcp --port 5432 --source-group sg-0pub"),
			},
		}, {
			Name: "orders-mysql", Kind: discovery.KindRDSInstance, Engine: "mysql",
			Profile: "prod", Region: "ap-northeast-1", VPCID: "vpc-0app", Status: "available",
			Endpoints: []discovery.Endpoint{{Role: discovery.RoleInstance, Host: "orders.abc.ap-northeast-1.rds.amazonaws.com", Port: 3306}},
			Routes: []discovery.Route{
				route("ssh", "i-0pub", "bastion-public", discovery.VerdictBlocked, "sg-0orders has no inbound rule for tcp/3306 from sg-0pub",
					"aws ec2 authorize-security-group-ingress --group-id sg-0orders --protocol tcp --port 3306 --source-group sg-0pub"),
			},
		}}},
		dev: {Scope: dev, Databases: []discovery.Database{{
			Name: "analytics", Kind: discovery.KindRedshiftServerless, Engine: "redshift",
			Profile: "dev", Region: "us-east-1", VPCID: "vpc-0data",
			Endpoints: []discovery.Endpoint{
				{Role: discovery.RoleInstance, Host: "analytics.123.us-east-1.redshift-serverless.amazonaws.com", Port: 5439},
				// A managed VPC endpoint in another VPC, with routes of
				// its own (seed 001).
				{Role: discovery.RoleManagedEndpoint, Name: "analytics-tools", VPCID: "vpc-0tools",
					Host: "endpoint-tools.123.us-east-1.redshift-serverless.amazonaws.com", Port: 5439,
					Routes: []discovery.Route{
						route("ssh", "i-0tools", "bastion-tools", discovery.VerdictOK, "sg-0tools-ep allows tcp/5439 from sg-0tools", ""),
					}},
			},
			Routes: []discovery.Route{
				route("ssm", "i-0dev", "", discovery.VerdictUnknown, "i-0dev's SSM agent is ConnectionLost", ""),
			},
		}}},
	}
}

func withChecks(r discovery.Route) discovery.Route {
	r.Checks = []discovery.Check{
		{Name: "bastion", Status: discovery.CheckPass, Detail: "i-0priv is running in vpc-0app"},
		{Name: "ssm agent", Status: discovery.CheckPass, Detail: "Online, agent 3.3.40"},
		{Name: "db ingress", Status: discovery.CheckPass, Detail: "sg-0db allows tcp/5432 from sg-0priv"},
	}
	return r
}

const fixtureYAML = `targets:
  legacy:
    host: db.internal.example.com
    port: 5432
    via: ssh
    ssh:
      host: 203.0.113.10
      user: ec2-user
`

// discoveredYAML adds config targets that name discovered databases: an
// endpoint other than the first, a Redshift Serverless managed endpoint,
// a backend and a bastion.
const discoveredYAML = `  prod-reader:
    profile: prod
    region: ap-northeast-1
    database: prod-aurora
    endpoint: reader
  tools:
    profile: dev
    region: us-east-1
    database: analytics-tools
  aurora-ssh:
    profile: prod
    region: ap-northeast-1
    database: prod-aurora
    via: ssh
  aurora-pinned:
    profile: prod
    region: ap-northeast-1
    database: prod-aurora
    bastion: tag:Name=bastion-public
`

func fixtureConfig(t testing.TB) *config.Config { return parseConfig(t, fixtureYAML) }

func parseConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("", []byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func fixtureOptions(t testing.TB) Options {
	return Options{
		Config: fixtureConfig(t),
		Source: memSource{invs: fixtureInventories()},
		Scopes: []discovery.Scope{prod, dev, denied},
		Title:  "test",
	}
}

// newLoaded is a model that has read every scope, as after a scan.
func newLoaded(t *testing.T, o Options) *Model {
	t.Helper()
	m := New(t.Context(), o)
	m.tickEvery = 0
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for _, s := range o.Scopes {
		r := discovery.Result{Scope: s}
		if inv, ok := fixtureInventories()[s]; ok {
			r.Inventory = inv
		} else {
			r.Err = errors.New("discover " + s.String() + ": api error UnauthorizedOperation")
		}
		m.scanResult(r)
	}
	m.scanning = false
	return m
}

func press(m *Model, keys ...string) tea.Cmd {
	var last tea.Cmd
	for _, k := range keys {
		_, last = m.Update(keyMsg(k))
	}
	return last
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// plain is the screen as a terminal with NO_COLOR shows its text.
func plain(m *Model) string { return ansi.Strip(m.View().Content) }
