package awsfake

import (
	"fmt"
	"net/netip"
	"strings"
)

// Region is one account's topology in one region.
type Region struct {
	f    *Fake
	acct *Account
	name string

	vpcs      []*VPC
	subnets   []*Subnet
	sgs       []*SecurityGroup
	rtbs      []*routeTable
	instances []*Instance
	vpces     []*VPCEndpoint

	dbs            []*DBInstance
	clusters       []*DBCluster
	proxies        []*DBProxy
	dbSubnetGroups []*subnetGroup
	redshifts      []*RedshiftCluster
	rsSubnetGroups []*subnetGroup
	workgroups     []*Workgroup
	managed        []*ManagedEndpoint
	secrets        []*secret
}

// Name returns the region name.
func (r *Region) Name() string { return r.name }

// Account returns the account the region belongs to.
func (r *Region) Account() *Account { return r.acct }

type tag struct{ key, value string }

type tags []tag

func (t *tags) set(k, v string) {
	for i := range *t {
		if (*t)[i].key == k {
			(*t)[i].value = v
			return
		}
	}
	*t = append(*t, tag{k, v})
}

func (t tags) get(k string) (string, bool) {
	for _, x := range t {
		if x.key == k {
			return x.value, true
		}
	}
	return "", false
}

// VPC is a virtual private cloud. A new VPC has a main route table with
// only the local route and a "default" security group.
type VPC struct {
	r         *Region
	id        string
	cidr      netip.Prefix
	main      *routeTable
	public    *routeTable
	igw, nat  string
	defaultSG *SecurityGroup
	nsubnets  int
	tags      tags
}

// VPC adds a VPC with the given IPv4 CIDR.
func (r *Region) VPC(cidr string) *VPC {
	p := mustPrefix(cidr)
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	v := &VPC{r: r, id: r.f.hexID("vpc"), cidr: p}
	v.main = r.newRouteTable(v, true)
	v.defaultSG = v.newSG("default", "default VPC security group")
	v.defaultSG.rule(&v.defaultSG.ingress, "-1", 0, 0).addGroup(v.defaultSG.id, r.acct.id)
	r.vpcs = append(r.vpcs, v)
	return v
}

// ID returns the vpc- id.
func (v *VPC) ID() string { return v.id }

// CIDR returns the VPC's IPv4 CIDR.
func (v *VPC) CIDR() string { return v.cidr.String() }

// DefaultSecurityGroup returns the VPC's "default" group (all traffic from
// itself, all egress).
func (v *VPC) DefaultSecurityGroup() *SecurityGroup { return v.defaultSG }

// MainRouteTableID returns the id of the VPC's main route table.
func (v *VPC) MainRouteTableID() string { return v.main.id }

// InternetGatewayID returns the igw- id, "" until a public subnet exists.
func (v *VPC) InternetGatewayID() string {
	v.r.f.mu.RLock()
	defer v.r.f.mu.RUnlock()
	return v.igw
}

// NATGatewayID returns the nat- id, "" until a subnet asked WithNAT.
func (v *VPC) NATGatewayID() string {
	v.r.f.mu.RLock()
	defer v.r.f.mu.RUnlock()
	return v.nat
}

// Route adds a route to the VPC's main route table. The target's prefix
// picks its kind: igw-, vgw-, vpce- and "local" are gateways; nat-, tgw-,
// pcx-, i-, eni- are NAT gateways, transit gateways, peering connections,
// instances and network interfaces. A destination of pl-… is a prefix list.
func (v *VPC) Route(dest, target string) *VPC {
	v.r.f.mu.Lock()
	defer v.r.f.mu.Unlock()
	v.main.addRoute(dest, target, "active")
	return v
}

// Tag sets a tag on the VPC.
func (v *VPC) Tag(key, value string) *VPC {
	v.r.f.mu.Lock()
	defer v.r.f.mu.Unlock()
	v.tags.set(key, value)
	return v
}

// SubnetOption configures a subnet.
type SubnetOption func(*subnetOptions)

type subnetOptions struct {
	public bool
	az     string
}

// Public makes a subnet public: it gets the VPC's internet gateway (made
// on first use) through a shared route table with 0.0.0.0/0 → igw-…, and
// instances launched in it map public IPs.
var Public SubnetOption = func(o *subnetOptions) { o.public = true }

// AZ places a subnet in an availability zone: a full name
// ("ap-northeast-1c") or only its letter ("c"). By default subnets take
// the zones a, b, c in turn.
func AZ(zone string) SubnetOption {
	return func(o *subnetOptions) { o.az = zone }
}

// Subnet is a subnet of a VPC.
type Subnet struct {
	vpc    *VPC
	id     string
	cidr   netip.Prefix
	az     string
	public bool
	rt     *routeTable // explicit association, nil: the main table
	nextIP int
	tags   tags
}

// Subnet adds a subnet. Without options it is private and uses the VPC's
// main route table.
func (v *VPC) Subnet(cidr string, opts ...SubnetOption) *Subnet {
	p := mustPrefix(cidr)
	var o subnetOptions
	for _, fn := range opts {
		fn(&o)
	}
	r := v.r
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	az := o.az
	switch {
	case az == "":
		az = r.name + string(rune('a'+v.nsubnets%3))
	case len(az) == 1:
		az = r.name + az
	}
	v.nsubnets++
	s := &Subnet{vpc: v, id: r.f.hexID("subnet"), cidr: p, az: az, public: o.public}
	if o.public {
		if v.igw == "" {
			v.igw = r.f.hexID("igw")
		}
		if v.public == nil {
			v.public = r.newRouteTable(v, false)
			v.public.addRoute("0.0.0.0/0", v.igw, "active")
		}
		v.public.associate(s)
		s.rt = v.public
	}
	r.subnets = append(r.subnets, s)
	return s
}

// ID returns the subnet- id.
func (s *Subnet) ID() string { return s.id }

// VPC returns the subnet's VPC.
func (s *Subnet) VPC() *VPC { return s.vpc }

// AZ returns the subnet's availability zone.
func (s *Subnet) AZ() string { return s.az }

// CIDR returns the subnet's CIDR.
func (s *Subnet) CIDR() string { return s.cidr.String() }

// RouteTableID returns the id of the route table the subnet uses.
func (s *Subnet) RouteTableID() string {
	s.vpc.r.f.mu.RLock()
	defer s.vpc.r.f.mu.RUnlock()
	return s.table().id
}

func (s *Subnet) table() *routeTable {
	if s.rt != nil {
		return s.rt
	}
	return s.vpc.main
}

// WithNAT gives the subnet its own route table whose default route goes to
// the VPC's NAT gateway (one per VPC, made on first use).
func (s *Subnet) WithNAT() *Subnet {
	f := s.vpc.r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.vpc.nat == "" {
		s.vpc.nat = f.hexID("nat")
	}
	s.ownTable().addRoute("0.0.0.0/0", s.vpc.nat, "active")
	return s
}

// Route adds a route to the subnet's own route table (made, as a copy of
// the one it used, on first use). See VPC.Route for targets.
func (s *Subnet) Route(dest, target string) *Subnet {
	f := s.vpc.r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	s.ownTable().addRoute(dest, target, "active")
	return s
}

// BlackholeRoute adds a route in state blackhole (its target is gone).
func (s *Subnet) BlackholeRoute(dest, target string) *Subnet {
	f := s.vpc.r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	s.ownTable().addRoute(dest, target, "blackhole")
	return s
}

// Tag sets a tag on the subnet.
func (s *Subnet) Tag(key, value string) *Subnet {
	s.vpc.r.f.mu.Lock()
	defer s.vpc.r.f.mu.Unlock()
	s.tags.set(key, value)
	return s
}

// ownTable returns the subnet's private route table; f.mu is held.
func (s *Subnet) ownTable() *routeTable {
	cur := s.table()
	if cur != s.vpc.main && cur != s.vpc.public {
		return cur
	}
	rt := s.vpc.r.newRouteTable(s.vpc, false)
	rt.routes = append([]route(nil), cur.routes...)
	if cur != s.vpc.main {
		cur.disassociate(s)
	}
	rt.associate(s)
	s.rt = rt
	return rt
}

// allocIP hands out the subnet's next private address; f.mu is held.
func (s *Subnet) allocIP() string {
	ip := hostIP(s.cidr, s.nextIP)
	s.nextIP++
	return ip
}

type routeTable struct {
	vpc    *VPC
	id     string
	main   bool
	mainAs string // association id of the main flag
	assocs []rtAssoc
	routes []route
	tags   tags
}

type rtAssoc struct{ id, subnetID string }

type route struct{ dest, target, state, origin string }

// newRouteTable adds a table with the local route; f.mu is held.
func (r *Region) newRouteTable(v *VPC, main bool) *routeTable {
	rt := &routeTable{vpc: v, id: r.f.hexID("rtb"), main: main}
	if main {
		rt.mainAs = r.f.hexID("rtbassoc")
	}
	rt.routes = []route{{dest: v.cidr.String(), target: "local", state: "active", origin: "CreateRouteTable"}}
	r.rtbs = append(r.rtbs, rt)
	return rt
}

func (rt *routeTable) addRoute(dest, target, state string) {
	for i := range rt.routes {
		if rt.routes[i].dest == dest {
			rt.routes[i] = route{dest, target, state, "CreateRoute"}
			return
		}
	}
	rt.routes = append(rt.routes, route{dest, target, state, "CreateRoute"})
}

func (rt *routeTable) associate(s *Subnet) {
	rt.assocs = append(rt.assocs, rtAssoc{id: rt.vpc.r.f.hexID("rtbassoc"), subnetID: s.id})
}

func (rt *routeTable) disassociate(s *Subnet) {
	out := rt.assocs[:0]
	for _, a := range rt.assocs {
		if a.subnetID != s.id {
			out = append(out, a)
		}
	}
	rt.assocs = out
}

// SecurityGroup is a VPC security group. A new group allows all egress
// and no ingress, like EC2's.
type SecurityGroup struct {
	vpc     *VPC
	id      string
	name    string
	desc    string
	ingress []*perm
	egress  []*perm
	tags    tags
}

type perm struct {
	proto    string
	from, to int
	cidrs    []string
	cidrs6   []string
	groups   []string
	owners   []string // account of each group, parallel to groups
	prefixes []string
}

// SecurityGroup adds a security group named name.
func (v *VPC) SecurityGroup(name string) *SecurityGroup {
	v.r.f.mu.Lock()
	defer v.r.f.mu.Unlock()
	return v.newSG(name, name)
}

func (v *VPC) newSG(name, desc string) *SecurityGroup {
	g := &SecurityGroup{vpc: v, id: v.r.f.hexID("sg"), name: name, desc: desc}
	g.egress = []*perm{{proto: "-1", cidrs: []string{"0.0.0.0/0"}}}
	v.r.sgs = append(v.r.sgs, g)
	return g
}

// ID returns the sg- id.
func (g *SecurityGroup) ID() string { return g.id }

// Name returns the group name.
func (g *SecurityGroup) Name() string { return g.name }

// Description sets the group description (default: the name).
func (g *SecurityGroup) Description(d string) *SecurityGroup {
	defer g.lock()()
	g.desc = d
	return g
}

// AllowIngress allows inbound proto/port from CIDRs (IPv4 or IPv6).
// proto is "tcp", "udp", "icmp" or "-1"/"all" (port then ignored).
func (g *SecurityGroup) AllowIngress(proto string, port int, cidrs ...string) *SecurityGroup {
	return g.AllowIngressRange(proto, port, port, cidrs...)
}

// AllowIngressRange allows inbound proto on ports from..to from CIDRs.
func (g *SecurityGroup) AllowIngressRange(proto string, from, to int, cidrs ...string) *SecurityGroup {
	defer g.lock()()
	p := g.rule(&g.ingress, proto, from, to)
	p.addCIDRs(cidrs)
	return g
}

// AllowIngressFromGroup allows inbound proto/port from members of the
// source groups.
func (g *SecurityGroup) AllowIngressFromGroup(proto string, port int, src ...*SecurityGroup) *SecurityGroup {
	defer g.lock()()
	p := g.rule(&g.ingress, proto, port, port)
	for _, s := range src {
		p.addGroup(s.id, s.vpc.r.acct.id)
	}
	return g
}

// AllowIngressFromPrefixList allows inbound proto/port from a managed
// prefix list (pl-…).
func (g *SecurityGroup) AllowIngressFromPrefixList(proto string, port int, prefixList string) *SecurityGroup {
	defer g.lock()()
	p := g.rule(&g.ingress, proto, port, port)
	p.prefixes = appendNew(p.prefixes, prefixList)
	return g
}

// AllowEgress allows outbound proto/port to CIDRs.
func (g *SecurityGroup) AllowEgress(proto string, port int, cidrs ...string) *SecurityGroup {
	defer g.lock()()
	p := g.rule(&g.egress, proto, port, port)
	p.addCIDRs(cidrs)
	return g
}

// AllowEgressToGroup allows outbound proto/port to members of the groups.
func (g *SecurityGroup) AllowEgressToGroup(proto string, port int, dst ...*SecurityGroup) *SecurityGroup {
	defer g.lock()()
	p := g.rule(&g.egress, proto, port, port)
	for _, d := range dst {
		p.addGroup(d.id, d.vpc.r.acct.id)
	}
	return g
}

// NoEgress removes every outbound rule, the default allow-all included.
func (g *SecurityGroup) NoEgress() *SecurityGroup {
	defer g.lock()()
	g.egress = nil
	return g
}

// Tag sets a tag on the group.
func (g *SecurityGroup) Tag(key, value string) *SecurityGroup {
	defer g.lock()()
	g.tags.set(key, value)
	return g
}

func (g *SecurityGroup) lock() func() {
	g.vpc.r.f.mu.Lock()
	return g.vpc.r.f.mu.Unlock
}

// rule finds or adds the permission for proto and ports; EC2 merges
// sources of the same protocol and port range into one permission.
func (g *SecurityGroup) rule(list *[]*perm, proto string, from, to int) *perm {
	proto = strings.ToLower(proto)
	switch proto {
	case "all", "-1":
		proto, from, to = "-1", 0, 0
	case "6":
		proto = "tcp"
	case "17":
		proto = "udp"
	case "1":
		proto = "icmp"
	}
	for _, p := range *list {
		if p.proto == proto && p.from == from && p.to == to {
			return p
		}
	}
	p := &perm{proto: proto, from: from, to: to}
	*list = append(*list, p)
	return p
}

func (p *perm) addCIDRs(cidrs []string) {
	for _, c := range cidrs {
		if strings.Contains(c, ":") {
			p.cidrs6 = appendNew(p.cidrs6, c)
		} else {
			p.cidrs = appendNew(p.cidrs, c)
		}
	}
}

func (p *perm) addGroup(id, owner string) {
	for _, g := range p.groups {
		if g == id {
			return
		}
	}
	p.groups = append(p.groups, id)
	p.owners = append(p.owners, owner)
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Instance is an EC2 instance. A new one is running, Linux, t3.micro, has
// the next private address of its subnet and no public address.
type Instance struct {
	r          *Region
	id         string
	resID      string
	eni        string
	image      string
	subnet     *Subnet
	sgs        []*SecurityGroup
	privateIP  string
	publicIP   string
	state      string
	keyName    string
	profileARN string
	profileID  string
	windows    bool
	itype      string
	tags       tags
	ssm        *ssmAgent
}

type ssmAgent struct {
	ping, version, platformName, platformVersion string
}

// Instance launches an instance named name (its Name tag) in the subnet
// with the groups (the VPC's default group when none).
func (r *Region) Instance(name string, subnet *Subnet, sgs ...*SecurityGroup) *Instance {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{subnet.vpc.defaultSG}
	}
	i := &Instance{
		r: r, id: r.f.hexID("i"), resID: r.f.hexID("r"), eni: r.f.hexID("eni"), image: r.f.hexID("ami"),
		subnet: subnet, sgs: sgs, privateIP: subnet.allocIP(), state: "running", itype: "t3.micro",
	}
	if name != "" {
		i.tags.set("Name", name)
	}
	r.instances = append(r.instances, i)
	return i
}

func (i *Instance) lock() func() {
	i.r.f.mu.Lock()
	return i.r.f.mu.Unlock
}

// ID returns the i- id.
func (i *Instance) ID() string { return i.id }

// PrivateIP returns the instance's private IPv4 address.
func (i *Instance) PrivateIP() string {
	i.r.f.mu.RLock()
	defer i.r.f.mu.RUnlock()
	return i.privateIP
}

// SetPrivateIP overrides the private address.
func (i *Instance) SetPrivateIP(ip string) *Instance {
	defer i.lock()()
	i.privateIP = ip
	return i
}

// PublicIP gives the instance a public IPv4 address.
func (i *Instance) PublicIP(ip string) *Instance {
	defer i.lock()()
	i.publicIP = ip
	return i
}

// InstanceProfile attaches the IAM instance profile with this name.
func (i *Instance) InstanceProfile(name string) *Instance {
	defer i.lock()()
	i.profileARN = "arn:aws:iam::" + i.r.acct.id + ":instance-profile/" + name
	i.profileID = "AIPA" + i.r.f.upperID(17)
	return i
}

// KeyName sets the EC2 key pair name.
func (i *Instance) KeyName(k string) *Instance {
	defer i.lock()()
	i.keyName = k
	return i
}

// State sets the instance state: pending, running, shutting-down,
// terminated, stopping or stopped.
func (i *Instance) State(s string) *Instance {
	defer i.lock()()
	if _, ok := instanceStateCodes[s]; !ok {
		panic(fmt.Sprintf("awsfake: unknown instance state %q", s))
	}
	i.state = s
	return i
}

var instanceStateCodes = map[string]int{
	"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80,
}

// Windows makes it a Windows instance.
func (i *Instance) Windows() *Instance {
	defer i.lock()()
	i.windows = true
	return i
}

// InstanceType sets the instance type (default t3.micro).
func (i *Instance) InstanceType(t string) *Instance {
	defer i.lock()()
	i.itype = t
	return i
}

// Tag sets a tag on the instance.
func (i *Instance) Tag(key, value string) *Instance {
	defer i.lock()()
	i.tags.set(key, value)
	return i
}

// SSMOnline registers the instance with Systems Manager, agent online.
func (i *Instance) SSMOnline() *Instance { return i.SSM("Online") }

// SSM registers the instance with Systems Manager with the given ping
// status: Online, ConnectionLost or Inactive.
func (i *Instance) SSM(pingStatus string) *Instance {
	defer i.lock()()
	if i.ssm == nil {
		i.ssm = &ssmAgent{version: "3.3.1611.0", platformName: "Amazon Linux", platformVersion: "2023"}
		if i.windows {
			i.ssm.platformName, i.ssm.platformVersion = "Microsoft Windows Server 2022 Datacenter", "10.0.20348"
		}
	}
	i.ssm.ping = pingStatus
	return i
}

// SSMAgent sets the registered agent's version (registering it Online if
// it was not registered).
func (i *Instance) SSMAgent(version string) *Instance {
	i.r.f.mu.RLock()
	registered := i.ssm != nil
	i.r.f.mu.RUnlock()
	if !registered {
		i.SSMOnline()
	}
	defer i.lock()()
	i.ssm.version = version
	return i
}

// VPCEndpoint is an interface, gateway or resource VPC endpoint.
type VPCEndpoint struct {
	vpc        *VPC
	id         string
	typ        string
	service    string
	state      string
	subnets    []*Subnet
	sgs        []*SecurityGroup
	privateDNS bool
	dns        []string
	enis       []string
	rtbs       []string
	rcfgARN    string
	tags       tags
}

// InterfaceEndpoint adds an Interface endpoint for a service: a short
// name ("ssm", "ssmmessages", "ec2messages") becomes
// com.amazonaws.REGION.NAME. Private DNS is on: the service's regional
// name resolves to the endpoint inside the VPC.
func (v *VPC) InterfaceEndpoint(service string, subnets []*Subnet, sgs ...*SecurityGroup) *VPCEndpoint {
	r := v.r
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{v.defaultSG}
	}
	e := v.newEndpoint("Interface", serviceName(r.name, service), subnets, sgs)
	short := e.service[strings.LastIndex(e.service, ".")+1:]
	base := e.id + "-" + r.f.lowerID(8)
	e.dns = append(e.dns, base+"."+short+"."+r.name+".vpce.amazonaws.com")
	for _, s := range subnets {
		e.dns = append(e.dns, base+"-"+s.az+"."+short+"."+r.name+".vpce.amazonaws.com")
	}
	e.privateDNS = true
	return e
}

// GatewayEndpoint adds a Gateway endpoint ("s3", "dynamodb") attached to
// every route table of the VPC, with its prefix-list route.
func (v *VPC) GatewayEndpoint(service string) *VPCEndpoint {
	r := v.r
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	e := v.newEndpoint("Gateway", serviceName(r.name, service), nil, nil)
	pl := r.f.hexID("pl")
	for _, rt := range r.rtbs {
		if rt.vpc == v {
			e.rtbs = append(e.rtbs, rt.id)
			rt.addRoute(pl, e.id, "active")
		}
	}
	return e
}

// ResourceEndpoint adds a Resource endpoint (PrivateLink to a VPC Lattice
// resource configuration) named name (its Name tag). Only its security
// groups control access.
func (v *VPC) ResourceEndpoint(name string, subnets []*Subnet, sgs ...*SecurityGroup) *VPCEndpoint {
	r := v.r
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{v.defaultSG}
	}
	e := v.newEndpoint("Resource", "", subnets, sgs)
	rcfg := "rcfg-" + r.f.hexID("x")[2:]
	e.rcfgARN = "arn:aws:vpc-lattice:" + r.name + ":" + r.acct.id + ":resourceconfiguration/" + rcfg
	e.dns = []string{e.id + "-" + r.f.lowerID(8) + "." + rcfg + "." + r.f.lowerID(4) + ".vpc-lattice-rsc." + r.name + ".on.aws"}
	if name != "" {
		e.tags.set("Name", name)
	}
	return e
}

func (v *VPC) newEndpoint(typ, service string, subnets []*Subnet, sgs []*SecurityGroup) *VPCEndpoint {
	f := v.r.f
	e := &VPCEndpoint{vpc: v, id: f.hexID("vpce"), typ: typ, service: service, state: "available", subnets: subnets, sgs: sgs}
	for range subnets {
		e.enis = append(e.enis, f.hexID("eni"))
	}
	v.r.vpces = append(v.r.vpces, e)
	return e
}

func serviceName(region, s string) string {
	if strings.Contains(s, ".") {
		return s
	}
	return "com.amazonaws." + region + "." + s
}

func (e *VPCEndpoint) lock() func() {
	e.vpc.r.f.mu.Lock()
	return e.vpc.r.f.mu.Unlock
}

// ID returns the vpce- id.
func (e *VPCEndpoint) ID() string { return e.id }

// ServiceName returns the endpoint's service name ("" for Resource).
func (e *VPCEndpoint) ServiceName() string { return e.service }

// DNSNames returns the endpoint's DNS names.
func (e *VPCEndpoint) DNSNames() []string {
	e.vpc.r.f.mu.RLock()
	defer e.vpc.r.f.mu.RUnlock()
	return append([]string(nil), e.dns...)
}

// ResourceConfigurationARN returns the ARN of a Resource endpoint's
// resource configuration.
func (e *VPCEndpoint) ResourceConfigurationARN() string {
	e.vpc.r.f.mu.RLock()
	defer e.vpc.r.f.mu.RUnlock()
	return e.rcfgARN
}

// ResourceConfiguration points a Resource endpoint at a resource
// configuration ARN (one shared from another account, say).
func (e *VPCEndpoint) ResourceConfiguration(arn string) *VPCEndpoint {
	defer e.lock()()
	e.rcfgARN = arn
	return e
}

// PrivateDNS turns the endpoint's private DNS on or off.
func (e *VPCEndpoint) PrivateDNS(on bool) *VPCEndpoint {
	defer e.lock()()
	e.privateDNS = on
	return e
}

// State sets the endpoint state (default "available"; also "pending",
// "pendingAcceptance", "rejected", "failed", "deleting").
func (e *VPCEndpoint) State(s string) *VPCEndpoint {
	defer e.lock()()
	e.state = s
	return e
}

// Tag sets a tag on the endpoint.
func (e *VPCEndpoint) Tag(key, value string) *VPCEndpoint {
	defer e.lock()()
	e.tags.set(key, value)
	return e
}

func mustPrefix(cidr string) netip.Prefix {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		panic(fmt.Sprintf("awsfake: bad CIDR %q: %v", cidr, err))
	}
	return p
}
