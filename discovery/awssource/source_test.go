package awssource

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// hermetic keeps the SDK away from the machine's AWS configuration,
// environment credentials and the instance metadata service.
func hermetic(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeSource is a Source whose clients are f, with static credentials.
func fakeSource(f *fakeAWS, opts ...func(*Options)) *Source {
	o := Options{
		LoadOptions: []func(*config.LoadOptions) error{
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")),
		},
		NewClients: func(aws.Config) *Clients { return f.clients() },
		Now:        func() time.Time { return fixedNow },
	}
	for _, fn := range opts {
		fn(&o)
	}
	return New(o)
}

var prodScope = discovery.Scope{Profile: "", Region: "ap-northeast-1"}

// fetchBuild maps the fake without going through config loading or reach.
func fetchBuild(t *testing.T, f *fakeAWS) *discovery.Inventory {
	t.Helper()
	r := runner{clients: f.clients(), concurrency: 4, log: slog.New(slog.DiscardHandler), profile: "prod", region: "ap-northeast-1"}
	raw, err := r.fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return build(raw, discovery.Scope{Profile: "prod", Region: "ap-northeast-1"}, "ap-northeast-1", fixedNow)
}

func db(t *testing.T, inv *discovery.Inventory, name string) discovery.Database {
	t.Helper()
	for _, d := range inv.Databases {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no database %q in %v", name, names(inv))
	return discovery.Database{}
}

func names(inv *discovery.Inventory) []string {
	var out []string
	for _, d := range inv.Databases {
		out = append(out, d.Name)
	}
	return out
}

func bastion(t *testing.T, inv *discovery.Inventory, id string) discovery.Bastion {
	t.Helper()
	for _, b := range inv.Bastions {
		if b.InstanceID == id {
			return b
		}
	}
	t.Fatalf("no bastion %q", id)
	return discovery.Bastion{}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func TestMappingDatabases(t *testing.T) {
	inv := fetchBuild(t, fixture())
	eq(t, "warnings", inv.Warnings, []string(nil))
	eq(t, "account", inv.Account, testAccount)
	// Sorted by name; Aurora and DocumentDB members folded into their
	// clusters; the interface endpoint is network, not a database.
	eq(t, "names", names(inv), []string{
		"analytics-wg", "app-proxy", "creating", "docs", "legacy-mysql", "partner-db", "partner-wg", "prod-aurora", "stray-member", "warehouse",
	})
	for _, d := range inv.Databases {
		if d.Profile != "prod" || d.Region != "ap-northeast-1" || d.Account != testAccount {
			t.Errorf("%s: scope fields %q %q %q", d.Name, d.Profile, d.Region, d.Account)
		}
		if d.SecurityGroups == nil || d.Endpoints == nil || d.Routes == nil {
			t.Errorf("%s: nil list in JSON-facing field", d.Name)
		}
	}

	aurora := db(t, inv, "prod-aurora")
	eq(t, "aurora kind", aurora.Kind, discovery.KindAuroraCluster)
	eq(t, "aurora engine", aurora.Engine, "aurora-postgresql")
	eq(t, "aurora vpc", aurora.VPCID, "vpc-a")
	eq(t, "aurora subnets", aurora.SubnetIDs, []string{"subnet-priv1", "subnet-priv2"})
	eq(t, "aurora sgs", aurora.SecurityGroups, []string{"sg-db"})
	eq(t, "aurora iam", aurora.IAMAuth, true)
	eq(t, "aurora secret", aurora.MasterUserSecretARN, "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!cluster-1")
	eq(t, "aurora tags", aurora.Tags, map[string]string{"env": "prod"})
	eq(t, "aurora endpoints", aurora.Endpoints, []discovery.Endpoint{
		{Role: discovery.RoleWriter, Host: "prod-aurora.cluster-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
		{Role: discovery.RoleReader, Host: "prod-aurora.cluster-ro-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
		{Role: RoleCustom, Name: "analytics", Host: "analytics.cluster-custom-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
		{Role: RoleCustom, Name: "reporting", Host: "reporting.cluster-custom-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
	})

	docs := db(t, inv, "docs")
	eq(t, "docdb kind", docs.Kind, discovery.KindAuroraCluster)
	eq(t, "docdb engine", docs.Engine, "docdb")
	eq(t, "docdb subnets from member", docs.SubnetIDs, []string{"subnet-priv2"})
	eq(t, "docdb vpc from member", docs.VPCID, "vpc-a")

	mysql := db(t, inv, "legacy-mysql")
	eq(t, "instance kind", mysql.Kind, discovery.KindRDSInstance)
	eq(t, "instance endpoints", mysql.Endpoints, []discovery.Endpoint{{Role: discovery.RoleInstance, Host: "legacy-mysql.abc.ap-northeast-1.rds.amazonaws.com", Port: 3306}})
	eq(t, "instance vpc", mysql.VPCID, "vpc-a")
	eq(t, "instance status", mysql.Status, "available")
	eq(t, "instance iam", mysql.IAMAuth, true)
	eq(t, "instance secret", mysql.MasterUserSecretARN, "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!db-1")

	eq(t, "creating instance has no endpoint yet", db(t, inv, "creating").Endpoints, []discovery.Endpoint{})
	eq(t, "stray member kind", db(t, inv, "stray-member").Kind, discovery.KindRDSInstance)

	proxy := db(t, inv, "app-proxy")
	eq(t, "proxy kind", proxy.Kind, discovery.KindRDSProxy)
	eq(t, "proxy engine", proxy.Engine, "postgres")
	eq(t, "proxy iam", proxy.IAMAuth, true)
	eq(t, "proxy status", proxy.Status, "available")
	eq(t, "proxy network", []any{proxy.VPCID, proxy.SubnetIDs, proxy.SecurityGroups}, []any{"vpc-a", []string{"subnet-priv1", "subnet-priv2"}, []string{"sg-proxy"}})
	eq(t, "proxy endpoints", proxy.Endpoints, []discovery.Endpoint{
		{Role: discovery.RoleProxy, Host: "app-proxy.proxy-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
		{Role: discovery.RoleProxy, Name: "app-proxy-ro", Host: "app-proxy-ro.endpoint.proxy-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432,
			VPCID: "vpc-b", SubnetIDs: []string{"subnet-b1"}, SecurityGroups: []string{"sg-proxy-b"}},
	})

	rs := db(t, inv, "warehouse")
	eq(t, "redshift kind", rs.Kind, discovery.KindRedshiftCluster)
	eq(t, "redshift engine", rs.Engine, "redshift")
	eq(t, "redshift subnets", rs.SubnetIDs, []string{"subnet-priv1", "subnet-priv2"})
	eq(t, "redshift sgs", rs.SecurityGroups, []string{"sg-rs"})
	eq(t, "redshift secret", rs.MasterUserSecretARN, "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:redshift!warehouse")
	eq(t, "redshift tags", rs.Tags, map[string]string{"team": "bi"})
	eq(t, "redshift endpoints", rs.Endpoints, []discovery.Endpoint{{Role: discovery.RoleInstance, Host: "warehouse.abc.ap-northeast-1.redshift.amazonaws.com", Port: 5439}})

	// Seed 001: the managed endpoint lives in another VPC than the
	// workgroup and carries its own placement.
	wg := db(t, inv, "analytics-wg")
	eq(t, "workgroup kind", wg.Kind, discovery.KindRedshiftServerless)
	eq(t, "workgroup network", []any{wg.VPCID, wg.SubnetIDs, wg.SecurityGroups}, []any{"vpc-a", []string{"subnet-priv1", "subnet-priv2"}, []string{"sg-wg"}})
	eq(t, "workgroup status", wg.Status, "AVAILABLE")
	eq(t, "workgroup endpoints", wg.Endpoints, []discovery.Endpoint{
		{Role: discovery.RoleInstance, Host: "analytics-wg.123456789012.ap-northeast-1.redshift-serverless.amazonaws.com", Port: 5439},
		{Role: discovery.RoleManagedEndpoint, Name: "analytics-ep", Host: "analytics-ep-endpoint-xyz.123456789012.ap-northeast-1.redshift-serverless.amazonaws.com", Port: 5439,
			VPCID: "vpc-b", SubnetIDs: []string{"subnet-b1"}, SecurityGroups: []string{"sg-rs-ep"}},
	})
	if !wg.Endpoints[1].OwnNetwork() {
		t.Error("managed endpoint should have its own network")
	}

	partner := db(t, inv, "partner-wg")
	eq(t, "orphan endpoint kind", partner.Kind, discovery.KindRedshiftServerless)
	eq(t, "orphan endpoint", partner.Endpoints, []discovery.Endpoint{
		{Role: discovery.RoleManagedEndpoint, Name: "partner-ep", Host: "partner-ep-endpoint-abc.123456789012.ap-northeast-1.redshift-serverless.amazonaws.com", Port: 5439,
			VPCID: "vpc-a", SubnetIDs: []string{"subnet-priv1"}, SecurityGroups: []string{"sg-partner"}},
	})
	eq(t, "orphan vpc", partner.VPCID, "vpc-a")

	res := db(t, inv, "partner-db")
	eq(t, "resource kind", res.Kind, discovery.KindVPCResourceEndpoint)
	eq(t, "resource network", []any{res.VPCID, res.SubnetIDs, res.SecurityGroups}, []any{"vpc-a", []string{"subnet-priv1", "subnet-priv2"}, []string{"sg-res"}})
	eq(t, "resource endpoints", res.Endpoints, []discovery.Endpoint{{
		Role: discovery.RoleResource, Name: "vpce-res", Host: "vpce-res-snra.rcfg-1.4232ccc.vpc-lattice-rsc.ap-northeast-1.on.aws", Port: 0,
		VPCID: "vpc-a", SubnetIDs: []string{"subnet-priv1", "subnet-priv2"}, SecurityGroups: []string{"sg-res"},
	}})
	eq(t, "resource status", res.Status, "available")
}

func TestMappingBastions(t *testing.T) {
	inv := fetchBuild(t, fixture())
	var ids []string
	for _, b := range inv.Bastions {
		ids = append(ids, b.InstanceID)
	}
	// Every running instance; a stopped one only when tagged as the
	// bastion; never a terminated one.
	eq(t, "bastions", ids, []string{"i-not-a-bastion", "i-priv", "i-pub", "i-stopped-bastion"})

	priv := bastion(t, inv, "i-priv")
	eq(t, "private", priv, discovery.Bastion{
		InstanceID: "i-priv", Name: "bastion-private", VPCID: "vpc-a", SubnetID: "subnet-priv1", PrivateIP: "10.0.2.10",
		SecurityGroups: []string{"sg-bastion"}, State: "running", Platform: "Linux/UNIX",
		InstanceProfile: "arn:aws:iam::123456789012:instance-profile/ssm", Preferred: true,
		SSM:  discovery.SSMStatus{Managed: true, PingStatus: "Online", AgentVersion: "3.3.1142.0", Platform: "Linux"},
		Tags: map[string]string{"Name": "bastion-private", PreferredTag: "true"},
	})
	if !priv.SSM.Online() {
		t.Error("i-priv should be online")
	}
	pub := bastion(t, inv, "i-pub")
	eq(t, "public ip", pub.PublicIP, "198.51.100.10")
	eq(t, "key", pub.KeyName, "ops")
	eq(t, "public not managed", pub.SSM, discovery.SSMStatus{})
	eq(t, "public not preferred", pub.Preferred, false)
	eq(t, "tag false is not preferred", bastion(t, inv, "i-not-a-bastion").Preferred, false)
	stopped := bastion(t, inv, "i-stopped-bastion")
	eq(t, "stopped state", stopped.State, "stopped")
	eq(t, "stopped preferred (empty tag value)", stopped.Preferred, true)
}

func TestMappingNetwork(t *testing.T) {
	n := fetchBuild(t, fixture()).Network
	eq(t, "sg-bastion", n.SecurityGroups["sg-bastion"], discovery.SecurityGroup{
		ID: "sg-bastion", Name: "bastion", VPCID: "vpc-a",
		Ingress: []discovery.Rule{{Protocol: "tcp", FromPort: 22, ToPort: 22, CIDRs: []string{"203.0.113.0/24"}}},
		Egress:  []discovery.Rule{{Protocol: "-1", FromPort: -1, ToPort: -1, CIDRs: []string{"0.0.0.0/0"}, IPv6CIDRs: []string{"::/0"}}},
	})
	eq(t, "sg-db ingress", n.SecurityGroups["sg-db"].Ingress, []discovery.Rule{
		{Protocol: "tcp", FromPort: 5432, ToPort: 5432, GroupIDs: []string{"sg-bastion"}},
		{Protocol: "tcp", FromPort: 3306, ToPort: 3306, PrefixListIDs: []string{"pl-123"}},
	})
	eq(t, "empty egress is empty, not nil", n.SecurityGroups["sg-db"].Egress, []discovery.Rule{})
	eq(t, "subnet", n.Subnets["subnet-b1"], discovery.Subnet{ID: "subnet-b1", VPCID: "vpc-b", CIDR: "10.1.1.0/24", AZ: "ap-northeast-1a"})
	eq(t, "subnets", len(n.Subnets), 4)
	eq(t, "route tables", n.RouteTables, []discovery.RouteTable{
		{ID: "rtb-main", VPCID: "vpc-a", Main: true, Routes: []discovery.NetRoute{
			{Destination: "10.0.0.0/16", GatewayID: "local", State: "active"},
			{Destination: "0.0.0.0/0", NatGatewayID: "nat-1", State: "blackhole"},
			{Destination: "pl-s3", GatewayID: "vpce-s3", State: "active"},
			{Destination: "10.1.0.0/16", VPCPeeringConnectionID: "pcx-1", State: "active"},
		}},
		{ID: "rtb-pub", VPCID: "vpc-a", SubnetIDs: []string{"subnet-pub"}, Routes: []discovery.NetRoute{
			{Destination: "10.0.0.0/16", GatewayID: "local", State: "active"},
			{Destination: "0.0.0.0/0", GatewayID: "igw-1", State: "active"},
			{Destination: "::/0", GatewayID: "eigw-1", State: "active"},
		}},
	})
	eq(t, "vpc endpoints", n.VPCEndpoints[1], discovery.VPCEndpoint{
		ID: "vpce-ssm", VPCID: "vpc-a", Type: "Interface", ServiceName: "com.amazonaws.ap-northeast-1.ssm",
		SubnetIDs: []string{"subnet-priv1"}, SecurityGroups: []string{"sg-vpce"}, PrivateDNS: true,
		DNSNames: []string{"vpce-ssm-x.ssm.ap-northeast-1.vpce.amazonaws.com"}, State: "available",
	})
	eq(t, "resource endpoint arn", n.VPCEndpoints[0].ResourceConfigurationARN, "arn:aws:vpc-lattice:ap-northeast-1:210987654321:resourceconfiguration/rcfg-1")
}

func TestPagination(t *testing.T) {
	f := fixture()
	f.pageSize = 1
	got := fetchBuild(t, f)
	f.pageSize = 0
	want := fetchBuild(t, fixture())
	eq(t, "paged inventory equals unpaged", got, want)
	// One call per page, each continuing from the previous token.
	eq(t, "subnet calls", f.callCount(opSubnets), 4)
	eq(t, "subnet tokens", f.seen[opSubnets], []string{"", "1", "2", "3"})
	eq(t, "instance calls", f.callCount(opDBInstances), 6)
	eq(t, "workgroup calls (one page)", f.callCount(opWorkgroups), 1)
}

// cyclingEC2 answers DescribeSubnets with a token that never ends the
// listing: the same one again (stop), or two taking turns (guard).
type cyclingEC2 struct {
	*fakeAWS
	tokens []string
	n      int
}

func (c *cyclingEC2) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	c.n++
	return &ec2.DescribeSubnetsOutput{Subnets: c.subnets[:1], NextToken: aws.String(c.tokens[c.n%len(c.tokens)])}, nil
}

func TestPaginationThatNeverEnds(t *testing.T) {
	t.Run("repeated token", func(t *testing.T) {
		f := fixture()
		c := &cyclingEC2{fakeAWS: f, tokens: []string{"again"}}
		clients := f.clients()
		clients.EC2 = c
		r := runner{clients: clients, concurrency: 4, log: slog.New(slog.DiscardHandler)}
		raw, err := r.fetch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "calls", c.n, 2)
		eq(t, "warnings", raw.warnings, []string(nil))
	})
	t.Run("token cycle", func(t *testing.T) {
		f := fixture()
		c := &cyclingEC2{fakeAWS: f, tokens: []string{"a", "b"}}
		clients := f.clients()
		clients.EC2 = c
		r := runner{clients: clients, concurrency: 4, log: slog.New(slog.DiscardHandler)}
		raw, err := r.fetch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "calls", c.n, maxPages)
		eq(t, "warnings", raw.warnings, []string{"ec2:DescribeSubnets failed: subnet checks will be unknown: more than 10000 pages: pagination does not end"})
	})
}

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " for test"}
}

func TestPartialFailureWarns(t *testing.T) {
	f := fixture()
	f.errs = map[string]error{
		opVPCEndpoints:   apiErr("UnauthorizedOperation"),
		opInstanceInfo:   apiErr("AccessDeniedException"),
		opDBClusters:     apiErr("AccessDenied"),
		opWorkgroups:     &net.DNSError{Err: "no such host", Name: "redshift-serverless.ap-northeast-1.amazonaws.com", IsNotFound: true},
		opEndpointAccess: &net.DNSError{Err: "no such host", Name: "redshift-serverless.ap-northeast-1.amazonaws.com", IsNotFound: true},
		opRSClusters:     apiErr("InternalFailure"),
	}
	inv := fetchBuild(t, f)
	eq(t, "warnings", inv.Warnings, []string{
		"missing permission ec2:DescribeVpcEndpoints: VPC endpoint checks will be unknown and resource endpoints are not listed",
		"missing permission rds:DescribeDBClusters: Aurora, DocumentDB and Neptune clusters are not listed",
		"redshift:DescribeClusters failed: Redshift clusters are not listed: InternalFailure: InternalFailure for test",
		"redshift-serverless is not available in ap-northeast-1: Redshift Serverless workgroups are not listed",
		"missing permission ssm:DescribeInstanceInformation: SSM agent status is unknown",
	})
	// Unknown stays nil; what was read is still there.
	if inv.Network.VPCEndpoints != nil {
		t.Error("VPC endpoints should be nil (unknown) when the call was denied")
	}
	if len(inv.Network.SecurityGroups) != 3 {
		t.Error("security groups should still be read")
	}
	eq(t, "ssm unknown leaves agents unmanaged", bastion(t, inv, "i-priv").SSM, discovery.SSMStatus{})
	// Without the clusters, their members show as instances.
	got := names(inv)
	for _, want := range []string{"prod-aurora-1", "prod-aurora-2", "docs-1", "legacy-mysql", "app-proxy"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s missing from %v", want, got)
		}
	}
	for _, gone := range []string{"prod-aurora", "partner-db", "warehouse", "analytics-wg"} {
		if slices.Contains(got, gone) {
			t.Errorf("%s should not be listed", gone)
		}
	}
}

func TestSharedWarningsFoldOnce(t *testing.T) {
	err := apiErr("AccessDenied")
	_, k1 := warning(task{op: opWorkgroups, impact: "a"}, err, "r")
	_, k2 := warning(task{op: opEndpointAccess, impact: "b"}, err, "r")
	if k1 == k2 {
		t.Error("distinct permissions must be distinct warnings")
	}
}

func TestEveryCallFailingIsAnError(t *testing.T) {
	hermetic(t)
	f := fixture()
	f.errs = map[string]error{}
	for _, op := range allOps {
		f.errs[op] = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	_, err := fakeSource(f).Discover(context.Background(), discovery.Scope{Profile: "", Region: "ap-northeast-1"})
	if err == nil {
		t.Fatal("want an error")
	}
	const want = "discover default/ap-northeast-1: every discovery call failed, first sts:GetCallerIdentity: dial tcp: connection refused"
	if err.Error() != want {
		t.Errorf("error:\n got  %s\n want %s", err, want)
	}
}

var allOps = []string{
	opCallerIdentity, opInstances, opSecurityGroups, opSubnets, opRouteTables, opVPCEndpoints,
	opDBInstances, opDBClusters, opClusterEndpoints, opDBProxies, opProxyEndpoints, opDBSubnetGroups,
	opRSClusters, opRSSubnetGroups, opWorkgroups, opEndpointAccess, opNamespaces, opInstanceInfo,
}

func TestEveryOpIsCalledOnce(t *testing.T) {
	f := fixture()
	fetchBuild(t, f)
	for _, op := range allOps {
		if n := f.callCount(op); n != 1 {
			t.Errorf("%s called %d times", op, n)
		}
	}
}

func TestConcurrencyBound(t *testing.T) {
	const limit = 3
	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		inflight int
		peak     int
	)
	f := fixture()
	// Every call waits until the bound has been reached once, so the test
	// proves both that calls overlap and that no more than limit do.
	f.hook = func(string) {
		mu.Lock()
		inflight++
		peak = max(peak, inflight)
		cond.Broadcast()
		for peak < limit {
			cond.Wait()
		}
		inflight--
		mu.Unlock()
	}
	r := runner{clients: f.clients(), concurrency: limit, log: slog.New(slog.DiscardHandler)}
	if _, err := r.fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if peak != limit {
		t.Errorf("peak concurrency %d, want %d", peak, limit)
	}
}

func TestDiscoverEndToEndWithFakes(t *testing.T) {
	hermetic(t)
	f := fixture()
	inv, err := fakeSource(f).Discover(context.Background(), discovery.Scope{Region: "ap-northeast-1"})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "scope", inv.Scope, discovery.Scope{Region: "ap-northeast-1"})
	eq(t, "fetched at", inv.FetchedAt, fixedNow)
	eq(t, "account", inv.Account, testAccount)
	// reach has judged the routes.
	aurora := db(t, inv, "prod-aurora")
	if len(aurora.Routes) == 0 {
		t.Fatalf("no routes on prod-aurora")
	}
	for _, r := range aurora.Routes {
		if r.Verdict == "" {
			t.Errorf("route without verdict: %+v", r)
		}
	}
}

func TestRegionFromProfile(t *testing.T) {
	dir := hermetic(t)
	writeFile(t, filepath.Join(dir, "config"), "[profile prod]\nregion = eu-west-1\n")
	inv, err := fakeSource(fixture()).Discover(context.Background(), discovery.Scope{Profile: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "scope region resolved", inv.Scope, discovery.Scope{Profile: "prod", Region: "eu-west-1"})
	eq(t, "database region", inv.Databases[0].Region, "eu-west-1")
	eq(t, "database profile", inv.Databases[0].Profile, "prod")
}

func TestNoRegion(t *testing.T) {
	hermetic(t)
	_, err := fakeSource(fixture()).Discover(context.Background(), discovery.Scope{})
	if err == nil || !strings.Contains(err.Error(), "no region for profile default") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownProfile(t *testing.T) {
	hermetic(t)
	_, err := fakeSource(fixture()).Discover(context.Background(), discovery.Scope{Profile: "nope", Region: "us-east-1"})
	var pe config.SharedConfigProfileNotExistError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "discover nope/us-east-1: profile nope is not in the AWS config files") {
		t.Fatalf("err = %v", err)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
