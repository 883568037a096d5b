package awssource

import (
	"context"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
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
)

// fakeAWS is an in-memory stand-in for every client behind the narrow
// interfaces: it pages its data pageSize items at a time and fails the
// operations listed in errs.
type fakeAWS struct {
	account string

	reservations     []ec2types.Reservation
	securityGroups   []ec2types.SecurityGroup
	subnets          []ec2types.Subnet
	routeTables      []ec2types.RouteTable
	vpcEndpoints     []ec2types.VpcEndpoint
	dbInstances      []rdstypes.DBInstance
	dbClusters       []rdstypes.DBCluster
	clusterEndpoints []rdstypes.DBClusterEndpoint
	proxies          []rdstypes.DBProxy
	proxyEndpoints   []rdstypes.DBProxyEndpoint
	dbSubnetGroups   []rdstypes.DBSubnetGroup
	rsClusters       []rstypes.Cluster
	rsSubnetGroups   []rstypes.ClusterSubnetGroup
	workgroups       []rsstypes.Workgroup
	endpointAccess   []rsstypes.EndpointAccess
	namespaces       []rsstypes.Namespace
	instanceInfo     []ssmtypes.InstanceInformation

	pageSize int              // 0: everything in one page
	errs     map[string]error // by op, e.g. "ec2:DescribeVpcEndpoints"
	// hook runs at the start of every call (concurrency probes).
	hook func(op string)

	mu    sync.Mutex
	calls map[string]int
	seen  map[string][]string // tokens received, by op
}

func (f *fakeAWS) clients() *Clients {
	return &Clients{EC2: f, RDS: f, Redshift: f, Serverless: f, SSM: f, STS: f}
}

func (f *fakeAWS) begin(op string, token *string) error {
	if f.hook != nil {
		f.hook(op)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
		f.seen = map[string][]string{}
	}
	f.calls[op]++
	f.seen[op] = append(f.seen[op], aws.ToString(token))
	return f.errs[op]
}

func (f *fakeAWS) callCount(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// page returns the page of items that starts at token, and the next token.
func page[T any](items []T, token *string, size int) ([]T, *string) {
	start := 0
	if token != nil && *token != "" {
		start, _ = strconv.Atoi(*token)
	}
	if size <= 0 || start+size >= len(items) {
		if start > len(items) {
			start = len(items)
		}
		return items[start:], nil
	}
	return items[start : start+size], aws.String(strconv.Itoa(start + size))
}

func (f *fakeAWS) GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	if err := f.begin(opCallerIdentity, nil); err != nil {
		return nil, err
	}
	return &sts.GetCallerIdentityOutput{Account: aws.String(f.account)}, nil
}

func (f *fakeAWS) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	if err := f.begin(opInstances, in.NextToken); err != nil {
		return nil, err
	}
	// Apply the state filter as EC2 would.
	states := map[string]bool{}
	for _, flt := range in.Filters {
		if aws.ToString(flt.Name) == "instance-state-name" {
			for _, v := range flt.Values {
				states[v] = true
			}
		}
	}
	var res []ec2types.Reservation
	for _, r := range f.reservations {
		var keep []ec2types.Instance
		for _, i := range r.Instances {
			if len(states) == 0 || i.State == nil || states[string(i.State.Name)] {
				keep = append(keep, i)
			}
		}
		if len(keep) > 0 {
			r.Instances = keep
			res = append(res, r)
		}
	}
	items, next := page(res, in.NextToken, f.pageSize)
	return &ec2.DescribeInstancesOutput{Reservations: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	if err := f.begin(opSecurityGroups, in.NextToken); err != nil {
		return nil, err
	}
	items, next := page(f.securityGroups, in.NextToken, f.pageSize)
	return &ec2.DescribeSecurityGroupsOutput{SecurityGroups: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	if err := f.begin(opSubnets, in.NextToken); err != nil {
		return nil, err
	}
	items, next := page(f.subnets, in.NextToken, f.pageSize)
	return &ec2.DescribeSubnetsOutput{Subnets: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeRouteTables(ctx context.Context, in *ec2.DescribeRouteTablesInput, _ ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error) {
	if err := f.begin(opRouteTables, in.NextToken); err != nil {
		return nil, err
	}
	items, next := page(f.routeTables, in.NextToken, f.pageSize)
	return &ec2.DescribeRouteTablesOutput{RouteTables: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeVpcEndpoints(ctx context.Context, in *ec2.DescribeVpcEndpointsInput, _ ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error) {
	if err := f.begin(opVPCEndpoints, in.NextToken); err != nil {
		return nil, err
	}
	items, next := page(f.vpcEndpoints, in.NextToken, f.pageSize)
	return &ec2.DescribeVpcEndpointsOutput{VpcEndpoints: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, _ ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	if err := f.begin(opDBInstances, in.Marker); err != nil {
		return nil, err
	}
	items, next := page(f.dbInstances, in.Marker, f.pageSize)
	return &rds.DescribeDBInstancesOutput{DBInstances: items, Marker: next}, nil
}

func (f *fakeAWS) DescribeDBClusters(ctx context.Context, in *rds.DescribeDBClustersInput, _ ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error) {
	if err := f.begin(opDBClusters, in.Marker); err != nil {
		return nil, err
	}
	items, next := page(f.dbClusters, in.Marker, f.pageSize)
	return &rds.DescribeDBClustersOutput{DBClusters: items, Marker: next}, nil
}

func (f *fakeAWS) DescribeDBClusterEndpoints(ctx context.Context, in *rds.DescribeDBClusterEndpointsInput, _ ...func(*rds.Options)) (*rds.DescribeDBClusterEndpointsOutput, error) {
	if err := f.begin(opClusterEndpoints, in.Marker); err != nil {
		return nil, err
	}
	items, next := page(f.clusterEndpoints, in.Marker, f.pageSize)
	return &rds.DescribeDBClusterEndpointsOutput{DBClusterEndpoints: items, Marker: next}, nil
}

func (f *fakeAWS) DescribeDBProxies(ctx context.Context, in *rds.DescribeDBProxiesInput, _ ...func(*rds.Options)) (*rds.DescribeDBProxiesOutput, error) {
	if err := f.begin(opDBProxies, in.Marker); err != nil {
		return nil, err
	}
	items, next := page(f.proxies, in.Marker, f.pageSize)
	return &rds.DescribeDBProxiesOutput{DBProxies: items, Marker: next}, nil
}

func (f *fakeAWS) DescribeDBProxyEndpoints(ctx context.Context, in *rds.DescribeDBProxyEndpointsInput, _ ...func(*rds.Options)) (*rds.DescribeDBProxyEndpointsOutput, error) {
	if err := f.begin(opProxyEndpoints, in.Marker); err != nil {
		return nil, err
	}
	items, next := page(f.proxyEndpoints, in.Marker, f.pageSize)
	return &rds.DescribeDBProxyEndpointsOutput{DBProxyEndpoints: items, Marker: next}, nil
}

func (f *fakeAWS) DescribeDBSubnetGroups(ctx context.Context, in *rds.DescribeDBSubnetGroupsInput, _ ...func(*rds.Options)) (*rds.DescribeDBSubnetGroupsOutput, error) {
	if err := f.begin(opDBSubnetGroups, in.Marker); err != nil {
		return nil, err
	}
	items, next := page(f.dbSubnetGroups, in.Marker, f.pageSize)
	return &rds.DescribeDBSubnetGroupsOutput{DBSubnetGroups: items, Marker: next}, nil
}

func (f *fakeAWS) DescribeClusters(ctx context.Context, in *redshift.DescribeClustersInput, _ ...func(*redshift.Options)) (*redshift.DescribeClustersOutput, error) {
	if err := f.begin(opRSClusters, in.Marker); err != nil {
		return nil, err
	}
	items, next := page(f.rsClusters, in.Marker, f.pageSize)
	return &redshift.DescribeClustersOutput{Clusters: items, Marker: next}, nil
}

func (f *fakeAWS) DescribeClusterSubnetGroups(ctx context.Context, in *redshift.DescribeClusterSubnetGroupsInput, _ ...func(*redshift.Options)) (*redshift.DescribeClusterSubnetGroupsOutput, error) {
	if err := f.begin(opRSSubnetGroups, in.Marker); err != nil {
		return nil, err
	}
	items, next := page(f.rsSubnetGroups, in.Marker, f.pageSize)
	return &redshift.DescribeClusterSubnetGroupsOutput{ClusterSubnetGroups: items, Marker: next}, nil
}

func (f *fakeAWS) ListWorkgroups(ctx context.Context, in *redshiftserverless.ListWorkgroupsInput, _ ...func(*redshiftserverless.Options)) (*redshiftserverless.ListWorkgroupsOutput, error) {
	if err := f.begin(opWorkgroups, in.NextToken); err != nil {
		return nil, err
	}
	items, next := page(f.workgroups, in.NextToken, f.pageSize)
	return &redshiftserverless.ListWorkgroupsOutput{Workgroups: items, NextToken: next}, nil
}

func (f *fakeAWS) ListEndpointAccess(ctx context.Context, in *redshiftserverless.ListEndpointAccessInput, _ ...func(*redshiftserverless.Options)) (*redshiftserverless.ListEndpointAccessOutput, error) {
	if err := f.begin(opEndpointAccess, in.NextToken); err != nil {
		return nil, err
	}
	items, next := page(f.endpointAccess, in.NextToken, f.pageSize)
	return &redshiftserverless.ListEndpointAccessOutput{Endpoints: items, NextToken: next}, nil
}

func (f *fakeAWS) ListNamespaces(ctx context.Context, in *redshiftserverless.ListNamespacesInput, _ ...func(*redshiftserverless.Options)) (*redshiftserverless.ListNamespacesOutput, error) {
	if err := f.begin(opNamespaces, in.NextToken); err != nil {
		return nil, err
	}
	items, next := page(f.namespaces, in.NextToken, f.pageSize)
	return &redshiftserverless.ListNamespacesOutput{Namespaces: items, NextToken: next}, nil
}

func (f *fakeAWS) DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, _ ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error) {
	if err := f.begin(opInstanceInfo, in.NextToken); err != nil {
		return nil, err
	}
	items, next := page(f.instanceInfo, in.NextToken, f.pageSize)
	return &ssm.DescribeInstanceInformationOutput{InstanceInformationList: items, NextToken: next}, nil
}
