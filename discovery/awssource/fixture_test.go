package awssource

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	rstypes "github.com/aws/aws-sdk-go-v2/service/redshift/types"
	rsstypes "github.com/aws/aws-sdk-go-v2/service/redshiftserverless/types"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

const testAccount = "123456789012"

func s(v string) *string { return aws.String(v) }
func i32(v int32) *int32 { return aws.Int32(v) }

func ec2Tag(k, v string) ec2types.Tag { return ec2types.Tag{Key: s(k), Value: s(v)} }

func instance(id, state, subnet, vpc, ip string, groups []string, tags ...ec2types.Tag) ec2types.Instance {
	in := ec2types.Instance{
		InstanceId:       s(id),
		State:            &ec2types.InstanceState{Name: ec2types.InstanceStateName(state)},
		SubnetId:         s(subnet),
		VpcId:            s(vpc),
		PrivateIpAddress: s(ip),
		PlatformDetails:  s("Linux/UNIX"),
		Tags:             tags,
	}
	for _, g := range groups {
		in.SecurityGroups = append(in.SecurityGroups, ec2types.GroupIdentifier{GroupId: s(g)})
	}
	return in
}

func rdsSubnetGroup(name, vpc string, subnets ...string) *rdstypes.DBSubnetGroup {
	g := &rdstypes.DBSubnetGroup{DBSubnetGroupName: s(name), VpcId: s(vpc)}
	for _, id := range subnets {
		g.Subnets = append(g.Subnets, rdstypes.Subnet{SubnetIdentifier: s(id)})
	}
	return g
}

func rdsGroups(ids ...string) []rdstypes.VpcSecurityGroupMembership {
	var out []rdstypes.VpcSecurityGroupMembership
	for _, id := range ids {
		out = append(out, rdstypes.VpcSecurityGroupMembership{VpcSecurityGroupId: s(id), Status: s("active")})
	}
	return out
}

// fixture is one region holding one of every kind:
//
//	vpc-a 10.0.0.0/16: subnet-pub (igw), subnet-priv1/2 (nat); bastions,
//	    databases, an SSM interface endpoint, a resource endpoint
//	vpc-b 10.1.0.0/16: subnet-b1; a Redshift managed endpoint and an RDS
//	    proxy endpoint of databases that live in vpc-a
func fixture() *fakeAWS {
	auroraGroup := rdsSubnetGroup("aurora-subnets", "vpc-a", "subnet-priv1", "subnet-priv2")
	docsGroup := rdsSubnetGroup("docs-subnets", "vpc-a", "subnet-priv2")
	return &fakeAWS{
		account: testAccount,
		reservations: []ec2types.Reservation{
			{Instances: []ec2types.Instance{
				func() ec2types.Instance {
					in := instance("i-pub", "running", "subnet-pub", "vpc-a", "10.0.1.10", []string{"sg-bastion"}, ec2Tag("Name", "bastion-public"))
					in.PublicIpAddress = s("198.51.100.10")
					in.KeyName = s("ops")
					return in
				}(),
				func() ec2types.Instance {
					in := instance("i-priv", "running", "subnet-priv1", "vpc-a", "10.0.2.10", []string{"sg-bastion"},
						ec2Tag("Name", "bastion-private"), ec2Tag(PreferredTag, "true"))
					in.IamInstanceProfile = &ec2types.IamInstanceProfile{Arn: s("arn:aws:iam::123456789012:instance-profile/ssm")}
					return in
				}(),
			}},
			{Instances: []ec2types.Instance{
				instance("i-stopped", "stopped", "subnet-priv1", "vpc-a", "10.0.2.11", []string{"sg-bastion"}, ec2Tag("Name", "old")),
				instance("i-stopped-bastion", "stopped", "subnet-priv1", "vpc-a", "10.0.2.12", []string{"sg-bastion"}, ec2Tag(PreferredTag, "")),
				instance("i-terminated", "terminated", "subnet-priv1", "vpc-a", "10.0.2.13", nil),
				instance("i-not-a-bastion", "running", "subnet-priv2", "vpc-a", "10.0.3.10", nil, ec2Tag(PreferredTag, "false")),
			}},
		},
		instanceInfo: []ssmtypes.InstanceInformation{
			{InstanceId: s("i-priv"), PingStatus: ssmtypes.PingStatusOnline, AgentVersion: s("3.3.1142.0"), PlatformType: ssmtypes.PlatformTypeLinux},
			{InstanceId: s("mi-0hybrid"), PingStatus: ssmtypes.PingStatusOnline},
		},
		securityGroups: []ec2types.SecurityGroup{
			{GroupId: s("sg-bastion"), GroupName: s("bastion"), VpcId: s("vpc-a"),
				IpPermissions:       []ec2types.IpPermission{{IpProtocol: s("tcp"), FromPort: i32(22), ToPort: i32(22), IpRanges: []ec2types.IpRange{{CidrIp: s("203.0.113.0/24")}}}},
				IpPermissionsEgress: []ec2types.IpPermission{{IpProtocol: s("-1"), IpRanges: []ec2types.IpRange{{CidrIp: s("0.0.0.0/0")}}, Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: s("::/0")}}}},
			},
			{GroupId: s("sg-db"), GroupName: s("db"), VpcId: s("vpc-a"),
				IpPermissions: []ec2types.IpPermission{
					{IpProtocol: s("6"), FromPort: i32(5432), ToPort: i32(5432), UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: s("sg-bastion")}}},
					{IpProtocol: s("tcp"), FromPort: i32(3306), ToPort: i32(3306), PrefixListIds: []ec2types.PrefixListId{{PrefixListId: s("pl-123")}}},
				},
			},
			{GroupId: s("sg-rs-ep"), GroupName: s("rs-endpoint"), VpcId: s("vpc-b")},
		},
		subnets: []ec2types.Subnet{
			{SubnetId: s("subnet-pub"), VpcId: s("vpc-a"), CidrBlock: s("10.0.1.0/24"), AvailabilityZone: s("ap-northeast-1a")},
			{SubnetId: s("subnet-priv1"), VpcId: s("vpc-a"), CidrBlock: s("10.0.2.0/24"), AvailabilityZone: s("ap-northeast-1a")},
			{SubnetId: s("subnet-priv2"), VpcId: s("vpc-a"), CidrBlock: s("10.0.3.0/24"), AvailabilityZone: s("ap-northeast-1c")},
			{SubnetId: s("subnet-b1"), VpcId: s("vpc-b"), CidrBlock: s("10.1.1.0/24"), AvailabilityZone: s("ap-northeast-1a")},
		},
		routeTables: []ec2types.RouteTable{
			{RouteTableId: s("rtb-pub"), VpcId: s("vpc-a"),
				Associations: []ec2types.RouteTableAssociation{
					{SubnetId: s("subnet-pub"), AssociationState: &ec2types.RouteTableAssociationState{State: ec2types.RouteTableAssociationStateCodeAssociated}},
					{SubnetId: s("subnet-priv2"), AssociationState: &ec2types.RouteTableAssociationState{State: ec2types.RouteTableAssociationStateCodeDisassociated}},
				},
				Routes: []ec2types.Route{
					{DestinationCidrBlock: s("10.0.0.0/16"), GatewayId: s("local"), State: ec2types.RouteStateActive},
					{DestinationCidrBlock: s("0.0.0.0/0"), GatewayId: s("igw-1"), State: ec2types.RouteStateActive},
					{DestinationIpv6CidrBlock: s("::/0"), EgressOnlyInternetGatewayId: s("eigw-1"), State: ec2types.RouteStateActive},
				},
			},
			{RouteTableId: s("rtb-main"), VpcId: s("vpc-a"),
				Associations: []ec2types.RouteTableAssociation{{Main: aws.Bool(true)}},
				Routes: []ec2types.Route{
					{DestinationCidrBlock: s("10.0.0.0/16"), GatewayId: s("local"), State: ec2types.RouteStateActive},
					{DestinationCidrBlock: s("0.0.0.0/0"), NatGatewayId: s("nat-1"), State: ec2types.RouteStateBlackhole},
					{DestinationPrefixListId: s("pl-s3"), GatewayId: s("vpce-s3"), State: ec2types.RouteStateActive},
					{DestinationCidrBlock: s("10.1.0.0/16"), VpcPeeringConnectionId: s("pcx-1"), State: ec2types.RouteStateActive},
				},
			},
		},
		vpcEndpoints: []ec2types.VpcEndpoint{
			{VpcEndpointId: s("vpce-ssm"), VpcId: s("vpc-a"), VpcEndpointType: ec2types.VpcEndpointTypeInterface,
				ServiceName: s("com.amazonaws.ap-northeast-1.ssm"), SubnetIds: []string{"subnet-priv1"},
				Groups: []ec2types.SecurityGroupIdentifier{{GroupId: s("sg-vpce")}}, PrivateDnsEnabled: aws.Bool(true),
				DnsEntries: []ec2types.DnsEntry{{DnsName: s("vpce-ssm-x.ssm.ap-northeast-1.vpce.amazonaws.com")}},
				State:      ec2types.State("available")},
			{VpcEndpointId: s("vpce-res"), VpcId: s("vpc-a"), VpcEndpointType: ec2types.VpcEndpointTypeResource,
				SubnetIds: []string{"subnet-priv1", "subnet-priv2"}, Groups: []ec2types.SecurityGroupIdentifier{{GroupId: s("sg-res")}},
				ResourceConfigurationArn: s("arn:aws:vpc-lattice:ap-northeast-1:210987654321:resourceconfiguration/rcfg-1"),
				DnsEntries: []ec2types.DnsEntry{
					{DnsName: s("*.vpce-res-snra.rcfg-1.4232ccc.vpc-lattice-rsc.ap-northeast-1.on.aws")},
					{DnsName: s("vpce-res-snra.rcfg-1.4232ccc.vpc-lattice-rsc.ap-northeast-1.on.aws")},
				},
				State: ec2types.State("available"), Tags: []ec2types.Tag{ec2Tag("Name", "partner-db")}},
		},
		dbClusters: []rdstypes.DBCluster{
			{DBClusterIdentifier: s("prod-aurora"), Engine: s("aurora-postgresql"), Port: i32(5432), Status: s("available"),
				Endpoint:                         s("prod-aurora.cluster-abc.ap-northeast-1.rds.amazonaws.com"),
				ReaderEndpoint:                   s("prod-aurora.cluster-ro-abc.ap-northeast-1.rds.amazonaws.com"),
				DBSubnetGroup:                    s("aurora-subnets"),
				VpcSecurityGroups:                rdsGroups("sg-db"),
				IAMDatabaseAuthenticationEnabled: aws.Bool(true),
				MasterUserSecret:                 &rdstypes.MasterUserSecret{SecretArn: s("arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!cluster-1")},
				TagList:                          []rdstypes.Tag{{Key: s("env"), Value: s("prod")}},
				DBClusterMembers:                 []rdstypes.DBClusterMember{{DBInstanceIdentifier: s("prod-aurora-1"), IsClusterWriter: aws.Bool(true)}, {DBInstanceIdentifier: s("prod-aurora-2")}},
			},
			{DBClusterIdentifier: s("docs"), Engine: s("docdb"), Port: i32(27017), Status: s("available"),
				Endpoint:          s("docs.cluster-abc.ap-northeast-1.docdb.amazonaws.com"),
				ReaderEndpoint:    s("docs.cluster-ro-abc.ap-northeast-1.docdb.amazonaws.com"),
				DBSubnetGroup:     s("docs-subnets"), // not in DescribeDBSubnetGroups: taken from the member
				VpcSecurityGroups: rdsGroups("sg-db"),
			},
		},
		clusterEndpoints: []rdstypes.DBClusterEndpoint{
			{DBClusterIdentifier: s("prod-aurora"), DBClusterEndpointIdentifier: s("prod-aurora"), EndpointType: s("WRITER"), Endpoint: s("prod-aurora.cluster-abc.ap-northeast-1.rds.amazonaws.com")},
			{DBClusterIdentifier: s("prod-aurora"), DBClusterEndpointIdentifier: s("reporting"), EndpointType: s("CUSTOM"), CustomEndpointType: s("READER"),
				Endpoint: s("reporting.cluster-custom-abc.ap-northeast-1.rds.amazonaws.com")},
			{DBClusterIdentifier: s("prod-aurora"), DBClusterEndpointIdentifier: s("analytics"), EndpointType: s("CUSTOM"), CustomEndpointType: s("ANY"),
				Endpoint: s("analytics.cluster-custom-abc.ap-northeast-1.rds.amazonaws.com")},
		},
		dbSubnetGroups: []rdstypes.DBSubnetGroup{*auroraGroup},
		dbInstances: []rdstypes.DBInstance{
			{DBInstanceIdentifier: s("prod-aurora-1"), DBClusterIdentifier: s("prod-aurora"), Engine: s("aurora-postgresql"), DBSubnetGroup: auroraGroup,
				Endpoint: &rdstypes.Endpoint{Address: s("prod-aurora-1.abc.ap-northeast-1.rds.amazonaws.com"), Port: i32(5432)}},
			{DBInstanceIdentifier: s("prod-aurora-2"), DBClusterIdentifier: s("prod-aurora"), Engine: s("aurora-postgresql"), DBSubnetGroup: auroraGroup,
				Endpoint: &rdstypes.Endpoint{Address: s("prod-aurora-2.abc.ap-northeast-1.rds.amazonaws.com"), Port: i32(5432)}},
			{DBInstanceIdentifier: s("docs-1"), DBClusterIdentifier: s("docs"), Engine: s("docdb"), DBSubnetGroup: docsGroup,
				Endpoint: &rdstypes.Endpoint{Address: s("docs-1.abc.ap-northeast-1.docdb.amazonaws.com"), Port: i32(27017)}},
			{DBInstanceIdentifier: s("legacy-mysql"), Engine: s("mysql"), DBInstanceStatus: s("available"),
				DBSubnetGroup:                    rdsSubnetGroup("legacy", "vpc-a", "subnet-priv1", "subnet-priv2"),
				VpcSecurityGroups:                rdsGroups("sg-db"),
				Endpoint:                         &rdstypes.Endpoint{Address: s("legacy-mysql.abc.ap-northeast-1.rds.amazonaws.com"), Port: i32(3306)},
				IAMDatabaseAuthenticationEnabled: aws.Bool(true),
				MasterUserSecret:                 &rdstypes.MasterUserSecret{SecretArn: s("arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!db-1")}},
			{DBInstanceIdentifier: s("creating"), Engine: s("postgres"), DBInstanceStatus: s("creating"), DbInstancePort: i32(5432)},
			// A member whose cluster is not listed stays visible as an instance.
			{DBInstanceIdentifier: s("stray-member"), DBClusterIdentifier: s("elsewhere"), Engine: s("aurora-mysql"),
				Endpoint: &rdstypes.Endpoint{Address: s("stray-member.abc.ap-northeast-1.rds.amazonaws.com"), Port: i32(3306)}},
		},
		proxies: []rdstypes.DBProxy{
			{DBProxyName: s("app-proxy"), EngineFamily: s("POSTGRESQL"), Endpoint: s("app-proxy.proxy-abc.ap-northeast-1.rds.amazonaws.com"),
				VpcId: s("vpc-a"), VpcSubnetIds: []string{"subnet-priv1", "subnet-priv2"}, VpcSecurityGroupIds: []string{"sg-proxy"},
				Status: rdstypes.DBProxyStatusAvailable, Auth: []rdstypes.UserAuthConfigInfo{{IAMAuth: rdstypes.IAMAuthModeRequired}}},
		},
		proxyEndpoints: []rdstypes.DBProxyEndpoint{
			{DBProxyName: s("app-proxy"), DBProxyEndpointName: s("default"), IsDefault: aws.Bool(true), Endpoint: s("app-proxy.proxy-abc.ap-northeast-1.rds.amazonaws.com")},
			{DBProxyName: s("app-proxy"), DBProxyEndpointName: s("app-proxy-ro"), Endpoint: s("app-proxy-ro.endpoint.proxy-abc.ap-northeast-1.rds.amazonaws.com"),
				VpcId: s("vpc-b"), VpcSubnetIds: []string{"subnet-b1"}, VpcSecurityGroupIds: []string{"sg-proxy-b"}, TargetRole: rdstypes.DBProxyEndpointTargetRoleReadOnly},
		},
		rsClusters: []rstypes.Cluster{
			{ClusterIdentifier: s("warehouse"), ClusterStatus: s("available"), VpcId: s("vpc-a"), ClusterSubnetGroupName: s("rs-subnets"),
				VpcSecurityGroups:       []rstypes.VpcSecurityGroupMembership{{VpcSecurityGroupId: s("sg-rs")}},
				Endpoint:                &rstypes.Endpoint{Address: s("warehouse.abc.ap-northeast-1.redshift.amazonaws.com"), Port: i32(5439)},
				MasterPasswordSecretArn: s("arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:redshift!warehouse"),
				Tags:                    []rstypes.Tag{{Key: s("team"), Value: s("bi")}}},
		},
		rsSubnetGroups: []rstypes.ClusterSubnetGroup{
			{ClusterSubnetGroupName: s("rs-subnets"), VpcId: s("vpc-a"), Subnets: []rstypes.Subnet{{SubnetIdentifier: s("subnet-priv1")}, {SubnetIdentifier: s("subnet-priv2")}}},
		},
		workgroups: []rsstypes.Workgroup{
			{WorkgroupName: s("analytics-wg"), Status: rsstypes.WorkgroupStatusAvailable, SubnetIds: []string{"subnet-priv1", "subnet-priv2"},
				SecurityGroupIds: []string{"sg-wg"}, Port: i32(5439),
				Endpoint: &rsstypes.Endpoint{Address: s("analytics-wg.123456789012.ap-northeast-1.redshift-serverless.amazonaws.com"), Port: i32(5439),
					VpcEndpoints: []rsstypes.VpcEndpoint{{VpcEndpointId: s("vpce-wg"), VpcId: s("vpc-a")}}}},
		},
		endpointAccess: []rsstypes.EndpointAccess{
			{EndpointName: s("analytics-ep"), WorkgroupName: s("analytics-wg"), EndpointStatus: s("ACTIVE"),
				Address: s("analytics-ep-endpoint-xyz.123456789012.ap-northeast-1.redshift-serverless.amazonaws.com"), Port: i32(5439),
				SubnetIds:         []string{"subnet-b1"},
				VpcSecurityGroups: []rsstypes.VpcSecurityGroupMembership{{VpcSecurityGroupId: s("sg-rs-ep"), Status: s("active")}},
				VpcEndpoint: &rsstypes.VpcEndpoint{VpcEndpointId: s("vpce-rs"), VpcId: s("vpc-b"),
					NetworkInterfaces: []rsstypes.NetworkInterface{{SubnetId: s("subnet-b1"), PrivateIpAddress: s("10.1.1.20")}}}},
			// Endpoint to a workgroup of another account: its own database.
			{EndpointName: s("partner-ep"), WorkgroupName: s("partner-wg"),
				Address: s("partner-ep-endpoint-abc.123456789012.ap-northeast-1.redshift-serverless.amazonaws.com"), Port: i32(5439),
				SubnetIds:         []string{"subnet-priv1"},
				VpcSecurityGroups: []rsstypes.VpcSecurityGroupMembership{{VpcSecurityGroupId: s("sg-partner")}}},
		},
	}
}
