package awssource

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	rstypes "github.com/aws/aws-sdk-go-v2/service/redshift/types"
	rsstypes "github.com/aws/aws-sdk-go-v2/service/redshiftserverless/types"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// PreferredTag marks an EC2 instance as a preferred bastion; any value
// but "false" counts.
const PreferredTag = "dbtunnel:bastion"

// RoleCustom is the role of an Aurora custom endpoint; Endpoint.Name is
// the endpoint's identifier.
const RoleCustom = "custom"

// build maps what the calls returned to the model. Collections whose call
// failed stay nil (a read that found nothing gives an empty, non-nil
// value), so a consumer can tell "none" from "unknown".
func build(r *raw, scope discovery.Scope, region string, now time.Time) *discovery.Inventory {
	inv := &discovery.Inventory{
		// The role stays: a target found here is opened with it, or its
		// credentials and tunnel would come from the wrong account.
		Scope:     discovery.Scope{Profile: scope.Profile, Region: region, Role: scope.Role},
		Account:   r.account,
		FetchedAt: now,
		Warnings:  r.warnings,
	}
	inv.Network = buildNetwork(r)
	inv.Bastions = buildBastions(r)

	b := dbBuilder{r: r, net: &inv.Network}
	dbs := []discovery.Database{}
	dbs = append(dbs, b.clusters()...)
	dbs = append(dbs, b.instances()...)
	dbs = append(dbs, b.proxies()...)
	dbs = append(dbs, b.redshiftClusters()...)
	dbs = append(dbs, b.workgroups()...)
	dbs = append(dbs, b.resourceEndpoints()...)
	for i := range dbs {
		d := &dbs[i]
		d.Profile, d.Region, d.Account = scope.Profile, region, r.account
		if d.SecurityGroups == nil {
			d.SecurityGroups = []string{}
		}
		if d.Endpoints == nil {
			d.Endpoints = []discovery.Endpoint{}
		}
		if d.Routes == nil {
			d.Routes = []discovery.Route{}
		}
	}
	slices.SortStableFunc(dbs, func(a, b discovery.Database) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(string(a.Kind), string(b.Kind)))
	})
	inv.Databases = dbs
	return inv
}

func buildNetwork(r *raw) discovery.Network {
	var n discovery.Network
	if !r.failed[opSecurityGroups] || len(r.securityGroups) > 0 {
		n.SecurityGroups = make(map[string]discovery.SecurityGroup, len(r.securityGroups))
		for _, g := range r.securityGroups {
			id := aws.ToString(g.GroupId)
			n.SecurityGroups[id] = discovery.SecurityGroup{
				ID:      id,
				Name:    aws.ToString(g.GroupName),
				VPCID:   aws.ToString(g.VpcId),
				Ingress: rules(g.IpPermissions),
				Egress:  rules(g.IpPermissionsEgress),
			}
		}
	}
	if !r.failed[opSubnets] || len(r.subnets) > 0 {
		n.Subnets = make(map[string]discovery.Subnet, len(r.subnets))
		for _, s := range r.subnets {
			id := aws.ToString(s.SubnetId)
			n.Subnets[id] = discovery.Subnet{
				ID:    id,
				VPCID: aws.ToString(s.VpcId),
				CIDR:  aws.ToString(s.CidrBlock),
				AZ:    aws.ToString(s.AvailabilityZone),
			}
		}
	}
	if !r.failed[opRouteTables] || len(r.routeTables) > 0 {
		n.RouteTables = make([]discovery.RouteTable, 0, len(r.routeTables))
		for _, t := range r.routeTables {
			n.RouteTables = append(n.RouteTables, routeTable(t))
		}
		slices.SortFunc(n.RouteTables, func(a, b discovery.RouteTable) int { return strings.Compare(a.ID, b.ID) })
	}
	if !r.failed[opVPCEndpoints] || len(r.vpcEndpoints) > 0 {
		n.VPCEndpoints = make([]discovery.VPCEndpoint, 0, len(r.vpcEndpoints))
		for _, e := range r.vpcEndpoints {
			n.VPCEndpoints = append(n.VPCEndpoints, discovery.VPCEndpoint{
				ID:                       aws.ToString(e.VpcEndpointId),
				VPCID:                    aws.ToString(e.VpcId),
				Type:                     string(e.VpcEndpointType),
				ServiceName:              aws.ToString(e.ServiceName),
				SubnetIDs:                e.SubnetIds,
				SecurityGroups:           ec2GroupIDs(e.Groups),
				PrivateDNS:               aws.ToBool(e.PrivateDnsEnabled),
				DNSNames:                 dnsNames(e.DnsEntries),
				State:                    string(e.State),
				ResourceConfigurationARN: aws.ToString(e.ResourceConfigurationArn),
			})
		}
		slices.SortFunc(n.VPCEndpoints, func(a, b discovery.VPCEndpoint) int { return strings.Compare(a.ID, b.ID) })
	}
	return n
}

// protocolNames maps the IP protocol numbers EC2 may report to the names
// the model uses.
var protocolNames = map[string]string{"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}

func rules(perms []ec2types.IpPermission) []discovery.Rule {
	out := make([]discovery.Rule, 0, len(perms))
	for _, p := range perms {
		proto := strings.ToLower(aws.ToString(p.IpProtocol))
		if name, ok := protocolNames[proto]; ok {
			proto = name
		}
		rule := discovery.Rule{Protocol: proto, FromPort: -1, ToPort: -1}
		if p.FromPort != nil {
			rule.FromPort = int(*p.FromPort)
		}
		if p.ToPort != nil {
			rule.ToPort = int(*p.ToPort)
		}
		for _, r := range p.IpRanges {
			rule.CIDRs = append(rule.CIDRs, aws.ToString(r.CidrIp))
		}
		for _, r := range p.Ipv6Ranges {
			rule.IPv6CIDRs = append(rule.IPv6CIDRs, aws.ToString(r.CidrIpv6))
		}
		for _, g := range p.UserIdGroupPairs {
			rule.GroupIDs = append(rule.GroupIDs, aws.ToString(g.GroupId))
		}
		for _, pl := range p.PrefixListIds {
			rule.PrefixListIDs = append(rule.PrefixListIDs, aws.ToString(pl.PrefixListId))
		}
		out = append(out, rule)
	}
	return out
}

func routeTable(t ec2types.RouteTable) discovery.RouteTable {
	rt := discovery.RouteTable{
		ID:     aws.ToString(t.RouteTableId),
		VPCID:  aws.ToString(t.VpcId),
		Routes: []discovery.NetRoute{},
	}
	for _, a := range t.Associations {
		if a.AssociationState != nil && a.AssociationState.State != "" &&
			a.AssociationState.State != ec2types.RouteTableAssociationStateCodeAssociated {
			continue
		}
		if aws.ToBool(a.Main) {
			rt.Main = true
		}
		if id := aws.ToString(a.SubnetId); id != "" {
			rt.SubnetIDs = append(rt.SubnetIDs, id)
		}
	}
	for _, r := range t.Routes {
		nr := discovery.NetRoute{
			Destination: cmp.Or(aws.ToString(r.DestinationCidrBlock), aws.ToString(r.DestinationIpv6CidrBlock), aws.ToString(r.DestinationPrefixListId)),
			State:       string(r.State),
		}
		// Exactly one target: the specific kinds first, then whatever
		// gateway-like id the route names.
		switch {
		case r.NatGatewayId != nil:
			nr.NatGatewayID = *r.NatGatewayId
		case r.TransitGatewayId != nil:
			nr.TransitGatewayID = *r.TransitGatewayId
		case r.VpcPeeringConnectionId != nil:
			nr.VPCPeeringConnectionID = *r.VpcPeeringConnectionId
		case r.InstanceId != nil:
			nr.InstanceID = *r.InstanceId
		default:
			nr.GatewayID = cmp.Or(aws.ToString(r.GatewayId), aws.ToString(r.EgressOnlyInternetGatewayId),
				aws.ToString(r.LocalGatewayId), aws.ToString(r.CarrierGatewayId),
				aws.ToString(r.NetworkInterfaceId), aws.ToString(r.CoreNetworkArn))
		}
		rt.Routes = append(rt.Routes, nr)
	}
	return rt
}

func buildBastions(r *raw) []discovery.Bastion {
	if r.failed[opInstances] && len(r.instances) == 0 {
		return nil
	}
	agents := make(map[string]discovery.SSMStatus, len(r.instanceInfo))
	for _, ii := range r.instanceInfo {
		agents[aws.ToString(ii.InstanceId)] = discovery.SSMStatus{
			Managed:      true,
			PingStatus:   string(ii.PingStatus),
			AgentVersion: aws.ToString(ii.AgentVersion),
			Platform:     string(ii.PlatformType),
		}
	}
	out := make([]discovery.Bastion, 0, len(r.instances))
	for _, in := range r.instances {
		tags := ec2Tags(in.Tags)
		preferred := false
		if v, ok := tags[PreferredTag]; ok && !strings.EqualFold(strings.TrimSpace(v), "false") {
			preferred = true
		}
		// Every running instance is a candidate; one that is not
		// running only when tagged as the bastion, so that reach can say
		// it is stopped.
		running := in.State == nil || in.State.Name == "" || in.State.Name == ec2types.InstanceStateNameRunning
		if !running && !preferred {
			continue
		}
		b := discovery.Bastion{
			InstanceID:     aws.ToString(in.InstanceId),
			Name:           tags["Name"],
			VPCID:          aws.ToString(in.VpcId),
			SubnetID:       aws.ToString(in.SubnetId),
			PrivateIP:      aws.ToString(in.PrivateIpAddress),
			PublicIP:       aws.ToString(in.PublicIpAddress),
			SecurityGroups: make([]string, 0, len(in.SecurityGroups)),
			State:          string(ec2types.InstanceStateNameRunning),
			Platform:       cmp.Or(string(in.Platform), aws.ToString(in.PlatformDetails)),
			KeyName:        aws.ToString(in.KeyName),
			SSM:            agents[aws.ToString(in.InstanceId)],
			Tags:           tags,
		}
		if in.State != nil && in.State.Name != "" {
			b.State = string(in.State.Name)
		}
		if in.IamInstanceProfile != nil {
			b.InstanceProfile = aws.ToString(in.IamInstanceProfile.Arn)
		}
		b.Preferred = preferred
		for _, g := range in.SecurityGroups {
			b.SecurityGroups = append(b.SecurityGroups, aws.ToString(g.GroupId))
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b discovery.Bastion) int { return strings.Compare(a.InstanceID, b.InstanceID) })
	return out
}

type dbBuilder struct {
	r   *raw
	net *discovery.Network
}

// clusterIDs are the clusters that were listed; their member instances
// are folded into them.
func (b dbBuilder) clusterIDs() map[string]bool {
	ids := make(map[string]bool, len(b.r.dbClusters))
	for _, c := range b.r.dbClusters {
		ids[aws.ToString(c.DBClusterIdentifier)] = true
	}
	return ids
}

func (b dbBuilder) clusters() []discovery.Database {
	groups := map[string]rdstypes.DBSubnetGroup{}
	for _, g := range b.r.dbSubnetGroups {
		groups[aws.ToString(g.DBSubnetGroupName)] = g
	}
	// A member instance knows its subnet group in full: the fallback when
	// DescribeDBSubnetGroups was not allowed.
	memberGroup := map[string]*rdstypes.DBSubnetGroup{}
	for _, in := range b.r.dbInstances {
		if cid := aws.ToString(in.DBClusterIdentifier); cid != "" && in.DBSubnetGroup != nil && memberGroup[cid] == nil {
			memberGroup[cid] = in.DBSubnetGroup
		}
	}
	custom := map[string][]rdstypes.DBClusterEndpoint{}
	for _, e := range b.r.clusterEndpoints {
		if !strings.EqualFold(aws.ToString(e.EndpointType), "CUSTOM") {
			continue
		}
		cid := aws.ToString(e.DBClusterIdentifier)
		custom[cid] = append(custom[cid], e)
	}

	out := make([]discovery.Database, 0, len(b.r.dbClusters))
	for _, c := range b.r.dbClusters {
		id := aws.ToString(c.DBClusterIdentifier)
		port := int(aws.ToInt32(c.Port))
		d := discovery.Database{
			Name:                id,
			Kind:                discovery.KindAuroraCluster,
			Engine:              aws.ToString(c.Engine),
			SecurityGroups:      rdsGroupIDs(c.VpcSecurityGroups),
			Status:              aws.ToString(c.Status),
			IAMAuth:             aws.ToBool(c.IAMDatabaseAuthenticationEnabled),
			MasterUserSecretARN: masterSecret(c.MasterUserSecret),
			MasterUsername:      aws.ToString(c.MasterUsername),
			Tags:                rdsTags(c.TagList),
		}
		if g, ok := groups[aws.ToString(c.DBSubnetGroup)]; ok {
			d.VPCID, d.SubnetIDs = aws.ToString(g.VpcId), rdsSubnetIDs(g.Subnets)
		} else if g := memberGroup[id]; g != nil {
			d.VPCID, d.SubnetIDs = aws.ToString(g.VpcId), rdsSubnetIDs(g.Subnets)
		}
		if h := aws.ToString(c.Endpoint); h != "" {
			d.Endpoints = append(d.Endpoints, discovery.Endpoint{Role: discovery.RoleWriter, Host: h, Port: port})
		}
		if h := aws.ToString(c.ReaderEndpoint); h != "" {
			d.Endpoints = append(d.Endpoints, discovery.Endpoint{Role: discovery.RoleReader, Host: h, Port: port})
		}
		ces := custom[id]
		slices.SortFunc(ces, func(x, y rdstypes.DBClusterEndpoint) int {
			return strings.Compare(aws.ToString(x.DBClusterEndpointIdentifier), aws.ToString(y.DBClusterEndpointIdentifier))
		})
		for _, e := range ces {
			d.Endpoints = append(d.Endpoints, discovery.Endpoint{
				Role: RoleCustom,
				Name: aws.ToString(e.DBClusterEndpointIdentifier),
				Host: aws.ToString(e.Endpoint),
				Port: port,
			})
		}
		out = append(out, d)
	}
	return out
}

func (b dbBuilder) instances() []discovery.Database {
	clusters := b.clusterIDs()
	out := make([]discovery.Database, 0, len(b.r.dbInstances))
	for _, in := range b.r.dbInstances {
		if cid := aws.ToString(in.DBClusterIdentifier); cid != "" && clusters[cid] {
			continue // reached through its cluster's endpoints
		}
		d := discovery.Database{
			Name:                aws.ToString(in.DBInstanceIdentifier),
			Kind:                discovery.KindRDSInstance,
			Engine:              aws.ToString(in.Engine),
			SecurityGroups:      rdsGroupIDs(in.VpcSecurityGroups),
			Status:              aws.ToString(in.DBInstanceStatus),
			IAMAuth:             aws.ToBool(in.IAMDatabaseAuthenticationEnabled),
			MasterUserSecretARN: masterSecret(in.MasterUserSecret),
			MasterUsername:      aws.ToString(in.MasterUsername),
			Tags:                rdsTags(in.TagList),
		}
		if g := in.DBSubnetGroup; g != nil {
			d.VPCID, d.SubnetIDs = aws.ToString(g.VpcId), rdsSubnetIDs(g.Subnets)
		}
		if e := in.Endpoint; e != nil && aws.ToString(e.Address) != "" {
			port := int(aws.ToInt32(e.Port))
			if port == 0 {
				port = int(aws.ToInt32(in.DbInstancePort))
			}
			d.Endpoints = append(d.Endpoints, discovery.Endpoint{Role: discovery.RoleInstance, Host: aws.ToString(e.Address), Port: port})
		}
		out = append(out, d)
	}
	return out
}

// proxyEngine maps a proxy's engine family to an engine name like the
// ones RDS instances report, and its port: a proxy listens on its
// engine's default port.
func proxyEngine(family string) (string, int) {
	switch strings.ToUpper(family) {
	case "POSTGRESQL":
		return "postgres", 5432
	case "MYSQL":
		return "mysql", 3306
	case "SQLSERVER":
		return "sqlserver", 1433
	}
	return strings.ToLower(family), 0
}

func (b dbBuilder) proxies() []discovery.Database {
	extra := map[string][]rdstypes.DBProxyEndpoint{}
	for _, e := range b.r.proxyEndpoints {
		if aws.ToBool(e.IsDefault) {
			continue
		}
		name := aws.ToString(e.DBProxyName)
		extra[name] = append(extra[name], e)
	}
	out := make([]discovery.Database, 0, len(b.r.proxies))
	for _, p := range b.r.proxies {
		name := aws.ToString(p.DBProxyName)
		engine, port := proxyEngine(aws.ToString(p.EngineFamily))
		d := discovery.Database{
			Name:           name,
			Kind:           discovery.KindRDSProxy,
			Engine:         engine,
			VPCID:          aws.ToString(p.VpcId),
			SubnetIDs:      p.VpcSubnetIds,
			SecurityGroups: slices.Clone(p.VpcSecurityGroupIds),
			Status:         string(p.Status),
		}
		for _, a := range p.Auth {
			if a.IAMAuth == rdstypes.IAMAuthModeRequired || a.IAMAuth == rdstypes.IAMAuthModeEnabled {
				d.IAMAuth = true
			}
		}
		if h := aws.ToString(p.Endpoint); h != "" {
			d.Endpoints = append(d.Endpoints, discovery.Endpoint{Role: discovery.RoleProxy, Host: h, Port: port})
		}
		eps := extra[name]
		slices.SortFunc(eps, func(x, y rdstypes.DBProxyEndpoint) int {
			return strings.Compare(aws.ToString(x.DBProxyEndpointName), aws.ToString(y.DBProxyEndpointName))
		})
		for _, e := range eps {
			// A proxy endpoint may sit in another VPC than its proxy: it
			// carries its own placement.
			d.Endpoints = append(d.Endpoints, discovery.Endpoint{
				Role:           discovery.RoleProxy,
				Name:           aws.ToString(e.DBProxyEndpointName),
				Host:           aws.ToString(e.Endpoint),
				Port:           port,
				VPCID:          aws.ToString(e.VpcId),
				SubnetIDs:      e.VpcSubnetIds,
				SecurityGroups: e.VpcSecurityGroupIds,
			})
		}
		out = append(out, d)
	}
	return out
}

func (b dbBuilder) redshiftClusters() []discovery.Database {
	groups := map[string]rstypes.ClusterSubnetGroup{}
	for _, g := range b.r.rsSubnetGroups {
		groups[aws.ToString(g.ClusterSubnetGroupName)] = g
	}
	out := make([]discovery.Database, 0, len(b.r.rsClusters))
	for _, c := range b.r.rsClusters {
		d := discovery.Database{
			Name:                aws.ToString(c.ClusterIdentifier),
			Kind:                discovery.KindRedshiftCluster,
			Engine:              "redshift",
			VPCID:               aws.ToString(c.VpcId),
			Status:              aws.ToString(c.ClusterStatus),
			MasterUserSecretARN: aws.ToString(c.MasterPasswordSecretArn),
			MasterUsername:      aws.ToString(c.MasterUsername),
		}
		for _, g := range c.VpcSecurityGroups {
			d.SecurityGroups = append(d.SecurityGroups, aws.ToString(g.VpcSecurityGroupId))
		}
		if g, ok := groups[aws.ToString(c.ClusterSubnetGroupName)]; ok {
			for _, s := range g.Subnets {
				d.SubnetIDs = append(d.SubnetIDs, aws.ToString(s.SubnetIdentifier))
			}
			if d.VPCID == "" {
				d.VPCID = aws.ToString(g.VpcId)
			}
		}
		if len(c.Tags) > 0 {
			d.Tags = make(map[string]string, len(c.Tags))
			for _, t := range c.Tags {
				d.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		if e := c.Endpoint; e != nil && aws.ToString(e.Address) != "" {
			d.Endpoints = append(d.Endpoints, discovery.Endpoint{Role: discovery.RoleInstance, Host: aws.ToString(e.Address), Port: int(aws.ToInt32(e.Port))})
		}
		out = append(out, d)
	}
	return out
}

// workgroups lists one database per Redshift Serverless workgroup: the
// workgroup's own endpoint, then its managed VPC endpoints, each with its
// own placement (possibly another VPC). Managed endpoints whose workgroup
// is not listed (shared from another account) make a database of their
// own, named after the workgroup.
func (b dbBuilder) workgroups() []discovery.Database {
	access := map[string][]rsstypes.EndpointAccess{}
	for _, e := range b.r.endpointAccess {
		wg := aws.ToString(e.WorkgroupName)
		access[wg] = append(access[wg], e)
	}
	namespaces := map[string]rsstypes.Namespace{}
	for _, n := range b.r.namespaces {
		namespaces[aws.ToString(n.NamespaceName)] = n
	}
	out := make([]discovery.Database, 0, len(b.r.workgroups))
	listed := map[string]bool{}
	for _, w := range b.r.workgroups {
		name := aws.ToString(w.WorkgroupName)
		listed[name] = true
		d := discovery.Database{
			Name:           name,
			Kind:           discovery.KindRedshiftServerless,
			Engine:         "redshift",
			SubnetIDs:      w.SubnetIds,
			SecurityGroups: slices.Clone(w.SecurityGroupIds),
			Status:         string(w.Status),
			Namespace:      aws.ToString(w.NamespaceName),
		}
		if n, ok := namespaces[d.Namespace]; ok {
			d.MasterUserSecretARN = aws.ToString(n.AdminPasswordSecretArn)
			d.MasterUsername = aws.ToString(n.AdminUsername)
		}
		if e := w.Endpoint; e != nil {
			for _, ve := range e.VpcEndpoints {
				if v := aws.ToString(ve.VpcId); v != "" {
					d.VPCID = v
					break
				}
			}
			if h := aws.ToString(e.Address); h != "" {
				port := int(cmp.Or(aws.ToInt32(e.Port), aws.ToInt32(w.Port)))
				d.Endpoints = append(d.Endpoints, discovery.Endpoint{Role: discovery.RoleInstance, Host: h, Port: port})
			}
		}
		if d.VPCID == "" {
			d.VPCID = b.vpcOfSubnets(w.SubnetIds)
		}
		d.Endpoints = append(d.Endpoints, b.managedEndpoints(access[name])...)
		out = append(out, d)
	}
	orphans := make([]string, 0)
	for wg := range access {
		if !listed[wg] {
			orphans = append(orphans, wg)
		}
	}
	slices.Sort(orphans)
	for _, wg := range orphans {
		eps := b.managedEndpoints(access[wg])
		d := discovery.Database{
			Name:      wg,
			Kind:      discovery.KindRedshiftServerless,
			Engine:    "redshift",
			Endpoints: eps,
		}
		if len(eps) > 0 {
			d.VPCID, d.SubnetIDs = eps[0].VPCID, eps[0].SubnetIDs
			d.SecurityGroups = slices.Clone(eps[0].SecurityGroups)
		}
		out = append(out, d)
	}
	return out
}

func (b dbBuilder) managedEndpoints(eas []rsstypes.EndpointAccess) []discovery.Endpoint {
	slices.SortFunc(eas, func(x, y rsstypes.EndpointAccess) int {
		return strings.Compare(aws.ToString(x.EndpointName), aws.ToString(y.EndpointName))
	})
	out := make([]discovery.Endpoint, 0, len(eas))
	for _, ea := range eas {
		ep := discovery.Endpoint{
			Role:      discovery.RoleManagedEndpoint,
			Name:      aws.ToString(ea.EndpointName),
			Host:      aws.ToString(ea.Address),
			Port:      int(aws.ToInt32(ea.Port)),
			SubnetIDs: ea.SubnetIds,
		}
		if ve := ea.VpcEndpoint; ve != nil {
			ep.VPCID = aws.ToString(ve.VpcId)
			if len(ep.SubnetIDs) == 0 {
				for _, ni := range ve.NetworkInterfaces {
					ep.SubnetIDs = append(ep.SubnetIDs, aws.ToString(ni.SubnetId))
				}
			}
		}
		if ep.VPCID == "" {
			ep.VPCID = b.vpcOfSubnets(ep.SubnetIDs)
		}
		for _, g := range ea.VpcSecurityGroups {
			ep.SecurityGroups = append(ep.SecurityGroups, aws.ToString(g.VpcSecurityGroupId))
		}
		out = append(out, ep)
	}
	return out
}

// resourceEndpoints lists VPC endpoints of type Resource (PrivateLink to a
// resource configuration): reached only through the endpoint's own
// security groups. The port is not part of the endpoint: 0.
func (b dbBuilder) resourceEndpoints() []discovery.Database {
	out := make([]discovery.Database, 0)
	for _, e := range b.r.vpcEndpoints {
		if e.VpcEndpointType != ec2types.VpcEndpointTypeResource {
			continue
		}
		id := aws.ToString(e.VpcEndpointId)
		tags := ec2Tags(e.Tags)
		groups := ec2GroupIDs(e.Groups)
		d := discovery.Database{
			Name:           cmp.Or(tags["Name"], id),
			Kind:           discovery.KindVPCResourceEndpoint,
			VPCID:          aws.ToString(e.VpcId),
			SubnetIDs:      e.SubnetIds,
			SecurityGroups: groups,
			Status:         string(e.State),
			Tags:           tags,
			Endpoints: []discovery.Endpoint{{
				Role:           discovery.RoleResource,
				Name:           id,
				Host:           resourceHost(e.DnsEntries),
				VPCID:          aws.ToString(e.VpcId),
				SubnetIDs:      e.SubnetIds,
				SecurityGroups: slices.Clone(groups),
			}},
		}
		out = append(out, d)
	}
	return out
}

// resourceHost picks the endpoint's DNS name: the first that is not a
// wildcard.
func resourceHost(entries []ec2types.DnsEntry) string {
	first := ""
	for _, e := range entries {
		n := aws.ToString(e.DnsName)
		if n == "" {
			continue
		}
		if !strings.HasPrefix(n, "*.") {
			return n
		}
		if first == "" {
			first = strings.TrimPrefix(n, "*.")
		}
	}
	return first
}

func (b dbBuilder) vpcOfSubnets(ids []string) string {
	for _, id := range ids {
		if s, ok := b.net.Subnets[id]; ok && s.VPCID != "" {
			return s.VPCID
		}
	}
	return ""
}

func ec2Tags(tags []ec2types.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func rdsTags(tags []rdstypes.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func ec2GroupIDs(gs []ec2types.SecurityGroupIdentifier) []string {
	if len(gs) == 0 {
		return nil
	}
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, aws.ToString(g.GroupId))
	}
	return out
}

func rdsGroupIDs(gs []rdstypes.VpcSecurityGroupMembership) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, aws.ToString(g.VpcSecurityGroupId))
	}
	return out
}

func rdsSubnetIDs(ss []rdstypes.Subnet) []string {
	var out []string
	for _, s := range ss {
		out = append(out, aws.ToString(s.SubnetIdentifier))
	}
	return out
}

func masterSecret(s *rdstypes.MasterUserSecret) string {
	if s == nil {
		return ""
	}
	return aws.ToString(s.SecretArn)
}

func dnsNames(entries []ec2types.DnsEntry) []string {
	var out []string
	for _, e := range entries {
		if n := aws.ToString(e.DnsName); n != "" {
			out = append(out, n)
		}
	}
	return out
}
