package awsfake

import (
	"net/http"
	"strings"
)

// RDS replies (awsquery: UpperCamel elements, named list members).

type rdsTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func rdsTags(t tags) []rdsTag {
	out := make([]rdsTag, len(t))
	for i, x := range t {
		out[i] = rdsTag{x.key, x.value}
	}
	return out
}

type rdsVpcSG struct {
	VpcSecurityGroupID string `xml:"VpcSecurityGroupId"`
	Status             string `xml:"Status"`
}

func rdsVpcSGs(sgs []*SecurityGroup) []rdsVpcSG {
	out := make([]rdsVpcSG, len(sgs))
	for i, g := range sgs {
		out[i] = rdsVpcSG{g.id, "active"}
	}
	return out
}

type rdsEndpoint struct {
	Address      string `xml:"Address"`
	Port         int    `xml:"Port"`
	HostedZoneID string `xml:"HostedZoneId"`
}

type rdsSubnet struct {
	SubnetIdentifier string `xml:"SubnetIdentifier"`
	AZ               string `xml:"SubnetAvailabilityZone>Name"`
	SubnetStatus     string `xml:"SubnetStatus"`
}

type rdsSubnetGroup struct {
	DBSubnetGroupName        string      `xml:"DBSubnetGroupName"`
	DBSubnetGroupDescription string      `xml:"DBSubnetGroupDescription"`
	VpcID                    string      `xml:"VpcId"`
	SubnetGroupStatus        string      `xml:"SubnetGroupStatus"`
	Subnets                  []rdsSubnet `xml:"Subnets>Subnet"`
	DBSubnetGroupArn         string      `xml:"DBSubnetGroupArn,omitempty"`
	SupportedNetworkTypes    []string    `xml:"SupportedNetworkTypes>member"`
}

func (g *subnetGroup) rds() *rdsSubnetGroup {
	out := &rdsSubnetGroup{
		DBSubnetGroupName: g.name, DBSubnetGroupDescription: g.desc, VpcID: g.vpc.id,
		SubnetGroupStatus: "Complete", DBSubnetGroupArn: g.arn, SupportedNetworkTypes: []string{"IPV4"},
	}
	for _, s := range g.subnets {
		out.Subnets = append(out.Subnets, rdsSubnet{s.id, s.az, "Active"})
	}
	return out
}

type rdsSecret struct {
	SecretArn    string `xml:"SecretArn"`
	SecretStatus string `xml:"SecretStatus"`
	KmsKeyID     string `xml:"KmsKeyId"`
}

func (r *Region) secret(arn string) *rdsSecret {
	if arn == "" {
		return nil
	}
	return &rdsSecret{arn, "active", "arn:aws:kms:" + r.name + ":" + r.acct.id + ":key/" + uuidFrom(mix(uint64(len(arn))))}
}

// hostedZone returns the RDS hosted zone id of a region (made up, stable).
func hostedZone(region string) string { return "Z" + strings.ToUpper(stable("rdszone/"+region, 13)) }

type rdsDBInstance struct {
	DBInstanceIdentifier             string          `xml:"DBInstanceIdentifier"`
	DBInstanceClass                  string          `xml:"DBInstanceClass"`
	Engine                           string          `xml:"Engine"`
	EngineVersion                    string          `xml:"EngineVersion"`
	DBInstanceStatus                 string          `xml:"DBInstanceStatus"`
	MasterUsername                   string          `xml:"MasterUsername,omitempty"`
	Endpoint                         *rdsEndpoint    `xml:"Endpoint,omitempty"`
	AllocatedStorage                 int             `xml:"AllocatedStorage"`
	InstanceCreateTime               string          `xml:"InstanceCreateTime"`
	VpcSecurityGroups                []rdsVpcSG      `xml:"VpcSecurityGroups>VpcSecurityGroupMembership"`
	AvailabilityZone                 string          `xml:"AvailabilityZone"`
	DBSubnetGroup                    *rdsSubnetGroup `xml:"DBSubnetGroup"`
	MultiAZ                          bool            `xml:"MultiAZ"`
	AutoMinorVersionUpgrade          bool            `xml:"AutoMinorVersionUpgrade"`
	PubliclyAccessible               bool            `xml:"PubliclyAccessible"`
	StorageType                      string          `xml:"StorageType"`
	DbInstancePort                   int             `xml:"DbInstancePort"`
	DBClusterIdentifier              string          `xml:"DBClusterIdentifier,omitempty"`
	StorageEncrypted                 bool            `xml:"StorageEncrypted"`
	DbiResourceID                    string          `xml:"DbiResourceId"`
	DBInstanceArn                    string          `xml:"DBInstanceArn"`
	IAMDatabaseAuthenticationEnabled bool            `xml:"IAMDatabaseAuthenticationEnabled"`
	DeletionProtection               bool            `xml:"DeletionProtection"`
	TagList                          []rdsTag        `xml:"TagList>Tag"`
	NetworkType                      string          `xml:"NetworkType"`
	MasterUserSecret                 *rdsSecret      `xml:"MasterUserSecret,omitempty"`
	PromotionTier                    *int            `xml:"PromotionTier,omitempty"`
}

type rdsDescribeDBInstancesResult struct {
	DBInstances []rdsDBInstance `xml:"DBInstances>DBInstance"`
	Marker      string          `xml:"Marker,omitempty"`
}

func (d *DBInstance) attrs(name string) ([]string, bool) {
	switch name {
	case "db-instance-id":
		return []string{d.id, d.r.rdsArn("db", d.id)}, true
	case "db-cluster-id":
		if d.cluster == nil {
			return nil, true
		}
		return []string{d.cluster.id, d.r.rdsArn("cluster", d.cluster.id)}, true
	case "engine":
		return one(d.engine), true
	case "dbi-resource-id":
		return one(d.resID), true
	}
	return nil, false
}

func (d *DBInstance) wire() rdsDBInstance {
	r := d.r
	out := rdsDBInstance{
		DBInstanceIdentifier: d.id, DBInstanceClass: d.class, Engine: d.engine, EngineVersion: d.version,
		DBInstanceStatus: d.status, MasterUsername: d.user, AllocatedStorage: 20,
		InstanceCreateTime: created.Format(isoMillis), VpcSecurityGroups: rdsVpcSGs(d.sgs),
		AvailabilityZone: d.az, DBSubnetGroup: d.group.rds(), AutoMinorVersionUpgrade: true,
		PubliclyAccessible: d.public, StorageType: "gp3", StorageEncrypted: true, DbiResourceID: d.resID,
		DBInstanceArn: r.rdsArn("db", d.id), IAMDatabaseAuthenticationEnabled: d.iam, TagList: rdsTags(d.tags),
		NetworkType: "IPV4", MasterUserSecret: r.secret(d.secret),
	}
	if d.status != "creating" {
		out.Endpoint = &rdsEndpoint{d.host, d.port, hostedZone(r.name)}
	}
	if d.cluster != nil {
		out.DBClusterIdentifier = d.cluster.id
		out.AllocatedStorage = 1
		out.StorageType = "aurora"
		out.MasterUserSecret = nil
		tier := 1
		out.PromotionTier = &tier
		if d.engine == "neptune" {
			out.MasterUsername = ""
		}
	}
	return out
}

func rdsDescribeDBInstances(c *call) (any, *apiError) {
	id := c.param("DBInstanceIdentifier")
	fs := c.queryFilters()
	var items []*DBInstance
	for _, d := range c.region.dbs {
		if id != "" && d.id != id && c.region.rdsArn("db", d.id) != id {
			continue
		}
		if matches(fs, d.attrs) {
			items = append(items, d)
		}
	}
	if id != "" && len(items) == 0 {
		return nil, &apiError{http.StatusNotFound, "DBInstanceNotFound", "DBInstance " + id + " not found."}
	}
	page, next, aerr := paginate(c, items, c.param("Marker"), c.intParam("MaxRecords"), 100)
	if aerr != nil {
		return nil, aerr
	}
	out := rdsDescribeDBInstancesResult{Marker: next, DBInstances: []rdsDBInstance{}}
	for _, d := range page {
		out.DBInstances = append(out.DBInstances, d.wire())
	}
	return out, nil
}

type rdsClusterMember struct {
	DBInstanceIdentifier          string `xml:"DBInstanceIdentifier"`
	IsClusterWriter               bool   `xml:"IsClusterWriter"`
	DBClusterParameterGroupStatus string `xml:"DBClusterParameterGroupStatus"`
	PromotionTier                 int    `xml:"PromotionTier"`
}

type rdsDBCluster struct {
	AvailabilityZones                []string           `xml:"AvailabilityZones>AvailabilityZone"`
	DBClusterIdentifier              string             `xml:"DBClusterIdentifier"`
	DBClusterParameterGroup          string             `xml:"DBClusterParameterGroup"`
	DBSubnetGroup                    string             `xml:"DBSubnetGroup"`
	Status                           string             `xml:"Status"`
	Endpoint                         string             `xml:"Endpoint,omitempty"`
	ReaderEndpoint                   string             `xml:"ReaderEndpoint,omitempty"`
	CustomEndpoints                  []string           `xml:"CustomEndpoints>member"`
	MultiAZ                          bool               `xml:"MultiAZ"`
	Engine                           string             `xml:"Engine"`
	EngineVersion                    string             `xml:"EngineVersion"`
	Port                             int                `xml:"Port"`
	MasterUsername                   string             `xml:"MasterUsername,omitempty"`
	DBClusterMembers                 []rdsClusterMember `xml:"DBClusterMembers>DBClusterMember"`
	VpcSecurityGroups                []rdsVpcSG         `xml:"VpcSecurityGroups>VpcSecurityGroupMembership"`
	HostedZoneID                     string             `xml:"HostedZoneId"`
	StorageEncrypted                 bool               `xml:"StorageEncrypted"`
	DbClusterResourceID              string             `xml:"DbClusterResourceId"`
	DBClusterArn                     string             `xml:"DBClusterArn"`
	IAMDatabaseAuthenticationEnabled bool               `xml:"IAMDatabaseAuthenticationEnabled"`
	ClusterCreateTime                string             `xml:"ClusterCreateTime"`
	EngineMode                       string             `xml:"EngineMode"`
	DeletionProtection               bool               `xml:"DeletionProtection"`
	TagList                          []rdsTag           `xml:"TagList>Tag"`
	NetworkType                      string             `xml:"NetworkType"`
	MasterUserSecret                 *rdsSecret         `xml:"MasterUserSecret,omitempty"`
}

type rdsDescribeDBClustersResult struct {
	DBClusters []rdsDBCluster `xml:"DBClusters>DBCluster"`
	Marker     string         `xml:"Marker,omitempty"`
}

func (c *DBCluster) attrs(name string) ([]string, bool) {
	switch name {
	case "db-cluster-id":
		return []string{c.id, c.r.rdsArn("cluster", c.id)}, true
	case "engine":
		return one(c.engine), true
	case "db-cluster-resource-id":
		return one(c.resID), true
	}
	return nil, false
}

func (c *DBCluster) wire() rdsDBCluster {
	r := c.r
	out := rdsDBCluster{
		DBClusterIdentifier: c.id, DBClusterParameterGroup: "default." + c.engine, DBSubnetGroup: c.group.name,
		Status: c.status, MultiAZ: len(c.members) > 1, Engine: c.engine, EngineVersion: c.version, Port: c.port,
		MasterUsername: c.user, VpcSecurityGroups: rdsVpcSGs(c.sgs), HostedZoneID: hostedZone(r.name),
		StorageEncrypted: true, DbClusterResourceID: c.resID, DBClusterArn: r.rdsArn("cluster", c.id),
		IAMDatabaseAuthenticationEnabled: c.iam, ClusterCreateTime: created.Format(isoMillis),
		EngineMode: "provisioned", TagList: rdsTags(c.tags), NetworkType: "IPV4", MasterUserSecret: r.secret(c.secret),
	}
	seen := map[string]bool{}
	for _, s := range c.group.subnets {
		if !seen[s.az] {
			seen[s.az] = true
			out.AvailabilityZones = append(out.AvailabilityZones, s.az)
		}
	}
	if c.status != "creating" {
		out.Endpoint = c.id + ".cluster-" + c.suffix()
		out.ReaderEndpoint = c.id + ".cluster-ro-" + c.suffix()
	}
	for _, ce := range c.custom {
		out.CustomEndpoints = append(out.CustomEndpoints, ce.host)
	}
	for _, m := range c.members {
		out.DBClusterMembers = append(out.DBClusterMembers, rdsClusterMember{m.id, m.writer, "in-sync", 1})
	}
	return out
}

func rdsDescribeDBClusters(c *call) (any, *apiError) {
	id := c.param("DBClusterIdentifier")
	fs := c.queryFilters()
	var items []*DBCluster
	for _, cl := range c.region.clusters {
		if id != "" && cl.id != id && c.region.rdsArn("cluster", cl.id) != id {
			continue
		}
		if matches(fs, cl.attrs) {
			items = append(items, cl)
		}
	}
	if id != "" && len(items) == 0 {
		return nil, &apiError{http.StatusNotFound, "DBClusterNotFoundFault", "DBCluster " + id + " not found."}
	}
	page, next, aerr := paginate(c, items, c.param("Marker"), c.intParam("MaxRecords"), 100)
	if aerr != nil {
		return nil, aerr
	}
	out := rdsDescribeDBClustersResult{Marker: next, DBClusters: []rdsDBCluster{}}
	for _, cl := range page {
		out.DBClusters = append(out.DBClusters, cl.wire())
	}
	return out, nil
}

type rdsClusterEndpoint struct {
	DBClusterEndpointIdentifier         string   `xml:"DBClusterEndpointIdentifier,omitempty"`
	DBClusterIdentifier                 string   `xml:"DBClusterIdentifier"`
	DBClusterEndpointResourceIdentifier string   `xml:"DBClusterEndpointResourceIdentifier,omitempty"`
	Endpoint                            string   `xml:"Endpoint"`
	Status                              string   `xml:"Status"`
	EndpointType                        string   `xml:"EndpointType"`
	CustomEndpointType                  string   `xml:"CustomEndpointType,omitempty"`
	StaticMembers                       []string `xml:"StaticMembers>member"`
	DBClusterEndpointArn                string   `xml:"DBClusterEndpointArn,omitempty"`
}

type rdsDescribeDBClusterEndpointsResult struct {
	DBClusterEndpoints []rdsClusterEndpoint `xml:"DBClusterEndpoints>DBClusterEndpointList"`
	Marker             string               `xml:"Marker,omitempty"`
}

func rdsDescribeDBClusterEndpoints(c *call) (any, *apiError) {
	id, epID := c.param("DBClusterIdentifier"), c.param("DBClusterEndpointIdentifier")
	fs := c.queryFilters()
	var items []rdsClusterEndpoint
	found := false
	for _, cl := range c.region.clusters {
		if id != "" && cl.id != id {
			continue
		}
		found = true
		status := "available"
		if cl.status == "creating" {
			status = "creating"
		}
		eps := []rdsClusterEndpoint{
			{DBClusterIdentifier: cl.id, Endpoint: cl.id + ".cluster-" + cl.suffix(), Status: status, EndpointType: "WRITER"},
			{DBClusterIdentifier: cl.id, Endpoint: cl.id + ".cluster-ro-" + cl.suffix(), Status: status, EndpointType: "READER"},
		}
		for _, ce := range cl.custom {
			eps = append(eps, rdsClusterEndpoint{
				DBClusterEndpointIdentifier: ce.name, DBClusterIdentifier: cl.id,
				DBClusterEndpointResourceIdentifier: ce.resID, Endpoint: ce.host, Status: "available",
				EndpointType: "CUSTOM", CustomEndpointType: ce.typ, StaticMembers: ce.members,
				DBClusterEndpointArn: c.region.rdsArn("cluster-endpoint", ce.name),
			})
		}
		for _, ep := range eps {
			if epID != "" && ep.DBClusterEndpointIdentifier != epID {
				continue
			}
			if matches(fs, func(name string) ([]string, bool) {
				switch name {
				case "db-cluster-endpoint-type":
					return one(strings.ToLower(ep.EndpointType)), true
				case "db-cluster-endpoint-custom-type":
					return one(strings.ToLower(ep.CustomEndpointType)), true
				case "db-cluster-endpoint-id":
					return one(ep.DBClusterEndpointIdentifier), true
				case "db-cluster-endpoint-status":
					return one(ep.Status), true
				}
				return nil, false
			}) {
				items = append(items, ep)
			}
		}
	}
	if id != "" && !found {
		return nil, &apiError{http.StatusNotFound, "DBClusterNotFoundFault", "DBCluster " + id + " not found."}
	}
	page, next, aerr := paginate(c, items, c.param("Marker"), c.intParam("MaxRecords"), 100)
	if aerr != nil {
		return nil, aerr
	}
	return rdsDescribeDBClusterEndpointsResult{DBClusterEndpoints: append([]rdsClusterEndpoint{}, page...), Marker: next}, nil
}

type rdsProxyAuth struct {
	AuthScheme string `xml:"AuthScheme"`
	IAMAuth    string `xml:"IAMAuth"`
	SecretArn  string `xml:"SecretArn"`
	UserName   string `xml:"UserName,omitempty"`
}

type rdsDBProxy struct {
	DBProxyName         string         `xml:"DBProxyName"`
	DBProxyArn          string         `xml:"DBProxyArn"`
	Status              string         `xml:"Status"`
	EngineFamily        string         `xml:"EngineFamily"`
	VpcID               string         `xml:"VpcId"`
	VpcSecurityGroupIDs []string       `xml:"VpcSecurityGroupIds>member"`
	VpcSubnetIDs        []string       `xml:"VpcSubnetIds>member"`
	Auth                []rdsProxyAuth `xml:"Auth>member"`
	RoleArn             string         `xml:"RoleArn"`
	Endpoint            string         `xml:"Endpoint"`
	RequireTLS          bool           `xml:"RequireTLS"`
	IdleClientTimeout   int            `xml:"IdleClientTimeout"`
	DebugLogging        bool           `xml:"DebugLogging"`
	CreatedDate         string         `xml:"CreatedDate"`
	UpdatedDate         string         `xml:"UpdatedDate"`
}

type rdsDescribeDBProxiesResult struct {
	DBProxies []rdsDBProxy `xml:"DBProxies>member"`
	Marker    string       `xml:"Marker,omitempty"`
}

func sgIDs(sgs []*SecurityGroup) []string {
	out := make([]string, len(sgs))
	for i, g := range sgs {
		out[i] = g.id
	}
	return out
}

func subnetIDs(ss []*Subnet) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.id
	}
	return out
}

func rdsDescribeDBProxies(c *call) (any, *apiError) {
	r := c.region
	name := c.param("DBProxyName")
	var items []*DBProxy
	for _, p := range r.proxies {
		if name == "" || p.name == name {
			items = append(items, p)
		}
	}
	if name != "" && len(items) == 0 {
		return nil, &apiError{http.StatusNotFound, "DBProxyNotFoundFault", "DBProxy " + name + " not found."}
	}
	page, next, aerr := paginate(c, items, c.param("Marker"), c.intParam("MaxRecords"), 100)
	if aerr != nil {
		return nil, aerr
	}
	out := rdsDescribeDBProxiesResult{Marker: next, DBProxies: []rdsDBProxy{}}
	for _, p := range page {
		iam := "DISABLED"
		if p.iam {
			iam = "REQUIRED"
		}
		out.DBProxies = append(out.DBProxies, rdsDBProxy{
			DBProxyName: p.name, DBProxyArn: p.arn, Status: p.status, EngineFamily: p.family,
			VpcID: p.subnets[0].vpc.id, VpcSecurityGroupIDs: sgIDs(p.sgs), VpcSubnetIDs: subnetIDs(p.subnets),
			Auth: []rdsProxyAuth{{AuthScheme: "SECRETS", IAMAuth: iam,
				SecretArn: "arn:aws:secretsmanager:" + r.name + ":" + r.acct.id + ":secret:" + p.name + "-credentials"}},
			RoleArn:  "arn:aws:iam::" + r.acct.id + ":role/service-role/rds-proxy-role-" + p.name,
			Endpoint: p.host, RequireTLS: p.tls, IdleClientTimeout: 1800,
			CreatedDate: created.Format(isoMillis), UpdatedDate: created.Format(isoMillis),
		})
	}
	return out, nil
}

type rdsProxyEndpoint struct {
	DBProxyEndpointName string   `xml:"DBProxyEndpointName"`
	DBProxyEndpointArn  string   `xml:"DBProxyEndpointArn"`
	DBProxyName         string   `xml:"DBProxyName"`
	Status              string   `xml:"Status"`
	VpcID               string   `xml:"VpcId"`
	VpcSecurityGroupIDs []string `xml:"VpcSecurityGroupIds>member"`
	VpcSubnetIDs        []string `xml:"VpcSubnetIds>member"`
	Endpoint            string   `xml:"Endpoint"`
	CreatedDate         string   `xml:"CreatedDate"`
	TargetRole          string   `xml:"TargetRole"`
	IsDefault           bool     `xml:"IsDefault"`
}

type rdsDescribeDBProxyEndpointsResult struct {
	DBProxyEndpoints []rdsProxyEndpoint `xml:"DBProxyEndpoints>member"`
	Marker           string             `xml:"Marker,omitempty"`
}

// rdsDescribeDBProxyEndpoints lists each proxy's default endpoint (named
// "default", IsDefault) and its extra endpoints.
func rdsDescribeDBProxyEndpoints(c *call) (any, *apiError) {
	name, epName := c.param("DBProxyName"), c.param("DBProxyEndpointName")
	var items []rdsProxyEndpoint
	found := false
	for _, p := range c.region.proxies {
		if name != "" && p.name != name {
			continue
		}
		found = true
		eps := []rdsProxyEndpoint{{
			DBProxyEndpointName: "default", DBProxyEndpointArn: p.arn, DBProxyName: p.name, Status: p.status,
			VpcID: p.subnets[0].vpc.id, VpcSecurityGroupIDs: sgIDs(p.sgs), VpcSubnetIDs: subnetIDs(p.subnets),
			Endpoint: p.host, CreatedDate: created.Format(isoMillis), TargetRole: "READ_WRITE", IsDefault: true,
		}}
		for _, e := range p.endpoints {
			eps = append(eps, rdsProxyEndpoint{
				DBProxyEndpointName: e.name, DBProxyEndpointArn: e.arn, DBProxyName: p.name, Status: e.status,
				VpcID: e.subnets[0].vpc.id, VpcSecurityGroupIDs: sgIDs(e.sgs), VpcSubnetIDs: subnetIDs(e.subnets),
				Endpoint: e.host, CreatedDate: created.Format(isoMillis), TargetRole: e.role,
			})
		}
		for _, e := range eps {
			if epName == "" || e.DBProxyEndpointName == epName {
				items = append(items, e)
			}
		}
	}
	if name != "" && !found {
		return nil, &apiError{http.StatusNotFound, "DBProxyNotFoundFault", "DBProxy " + name + " not found."}
	}
	if epName != "" && len(items) == 0 {
		return nil, &apiError{http.StatusNotFound, "DBProxyEndpointNotFoundFault", "DBProxyEndpoint " + epName + " not found."}
	}
	page, next, aerr := paginate(c, items, c.param("Marker"), c.intParam("MaxRecords"), 100)
	if aerr != nil {
		return nil, aerr
	}
	return rdsDescribeDBProxyEndpointsResult{DBProxyEndpoints: append([]rdsProxyEndpoint{}, page...), Marker: next}, nil
}

type rdsDescribeDBSubnetGroupsResult struct {
	DBSubnetGroups []*rdsSubnetGroup `xml:"DBSubnetGroups>DBSubnetGroup"`
	Marker         string            `xml:"Marker,omitempty"`
}

func rdsDescribeDBSubnetGroups(c *call) (any, *apiError) {
	name := c.param("DBSubnetGroupName")
	var items []*subnetGroup
	for _, g := range c.region.dbSubnetGroups {
		if name == "" || g.name == name {
			items = append(items, g)
		}
	}
	if name != "" && len(items) == 0 {
		return nil, &apiError{http.StatusNotFound, "DBSubnetGroupNotFoundFault", "DB Subnet Group " + name + " not found."}
	}
	page, next, aerr := paginate(c, items, c.param("Marker"), c.intParam("MaxRecords"), 100)
	if aerr != nil {
		return nil, aerr
	}
	out := rdsDescribeDBSubnetGroupsResult{Marker: next, DBSubnetGroups: []*rdsSubnetGroup{}}
	for _, g := range page {
		out.DBSubnetGroups = append(out.DBSubnetGroups, g.rds())
	}
	return out, nil
}
