package awssource

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/redshift"
	"github.com/aws/aws-sdk-go-v2/service/redshiftserverless"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The narrow interfaces below list only the calls discovery makes, so
// tests can stand in-memory fakes for the SDK clients. The SDK clients
// satisfy them as they are.

// EC2API is the part of the EC2 client discovery uses.
type EC2API interface {
	DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeRouteTables(ctx context.Context, in *ec2.DescribeRouteTablesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeRouteTablesOutput, error)
	DescribeVpcEndpoints(ctx context.Context, in *ec2.DescribeVpcEndpointsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error)
}

// RDSAPI is the part of the RDS client discovery uses (RDS, Aurora,
// DocumentDB and Neptune share it).
type RDSAPI interface {
	DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, optFns ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBClusters(ctx context.Context, in *rds.DescribeDBClustersInput, optFns ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	DescribeDBClusterEndpoints(ctx context.Context, in *rds.DescribeDBClusterEndpointsInput, optFns ...func(*rds.Options)) (*rds.DescribeDBClusterEndpointsOutput, error)
	DescribeDBProxies(ctx context.Context, in *rds.DescribeDBProxiesInput, optFns ...func(*rds.Options)) (*rds.DescribeDBProxiesOutput, error)
	DescribeDBProxyEndpoints(ctx context.Context, in *rds.DescribeDBProxyEndpointsInput, optFns ...func(*rds.Options)) (*rds.DescribeDBProxyEndpointsOutput, error)
	DescribeDBSubnetGroups(ctx context.Context, in *rds.DescribeDBSubnetGroupsInput, optFns ...func(*rds.Options)) (*rds.DescribeDBSubnetGroupsOutput, error)
}

// RedshiftAPI is the part of the Redshift client discovery uses.
type RedshiftAPI interface {
	DescribeClusters(ctx context.Context, in *redshift.DescribeClustersInput, optFns ...func(*redshift.Options)) (*redshift.DescribeClustersOutput, error)
	DescribeClusterSubnetGroups(ctx context.Context, in *redshift.DescribeClusterSubnetGroupsInput, optFns ...func(*redshift.Options)) (*redshift.DescribeClusterSubnetGroupsOutput, error)
}

// ServerlessAPI is the part of the Redshift Serverless client discovery uses.
type ServerlessAPI interface {
	ListWorkgroups(ctx context.Context, in *redshiftserverless.ListWorkgroupsInput, optFns ...func(*redshiftserverless.Options)) (*redshiftserverless.ListWorkgroupsOutput, error)
	ListEndpointAccess(ctx context.Context, in *redshiftserverless.ListEndpointAccessInput, optFns ...func(*redshiftserverless.Options)) (*redshiftserverless.ListEndpointAccessOutput, error)
	ListNamespaces(ctx context.Context, in *redshiftserverless.ListNamespacesInput, optFns ...func(*redshiftserverless.Options)) (*redshiftserverless.ListNamespacesOutput, error)
}

// SSMAPI is the part of the Systems Manager client discovery uses.
type SSMAPI interface {
	DescribeInstanceInformation(ctx context.Context, in *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
}

// STSAPI is the part of the STS client discovery uses.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, optFns ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Clients are the service clients of one scope.
type Clients struct {
	EC2        EC2API
	RDS        RDSAPI
	Redshift   RedshiftAPI
	Serverless ServerlessAPI
	SSM        SSMAPI
	STS        STSAPI
}

// NewClients builds the SDK clients from a resolved configuration;
// endpoint overrides (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>,
// endpoint_url in the profile) are already part of cfg.
func NewClients(cfg aws.Config) *Clients {
	return &Clients{
		EC2:        ec2.NewFromConfig(cfg),
		RDS:        rds.NewFromConfig(cfg),
		Redshift:   redshift.NewFromConfig(cfg),
		Serverless: redshiftserverless.NewFromConfig(cfg),
		SSM:        ssm.NewFromConfig(cfg),
		STS:        sts.NewFromConfig(cfg),
	}
}
