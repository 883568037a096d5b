// Package discovery describes what dbtunnel finds in an AWS account: the
// databases, the bastions that could carry a tunnel to them, the network
// they sit in, and for every database the routes (bastion + backend) with a
// verdict on whether each will work. It holds the model and the Source
// interface; discovery/awssource reads AWS, discovery/reach judges routes.
// Nothing here opens a connection.
package discovery

import (
	"context"
	"time"
)

// Source finds everything in one scope.
type Source interface {
	Discover(ctx context.Context, scope Scope) (*Inventory, error)
}

// Scope is one AWS profile in one region, optionally through a role.
type Scope struct {
	Profile string `json:"profile"`
	Region  string `json:"region"`
	// Role, when set, is assumed with Role.SourceProfile's credentials and
	// the scope is the role's account; Profile is then the name the user
	// gave it.
	Role Role `json:"role,omitzero"`
}

// Role is an IAM role assumed for a scope (another account, seed 003).
type Role struct {
	ARN        string `json:"arn"`
	ExternalID string `json:"external_id,omitempty"`
	MFASerial  string `json:"mfa_serial,omitempty"`
	// SourceProfile is the AWS profile whose credentials assume the role;
	// "" means the SDK's default credentials.
	SourceProfile string `json:"source_profile,omitempty"`
}

func (s Scope) String() string {
	p := s.Profile
	if p == "" {
		p = "default"
	}
	if s.Role.ARN != "" && s.Role.SourceProfile == s.Profile {
		// A target's own role: the profile alone would name the wrong
		// account.
		return p + "/" + s.Region + " as " + s.Role.ARN
	}
	return p + "/" + s.Region
}

// AWSProfile is the profile whose configuration and credentials are loaded
// for the scope: the role's source when there is a role.
func (s Scope) AWSProfile() string {
	if s.Role.ARN != "" {
		return s.Role.SourceProfile
	}
	return s.Profile
}

// Kind is the kind of database, as `ls --json` names it.
type Kind string

const (
	KindRDSInstance         Kind = "rds-instance"
	KindAuroraCluster       Kind = "aurora-cluster" // also DocumentDB and Neptune clusters
	KindRDSProxy            Kind = "rds-proxy"
	KindRedshiftCluster     Kind = "redshift-cluster"
	KindRedshiftServerless  Kind = "redshift-serverless"
	KindVPCResourceEndpoint Kind = "vpc-resource-endpoint"
)

// Endpoint roles.
const (
	RoleWriter          = "writer"
	RoleReader          = "reader"
	RoleInstance        = "instance" // a single RDS instance, a Redshift cluster, a workgroup
	RoleProxy           = "proxy"
	RoleManagedEndpoint = "managed-endpoint"
	RoleResource        = "resource"
)

// Inventory is everything found in one scope.
type Inventory struct {
	Scope     Scope      `json:"scope"`
	Account   string     `json:"account"`
	FetchedAt time.Time  `json:"fetched_at"`
	Databases []Database `json:"databases"`
	Bastions  []Bastion  `json:"bastions"`
	Network   Network    `json:"network"`
	// Warnings name what could not be read (a denied API, a service not
	// offered in the region); the rest of the inventory still stands.
	Warnings []string `json:"warnings,omitempty"`
}

// Database is one database and its ways in. Its JSON form is the element of
// `dbtunnel ls --json`: add fields freely, never rename or remove one.
type Database struct {
	Name           string     `json:"name"`
	Kind           Kind       `json:"kind"`
	Engine         string     `json:"engine"`
	Profile        string     `json:"profile"`
	Region         string     `json:"region"`
	Account        string     `json:"account"`
	VPCID          string     `json:"vpc_id"`
	SubnetIDs      []string   `json:"subnet_ids,omitempty"`
	SecurityGroups []string   `json:"security_groups"`
	Endpoints      []Endpoint `json:"endpoints"`
	// Routes reach the first endpoint (the writer, or the only one).
	Routes  []Route `json:"routes"`
	Status  string  `json:"status,omitempty"`
	IAMAuth bool    `json:"iam_auth"`
	// MasterUserSecretARN is the Secrets Manager secret RDS keeps the
	// master password in, when it manages it.
	MasterUserSecretARN string            `json:"master_user_secret_arn,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
}

// Endpoint is one address of a database.
type Endpoint struct {
	Role string `json:"role"`
	// Name tells apart endpoints of the same role: a custom endpoint's
	// or a managed endpoint's name.
	Name string `json:"name,omitempty"`
	Host string `json:"host"`
	Port int    `json:"port"`
	// A managed VPC endpoint (Redshift Serverless) or a resource endpoint
	// has a network placement of its own, possibly in another VPC; its
	// routes are judged against that, not the database's.
	VPCID          string   `json:"vpc_id,omitempty"`
	SubnetIDs      []string `json:"subnet_ids,omitempty"`
	SecurityGroups []string `json:"security_groups,omitempty"`
	Routes         []Route  `json:"routes,omitempty"`
}

// OwnNetwork reports whether the endpoint is reached through its own
// placement rather than the database's.
func (e Endpoint) OwnNetwork() bool { return e.VPCID != "" }

// Bastion is a running EC2 instance that could carry a tunnel.
type Bastion struct {
	InstanceID     string   `json:"instance_id"`
	Name           string   `json:"name,omitempty"` // the Name tag
	VPCID          string   `json:"vpc_id"`
	SubnetID       string   `json:"subnet_id"`
	PrivateIP      string   `json:"private_ip"`
	PublicIP       string   `json:"public_ip,omitempty"`
	SecurityGroups []string `json:"security_groups"`
	State          string   `json:"state"`
	Platform       string   `json:"platform,omitempty"`
	KeyName        string   `json:"key_name,omitempty"`
	// InstanceProfile is the ARN of the instance profile; "" when none,
	// which leaves the SSM agent without credentials.
	InstanceProfile string `json:"instance_profile,omitempty"`
	// Preferred is set by the tag dbtunnel:bastion.
	Preferred bool              `json:"preferred,omitempty"`
	SSM       SSMStatus         `json:"ssm"`
	Tags      map[string]string `json:"tags,omitempty"`
}

// SSMStatus is what Systems Manager knows of an instance's agent.
type SSMStatus struct {
	// Managed is false when the instance is not registered with SSM at
	// all (no agent, no credentials, no route to the service).
	Managed      bool   `json:"managed"`
	PingStatus   string `json:"ping_status,omitempty"` // Online | ConnectionLost | Inactive
	AgentVersion string `json:"agent_version,omitempty"`
	Platform     string `json:"platform,omitempty"`
}

// Online reports whether a session can be started now.
func (s SSMStatus) Online() bool { return s.Managed && s.PingStatus == "Online" }

// Verdict is whether a route will work.
type Verdict string

const (
	VerdictOK      Verdict = "ok"
	VerdictBlocked Verdict = "blocked"
	VerdictUnknown Verdict = "unknown"
)

// Backends.
const (
	ViaSSM = "ssm"
	ViaSSH = "ssh"
)

// Route is one way to a database endpoint: a bastion and a backend.
type Route struct {
	Via         string  `json:"via"`
	Bastion     string  `json:"bastion"` // instance id
	BastionName string  `json:"bastion_name,omitempty"`
	Verdict     Verdict `json:"verdict"`
	// Reasons explain the verdict in words a person acts on.
	Reasons []string `json:"reasons"`
	// Fix is a command that unblocks the route, when one does.
	Fix string `json:"fix"`
	// Checks are every step on the path, for `doctor`.
	Checks []Check `json:"checks,omitempty"`
}

// CheckStatus is the outcome of one check on a path.
type CheckStatus string

const (
	CheckPass    CheckStatus = "pass"
	CheckFail    CheckStatus = "fail"
	CheckUnknown CheckStatus = "unknown"
)

// Check is one step on a route, as `doctor` lists it.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
	Fix    string      `json:"fix,omitempty"`
}

// Network is the part of the VPC configuration that decides reachability.
type Network struct {
	SecurityGroups map[string]SecurityGroup `json:"security_groups"`
	Subnets        map[string]Subnet        `json:"subnets"`
	RouteTables    []RouteTable             `json:"route_tables"`
	VPCEndpoints   []VPCEndpoint            `json:"vpc_endpoints"`
}

// SecurityGroup is a group and its rules.
type SecurityGroup struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	VPCID   string `json:"vpc_id"`
	Ingress []Rule `json:"ingress"`
	Egress  []Rule `json:"egress"`
}

// Rule is one permission of a security group: a protocol and port range,
// and the sources (ingress) or destinations (egress) it allows.
type Rule struct {
	// Protocol is "tcp", "udp", "icmp" or "-1" for all.
	Protocol string `json:"protocol"`
	// FromPort and ToPort bound the range; both are -1 or 0 with
	// protocol -1.
	FromPort      int      `json:"from_port"`
	ToPort        int      `json:"to_port"`
	CIDRs         []string `json:"cidrs,omitempty"`
	IPv6CIDRs     []string `json:"ipv6_cidrs,omitempty"`
	GroupIDs      []string `json:"group_ids,omitempty"`
	PrefixListIDs []string `json:"prefix_list_ids,omitempty"`
}

// Subnet is a subnet of a VPC.
type Subnet struct {
	ID    string `json:"id"`
	VPCID string `json:"vpc_id"`
	CIDR  string `json:"cidr"`
	AZ    string `json:"az"`
}

// RouteTable is a VPC route table and the subnets explicitly associated
// with it; a subnet with none uses the VPC's main table.
type RouteTable struct {
	ID        string     `json:"id"`
	VPCID     string     `json:"vpc_id"`
	Main      bool       `json:"main"`
	SubnetIDs []string   `json:"subnet_ids,omitempty"`
	Routes    []NetRoute `json:"routes"`
}

// NetRoute is one route; exactly one target field is set.
type NetRoute struct {
	Destination            string `json:"destination"`          // CIDR, or a prefix list id
	GatewayID              string `json:"gateway_id,omitempty"` // igw-…, vgw-…, "local"
	NatGatewayID           string `json:"nat_gateway_id,omitempty"`
	TransitGatewayID       string `json:"transit_gateway_id,omitempty"`
	VPCPeeringConnectionID string `json:"vpc_peering_connection_id,omitempty"`
	InstanceID             string `json:"instance_id,omitempty"`
	State                  string `json:"state,omitempty"` // active | blackhole
}

// VPCEndpoint is an interface, gateway or resource endpoint in a VPC.
type VPCEndpoint struct {
	ID             string   `json:"id"`
	VPCID          string   `json:"vpc_id"`
	Type           string   `json:"type"`                   // Interface | Gateway | Resource | ...
	ServiceName    string   `json:"service_name,omitempty"` // com.amazonaws.REGION.ssm
	SubnetIDs      []string `json:"subnet_ids,omitempty"`
	SecurityGroups []string `json:"security_groups,omitempty"`
	PrivateDNS     bool     `json:"private_dns"`
	DNSNames       []string `json:"dns_names,omitempty"`
	State          string   `json:"state"`
	// ResourceConfigurationARN is set on Resource endpoints.
	ResourceConfigurationARN string `json:"resource_configuration_arn,omitempty"`
}
