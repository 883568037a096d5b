package reach

import (
	"cmp"
	"fmt"
	"net/netip"
	"strings"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// SSH: the laptop connects to the bastion's public IP on tcp/22, which
// needs an internet gateway route from the bastion's subnet and an inbound
// rule admitting the user's address.

func (j *judge) publicIP(b discovery.Bastion) step {
	const name = "public IP"
	if b.PublicIP == "" {
		return fail(name, b.InstanceID+" has no public IP, so SSH from the internet cannot reach it", "")
	}
	return pass(name, b.InstanceID+" has public IP "+b.PublicIP)
}

func (j *judge) igwRoute(b discovery.Bastion) step {
	const name = "internet gateway route"
	sub := cmp.Or(b.SubnetID, "the bastion's subnet")
	rt := j.routeTable(b.SubnetID, b.VPCID)
	if rt == nil {
		return unknown(name, "dbtunnel found no route table for "+sub)
	}
	dst := defaultV4
	if j.hasClient {
		dst = netip.PrefixFrom(j.client, j.client.BitLen())
		if j.client.Is6() {
			// An IPv6 client reaches the IPv4 public address only
			// through NAT64 or not at all; judge the IPv4 default.
			dst = defaultV4
		}
	}
	timeout := "; SSH to " + cmp.Or(b.PublicIP, "its public IP") + " would time out"
	r, ok := lookup(rt, dst)
	switch {
	case ok && isIGW(r) && !blackhole(r):
		return pass(name, fmt.Sprintf("%s routes %s to %s (%s)", sub, r.Destination, r.GatewayID, rt.ID))
	case ok && isIGW(r):
		return fail(name, fmt.Sprintf("%s's route %s to %s is a blackhole (the gateway is gone)%s", rt.ID, r.Destination, r.GatewayID, timeout),
			j.aws("ec2 replace-route --route-table-id", rt.ID, "--destination-cidr-block", r.Destination, "--gateway-id <igw-id>"))
	case ok && !blackhole(r):
		return fail(name, fmt.Sprintf("%s is private: %s sends %s to %s, not to an internet gateway%s", sub, rt.ID, r.Destination, routeTarget(r), timeout), "")
	}
	if !j.hasClient {
		var narrow, gws []string
		for _, r := range rt.Routes {
			if isIGW(r) && !blackhole(r) {
				narrow = append(narrow, r.Destination)
				gws = appendUnique(gws, r.GatewayID)
			}
		}
		if len(narrow) > 0 {
			s := pass(name, fmt.Sprintf("%s routes only %s to %s: your address must be in it", sub, list(narrow, "and"), list(gws, "and")))
			s.note = true
			return s
		}
	}
	igw := cmp.Or(j.vpcIGW(b.VPCID), "<igw-id>")
	return fail(name, fmt.Sprintf("%s has no route to an internet gateway (%s)%s", sub, rt.ID, timeout),
		j.aws("ec2 create-route --route-table-id", rt.ID, "--destination-cidr-block 0.0.0.0/0 --gateway-id", igw))
}

func (j *judge) sshIngress(b discovery.Bastion) step {
	const name = "SSH ingress tcp/22"
	if len(b.SecurityGroups) == 0 {
		return unknown(name, "dbtunnel does not know the security groups of "+b.InstanceID)
	}
	var (
		restricted []string // "sg-x allows tcp/22 from a, b"
		prefix     []string
		unknowns   []string
		groupOnly  []string
	)
	for _, g := range b.SecurityGroups {
		sg, ok := j.sg(g)
		if !ok {
			unknowns = append(unknowns, "dbtunnel could not read the rules of "+g)
			continue
		}
		var cidrs, gids []string
		for _, r := range sg.Ingress {
			if !matches(r, 22) {
				continue
			}
			for _, c := range append(append([]string(nil), r.CIDRs...), r.IPv6CIDRs...) {
				if j.hasClient {
					if p, ok := parsePrefix(c); ok && p.Contains(j.client) {
						return pass(name, fmt.Sprintf("%s allows tcp/22 from %s%s", g, c, ruleNote(r, 22)))
					}
				} else if anywhere(c) {
					return pass(name, fmt.Sprintf("%s allows tcp/22 from %s%s", g, c, ruleNote(r, 22)))
				}
				cidrs = appendUnique(cidrs, c)
			}
			for _, pl := range r.PrefixListIDs {
				prefix = append(prefix, fmt.Sprintf("%s allows tcp/22 from prefix list %s; dbtunnel cannot expand prefix lists", g, pl))
			}
			gids = appendUnique(gids, r.GroupIDs...)
		}
		if len(cidrs) > 0 {
			restricted = append(restricted, fmt.Sprintf("%s allows tcp/22 only from %s", g, strings.Join(cidrs, ", ")))
		}
		if len(gids) > 0 {
			groupOnly = append(groupOnly, fmt.Sprintf("%s allows tcp/22 only from security group %s, which your laptop is not in", g, strings.Join(gids, ", ")))
		}
	}
	if !j.hasClient && len(restricted) > 0 {
		s := pass(name, strings.Join(restricted, "; ")+": your address must be in it")
		s.note = true
		return s
	}
	if len(prefix) > 0 || len(unknowns) > 0 {
		s := unknown(name, "")
		s.reasons = append(prefix, unknowns...)
		return s
	}
	who := "your address"
	if j.hasClient {
		who = "your address " + j.client.String()
	}
	var d string
	switch {
	case len(restricted) > 0:
		d = strings.Join(restricted, "; ") + ", not from " + who
	case len(groupOnly) > 0:
		d = strings.Join(groupOnly, "; ")
	default:
		d = noRule(b.SecurityGroups, 22, source{groups: []string{"anywhere"}})
		if j.hasClient {
			d = noRule(b.SecurityGroups, 22, source{ip: j.client})
		}
	}
	d += "; SSH would time out, not be refused"
	return fail(name, d, j.sshFix(b.SecurityGroups[0]))
}

func (j *judge) sshFix(group string) string {
	switch {
	case !j.hasClient:
		return j.aws("ec2 authorize-security-group-ingress --group-id", group, "--protocol tcp --port 22 --cidr <your-ip>/32")
	case j.client.Is6():
		return j.aws("ec2 authorize-security-group-ingress --group-id", group,
			"--ip-permissions", "'IpProtocol=tcp,FromPort=22,ToPort=22,Ipv6Ranges=[{CidrIpv6="+j.client.String()+"/128}]'")
	}
	return j.aws("ec2 authorize-security-group-ingress --group-id", group, "--protocol tcp --port 22 --cidr", j.client.String()+"/32")
}
