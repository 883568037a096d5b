package awsfake

import (
	"net/http"
	"strconv"
	"strings"
)

// EC2 replies (ec2 query protocol: lowerCamel elements, lists of <item>).

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func ec2Tags(t tags) []ec2Tag {
	out := make([]ec2Tag, len(t))
	for i, x := range t {
		out[i] = ec2Tag{x.key, x.value}
	}
	return out
}

type ec2Group struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

func ec2Groups(sgs []*SecurityGroup) []ec2Group {
	out := make([]ec2Group, len(sgs))
	for i, g := range sgs {
		out[i] = ec2Group{g.id, g.name}
	}
	return out
}

type ec2InstanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type ec2Instance struct {
	InstanceID         string           `xml:"instanceId"`
	ImageID            string           `xml:"imageId"`
	State              ec2InstanceState `xml:"instanceState"`
	PrivateDNSName     string           `xml:"privateDnsName"`
	DNSName            string           `xml:"dnsName"`
	Reason             string           `xml:"reason"`
	KeyName            string           `xml:"keyName,omitempty"`
	AmiLaunchIndex     int              `xml:"amiLaunchIndex"`
	InstanceType       string           `xml:"instanceType"`
	LaunchTime         string           `xml:"launchTime"`
	Placement          ec2Placement     `xml:"placement"`
	Platform           string           `xml:"platform,omitempty"`
	MonitoringState    string           `xml:"monitoring>state"`
	SubnetID           string           `xml:"subnetId"`
	VpcID              string           `xml:"vpcId"`
	PrivateIPAddress   string           `xml:"privateIpAddress"`
	IPAddress          string           `xml:"ipAddress,omitempty"`
	SourceDestCheck    bool             `xml:"sourceDestCheck"`
	Groups             []ec2Group       `xml:"groupSet>item"`
	Architecture       string           `xml:"architecture"`
	RootDeviceType     string           `xml:"rootDeviceType"`
	RootDeviceName     string           `xml:"rootDeviceName"`
	VirtualizationType string           `xml:"virtualizationType"`
	Tags               []ec2Tag         `xml:"tagSet>item"`
	Hypervisor         string           `xml:"hypervisor"`
	NetworkInterfaces  []ec2InstanceENI `xml:"networkInterfaceSet>item"`
	IamInstanceProfile *ec2Profile      `xml:"iamInstanceProfile,omitempty"`
	EbsOptimized       bool             `xml:"ebsOptimized"`
	EnaSupport         bool             `xml:"enaSupport"`
	PlatformDetails    string           `xml:"platformDetails"`
	UsageOperation     string           `xml:"usageOperation"`
	BootMode           string           `xml:"currentInstanceBootMode"`
}

type ec2Placement struct {
	AvailabilityZone string `xml:"availabilityZone"`
	GroupName        string `xml:"groupName"`
	Tenancy          string `xml:"tenancy"`
}

type ec2Profile struct {
	Arn string `xml:"arn"`
	ID  string `xml:"id"`
}

type ec2InstanceENI struct {
	NetworkInterfaceID string         `xml:"networkInterfaceId"`
	SubnetID           string         `xml:"subnetId"`
	VpcID              string         `xml:"vpcId"`
	OwnerID            string         `xml:"ownerId"`
	Status             string         `xml:"status"`
	PrivateIPAddress   string         `xml:"privateIpAddress"`
	PrivateDNSName     string         `xml:"privateDnsName"`
	SourceDestCheck    bool           `xml:"sourceDestCheck"`
	Groups             []ec2Group     `xml:"groupSet>item"`
	Attachment         ec2Attachment  `xml:"attachment"`
	Association        *ec2PublicAddr `xml:"association,omitempty"`
	InterfaceType      string         `xml:"interfaceType"`
}

type ec2Attachment struct {
	AttachmentID        string `xml:"attachmentId"`
	DeviceIndex         int    `xml:"deviceIndex"`
	Status              string `xml:"status"`
	AttachTime          string `xml:"attachTime"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type ec2PublicAddr struct {
	PublicIP      string `xml:"publicIp"`
	PublicDNSName string `xml:"publicDnsName"`
	IPOwnerID     string `xml:"ipOwnerId"`
}

type ec2Reservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Groups        []ec2Group    `xml:"groupSet>item"`
	Instances     []ec2Instance `xml:"instancesSet>item"`
}

type ec2DescribeInstancesResult struct {
	Reservations []ec2Reservation `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

func privateDNS(region, ip string) string {
	host := "ip-" + strings.ReplaceAll(ip, ".", "-")
	if region == "us-east-1" {
		return host + ".ec2.internal"
	}
	return host + "." + region + ".compute.internal"
}

func publicDNS(region, ip string) string {
	if ip == "" {
		return ""
	}
	host := "ec2-" + strings.ReplaceAll(ip, ".", "-")
	if region == "us-east-1" {
		return host + ".compute-1.amazonaws.com"
	}
	return host + "." + region + ".compute.amazonaws.com"
}

func (i *Instance) attrs(name string) ([]string, bool) {
	switch name {
	case "instance-state-name":
		return one(i.state), true
	case "instance-state-code":
		return one(strconv.Itoa(instanceStateCodes[i.state])), true
	case "instance-id":
		return one(i.id), true
	case "vpc-id":
		return one(i.subnet.vpc.id), true
	case "subnet-id":
		return one(i.subnet.id), true
	case "availability-zone":
		return one(i.subnet.az), true
	case "private-ip-address":
		return one(i.privateIP), true
	case "ip-address":
		return one(i.publicIP), true
	case "key-name":
		return one(i.keyName), true
	case "instance-type":
		return one(i.itype), true
	case "iam-instance-profile.arn":
		return one(i.profileARN), true
	case "instance.group-id", "group-id":
		ids := make([]string, len(i.sgs))
		for k, g := range i.sgs {
			ids[k] = g.id
		}
		return ids, true
	case "instance.group-name", "group-name":
		names := make([]string, len(i.sgs))
		for k, g := range i.sgs {
			names[k] = g.name
		}
		return names, true
	case "platform":
		if i.windows {
			return one("windows"), true
		}
		return nil, true
	}
	return tagAttr(name, i.tags)
}

func (i *Instance) wire() ec2Instance {
	r := i.r
	groups := ec2Groups(i.sgs)
	out := ec2Instance{
		InstanceID: i.id, ImageID: i.image,
		State:          ec2InstanceState{instanceStateCodes[i.state], i.state},
		PrivateDNSName: privateDNS(r.name, i.privateIP), DNSName: publicDNS(r.name, i.publicIP),
		KeyName: i.keyName, InstanceType: i.itype, LaunchTime: created.Format(isoMillis),
		Placement:       ec2Placement{AvailabilityZone: i.subnet.az, Tenancy: "default"},
		MonitoringState: "disabled", SubnetID: i.subnet.id, VpcID: i.subnet.vpc.id,
		PrivateIPAddress: i.privateIP, IPAddress: i.publicIP, SourceDestCheck: true,
		Groups: groups, Architecture: "x86_64", RootDeviceType: "ebs", RootDeviceName: "/dev/xvda",
		VirtualizationType: "hvm", Tags: ec2Tags(i.tags), Hypervisor: "xen",
		EbsOptimized: true, EnaSupport: true,
		PlatformDetails: "Linux/UNIX", UsageOperation: "RunInstances", BootMode: "uefi",
	}
	if i.windows {
		out.Platform, out.PlatformDetails, out.UsageOperation = "windows", "Windows", "RunInstances:0002"
		out.RootDeviceName = "/dev/sda1"
	}
	if i.state == "stopped" || i.state == "terminated" {
		out.Reason = "User initiated (" + created.Format("2006-01-02 15:04:05 MST") + ")"
	}
	if i.profileARN != "" {
		out.IamInstanceProfile = &ec2Profile{i.profileARN, i.profileID}
	}
	if i.state != "terminated" {
		eni := ec2InstanceENI{
			NetworkInterfaceID: i.eni, SubnetID: i.subnet.id, VpcID: i.subnet.vpc.id, OwnerID: r.acct.id,
			Status: "in-use", PrivateIPAddress: i.privateIP, PrivateDNSName: out.PrivateDNSName,
			SourceDestCheck: true, Groups: groups, InterfaceType: "interface",
			Attachment: ec2Attachment{"eni-attach-" + i.eni[4:], 0, "attached", created.Format(isoMillis), true},
		}
		if i.publicIP != "" {
			eni.Association = &ec2PublicAddr{i.publicIP, out.DNSName, "amazon"}
		}
		out.NetworkInterfaces = []ec2InstanceENI{eni}
	}
	return out
}

func notFound(code, format string, id string) *apiError {
	return &apiError{http.StatusBadRequest, code, strings.Replace(format, "%s", id, 1)}
}

func ec2DescribeInstances(c *call) (any, *apiError) {
	r := c.region
	ids := c.list("InstanceId")
	fs := c.ec2Filters()
	var items []*Instance
	found := map[string]bool{}
	for _, i := range r.instances {
		if len(ids) > 0 && !contains(ids, i.id) {
			continue
		}
		found[i.id] = true
		if matches(fs, i.attrs) {
			items = append(items, i)
		}
	}
	for _, id := range ids {
		if !found[id] {
			return nil, notFound("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
		}
	}
	page, next, aerr := paginate(c, items, c.param("NextToken"), c.intParam("MaxResults"), 1000)
	if aerr != nil {
		return nil, aerr
	}
	out := ec2DescribeInstancesResult{NextToken: next}
	for _, i := range page {
		out.Reservations = append(out.Reservations, ec2Reservation{
			ReservationID: i.resID, OwnerID: r.acct.id, Instances: []ec2Instance{i.wire()},
		})
	}
	return out, nil
}

type ec2UserIDGroupPair struct {
	UserID  string `xml:"userId"`
	GroupID string `xml:"groupId"`
}

type ec2IPRange struct {
	CidrIP string `xml:"cidrIp"`
}

type ec2IPv6Range struct {
	CidrIPv6 string `xml:"cidrIpv6"`
}

type ec2PrefixListID struct {
	PrefixListID string `xml:"prefixListId"`
}

type ec2Permission struct {
	IPProtocol    string               `xml:"ipProtocol"`
	FromPort      *int                 `xml:"fromPort,omitempty"`
	ToPort        *int                 `xml:"toPort,omitempty"`
	Groups        []ec2UserIDGroupPair `xml:"groups>item"`
	IPRanges      []ec2IPRange         `xml:"ipRanges>item"`
	IPv6Ranges    []ec2IPv6Range       `xml:"ipv6Ranges>item"`
	PrefixListIDs []ec2PrefixListID    `xml:"prefixListIds>item"`
}

type ec2SecurityGroup struct {
	OwnerID             string          `xml:"ownerId"`
	GroupID             string          `xml:"groupId"`
	GroupName           string          `xml:"groupName"`
	GroupDescription    string          `xml:"groupDescription"`
	VpcID               string          `xml:"vpcId"`
	SecurityGroupArn    string          `xml:"securityGroupArn"`
	IPPermissions       []ec2Permission `xml:"ipPermissions>item"`
	IPPermissionsEgress []ec2Permission `xml:"ipPermissionsEgress>item"`
	Tags                []ec2Tag        `xml:"tagSet>item"`
}

type ec2DescribeSecurityGroupsResult struct {
	SecurityGroups []ec2SecurityGroup `xml:"securityGroupInfo>item"`
	NextToken      string             `xml:"nextToken,omitempty"`
}

func ec2Perms(ps []*perm) []ec2Permission {
	out := make([]ec2Permission, 0, len(ps))
	for _, p := range ps {
		w := ec2Permission{IPProtocol: p.proto}
		if p.proto != "-1" {
			from, to := p.from, p.to
			w.FromPort, w.ToPort = &from, &to
		}
		for k, g := range p.groups {
			w.Groups = append(w.Groups, ec2UserIDGroupPair{p.owners[k], g})
		}
		for _, x := range p.cidrs {
			w.IPRanges = append(w.IPRanges, ec2IPRange{x})
		}
		for _, x := range p.cidrs6 {
			w.IPv6Ranges = append(w.IPv6Ranges, ec2IPv6Range{x})
		}
		for _, x := range p.prefixes {
			w.PrefixListIDs = append(w.PrefixListIDs, ec2PrefixListID{x})
		}
		out = append(out, w)
	}
	return out
}

func (g *SecurityGroup) attrs(name string) ([]string, bool) {
	switch name {
	case "vpc-id":
		return one(g.vpc.id), true
	case "group-id":
		return one(g.id), true
	case "group-name":
		return one(g.name), true
	case "description":
		return one(g.desc), true
	case "owner-id":
		return one(g.vpc.r.acct.id), true
	}
	return tagAttr(name, g.tags)
}

func ec2DescribeSecurityGroups(c *call) (any, *apiError) {
	r := c.region
	ids, names := c.list("GroupId"), c.list("GroupName")
	fs := c.ec2Filters()
	var items []*SecurityGroup
	found := map[string]bool{}
	for _, g := range r.sgs {
		if len(ids) > 0 && !contains(ids, g.id) || len(names) > 0 && !contains(names, g.name) {
			continue
		}
		found[g.id], found[g.name] = true, true
		if matches(fs, g.attrs) {
			items = append(items, g)
		}
	}
	for _, id := range append(ids, names...) {
		if !found[id] {
			if strings.HasPrefix(id, "sg-") {
				return nil, notFound("InvalidGroup.NotFound", "The security group '%s' does not exist", id)
			}
			return nil, notFound("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC", id)
		}
	}
	page, next, aerr := paginate(c, items, c.param("NextToken"), c.intParam("MaxResults"), 1000)
	if aerr != nil {
		return nil, aerr
	}
	out := ec2DescribeSecurityGroupsResult{NextToken: next}
	for _, g := range page {
		out.SecurityGroups = append(out.SecurityGroups, ec2SecurityGroup{
			OwnerID: r.acct.id, GroupID: g.id, GroupName: g.name, GroupDescription: g.desc, VpcID: g.vpc.id,
			SecurityGroupArn: "arn:aws:ec2:" + r.name + ":" + r.acct.id + ":security-group/" + g.id,
			IPPermissions:    ec2Perms(g.ingress), IPPermissionsEgress: ec2Perms(g.egress), Tags: ec2Tags(g.tags),
		})
	}
	return out, nil
}

type ec2Subnet struct {
	SubnetID                string   `xml:"subnetId"`
	SubnetArn               string   `xml:"subnetArn"`
	State                   string   `xml:"state"`
	VpcID                   string   `xml:"vpcId"`
	OwnerID                 string   `xml:"ownerId"`
	CidrBlock               string   `xml:"cidrBlock"`
	AvailableIPAddressCount int      `xml:"availableIpAddressCount"`
	AvailabilityZone        string   `xml:"availabilityZone"`
	AvailabilityZoneID      string   `xml:"availabilityZoneId"`
	DefaultForAz            bool     `xml:"defaultForAz"`
	MapPublicIPOnLaunch     bool     `xml:"mapPublicIpOnLaunch"`
	AssignIPv6OnCreation    bool     `xml:"assignIpv6AddressOnCreation"`
	Tags                    []ec2Tag `xml:"tagSet>item"`
}

type ec2DescribeSubnetsResult struct {
	Subnets   []ec2Subnet `xml:"subnetSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

func (s *Subnet) attrs(name string) ([]string, bool) {
	switch name {
	case "vpc-id":
		return one(s.vpc.id), true
	case "subnet-id":
		return one(s.id), true
	case "availability-zone":
		return one(s.az), true
	case "cidr-block", "cidr", "cidrBlock":
		return one(s.cidr.String()), true
	case "map-public-ip-on-launch":
		return one(strconv.FormatBool(s.public)), true
	case "state":
		return one("available"), true
	}
	return tagAttr(name, s.tags)
}

// azID turns ap-northeast-1a into apne1-az1 (close enough to real ids).
func azID(az string) string {
	if az == "" {
		return ""
	}
	region, letter := az[:len(az)-1], az[len(az)-1]
	parts := strings.Split(region, "-")
	short := ""
	for _, p := range parts {
		if p != "" && (p[0] < '0' || p[0] > '9') {
			short += p[:1]
		} else {
			short += p
		}
	}
	return short + "-az" + strconv.Itoa(int(letter-'a')+1)
}

func ec2DescribeSubnets(c *call) (any, *apiError) {
	r := c.region
	ids := c.list("SubnetId")
	fs := c.ec2Filters()
	var items []*Subnet
	found := map[string]bool{}
	for _, s := range r.subnets {
		if len(ids) > 0 && !contains(ids, s.id) {
			continue
		}
		found[s.id] = true
		if matches(fs, s.attrs) {
			items = append(items, s)
		}
	}
	for _, id := range ids {
		if !found[id] {
			return nil, notFound("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
		}
	}
	page, next, aerr := paginate(c, items, c.param("NextToken"), c.intParam("MaxResults"), 1000)
	if aerr != nil {
		return nil, aerr
	}
	out := ec2DescribeSubnetsResult{NextToken: next}
	for _, s := range page {
		free := 1<<(32-s.cidr.Bits()) - 5 - s.nextIP
		out.Subnets = append(out.Subnets, ec2Subnet{
			SubnetID: s.id, SubnetArn: "arn:aws:ec2:" + r.name + ":" + r.acct.id + ":subnet/" + s.id,
			State: "available", VpcID: s.vpc.id, OwnerID: r.acct.id, CidrBlock: s.cidr.String(),
			AvailableIPAddressCount: max(free, 0), AvailabilityZone: s.az, AvailabilityZoneID: azID(s.az),
			MapPublicIPOnLaunch: s.public, Tags: ec2Tags(s.tags),
		})
	}
	return out, nil
}

type ec2Route struct {
	DestinationCidrBlock     string `xml:"destinationCidrBlock,omitempty"`
	DestinationIPv6CidrBlock string `xml:"destinationIpv6CidrBlock,omitempty"`
	DestinationPrefixListID  string `xml:"destinationPrefixListId,omitempty"`
	GatewayID                string `xml:"gatewayId,omitempty"`
	EgressOnlyGatewayID      string `xml:"egressOnlyInternetGatewayId,omitempty"`
	NatGatewayID             string `xml:"natGatewayId,omitempty"`
	TransitGatewayID         string `xml:"transitGatewayId,omitempty"`
	VpcPeeringConnectionID   string `xml:"vpcPeeringConnectionId,omitempty"`
	InstanceID               string `xml:"instanceId,omitempty"`
	InstanceOwnerID          string `xml:"instanceOwnerId,omitempty"`
	NetworkInterfaceID       string `xml:"networkInterfaceId,omitempty"`
	State                    string `xml:"state"`
	Origin                   string `xml:"origin"`
}

type ec2RouteTableAssociation struct {
	RouteTableAssociationID string `xml:"routeTableAssociationId"`
	RouteTableID            string `xml:"routeTableId"`
	SubnetID                string `xml:"subnetId,omitempty"`
	Main                    bool   `xml:"main"`
	State                   string `xml:"associationState>state"`
}

type ec2RouteTable struct {
	RouteTableID string                     `xml:"routeTableId"`
	VpcID        string                     `xml:"vpcId"`
	OwnerID      string                     `xml:"ownerId"`
	Routes       []ec2Route                 `xml:"routeSet>item"`
	Associations []ec2RouteTableAssociation `xml:"associationSet>item"`
	Tags         []ec2Tag                   `xml:"tagSet>item"`
}

type ec2DescribeRouteTablesResult struct {
	RouteTables []ec2RouteTable `xml:"routeTableSet>item"`
	NextToken   string          `xml:"nextToken,omitempty"`
}

func (rt *routeTable) attrs(name string) ([]string, bool) {
	switch name {
	case "vpc-id":
		return one(rt.vpc.id), true
	case "route-table-id":
		return one(rt.id), true
	case "association.main":
		return one(strconv.FormatBool(rt.main)), true
	case "association.subnet-id":
		var ids []string
		for _, a := range rt.assocs {
			ids = append(ids, a.subnetID)
		}
		return ids, true
	case "association.route-table-association-id":
		var ids []string
		for _, a := range rt.assocs {
			ids = append(ids, a.id)
		}
		if rt.main {
			ids = append(ids, rt.mainAs)
		}
		return ids, true
	}
	return tagAttr(name, rt.tags)
}

func (rt *routeTable) wire(acct string) ec2RouteTable {
	out := ec2RouteTable{RouteTableID: rt.id, VpcID: rt.vpc.id, OwnerID: acct, Tags: ec2Tags(rt.tags)}
	for _, x := range rt.routes {
		w := ec2Route{State: x.state, Origin: x.origin}
		switch {
		case strings.HasPrefix(x.dest, "pl-"):
			w.DestinationPrefixListID = x.dest
		case strings.Contains(x.dest, ":"):
			w.DestinationIPv6CidrBlock = x.dest
		default:
			w.DestinationCidrBlock = x.dest
		}
		t := x.target
		switch {
		case strings.HasPrefix(t, "nat-"):
			w.NatGatewayID = t
		case strings.HasPrefix(t, "tgw-"):
			w.TransitGatewayID = t
		case strings.HasPrefix(t, "pcx-"):
			w.VpcPeeringConnectionID = t
		case strings.HasPrefix(t, "i-"):
			w.InstanceID, w.InstanceOwnerID = t, acct
		case strings.HasPrefix(t, "eni-"):
			w.NetworkInterfaceID = t
		case strings.HasPrefix(t, "eigw-"):
			w.EgressOnlyGatewayID = t
		default: // local, igw-, vgw-, vpce-
			w.GatewayID = t
		}
		out.Routes = append(out.Routes, w)
	}
	if rt.main {
		out.Associations = append(out.Associations, ec2RouteTableAssociation{
			RouteTableAssociationID: rt.mainAs, RouteTableID: rt.id, Main: true, State: "associated"})
	}
	for _, a := range rt.assocs {
		out.Associations = append(out.Associations, ec2RouteTableAssociation{
			RouteTableAssociationID: a.id, RouteTableID: rt.id, SubnetID: a.subnetID, State: "associated"})
	}
	return out
}

func ec2DescribeRouteTables(c *call) (any, *apiError) {
	r := c.region
	ids := c.list("RouteTableId")
	fs := c.ec2Filters()
	var items []*routeTable
	found := map[string]bool{}
	for _, rt := range r.rtbs {
		if len(ids) > 0 && !contains(ids, rt.id) {
			continue
		}
		found[rt.id] = true
		if matches(fs, rt.attrs) {
			items = append(items, rt)
		}
	}
	for _, id := range ids {
		if !found[id] {
			return nil, notFound("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
		}
	}
	page, next, aerr := paginate(c, items, c.param("NextToken"), c.intParam("MaxResults"), 100)
	if aerr != nil {
		return nil, aerr
	}
	out := ec2DescribeRouteTablesResult{NextToken: next}
	for _, rt := range page {
		out.RouteTables = append(out.RouteTables, rt.wire(r.acct.id))
	}
	return out, nil
}

type ec2DNSEntry struct {
	DNSName      string `xml:"dnsName"`
	HostedZoneID string `xml:"hostedZoneId"`
}

type ec2VpcEndpoint struct {
	VpcEndpointID            string        `xml:"vpcEndpointId"`
	VpcEndpointType          string        `xml:"vpcEndpointType"`
	VpcID                    string        `xml:"vpcId"`
	ServiceName              string        `xml:"serviceName,omitempty"`
	State                    string        `xml:"state"`
	PolicyDocument           string        `xml:"policyDocument,omitempty"`
	RouteTableIDs            []string      `xml:"routeTableIdSet>item"`
	SubnetIDs                []string      `xml:"subnetIdSet>item"`
	Groups                   []ec2Group    `xml:"groupSet>item"`
	IPAddressType            string        `xml:"ipAddressType"`
	PrivateDNSEnabled        bool          `xml:"privateDnsEnabled"`
	RequesterManaged         bool          `xml:"requesterManaged"`
	NetworkInterfaceIDs      []string      `xml:"networkInterfaceIdSet>item"`
	DNSEntries               []ec2DNSEntry `xml:"dnsEntrySet>item"`
	CreationTimestamp        string        `xml:"creationTimestamp"`
	Tags                     []ec2Tag      `xml:"tagSet>item"`
	OwnerID                  string        `xml:"ownerId"`
	ResourceConfigurationArn string        `xml:"resourceConfigurationArn,omitempty"`
}

type ec2DescribeVpcEndpointsResult struct {
	VpcEndpoints []ec2VpcEndpoint `xml:"vpcEndpointSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

func (e *VPCEndpoint) attrs(name string) ([]string, bool) {
	switch name {
	case "vpc-id":
		return one(e.vpc.id), true
	case "vpc-endpoint-id":
		return one(e.id), true
	case "vpc-endpoint-type":
		return one(e.typ), true
	case "service-name":
		return one(e.service), true
	case "vpc-endpoint-state":
		return one(e.state), true
	}
	return tagAttr(name, e.tags)
}

const allowAllPolicy = `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`

func (e *VPCEndpoint) wire(acct string) ec2VpcEndpoint {
	r := e.vpc.r
	out := ec2VpcEndpoint{
		VpcEndpointID: e.id, VpcEndpointType: e.typ, VpcID: e.vpc.id, ServiceName: e.service, State: e.state,
		RouteTableIDs: e.rtbs, Groups: ec2Groups(e.sgs), IPAddressType: "ipv4", PrivateDNSEnabled: e.privateDNS,
		NetworkInterfaceIDs: e.enis, CreationTimestamp: created.Format(isoMillis), Tags: ec2Tags(e.tags),
		OwnerID: acct, ResourceConfigurationArn: e.rcfgARN,
	}
	if e.typ != "Resource" {
		out.PolicyDocument = allowAllPolicy
	}
	for _, s := range e.subnets {
		out.SubnetIDs = append(out.SubnetIDs, s.id)
	}
	zone := "Z" + strings.ToUpper(stable("zone/"+r.name, 13))
	for _, d := range e.dns {
		out.DNSEntries = append(out.DNSEntries, ec2DNSEntry{d, zone})
	}
	if e.privateDNS && e.typ == "Interface" {
		short := e.service[strings.LastIndex(e.service, ".")+1:]
		out.DNSEntries = append(out.DNSEntries, ec2DNSEntry{short + "." + r.name + ".amazonaws.com", "Z" + strings.ToUpper(stable("private/"+e.id, 20))})
	}
	return out
}

func ec2DescribeVpcEndpoints(c *call) (any, *apiError) {
	r := c.region
	ids := c.list("VpcEndpointId")
	fs := c.ec2Filters()
	var items []*VPCEndpoint
	found := map[string]bool{}
	for _, e := range r.vpces {
		if len(ids) > 0 && !contains(ids, e.id) {
			continue
		}
		found[e.id] = true
		if matches(fs, e.attrs) {
			items = append(items, e)
		}
	}
	for _, id := range ids {
		if !found[id] {
			return nil, notFound("InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id '%s' does not exist", id)
		}
	}
	page, next, aerr := paginate(c, items, c.param("NextToken"), c.intParam("MaxResults"), 1000)
	if aerr != nil {
		return nil, aerr
	}
	out := ec2DescribeVpcEndpointsResult{NextToken: next}
	for _, e := range page {
		out.VpcEndpoints = append(out.VpcEndpoints, e.wire(r.acct.id))
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
