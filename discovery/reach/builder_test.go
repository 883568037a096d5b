package reach

import (
	"strings"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// world builds inventories tersely.
type world struct{ inv *discovery.Inventory }

func newWorld() *world {
	return &world{inv: &discovery.Inventory{
		Scope:   discovery.Scope{Profile: "prod", Region: "ap-northeast-1"},
		Account: "123456789012",
		Network: discovery.Network{
			SecurityGroups: map[string]discovery.SecurityGroup{},
			Subnets:        map[string]discovery.Subnet{},
		},
	}}
}

func (w *world) subnet(id, vpc, cidr string) *world {
	w.inv.Network.Subnets[id] = discovery.Subnet{ID: id, VPCID: vpc, CIDR: cidr, AZ: "ap-northeast-1a"}
	return w
}

// table adds a route table, or replaces the one with that id; it is the
// VPC's main table when subnets is nil.
func (w *world) table(id, vpc string, subnets []string, routes ...discovery.NetRoute) *world {
	rt := discovery.RouteTable{ID: id, VPCID: vpc, Main: subnets == nil, SubnetIDs: subnets, Routes: routes}
	for i := range w.inv.Network.RouteTables {
		if w.inv.Network.RouteTables[i].ID == id {
			w.inv.Network.RouteTables[i] = rt
			return w
		}
	}
	w.inv.Network.RouteTables = append(w.inv.Network.RouteTables, rt)
	return w
}

// group adds a security group; egress defaults to all traffic anywhere.
func (w *world) group(id string, in []discovery.Rule, out ...discovery.Rule) *world {
	if out == nil {
		out = []discovery.Rule{allTo("0.0.0.0/0")}
	}
	if len(out) == 1 && out[0].Protocol == "none" {
		out = []discovery.Rule{}
	}
	w.inv.Network.SecurityGroups[id] = discovery.SecurityGroup{ID: id, Name: id, VPCID: "vpc-0abc", Ingress: in, Egress: out}
	return w
}

func (w *world) bastion(bs ...discovery.Bastion) *world {
	w.inv.Bastions = append(w.inv.Bastions, bs...)
	return w
}

func (w *world) database(ds ...discovery.Database) *world {
	w.inv.Databases = append(w.inv.Databases, ds...)
	return w
}

func (w *world) vpce(es ...discovery.VPCEndpoint) *world {
	w.inv.Network.VPCEndpoints = append(w.inv.Network.VPCEndpoints, es...)
	return w
}

func (w *world) edit(f func(inv *discovery.Inventory)) *world { f(w.inv); return w }

// peers sorts rule sources by their shape: sg-…, pl-…, IPv6, IPv4.
func peers(r discovery.Rule, from []string) discovery.Rule {
	for _, f := range from {
		switch {
		case strings.HasPrefix(f, "sg-"):
			r.GroupIDs = append(r.GroupIDs, f)
		case strings.HasPrefix(f, "pl-"):
			r.PrefixListIDs = append(r.PrefixListIDs, f)
		case strings.Contains(f, ":"):
			r.IPv6CIDRs = append(r.IPv6CIDRs, f)
		default:
			r.CIDRs = append(r.CIDRs, f)
		}
	}
	return r
}

func tcp(port int, from ...string) discovery.Rule { return tcpRange(port, port, from...) }

func tcpRange(lo, hi int, from ...string) discovery.Rule {
	return peers(discovery.Rule{Protocol: "tcp", FromPort: lo, ToPort: hi}, from)
}

func allTo(to ...string) discovery.Rule {
	return peers(discovery.Rule{Protocol: "-1", FromPort: -1, ToPort: -1}, to)
}

func rules(r ...discovery.Rule) []discovery.Rule { return r }

// noEgress is passed as a group's egress to give it no outbound rule.
var noEgress = discovery.Rule{Protocol: "none"}

func local(cidr string) discovery.NetRoute {
	return discovery.NetRoute{Destination: cidr, GatewayID: "local", State: "active"}
}

func toIGW(id string) discovery.NetRoute {
	return discovery.NetRoute{Destination: "0.0.0.0/0", GatewayID: id, State: "active"}
}

func toNAT(id string) discovery.NetRoute {
	return discovery.NetRoute{Destination: "0.0.0.0/0", NatGatewayID: id, State: "active"}
}

func toPCX(dst, id string) discovery.NetRoute {
	return discovery.NetRoute{Destination: dst, VPCPeeringConnectionID: id, State: "active"}
}

func toTGW(dst, id string) discovery.NetRoute {
	return discovery.NetRoute{Destination: dst, TransitGatewayID: id, State: "active"}
}

// ssmBastion is a running private instance with a profile and an online agent.
func ssmBastion(id, name, subnet, ip string, sgs ...string) discovery.Bastion {
	return discovery.Bastion{
		InstanceID: id, Name: name, VPCID: "vpc-0abc", SubnetID: subnet, PrivateIP: ip,
		SecurityGroups: sgs, State: "running",
		InstanceProfile: "arn:aws:iam::123456789012:instance-profile/ssm",
		SSM:             discovery.SSMStatus{Managed: true, PingStatus: "Online", AgentVersion: "3.3.1142.0", Platform: "Linux"},
	}
}

// sshBastion is a running public instance, unknown to SSM.
func sshBastion(id, name, subnet, ip, public string, sgs ...string) discovery.Bastion {
	return discovery.Bastion{
		InstanceID: id, Name: name, VPCID: "vpc-0abc", SubnetID: subnet, PrivateIP: ip, PublicIP: public,
		SecurityGroups: sgs, State: "running", KeyName: "bastion",
	}
}

func with(b discovery.Bastion, f func(*discovery.Bastion)) discovery.Bastion { f(&b); return b }

func vpce(id, vpc, svc string, sgs ...string) discovery.VPCEndpoint {
	return discovery.VPCEndpoint{
		ID: id, VPCID: vpc, Type: "Interface", ServiceName: "com.amazonaws.ap-northeast-1." + svc,
		SubnetIDs: []string{"subnet-private"}, SecurityGroups: sgs, PrivateDNS: true, State: "available",
	}
}

func rds(name string, port int, sgs ...string) discovery.Database {
	return discovery.Database{
		Name: name, Kind: discovery.KindRDSInstance, Engine: "mysql", Profile: "prod", Region: "ap-northeast-1",
		VPCID: "vpc-0abc", SubnetIDs: []string{"subnet-db-a", "subnet-db-c"}, SecurityGroups: sgs,
		Endpoints: []discovery.Endpoint{{Role: discovery.RoleInstance, Host: name + ".cl50iikpthxs.ap-northeast-1.rds.amazonaws.com", Port: port}},
	}
}

// seed000 is the Aurora topology of the bastion seed: a public bastion for
// SSH and a private one for SSM behind the three interface endpoints.
//
//	vpc-0abc 10.0.0.0/16
//	  subnet-public  10.0.1.0/24  rtb-public: 0.0.0.0/0 -> igw-0abc   i-0public 10.0.1.23 / 203.0.113.10
//	  subnet-private 10.0.2.0/24  main table: local only              i-0private 10.0.2.50
//	  subnet-db-a/c  10.0.3.0/24, 10.0.4.0/24                         prod-aurora (sg-0db)
func seed000() *world {
	return newWorld().
		subnet("subnet-public", "vpc-0abc", "10.0.1.0/24").
		subnet("subnet-private", "vpc-0abc", "10.0.2.0/24").
		subnet("subnet-db-a", "vpc-0abc", "10.0.3.0/24").
		subnet("subnet-db-c", "vpc-0abc", "10.0.4.0/24").
		table("rtb-main", "vpc-0abc", nil, local("10.0.0.0/16")).
		table("rtb-public", "vpc-0abc", []string{"subnet-public"}, local("10.0.0.0/16"), toIGW("igw-0abc")).
		group("sg-0public", rules(tcp(22, "198.51.100.7/32"))).
		group("sg-0bastion", nil).
		group("sg-0vpce", rules(tcp(443, "sg-0bastion"))).
		group("sg-0db", rules(tcp(5432, "sg-0bastion", "sg-0public"))).
		vpce(vpce("vpce-ssm", "vpc-0abc", "ssm", "sg-0vpce"),
			vpce("vpce-ssmmessages", "vpc-0abc", "ssmmessages", "sg-0vpce"),
			vpce("vpce-ec2messages", "vpc-0abc", "ec2messages", "sg-0vpce")).
		bastion(sshBastion("i-0public", "bastion-public", "subnet-public", "10.0.1.23", "203.0.113.10", "sg-0public"),
			ssmBastion("i-0private", "bastion-private", "subnet-private", "10.0.2.50", "sg-0bastion")).
		database(discovery.Database{
			Name: "prod-aurora", Kind: discovery.KindAuroraCluster, Engine: "aurora-postgresql",
			Profile: "prod", Region: "ap-northeast-1", Account: "123456789012", VPCID: "vpc-0abc",
			SubnetIDs: []string{"subnet-db-a", "subnet-db-c"}, SecurityGroups: []string{"sg-0db"},
			Endpoints: []discovery.Endpoint{
				{Role: discovery.RoleWriter, Host: "prod-aurora.cluster-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
				{Role: discovery.RoleReader, Host: "prod-aurora.cluster-ro-abc.ap-northeast-1.rds.amazonaws.com", Port: 5432},
			},
		})
}
