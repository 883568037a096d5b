package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

const (
	testAccount = "123456789012"
	testKey     = "AKIDTESTPROD"
	testRegion  = "ap-northeast-1"
)

// seed002 is the topology of seed 002: three RDS instances behind the same
// bastions, with no usable group, a group with no inbound rule, and a group
// that admits the port from the bastions' group.
func seed002(t *testing.T) *awsfake.Fake {
	f := awsfake.NewServer(t)
	r := f.Account(testAccount, testKey).Region(testRegion)
	vpc := r.VPC("10.0.0.0/16")
	pub := vpc.Subnet("10.0.1.0/24", awsfake.Public)
	priv := vpc.Subnet("10.0.2.0/24").WithNAT()
	priv2 := vpc.Subnet("10.0.3.0/24").WithNAT()
	sgB := vpc.SecurityGroup("bastion").AllowIngress("tcp", 22, "0.0.0.0/0")
	r.Instance("bastion-public", pub, sgB).PublicIP("198.51.100.10")
	r.Instance("bastion-private", priv, sgB).InstanceProfile("ssm-core").SSMOnline()
	subnets := []*awsfake.Subnet{priv, priv2}
	r.RDSInstance("db-default-group", "postgres", subnets, vpc.DefaultSecurityGroup())
	r.RDSInstance("db-closed", "postgres", subnets, vpc.SecurityGroup("db-closed"))
	r.RDSInstance("db-open", "postgres", subnets, vpc.SecurityGroup("db-open").AllowIngressFromGroup("tcp", 5432, sgB))
	for _, kv := range f.Env(testKey, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return f
}

func TestLsJSON(t *testing.T) {
	seed002(t)
	r := runApp(t, nil, "ls", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var dbs []discovery.Database
	if err := json.Unmarshal([]byte(r.stdout), &dbs); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	byName := map[string]discovery.Database{}
	for _, db := range dbs {
		byName[db.Name] = db
	}
	open, closed := byName["db-open"], byName["db-closed"]
	if len(open.Routes) == 0 || open.Routes[0].Verdict != discovery.VerdictOK || open.Routes[0].Via != "ssm" || open.Routes[0].BastionName != "bastion-private" {
		t.Fatalf("db-open routes %+v", open.Routes)
	}
	if open.Kind != discovery.KindRDSInstance || open.Account != testAccount || open.Region != testRegion || open.Endpoints[0].Port != 5432 {
		t.Fatalf("db-open %+v", open)
	}
	for _, rt := range closed.Routes {
		if rt.Verdict != discovery.VerdictBlocked || !strings.HasPrefix(rt.Fix, "aws ec2 authorize-security-group-ingress --group-id "+closed.SecurityGroups[0]+" --protocol tcp --port 5432 --source-group sg-") {
			t.Fatalf("db-closed route %+v", rt)
		}
	}
	// The raw JSON keeps the contract's field names.
	for _, key := range []string{`"name"`, `"kind"`, `"engine"`, `"profile"`, `"region"`, `"account"`, `"vpc_id"`, `"security_groups"`, `"endpoints"`, `"routes"`, `"verdict"`, `"reasons"`, `"fix"`, `"bastion_name"`} {
		if !strings.Contains(r.stdout, key) {
			t.Errorf("ls --json lacks %s", key)
		}
	}
}

func TestLsTable(t *testing.T) {
	seed002(t)
	r := runApp(t, nil, "ls")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{"NAME", "db-open", "✓ ok", "db-closed", "✗ blocked", "default/" + testRegion} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("ls lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestDoctorBlockedSaysWhichRuleAndFix(t *testing.T) {
	seed002(t)
	r := runApp(t, nil, "doctor", "db-closed")
	if r.code != exitFailure {
		t.Fatalf("%+v", r)
	}
	for _, want := range []string{"✗", "has no inbound rule for tcp/5432", "fix:", "aws ec2 authorize-security-group-ingress"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runApp(t, nil, "doctor", "db-open", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var rep struct {
		Target  string            `json:"target"`
		Verdict discovery.Verdict `json:"verdict"`
		Checks  []discovery.Check `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Target != "db-open" || rep.Verdict != discovery.VerdictOK || len(rep.Checks) < 3 {
		t.Fatalf("%+v", rep)
	}
	for _, c := range rep.Checks {
		if c.Status != discovery.CheckPass {
			t.Errorf("check %+v", c)
		}
	}
}

func TestUpBlockedDiscoveredTargetFailsWithFix(t *testing.T) {
	seed002(t)
	r := runApp(t, nil, "exec", "db-closed", "--", "true")
	if r.code != exitFailure || !strings.Contains(r.stderr, "no working route to db-closed") || !strings.Contains(r.stderr, "fix: aws ec2 authorize-security-group-ingress") {
		t.Fatalf("%+v", r)
	}
}

func TestLsExpiredCredentialsNamesProfile(t *testing.T) {
	seed002(t)
	r := runApp(t, nil, "ls", "--profile", "nosuch")
	if r.code != exitFailure || !strings.Contains(r.stderr, "nosuch") {
		t.Fatalf("%+v", r)
	}
}

// With no config file the default cache TTL still applies: a second ls is
// answered from the cache, and --refresh asks AWS again.
func TestLsUsesCacheWithoutConfig(t *testing.T) {
	f := seed002(t)
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	if r := runAppIn(t, home, env, "ls", "--json"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	calls := f.TotalCalls()
	if r := runAppIn(t, home, env, "ls", "--json"); r.code != 0 || !strings.Contains(r.stdout, "db-open") {
		t.Fatalf("%+v", r)
	}
	if got := f.TotalCalls(); got != calls {
		t.Fatalf("second ls made %d AWS calls, want 0 (cached)", got-calls)
	}
	if r := runAppIn(t, home, env, "ls", "--json", "--refresh"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if f.TotalCalls() == calls {
		t.Fatal("ls --refresh made no AWS calls")
	}
}
