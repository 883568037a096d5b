package reach

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// parsePrefix reads a CIDR, tolerating host bits ("10.0.1.5/24").
func parsePrefix(s string) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// covers reports whether outer contains every address of inner.
func covers(outer, inner netip.Prefix) bool {
	return outer.Addr().Is4() == inner.Addr().Is4() &&
		outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// defaultV4 is the IPv4 default route's destination.
var defaultV4 = netip.MustParsePrefix("0.0.0.0/0")

func anywhere(cidr string) bool { return cidr == "0.0.0.0/0" || cidr == "::/0" }

// matches reports whether a rule covers tcp/port.
func matches(r discovery.Rule, port int) bool {
	switch strings.ToLower(r.Protocol) {
	case "-1", "all":
		return true
	case "tcp", "6":
		if r.FromPort == -1 && r.ToPort == -1 {
			return true
		}
		return r.FromPort <= port && port <= r.ToPort
	}
	return false
}

// ruleNote says what a matching rule actually allows when it is broader
// than the single port.
func ruleNote(r discovery.Rule, port int) string {
	switch strings.ToLower(r.Protocol) {
	case "-1", "all":
		return " (rule: all traffic)"
	}
	if r.FromPort == port && r.ToPort == port {
		return ""
	}
	if r.FromPort == -1 && r.ToPort == -1 {
		return " (rule: all tcp)"
	}
	return " (rule: tcp/" + strconv.Itoa(r.FromPort) + "-" + strconv.Itoa(r.ToPort) + ")"
}

// routeTable is the table a subnet uses: its explicit association, else
// the main table of its VPC.
func (j *judge) routeTable(subnetID, vpcID string) *discovery.RouteTable {
	rts := j.inv.Network.RouteTables
	for i := range rts {
		if subnetID != "" && slices.Contains(rts[i].SubnetIDs, subnetID) {
			return &rts[i]
		}
	}
	if vpcID == "" {
		if s, ok := j.inv.Network.Subnets[subnetID]; ok {
			vpcID = s.VPCID
		}
	}
	for i := range rts {
		if rts[i].Main && rts[i].VPCID == vpcID && vpcID != "" {
			return &rts[i]
		}
	}
	return nil
}

// lookup is the longest-prefix route covering dst, blackholes included.
func lookup(rt *discovery.RouteTable, dst netip.Prefix) (discovery.NetRoute, bool) {
	var best discovery.NetRoute
	bits := -1
	for _, r := range rt.Routes {
		p, ok := parsePrefix(r.Destination)
		if !ok || !covers(p, dst) || p.Bits() <= bits {
			continue
		}
		best, bits = r, p.Bits()
	}
	return best, bits >= 0
}

func blackhole(r discovery.NetRoute) bool { return strings.EqualFold(r.State, "blackhole") }

func isIGW(r discovery.NetRoute) bool { return strings.HasPrefix(r.GatewayID, "igw-") }

func isNAT(r discovery.NetRoute) bool { return r.NatGatewayID != "" || r.InstanceID != "" }

// target of a route, for messages.
func routeTarget(r discovery.NetRoute) string {
	for _, s := range []string{r.GatewayID, r.NatGatewayID, r.TransitGatewayID, r.VPCPeeringConnectionID, r.InstanceID} {
		if s != "" {
			return s
		}
	}
	return "nowhere"
}

// vpcIGW finds the internet gateway some route table of the VPC uses.
func (j *judge) vpcIGW(vpcID string) string {
	for _, rt := range j.inv.Network.RouteTables {
		if rt.VPCID != vpcID {
			continue
		}
		for _, r := range rt.Routes {
			if isIGW(r) {
				return r.GatewayID
			}
		}
	}
	return ""
}

// subnetCIDRs resolves subnet ids; unknown ones are left out.
func (j *judge) subnetCIDRs(ids []string) []netip.Prefix {
	var out []netip.Prefix
	for _, id := range ids {
		if s, ok := j.inv.Network.Subnets[id]; ok {
			if p, ok := parsePrefix(s.CIDR); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

func (j *judge) sg(id string) (discovery.SecurityGroup, bool) {
	g, ok := j.inv.Network.SecurityGroups[id]
	return g, ok
}

// list joins "a", "a or b", "a, b or c".
func list(items []string, conj string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

func appendUnique(s []string, v ...string) []string {
	for _, x := range v {
		if !slices.Contains(s, x) {
			s = append(s, x)
		}
	}
	return s
}
