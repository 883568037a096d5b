package awssource

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

// world is the seeds' topology in one region of the fake:
//
//	000 public bastion + SSH, private bastion + SSM, Aurora behind them
//	001 Redshift Serverless with a managed endpoint in another VPC
//	002 a database whose group admits nothing (a hang, predicted)
//	004 a resource endpoint
type world struct {
	f                    *awsfake.Fake
	vpc, vpcB            *awsfake.VPC
	pubB, privB, stopped *awsfake.Instance
	aurora               *awsfake.DBCluster
	locked               *awsfake.DBInstance
	proxy                *awsfake.DBProxy
	rs                   *awsfake.RedshiftCluster
	wg                   *awsfake.Workgroup
	managed              *awsfake.ManagedEndpoint
	res                  *awsfake.VPCEndpoint
}

const (
	fakeAccount = "123456789012"
	fakeKey     = "AKIDPRODEXAMPLE"
	fakeRegion  = "ap-northeast-1"
)

func newWorld(t *testing.T) *world {
	t.Helper()
	f := awsfake.NewServer(t)
	r := f.Account(fakeAccount, fakeKey).Region(fakeRegion)
	w := &world{f: f}
	w.vpc = r.VPC("10.0.0.0/16")
	pub := w.vpc.Subnet("10.0.1.0/24", awsfake.Public)
	priv := w.vpc.Subnet("10.0.2.0/24").WithNAT()
	priv2 := w.vpc.Subnet("10.0.3.0/24")
	sgB := w.vpc.SecurityGroup("bastion").AllowIngress("tcp", 22, "203.0.113.0/24")
	sgDB := w.vpc.SecurityGroup("db").AllowIngressFromGroup("tcp", 5432, sgB).AllowIngressFromGroup("tcp", 5439, sgB)
	sgDeny := w.vpc.SecurityGroup("db-deny")
	w.pubB = r.Instance("bastion-public", pub, sgB).PublicIP("198.51.100.10").KeyName("ops")
	w.privB = r.Instance("bastion-private", priv, sgB).InstanceProfile("ssm-core").SSMOnline().Tag(PreferredTag, "true")
	w.stopped = r.Instance("old", priv, sgB).State("stopped")
	w.aurora = r.AuroraCluster("prod-aurora", "aurora-postgresql", []*awsfake.Subnet{priv, priv2}, sgDB).
		Readers(1).CustomEndpoint("reporting").IAMAuth().ManagedSecret()
	w.locked = r.RDSInstance("locked", "postgres", []*awsfake.Subnet{priv, priv2}, sgDeny)
	w.proxy = r.RDSProxy("app-proxy", "POSTGRESQL", []*awsfake.Subnet{priv, priv2}, sgDB)
	w.rs = r.RedshiftCluster("warehouse", []*awsfake.Subnet{priv}, sgDB)
	w.vpcB = r.VPC("10.1.0.0/16")
	subB := w.vpcB.Subnet("10.1.1.0/24")
	sgEP := w.vpcB.SecurityGroup("rs-endpoint").AllowIngress("tcp", 5439, "10.0.0.0/8")
	// The VPCs are peered: the bastions reach the managed endpoint.
	pub.Route("10.1.0.0/16", "pcx-0123456789abcdef0")
	priv.Route("10.1.0.0/16", "pcx-0123456789abcdef0")
	w.vpcB.Route("10.0.0.0/16", "pcx-0123456789abcdef0")
	w.wg = r.ServerlessWorkgroup("analytics", []*awsfake.Subnet{priv, priv2}, w.vpc.SecurityGroup("wg"))
	w.managed = w.wg.ManagedEndpoint("analytics-ep", []*awsfake.Subnet{subB}, sgEP)
	w.res = w.vpc.ResourceEndpoint("partner-db", []*awsfake.Subnet{priv}, w.vpc.SecurityGroup("res"))
	for _, svc := range []string{"ssm", "ssmmessages", "ec2messages"} {
		w.vpc.InterfaceEndpoint(svc, []*awsfake.Subnet{priv}, w.vpc.SecurityGroup("vpce-"+svc).AllowIngressFromGroup("tcp", 443, sgB))
	}
	return w
}

// viaLoadOptions points the SDK at the fake through Options.LoadOptions.
func (w *world) viaLoadOptions(opts ...func(*Options)) *Source {
	o := Options{
		LoadOptions: []func(*config.LoadOptions) error{
			config.WithBaseEndpoint(w.f.URL),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(fakeKey, "x", "")),
		},
		Now: func() time.Time { return fixedNow },
	}
	for _, fn := range opts {
		fn(&o)
	}
	return New(o)
}

func (w *world) check(t *testing.T, inv *discovery.Inventory) {
	t.Helper()
	eq(t, "account", inv.Account, fakeAccount)
	eq(t, "warnings", inv.Warnings, []string(nil))
	eq(t, "names", names(inv), []string{"analytics", "app-proxy", "locked", "partner-db", "prod-aurora", "warehouse"})
	for _, d := range inv.Databases {
		if d.Region != fakeRegion || d.Account != fakeAccount {
			t.Errorf("%s: region %q account %q", d.Name, d.Region, d.Account)
		}
	}

	aurora := db(t, inv, "prod-aurora")
	eq(t, "aurora kind", aurora.Kind, discovery.KindAuroraCluster)
	eq(t, "aurora vpc", aurora.VPCID, w.vpc.ID())
	eq(t, "aurora iam", aurora.IAMAuth, true)
	eq(t, "aurora secret", aurora.MasterUserSecretARN, w.aurora.SecretARN())
	var eps []string
	for _, e := range aurora.Endpoints {
		eps = append(eps, e.Role+" "+e.Name+" "+e.Host)
		if e.Port != 5432 {
			t.Errorf("%s port %d", e.Role, e.Port)
		}
	}
	eq(t, "aurora endpoints", eps, []string{
		"writer  " + w.aurora.Writer().Host,
		"reader  " + w.aurora.Reader().Host,
		"custom reporting " + w.aurora.Custom("reporting").Host,
	})
	for _, m := range w.aurora.Members() {
		if slices.Contains(names(inv), m.ID()) {
			t.Errorf("member %s listed on its own", m.ID())
		}
	}

	proxy := db(t, inv, "app-proxy")
	eq(t, "proxy", []any{proxy.Kind, proxy.Engine, proxy.Endpoints[0].Host, proxy.Endpoints[0].Port},
		[]any{discovery.KindRDSProxy, "postgres", w.proxy.Endpoint().Host, 5432})

	rs := db(t, inv, "warehouse")
	eq(t, "redshift", []any{rs.Kind, rs.Endpoints[0].Host, rs.Endpoints[0].Port}, []any{discovery.KindRedshiftCluster, w.rs.Endpoint().Host, w.rs.Endpoint().Port})

	wg := db(t, inv, "analytics")
	eq(t, "workgroup kind", wg.Kind, discovery.KindRedshiftServerless)
	eq(t, "workgroup vpc", wg.VPCID, w.vpc.ID())
	eq(t, "workgroup endpoint", wg.Endpoints[0].Host, w.wg.Endpoint().Host)
	if len(wg.Endpoints) != 2 {
		t.Fatalf("workgroup endpoints %+v", wg.Endpoints)
	}
	me := wg.Endpoints[1]
	eq(t, "managed endpoint", []any{me.Role, me.Name, me.Host, me.Port, me.VPCID},
		[]any{discovery.RoleManagedEndpoint, "analytics-ep", w.managed.Endpoint().Host, 5439, w.vpcB.ID()})

	res := db(t, inv, "partner-db")
	eq(t, "resource endpoint", []any{res.Kind, res.Endpoints[0].Host, res.Endpoints[0].VPCID},
		[]any{discovery.KindVPCResourceEndpoint, w.res.DNSNames()[0], w.vpc.ID()})

	var ids []string
	for _, b := range inv.Bastions {
		ids = append(ids, b.InstanceID)
	}
	want := []string{w.pubB.ID(), w.privB.ID()}
	slices.Sort(want)
	eq(t, "bastions (stopped, untagged one left out)", ids, want)
	priv := bastion(t, inv, w.privB.ID())
	if !priv.SSM.Online() || !priv.Preferred || priv.InstanceProfile == "" || priv.Name != "bastion-private" {
		t.Errorf("private bastion %+v", priv)
	}
	pub := bastion(t, inv, w.pubB.ID())
	eq(t, "public bastion", []any{pub.PublicIP, pub.KeyName, pub.SSM.Managed}, []any{"198.51.100.10", "ops", false})

	if len(inv.Network.SecurityGroups) == 0 || len(inv.Network.Subnets) != 4 || len(inv.Network.VPCEndpoints) != 4 {
		t.Errorf("network: %d groups, %d subnets, %d endpoints", len(inv.Network.SecurityGroups), len(inv.Network.Subnets), len(inv.Network.VPCEndpoints))
	}

	// reach ran: the private bastion carries an SSM tunnel to Aurora, and
	// nothing reaches the database whose group admits nothing (seed 002).
	if len(aurora.Routes) == 0 || aurora.Routes[0].Verdict != discovery.VerdictOK || aurora.Routes[0].Via != discovery.ViaSSM ||
		aurora.Routes[0].Bastion != w.privB.ID() {
		t.Errorf("aurora best route: %+v", aurora.Routes)
	}
	locked := db(t, inv, "locked")
	for _, r := range locked.Routes {
		if r.Verdict == discovery.VerdictOK {
			t.Errorf("locked database reachable: %+v", r)
		}
	}
	if len(me.Routes) == 0 {
		t.Error("managed endpoint has no routes of its own")
	}
}

func TestAWSFakeLoadOptions(t *testing.T) {
	hermetic(t)
	w := newWorld(t)
	inv, err := w.viaLoadOptions().Discover(context.Background(), discovery.Scope{Region: fakeRegion})
	if err != nil {
		t.Fatal(err)
	}
	w.check(t, inv)
}

// TestAWSFakeEnvironment points the SDK at the fake exactly as a user
// would point the aws CLI: AWS_ENDPOINT_URL and environment keys.
func TestAWSFakeEnvironment(t *testing.T) {
	hermetic(t)
	w := newWorld(t)
	for _, kv := range w.f.Env(fakeKey, fakeRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	inv, err := New(Options{}).Discover(context.Background(), discovery.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "scope", inv.Scope, discovery.Scope{Region: fakeRegion})
	w.check(t, inv)
}

// TestAWSFakeProfiles reads a shared config file: a profile with keys and
// one that assumes a role from it, both sent to the fake by endpoint_url.
func TestAWSFakeProfiles(t *testing.T) {
	dir := hermetic(t)
	w := newWorld(t)
	cfgFile, credFile, err := w.f.WriteSharedConfig(dir,
		awsfake.Profile{Name: "prod", AccessKey: fakeKey, Region: fakeRegion},
		awsfake.Profile{Name: "admin", RoleARN: "arn:aws:iam::" + fakeAccount + ":role/Admin", SourceProfile: "prod", Region: fakeRegion},
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	for _, p := range []string{"prod", "admin"} {
		inv, err := New(Options{}).Discover(context.Background(), discovery.Scope{Profile: p})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		eq(t, "database profile", inv.Databases[0].Profile, p)
		w.check(t, inv)
	}
}

func TestAWSFakePaged(t *testing.T) {
	hermetic(t)
	w := newWorld(t)
	whole, err := w.viaLoadOptions().Discover(context.Background(), discovery.Scope{Region: fakeRegion})
	if err != nil {
		t.Fatal(err)
	}
	w.f.PageSize(1)
	w.f.ResetCalls()
	paged, err := w.viaLoadOptions().Discover(context.Background(), discovery.Scope{Region: fakeRegion})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(whole)
	b, _ := json.Marshal(paged)
	if string(a) != string(b) {
		t.Errorf("paged inventory differs:\n%s\n%s", a, b)
	}
	if n := w.f.Calls(opSubnets); n < 4 {
		t.Errorf("subnets read in %d calls with page size 1", n)
	}
}

func TestAWSFakeDenied(t *testing.T) {
	hermetic(t)
	w := newWorld(t)
	w.f.Deny("ec2:DescribeVpcEndpoints", "ssm:DescribeInstanceInformation", "redshift-serverless:*",
		"rds:DescribeDBProxies", "redshift:DescribeClusterSubnetGroups")
	inv, err := w.viaLoadOptions().Discover(context.Background(), discovery.Scope{Region: fakeRegion})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "warnings", inv.Warnings, []string{
		"missing permission ec2:DescribeVpcEndpoints: VPC endpoint checks will be unknown and resource endpoints are not listed",
		"missing permission rds:DescribeDBProxies: RDS proxies are not listed",
		"missing permission redshift:DescribeClusterSubnetGroups: the subnets of Redshift clusters are unknown",
		"missing permission redshift-serverless:ListWorkgroups: Redshift Serverless workgroups are not listed",
		"missing permission redshift-serverless:ListEndpointAccess: Redshift Serverless managed VPC endpoints are not listed",
		"missing permission redshift-serverless:ListNamespaces: Redshift Serverless admin secrets are unknown",
		"missing permission ssm:DescribeInstanceInformation: SSM agent status is unknown",
	})
	eq(t, "names", names(inv), []string{"locked", "prod-aurora", "warehouse"})
	eq(t, "redshift subnets unknown", db(t, inv, "warehouse").SubnetIDs, []string(nil))
	if inv.Network.VPCEndpoints != nil {
		t.Error("denied VPC endpoints should be unknown (nil)")
	}
}

func TestAWSFakeExpiredKey(t *testing.T) {
	hermetic(t)
	w := newWorld(t)
	w.f.ExpireKey(fakeKey)
	_, err := w.viaLoadOptions().Discover(context.Background(), discovery.Scope{Profile: "", Region: fakeRegion})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Reason != CredentialsExpired {
		t.Fatalf("want expired credentials, got %T: %v", err, err)
	}
	if !strings.Contains(err.Error(), "credentials for profile default have expired") {
		t.Errorf("message: %v", err)
	}
}

func TestAWSFakeUnknownKey(t *testing.T) {
	hermetic(t)
	w := newWorld(t)
	src := New(Options{LoadOptions: []func(*config.LoadOptions) error{
		config.WithBaseEndpoint(w.f.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDUNKNOWN", "x", "")),
	}})
	_, err := src.Discover(context.Background(), discovery.Scope{Region: fakeRegion})
	var ce *CredentialsError
	if !errors.As(err, &ce) || ce.Reason != CredentialsRejected {
		t.Fatalf("want rejected credentials, got %T: %v", err, err)
	}
}

// TestAWSFakeScanCached runs the whole discovery stack: two scopes
// scanned through the cache, the second scan served without AWS.
func TestAWSFakeScanCached(t *testing.T) {
	dir := hermetic(t)
	w := newWorld(t)
	w.f.Account("210987654321", "AKIDOTHER").Region("us-east-1").VPC("10.9.0.0/16")
	cfgFile, credFile, err := w.f.WriteSharedConfig(dir,
		awsfake.Profile{Name: "prod", AccessKey: fakeKey, Region: fakeRegion},
		awsfake.Profile{Name: "other", AccessKey: "AKIDOTHER", Region: "us-east-1"},
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	cache := &discovery.Cache{Dir: dir + "/cache", TTL: time.Minute}
	src := discovery.CachedSource{Source: New(Options{}), Cache: cache}
	scopes := []discovery.Scope{{Profile: "prod", Region: fakeRegion}, {Profile: "other", Region: "us-east-1"}, {Profile: "missing", Region: "us-east-1"}}

	first := discovery.Scan(context.Background(), src, scopes, 2)
	if first[0].Err != nil || first[1].Err != nil {
		t.Fatalf("scan: %v / %v", first[0].Err, first[1].Err)
	}
	w.check(t, first[0].Inventory)
	eq(t, "other account", first[1].Inventory.Account, "210987654321")
	if first[2].Err == nil || !strings.Contains(first[2].Err.Error(), "profile missing is not in the AWS config files") {
		t.Errorf("missing profile: %v", first[2].Err)
	}

	calls := w.f.TotalCalls()
	second := discovery.Scan(context.Background(), src, scopes[:2], 2)
	if w.f.TotalCalls() != calls {
		t.Errorf("cached scan called AWS %d times", w.f.TotalCalls()-calls)
	}
	for i, r := range second {
		if !r.FromCache || r.Err != nil {
			t.Errorf("scope %d: from cache %v, err %v", i, r.FromCache, r.Err)
		}
	}
	w.check(t, second[0].Inventory)
	if st, err := os.Stat(cache.Path(scopes[0])); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cache file: %v %v", st, err)
	}
}

// The secrets a database's admin password is kept in come out of discovery
// with the admin user: RDS's MasterUserSecret, Redshift Serverless's
// namespace AdminPasswordSecretArn.
func TestAWSFakeAdminSecrets(t *testing.T) {
	hermetic(t)
	w := newWorld(t)
	w.wg.ManagedAdminSecret()
	inv, err := w.viaLoadOptions().Discover(context.Background(), discovery.Scope{Region: fakeRegion})
	if err != nil {
		t.Fatal(err)
	}
	a := db(t, inv, "prod-aurora")
	if a.MasterUserSecretARN != w.aurora.SecretARN() || a.MasterUsername != "postgres" {
		t.Errorf("aurora: secret %q user %q, want %q postgres", a.MasterUserSecretARN, a.MasterUsername, w.aurora.SecretARN())
	}
	if l := db(t, inv, "locked"); l.MasterUserSecretARN != "" || l.MasterUsername != "postgres" {
		t.Errorf("an instance without a managed secret: %q %q", l.MasterUserSecretARN, l.MasterUsername)
	}
	s := db(t, inv, "analytics")
	if s.MasterUserSecretARN != w.wg.AdminSecretARN() || s.MasterUsername != "admin" || s.Namespace != "analytics" || s.MasterUserSecretARN == "" {
		t.Errorf("serverless: secret %q user %q namespace %q, want %q", s.MasterUserSecretARN, s.MasterUsername, s.Namespace, w.wg.AdminSecretARN())
	}
}
