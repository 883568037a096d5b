package reach

import (
	"cmp"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dbtunnel/dbtunnel/discovery"
)

const flags = " --profile prod --region ap-northeast-1"

// want is what a test expects of a route; empty reasons and fix are
// still compared (a nil reasons means no reasons).
type want struct {
	via, bastion string
	verdict      discovery.Verdict
	reasons      []string
	fix          string
}

func checkRoutes(t *testing.T, got []discovery.Route, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d routes, want %d:\n%s", len(got), len(wants), dump(got))
	}
	for i, w := range wants {
		g := got[i]
		if w.reasons == nil {
			w.reasons = []string{}
		}
		if g.Via != w.via || g.Bastion != w.bastion || g.Verdict != w.verdict ||
			!reflect.DeepEqual(g.Reasons, w.reasons) || g.Fix != w.fix {
			t.Errorf("route %d:\n got  %s %s %s\n      reasons %q\n      fix %q\n want %s %s %s\n      reasons %q\n      fix %q",
				i, g.Via, g.Bastion, g.Verdict, g.Reasons, g.Fix, w.via, w.bastion, w.verdict, w.reasons, w.fix)
		}
	}
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// order renders routes as "via bastion verdict" lines.
func order(rs []discovery.Route) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Via+" "+r.Bastion+" "+string(r.Verdict))
	}
	return out
}

func check(t *testing.T, r discovery.Route, name string) discovery.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("route %s %s has no check %q: %s", r.Via, r.Bastion, name, dump(r.Checks))
	return discovery.Check{}
}

func names(r discovery.Route) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name)
	}
	return out
}

// judge1 judges one path in w: the first database's first endpoint through
// the bastion with that id.
func judge1(t *testing.T, w *world, id, via string, o Options) discovery.Route {
	t.Helper()
	for _, b := range w.inv.Bastions {
		if b.InstanceID == id {
			db := w.inv.Databases[0]
			return Judge(w.inv, db, db.Endpoints[0], b, via, o)
		}
	}
	t.Fatalf("no bastion %s", id)
	return discovery.Route{}
}

// Seed 000: both bastions work; SSM through the private one comes first.
func TestSeed000PrivateSSMFirst(t *testing.T) {
	inv := seed000().inv
	Annotate(inv, Options{})
	db := inv.Databases[0]
	checkRoutes(t, db.Routes,
		want{"ssm", "i-0private", "ok", []string{"sg-0db allows tcp/5432 from sg-0bastion"}, ""},
		want{"ssh", "i-0public", "ok", []string{
			"sg-0db allows tcp/5432 from sg-0public",
			"sg-0public allows tcp/22 only from 198.51.100.7/32: your address must be in it",
		}, ""},
	)
	if got, w := names(db.Routes[0]), []string{"bastion running", "SSM agent online", "same VPC", "bastion egress tcp/5432", "database ingress tcp/5432"}; !slices.Equal(got, w) {
		t.Errorf("ssm checks %q, want %q", got, w)
	}
	if got, w := names(db.Routes[1]), []string{"bastion running", "public IP", "internet gateway route", "SSH ingress tcp/22", "same VPC", "bastion egress tcp/5432", "database ingress tcp/5432"}; !slices.Equal(got, w) {
		t.Errorf("ssh checks %q, want %q", got, w)
	}
	for _, r := range db.Routes {
		for _, c := range r.Checks {
			if c.Status != discovery.CheckPass {
				t.Errorf("%s %s: check %q is %s: %s", r.Via, r.Bastion, c.Name, c.Status, c.Detail)
			}
		}
	}
	if c := check(t, db.Routes[1], "internet gateway route"); c.Detail != "subnet-public routes 0.0.0.0/0 to igw-0abc (rtb-public)" {
		t.Errorf("igw detail %q", c.Detail)
	}
	if db.Endpoints[1].Routes != nil {
		t.Errorf("reader without its own network got routes: %s", dump(db.Endpoints[1].Routes))
	}
}

// The ls --json example of DESIGN.md: the database admits only the
// private bastion's group, so SSH through the public one is blocked.
func TestDesignExampleSSHBlocked(t *testing.T) {
	w := seed000().group("sg-0db", rules(tcp(5432, "sg-0bastion")))
	Annotate(w.inv, Options{ClientIP: "198.51.100.7"})
	checkRoutes(t, w.inv.Databases[0].Routes,
		want{"ssm", "i-0private", "ok", []string{"sg-0db allows tcp/5432 from sg-0bastion"}, ""},
		want{"ssh", "i-0public", "blocked",
			[]string{"sg-0db has no inbound rule for tcp/5432 from sg-0public or 10.0.1.23; connections would time out, not be refused"},
			"aws ec2 authorize-security-group-ingress --group-id sg-0db --protocol tcp --port 5432 --source-group sg-0public" + flags},
	)
	r := w.inv.Databases[0].Routes[1]
	if c := check(t, r, "SSH ingress tcp/22"); c.Status != discovery.CheckPass || c.Detail != "sg-0public allows tcp/22 from 198.51.100.7/32" {
		t.Errorf("ssh ingress: %+v", c)
	}
	if c := check(t, r, "database ingress tcp/5432"); c.Fix != r.Fix {
		t.Errorf("failing check's fix %q differs from the route's %q", c.Fix, r.Fix)
	}
}

// Seed 002: no group, a group with no rule, a group allowing the port
// from the client's group.
func TestSeed002ThreeRDSInstances(t *testing.T) {
	w := newWorld().
		subnet("subnet-private", "vpc-0abc", "10.0.1.0/24").
		subnet("subnet-db-a", "vpc-0abc", "10.0.3.0/24").
		subnet("subnet-db-c", "vpc-0abc", "10.0.4.0/24").
		table("rtb-main", "vpc-0abc", nil, local("10.0.0.0/16"), toNAT("nat-0abc")).
		group("sg-instance", nil).
		group("sg-rds-deny", nil).
		group("sg-rds-allow", rules(tcp(3306, "sg-instance"))).
		bastion(ssmBastion("i-0fe6d50e5958523a4", "client", "subnet-private", "10.0.1.10", "sg-instance")).
		database(rds("dbinstance1", 3306), rds("dbinstance2", 3306, "sg-rds-deny"), rds("dbinstance3", 3306, "sg-rds-allow"))
	Annotate(w.inv, Options{})
	dbs := w.inv.Databases
	checkRoutes(t, dbs[0].Routes, want{"ssm", "i-0fe6d50e5958523a4", "blocked",
		[]string{"dbinstance1 has no security groups, so all inbound traffic is dropped; connections would time out, not be refused"},
		"aws rds modify-db-instance --db-instance-identifier dbinstance1 --vpc-security-group-ids <sg-allowing-tcp-3306-from-sg-instance> --apply-immediately" + flags})
	checkRoutes(t, dbs[1].Routes, want{"ssm", "i-0fe6d50e5958523a4", "blocked",
		[]string{"sg-rds-deny has no inbound rule for tcp/3306 from sg-instance or 10.0.1.10; connections would time out, not be refused"},
		"aws ec2 authorize-security-group-ingress --group-id sg-rds-deny --protocol tcp --port 3306 --source-group sg-instance" + flags})
	checkRoutes(t, dbs[2].Routes, want{"ssm", "i-0fe6d50e5958523a4", "ok",
		[]string{"sg-rds-allow allows tcp/3306 from sg-instance"}, ""})
}

// seed001 is the Redshift Serverless seed: a workgroup in vpc-wg whose group
// has no rules at all, and a managed VPC endpoint in vpc-0abc (another
// VPC) whose group admits 5439 from the client's group.
func seed001() *world {
	return newWorld().
		subnet("subnet-public", "vpc-0abc", "172.31.32.0/20").
		subnet("subnet-ep-a", "vpc-0abc", "172.31.0.0/20").
		subnet("subnet-wg-a", "vpc-wg", "10.9.0.0/24").
		subnet("subnet-wg-c", "vpc-wg", "10.9.1.0/24").
		table("rtb-main", "vpc-0abc", nil, local("172.31.0.0/16"), toIGW("igw-0abc")).
		table("rtb-wg", "vpc-wg", nil, local("10.9.0.0/16")).
		group("sg-0a597e5b2a9a1d86d", nil).
		group("sg-0a7cb89a146e0191f", rules(tcp(5439, "sg-0a597e5b2a9a1d86d")), noEgress).
		group("sg-0f15486646727ea74", nil, noEgress).
		bastion(with(ssmBastion("i-0client", "tokyo192", "subnet-public", "172.31.40.7", "sg-0a597e5b2a9a1d86d"), func(b *discovery.Bastion) {
			b.PublicIP = "54.0.0.9"
		})).
		database(discovery.Database{
			Name: "test", Kind: discovery.KindRedshiftServerless, Engine: "redshift",
			Profile: "prod", Region: "ap-northeast-1", VPCID: "vpc-wg",
			SubnetIDs: []string{"subnet-wg-a", "subnet-wg-c"}, SecurityGroups: []string{"sg-0f15486646727ea74"},
			Endpoints: []discovery.Endpoint{
				{Role: discovery.RoleInstance, Host: "test.012345678910.ap-northeast-1.redshift-serverless.amazonaws.com", Port: 5439},
				{Role: discovery.RoleManagedEndpoint, Name: "endpoint", Host: "endpoint-endpoint-pshjyhf1zuqxpkyvo6kc.012345678910.ap-northeast-1.redshift-serverless.amazonaws.com",
					Port: 5439, VPCID: "vpc-0abc", SubnetIDs: []string{"subnet-ep-a"}, SecurityGroups: []string{"sg-0a7cb89a146e0191f"}},
			},
		})
}

// Seed 001: only the managed endpoint's group matters; the workgroup's
// empty group is never consulted, and the workgroup itself (in a VPC with
// no bastion) gets no routes.
func TestSeed001ManagedEndpointOnlyItsGroup(t *testing.T) {
	w := seed001()
	Annotate(w.inv, Options{})
	db := w.inv.Databases[0]
	if db.Routes == nil || len(db.Routes) != 0 {
		t.Errorf("workgroup routes = %s, want [] (no bastion in vpc-wg)", dump(db.Routes))
	}
	rs := db.Endpoints[1].Routes
	checkRoutes(t, rs,
		want{"ssm", "i-0client", "ok", []string{"sg-0a7cb89a146e0191f allows tcp/5439 from sg-0a597e5b2a9a1d86d"}, ""},
		want{"ssh", "i-0client", "blocked",
			[]string{"sg-0a597e5b2a9a1d86d has no inbound rule for tcp/22 from anywhere; SSH would time out, not be refused"},
			"aws ec2 authorize-security-group-ingress --group-id sg-0a597e5b2a9a1d86d --protocol tcp --port 22 --cidr <your-ip>/32" + flags},
	)
	if c := check(t, rs[0], "same VPC"); c.Detail != "i-0client and endpoint endpoint are both in vpc-0abc" {
		t.Errorf("same VPC detail %q", c.Detail)
	}
	if c := check(t, rs[0], "bastion egress tcp/5439"); c.Status != discovery.CheckPass {
		t.Errorf("egress: %+v", c)
	}
	if strings.Contains(dump(rs), "sg-0f15486646727ea74") {
		t.Errorf("the workgroup's group leaked into the managed endpoint's routes")
	}

	// Without the rule on the endpoint's group, the route is blocked on
	// that group, whatever the workgroup's group says.
	w = seed001().
		group("sg-0a7cb89a146e0191f", nil, noEgress).
		group("sg-0f15486646727ea74", rules(tcp(5439, "0.0.0.0/0")))
	Annotate(w.inv, Options{})
	r := w.inv.Databases[0].Endpoints[1].Routes[0]
	if r.Verdict != discovery.VerdictBlocked || r.Fix != "aws ec2 authorize-security-group-ingress --group-id sg-0a7cb89a146e0191f --protocol tcp --port 5439 --source-group sg-0a597e5b2a9a1d86d"+flags {
		t.Errorf("route %s", dump(r))
	}
}

// Seed 004: a resource endpoint is its own network; only its group counts,
// and as the database's first endpoint it fills both route lists.
func TestSeed004ResourceEndpoint(t *testing.T) {
	w := newWorld().
		subnet("subnet-private", "vpc-0abc", "10.0.2.0/24").
		subnet("subnet-rep", "vpc-0abc", "10.0.5.0/24").
		table("rtb-main", "vpc-0abc", nil, local("10.0.0.0/16"), toNAT("nat-1")).
		group("sg-0bastion", nil).
		group("sg-rep", rules(tcp(8080, "10.0.2.0/24")), noEgress).
		bastion(ssmBastion("i-0private", "bastion", "subnet-private", "10.0.2.50", "sg-0bastion")).
		database(discovery.Database{
			Name: "provider-app", Kind: discovery.KindVPCResourceEndpoint, VPCID: "vpc-0abc",
			SecurityGroups: []string{"sg-rep"},
			Endpoints: []discovery.Endpoint{{Role: discovery.RoleResource, Name: "vpce-0rep", Host: "vpce-0rep.rcfg-1.vpc-lattice-rsc.ap-northeast-1.on.aws",
				Port: 8080, VPCID: "vpc-0abc", SubnetIDs: []string{"subnet-rep"}, SecurityGroups: []string{"sg-rep"}}},
		})
	Annotate(w.inv, Options{})
	db := w.inv.Databases[0]
	checkRoutes(t, db.Routes, want{"ssm", "i-0private", "ok", []string{"sg-rep allows tcp/8080 from 10.0.2.0/24"}, ""})
	if !reflect.DeepEqual(db.Routes, db.Endpoints[0].Routes) {
		t.Errorf("endpoint routes differ from the database's")
	}
	db.Routes[0].Reasons[0] = "changed"
	if db.Endpoints[0].Routes[0].Reasons[0] == "changed" {
		t.Errorf("the database's and the endpoint's routes share memory")
	}
}

func TestSSMOffline(t *testing.T) {
	ssmEP := "aws ec2 create-vpc-endpoint --vpc-id vpc-0abc --vpc-endpoint-type Interface --service-name com.amazonaws.ap-northeast-1."
	tests := []struct {
		name    string
		w       *world
		bastion func(*discovery.Bastion)
		verdict discovery.Verdict
		reasons []string
		fix     string
	}{{
		name: "tagged, no instance profile",
		w:    seed000(),
		bastion: func(b *discovery.Bastion) {
			b.InstanceProfile, b.SSM, b.Preferred = "", discovery.SSMStatus{}, true
		},
		verdict: "blocked",
		reasons: []string{"no instance profile: the SSM agent has no credentials; attach a role with AmazonSSMManagedInstanceCore"},
		fix:     "aws ec2 associate-iam-instance-profile --instance-id i-0private --iam-instance-profile Name=<profile-with-AmazonSSMManagedInstanceCore>" + flags,
	}, {
		name:    "private subnet, no NAT, no endpoints",
		w:       seed000().edit(func(inv *discovery.Inventory) { inv.Network.VPCEndpoints = nil }),
		bastion: func(b *discovery.Bastion) { b.SSM = discovery.SSMStatus{} },
		verdict: "blocked",
		reasons: []string{"subnet-private has no NAT route (rtb-main has no 0.0.0.0/0 route to a NAT or internet gateway), and vpc-0abc has no interface endpoint for com.amazonaws.ap-northeast-1.ssm, com.amazonaws.ap-northeast-1.ssmmessages or com.amazonaws.ap-northeast-1.ec2messages: the agent cannot reach Systems Manager"},
		fix: ssmEP + "ssm --subnet-ids subnet-private --security-group-ids <sg-allowing-tcp-443-from-sg-0bastion>" + flags + " && " +
			ssmEP + "ssmmessages --subnet-ids subnet-private --security-group-ids <sg-allowing-tcp-443-from-sg-0bastion>" + flags + " && " +
			ssmEP + "ec2messages --subnet-ids subnet-private --security-group-ids <sg-allowing-tcp-443-from-sg-0bastion>" + flags,
	}, {
		name:    "only the ssm endpoint; the missing two named, the existing group reused",
		w:       seed000().edit(func(inv *discovery.Inventory) { inv.Network.VPCEndpoints = inv.Network.VPCEndpoints[:1] }),
		bastion: func(b *discovery.Bastion) { b.SSM = discovery.SSMStatus{Managed: true, PingStatus: "ConnectionLost"} },
		verdict: "blocked",
		reasons: []string{
			"subnet-private has no NAT route (rtb-main has no 0.0.0.0/0 route to a NAT or internet gateway), and vpc-0abc has no interface endpoint for com.amazonaws.ap-northeast-1.ssmmessages or com.amazonaws.ap-northeast-1.ec2messages: the agent cannot reach Systems Manager",
			"Systems Manager reports i-0private's agent as ConnectionLost: it has stopped reaching the service",
		},
		fix: ssmEP + "ssmmessages --subnet-ids subnet-private --security-group-ids sg-0vpce" + flags + " && " +
			ssmEP + "ec2messages --subnet-ids subnet-private --security-group-ids sg-0vpce" + flags,
	}, {
		name: "public subnet but no public IP",
		w: seed000().edit(func(inv *discovery.Inventory) { inv.Network.VPCEndpoints = inv.Network.VPCEndpoints[1:] }).
			table("rtb-private", "vpc-0abc", []string{"subnet-private"}, local("10.0.0.0/16"), toIGW("igw-0abc")),
		bastion: func(b *discovery.Bastion) { b.SSM = discovery.SSMStatus{} },
		verdict: "blocked",
		reasons: []string{"subnet-private routes 0.0.0.0/0 to igw-0abc but i-0private has no public IP, and there is no NAT route, and vpc-0abc has no interface endpoint for com.amazonaws.ap-northeast-1.ssm: the agent cannot reach Systems Manager"},
		fix:     ssmEP + "ssm --subnet-ids subnet-private --security-group-ids sg-0vpce" + flags,
	}, {
		name:    "endpoints whose group lacks 443",
		w:       seed000().group("sg-0vpce", rules(tcp(443, "10.0.1.0/24"))),
		bastion: func(b *discovery.Bastion) { b.SSM = discovery.SSMStatus{} },
		verdict: "blocked",
		reasons: []string{
			"sg-0vpce has no inbound rule for tcp/443 from sg-0bastion or 10.0.2.50, so the agent cannot reach Systems Manager through vpce-ssm (com.amazonaws.ap-northeast-1.ssm), vpce-ssmmessages (com.amazonaws.ap-northeast-1.ssmmessages) and vpce-ec2messages (com.amazonaws.ap-northeast-1.ec2messages)",
		},
		fix: "aws ec2 authorize-security-group-ingress --group-id sg-0vpce --protocol tcp --port 443 --source-group sg-0bastion" + flags,
	}, {
		name: "one endpoint in its own group lacking 443",
		w: seed000().group("sg-lonely", nil).edit(func(inv *discovery.Inventory) {
			inv.Network.VPCEndpoints[1].SecurityGroups = []string{"sg-lonely"}
		}),
		bastion: func(b *discovery.Bastion) { b.SSM = discovery.SSMStatus{} },
		verdict: "blocked",
		reasons: []string{
			"sg-lonely has no inbound rule for tcp/443 from sg-0bastion or 10.0.2.50, so the agent cannot reach Systems Manager through vpce-ssmmessages (com.amazonaws.ap-northeast-1.ssmmessages)",
		},
		fix: "aws ec2 authorize-security-group-ingress --group-id sg-lonely --protocol tcp --port 443 --source-group sg-0bastion" + flags,
	}, {
		name:    "bastion group lets nothing out on 443",
		w:       seed000().group("sg-0bastion", nil, tcp(5432, "sg-0db")),
		bastion: func(b *discovery.Bastion) { b.SSM = discovery.SSMStatus{Managed: true, PingStatus: "Inactive"} },
		verdict: "blocked",
		reasons: []string{
			"sg-0bastion allows no outbound tcp/443: the agent cannot reach Systems Manager",
			"Systems Manager reports i-0private's agent as Inactive: it has stopped reaching the service",
		},
		fix: "aws ec2 authorize-security-group-egress --group-id sg-0bastion --ip-permissions 'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]'" + flags,
	}, {
		name:    "connection lost and nothing else to blame",
		w:       seed000(),
		bastion: func(b *discovery.Bastion) { b.SSM.PingStatus = "ConnectionLost" },
		verdict: "blocked",
		reasons: []string{"Systems Manager reports i-0private's agent as ConnectionLost: it has stopped reaching the service"},
	}, {
		name: "NAT route, endpoints irrelevant, managed but not online",
		w: seed000().edit(func(inv *discovery.Inventory) { inv.Network.VPCEndpoints = nil }).
			table("rtb-private", "vpc-0abc", []string{"subnet-private"}, local("10.0.0.0/16"), toNAT("nat-0abc")),
		bastion: func(b *discovery.Bastion) { b.SSM.PingStatus = "" },
		verdict: "unknown",
		reasons: []string{"agent not online; check the agent is running"},
	}, {
		name:    "instance profile, endpoints fine, never registered",
		w:       seed000(),
		bastion: func(b *discovery.Bastion) { b.SSM = discovery.SSMStatus{} },
		verdict: "unknown",
		reasons: []string{"i-0private is not registered with Systems Manager: agent not online; check the agent is running and its role has AmazonSSMManagedInstanceCore"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &tc.w.inv.Bastions[1]
			tc.bastion(b)
			r := judge1(t, tc.w, "i-0private", discovery.ViaSSM, Options{})
			checkRoutes(t, []discovery.Route{r}, want{"ssm", "i-0private", tc.verdict, tc.reasons, tc.fix})
			c := check(t, r, "SSM agent online")
			if c.Detail != strings.Join(tc.reasons, "; ") {
				t.Errorf("check detail %q", c.Detail)
			}
		})
	}
}

// peered is a database in vpc-db reached from a bastion in vpc-0abc.
func peered(routes ...discovery.NetRoute) *world {
	return newWorld().
		subnet("subnet-private", "vpc-0abc", "10.0.2.0/24").
		subnet("subnet-db-a", "vpc-db", "10.1.3.0/24").
		subnet("subnet-db-c", "vpc-db", "10.1.4.0/24").
		table("rtb-main", "vpc-0abc", nil, append([]discovery.NetRoute{local("10.0.0.0/16"), toNAT("nat-0abc")}, routes...)...).
		group("sg-0bastion", nil).
		group("sg-0db", rules(tcp(5432, "10.0.2.0/24"))).
		bastion(ssmBastion("i-0private", "bastion", "subnet-private", "10.0.2.50", "sg-0bastion")).
		database(with2(rds("shared-db", 5432, "sg-0db"), func(d *discovery.Database) { d.VPCID = "vpc-db" }))
}

func with2(d discovery.Database, f func(*discovery.Database)) discovery.Database { f(&d); return d }

func TestOtherVPC(t *testing.T) {
	cannot := "; dbtunnel cannot see the other side's routes and NACLs"
	tests := []struct {
		name    string
		w       *world
		verdict discovery.Verdict
		reason  string
	}{
		{"peering covers all subnets", peered(toPCX("10.1.0.0/16", "pcx-1")), "unknown",
			"i-0private is in vpc-0abc, shared-db in vpc-db: rtb-main routes 10.1.3.0/24 and 10.1.4.0/24 through pcx-1" + cannot},
		{"transit gateway per subnet", peered(toTGW("10.1.3.0/24", "tgw-1"), toTGW("10.1.4.0/24", "tgw-1")), "unknown",
			"i-0private is in vpc-0abc, shared-db in vpc-db: rtb-main routes 10.1.3.0/24 and 10.1.4.0/24 through tgw-1" + cannot},
		{"peering covers one subnet", peered(toPCX("10.1.3.0/24", "pcx-1")), "unknown",
			"i-0private is in vpc-0abc, shared-db in vpc-db: rtb-main routes 10.1.3.0/24 through pcx-1" + cannot + "; no route to 10.1.4.0/24"},
		{"no route: no candidate", peered(), "", ""},
		{"blackholed peering: no candidate", peered(discovery.NetRoute{Destination: "10.1.0.0/16", VPCPeeringConnectionID: "pcx-1", State: "blackhole"}), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			Annotate(tc.w.inv, Options{})
			rs := tc.w.inv.Databases[0].Routes
			if tc.verdict == "" {
				checkRoutes(t, rs)
				r := judge1(t, tc.w, "i-0private", discovery.ViaSSM, Options{})
				if c := check(t, r, "VPC route"); c.Status != discovery.CheckFail || r.Verdict != discovery.VerdictBlocked {
					t.Errorf("judged anyway: %+v", c)
				}
				return
			}
			checkRoutes(t, rs, want{"ssm", "i-0private", tc.verdict, []string{tc.reason}, ""})
			if c := check(t, rs[0], "database ingress tcp/5432"); c.Status != discovery.CheckPass {
				t.Errorf("ingress by CIDR across the peering: %+v", c)
			}
		})
	}
}

func TestDatabaseIngress(t *testing.T) {
	tests := []struct {
		name    string
		sgs     []string // the database's groups
		w       *world
		verdict discovery.Verdict
		reason  string
		fix     string
	}{
		{"prefix list", []string{"sg-0db"}, seed000().group("sg-0db", rules(tcp(5432, "pl-0abc"))), "unknown",
			"sg-0db allows tcp/5432 from prefix list pl-0abc; dbtunnel cannot expand prefix lists", ""},
		{"self-referencing group", []string{"sg-shared"},
			seed000().group("sg-shared", rules(tcp(5432, "sg-shared"))).edit(func(inv *discovery.Inventory) {
				inv.Bastions[1].SecurityGroups = []string{"sg-0bastion", "sg-shared"}
			}), "ok", "sg-shared allows tcp/5432 from sg-shared", ""},
		{"protocol -1", []string{"sg-0db"}, seed000().group("sg-0db", rules(allTo("sg-0bastion"))), "ok",
			"sg-0db allows tcp/5432 from sg-0bastion (rule: all traffic)", ""},
		{"port range containing the port", []string{"sg-0db"}, seed000().group("sg-0db", rules(tcpRange(5400, 5500, "sg-0bastion"))), "ok",
			"sg-0db allows tcp/5432 from sg-0bastion (rule: tcp/5400-5500)", ""},
		{"port range missing the port", []string{"sg-0db"}, seed000().group("sg-0db", rules(tcpRange(5433, 5500, "sg-0bastion"), tcp(3306, "sg-0bastion"))), "blocked",
			"sg-0db has no inbound rule for tcp/5432 from sg-0bastion or 10.0.2.50; connections would time out, not be refused",
			"aws ec2 authorize-security-group-ingress --group-id sg-0db --protocol tcp --port 5432 --source-group sg-0bastion" + flags},
		{"udp does not count", []string{"sg-0db"}, seed000().group("sg-0db", rules(discovery.Rule{Protocol: "udp", FromPort: 5432, ToPort: 5432, GroupIDs: []string{"sg-0bastion"}})), "blocked",
			"sg-0db has no inbound rule for tcp/5432 from sg-0bastion or 10.0.2.50; connections would time out, not be refused",
			"aws ec2 authorize-security-group-ingress --group-id sg-0db --protocol tcp --port 5432 --source-group sg-0bastion" + flags},
		{"CIDR containing the private IP", []string{"sg-0db"}, seed000().group("sg-0db", rules(tcp(5432, "10.0.0.0/16"))), "ok",
			"sg-0db allows tcp/5432 from 10.0.0.0/16", ""},
		{"CIDR of another subnet", []string{"sg-0db"}, seed000().group("sg-0db", rules(tcp(5432, "10.0.1.0/24"))), "blocked",
			"sg-0db has no inbound rule for tcp/5432 from sg-0bastion or 10.0.2.50; connections would time out, not be refused",
			"aws ec2 authorize-security-group-ingress --group-id sg-0db --protocol tcp --port 5432 --source-group sg-0bastion" + flags},
		{"several groups, none admits", []string{"sg-a", "sg-b"}, seed000().group("sg-a", nil).group("sg-b", rules(tcp(5432, "sg-other"))), "blocked",
			"none of sg-a, sg-b has an inbound rule for tcp/5432 from sg-0bastion or 10.0.2.50; connections would time out, not be refused",
			"aws ec2 authorize-security-group-ingress --group-id sg-a --protocol tcp --port 5432 --source-group sg-0bastion" + flags},
		{"second group admits", []string{"sg-a", "sg-b"}, seed000().group("sg-a", nil).group("sg-b", rules(tcp(5432, "sg-0bastion"))), "ok",
			"sg-b allows tcp/5432 from sg-0bastion", ""},
		{"pass beats a prefix list", []string{"sg-a", "sg-b"}, seed000().group("sg-a", rules(tcp(5432, "pl-1"))).group("sg-b", rules(tcp(5432, "sg-0bastion"))), "ok",
			"sg-b allows tcp/5432 from sg-0bastion", ""},
		{"unreadable group", []string{"sg-gone"}, seed000(), "unknown", "dbtunnel could not read the rules of sg-gone", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.inv.Databases[0].SecurityGroups = tc.sgs
			r := judge1(t, tc.w, "i-0private", discovery.ViaSSM, Options{})
			checkRoutes(t, []discovery.Route{r}, want{"ssm", "i-0private", tc.verdict, []string{tc.reason}, tc.fix})
		})
	}
}

func TestBastionEgress(t *testing.T) {
	tests := []struct {
		name    string
		egress  []discovery.Rule
		verdict discovery.Verdict
		reasons []string
		fix     string
	}{
		{"to the database's group", rules(tcp(443, "0.0.0.0/0"), tcp(5432, "sg-0db")), "ok", nil, ""},
		{"to the VPC CIDR", rules(tcp(443, "0.0.0.0/0"), tcp(5432, "10.0.0.0/16")), "ok", nil, ""},
		{"to each subnet by its own rule", rules(tcp(443, "0.0.0.0/0"), tcp(5432, "10.0.3.0/24"), tcp(5432, "10.0.4.0/24")), "ok", nil, ""},
		{"to some subnets", rules(tcp(443, "0.0.0.0/0"), tcp(5432, "10.0.3.0/24")), "unknown", []string{
			"sg-0bastion allows tcp/5432 out to 10.0.3.0/24",
			"nothing allows it to 10.0.4.0/24: if prod-aurora's address is there, connections would time out",
		}, ""},
		{"to a prefix list", rules(tcp(443, "0.0.0.0/0"), tcp(5432, "pl-9")), "unknown", []string{
			"sg-0bastion allows tcp/5432 out to prefix list pl-9; dbtunnel cannot expand prefix lists",
		}, ""},
		{"only https", rules(tcp(443, "0.0.0.0/0")), "blocked", []string{
			"sg-0bastion allows no outbound tcp/5432 to prod-aurora (sg-0db, 10.0.3.0/24, 10.0.4.0/24); connections would time out, not be refused",
		}, "aws ec2 authorize-security-group-egress --group-id sg-0bastion --ip-permissions 'IpProtocol=tcp,FromPort=5432,ToPort=5432,UserIdGroupPairs=[{GroupId=sg-0db}]'" + flags},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := seed000().group("sg-0bastion", nil, tc.egress...)
			r := judge1(t, w, "i-0private", discovery.ViaSSM, Options{})
			reasons := tc.reasons
			if tc.verdict == discovery.VerdictOK {
				reasons = []string{"sg-0db allows tcp/5432 from sg-0bastion"}
			}
			checkRoutes(t, []discovery.Route{r}, want{"ssm", "i-0private", tc.verdict, reasons, tc.fix})
		})
	}
}

func TestSSH(t *testing.T) {
	open := rules(tcp(22, "0.0.0.0/0"))
	office := rules(tcp(22, "198.51.100.0/24"), tcp(22, "192.0.2.0/24"))
	tests := []struct {
		name    string
		w       *world
		client  string
		verdict discovery.Verdict
		check   string // the SSH ingress check's detail
		reasons []string
		fix     string
	}{
		{"open to the world", seed000().group("sg-0public", open), "", "ok",
			"sg-0public allows tcp/22 from 0.0.0.0/0", []string{"sg-0db allows tcp/5432 from sg-0public"}, ""},
		{"restricted, client unknown", seed000().group("sg-0public", office), "", "ok",
			"sg-0public allows tcp/22 only from 198.51.100.0/24, 192.0.2.0/24: your address must be in it",
			[]string{"sg-0db allows tcp/5432 from sg-0public", "sg-0public allows tcp/22 only from 198.51.100.0/24, 192.0.2.0/24: your address must be in it"}, ""},
		{"restricted, client inside", seed000().group("sg-0public", office), "192.0.2.77", "ok",
			"sg-0public allows tcp/22 from 192.0.2.0/24", []string{"sg-0db allows tcp/5432 from sg-0public"}, ""},
		{"restricted, client outside", seed000().group("sg-0public", office), "203.0.113.99", "blocked",
			"sg-0public allows tcp/22 only from 198.51.100.0/24, 192.0.2.0/24, not from your address 203.0.113.99; SSH would time out, not be refused", nil,
			"aws ec2 authorize-security-group-ingress --group-id sg-0public --protocol tcp --port 22 --cidr 203.0.113.99/32" + flags},
		{"no rule, client known", seed000().group("sg-0public", nil), "203.0.113.99", "blocked",
			"sg-0public has no inbound rule for tcp/22 from 203.0.113.99; SSH would time out, not be refused", nil,
			"aws ec2 authorize-security-group-ingress --group-id sg-0public --protocol tcp --port 22 --cidr 203.0.113.99/32" + flags},
		{"only from a group", seed000().group("sg-0public", rules(tcp(22, "sg-vpn"))), "", "blocked",
			"sg-0public allows tcp/22 only from security group sg-vpn, which your laptop is not in; SSH would time out, not be refused", nil,
			"aws ec2 authorize-security-group-ingress --group-id sg-0public --protocol tcp --port 22 --cidr <your-ip>/32" + flags},
		{"prefix list, client known", seed000().group("sg-0public", rules(tcp(22, "pl-office"))), "203.0.113.99", "unknown",
			"sg-0public allows tcp/22 from prefix list pl-office; dbtunnel cannot expand prefix lists", nil, ""},
		{"IPv6 client", seed000().group("sg-0public", rules(tcp(22, "2001:db8:1::/48"))), "2001:db8:2::5", "blocked",
			"sg-0public allows tcp/22 only from 2001:db8:1::/48, not from your address 2001:db8:2::5; SSH would time out, not be refused", nil,
			"aws ec2 authorize-security-group-ingress --group-id sg-0public --ip-permissions 'IpProtocol=tcp,FromPort=22,ToPort=22,Ipv6Ranges=[{CidrIpv6=2001:db8:2::5/128}]'" + flags},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := judge1(t, tc.w, "i-0public", discovery.ViaSSH, Options{ClientIP: tc.client})
			if c := check(t, r, "SSH ingress tcp/22"); c.Detail != tc.check {
				t.Errorf("ssh ingress detail\n got  %q\n want %q", c.Detail, tc.check)
			}
			reasons := tc.reasons
			if reasons == nil {
				reasons = []string{tc.check}
			}
			checkRoutes(t, []discovery.Route{r}, want{"ssh", "i-0public", tc.verdict, reasons, tc.fix})
		})
	}
}

func TestInternetGatewayRoute(t *testing.T) {
	tests := []struct {
		name   string
		w      *world
		status discovery.CheckStatus
		detail string
		fix    string
	}{
		{"public IP in a NAT subnet", seed000().table("rtb-public", "vpc-0abc", []string{"subnet-public"}, local("10.0.0.0/16"), toNAT("nat-0abc")),
			"fail", "subnet-public is private: rtb-public sends 0.0.0.0/0 to nat-0abc, not to an internet gateway; SSH to 203.0.113.10 would time out", ""},
		{"no default route: the VPC's gateway is suggested", seed000().edit(func(inv *discovery.Inventory) {
			inv.Bastions[0].SubnetID = "subnet-private"
		}), "fail", "subnet-private has no route to an internet gateway (rtb-main); SSH to 203.0.113.10 would time out",
			"aws ec2 create-route --route-table-id rtb-main --destination-cidr-block 0.0.0.0/0 --gateway-id igw-0abc" + flags},
		{"blackhole", seed000().table("rtb-public", "vpc-0abc", []string{"subnet-public"}, local("10.0.0.0/16"),
			discovery.NetRoute{Destination: "0.0.0.0/0", GatewayID: "igw-old", State: "blackhole"}),
			"fail", "rtb-public's route 0.0.0.0/0 to igw-old is a blackhole (the gateway is gone); SSH to 203.0.113.10 would time out",
			"aws ec2 replace-route --route-table-id rtb-public --destination-cidr-block 0.0.0.0/0 --gateway-id <igw-id>" + flags},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := judge1(t, tc.w, "i-0public", discovery.ViaSSH, Options{})
			c := check(t, r, "internet gateway route")
			if c.Status != tc.status || c.Detail != tc.detail || c.Fix != tc.fix {
				t.Errorf("got %+v\nwant %s %q %q", c, tc.status, tc.detail, tc.fix)
			}
			if r.Verdict != discovery.VerdictBlocked || r.Fix != tc.fix {
				t.Errorf("route %s fix %q", r.Verdict, r.Fix)
			}
		})
	}
}

func TestNotRunning(t *testing.T) {
	stopped := func(preferred bool) *world {
		return seed000().edit(func(inv *discovery.Inventory) {
			b := &inv.Bastions[1]
			b.State, b.Preferred, b.SSM.PingStatus = "stopped", preferred, "ConnectionLost"
		})
	}
	// Untagged stopped instances are not offered.
	w := stopped(false)
	Annotate(w.inv, Options{})
	if got := order(w.inv.Databases[0].Routes); !slices.Equal(got, []string{"ssh i-0public ok"}) {
		t.Errorf("routes %q", got)
	}
	// A tagged one is, blocked, with the command that starts it.
	w = stopped(true)
	Annotate(w.inv, Options{})
	rs := w.inv.Databases[0].Routes
	checkRoutes(t, rs,
		want{"ssh", "i-0public", "ok", []string{
			"sg-0db allows tcp/5432 from sg-0public",
			"sg-0public allows tcp/22 only from 198.51.100.7/32: your address must be in it",
		}, ""},
		want{"ssm", "i-0private", "blocked", []string{
			"i-0private is stopped",
			"i-0private is stopped, so its SSM agent cannot be online",
		}, "aws ec2 start-instances --instance-ids i-0private" + flags},
	)
	// Judge says the same of any instance, and terminated ones are never candidates.
	w = stopped(false)
	if r := judge1(t, w, "i-0private", discovery.ViaSSM, Options{}); r.Verdict != discovery.VerdictBlocked || check(t, r, "bastion running").Status != discovery.CheckFail {
		t.Errorf("judged stopped bastion: %s", dump(r))
	}
	w = seed000().edit(func(inv *discovery.Inventory) { inv.Bastions[1].State, inv.Bastions[1].Preferred = "terminated", true })
	Annotate(w.inv, Options{})
	if got := order(w.inv.Databases[0].Routes); !slices.Equal(got, []string{"ssh i-0public ok"}) {
		t.Errorf("routes %q", got)
	}
}

func TestCandidates(t *testing.T) {
	w := seed000().bastion(
		// no public IP, not managed, no profile, not tagged: no bastion
		discovery.Bastion{InstanceID: "i-0app", VPCID: "vpc-0abc", SubnetID: "subnet-private", PrivateIP: "10.0.2.9", SecurityGroups: []string{"sg-0bastion"}, State: "running"},
		// another VPC with no route: no bastion
		with(ssmBastion("i-0far", "far", "subnet-far", "10.7.0.5", "sg-0bastion"), func(b *discovery.Bastion) { b.VPCID = "vpc-far" }),
		// public and managed: both routes
		with(ssmBastion("i-0both", "both", "subnet-public", "10.0.1.40", "sg-0bastion", "sg-0public"), func(b *discovery.Bastion) { b.PublicIP = "203.0.113.40" }),
	)
	Annotate(w.inv, Options{})
	got := order(w.inv.Databases[0].Routes)
	if w := []string{"ssm i-0private ok", "ssm i-0both ok", "ssh i-0public ok", "ssh i-0both ok"}; !slices.Equal(got, w) {
		t.Errorf("routes %q, want %q", got, w)
	}
	// A VPC with no bastion at all: an empty list, not null.
	w = seed000().edit(func(inv *discovery.Inventory) { inv.Bastions = nil })
	Annotate(w.inv, Options{})
	b, _ := json.Marshal(w.inv.Databases[0])
	if !strings.Contains(string(b), `"routes":[]`) {
		t.Errorf("no routes should marshal as []: %s", b)
	}
}

func TestOrder(t *testing.T) {
	w := seed000().
		group("sg-0db", rules(tcp(5432, "sg-0bastion", "sg-0public"), tcp(5432, "pl-1"))).
		group("sg-nope", nil).
		bastion(
			ssmBastion("i-0a", "alpha", "subnet-private", "10.0.2.51", "sg-0bastion"),
			with(ssmBastion("i-0z", "zulu", "subnet-private", "10.0.2.52", "sg-0bastion"), func(b *discovery.Bastion) { b.Preferred = true }),
			with(ssmBastion("i-0pub", "public-ssm", "subnet-public", "10.0.1.53", "sg-0public"), func(b *discovery.Bastion) { b.PublicIP = "203.0.113.53"; b.Name = "a-public-ssm" }),
			with(ssmBastion("i-0off", "offline", "subnet-private", "10.0.2.54", "sg-0bastion"), func(b *discovery.Bastion) { b.SSM = discovery.SSMStatus{} }),
			ssmBastion("i-0nope", "nope", "subnet-private", "10.0.2.55", "sg-nope"),
		)
	want := []string{
		"ssm i-0z ok", // preferred first among SSM-online with no public IP
		"ssm i-0a ok",
		"ssm i-0private ok",
		"ssm i-0pub ok", // SSM, but with a public IP: after those without, whatever its name
		"ssh i-0pub ok",
		"ssh i-0public ok",
		"ssm i-0nope unknown", // the prefix list might admit it
		"ssm i-0off unknown",  // never registered
	}
	Annotate(w.inv, Options{})
	if got := order(w.inv.Databases[0].Routes); !slices.Equal(got, want) {
		t.Errorf("order\n got  %q\n want %q", got, want)
	}
	first := dump(w.inv.Databases)
	// Same bytes whatever order AWS listed the instances in, and on re-runs.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(w.inv.Bastions), func(i, k int) { w.inv.Bastions[i], w.inv.Bastions[k] = w.inv.Bastions[k], w.inv.Bastions[i] })
		Annotate(w.inv, Options{})
		if got := dump(w.inv.Databases); got != first {
			t.Fatalf("after shuffle:\n%s\nwant:\n%s", got, first)
		}
	}
}

func TestBlockedOrderAndVerdictRanking(t *testing.T) {
	w := seed000().group("sg-0db", nil)
	Annotate(w.inv, Options{})
	got := order(w.inv.Databases[0].Routes)
	if want := []string{"ssm i-0private blocked", "ssh i-0public blocked"}; !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestFixFlagsFromScope(t *testing.T) {
	w := seed000().group("sg-0db", nil).edit(func(inv *discovery.Inventory) {
		inv.Scope = discovery.Scope{}
		inv.Databases[0].Profile, inv.Databases[0].Region = "", ""
	})
	r := judge1(t, w, "i-0private", discovery.ViaSSM, Options{})
	if want := "aws ec2 authorize-security-group-ingress --group-id sg-0db --protocol tcp --port 5432 --source-group sg-0bastion"; r.Fix != want {
		t.Errorf("fix %q, want %q", r.Fix, want)
	}
}

func TestJudgeUnknownBackend(t *testing.T) {
	r := judge1(t, seed000(), "i-0private", "telnet", Options{})
	if r.Verdict != discovery.VerdictBlocked || !strings.Contains(r.Reasons[0], `unknown backend "telnet"`) {
		t.Errorf("%s", dump(r))
	}
}

func TestJudgeSSHWithoutPublicIP(t *testing.T) {
	r := judge1(t, seed000(), "i-0private", discovery.ViaSSH, Options{})
	if c := check(t, r, "public IP"); c.Status != discovery.CheckFail || r.Verdict != discovery.VerdictBlocked {
		t.Errorf("%s", dump(r))
	}
}

func TestAnnotateNil(t *testing.T) {
	Annotate(nil, Options{})
	if rs := Routes(nil, discovery.Database{}, discovery.Endpoint{}, Options{}); rs == nil || len(rs) != 0 {
		t.Errorf("Routes(nil) = %v", rs)
	}
}

func TestRunningStates(t *testing.T) {
	tests := []struct {
		state  string
		status discovery.CheckStatus
		detail string
		fix    string
	}{
		{"running", "pass", "i-0private is running", ""},
		{"", "unknown", "dbtunnel does not know whether i-0private is running", ""},
		{"pending", "unknown", "i-0private is pending: it should be running shortly", ""},
		{"stopping", "fail", "i-0private is stopping", "aws ec2 start-instances --instance-ids i-0private" + flags},
		{"shutting-down", "fail", "i-0private is shutting-down, not running", ""},
	}
	for _, tc := range tests {
		t.Run(cmp.Or(tc.state, "empty"), func(t *testing.T) {
			w := seed000().edit(func(inv *discovery.Inventory) { inv.Bastions[1].State = tc.state })
			r := judge1(t, w, "i-0private", discovery.ViaSSM, Options{})
			if c := check(t, r, "bastion running"); c.Status != tc.status || c.Detail != tc.detail || c.Fix != tc.fix {
				t.Errorf("got %+v", c)
			}
		})
	}
}

// A database with no security group gets the command that attaches one,
// in the words of its own service.
func TestGrouplessFixes(t *testing.T) {
	sg := "<sg-allowing-tcp-5432-from-sg-0bastion>"
	tests := []struct {
		kind discovery.Kind
		ep   *discovery.Endpoint // an endpoint with its own network, judged instead
		fix  string
	}{
		{discovery.KindAuroraCluster, nil, "aws rds modify-db-cluster --db-cluster-identifier prod-aurora --vpc-security-group-ids " + sg + " --apply-immediately"},
		{discovery.KindRDSProxy, nil, "aws rds modify-db-proxy --db-proxy-name prod-aurora --security-groups " + sg},
		{discovery.KindRedshiftCluster, nil, "aws redshift modify-cluster --cluster-identifier prod-aurora --vpc-security-group-ids " + sg},
		{discovery.KindRedshiftServerless, nil, "aws redshift-serverless update-workgroup --workgroup-name prod-aurora --security-group-ids " + sg},
		{discovery.KindRedshiftServerless, &discovery.Endpoint{Role: discovery.RoleManagedEndpoint, Name: "ep1", Host: "ep1.example", Port: 5432, VPCID: "vpc-0abc", SubnetIDs: []string{"subnet-db-a"}},
			"aws redshift-serverless update-endpoint-access --endpoint-name ep1 --vpc-security-group-ids " + sg},
		{discovery.KindVPCResourceEndpoint, &discovery.Endpoint{Role: discovery.RoleResource, Name: "vpce-1", Host: "r.example", Port: 5432, VPCID: "vpc-0abc", SubnetIDs: []string{"subnet-db-a"}}, ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			w := seed000().edit(func(inv *discovery.Inventory) {
				inv.Databases[0].Kind, inv.Databases[0].SecurityGroups = tc.kind, nil
			})
			db := w.inv.Databases[0]
			ep, what := db.Endpoints[0], "prod-aurora"
			if tc.ep != nil {
				ep, what = *tc.ep, "endpoint "+tc.ep.Name
			}
			r := Judge(w.inv, db, ep, w.inv.Bastions[1], discovery.ViaSSM, Options{})
			fix := tc.fix
			if fix != "" {
				fix += flags
			}
			checkRoutes(t, []discovery.Route{r}, want{"ssm", "i-0private", "blocked",
				[]string{what + " has no security groups, so all inbound traffic is dropped; connections would time out, not be refused"}, fix})
		})
	}
}

// Across a peering the fixes name addresses, not groups.
func TestOtherVPCFixes(t *testing.T) {
	w := peered(toPCX("10.1.0.0/16", "pcx-1")).
		group("sg-0bastion", nil, tcp(443, "0.0.0.0/0")).
		group("sg-0db", nil)
	r := judge1(t, w, "i-0private", discovery.ViaSSM, Options{})
	if c := check(t, r, "bastion egress tcp/5432"); c.Fix != "aws ec2 authorize-security-group-egress --group-id sg-0bastion --ip-permissions 'IpProtocol=tcp,FromPort=5432,ToPort=5432,IpRanges=[{CidrIp=10.1.3.0/24},{CidrIp=10.1.4.0/24}]'"+flags {
		t.Errorf("egress fix %q", c.Fix)
	}
	if c := check(t, r, "database ingress tcp/5432"); c.Fix != "aws ec2 authorize-security-group-ingress --group-id sg-0db --protocol tcp --port 5432 --cidr 10.0.2.50/32"+flags {
		t.Errorf("ingress fix %q", c.Fix)
	}
	if r.Verdict != discovery.VerdictBlocked || len(r.Reasons) != 2 {
		t.Errorf("route %s", dump(r))
	}
}

// A subnet whose internet gateway route is narrower than 0.0.0.0/0.
func TestNarrowGatewayRoute(t *testing.T) {
	narrow := discovery.NetRoute{Destination: "198.51.100.0/24", GatewayID: "igw-0abc", State: "active"}
	w := seed000().table("rtb-public", "vpc-0abc", []string{"subnet-public"}, local("10.0.0.0/16"), narrow)
	tests := []struct {
		client string
		status discovery.CheckStatus
		detail string
	}{
		{"", "pass", "subnet-public routes only 198.51.100.0/24 to igw-0abc: your address must be in it"},
		{"198.51.100.7", "pass", "subnet-public routes 198.51.100.0/24 to igw-0abc (rtb-public)"},
		{"203.0.113.1", "fail", "subnet-public has no route to an internet gateway (rtb-public); SSH to 203.0.113.10 would time out"},
	}
	for _, tc := range tests {
		r := judge1(t, w, "i-0public", discovery.ViaSSH, Options{ClientIP: tc.client})
		if c := check(t, r, "internet gateway route"); c.Status != tc.status || c.Detail != tc.detail {
			t.Errorf("client %q: got %+v", tc.client, c)
		}
	}
}

func TestUnreadableBastionGroup(t *testing.T) {
	w := seed000().edit(func(inv *discovery.Inventory) { inv.Bastions[0].SecurityGroups = []string{"sg-gone"} }).
		group("sg-0db", rules(tcp(5432, "10.0.0.0/16")))
	r := judge1(t, w, "i-0public", discovery.ViaSSH, Options{})
	for _, name := range []string{"SSH ingress tcp/22", "bastion egress tcp/5432"} {
		if c := check(t, r, name); c.Status != discovery.CheckUnknown || c.Detail != "dbtunnel could not read the rules of sg-gone" {
			t.Errorf("%s: %+v", name, c)
		}
	}
	if r.Verdict != discovery.VerdictUnknown {
		t.Errorf("verdict %s", r.Verdict)
	}
}

// SSMAgent gives the SSM check alone, with the same causes Judge finds,
// for explaining TargetNotConnected without a database at hand.
func TestSSMAgent(t *testing.T) {
	find := func(w *world, id string) discovery.Bastion {
		for _, b := range w.inv.Bastions {
			if b.InstanceID == id {
				return b
			}
		}
		t.Fatalf("no bastion %s", id)
		return discovery.Bastion{}
	}
	w := seed000()
	if c := SSMAgent(w.inv, find(w, "i-0private"), Options{}); c.Status != discovery.CheckPass {
		t.Fatalf("online agent: %+v", c)
	}
	w = seed000().edit(func(inv *discovery.Inventory) { inv.Network.VPCEndpoints = nil })
	b := find(w, "i-0private")
	b.SSM = discovery.SSMStatus{}
	c := SSMAgent(w.inv, b, Options{})
	if c.Status != discovery.CheckFail || !strings.Contains(c.Detail, "has no interface endpoint for com.amazonaws.ap-northeast-1.ssm") ||
		!strings.HasPrefix(c.Fix, "aws ec2 create-vpc-endpoint --vpc-id vpc-0abc") {
		t.Fatalf("no way out: %+v", c)
	}
	b.State = "stopped"
	if c := SSMAgent(w.inv, b, Options{}); c.Name != "bastion running" || c.Status != discovery.CheckFail {
		t.Fatalf("stopped: %+v", c)
	}
}
