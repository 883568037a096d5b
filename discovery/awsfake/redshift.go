package awsfake

import (
	"net/http"
	"time"
)

// Redshift replies (awsquery).

type rsVpcSG struct {
	VpcSecurityGroupID string `xml:"VpcSecurityGroupId"`
	Status             string `xml:"Status"`
}

type rsEndpoint struct {
	Address string `xml:"Address"`
	Port    int    `xml:"Port"`
}

type rsClusterNode struct {
	NodeRole         string `xml:"NodeRole"`
	PrivateIPAddress string `xml:"PrivateIPAddress"`
}

type rsCluster struct {
	ClusterIdentifier      string          `xml:"ClusterIdentifier"`
	NodeType               string          `xml:"NodeType"`
	ClusterStatus          string          `xml:"ClusterStatus"`
	ClusterAvailability    string          `xml:"ClusterAvailabilityStatus"`
	MasterUsername         string          `xml:"MasterUsername"`
	DBName                 string          `xml:"DBName"`
	Endpoint               *rsEndpoint     `xml:"Endpoint,omitempty"`
	ClusterCreateTime      string          `xml:"ClusterCreateTime"`
	VpcSecurityGroups      []rsVpcSG       `xml:"VpcSecurityGroups>VpcSecurityGroup"`
	ClusterSubnetGroupName string          `xml:"ClusterSubnetGroupName"`
	VpcID                  string          `xml:"VpcId"`
	AvailabilityZone       string          `xml:"AvailabilityZone"`
	ClusterVersion         string          `xml:"ClusterVersion"`
	NumberOfNodes          int             `xml:"NumberOfNodes"`
	PubliclyAccessible     bool            `xml:"PubliclyAccessible"`
	Encrypted              bool            `xml:"Encrypted"`
	ClusterNodes           []rsClusterNode `xml:"ClusterNodes>member"`
	Tags                   []rdsTag        `xml:"Tags>Tag"`
	EnhancedVpcRouting     bool            `xml:"EnhancedVpcRouting"`
	ClusterNamespaceArn    string          `xml:"ClusterNamespaceArn"`
	IPAddressType          string          `xml:"IpAddressType"`
}

type rsDescribeClustersResult struct {
	Clusters []rsCluster `xml:"Clusters>Cluster"`
	Marker   string      `xml:"Marker,omitempty"`
}

func redshiftDescribeClusters(c *call) (any, *apiError) {
	id := c.param("ClusterIdentifier")
	tagKeys, tagValues := c.list("TagKeys.TagKey"), c.list("TagValues.TagValue")
	var items []*RedshiftCluster
	for _, rc := range c.region.redshifts {
		if id != "" && rc.id != id {
			continue
		}
		if !tagsMatch(rc.tags, tagKeys, tagValues) {
			continue
		}
		items = append(items, rc)
	}
	if id != "" && len(items) == 0 {
		return nil, &apiError{http.StatusNotFound, "ClusterNotFound", "Cluster " + id + " not found."}
	}
	page, next, aerr := paginate(c, items, c.param("Marker"), c.intParam("MaxRecords"), 100)
	if aerr != nil {
		return nil, aerr
	}
	out := rsDescribeClustersResult{Marker: next}
	for _, rc := range page {
		w := rsCluster{
			ClusterIdentifier: rc.id, NodeType: "ra3.xlplus", ClusterStatus: rc.status, ClusterAvailability: "Available",
			MasterUsername: "awsuser", DBName: "dev", ClusterCreateTime: created.Format(isoMillis),
			ClusterSubnetGroupName: rc.group.name, VpcID: rc.group.vpc.id, AvailabilityZone: rc.group.subnets[0].az,
			ClusterVersion: "1.0", NumberOfNodes: 2, PubliclyAccessible: rc.public, Encrypted: true,
			Tags: rdsTags(rc.tags), ClusterNamespaceArn: rc.nsARN, IPAddressType: "ipv4",
		}
		if rc.status != "creating" {
			w.Endpoint = &rsEndpoint{rc.host, rc.port}
		}
		for _, g := range rc.sgs {
			w.VpcSecurityGroups = append(w.VpcSecurityGroups, rsVpcSG{g.id, "active"})
		}
		w.ClusterNodes = []rsClusterNode{{"LEADER", hostIP(rc.group.subnets[0].cidr, 200)}, {"COMPUTE-0", hostIP(rc.group.subnets[0].cidr, 201)}}
		out.Clusters = append(out.Clusters, w)
	}
	return out, nil
}

// tagsMatch applies Redshift's TagKeys/TagValues: any listed key, any
// listed value.
func tagsMatch(t tags, keys, values []string) bool {
	if len(keys) > 0 {
		ok := false
		for _, k := range keys {
			if _, has := t.get(k); has {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if len(values) > 0 {
		for _, x := range t {
			if contains(values, x.value) {
				return true
			}
		}
		return false
	}
	return true
}

type rsSubnet struct {
	SubnetIdentifier string `xml:"SubnetIdentifier"`
	AZ               string `xml:"SubnetAvailabilityZone>Name"`
	SubnetStatus     string `xml:"SubnetStatus"`
}

type rsSubnetGroup struct {
	ClusterSubnetGroupName string     `xml:"ClusterSubnetGroupName"`
	Description            string     `xml:"Description"`
	VpcID                  string     `xml:"VpcId"`
	SubnetGroupStatus      string     `xml:"SubnetGroupStatus"`
	Subnets                []rsSubnet `xml:"Subnets>Subnet"`
	SupportedIPTypes       []string   `xml:"SupportedClusterIpAddressTypes>item"`
}

type rsDescribeClusterSubnetGroupsResult struct {
	ClusterSubnetGroups []rsSubnetGroup `xml:"ClusterSubnetGroups>ClusterSubnetGroup"`
	Marker              string          `xml:"Marker,omitempty"`
}

func redshiftDescribeClusterSubnetGroups(c *call) (any, *apiError) {
	name := c.param("ClusterSubnetGroupName")
	var items []*subnetGroup
	for _, g := range c.region.rsSubnetGroups {
		if name == "" || g.name == name {
			items = append(items, g)
		}
	}
	if name != "" && len(items) == 0 {
		return nil, &apiError{http.StatusBadRequest, "ClusterSubnetGroupNotFoundFault", "ClusterSubnetGroup " + name + " not found."}
	}
	page, next, aerr := paginate(c, items, c.param("Marker"), c.intParam("MaxRecords"), 100)
	if aerr != nil {
		return nil, aerr
	}
	out := rsDescribeClusterSubnetGroupsResult{Marker: next}
	for _, g := range page {
		w := rsSubnetGroup{ClusterSubnetGroupName: g.name, Description: g.desc, VpcID: g.vpc.id,
			SubnetGroupStatus: "Complete", SupportedIPTypes: []string{"ipv4"}}
		for _, s := range g.subnets {
			w.Subnets = append(w.Subnets, rsSubnet{s.id, s.az, "Active"})
		}
		out.ClusterSubnetGroups = append(out.ClusterSubnetGroups, w)
	}
	return out, nil
}

// Redshift Serverless replies (JSON 1.1, lowerCamel).

type rssNetworkInterface struct {
	AvailabilityZone   string `json:"availabilityZone"`
	NetworkInterfaceID string `json:"networkInterfaceId"`
	PrivateIPAddress   string `json:"privateIpAddress"`
	SubnetID           string `json:"subnetId"`
}

type rssVpcEndpoint struct {
	NetworkInterfaces []rssNetworkInterface `json:"networkInterfaces"`
	VpcEndpointID     string                `json:"vpcEndpointId"`
	VpcID             string                `json:"vpcId"`
}

func rssENIs(enis []netIface) []rssNetworkInterface {
	out := make([]rssNetworkInterface, len(enis))
	for i, e := range enis {
		out[i] = rssNetworkInterface{e.az, e.id, e.ip, e.subnetID}
	}
	return out
}

type rssEndpoint struct {
	Address      string           `json:"address"`
	Port         int              `json:"port"`
	VpcEndpoints []rssVpcEndpoint `json:"vpcEndpoints"`
}

type rssConfigParameter struct {
	ParameterKey   string `json:"parameterKey"`
	ParameterValue string `json:"parameterValue"`
}

type rssWorkgroup struct {
	BaseCapacity       int                  `json:"baseCapacity"`
	ConfigParameters   []rssConfigParameter `json:"configParameters"`
	CreationDate       string               `json:"creationDate"`
	Endpoint           *rssEndpoint         `json:"endpoint,omitempty"`
	EnhancedVpcRouting bool                 `json:"enhancedVpcRouting"`
	IPAddressType      string               `json:"ipAddressType"`
	NamespaceName      string               `json:"namespaceName"`
	PatchVersion       string               `json:"patchVersion"`
	Port               int                  `json:"port"`
	PubliclyAccessible bool                 `json:"publiclyAccessible"`
	SecurityGroupIDs   []string             `json:"securityGroupIds"`
	Status             string               `json:"status"`
	SubnetIDs          []string             `json:"subnetIds"`
	TrackName          string               `json:"trackName"`
	WorkgroupArn       string               `json:"workgroupArn"`
	WorkgroupID        string               `json:"workgroupId"`
	WorkgroupName      string               `json:"workgroupName"`
	WorkgroupVersion   string               `json:"workgroupVersion"`
}

func (w *Workgroup) wire() rssWorkgroup {
	out := rssWorkgroup{
		BaseCapacity: 8, ConfigParameters: []rssConfigParameter{{"max_query_execution_time", "14400"}},
		CreationDate: created.Format(time.RFC3339Nano), IPAddressType: "ipv4", NamespaceName: w.namespace,
		PatchVersion: "patch 191", Port: w.port, PubliclyAccessible: w.public, SecurityGroupIDs: sgIDs(w.sgs),
		Status: w.status, SubnetIDs: subnetIDs(w.subnets), TrackName: "current", WorkgroupArn: w.arn(),
		WorkgroupID: w.id, WorkgroupName: w.name, WorkgroupVersion: "1.0.100000",
	}
	if w.status != "CREATING" {
		out.Endpoint = &rssEndpoint{Address: w.host(), Port: w.port, VpcEndpoints: []rssVpcEndpoint{{
			NetworkInterfaces: rssENIs(w.enis), VpcEndpointID: w.vpce, VpcID: w.subnets[0].vpc.id,
		}}}
	}
	return out
}

type rssListWorkgroupsInput struct {
	MaxResults int    `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

type rssListWorkgroupsOutput struct {
	NextToken  string         `json:"nextToken,omitempty"`
	Workgroups []rssWorkgroup `json:"workgroups"`
}

func rssListWorkgroups(c *call) (any, *apiError) {
	var in rssListWorkgroupsInput
	if aerr := c.decode(&in); aerr != nil {
		return nil, aerr
	}
	page, next, aerr := paginate(c, c.region.workgroups, in.NextToken, in.MaxResults, 100)
	if aerr != nil {
		return nil, aerr
	}
	out := rssListWorkgroupsOutput{NextToken: next, Workgroups: []rssWorkgroup{}}
	for _, w := range page {
		out.Workgroups = append(out.Workgroups, w.wire())
	}
	return out, nil
}

func rssGetWorkgroup(c *call) (any, *apiError) {
	var in struct {
		WorkgroupName string `json:"workgroupName"`
	}
	if aerr := c.decode(&in); aerr != nil {
		return nil, aerr
	}
	if in.WorkgroupName == "" {
		return nil, &apiError{http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'workgroupName' failed to satisfy constraint: Member must not be null"}
	}
	for _, w := range c.region.workgroups {
		if w.name == in.WorkgroupName {
			return struct {
				Workgroup rssWorkgroup `json:"workgroup"`
			}{w.wire()}, nil
		}
	}
	return nil, &apiError{http.StatusBadRequest, "ResourceNotFoundException", "Workgroup " + in.WorkgroupName + " not found"}
}

type rssVpcSG struct {
	Status             string `json:"status"`
	VpcSecurityGroupID string `json:"vpcSecurityGroupId"`
}

type rssEndpointAccess struct {
	Address            string          `json:"address"`
	EndpointArn        string          `json:"endpointArn"`
	EndpointCreateTime string          `json:"endpointCreateTime"`
	EndpointName       string          `json:"endpointName"`
	EndpointStatus     string          `json:"endpointStatus"`
	Port               int             `json:"port"`
	SubnetIDs          []string        `json:"subnetIds"`
	VpcEndpoint        *rssVpcEndpoint `json:"vpcEndpoint,omitempty"`
	VpcSecurityGroups  []rssVpcSG      `json:"vpcSecurityGroups"`
	WorkgroupName      string          `json:"workgroupName"`
}

type rssListEndpointAccessInput struct {
	MaxResults    int    `json:"maxResults"`
	NextToken     string `json:"nextToken"`
	VpcID         string `json:"vpcId"`
	WorkgroupName string `json:"workgroupName"`
}

type rssListEndpointAccessOutput struct {
	Endpoints []rssEndpointAccess `json:"endpoints"`
	NextToken string              `json:"nextToken,omitempty"`
}

func rssListEndpointAccess(c *call) (any, *apiError) {
	var in rssListEndpointAccessInput
	if aerr := c.decode(&in); aerr != nil {
		return nil, aerr
	}
	if in.WorkgroupName != "" {
		found := false
		for _, w := range c.region.workgroups {
			found = found || w.name == in.WorkgroupName
		}
		if !found {
			return nil, &apiError{http.StatusBadRequest, "ResourceNotFoundException", "Workgroup " + in.WorkgroupName + " not found"}
		}
	}
	var items []*ManagedEndpoint
	for _, m := range c.region.managed {
		if in.WorkgroupName != "" && m.wg.name != in.WorkgroupName || in.VpcID != "" && m.vpc.id != in.VpcID {
			continue
		}
		items = append(items, m)
	}
	page, next, aerr := paginate(c, items, in.NextToken, in.MaxResults, 100)
	if aerr != nil {
		return nil, aerr
	}
	out := rssListEndpointAccessOutput{NextToken: next, Endpoints: []rssEndpointAccess{}}
	for _, m := range page {
		w := rssEndpointAccess{
			Address: m.host, EndpointArn: m.arn, EndpointCreateTime: created.Format(time.RFC3339Nano),
			EndpointName: m.name, EndpointStatus: m.status, Port: m.port, SubnetIDs: subnetIDs(m.subnets),
			VpcEndpoint:   &rssVpcEndpoint{NetworkInterfaces: rssENIs(m.enis), VpcEndpointID: m.vpce, VpcID: m.vpc.id},
			WorkgroupName: m.wg.name,
		}
		for _, g := range m.sgs {
			w.VpcSecurityGroups = append(w.VpcSecurityGroups, rssVpcSG{"active", g.id})
		}
		out.Endpoints = append(out.Endpoints, w)
	}
	return out, nil
}
