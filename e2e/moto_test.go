//go:build linux

package e2e

// Discovery end to end against moto: moto_server (a third-party AWS
// emulator) serves EC2, RDS, Redshift, STS and IAM; awsfake serves what
// moto lacks (Systems Manager's DescribeInstanceInformation, Redshift
// Serverless). The world is seeded with the seeds' topologies (000 and 002,
// see shared/DESIGN.md) through aws-sdk-go-v2 and, for a few calls, the aws
// CLI; then the real dbtunnel binary runs `ls --json` and `doctor`, and the
// verdicts, reasons, fixes and route order are checked against what the
// seeding implies.
//
// These tests do not need the network-namespace bed (no requireBed): only
// moto_server and aws on PATH (skipped without them, failed with CI=true).
//
// moto (5.x) differs from AWS in ways that matter here; each is worked
// around where it is seeded and noted there:
//   - rds:DescribeDBClusterEndpoints and rds:DescribeDBProxyEndpoints are not
//     implemented (HTTP 500): dbtunnel warns that custom cluster endpoints
//     and extra proxy endpoints are not listed, and goes on.
//   - a VPC's default security group has no inbound rule (AWS gives it "all
//     traffic from itself"); the rule is added when seeding.
//   - an RDS instance created without VpcSecurityGroupIds gets the default
//     group of the *default* VPC, not of its subnet group's VPC; the VPC's
//     default group is passed explicitly.
//   - an instance launched with NetworkInterfaces[].Groups reports no
//     instance-level SecurityGroups; bastions are launched with SubnetId +
//     SecurityGroupIds, and the public one gets its address from the
//     subnet's MapPublicIpOnLaunch.
//   - DescribeClusters (Redshift) omits VpcId; dbtunnel takes the VPC from
//     the cluster subnet group, which is what is checked.
//   - DescribeVpcEndpoints gives DnsEntries that are not DNS names
//     ("vpce-….com.amazonaws.REGION.ssm"); nothing here reads them.
//
// moto does model, and the test relies on: the main route table's
// association (Main=true; the private subnets of seed 000 use it, local
// route only), NAT gateway routes, interface endpoints with groups and
// private DNS, instance profiles on instances (RunInstances refuses a
// profile IAM does not hold, as AWS does, so it is created first with
// `aws iam create-instance-profile`), the default egress rule, tags.
//
// Each discovery against moto takes 3-5 s: the SDK retries the two
// unimplemented calls (HTTP 500) with backoff before dbtunnel gives up on
// them. Three runs ask moto; the rest read dbtunnel's inventory cache.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/redshift"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

const (
	motoRegion  = "ap-northeast-1"
	motoAccount = "123456789012" // moto's default account
	motoKey     = "AKIDMOTOE2E"
	motoSecret  = "moto-secret-not-checked"
)

// moto is a running moto_server.
type moto struct {
	URL string
	cmd *exec.Cmd
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// requireTools skips (fails with CI=true) when a command is missing.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if inCI() {
				t.Fatalf("%s not found in PATH (CI=true, so this is a failure): %v", n, err)
			}
			t.Skipf("%s not found in PATH: %v", n, err)
		}
	}
}

var motoListening = regexp.MustCompile(`Running on http://127\.0\.0\.1:(\d+)`)

// startMoto runs moto_server on a loopback port it picks itself (-p 0;
// the port is read from its banner, so nothing can take it in between),
// waits until it answers and stops it when the test ends.
func startMoto(t *testing.T) *moto {
	t.Helper()
	requireTools(t, "moto_server")
	cmd := exec.Command("moto_server", "-H", "127.0.0.1", "-p", "0")
	// Its own process group: moto_server may be a shim that starts python.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	pw.Close()
	m := &moto{cmd: cmd, log: &syncBuffer{}}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		pr.Close()
		if t.Failed() {
			t.Logf("moto_server log (tail):\n%s", clip(tailString(m.log.String(), 6000), 6000))
		}
	})

	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(m.log, line)
			if sm := motoListening.FindStringSubmatch(line); sm != nil && !found {
				found = true
				port <- sm[1]
			}
		}
	}()
	select {
	case p := <-port:
		m.URL = "http://127.0.0.1:" + p
	case <-done:
		t.Fatalf("moto_server exited before listening:\n%s", m.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("moto_server did not report its port in 30s:\n%s", m.log.String())
	}
	// Answering: its management API replies once the app is up.
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(m.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server at %s does not answer: %v", m.URL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return m
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// awsCLI runs the aws CLI against moto and returns its stdout.
func (m *moto) awsCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aws", append([]string{"--endpoint-url", m.URL, "--output", "json"}, args...)...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// motoBinary is the dbtunnel binary: the bed's when TestMain built one,
// else one built here (the bed needs root and more; these tests do not).
func motoBinary(t *testing.T) string {
	t.Helper()
	if bed != nil && bed.buildErr == nil {
		return bed.Binary
	}
	out := filepath.Join(t.TempDir(), "dbtunnel")
	if err := buildDbtunnel(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// motoWorld is what seeding made, by the ids moto gave.
type motoWorld struct {
	vpcA, vpcB                                 string
	sgBastion, sgDB, sgEndpoint                string
	pubBastion, privBastion, offline, worker   string
	pubIP, privIP, offlineIP                   string
	auroraWriter, auroraReader                 string
	vpcB2Bastion, b2IP, sgB2, sgDefaultB       string
	sgClosed, sgOpen, sgWarehouse              string
	warehouseHost                              string
	subnetPub, subnetPriv, subnetPriv2         string
	subnetBPub, subnetBPriv, subnetBPriv2, nat string
	igwA, rtPub                                string
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("seed %s: %v", what, err)
		}
		return v
	}
}

// seedMoto builds seeds 000 and 002 in moto.
//
//	VPC A 10.0.0.0/16 (seed 000)
//	  public  10.0.1.0/24  igw route, MapPublicIpOnLaunch: bastion-public (sg bastion: 22 from 203.0.113.0/24)
//	  private 10.0.2.0/24  main table (local only) + ssm/ssmmessages/ec2messages
//	                       endpoints (sg vpce: 443 from sg bastion):
//	                       bastion-private (profile, SSM Online), bastion-offline
//	                       (profile, SSM ConnectionLost), worker (nothing: no bastion)
//	  private 10.0.3.0/24
//	  prod-aurora (aurora-postgresql, sg db: 5432 from sg bastion), one member
//	VPC B 10.1.0.0/16 (seed 002)
//	  public 10.1.1.0/24 (igw, NAT gateway); private 10.1.2.0/24, 10.1.3.0/24 routed to the NAT
//	  bastion-002 (private, profile, SSM Online, sg bastion-002)
//	  db-default-group (the VPC's default group), db-closed (a group with no
//	  inbound rule), db-open (5432 from sg bastion-002, added by the aws CLI),
//	  warehouse (Redshift, 5439 from sg bastion-002)
func seedMoto(t *testing.T, m *moto, cliEnv []string) *motoWorld {
	t.Helper()
	ctx := context.Background()
	cfg := aws.Config{
		Region:       motoRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(motoKey, motoSecret, ""),
		BaseEndpoint: aws.String(m.URL),
	}
	e := ec2.NewFromConfig(cfg)
	r := rds.NewFromConfig(cfg)
	rs := redshift.NewFromConfig(cfg)
	w := &motoWorld{}

	// The instance profile goes through the aws CLI: no IAM client here,
	// and a client nobody here wrote talks to moto too.
	m.awsCLI(t, cliEnv, "iam", "create-instance-profile", "--instance-profile-name", "ssm-core")

	tag := func(kind ec2types.ResourceType, name string) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: kind, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}}
	}
	vpc := func(cidr, name string) string {
		return *must[*ec2.CreateVpcOutput](t, "vpc")(e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr), TagSpecifications: tag(ec2types.ResourceTypeVpc, name)})).Vpc.VpcId
	}
	subnet := func(vpcID, cidr, az string) string {
		return *must[*ec2.CreateSubnetOutput](t, "subnet")(e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String(cidr), AvailabilityZone: aws.String(az)})).Subnet.SubnetId
	}
	table := func(vpcID string, subnets ...string) string {
		id := *must[*ec2.CreateRouteTableOutput](t, "route table")(e.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpcID)})).RouteTable.RouteTableId
		for _, s := range subnets {
			must[*ec2.AssociateRouteTableOutput](t, "associate")(e.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(id), SubnetId: aws.String(s)}))
		}
		return id
	}
	igw := func(vpcID string) string {
		id := *must[*ec2.CreateInternetGatewayOutput](t, "igw")(e.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})).InternetGateway.InternetGatewayId
		must[*ec2.AttachInternetGatewayOutput](t, "attach igw")(e.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(id), VpcId: aws.String(vpcID)}))
		return id
	}
	group := func(vpcID, name string) string {
		return *must[*ec2.CreateSecurityGroupOutput](t, "group")(e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			VpcId: aws.String(vpcID), GroupName: aws.String(name), Description: aws.String(name)})).GroupId
	}
	allow := func(g string, perm ec2types.IpPermission) {
		must[*ec2.AuthorizeSecurityGroupIngressOutput](t, "ingress")(e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String(g), IpPermissions: []ec2types.IpPermission{perm}}))
	}
	fromGroup := func(port int32, src string) ec2types.IpPermission {
		return ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(src)}}}
	}
	launch := func(name, subnetID, profile string, groups ...string) (id, ip, public string) {
		in := &ec2.RunInstancesInput{
			ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			SubnetId: aws.String(subnetID), SecurityGroupIds: groups,
			TagSpecifications: tag(ec2types.ResourceTypeInstance, name),
		}
		if profile != "" {
			in.IamInstanceProfile = &ec2types.IamInstanceProfileSpecification{Name: aws.String(profile)}
		}
		i := must[*ec2.RunInstancesOutput](t, "instance "+name)(e.RunInstances(ctx, in)).Instances[0]
		return *i.InstanceId, aws.ToString(i.PrivateIpAddress), aws.ToString(i.PublicIpAddress)
	}
	defaultGroup := func(vpcID string) string {
		out := must[*ec2.DescribeSecurityGroupsOutput](t, "default group")(e.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{vpcID}}, {Name: aws.String("group-name"), Values: []string{"default"}}}}))
		if len(out.SecurityGroups) != 1 {
			t.Fatalf("seed: %d default groups in %s", len(out.SecurityGroups), vpcID)
		}
		return *out.SecurityGroups[0].GroupId
	}
	subnetGroup := func(name string, subnets ...string) {
		must[*rds.CreateDBSubnetGroupOutput](t, "db subnet group")(r.CreateDBSubnetGroup(ctx, &rds.CreateDBSubnetGroupInput{
			DBSubnetGroupName: aws.String(name), DBSubnetGroupDescription: aws.String(name), SubnetIds: subnets}))
	}
	postgres := func(id, subnetGroup, sg string) {
		must[*rds.CreateDBInstanceOutput](t, "db "+id)(r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.t3.micro"),
			AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("app"), MasterUserPassword: aws.String("not-a-secret-123"),
			DBSubnetGroupName: aws.String(subnetGroup), VpcSecurityGroupIds: []string{sg}}))
	}

	// ---- seed 000: VPC A ----
	w.vpcA = vpc("10.0.0.0/16", "seed-000")
	w.subnetPub = subnet(w.vpcA, "10.0.1.0/24", motoRegion+"a")
	w.subnetPriv = subnet(w.vpcA, "10.0.2.0/24", motoRegion+"c")
	w.subnetPriv2 = subnet(w.vpcA, "10.0.3.0/24", motoRegion+"d")
	must[*ec2.ModifySubnetAttributeOutput](t, "map public ip")(e.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{
		SubnetId: aws.String(w.subnetPub), MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}))
	w.igwA = igw(w.vpcA)
	w.rtPub = table(w.vpcA, w.subnetPub)
	must[*ec2.CreateRouteOutput](t, "igw route")(e.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId: aws.String(w.rtPub), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(w.igwA)}))
	// The private subnets keep the VPC's main table: only the local route.

	w.sgBastion = group(w.vpcA, "bastion")
	allow(w.sgBastion, ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
		IpRanges: []ec2types.IpRange{{CidrIp: aws.String("203.0.113.0/24")}}})
	w.sgDB = group(w.vpcA, "aurora")
	allow(w.sgDB, fromGroup(5432, w.sgBastion))
	w.sgEndpoint = group(w.vpcA, "vpce-ssm")
	allow(w.sgEndpoint, fromGroup(443, w.sgBastion))
	for _, svc := range []string{"ssm", "ssmmessages", "ec2messages"} {
		must[*ec2.CreateVpcEndpointOutput](t, "endpoint "+svc)(e.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
			VpcId: aws.String(w.vpcA), VpcEndpointType: ec2types.VpcEndpointTypeInterface,
			ServiceName: aws.String("com.amazonaws." + motoRegion + "." + svc), SubnetIds: []string{w.subnetPriv},
			SecurityGroupIds: []string{w.sgEndpoint}, PrivateDnsEnabled: aws.Bool(true)}))
	}

	w.pubBastion, _, w.pubIP = launch("bastion-public", w.subnetPub, "", w.sgBastion)
	w.privBastion, w.privIP, _ = launch("bastion-private", w.subnetPriv, "ssm-core", w.sgBastion)
	w.offline, w.offlineIP, _ = launch("bastion-offline", w.subnetPriv, "ssm-core", w.sgBastion)
	w.worker, _, _ = launch("worker", w.subnetPriv, "", defaultGroup(w.vpcA))
	if w.pubIP == "" {
		t.Fatal("seed: moto gave bastion-public no public IP (MapPublicIpOnLaunch)")
	}

	subnetGroup("seed-000", w.subnetPriv, w.subnetPriv2)
	c := must[*rds.CreateDBClusterOutput](t, "aurora")(r.CreateDBCluster(ctx, &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String("prod-aurora"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("app"), MasterUserPassword: aws.String("not-a-secret-123"),
		DBSubnetGroupName: aws.String("seed-000"), VpcSecurityGroupIds: []string{w.sgDB}})).DBCluster
	w.auroraWriter, w.auroraReader = aws.ToString(c.Endpoint), aws.ToString(c.ReaderEndpoint)
	must[*rds.CreateDBInstanceOutput](t, "aurora member")(r.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("prod-aurora-1"), DBClusterIdentifier: aws.String("prod-aurora"),
		Engine: aws.String("aurora-postgresql"), DBInstanceClass: aws.String("db.r6g.large")}))

	// ---- seed 002: VPC B ----
	w.vpcB = vpc("10.1.0.0/16", "seed-002")
	w.subnetBPub = subnet(w.vpcB, "10.1.1.0/24", motoRegion+"a")
	w.subnetBPriv = subnet(w.vpcB, "10.1.2.0/24", motoRegion+"a")
	w.subnetBPriv2 = subnet(w.vpcB, "10.1.3.0/24", motoRegion+"c")
	igwB := igw(w.vpcB)
	rtBPub := table(w.vpcB, w.subnetBPub)
	must[*ec2.CreateRouteOutput](t, "igw route B")(e.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId: aws.String(rtBPub), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(igwB)}))
	eip := must[*ec2.AllocateAddressOutput](t, "eip")(e.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc}))
	w.nat = *must[*ec2.CreateNatGatewayOutput](t, "nat")(e.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
		SubnetId: aws.String(w.subnetBPub), AllocationId: eip.AllocationId})).NatGateway.NatGatewayId
	rtBPriv := table(w.vpcB, w.subnetBPriv, w.subnetBPriv2)
	must[*ec2.CreateRouteOutput](t, "nat route")(e.CreateRoute(ctx, &ec2.CreateRouteInput{
		RouteTableId: aws.String(rtBPriv), DestinationCidrBlock: aws.String("0.0.0.0/0"), NatGatewayId: aws.String(w.nat)}))

	w.sgB2 = group(w.vpcB, "bastion-002")
	w.sgDefaultB = defaultGroup(w.vpcB)
	// moto leaves the default group without AWS's "all traffic from
	// itself" rule: add it, so the group is what AWS would hand out.
	allow(w.sgDefaultB, ec2types.IpPermission{IpProtocol: aws.String("-1"), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(w.sgDefaultB)}}})
	w.sgClosed = group(w.vpcB, "db-closed")
	w.sgOpen = group(w.vpcB, "db-open")
	// The rule that makes db-open open is added with the aws CLI.
	m.awsCLI(t, cliEnv, "ec2", "authorize-security-group-ingress", "--group-id", w.sgOpen,
		"--protocol", "tcp", "--port", "5432", "--source-group", w.sgB2)
	w.sgWarehouse = group(w.vpcB, "warehouse")
	allow(w.sgWarehouse, fromGroup(5439, w.sgB2))
	w.vpcB2Bastion, w.b2IP, _ = launch("bastion-002", w.subnetBPriv, "ssm-core", w.sgB2)

	subnetGroup("seed-002", w.subnetBPriv, w.subnetBPriv2)
	// moto would give an instance without groups the default VPC's default
	// group; AWS gives its own VPC's, which is passed explicitly.
	postgres("db-default-group", "seed-002", w.sgDefaultB)
	postgres("db-closed", "seed-002", w.sgClosed)
	postgres("db-open", "seed-002", w.sgOpen)

	must[*redshift.CreateClusterSubnetGroupOutput](t, "redshift subnet group")(rs.CreateClusterSubnetGroup(ctx, &redshift.CreateClusterSubnetGroupInput{
		ClusterSubnetGroupName: aws.String("seed-002"), Description: aws.String("seed 002"), SubnetIds: []string{w.subnetBPriv}}))
	rc := must[*redshift.CreateClusterOutput](t, "redshift")(rs.CreateCluster(ctx, &redshift.CreateClusterInput{
		ClusterIdentifier: aws.String("warehouse"), NodeType: aws.String("ra3.xlplus"), ClusterType: aws.String("single-node"),
		MasterUsername: aws.String("app"), MasterUserPassword: aws.String("NotASecret123"),
		ClusterSubnetGroupName: aws.String("seed-002"), VpcSecurityGroupIds: []string{w.sgWarehouse}})).Cluster
	if rc.Endpoint != nil {
		w.warehouseHost = aws.ToString(rc.Endpoint.Address)
	}
	return w
}

// motoEnv is the environment of dbtunnel and the aws CLI: nothing of the
// developer's AWS setup, EC2/RDS/Redshift/STS to moto, SSM and Redshift
// Serverless to awsfake.
func motoEnv(home, motoURL, fakeURL string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "DBTUNNEL_"):
			continue
		}
		env = append(env, kv)
	}
	empty := filepath.Join(home, "empty")
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"AWS_ACCESS_KEY_ID="+motoKey,
		"AWS_SECRET_ACCESS_KEY="+motoSecret,
		"AWS_REGION="+motoRegion,
		"AWS_DEFAULT_REGION="+motoRegion, // the aws CLI v1 reads only this one
		"AWS_ENDPOINT_URL="+motoURL,
		"AWS_ENDPOINT_URL_SSM="+fakeURL,
		"AWS_ENDPOINT_URL_REDSHIFT_SERVERLESS="+fakeURL,
		"AWS_CONFIG_FILE="+empty,
		"AWS_SHARED_CREDENTIALS_FILE="+empty,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	)
}

type motoRun struct {
	stdout, stderr string
	code           int
}

func runMotoDbtunnel(t *testing.T, bin, dir string, env []string, args ...string) motoRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	code, sig := exitStatus(cmd, err)
	if ctx.Err() != nil {
		t.Fatalf("dbtunnel %s: killed after 60s", strings.Join(args, " "))
	}
	t.Logf("dbtunnel %s → exit %d%s in %v\nstderr: %s", strings.Join(args, " "), code, sig,
		time.Since(start).Round(time.Millisecond), clip(stderr.String(), 3000))
	return motoRun{stdout.String(), stderr.String(), code}
}

// motoGaps are the operations moto does not implement (HTTP 500
// NotImplemented, retried by the SDK, then given up): dbtunnel warns about
// them and goes on. They are the only warnings allowed.
var motoGaps = []string{
	"rds:DescribeDBClusterEndpoints failed: custom cluster endpoints are not listed: ",
	"rds:DescribeDBProxyEndpoints failed: additional RDS proxy endpoints are not listed: ",
}

// checkWarnings allows on stderr only the warnings for motoGaps: ls's own
// line ("warning: SCOPE: …"; SCOPE is the scope as asked, "default/",
// which names no region: see the report) and the logger's line.
func checkWarnings(t *testing.T, stderr string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line == "" {
			continue
		}
		ok := false
		for _, gap := range motoGaps {
			if strings.HasPrefix(line, "warning: default/: "+gap) || strings.HasPrefix(line, "warning: default/"+motoRegion+": "+gap) ||
				(strings.Contains(line, `level=WARN msg="discovery incomplete"`) && strings.Contains(line, `warning="`+gap)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("unexpected stderr line: %s", line)
		}
	}
}

func TestMotoDiscovery(t *testing.T) {
	requireTools(t, "moto_server", "aws")
	start := time.Now()
	m := startMoto(t)
	t.Logf("moto_server at %s (%v)", m.URL, time.Since(start).Round(time.Millisecond))

	fake := awsfake.NewServer(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := motoEnv(home, m.URL, fake.URL)
	bin := motoBinary(t)

	t0 := time.Now()
	w := seedMoto(t, m, env)
	t.Logf("seeded moto in %v", time.Since(t0).Round(time.Millisecond))

	// Systems Manager knows the agents of moto's instances; the worker is
	// not registered at all.
	reg := fake.Account(motoAccount, motoKey).Region(motoRegion)
	reg.ExternalInstance(w.privBastion, w.privIP).InstanceProfile("ssm-core").SSMOnline()
	reg.ExternalInstance(w.offline, w.offlineIP).InstanceProfile("ssm-core").SSM("ConnectionLost")
	reg.ExternalInstance(w.vpcB2Bastion, w.b2IP).InstanceProfile("ssm-core").SSMOnline()

	// The config only turns the inventory cache on. Without a config
	// file dbtunnel runs with no defaults applied: cache_ttl is 0, not the
	// documented 10m, and nothing is cached (cmd/dbtunnel/app.go loadConfig;
	// see the report). Found as ./.dbtunnel.yaml.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".dbtunnel.yaml"), []byte("discovery:\n  cache_ttl: 10m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) motoRun { return runMotoDbtunnel(t, bin, dir, env, args...) }

	// ---- ls --json ----
	ls := run("ls", "--json")
	if ls.code != 0 {
		t.Fatalf("ls --json exit %d\n%s", ls.code, ls.stderr)
	}
	checkWarnings(t, ls.stderr)
	var dbs []discovery.Database
	if err := json.Unmarshal([]byte(ls.stdout), &dbs); err != nil {
		t.Fatalf("ls --json: %v\n%s", err, ls.stdout)
	}
	byName := map[string]discovery.Database{}
	var names []string
	for _, d := range dbs {
		byName[d.Name] = d
		names = append(names, d.Name)
		if d.Account != motoAccount || d.Region != motoRegion || d.Profile != "" {
			t.Errorf("%s: account %q region %q profile %q", d.Name, d.Account, d.Region, d.Profile)
		}
		for _, r := range d.Routes {
			if r.Bastion == w.worker {
				t.Errorf("%s: the worker (no public IP, no profile, not managed) is a route: %+v", d.Name, r)
			}
		}
	}
	// Sorted by name; the cluster's member instance is folded into it.
	eqJSON(t, "databases", names, []string{"db-closed", "db-default-group", "db-open", "prod-aurora", "warehouse"})

	// Seed 000: Aurora through the SSM private bastion first, then SSH
	// through the public one; the SSM-offline bastion blocked with its cause.
	aurora := byName["prod-aurora"]
	eqJSON(t, "aurora placement", []any{aurora.Kind, aurora.Engine, aurora.VPCID, aurora.SecurityGroups, aurora.SubnetIDs},
		[]any{discovery.KindAuroraCluster, "aurora-postgresql", w.vpcA, []string{w.sgDB}, []string{w.subnetPriv, w.subnetPriv2}})
	// No custom endpoints: moto does not implement DescribeDBClusterEndpoints.
	eqJSON(t, "aurora endpoints", aurora.Endpoints, []discovery.Endpoint{
		{Role: discovery.RoleWriter, Host: w.auroraWriter, Port: 5432},
		{Role: discovery.RoleReader, Host: w.auroraReader, Port: 5432},
	})
	sshNote := w.sgBastion + " allows tcp/22 only from 203.0.113.0/24: your address must be in it"
	ingressOK := w.sgDB + " allows tcp/5432 from " + w.sgBastion
	eqJSON(t, "aurora routes", brief(aurora.Routes), []routeBrief{
		{discovery.ViaSSM, w.privBastion, "bastion-private", discovery.VerdictOK, []string{ingressOK}, ""},
		{discovery.ViaSSH, w.pubBastion, "bastion-public", discovery.VerdictOK, []string{ingressOK, sshNote}, ""},
		{discovery.ViaSSM, w.offline, "bastion-offline", discovery.VerdictBlocked,
			[]string{"Systems Manager reports " + w.offline + "'s agent as ConnectionLost: it has stopped reaching the service"}, ""},
	})
	if len(aurora.Routes) == 3 {
		// The SSH path was judged on moto's route table and address.
		checks := checkMap(aurora.Routes[1].Checks)
		eqJSON(t, "ssh checks", []string{checks["public IP"], checks["internet gateway route"], checks["SSH ingress tcp/22"]},
			[]string{"pass: " + w.pubBastion + " has public IP " + w.pubIP,
				"pass: " + w.subnetPub + " routes 0.0.0.0/0 to " + w.igwA + " (" + w.rtPub + ")",
				"pass: " + sshNote})
	}

	// Seed 002: no usable group / no inbound rule / allowed.
	for _, c := range []struct{ name, sg string }{{"db-default-group", w.sgDefaultB}, {"db-closed", w.sgClosed}} {
		d := byName[c.name]
		eqJSON(t, c.name+" placement", []any{d.Kind, d.Engine, d.VPCID, d.SecurityGroups},
			[]any{discovery.KindRDSInstance, "postgres", w.vpcB, []string{c.sg}})
		eqJSON(t, c.name+" routes", brief(d.Routes), []routeBrief{{
			discovery.ViaSSM, w.vpcB2Bastion, "bastion-002", discovery.VerdictBlocked,
			[]string{fmt.Sprintf("%s has no inbound rule for tcp/5432 from %s or %s; connections would time out, not be refused", c.sg, w.sgB2, w.b2IP)},
			fmt.Sprintf("aws ec2 authorize-security-group-ingress --group-id %s --protocol tcp --port 5432 --source-group %s --region %s", c.sg, w.sgB2, motoRegion),
		}})
	}
	open := byName["db-open"]
	eqJSON(t, "db-open routes", brief(open.Routes), []routeBrief{{
		discovery.ViaSSM, w.vpcB2Bastion, "bastion-002", discovery.VerdictOK,
		[]string{w.sgOpen + " allows tcp/5432 from " + w.sgB2}, "",
	}})
	if len(open.Endpoints) != 1 || open.Endpoints[0].Role != discovery.RoleInstance || open.Endpoints[0].Port != 5432 ||
		!strings.HasPrefix(open.Endpoints[0].Host, "db-open.") {
		t.Errorf("db-open endpoints %+v", open.Endpoints)
	}
	// Redshift: moto's DescribeClusters has no VpcId; the subnet group's is used.
	wh := byName["warehouse"]
	eqJSON(t, "warehouse", []any{wh.Kind, wh.VPCID, wh.SubnetIDs, wh.SecurityGroups, wh.Endpoints},
		[]any{discovery.KindRedshiftCluster, w.vpcB, []string{w.subnetBPriv}, []string{w.sgWarehouse},
			[]discovery.Endpoint{{Role: discovery.RoleInstance, Host: w.warehouseHost, Port: 5439}}})
	eqJSON(t, "warehouse routes", brief(wh.Routes), []routeBrief{{
		discovery.ViaSSM, w.vpcB2Bastion, "bastion-002", discovery.VerdictOK,
		[]string{w.sgWarehouse + " allows tcp/5439 from " + w.sgB2}, "",
	}})

	// ---- doctor ----
	// The first doctor asks moto again (--refresh); the others read the
	// inventory it cached, to keep the test short: every discovery against
	// moto waits out the SDK's retries of the two unimplemented calls.
	type report struct {
		Target  string            `json:"target"`
		Verdict discovery.Verdict `json:"verdict"`
		Checks  []discovery.Check `json:"checks"`
		Via     string            `json:"via"`
		Bastion string            `json:"bastion"`
		Routes  []discovery.Route `json:"routes"`
	}
	doctorJSON := func(name string, wantCode int, refresh bool) report {
		t.Helper()
		args := []string{"doctor", name, "--json"}
		if refresh {
			args = append(args, "--refresh")
		}
		r := run(args...)
		if r.code != wantCode {
			t.Errorf("doctor %s --json: exit %d, want %d", name, r.code, wantCode)
		}
		checkWarnings(t, r.stderr)
		var rep report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("doctor %s --json: %v\n%s", name, err, r.stdout)
		}
		return rep
	}
	statuses := func(cs []discovery.Check) []string {
		var out []string
		for _, c := range cs {
			out = append(out, string(c.Status)+" "+c.Name)
		}
		return out
	}

	rep := doctorJSON("prod-aurora", 0, true)
	eqJSON(t, "doctor prod-aurora", []any{rep.Target, rep.Verdict, rep.Via, rep.Bastion, len(rep.Routes)},
		[]any{"prod-aurora", discovery.VerdictOK, discovery.ViaSSM, w.privBastion, 3})
	eqJSON(t, "doctor prod-aurora checks", statuses(rep.Checks), []string{
		"pass bastion running", "pass SSM agent online", "pass same VPC", "pass bastion egress tcp/5432", "pass database ingress tcp/5432"})

	rep = doctorJSON("db-closed", 1, false)
	eqJSON(t, "doctor db-closed", []any{rep.Target, rep.Verdict, rep.Via, rep.Bastion}, []any{"db-closed", discovery.VerdictBlocked, discovery.ViaSSM, w.vpcB2Bastion})
	eqJSON(t, "doctor db-closed checks", statuses(rep.Checks), []string{
		"pass bastion running", "pass SSM agent online", "pass same VPC", "pass bastion egress tcp/5432", "fail database ingress tcp/5432"})
	closedFix := fmt.Sprintf("aws ec2 authorize-security-group-ingress --group-id %s --protocol tcp --port 5432 --source-group %s --region %s", w.sgClosed, w.sgB2, motoRegion)
	if n := len(rep.Checks); n > 0 && rep.Checks[n-1].Fix != closedFix {
		t.Errorf("doctor db-closed fix %q, want %q", rep.Checks[n-1].Fix, closedFix)
	}
	rep = doctorJSON("db-default-group", 1, false)
	if rep.Verdict != discovery.VerdictBlocked {
		t.Errorf("doctor db-default-group verdict %s", rep.Verdict)
	}
	rep = doctorJSON("db-open", 0, false)
	if rep.Verdict != discovery.VerdictOK || rep.Bastion != w.vpcB2Bastion {
		t.Errorf("doctor db-open %+v", rep)
	}

	// The human form: ✓/✗ per check, the fix under the failing one.
	txt := run("doctor", "db-closed")
	if txt.code != 1 {
		t.Errorf("doctor db-closed: exit %d, want 1", txt.code)
	}
	for _, re := range []string{
		`(?m)^db-closed: rds-instance db-closed in default/` + motoRegion + `$`,
		`(?m)^route 1: ssm via ` + w.vpcB2Bastion + ` \(bastion-002\): ✗ blocked$`,
		`(?m)^  ✓ SSM agent online +` + regexp.QuoteMeta(w.vpcB2Bastion+"'s SSM agent is online"),
		`(?m)^  ✗ database ingress tcp/5432 +` + regexp.QuoteMeta(fmt.Sprintf("%s has no inbound rule for tcp/5432 from %s or %s", w.sgClosed, w.sgB2, w.b2IP)),
		`(?m)^    fix: +` + regexp.QuoteMeta(closedFix) + `$`,
	} {
		if !regexp.MustCompile(re).MatchString(txt.stdout) {
			t.Errorf("doctor db-closed output lacks %s:\n%s", re, txt.stdout)
		}
	}
	txt = run("doctor", "prod-aurora")
	if txt.code != 0 {
		t.Errorf("doctor prod-aurora: exit %d, want 0", txt.code)
	}
	for _, re := range []string{
		`(?m)^route 1: ssm via ` + w.privBastion + ` \(bastion-private\): ✓ ok$`,
		`(?m)^route 2: ssh via ` + w.pubBastion + ` \(bastion-public\): ✓ ok$`,
		`(?m)^route 3: ssm via ` + w.offline + ` \(bastion-offline\): ✗ blocked$`,
		`(?m)^  ✗ SSM agent online +Systems Manager reports ` + w.offline + `'s agent as ConnectionLost`,
	} {
		if !regexp.MustCompile(re).MatchString(txt.stdout) {
			t.Errorf("doctor prod-aurora output lacks %s:\n%s", re, txt.stdout)
		}
	}
	if strings.Contains(txt.stdout, w.worker) {
		t.Errorf("doctor prod-aurora mentions the worker %s:\n%s", w.worker, txt.stdout)
	}

	// ---- the fix works ----
	// Run the command doctor printed, with the aws CLI, against moto; the
	// next discovery finds db-closed open.
	args := strings.Fields(closedFix)
	if args[0] != "aws" {
		t.Fatalf("fix %q is not an aws CLI command", closedFix)
	}
	m.awsCLI(t, env, args[1:]...)
	rep = doctorJSON("db-closed", 0, true)
	if rep.Verdict != discovery.VerdictOK || rep.Bastion != w.vpcB2Bastion {
		t.Errorf("after the fix, doctor db-closed: %+v", rep)
	}
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
}

// routeBrief is the part of a route the test pins down.
type routeBrief struct {
	Via         string
	Bastion     string
	BastionName string
	Verdict     discovery.Verdict
	Reasons     []string
	Fix         string
}

func brief(rs []discovery.Route) []routeBrief {
	out := []routeBrief{}
	for _, r := range rs {
		out = append(out, routeBrief{r.Via, r.Bastion, r.BastionName, r.Verdict, r.Reasons, r.Fix})
	}
	return out
}

func checkMap(cs []discovery.Check) map[string]string {
	m := map[string]string{}
	for _, c := range cs {
		m[c.Name] = string(c.Status) + ": " + c.Detail
	}
	return m
}

func eqJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}
