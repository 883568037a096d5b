package awsfake_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	rstypes "github.com/aws/aws-sdk-go-v2/service/redshift/types"
	"github.com/aws/aws-sdk-go-v2/service/redshiftserverless"
	rsstypes "github.com/aws/aws-sdk-go-v2/service/redshiftserverless/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

// cfg is what a real client would use, pointed at the fake.
func cfg(f *awsfake.Fake, key, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(key, "not-checked", ""),
		BaseEndpoint: aws.String(f.URL),
		Retryer:      retryer,
	}
}

// retryer is the SDK's standard retryer without waits. Not NopRetryer:
// net/http and smithy-go race on loopback (the request body's WriteTo
// reports io.EOF once closed, and the transport then closes the
// connection under the response, aws/aws-sdk-go-v2#2737), which the
// standard retryer absorbs by retrying net.ErrClosed. Under load (the
// race test's five goroutines on two cores) three attempts in a row have
// met it, so the tests allow ten.
func retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 10
		o.Backoff = noBackoff{}
		o.RateLimiter = ratelimit.None
	})
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

type pager[O, Opt any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*Opt)) (O, error)
}

// collect reads every page.
func collect[O, Opt any](t *testing.T, p pager[O, Opt]) []O {
	t.Helper()
	var out []O
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("page %d: %v", len(out)+1, err)
		}
		out = append(out, page)
		if len(out) > 1000 {
			t.Fatal("pagination does not end")
		}
	}
	return out
}

func sortedEq(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Clone(got), slices.Clone(want)
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func tagsOf[T any](tags []T, kv func(T) (*string, *string)) map[string]string {
	m := map[string]string{}
	for _, x := range tags {
		k, v := kv(x)
		m[aws.ToString(k)] = aws.ToString(v)
	}
	return m
}

func ec2Tag(t ec2types.Tag) (*string, *string) { return t.Key, t.Value }
func rdsTag(t rdstypes.Tag) (*string, *string) { return t.Key, t.Value }

func TestSDKEC2DescribeInstances(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(cfg(w.f, keyProd, region))

	pages := collect[*ec2.DescribeInstancesOutput, ec2.Options](t, ec2.NewDescribeInstancesPaginator(c,
		&ec2.DescribeInstancesInput{}, func(o *ec2.DescribeInstancesPaginatorOptions) { o.Limit = 2 }))
	if len(pages) != 2 {
		t.Errorf("4 instances by 2: %d pages", len(pages))
	}
	byID := map[string]ec2types.Instance{}
	for _, p := range pages {
		for _, res := range p.Reservations {
			if aws.ToString(res.OwnerId) != acctProd || !strings.HasPrefix(aws.ToString(res.ReservationId), "r-") {
				t.Errorf("reservation %+v", res)
			}
			for _, i := range res.Instances {
				byID[aws.ToString(i.InstanceId)] = i
			}
		}
	}
	sortedEq(t, "instances", keys(byID), []string{w.bastionPub.ID(), w.bastionPriv.ID(), w.stopped.ID(), w.lost.ID()})

	pub := byID[w.bastionPub.ID()]
	if pub.State.Name != ec2types.InstanceStateNameRunning || aws.ToInt32(pub.State.Code) != 16 ||
		aws.ToString(pub.SubnetId) != w.pub.ID() || aws.ToString(pub.VpcId) != w.vpc.ID() ||
		aws.ToString(pub.PublicIpAddress) != "198.51.100.10" || aws.ToString(pub.PrivateIpAddress) != w.bastionPub.PrivateIP() ||
		aws.ToString(pub.KeyName) != "ops" || aws.ToString(pub.PlatformDetails) != "Linux/UNIX" ||
		pub.IamInstanceProfile != nil || aws.ToString(pub.Placement.AvailabilityZone) != w.pub.AZ() {
		t.Errorf("public bastion: %+v", pub)
	}
	if len(pub.SecurityGroups) != 1 || aws.ToString(pub.SecurityGroups[0].GroupId) != w.sgBastion.ID() ||
		aws.ToString(pub.SecurityGroups[0].GroupName) != "bastion" {
		t.Errorf("public bastion groups: %+v", pub.SecurityGroups)
	}
	if got := tagsOf(pub.Tags, ec2Tag); got["Name"] != "bastion-public" {
		t.Errorf("tags %v", got)
	}
	if !strings.HasPrefix(aws.ToString(pub.PublicDnsName), "ec2-198-51-100-10.") {
		t.Errorf("public DNS %q", aws.ToString(pub.PublicDnsName))
	}
	priv := byID[w.bastionPriv.ID()]
	if priv.IamInstanceProfile == nil ||
		aws.ToString(priv.IamInstanceProfile.Arn) != "arn:aws:iam::"+acctProd+":instance-profile/ssm-role" ||
		!strings.HasPrefix(aws.ToString(priv.IamInstanceProfile.Id), "AIPA") || priv.PublicIpAddress != nil {
		t.Errorf("private bastion: %+v", priv)
	}
	if got := tagsOf(priv.Tags, ec2Tag); got["dbtunnel:bastion"] != "true" {
		t.Errorf("private bastion tags %v", got)
	}
	if byID[w.stopped.ID()].State.Name != ec2types.InstanceStateNameStopped {
		t.Errorf("stopped: %+v", byID[w.stopped.ID()].State)
	}
	if win := byID[w.lost.ID()]; string(win.Platform) != "windows" || aws.ToString(win.PlatformDetails) != "Windows" ||
		len(win.SecurityGroups) != 1 || aws.ToString(win.SecurityGroups[0].GroupName) != "default" {
		t.Errorf("windows box (default group): %+v", win)
	}

	// Filters.
	running, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("instance-state-name"), Values: []string{"running", "pending"}},
		{Name: aws.String("vpc-id"), Values: []string{w.vpc.ID()}},
		{Name: aws.String("unsupported-filter"), Values: []string{"x"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n := countInstances(running); n != 3 {
		t.Errorf("running in vpc: %d instances, want 3", n)
	}
	tagged, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:Name"), Values: []string{"bastion-*"}},
	}})
	if err != nil || countInstances(tagged) != 2 {
		t.Errorf("tag:Name=bastion-*: %d, %v", countInstances(tagged), err)
	}
	byIDs, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{w.lost.ID()}})
	if err != nil || countInstances(byIDs) != 1 {
		t.Errorf("by id: %d, %v", countInstances(byIDs), err)
	}
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0000000000000dead"}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
}

func countInstances(out *ec2.DescribeInstancesOutput) int {
	n := 0
	for _, r := range out.Reservations {
		n += len(r.Instances)
	}
	return n
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae interface{ ErrorCode() string }
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("error %v, want code %s", err, code)
	}
}

func TestSDKEC2Network(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(cfg(w.f, keyProd, region))
	limit2 := func(o *ec2.DescribeSecurityGroupsPaginatorOptions) { o.Limit = 2 }

	// Security groups.
	sgPages := collect[*ec2.DescribeSecurityGroupsOutput, ec2.Options](t, ec2.NewDescribeSecurityGroupsPaginator(c, &ec2.DescribeSecurityGroupsInput{}, limit2))
	groups := map[string]ec2types.SecurityGroup{}
	for _, p := range sgPages {
		for _, g := range p.SecurityGroups {
			groups[aws.ToString(g.GroupId)] = g
		}
	}
	if len(groups) != 7 || len(sgPages) != 4 { // 5 named + 2 default
		t.Errorf("%d groups in %d pages", len(groups), len(sgPages))
	}
	b := groups[w.sgBastion.ID()]
	if aws.ToString(b.GroupName) != "bastion" || aws.ToString(b.VpcId) != w.vpc.ID() || aws.ToString(b.OwnerId) != acctProd ||
		len(b.IpPermissions) != 1 {
		t.Fatalf("bastion group: %+v", b)
	}
	in := b.IpPermissions[0]
	if aws.ToString(in.IpProtocol) != "tcp" || aws.ToInt32(in.FromPort) != 22 || aws.ToInt32(in.ToPort) != 22 ||
		len(in.IpRanges) != 1 || aws.ToString(in.IpRanges[0].CidrIp) != "203.0.113.0/24" ||
		len(in.Ipv6Ranges) != 1 || aws.ToString(in.Ipv6Ranges[0].CidrIpv6) != "2001:db8::/32" {
		t.Errorf("bastion ingress: %+v", in)
	}
	if len(b.IpPermissionsEgress) != 1 || aws.ToString(b.IpPermissionsEgress[0].IpProtocol) != "-1" ||
		b.IpPermissionsEgress[0].FromPort != nil || aws.ToString(b.IpPermissionsEgress[0].IpRanges[0].CidrIp) != "0.0.0.0/0" {
		t.Errorf("default egress: %+v", b.IpPermissionsEgress)
	}
	db := groups[w.sgDB.ID()]
	if len(db.IpPermissionsEgress) != 0 || len(db.IpPermissions) != 2 {
		t.Fatalf("db group: %+v", db)
	}
	var pairs []string
	for _, p := range db.IpPermissions[0].UserIdGroupPairs {
		pairs = append(pairs, aws.ToString(p.GroupId)+"@"+aws.ToString(p.UserId))
	}
	sortedEq(t, "db 5432 sources (merged)", pairs, []string{w.sgBastion.ID() + "@" + acctProd, w.sgPriv.ID() + "@" + acctProd})
	if pl := db.IpPermissions[1].PrefixListIds; len(pl) != 1 || aws.ToString(pl[0].PrefixListId) != "pl-0123456789abcdef0" {
		t.Errorf("prefix list rule: %+v", db.IpPermissions[1])
	}
	if o := groups[w.sgOther.ID()].IpPermissions; len(o) != 1 || aws.ToInt32(o[0].FromPort) != 5439 || aws.ToInt32(o[0].ToPort) != 5440 {
		t.Errorf("range rule: %+v", o)
	}
	def := groups[w.vpc.DefaultSecurityGroup().ID()]
	if aws.ToString(def.GroupName) != "default" || aws.ToString(def.IpPermissions[0].UserIdGroupPairs[0].GroupId) != aws.ToString(def.GroupId) {
		t.Errorf("default group: %+v", def)
	}
	byVPC, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{w.other.ID()}}}})
	if err != nil || len(byVPC.SecurityGroups) != 2 {
		t.Errorf("groups of other VPC: %v %v", byVPC, err)
	}
	_, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{"sg-0000000000000dead"}})
	wantCode(t, err, "InvalidGroup.NotFound")

	// Subnets.
	subPages := collect[*ec2.DescribeSubnetsOutput, ec2.Options](t, ec2.NewDescribeSubnetsPaginator(c, &ec2.DescribeSubnetsInput{},
		func(o *ec2.DescribeSubnetsPaginatorOptions) { o.Limit = 2 }))
	subnets := map[string]ec2types.Subnet{}
	for _, p := range subPages {
		for _, s := range p.Subnets {
			subnets[aws.ToString(s.SubnetId)] = s
		}
	}
	sortedEq(t, "subnets", keys(subnets), []string{w.pub.ID(), w.priv.ID(), w.priv2.ID(), w.oSub.ID()})
	if s := subnets[w.pub.ID()]; aws.ToString(s.CidrBlock) != "10.0.1.0/24" || aws.ToString(s.VpcId) != w.vpc.ID() ||
		!aws.ToBool(s.MapPublicIpOnLaunch) || aws.ToString(s.AvailabilityZone) != region+"a" {
		t.Errorf("public subnet: %+v", s)
	}
	if s := subnets[w.priv2.ID()]; aws.ToString(s.AvailabilityZone) != region+"c" || aws.ToBool(s.MapPublicIpOnLaunch) {
		t.Errorf("private subnet 2: %+v", s)
	}

	// Route tables.
	rtPages := collect[*ec2.DescribeRouteTablesOutput, ec2.Options](t, ec2.NewDescribeRouteTablesPaginator(c,
		&ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{w.vpc.ID()}}}},
		func(o *ec2.DescribeRouteTablesPaginatorOptions) { o.Limit = 2 }))
	tables := map[string]ec2types.RouteTable{}
	for _, p := range rtPages {
		for _, rt := range p.RouteTables {
			tables[aws.ToString(rt.RouteTableId)] = rt
		}
	}
	if len(tables) != 4 { // main, public, NAT (priv), own (priv2)
		t.Errorf("%d route tables in the VPC, want 4", len(tables))
	}
	main := tables[w.vpc.MainRouteTableID()]
	if len(main.Associations) != 1 || !aws.ToBool(main.Associations[0].Main) || main.Associations[0].SubnetId != nil {
		t.Errorf("main table associations: %+v", main.Associations)
	}
	if r := findRoute(main, "10.0.0.0/16"); r == nil || aws.ToString(r.GatewayId) != "local" || r.State != ec2types.RouteStateActive {
		t.Errorf("main local route: %+v", r)
	}
	pubRT := tables[w.pub.RouteTableID()]
	if r := findRoute(pubRT, "0.0.0.0/0"); r == nil || aws.ToString(r.GatewayId) != w.vpc.InternetGatewayID() ||
		!strings.HasPrefix(aws.ToString(r.GatewayId), "igw-") {
		t.Errorf("public default route: %+v", r)
	}
	if len(pubRT.Associations) != 1 || aws.ToString(pubRT.Associations[0].SubnetId) != w.pub.ID() || aws.ToBool(pubRT.Associations[0].Main) {
		t.Errorf("public associations: %+v", pubRT.Associations)
	}
	natRT := tables[w.priv.RouteTableID()]
	if r := findRoute(natRT, "0.0.0.0/0"); r == nil || !strings.HasPrefix(aws.ToString(r.NatGatewayId), "nat-") || r.GatewayId != nil {
		t.Errorf("NAT route: %+v", r)
	}
	own := tables[w.priv2.RouteTableID()]
	if r := findRoute(own, "10.50.0.0/16"); r == nil || aws.ToString(r.TransitGatewayId) != "tgw-0123456789abcdef0" {
		t.Errorf("tgw route: %+v", r)
	}
	if r := findRoute(own, "10.60.0.0/16"); r == nil || aws.ToString(r.VpcPeeringConnectionId) != "pcx-0123456789abcdef0" || r.State != ec2types.RouteStateBlackhole {
		t.Errorf("blackhole route: %+v", r)
	}
	var plRoutes int
	for _, rt := range tables {
		for _, r := range rt.Routes {
			if strings.HasPrefix(aws.ToString(r.DestinationPrefixListId), "pl-") && aws.ToString(r.GatewayId) == w.s3EP.ID() {
				plRoutes++
			}
		}
	}
	if plRoutes != 4 {
		t.Errorf("gateway endpoint prefix-list routes: %d, want 4", plRoutes)
	}
	bySubnet, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{w.priv.ID()}}}})
	if err != nil || len(bySubnet.RouteTables) != 1 || aws.ToString(bySubnet.RouteTables[0].RouteTableId) != w.priv.RouteTableID() {
		t.Errorf("association.subnet-id filter: %+v %v", bySubnet, err)
	}

	// VPC endpoints.
	epPages := collect[*ec2.DescribeVpcEndpointsOutput, ec2.Options](t, ec2.NewDescribeVpcEndpointsPaginator(c, &ec2.DescribeVpcEndpointsInput{},
		func(o *ec2.DescribeVpcEndpointsPaginatorOptions) { o.Limit = 2 }))
	eps := map[string]ec2types.VpcEndpoint{}
	for _, p := range epPages {
		for _, e := range p.VpcEndpoints {
			eps[aws.ToString(e.VpcEndpointId)] = e
		}
	}
	if len(eps) != 5 || len(epPages) != 3 {
		t.Errorf("%d endpoints in %d pages", len(eps), len(epPages))
	}
	ssmEP := eps[w.ssmEP.ID()]
	if ssmEP.VpcEndpointType != ec2types.VpcEndpointTypeInterface || aws.ToString(ssmEP.ServiceName) != "com.amazonaws."+region+".ssm" ||
		aws.ToString(ssmEP.VpcId) != w.vpc.ID() || !slices.Equal(ssmEP.SubnetIds, []string{w.priv.ID()}) ||
		len(ssmEP.Groups) != 1 || aws.ToString(ssmEP.Groups[0].GroupId) != w.sgEP.ID() || !aws.ToBool(ssmEP.PrivateDnsEnabled) ||
		string(ssmEP.State) != "available" || len(ssmEP.NetworkInterfaceIds) != 1 {
		t.Errorf("ssm endpoint: %+v", ssmEP)
	}
	var dns []string
	for _, d := range ssmEP.DnsEntries {
		dns = append(dns, aws.ToString(d.DnsName))
	}
	if !slices.Contains(dns, "ssm."+region+".amazonaws.com") || !strings.HasPrefix(dns[0], w.ssmEP.ID()+"-") {
		t.Errorf("ssm endpoint DNS: %v", dns)
	}
	if s3 := eps[w.s3EP.ID()]; s3.VpcEndpointType != ec2types.VpcEndpointTypeGateway || len(s3.RouteTableIds) != 4 {
		t.Errorf("s3 endpoint: %+v", s3)
	}
	res := eps[w.resEP.ID()]
	if res.VpcEndpointType != ec2types.VpcEndpointTypeResource || aws.ToString(res.ResourceConfigurationArn) != w.resEP.ResourceConfigurationARN() ||
		!strings.HasPrefix(aws.ToString(res.ResourceConfigurationArn), "arn:aws:vpc-lattice:"+region+":"+acctProd+":resourceconfiguration/rcfg-") ||
		len(res.DnsEntries) != 1 || tagsOf(res.Tags, ec2Tag)["Name"] != "partner-db" {
		t.Errorf("resource endpoint: %+v", res)
	}
	iface, err := c.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-endpoint-type"), Values: []string{"Interface"}},
		{Name: aws.String("service-name"), Values: []string{"com.amazonaws." + region + ".ssm*"}},
	}})
	if err != nil || len(iface.VpcEndpoints) != 2 {
		t.Errorf("interface ssm* endpoints: %d, %v", len(iface.VpcEndpoints), err)
	}
}

func findRoute(rt ec2types.RouteTable, dest string) *ec2types.Route {
	for i, r := range rt.Routes {
		if aws.ToString(r.DestinationCidrBlock) == dest {
			return &rt.Routes[i]
		}
	}
	return nil
}

func TestSDKRDS(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := rds.NewFromConfig(cfg(w.f, keyProd, region))

	// Instances: orders-pg, two Aurora members, one DocumentDB member.
	pages := collect[*rds.DescribeDBInstancesOutput, rds.Options](t, rds.NewDescribeDBInstancesPaginator(c, &rds.DescribeDBInstancesInput{},
		func(o *rds.DescribeDBInstancesPaginatorOptions) { o.Limit = 2 }))
	dbs := map[string]rdstypes.DBInstance{}
	for _, p := range pages {
		for _, d := range p.DBInstances {
			dbs[aws.ToString(d.DBInstanceIdentifier)] = d
		}
	}
	if len(pages) != 2 {
		t.Errorf("%d pages, want 2", len(pages))
	}
	sortedEq(t, "instances", keys(dbs), []string{"orders-pg", "prod-aurora-instance-1", "prod-aurora-instance-2", "docs-instance-1"})
	pg := dbs["orders-pg"]
	if aws.ToString(pg.Engine) != "postgres" || aws.ToString(pg.DBInstanceStatus) != "available" ||
		aws.ToString(pg.Endpoint.Address) != w.pg.Endpoint().Host || aws.ToInt32(pg.Endpoint.Port) != 5432 ||
		!aws.ToBool(pg.IAMDatabaseAuthenticationEnabled) || pg.MasterUserSecret == nil ||
		aws.ToString(pg.MasterUserSecret.SecretArn) != w.pg.SecretARN() || pg.DBClusterIdentifier != nil {
		t.Errorf("orders-pg: %+v", pg)
	}
	if !strings.HasPrefix(w.pg.SecretARN(), "arn:aws:secretsmanager:"+region+":"+acctProd+":secret:rds!db-") {
		t.Errorf("secret ARN %s", w.pg.SecretARN())
	}
	if g := pg.DBSubnetGroup; g == nil || aws.ToString(g.VpcId) != w.vpc.ID() || len(g.Subnets) != 2 ||
		aws.ToString(g.Subnets[1].SubnetIdentifier) != w.priv2.ID() || aws.ToString(g.Subnets[1].SubnetAvailabilityZone.Name) != w.priv2.AZ() {
		t.Errorf("orders-pg subnet group: %+v", pg.DBSubnetGroup)
	}
	if len(pg.VpcSecurityGroups) != 1 || aws.ToString(pg.VpcSecurityGroups[0].VpcSecurityGroupId) != w.sgDB.ID() {
		t.Errorf("orders-pg groups: %+v", pg.VpcSecurityGroups)
	}
	if tagsOf(pg.TagList, rdsTag)["team"] != "orders" {
		t.Errorf("orders-pg tags: %+v", pg.TagList)
	}
	if m := dbs["prod-aurora-instance-2"]; aws.ToString(m.DBClusterIdentifier) != "prod-aurora" || aws.ToString(m.Engine) != "aurora-postgresql" {
		t.Errorf("aurora member: %+v", m)
	}
	if d := dbs["docs-instance-1"]; aws.ToInt32(d.Endpoint.Port) != 27017 || !strings.HasSuffix(aws.ToString(d.Endpoint.Address), ".docdb.amazonaws.com") {
		t.Errorf("docdb member: %+v", d.Endpoint)
	}
	_, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("nope")})
	var nf *rdstypes.DBInstanceNotFoundFault
	if !errors.As(err, &nf) {
		t.Errorf("missing instance: %v", err)
	}
	filtered, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{Filters: []rdstypes.Filter{
		{Name: aws.String("db-cluster-id"), Values: []string{"prod-aurora"}}}})
	if err != nil || len(filtered.DBInstances) != 2 {
		t.Errorf("db-cluster-id filter: %d, %v", len(filtered.DBInstances), err)
	}

	// Clusters, DocumentDB included.
	cpages := collect[*rds.DescribeDBClustersOutput, rds.Options](t, rds.NewDescribeDBClustersPaginator(c, &rds.DescribeDBClustersInput{},
		func(o *rds.DescribeDBClustersPaginatorOptions) { o.Limit = 1 }))
	clusters := map[string]rdstypes.DBCluster{}
	for _, p := range cpages {
		for _, cl := range p.DBClusters {
			clusters[aws.ToString(cl.DBClusterIdentifier)] = cl
		}
	}
	if len(cpages) != 2 || len(clusters) != 2 {
		t.Errorf("clusters: %d in %d pages", len(clusters), len(cpages))
	}
	a := clusters["prod-aurora"]
	if aws.ToString(a.Endpoint) != w.aurora.Writer().Host || aws.ToString(a.ReaderEndpoint) != w.aurora.Reader().Host ||
		!slices.Equal(a.CustomEndpoints, []string{w.aurora.Custom("analytics").Host}) || aws.ToInt32(a.Port) != 5432 ||
		aws.ToString(a.Engine) != "aurora-postgresql" || aws.ToString(a.DBSubnetGroup) != "prod-aurora-subnets" ||
		aws.ToString(a.Status) != "available" || aws.ToBool(a.IAMDatabaseAuthenticationEnabled) ||
		a.MasterUserSecret == nil || aws.ToString(a.MasterUserSecret.SecretArn) != w.aurora.SecretARN() ||
		len(a.VpcSecurityGroups) != 1 || aws.ToString(a.VpcSecurityGroups[0].VpcSecurityGroupId) != w.sgDB.ID() ||
		len(a.DBClusterMembers) != 2 || !aws.ToBool(a.DBClusterMembers[0].IsClusterWriter) || aws.ToBool(a.DBClusterMembers[1].IsClusterWriter) {
		t.Errorf("prod-aurora: %+v", a)
	}
	if !strings.HasPrefix(aws.ToString(a.Endpoint), "prod-aurora.cluster-c") || !strings.Contains(aws.ToString(a.ReaderEndpoint), ".cluster-ro-") {
		t.Errorf("aurora hosts %s %s", aws.ToString(a.Endpoint), aws.ToString(a.ReaderEndpoint))
	}
	if d := clusters["docs"]; aws.ToString(d.Engine) != "docdb" || aws.ToInt32(d.Port) != 27017 {
		t.Errorf("docdb: %+v", d)
	}

	// Cluster endpoints: writer, reader, custom.
	eps, err := c.DescribeDBClusterEndpoints(ctx, &rds.DescribeDBClusterEndpointsInput{DBClusterIdentifier: aws.String("prod-aurora")})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range eps.DBClusterEndpoints {
		kinds = append(kinds, aws.ToString(e.EndpointType)+"="+aws.ToString(e.Endpoint))
		if aws.ToString(e.EndpointType) == "CUSTOM" && (aws.ToString(e.DBClusterEndpointIdentifier) != "analytics" ||
			aws.ToString(e.CustomEndpointType) != "ANY" || !slices.Equal(e.StaticMembers, []string{"prod-aurora-instance-2"})) {
			t.Errorf("custom endpoint: %+v", e)
		}
	}
	sortedEq(t, "cluster endpoints", kinds, []string{"WRITER=" + w.aurora.Writer().Host, "READER=" + w.aurora.Reader().Host, "CUSTOM=" + w.aurora.Custom("analytics").Host})
	custom, err := c.DescribeDBClusterEndpoints(ctx, &rds.DescribeDBClusterEndpointsInput{Filters: []rdstypes.Filter{
		{Name: aws.String("db-cluster-endpoint-type"), Values: []string{"custom"}}}})
	if err != nil || len(custom.DBClusterEndpoints) != 1 {
		t.Errorf("custom filter: %+v %v", custom, err)
	}
	allEPs := collect[*rds.DescribeDBClusterEndpointsOutput, rds.Options](t, rds.NewDescribeDBClusterEndpointsPaginator(c,
		&rds.DescribeDBClusterEndpointsInput{}, func(o *rds.DescribeDBClusterEndpointsPaginatorOptions) { o.Limit = 2 }))
	if len(allEPs) != 3 {
		t.Errorf("5 cluster endpoints by 2: %d pages", len(allEPs))
	}

	// Proxies and their endpoints.
	proxies := collect[*rds.DescribeDBProxiesOutput, rds.Options](t, rds.NewDescribeDBProxiesPaginator(c, &rds.DescribeDBProxiesInput{}))
	if len(proxies) != 1 || len(proxies[0].DBProxies) != 1 {
		t.Fatalf("proxies: %+v", proxies)
	}
	p := proxies[0].DBProxies[0]
	if aws.ToString(p.DBProxyName) != "orders-proxy" || aws.ToString(p.Endpoint) != w.proxy.Endpoint().Host ||
		aws.ToString(p.EngineFamily) != "POSTGRESQL" || aws.ToString(p.VpcId) != w.vpc.ID() ||
		!slices.Equal(p.VpcSecurityGroupIds, []string{w.sgDB.ID()}) || !slices.Equal(p.VpcSubnetIds, []string{w.priv.ID(), w.priv2.ID()}) ||
		p.Status != rdstypes.DBProxyStatusAvailable || !strings.Contains(aws.ToString(p.Endpoint), ".proxy-") {
		t.Errorf("proxy: %+v", p)
	}
	peps := collect[*rds.DescribeDBProxyEndpointsOutput, rds.Options](t, rds.NewDescribeDBProxyEndpointsPaginator(c,
		&rds.DescribeDBProxyEndpointsInput{DBProxyName: aws.String("orders-proxy")}, func(o *rds.DescribeDBProxyEndpointsPaginatorOptions) { o.Limit = 1 }))
	if len(peps) != 2 {
		t.Fatalf("proxy endpoint pages: %d", len(peps))
	}
	def, ro := peps[0].DBProxyEndpoints[0], peps[1].DBProxyEndpoints[0]
	if !aws.ToBool(def.IsDefault) || aws.ToString(def.Endpoint) != w.proxy.Endpoint().Host || def.TargetRole != rdstypes.DBProxyEndpointTargetRoleReadWrite {
		t.Errorf("default proxy endpoint: %+v", def)
	}
	if aws.ToBool(ro.IsDefault) || aws.ToString(ro.DBProxyEndpointName) != "orders-ro" || aws.ToString(ro.VpcId) != w.other.ID() ||
		ro.TargetRole != rdstypes.DBProxyEndpointTargetRoleReadOnly || aws.ToString(ro.Endpoint) != w.proxy.EndpointAddr("orders-ro").Host ||
		!slices.Equal(ro.VpcSecurityGroupIds, []string{w.sgOther.ID()}) {
		t.Errorf("reader proxy endpoint: %+v", ro)
	}
	_, err = c.DescribeDBProxies(ctx, &rds.DescribeDBProxiesInput{DBProxyName: aws.String("nope")})
	var pnf *rdstypes.DBProxyNotFoundFault
	if !errors.As(err, &pnf) {
		t.Errorf("missing proxy: %v", err)
	}

	// Subnet groups.
	sg, err := c.DescribeDBSubnetGroups(ctx, &rds.DescribeDBSubnetGroupsInput{DBSubnetGroupName: aws.String("prod-aurora-subnets")})
	if err != nil || len(sg.DBSubnetGroups) != 1 || aws.ToString(sg.DBSubnetGroups[0].VpcId) != w.vpc.ID() || len(sg.DBSubnetGroups[0].Subnets) != 2 {
		t.Errorf("subnet group: %+v %v", sg, err)
	}
	allSG := collect[*rds.DescribeDBSubnetGroupsOutput, rds.Options](t, rds.NewDescribeDBSubnetGroupsPaginator(c, &rds.DescribeDBSubnetGroupsInput{},
		func(o *rds.DescribeDBSubnetGroupsPaginatorOptions) { o.Limit = 2 }))
	if len(allSG) != 2 {
		t.Errorf("3 subnet groups by 2: %d pages", len(allSG))
	}
}

func TestSDKRedshift(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := redshift.NewFromConfig(cfg(w.f, keyProd, region))
	w.r.RedshiftCluster("second", []*awsfake.Subnet{w.priv2}).Status("paused")

	pages := collect[*redshift.DescribeClustersOutput, redshift.Options](t, redshift.NewDescribeClustersPaginator(c, &redshift.DescribeClustersInput{},
		func(o *redshift.DescribeClustersPaginatorOptions) { o.Limit = 1 }))
	if len(pages) != 2 {
		t.Fatalf("%d pages", len(pages))
	}
	cl := pages[0].Clusters[0]
	if aws.ToString(cl.ClusterIdentifier) != "warehouse" || aws.ToString(cl.Endpoint.Address) != w.rs.Endpoint().Host ||
		aws.ToInt32(cl.Endpoint.Port) != 5439 || aws.ToString(cl.VpcId) != w.vpc.ID() ||
		aws.ToString(cl.ClusterSubnetGroupName) != "warehouse-subnets" || aws.ToString(cl.ClusterStatus) != "available" ||
		len(cl.VpcSecurityGroups) != 1 || aws.ToString(cl.VpcSecurityGroups[0].VpcSecurityGroupId) != w.sgDB.ID() ||
		len(cl.Tags) != 1 || aws.ToString(cl.Tags[0].Value) != "prod" {
		t.Errorf("warehouse: %+v", cl)
	}
	if s := pages[1].Clusters[0]; aws.ToString(s.ClusterStatus) != "paused" || len(s.VpcSecurityGroups) != 1 {
		t.Errorf("second: %+v", s)
	}
	byTag, err := c.DescribeClusters(ctx, &redshift.DescribeClustersInput{TagKeys: []string{"env"}})
	if err != nil || len(byTag.Clusters) != 1 {
		t.Errorf("tag filter: %+v %v", byTag, err)
	}
	_, err = c.DescribeClusters(ctx, &redshift.DescribeClustersInput{ClusterIdentifier: aws.String("nope")})
	var nf *rstypes.ClusterNotFoundFault
	if !errors.As(err, &nf) {
		t.Errorf("missing cluster: %v", err)
	}
	groups := collect[*redshift.DescribeClusterSubnetGroupsOutput, redshift.Options](t, redshift.NewDescribeClusterSubnetGroupsPaginator(c,
		&redshift.DescribeClusterSubnetGroupsInput{}, func(o *redshift.DescribeClusterSubnetGroupsPaginatorOptions) { o.Limit = 1 }))
	if len(groups) != 2 {
		t.Fatalf("subnet group pages: %d", len(groups))
	}
	g := groups[0].ClusterSubnetGroups[0]
	if aws.ToString(g.ClusterSubnetGroupName) != "warehouse-subnets" || aws.ToString(g.VpcId) != w.vpc.ID() ||
		len(g.Subnets) != 1 || aws.ToString(g.Subnets[0].SubnetIdentifier) != w.priv.ID() ||
		aws.ToString(g.Subnets[0].SubnetAvailabilityZone.Name) != w.priv.AZ() {
		t.Errorf("subnet group: %+v", g)
	}
}

func TestSDKRedshiftServerless(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := redshiftserverless.NewFromConfig(cfg(w.f, keyProd, region))

	pages := collect[*redshiftserverless.ListWorkgroupsOutput, redshiftserverless.Options](t, redshiftserverless.NewListWorkgroupsPaginator(c,
		&redshiftserverless.ListWorkgroupsInput{}, func(o *redshiftserverless.ListWorkgroupsPaginatorOptions) { o.Limit = 2 }))
	var names []string
	for _, p := range pages {
		for _, wg := range p.Workgroups {
			names = append(names, aws.ToString(wg.WorkgroupName))
		}
	}
	if len(pages) != 2 || !slices.Equal(names, []string{"analytics", "scratch", "etl"}) {
		t.Errorf("workgroups %v in %d pages", names, len(pages))
	}
	wg := pages[0].Workgroups[0]
	if wg.Endpoint == nil || aws.ToString(wg.Endpoint.Address) != w.wg.Endpoint().Host || aws.ToInt32(wg.Endpoint.Port) != 5439 ||
		aws.ToString(wg.Endpoint.Address) != "analytics."+acctProd+"."+region+".redshift-serverless.amazonaws.com" ||
		!slices.Equal(wg.SubnetIds, []string{w.priv.ID(), w.priv2.ID()}) || !slices.Equal(wg.SecurityGroupIds, []string{w.sgDB.ID()}) ||
		wg.Status != rsstypes.WorkgroupStatusAvailable || wg.CreationDate == nil {
		t.Errorf("workgroup: %+v", wg)
	}
	if v := wg.Endpoint.VpcEndpoints; len(v) != 1 || aws.ToString(v[0].VpcId) != w.vpc.ID() || len(v[0].NetworkInterfaces) != 2 ||
		aws.ToString(v[0].NetworkInterfaces[1].SubnetId) != w.priv2.ID() || !strings.HasPrefix(aws.ToString(v[0].NetworkInterfaces[0].PrivateIpAddress), "10.0.2.") {
		t.Errorf("workgroup VPC endpoints: %+v", v)
	}
	got, err := c.GetWorkgroup(ctx, &redshiftserverless.GetWorkgroupInput{WorkgroupName: aws.String("analytics")})
	if err != nil || aws.ToString(got.Workgroup.WorkgroupName) != "analytics" || aws.ToString(got.Workgroup.Endpoint.Address) != w.wg.Endpoint().Host {
		t.Errorf("GetWorkgroup: %+v %v", got, err)
	}
	_, err = c.GetWorkgroup(ctx, &redshiftserverless.GetWorkgroupInput{WorkgroupName: aws.String("nope")})
	var rnf *rsstypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("missing workgroup: %v", err)
	}

	w.wg.ManagedEndpoint("second-ep", []*awsfake.Subnet{w.priv})
	eps := collect[*redshiftserverless.ListEndpointAccessOutput, redshiftserverless.Options](t, redshiftserverless.NewListEndpointAccessPaginator(c,
		&redshiftserverless.ListEndpointAccessInput{}, func(o *redshiftserverless.ListEndpointAccessPaginatorOptions) { o.Limit = 1 }))
	if len(eps) != 2 {
		t.Fatalf("endpoint pages: %d", len(eps))
	}
	ep := eps[0].Endpoints[0]
	if aws.ToString(ep.EndpointName) != "bi-ep" || aws.ToString(ep.Address) != w.managed.Endpoint().Host ||
		aws.ToInt32(ep.Port) != 5439 || aws.ToString(ep.WorkgroupName) != "analytics" || aws.ToString(ep.EndpointStatus) != "ACTIVE" ||
		ep.VpcEndpoint == nil || aws.ToString(ep.VpcEndpoint.VpcId) != w.other.ID() || aws.ToString(ep.VpcEndpoint.VpcEndpointId) != w.managed.VPCEndpointID() ||
		!slices.Equal(ep.SubnetIds, []string{w.oSub.ID()}) || len(ep.VpcSecurityGroups) != 1 ||
		aws.ToString(ep.VpcSecurityGroups[0].VpcSecurityGroupId) != w.sgOther.ID() || len(ep.VpcEndpoint.NetworkInterfaces) != 1 {
		t.Errorf("managed endpoint: %+v", ep)
	}
	if !strings.HasPrefix(aws.ToString(ep.Address), "bi-ep-endpoint-") || !strings.HasSuffix(aws.ToString(ep.Address), "."+acctProd+"."+region+".redshift-serverless.amazonaws.com") {
		t.Errorf("managed endpoint address %s", aws.ToString(ep.Address))
	}
	inVPC, err := c.ListEndpointAccess(ctx, &redshiftserverless.ListEndpointAccessInput{VpcId: aws.String(w.other.ID())})
	if err != nil || len(inVPC.Endpoints) != 1 {
		t.Errorf("vpcId filter: %+v %v", inVPC, err)
	}
}

func TestSDKSSM(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := ssm.NewFromConfig(cfg(w.f, keyProd, region))
	w.f.PageSize(2)

	pages := collect[*ssm.DescribeInstanceInformationOutput, ssm.Options](t, ssm.NewDescribeInstanceInformationPaginator(c, &ssm.DescribeInstanceInformationInput{}))
	info := map[string]ssmtypes.InstanceInformation{}
	for _, p := range pages {
		for _, i := range p.InstanceInformationList {
			info[aws.ToString(i.InstanceId)] = i
		}
	}
	if len(pages) != 2 {
		t.Errorf("3 managed instances with page size 2: %d pages", len(pages))
	}
	sortedEq(t, "managed", keys(info), []string{w.bastionPriv.ID(), w.stopped.ID(), w.lost.ID()})
	on := info[w.bastionPriv.ID()]
	if on.PingStatus != ssmtypes.PingStatusOnline || aws.ToString(on.AgentVersion) == "" || on.PlatformType != ssmtypes.PlatformTypeLinux ||
		aws.ToString(on.PlatformName) != "Amazon Linux" || on.ResourceType != ssmtypes.ResourceTypeEc2Instance ||
		aws.ToString(on.IPAddress) != w.bastionPriv.PrivateIP() || on.LastPingDateTime == nil {
		t.Errorf("online bastion: %+v", on)
	}
	if s := info[w.stopped.ID()].PingStatus; s != ssmtypes.PingStatusConnectionLost {
		t.Errorf("stopped instance ping %s", s)
	}
	if l := info[w.lost.ID()]; l.PingStatus != ssmtypes.PingStatusConnectionLost || l.PlatformType != ssmtypes.PlatformTypeWindows {
		t.Errorf("windows box: %+v", l)
	}
	online, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{
		{Key: aws.String("PingStatus"), Values: []string{"Online"}}}})
	if err != nil || len(online.InstanceInformationList) != 1 {
		t.Errorf("PingStatus filter: %+v %v", online, err)
	}
	byID, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{InstanceInformationFilterList: []ssmtypes.InstanceInformationFilter{
		{Key: ssmtypes.InstanceInformationFilterKeyInstanceIds, ValueSet: []string{w.lost.ID()}}}})
	if err != nil || len(byID.InstanceInformationList) != 1 {
		t.Errorf("InstanceIds filter: %+v %v", byID, err)
	}
	_, err = c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{NextToken: aws.String("bogus")})
	wantCode(t, err, "InvalidNextToken")
}

func TestSDKSTSAccountsAndRegions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dev := w.f.Account("210987654321", "AKIDDEV").Caller("arn:aws:iam::210987654321:user/alice")
	devVPC := dev.Region("us-east-1").VPC("10.9.0.0/16")
	devInst := dev.Region("us-east-1").Instance("dev-bastion", devVPC.Subnet("10.9.1.0/24"))
	w.acct.Region("us-east-1").VPC("10.1.0.0/16")

	for _, tc := range []struct{ key, account, arn string }{
		{keyProd, acctProd, "arn:aws:iam::" + acctProd + ":user/dbtunnel"},
		{"AKIDDEV", "210987654321", "arn:aws:iam::210987654321:user/alice"},
	} {
		id, err := sts.NewFromConfig(cfg(w.f, tc.key, "us-east-1")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(id.Account) != tc.account || aws.ToString(id.Arn) != tc.arn || !strings.HasPrefix(aws.ToString(id.UserId), "AIDA") {
			t.Errorf("%s: %+v %v", tc.key, id, err)
		}
	}
	// Each (account, region) is its own topology.
	for _, tc := range []struct {
		key, region string
		want        []string
	}{
		{"AKIDDEV", "us-east-1", []string{devInst.ID()}},
		{"AKIDDEV", region, nil},
		{keyProd, "us-east-1", nil},
		{keyProd, "eu-west-1", nil},
	} {
		out, err := ec2.NewFromConfig(cfg(w.f, tc.key, tc.region)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				got = append(got, aws.ToString(i.InstanceId))
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s/%s: %v, want %v", tc.key, tc.region, got, tc.want)
		}
	}
	prodUS, err := ec2.NewFromConfig(cfg(w.f, keyProd, "us-east-1")).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err != nil || len(prodUS.Subnets) != 0 {
		t.Errorf("prod us-east-1 subnets: %+v %v", prodUS, err)
	}
}

func TestSDKAssumeRoleThroughSharedConfig(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	target := w.f.Account("333333333333")
	inst := target.Region(region).Instance("cross-account", target.Region(region).VPC("10.3.0.0/16").Subnet("10.3.1.0/24"))

	dir := t.TempDir()
	cfgFile, credFile, err := w.f.WriteSharedConfig(dir,
		awsfake.Profile{Name: "prod", AccessKey: keyProd, Region: region},
		awsfake.Profile{Name: "shared", Region: region, RoleARN: "arn:aws:iam::333333333333:role/path/dbtunnel-read", SourceProfile: "prod"},
	)
	if err != nil {
		t.Fatal(err)
	}
	c := loadProfile(t, cfgFile, credFile, "shared")
	id, err := sts.NewFromConfig(c).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != "333333333333" || !strings.HasPrefix(aws.ToString(id.Arn), "arn:aws:sts::333333333333:assumed-role/dbtunnel-read/") {
		t.Errorf("assumed identity: %+v", id)
	}
	out, err := ec2.NewFromConfig(c).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil || countInstances(out) != 1 || aws.ToString(out.Reservations[0].Instances[0].InstanceId) != inst.ID() {
		t.Errorf("instances seen through the role: %+v %v", out, err)
	}
	if w.f.Calls("sts:AssumeRole") < 1 {
		t.Errorf("AssumeRole calls: %d", w.f.Calls("sts:AssumeRole"))
	}

	// A role in an account the fake does not know is denied.
	cfgFile, credFile, err = w.f.WriteSharedConfig(t.TempDir(),
		awsfake.Profile{Name: "prod", AccessKey: keyProd, Region: region},
		awsfake.Profile{Name: "ghost", Region: region, RoleARN: "arn:aws:iam::999999999999:role/x", SourceProfile: "prod"},
	)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sts.NewFromConfig(loadProfile(t, cfgFile, credFile, "ghost")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("assume unknown account: %v", err)
	}
}

// loadProfile loads a shared-config profile the way dbtunnel does, with
// nothing from the environment.
func loadProfile(t *testing.T, configFile, credentialsFile, profile string) aws.Config {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k) // set-but-empty AWS_ENDPOINT_URL would hide the services section
	}
	c, err := config.LoadDefaultConfig(context.Background(),
		config.WithSharedConfigFiles([]string{configFile}),
		config.WithSharedCredentialsFiles([]string{credentialsFile}),
		config.WithSharedConfigProfile(profile),
		config.WithRetryer(retryer),
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
