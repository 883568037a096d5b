package awsfake

import (
	"fmt"
	"strconv"
	"strings"
)

// Addr is a database address: the DNS name and port a client connects to.
type Addr struct {
	Host string
	Port int
}

func (a Addr) String() string { return a.Host + ":" + strconv.Itoa(a.Port) }

type engineInfo struct {
	port    int
	version string
	user    string
	domain  string // rds, docdb, neptune
	class   string
}

func engineFor(engine string) engineInfo {
	switch {
	case engine == "aurora-postgresql":
		return engineInfo{5432, "16.4", "postgres", "rds", "db.r6g.large"}
	case engine == "aurora-mysql" || engine == "aurora":
		return engineInfo{3306, "8.0.mysql_aurora.3.08.0", "admin", "rds", "db.r6g.large"}
	case engine == "docdb":
		return engineInfo{27017, "5.0.0", "docdbadmin", "docdb", "db.r6g.large"}
	case engine == "neptune":
		return engineInfo{8182, "1.3.2.1", "", "neptune", "db.r6g.large"}
	case engine == "postgres":
		return engineInfo{5432, "16.4", "postgres", "rds", "db.t4g.medium"}
	case engine == "mysql":
		return engineInfo{3306, "8.0.40", "admin", "rds", "db.t4g.medium"}
	case engine == "mariadb":
		return engineInfo{3306, "10.11.10", "admin", "rds", "db.t4g.medium"}
	case strings.HasPrefix(engine, "oracle"):
		return engineInfo{1521, "19.0.0.0.ru-2024-10.rur-2024-10.r1", "admin", "rds", "db.m5.large"}
	case strings.HasPrefix(engine, "sqlserver"):
		return engineInfo{1433, "16.00.4165.4.v1", "admin", "rds", "db.m5.large"}
	case engine == "db2-se" || engine == "db2-ae":
		return engineInfo{50000, "11.5.9.0.sb00000000.r1", "admin", "rds", "db.m6i.large"}
	}
	return engineInfo{5432, "1.0", "admin", "rds", "db.t4g.medium"}
}

// hostHash is the per-account, per-region fragment of RDS host names.
func (r *Region) hostHash(kind string) string {
	return stable(kind+"/"+r.acct.id+"/"+r.name, 12)
}

func (r *Region) rdsArn(kind, id string) string {
	return "arn:aws:rds:" + r.name + ":" + r.acct.id + ":" + kind + ":" + id
}

func (r *Region) secretARN(kind string) string {
	return "arn:aws:secretsmanager:" + r.name + ":" + r.acct.id + ":secret:rds!" + kind + "-" + r.f.uuid() + "-" + r.f.lowerID(6)
}

// subnetGroup is an RDS DB subnet group or a Redshift cluster subnet group.
type subnetGroup struct {
	name    string
	desc    string
	arn     string
	vpc     *VPC
	subnets []*Subnet
}

func (r *Region) newSubnetGroup(kind, name string, subnets []*Subnet) *subnetGroup {
	if len(subnets) == 0 {
		panic("awsfake: " + name + ": a database needs at least one subnet")
	}
	v := subnets[0].vpc
	for _, s := range subnets {
		if s.vpc != v {
			panic(fmt.Sprintf("awsfake: %s: subnets %s and %s are in different VPCs", name, subnets[0].id, s.id))
		}
	}
	g := &subnetGroup{name: name, desc: "subnets of " + strings.TrimSuffix(name, "-subnets"), vpc: v, subnets: subnets}
	if kind == "rds" {
		g.arn = r.rdsArn("subgrp", name)
		r.dbSubnetGroups = append(r.dbSubnetGroups, g)
	} else {
		r.rsSubnetGroups = append(r.rsSubnetGroups, g)
	}
	return g
}

// DBInstance is an RDS DB instance: a standalone one, or a member of an
// Aurora, DocumentDB or Neptune cluster.
type DBInstance struct {
	r       *Region
	id      string
	engine  string
	version string
	class   string
	status  string
	port    int
	host    string
	group   *subnetGroup
	sgs     []*SecurityGroup
	iam     bool
	secret  string
	cluster *DBCluster
	writer  bool
	public  bool
	az      string
	resID   string
	user    string
	tags    tags
}

// RDSInstance adds a standalone DB instance (engine "postgres", "mysql",
// "mariadb", "oracle-ee", "sqlserver-se", …) in a DB subnet group made of
// the subnets, named ID-subnets.
func (r *Region) RDSInstance(id, engine string, subnets []*Subnet, sgs ...*SecurityGroup) *DBInstance {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	g := r.newSubnetGroup("rds", id+"-subnets", subnets)
	return r.newDBInstance(id, engine, g, sgs, nil)
}

func (r *Region) newDBInstance(id, engine string, g *subnetGroup, sgs []*SecurityGroup, c *DBCluster) *DBInstance {
	e := engineFor(engine)
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{g.vpc.defaultSG}
	}
	d := &DBInstance{
		r: r, id: id, engine: engine, version: e.version, class: e.class, status: "available",
		port: e.port, group: g, sgs: sgs, cluster: c, user: e.user,
		az:    g.subnets[len(r.dbs)%len(g.subnets)].az,
		resID: "db-" + r.f.upperID(26),
		host:  id + "." + r.hostHash("rds") + "." + r.name + "." + e.domain + ".amazonaws.com",
	}
	r.dbs = append(r.dbs, d)
	return d
}

func (d *DBInstance) lock() func() {
	d.r.f.mu.Lock()
	return d.r.f.mu.Unlock
}

// ID returns the DB instance identifier.
func (d *DBInstance) ID() string { return d.id }

// Endpoint returns the instance's address.
func (d *DBInstance) Endpoint() Addr {
	d.r.f.mu.RLock()
	defer d.r.f.mu.RUnlock()
	return Addr{d.host, d.port}
}

// Port sets the listening port (default: the engine's).
func (d *DBInstance) Port(p int) *DBInstance {
	defer d.lock()()
	d.port = p
	return d
}

// Status sets DBInstanceStatus (default "available").
func (d *DBInstance) Status(s string) *DBInstance {
	defer d.lock()()
	d.status = s
	return d
}

// IAMAuth turns on IAM database authentication.
func (d *DBInstance) IAMAuth() *DBInstance {
	defer d.lock()()
	d.iam = true
	return d
}

// ManagedSecret makes RDS keep the master password in Secrets Manager.
func (d *DBInstance) ManagedSecret() *DBInstance {
	defer d.lock()()
	d.secret = d.r.secretARN("db")
	d.r.managedSecret(d.secret, d.user)
	return d
}

// SecretARN returns the master user secret's ARN, "" without one.
func (d *DBInstance) SecretARN() string {
	d.r.f.mu.RLock()
	defer d.r.f.mu.RUnlock()
	return d.secret
}

// PubliclyAccessible marks the instance publicly accessible.
func (d *DBInstance) PubliclyAccessible() *DBInstance {
	defer d.lock()()
	d.public = true
	return d
}

// EngineVersion sets the engine version.
func (d *DBInstance) EngineVersion(v string) *DBInstance {
	defer d.lock()()
	d.version = v
	return d
}

// Tag sets a tag on the instance.
func (d *DBInstance) Tag(key, value string) *DBInstance {
	defer d.lock()()
	d.tags.set(key, value)
	return d
}

// DBCluster is an Aurora, DocumentDB or Neptune cluster. It is made with
// one writer instance, ID-instance-1.
type DBCluster struct {
	r       *Region
	id      string
	engine  string
	version string
	status  string
	port    int
	hash    string
	domain  string
	group   *subnetGroup
	sgs     []*SecurityGroup
	iam     bool
	secret  string
	members []*DBInstance
	custom  []*customEndpoint
	resID   string
	user    string
	tags    tags
}

type customEndpoint struct {
	name, host, typ, resID string
	members                []string
}

// AuroraCluster adds a DB cluster: engine "aurora-postgresql",
// "aurora-mysql", "docdb" or "neptune", in a DB subnet group made of the
// subnets, named ID-subnets.
func (r *Region) AuroraCluster(id, engine string, subnets []*Subnet, sgs ...*SecurityGroup) *DBCluster {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	e := engineFor(engine)
	g := r.newSubnetGroup("rds", id+"-subnets", subnets)
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{g.vpc.defaultSG}
	}
	c := &DBCluster{
		r: r, id: id, engine: engine, version: e.version, status: "available", port: e.port,
		hash: r.hostHash("rds"), domain: e.domain, group: g, sgs: sgs, user: e.user,
		resID: "cluster-" + r.f.upperID(26),
	}
	r.clusters = append(r.clusters, c)
	w := r.newDBInstance(id+"-instance-1", engine, g, sgs, c)
	w.writer = true
	c.members = append(c.members, w)
	return c
}

func (c *DBCluster) lock() func() {
	c.r.f.mu.Lock()
	return c.r.f.mu.Unlock
}

// ID returns the DB cluster identifier.
func (c *DBCluster) ID() string { return c.id }

func (c *DBCluster) suffix() string {
	return c.hash + "." + c.r.name + "." + c.domain + ".amazonaws.com"
}

// Writer returns the cluster (writer) endpoint.
func (c *DBCluster) Writer() Addr {
	c.r.f.mu.RLock()
	defer c.r.f.mu.RUnlock()
	return Addr{c.id + ".cluster-" + c.suffix(), c.port}
}

// Reader returns the reader endpoint.
func (c *DBCluster) Reader() Addr {
	c.r.f.mu.RLock()
	defer c.r.f.mu.RUnlock()
	return Addr{c.id + ".cluster-ro-" + c.suffix(), c.port}
}

// Custom returns the address of a custom endpoint.
func (c *DBCluster) Custom(name string) Addr {
	c.r.f.mu.RLock()
	defer c.r.f.mu.RUnlock()
	for _, ce := range c.custom {
		if ce.name == name {
			return Addr{ce.host, c.port}
		}
	}
	return Addr{}
}

// Members returns the cluster's DB instances, writer first.
func (c *DBCluster) Members() []*DBInstance {
	c.r.f.mu.RLock()
	defer c.r.f.mu.RUnlock()
	return append([]*DBInstance(nil), c.members...)
}

// Readers adds reader instances until the cluster has n.
func (c *DBCluster) Readers(n int) *DBCluster {
	defer c.lock()()
	for len(c.members) < n+1 {
		m := c.r.newDBInstance(fmt.Sprintf("%s-instance-%d", c.id, len(c.members)+1), c.engine, c.group, c.sgs, c)
		m.port = c.port
		c.members = append(c.members, m)
	}
	return c
}

// CustomEndpoint adds a custom endpoint (type ANY) over the given member
// instances (all readers when none is named).
func (c *DBCluster) CustomEndpoint(name string, members ...string) *DBCluster {
	defer c.lock()()
	if len(members) == 0 {
		for _, m := range c.members[1:] {
			members = append(members, m.id)
		}
	}
	c.custom = append(c.custom, &customEndpoint{
		name: name, host: name + ".cluster-custom-" + c.suffix(), typ: "ANY",
		resID: "cluster-endpoint-" + c.r.f.upperID(26), members: members,
	})
	return c
}

// Port sets the cluster port (default: the engine's), members included.
func (c *DBCluster) Port(p int) *DBCluster {
	defer c.lock()()
	c.port = p
	for _, m := range c.members {
		m.port = p
	}
	return c
}

// Status sets the cluster Status (default "available").
func (c *DBCluster) Status(s string) *DBCluster {
	defer c.lock()()
	c.status = s
	return c
}

// IAMAuth turns on IAM database authentication (members included).
func (c *DBCluster) IAMAuth() *DBCluster {
	defer c.lock()()
	c.iam = true
	for _, m := range c.members {
		m.iam = true
	}
	return c
}

// ManagedSecret makes RDS keep the master password in Secrets Manager.
func (c *DBCluster) ManagedSecret() *DBCluster {
	defer c.lock()()
	c.secret = c.r.secretARN("cluster")
	c.r.managedSecret(c.secret, c.user)
	return c
}

// SecretARN returns the master user secret's ARN, "" without one.
func (c *DBCluster) SecretARN() string {
	c.r.f.mu.RLock()
	defer c.r.f.mu.RUnlock()
	return c.secret
}

// EngineVersion sets the engine version.
func (c *DBCluster) EngineVersion(v string) *DBCluster {
	defer c.lock()()
	c.version = v
	return c
}

// Tag sets a tag on the cluster.
func (c *DBCluster) Tag(key, value string) *DBCluster {
	defer c.lock()()
	c.tags.set(key, value)
	return c
}

// DBProxy is an RDS Proxy with its default endpoint and any extra ones.
type DBProxy struct {
	r         *Region
	name      string
	family    string
	status    string
	host      string
	arn       string
	subnets   []*Subnet
	sgs       []*SecurityGroup
	iam       bool
	tls       bool
	endpoints []*proxyEndpoint
	tags      tags
}

type proxyEndpoint struct {
	name, role, host, arn, status string
	subnets                       []*Subnet
	sgs                           []*SecurityGroup
}

// RDSProxy adds a proxy for engine family "POSTGRESQL", "MYSQL" or
// "SQLSERVER" in the subnets (of one VPC).
func (r *Region) RDSProxy(name, engineFamily string, subnets []*Subnet, sgs ...*SecurityGroup) *DBProxy {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if len(subnets) == 0 {
		panic("awsfake: proxy " + name + " needs at least one subnet")
	}
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{subnets[0].vpc.defaultSG}
	}
	p := &DBProxy{
		r: r, name: name, family: strings.ToUpper(engineFamily), status: "available", tls: true,
		subnets: subnets, sgs: sgs,
		arn:  r.rdsArn("db-proxy", r.f.hexID("prx")),
		host: name + ".proxy-" + r.hostHash("rds") + "." + r.name + ".rds.amazonaws.com",
	}
	r.proxies = append(r.proxies, p)
	return p
}

func (p *DBProxy) lock() func() {
	p.r.f.mu.Lock()
	return p.r.f.mu.Unlock
}

// Name returns the proxy name.
func (p *DBProxy) Name() string { return p.name }

func familyPort(family string) int {
	switch family {
	case "MYSQL":
		return 3306
	case "SQLSERVER":
		return 1433
	}
	return 5432
}

// Endpoint returns the proxy's default (read/write) endpoint.
func (p *DBProxy) Endpoint() Addr {
	p.r.f.mu.RLock()
	defer p.r.f.mu.RUnlock()
	return Addr{p.host, familyPort(p.family)}
}

// EndpointAddr returns the address of one of the proxy's extra endpoints.
func (p *DBProxy) EndpointAddr(name string) Addr {
	p.r.f.mu.RLock()
	defer p.r.f.mu.RUnlock()
	for _, e := range p.endpoints {
		if e.name == name {
			return Addr{e.host, familyPort(p.family)}
		}
	}
	return Addr{}
}

// ReaderEndpoint adds a read-only proxy endpoint, possibly in another VPC.
func (p *DBProxy) ReaderEndpoint(name string, subnets []*Subnet, sgs ...*SecurityGroup) *DBProxy {
	return p.addEndpoint(name, "READ_ONLY", subnets, sgs)
}

// WriterEndpoint adds a read/write proxy endpoint, possibly in another VPC.
func (p *DBProxy) WriterEndpoint(name string, subnets []*Subnet, sgs ...*SecurityGroup) *DBProxy {
	return p.addEndpoint(name, "READ_WRITE", subnets, sgs)
}

func (p *DBProxy) addEndpoint(name, role string, subnets []*Subnet, sgs []*SecurityGroup) *DBProxy {
	defer p.lock()()
	if len(subnets) == 0 {
		panic("awsfake: proxy endpoint " + name + " needs at least one subnet")
	}
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{subnets[0].vpc.defaultSG}
	}
	p.endpoints = append(p.endpoints, &proxyEndpoint{
		name: name, role: role, status: "available", subnets: subnets, sgs: sgs,
		host: name + ".endpoint.proxy-" + p.r.hostHash("rds") + "." + p.r.name + ".rds.amazonaws.com",
		arn:  p.r.rdsArn("db-proxy-endpoint", p.r.f.hexID("prx-endpoint")),
	})
	return p
}

// IAMAuth makes the proxy require IAM authentication.
func (p *DBProxy) IAMAuth() *DBProxy {
	defer p.lock()()
	p.iam = true
	return p
}

// Status sets the proxy Status (default "available").
func (p *DBProxy) Status(s string) *DBProxy {
	defer p.lock()()
	p.status = s
	return p
}

// Tag sets a tag on the proxy.
func (p *DBProxy) Tag(key, value string) *DBProxy {
	defer p.lock()()
	p.tags.set(key, value)
	return p
}

// RedshiftCluster is a provisioned Redshift cluster.
type RedshiftCluster struct {
	r      *Region
	id     string
	status string
	port   int
	host   string
	group  *subnetGroup
	sgs    []*SecurityGroup
	public bool
	nsARN  string
	tags   tags
}

// RedshiftCluster adds a cluster in a cluster subnet group made of the
// subnets, named ID-subnets.
func (r *Region) RedshiftCluster(id string, subnets []*Subnet, sgs ...*SecurityGroup) *RedshiftCluster {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	g := r.newSubnetGroup("redshift", id+"-subnets", subnets)
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{g.vpc.defaultSG}
	}
	c := &RedshiftCluster{
		r: r, id: id, status: "available", port: 5439, group: g, sgs: sgs,
		host:  id + "." + stable("redshift/"+r.acct.id+"/"+r.name, 12) + "." + r.name + ".redshift.amazonaws.com",
		nsARN: "arn:aws:redshift:" + r.name + ":" + r.acct.id + ":namespace:" + r.f.uuid(),
	}
	r.redshifts = append(r.redshifts, c)
	return c
}

func (c *RedshiftCluster) lock() func() {
	c.r.f.mu.Lock()
	return c.r.f.mu.Unlock
}

// ID returns the cluster identifier.
func (c *RedshiftCluster) ID() string { return c.id }

// Endpoint returns the cluster's address.
func (c *RedshiftCluster) Endpoint() Addr {
	c.r.f.mu.RLock()
	defer c.r.f.mu.RUnlock()
	return Addr{c.host, c.port}
}

// Port sets the port (default 5439).
func (c *RedshiftCluster) Port(p int) *RedshiftCluster {
	defer c.lock()()
	c.port = p
	return c
}

// Status sets ClusterStatus (default "available").
func (c *RedshiftCluster) Status(s string) *RedshiftCluster {
	defer c.lock()()
	c.status = s
	return c
}

// PubliclyAccessible marks the cluster publicly accessible.
func (c *RedshiftCluster) PubliclyAccessible() *RedshiftCluster {
	defer c.lock()()
	c.public = true
	return c
}

// Tag sets a tag on the cluster.
func (c *RedshiftCluster) Tag(key, value string) *RedshiftCluster {
	defer c.lock()()
	c.tags.set(key, value)
	return c
}

type netIface struct{ id, subnetID, ip, az string }

func (r *Region) enis(subnets []*Subnet) []netIface {
	out := make([]netIface, 0, len(subnets))
	for _, s := range subnets {
		out = append(out, netIface{id: r.f.hexID("eni"), subnetID: s.id, ip: s.allocIP(), az: s.az})
	}
	return out
}

// Workgroup is a Redshift Serverless workgroup.
type Workgroup struct {
	r         *Region
	name      string
	id        string
	namespace string
	status    string
	port      int
	subnets   []*Subnet
	sgs       []*SecurityGroup
	public    bool
	vpce      string
	enis      []netIface
	tags      tags
	// The namespace's: ListNamespaces reports them.
	adminUser   string
	adminSecret string
}

// ServerlessWorkgroup adds a workgroup (namespace of the same name) whose
// endpoint sits in the subnets.
func (r *Region) ServerlessWorkgroup(name string, subnets []*Subnet, sgs ...*SecurityGroup) *Workgroup {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if len(subnets) == 0 {
		panic("awsfake: workgroup " + name + " needs at least one subnet")
	}
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{subnets[0].vpc.defaultSG}
	}
	w := &Workgroup{
		r: r, name: name, id: r.f.uuid(), namespace: name, status: "AVAILABLE", port: 5439,
		subnets: subnets, sgs: sgs, vpce: r.f.hexID("vpce"), enis: r.enis(subnets),
		adminUser: "admin",
	}
	r.workgroups = append(r.workgroups, w)
	return w
}

func (w *Workgroup) lock() func() {
	w.r.f.mu.Lock()
	return w.r.f.mu.Unlock
}

// Name returns the workgroup name.
func (w *Workgroup) Name() string { return w.name }

func (w *Workgroup) arn() string {
	return "arn:aws:redshift-serverless:" + w.r.name + ":" + w.r.acct.id + ":workgroup/" + w.id
}

// Endpoint returns the workgroup's own address.
func (w *Workgroup) Endpoint() Addr {
	w.r.f.mu.RLock()
	defer w.r.f.mu.RUnlock()
	return Addr{w.host(), w.port}
}

func (w *Workgroup) host() string {
	return w.name + "." + w.r.acct.id + "." + w.r.name + ".redshift-serverless.amazonaws.com"
}

// Port sets the port (default 5439).
func (w *Workgroup) Port(p int) *Workgroup {
	defer w.lock()()
	w.port = p
	for _, m := range w.r.managed {
		if m.wg == w {
			m.port = p
		}
	}
	return w
}

// Status sets the workgroup status (default "AVAILABLE").
func (w *Workgroup) Status(s string) *Workgroup {
	defer w.lock()()
	w.status = s
	return w
}

// PubliclyAccessible marks the workgroup publicly accessible.
func (w *Workgroup) PubliclyAccessible() *Workgroup {
	defer w.lock()()
	w.public = true
	return w
}

// Namespace sets the namespace name (default: the workgroup's name).
func (w *Workgroup) Namespace(n string) *Workgroup {
	defer w.lock()()
	w.namespace = n
	return w
}

// ManagedEndpoint adds a Redshift-managed VPC endpoint for the workgroup
// in the subnets, which may be in another VPC.
func (w *Workgroup) ManagedEndpoint(name string, subnets []*Subnet, sgs ...*SecurityGroup) *ManagedEndpoint {
	defer w.lock()()
	r := w.r
	if len(subnets) == 0 {
		panic("awsfake: managed endpoint " + name + " needs at least one subnet")
	}
	if len(sgs) == 0 {
		sgs = []*SecurityGroup{subnets[0].vpc.defaultSG}
	}
	m := &ManagedEndpoint{
		wg: w, name: name, status: "ACTIVE", port: w.port, subnets: subnets, sgs: sgs,
		vpc: subnets[0].vpc, vpce: r.f.hexID("vpce"), enis: r.enis(subnets),
		host: name + "-endpoint-" + r.f.lowerID(20) + "." + r.acct.id + "." + r.name + ".redshift-serverless.amazonaws.com",
		arn:  "arn:aws:redshift-serverless:" + r.name + ":" + r.acct.id + ":managedvpcendpoint/" + r.f.uuid(),
	}
	r.managed = append(r.managed, m)
	return m
}

// ManagedEndpoint is a Redshift Serverless managed VPC endpoint.
type ManagedEndpoint struct {
	wg      *Workgroup
	name    string
	status  string
	host    string
	arn     string
	port    int
	subnets []*Subnet
	sgs     []*SecurityGroup
	vpc     *VPC
	vpce    string
	enis    []netIface
}

// Name returns the endpoint name.
func (m *ManagedEndpoint) Name() string { return m.name }

// VPCEndpointID returns the id of the endpoint's VPC endpoint.
func (m *ManagedEndpoint) VPCEndpointID() string { return m.vpce }

// Endpoint returns the endpoint's address.
func (m *ManagedEndpoint) Endpoint() Addr {
	m.wg.r.f.mu.RLock()
	defer m.wg.r.f.mu.RUnlock()
	return Addr{m.host, m.port}
}

// Status sets endpointStatus (default "ACTIVE").
func (m *ManagedEndpoint) Status(s string) *ManagedEndpoint {
	m.wg.r.f.mu.Lock()
	defer m.wg.r.f.mu.Unlock()
	m.status = s
	return m
}
