package awssource

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

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

// IAM actions, named as a policy names them; also the operation in error
// messages.
const (
	opCallerIdentity   = "sts:GetCallerIdentity"
	opInstances        = "ec2:DescribeInstances"
	opSecurityGroups   = "ec2:DescribeSecurityGroups"
	opSubnets          = "ec2:DescribeSubnets"
	opRouteTables      = "ec2:DescribeRouteTables"
	opVPCEndpoints     = "ec2:DescribeVpcEndpoints"
	opDBInstances      = "rds:DescribeDBInstances"
	opDBClusters       = "rds:DescribeDBClusters"
	opClusterEndpoints = "rds:DescribeDBClusterEndpoints"
	opDBProxies        = "rds:DescribeDBProxies"
	opProxyEndpoints   = "rds:DescribeDBProxyEndpoints"
	opDBSubnetGroups   = "rds:DescribeDBSubnetGroups"
	opRSClusters       = "redshift:DescribeClusters"
	opRSSubnetGroups   = "redshift:DescribeClusterSubnetGroups"
	opWorkgroups       = "redshift-serverless:ListWorkgroups"
	opEndpointAccess   = "redshift-serverless:ListEndpointAccess"
	opNamespaces       = "redshift-serverless:ListNamespaces"
	opInstanceInfo     = "ssm:DescribeInstanceInformation"
	maxPages           = 10000
	ssmPageSize        = 50
)

// raw is what the API calls returned, before mapping.
type raw struct {
	account          string
	instances        []ec2types.Instance
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

	// failed holds the operations that did not complete; their fields
	// above may hold the pages read before the failure.
	failed   map[string]bool
	warnings []string
}

// task is one paginated API call.
type task struct {
	op string
	// impact says what the inventory lacks when the call fails.
	impact string
	run    func(ctx context.Context) error
}

type runner struct {
	clients     *Clients
	concurrency int
	log         *slog.Logger
	profile     string
	region      string
	usesSSO     bool
}

// pager is what every SDK paginator offers; O is its page type and Opt
// its service's options.
type pager[O, Opt any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*Opt)) (O, error)
}

// drain reads every page of p into add, and stops a pagination that never
// ends (a token cycle) after maxPages.
func drain[O, Opt any](ctx context.Context, p pager[O, Opt], add func(O)) error {
	for n := 0; p.HasMorePages(); n++ {
		if n == maxPages {
			return fmt.Errorf("more than %d pages: pagination does not end", maxPages)
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		add(page)
	}
	return nil
}

func (r *runner) tasks(out *raw) []task {
	c := r.clients
	return []task{
		{opCallerIdentity, "the account id is unknown", func(ctx context.Context) error {
			id, err := c.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if err != nil {
				return err
			}
			out.account = aws.ToString(id.Account)
			return nil
		}},
		{opInstances, "no bastions are listed", func(ctx context.Context) error {
			in := &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{
				// Stopped ones too: a stopped instance tagged as the
				// bastion is reported as stopped rather than missing.
				Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"},
			}}}
			return drain(ctx, ec2.NewDescribeInstancesPaginator(c.EC2, in, func(o *ec2.DescribeInstancesPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *ec2.DescribeInstancesOutput) {
				for _, res := range page.Reservations {
					out.instances = append(out.instances, res.Instances...)
				}
			})
		}},
		{opSecurityGroups, "security group checks will be unknown", func(ctx context.Context) error {
			return drain(ctx, ec2.NewDescribeSecurityGroupsPaginator(c.EC2, &ec2.DescribeSecurityGroupsInput{}, func(o *ec2.DescribeSecurityGroupsPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *ec2.DescribeSecurityGroupsOutput) {
				out.securityGroups = append(out.securityGroups, page.SecurityGroups...)
			})
		}},
		{opSubnets, "subnet checks will be unknown", func(ctx context.Context) error {
			return drain(ctx, ec2.NewDescribeSubnetsPaginator(c.EC2, &ec2.DescribeSubnetsInput{}, func(o *ec2.DescribeSubnetsPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *ec2.DescribeSubnetsOutput) {
				out.subnets = append(out.subnets, page.Subnets...)
			})
		}},
		{opRouteTables, "route checks will be unknown", func(ctx context.Context) error {
			return drain(ctx, ec2.NewDescribeRouteTablesPaginator(c.EC2, &ec2.DescribeRouteTablesInput{}, func(o *ec2.DescribeRouteTablesPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *ec2.DescribeRouteTablesOutput) {
				out.routeTables = append(out.routeTables, page.RouteTables...)
			})
		}},
		{opVPCEndpoints, "VPC endpoint checks will be unknown and resource endpoints are not listed", func(ctx context.Context) error {
			return drain(ctx, ec2.NewDescribeVpcEndpointsPaginator(c.EC2, &ec2.DescribeVpcEndpointsInput{}, func(o *ec2.DescribeVpcEndpointsPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *ec2.DescribeVpcEndpointsOutput) {
				out.vpcEndpoints = append(out.vpcEndpoints, page.VpcEndpoints...)
			})
		}},
		{opDBInstances, "RDS instances are not listed", func(ctx context.Context) error {
			return drain(ctx, rds.NewDescribeDBInstancesPaginator(c.RDS, &rds.DescribeDBInstancesInput{}, func(o *rds.DescribeDBInstancesPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *rds.DescribeDBInstancesOutput) {
				out.dbInstances = append(out.dbInstances, page.DBInstances...)
			})
		}},
		{opDBClusters, "Aurora, DocumentDB and Neptune clusters are not listed", func(ctx context.Context) error {
			return drain(ctx, rds.NewDescribeDBClustersPaginator(c.RDS, &rds.DescribeDBClustersInput{}, func(o *rds.DescribeDBClustersPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *rds.DescribeDBClustersOutput) {
				out.dbClusters = append(out.dbClusters, page.DBClusters...)
			})
		}},
		{opClusterEndpoints, "custom cluster endpoints are not listed", func(ctx context.Context) error {
			return drain(ctx, rds.NewDescribeDBClusterEndpointsPaginator(c.RDS, &rds.DescribeDBClusterEndpointsInput{}, func(o *rds.DescribeDBClusterEndpointsPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *rds.DescribeDBClusterEndpointsOutput) {
				out.clusterEndpoints = append(out.clusterEndpoints, page.DBClusterEndpoints...)
			})
		}},
		{opDBProxies, "RDS proxies are not listed", func(ctx context.Context) error {
			return drain(ctx, rds.NewDescribeDBProxiesPaginator(c.RDS, &rds.DescribeDBProxiesInput{}, func(o *rds.DescribeDBProxiesPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *rds.DescribeDBProxiesOutput) {
				out.proxies = append(out.proxies, page.DBProxies...)
			})
		}},
		{opProxyEndpoints, "additional RDS proxy endpoints are not listed", func(ctx context.Context) error {
			return drain(ctx, rds.NewDescribeDBProxyEndpointsPaginator(c.RDS, &rds.DescribeDBProxyEndpointsInput{}, func(o *rds.DescribeDBProxyEndpointsPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *rds.DescribeDBProxyEndpointsOutput) {
				out.proxyEndpoints = append(out.proxyEndpoints, page.DBProxyEndpoints...)
			})
		}},
		{opDBSubnetGroups, "the subnets of clusters without a listed instance are unknown", func(ctx context.Context) error {
			return drain(ctx, rds.NewDescribeDBSubnetGroupsPaginator(c.RDS, &rds.DescribeDBSubnetGroupsInput{}, func(o *rds.DescribeDBSubnetGroupsPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *rds.DescribeDBSubnetGroupsOutput) {
				out.dbSubnetGroups = append(out.dbSubnetGroups, page.DBSubnetGroups...)
			})
		}},
		{opRSClusters, "Redshift clusters are not listed", func(ctx context.Context) error {
			return drain(ctx, redshift.NewDescribeClustersPaginator(c.Redshift, &redshift.DescribeClustersInput{}, func(o *redshift.DescribeClustersPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *redshift.DescribeClustersOutput) {
				out.rsClusters = append(out.rsClusters, page.Clusters...)
			})
		}},
		{opRSSubnetGroups, "the subnets of Redshift clusters are unknown", func(ctx context.Context) error {
			return drain(ctx, redshift.NewDescribeClusterSubnetGroupsPaginator(c.Redshift, &redshift.DescribeClusterSubnetGroupsInput{}, func(o *redshift.DescribeClusterSubnetGroupsPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *redshift.DescribeClusterSubnetGroupsOutput) {
				out.rsSubnetGroups = append(out.rsSubnetGroups, page.ClusterSubnetGroups...)
			})
		}},
		{opWorkgroups, "Redshift Serverless workgroups are not listed", func(ctx context.Context) error {
			return drain(ctx, redshiftserverless.NewListWorkgroupsPaginator(c.Serverless, &redshiftserverless.ListWorkgroupsInput{}, func(o *redshiftserverless.ListWorkgroupsPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *redshiftserverless.ListWorkgroupsOutput) {
				out.workgroups = append(out.workgroups, page.Workgroups...)
			})
		}},
		{opEndpointAccess, "Redshift Serverless managed VPC endpoints are not listed", func(ctx context.Context) error {
			return drain(ctx, redshiftserverless.NewListEndpointAccessPaginator(c.Serverless, &redshiftserverless.ListEndpointAccessInput{}, func(o *redshiftserverless.ListEndpointAccessPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *redshiftserverless.ListEndpointAccessOutput) {
				out.endpointAccess = append(out.endpointAccess, page.Endpoints...)
			})
		}},
		{opNamespaces, "Redshift Serverless admin secrets are unknown", func(ctx context.Context) error {
			return drain(ctx, redshiftserverless.NewListNamespacesPaginator(c.Serverless, &redshiftserverless.ListNamespacesInput{}, func(o *redshiftserverless.ListNamespacesPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *redshiftserverless.ListNamespacesOutput) {
				out.namespaces = append(out.namespaces, page.Namespaces...)
			})
		}},
		{opInstanceInfo, "SSM agent status is unknown", func(ctx context.Context) error {
			in := &ssm.DescribeInstanceInformationInput{MaxResults: aws.Int32(ssmPageSize)}
			return drain(ctx, ssm.NewDescribeInstanceInformationPaginator(c.SSM, in, func(o *ssm.DescribeInstanceInformationPaginatorOptions) { o.StopOnDuplicateToken = true }), func(page *ssm.DescribeInstanceInformationOutput) {
				out.instanceInfo = append(out.instanceInfo, page.InstanceInformationList...)
			})
		}},
	}
}

// fetch runs every call of the scope, at most r.concurrency at a time, and
// collects what they return. A call that fails leaves a warning; failing
// credentials stop everything and are the error.
func (r *runner) fetch(parent context.Context) (*raw, error) {
	out := &raw{failed: map[string]bool{}}
	tasks := r.tasks(out)
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	errs := make([]error, len(tasks))
	fatal := make([]error, len(tasks))
	sem := make(chan struct{}, r.concurrency)
	var wg sync.WaitGroup
	for i, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			start := time.Now()
			err := t.run(ctx)
			r.log.Debug("aws call", "op", t.op, "took", time.Since(start), "err", err)
			if err == nil {
				return
			}
			errs[i] = err
			if f := apiFailure(err, r.profile, r.region, r.usesSSO); f != nil {
				fatal[i] = f
				cancel()
			}
		}()
	}
	wg.Wait()

	if err := parent.Err(); err != nil {
		return nil, err
	}
	for i, f := range fatal {
		if f != nil {
			return nil, fmt.Errorf("%s: %w", tasks[i].op, f)
		}
	}
	succeeded := 0
	var first error
	seen := map[string]bool{}
	for i, t := range tasks {
		err := errs[i]
		if err == nil {
			if t.op != opCallerIdentity {
				succeeded++
			}
			continue
		}
		out.failed[t.op] = true
		if first == nil {
			first = fmt.Errorf("%s: %w", t.op, err)
		}
		w, key := warning(t, err, r.region)
		if !seen[key] {
			seen[key] = true
			out.warnings = append(out.warnings, w)
		}
	}
	if succeeded == 0 && first != nil {
		return nil, fmt.Errorf("every discovery call failed, first %w", first)
	}
	return out, nil
}

// warning says in one line what failed and what the inventory lacks; key
// folds the warnings that say the same thing (a service missing from the
// region is said once).
func warning(t task, err error, region string) (msg, key string) {
	switch {
	case isAccessDenied(err):
		msg = fmt.Sprintf("missing permission %s: %s", t.op, t.impact)
	case isUnavailable(err):
		service, _, _ := strings.Cut(t.op, ":")
		return fmt.Sprintf("%s is not available in %s: %s", service, region, t.impact), "unavailable " + service
	default:
		msg = fmt.Sprintf("%s failed: %s: %s", t.op, t.impact, shortError(err))
	}
	return msg, msg
}

// shortError keeps the informative tail of an SDK error ("api error
// Code: message") rather than its request metadata.
func shortError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "api error "); i >= 0 {
		return msg[i+len("api error "):]
	}
	return msg
}
