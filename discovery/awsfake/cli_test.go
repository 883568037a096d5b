package awsfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLI finds the aws CLI; in CI its absence fails the test.
func awsCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("aws CLI not found (CI=true): %v", err)
		}
		t.Skipf("aws CLI not found: %v", err)
	}
	return p
}

// cliEnv is the environment with no AWS settings but the fake's.
func cliEnv(t *testing.T, key string) []string {
	t.Helper()
	dir := t.TempDir()
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	for _, f := range []string{cfgFile, credFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+key, "AWS_SECRET_ACCESS_KEY=not-checked", "AWS_DEFAULT_REGION="+region,
		"AWS_CONFIG_FILE="+cfgFile, "AWS_SHARED_CREDENTIALS_FILE="+credFile,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
	)
}

func runCLI(t *testing.T, bin, url string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--endpoint-url", url, "--output", "json"}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// pluck follows a path like "Reservations[].Instances[].InstanceId".
func pluck(v any, path string) []string {
	vals := []any{v}
	for _, seg := range strings.Split(path, ".") {
		name, each := strings.CutSuffix(seg, "[]")
		var next []any
		for _, x := range vals {
			m, ok := x.(map[string]any)
			if !ok {
				continue
			}
			y := m[name]
			if each {
				arr, _ := y.([]any)
				next = append(next, arr...)
			} else if y != nil {
				next = append(next, y)
			}
		}
		vals = next
	}
	var out []string
	for _, x := range vals {
		switch x := x.(type) {
		case string:
			out = append(out, x)
		default:
			b, _ := json.Marshal(x)
			out = append(out, string(b))
		}
	}
	return out
}

func TestAWSCLI(t *testing.T) {
	bin := awsCLI(t)
	w := newWorld(t)
	w.f.PageSize(2) // every listing with more than two items takes the CLI through NextToken/Marker
	w.f.Account("210987654321", "AKIDDENIED").Deny("*")
	w.f.Account("222222222222", "AKIDEXPIRED")
	w.f.ExpireKey("AKIDEXPIRED")
	env := cliEnv(t, keyProd)

	for _, tc := range []struct {
		args []string
		op   string // its calls must be at least pages
		path string
		want []string
	}{
		{[]string{"ec2", "describe-instances"}, "ec2:DescribeInstances", "Reservations[].Instances[].InstanceId",
			[]string{w.bastionPub.ID(), w.bastionPriv.ID(), w.stopped.ID(), w.lost.ID()}},
		{[]string{"ec2", "describe-instances", "--filters", "Name=instance-state-name,Values=running", "Name=tag:Name,Values=bastion-public"}, "",
			"Reservations[].Instances[].PublicIpAddress", []string{"198.51.100.10"}},
		{[]string{"ec2", "describe-security-groups"}, "ec2:DescribeSecurityGroups", "SecurityGroups[].GroupId",
			[]string{w.sgBastion.ID(), w.sgPriv.ID(), w.sgEP.ID(), w.sgDB.ID(), w.sgOther.ID(), w.vpc.DefaultSecurityGroup().ID(), w.other.DefaultSecurityGroup().ID()}},
		{[]string{"ec2", "describe-security-groups", "--group-ids", w.sgDB.ID()}, "",
			"SecurityGroups[].IpPermissions[].UserIdGroupPairs[].GroupId", []string{w.sgBastion.ID(), w.sgPriv.ID()}},
		{[]string{"ec2", "describe-subnets"}, "ec2:DescribeSubnets", "Subnets[].SubnetId",
			[]string{w.pub.ID(), w.priv.ID(), w.priv2.ID(), w.oSub.ID()}},
		{[]string{"ec2", "describe-route-tables", "--filters", "Name=vpc-id,Values=" + w.vpc.ID()}, "ec2:DescribeRouteTables", "RouteTables[].Routes[].NatGatewayId",
			[]string{w.vpc.NATGatewayID()}},
		{[]string{"ec2", "describe-vpc-endpoints"}, "ec2:DescribeVpcEndpoints", "VpcEndpoints[].VpcEndpointType",
			[]string{"Interface", "Interface", "Interface", "Gateway", "Resource"}},
		{[]string{"rds", "describe-db-instances"}, "rds:DescribeDBInstances", "DBInstances[].DBInstanceIdentifier",
			[]string{"orders-pg", "prod-aurora-instance-1", "prod-aurora-instance-2", "docs-instance-1"}},
		{[]string{"rds", "describe-db-clusters"}, "", "DBClusters[].ReaderEndpoint",
			[]string{w.aurora.Reader().Host, w.docdb.Reader().Host}},
		{[]string{"rds", "describe-db-cluster-endpoints"}, "rds:DescribeDBClusterEndpoints", "DBClusterEndpoints[].EndpointType",
			[]string{"WRITER", "READER", "CUSTOM", "WRITER", "READER"}},
		{[]string{"rds", "describe-db-proxies"}, "", "DBProxies[].Endpoint", []string{w.proxy.Endpoint().Host}},
		{[]string{"rds", "describe-db-proxy-endpoints"}, "", "DBProxyEndpoints[].Endpoint",
			[]string{w.proxy.Endpoint().Host, w.proxy.EndpointAddr("orders-ro").Host}},
		{[]string{"rds", "describe-db-subnet-groups"}, "rds:DescribeDBSubnetGroups", "DBSubnetGroups[].VpcId",
			[]string{w.vpc.ID(), w.vpc.ID(), w.vpc.ID()}},
		{[]string{"redshift", "describe-clusters"}, "", "Clusters[].Endpoint.Address", []string{w.rs.Endpoint().Host}},
		{[]string{"redshift", "describe-cluster-subnet-groups"}, "", "ClusterSubnetGroups[].Subnets[].SubnetIdentifier", []string{w.priv.ID()}},
		{[]string{"redshift-serverless", "list-workgroups"}, "redshift-serverless:ListWorkgroups", "workgroups[].workgroupName",
			[]string{"analytics", "scratch", "etl"}},
		{[]string{"redshift-serverless", "get-workgroup", "--workgroup-name", "analytics"}, "", "workgroup.endpoint.address",
			[]string{w.wg.Endpoint().Host}},
		{[]string{"redshift-serverless", "list-endpoint-access"}, "", "endpoints[].vpcEndpoint.vpcId", []string{w.other.ID()}},
		{[]string{"ssm", "describe-instance-information"}, "ssm:DescribeInstanceInformation", "InstanceInformationList[].PingStatus",
			[]string{"Online", "ConnectionLost", "ConnectionLost"}},
		{[]string{"sts", "get-caller-identity"}, "", "Account", []string{acctProd}},
	} {
		t.Run(strings.Join(tc.args[:2], "_"), func(t *testing.T) {
			t.Parallel()
			out, errOut, err := runCLI(t, bin, w.f.URL, env, tc.args...)
			if err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(tc.args, " "), err, errOut)
			}
			var v any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("aws %s: %v\n%s", strings.Join(tc.args, " "), err, out)
			}
			sortedEq(t, tc.path, pluck(v, tc.path), tc.want)
			if len(pluck(v, "NextToken"))+len(pluck(v, "Marker"))+len(pluck(v, "nextToken")) != 0 {
				t.Errorf("the CLI did not page to the end: %s", out)
			}
			if tc.op != "" && w.f.Calls(tc.op) < 2 {
				t.Errorf("%s: %d calls; the CLI should have followed the token", tc.op, w.f.Calls(tc.op))
			}
		})
	}

	for _, tc := range []struct {
		key  string
		args []string
		want string
	}{
		{"AKIDDENIED", []string{"ec2", "describe-vpc-endpoints"}, "(UnauthorizedOperation)"},
		{"AKIDDENIED", []string{"rds", "describe-db-clusters"}, "(AccessDenied)"},
		{"AKIDDENIED", []string{"ssm", "describe-instance-information"}, "(AccessDeniedException)"},
		{"AKIDEXPIRED", []string{"sts", "get-caller-identity"}, "(ExpiredToken)"},
		{"AKIDEXPIRED", []string{"redshift-serverless", "list-workgroups"}, "(ExpiredTokenException)"},
		{"AKIDNOBODY", []string{"redshift", "describe-clusters"}, "(InvalidClientTokenId)"},
	} {
		t.Run("fault_"+tc.key+"_"+tc.args[0], func(t *testing.T) {
			t.Parallel()
			_, errOut, err := runCLI(t, bin, w.f.URL, cliEnv(t, tc.key), tc.args...)
			if err == nil || !strings.Contains(errOut, tc.want) {
				t.Errorf("aws %s as %s: %v, stderr %q; want %s", strings.Join(tc.args, " "), tc.key, err, errOut, tc.want)
			}
		})
	}
}
