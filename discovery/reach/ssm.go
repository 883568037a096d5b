package reach

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// SSM: the laptop talks to Systems Manager, which relays to the agent on the
// bastion. The agent must be online; when it is not, the usual causes are
// no credentials (no instance profile) and no way out to the SSM service
// (private subnet with neither a NAT route nor the three interface
// endpoints, or endpoints whose security groups drop tcp/443).

// ssmServices are the interface endpoints the agent needs without a NAT.
var ssmServices = [...]string{"ssm", "ssmmessages", "ec2messages"}

func (j *judge) ssmOnline(b discovery.Bastion) step {
	const name = "SSM agent online"
	id := b.InstanceID
	if b.SSM.Online() {
		d := id + "'s SSM agent is online"
		if b.SSM.AgentVersion != "" {
			d += " (agent " + b.SSM.AgentVersion + ")"
		}
		return pass(name, d)
	}
	if b.State != "" && b.State != "running" {
		return fail(name, id+" is "+b.State+", so its SSM agent cannot be online", "")
	}
	var causes, fixes []string
	add := func(cause, fix string) {
		causes = append(causes, cause)
		if fix != "" {
			fixes = appendUnique(fixes, fix)
		}
	}
	if !b.SSM.Managed && b.InstanceProfile == "" {
		add("no instance profile: the SSM agent has no credentials; attach a role with AmazonSSMManagedInstanceCore",
			j.aws("ec2 associate-iam-instance-profile --instance-id", id, "--iam-instance-profile Name=<profile-with-AmazonSSMManagedInstanceCore>"))
	}
	out, outDetail := j.internet(b)
	eps := j.ssmEndpoints(b.VPCID)
	if out == egressNo {
		var missing []string
		for _, svc := range ssmServices {
			if _, ok := eps[svc]; !ok {
				missing = append(missing, j.service(svc))
			}
		}
		if len(missing) > 0 {
			var fx []string
			for _, svc := range missing {
				fx = append(fx, j.aws("ec2 create-vpc-endpoint --vpc-id", b.VPCID, "--vpc-endpoint-type Interface --service-name", svc,
					"--subnet-ids", cmp.Or(b.SubnetID, "<subnet-id>"), "--security-group-ids", j.endpointGroup(eps, b)))
			}
			add(fmt.Sprintf("%s, and %s has no interface endpoint for %s: the agent cannot reach Systems Manager",
				outDetail, cmp.Or(b.VPCID, "the VPC"), list(missing, "or")), strings.Join(fx, " && "))
		}
	}
	// Endpoints are used when there is no other way out, or when private
	// DNS sends the service names to them anyway. Endpoints sharing groups
	// share one reason.
	src := j.bastionSource(b)
	var keys []string
	blocked := map[string][]discovery.VPCEndpoint{}
	for _, svc := range ssmServices {
		ep, ok := eps[svc]
		if !ok || (out != egressNo && !ep.PrivateDNS) || len(ep.SecurityGroups) == 0 {
			continue
		}
		if passed, unknowns := j.allowIn(ep.SecurityGroups, 443, src); passed != "" || len(unknowns) > 0 {
			continue
		}
		k := strings.Join(ep.SecurityGroups, ",")
		if _, seen := blocked[k]; !seen {
			keys = append(keys, k)
		}
		blocked[k] = append(blocked[k], ep)
	}
	for _, k := range keys {
		eps := blocked[k]
		var ids []string
		for _, ep := range eps {
			ids = append(ids, ep.ID+" ("+ep.ServiceName+")")
		}
		fix := "--source-group " + firstOr(b.SecurityGroups, "")
		if len(b.SecurityGroups) == 0 {
			fix = "--cidr " + b.PrivateIP + "/32"
		}
		add(fmt.Sprintf("%s, so the agent cannot reach Systems Manager through %s", noRule(eps[0].SecurityGroups, 443, src), list(ids, "and")),
			j.aws("ec2 authorize-security-group-ingress --group-id", eps[0].SecurityGroups[0], "--protocol tcp --port 443", fix))
	}
	if d, fix, ok := j.noEgress443(b); ok {
		add(d, fix)
	}
	switch b.SSM.PingStatus {
	case "ConnectionLost", "Inactive":
		add(fmt.Sprintf("Systems Manager reports %s's agent as %s: it has stopped reaching the service", id, b.SSM.PingStatus), "")
	}
	if len(causes) > 0 {
		s := fail(name, "", strings.Join(fixes, " && "))
		s.reasons = causes
		return s
	}
	if !b.SSM.Managed {
		return unknown(name, id+" is not registered with Systems Manager: agent not online; check the agent is running and its role has AmazonSSMManagedInstanceCore")
	}
	return unknown(name, "agent not online; check the agent is running")
}

// service names a service endpoint in the scope's region.
func (j *judge) service(svc string) string {
	return "com.amazonaws." + cmp.Or(j.region, "REGION") + "." + svc
}

// ssmEndpoints finds the usable interface endpoints for the SSM services in
// a VPC, by service (whatever the region in the name).
func (j *judge) ssmEndpoints(vpc string) map[string]discovery.VPCEndpoint {
	found := map[string]discovery.VPCEndpoint{}
	for _, ep := range j.inv.Network.VPCEndpoints {
		if ep.VPCID != vpc || !strings.EqualFold(ep.Type, "Interface") {
			continue
		}
		switch strings.ToLower(ep.State) {
		case "", "available":
		default:
			continue
		}
		for _, svc := range ssmServices {
			if strings.HasPrefix(ep.ServiceName, "com.amazonaws.") && strings.HasSuffix(ep.ServiceName, "."+svc) {
				if _, dup := found[svc]; !dup {
					found[svc] = ep
				}
			}
		}
	}
	return found
}

// endpointGroup picks the group for a new SSM endpoint: the one the VPC's
// other SSM endpoints use, else a placeholder.
func (j *judge) endpointGroup(eps map[string]discovery.VPCEndpoint, b discovery.Bastion) string {
	for _, svc := range ssmServices {
		if ep, ok := eps[svc]; ok && len(ep.SecurityGroups) > 0 {
			return ep.SecurityGroups[0]
		}
	}
	return "<sg-allowing-tcp-443-from-" + firstOr(b.SecurityGroups, "the-bastion") + ">"
}

type egressWay int

const (
	egressMaybe egressWay = iota // unknown table, or a default route to a TGW/VGW/peering
	egressYes
	egressNo
)

// internet says whether the bastion can reach public AWS service
// addresses: through an internet gateway with a public IP, or a NAT.
func (j *judge) internet(b discovery.Bastion) (egressWay, string) {
	sub := cmp.Or(b.SubnetID, "the bastion's subnet")
	rt := j.routeTable(b.SubnetID, b.VPCID)
	if rt == nil {
		return egressMaybe, ""
	}
	r, ok := lookup(rt, defaultV4)
	switch {
	case !ok || blackhole(r):
		return egressNo, fmt.Sprintf("%s has no NAT route (%s has no 0.0.0.0/0 route to a NAT or internet gateway)", sub, rt.ID)
	case isIGW(r) && b.PublicIP != "":
		return egressYes, ""
	case isIGW(r):
		return egressNo, fmt.Sprintf("%s routes 0.0.0.0/0 to %s but %s has no public IP, and there is no NAT route", sub, r.GatewayID, b.InstanceID)
	case isNAT(r):
		return egressYes, ""
	}
	return egressMaybe, ""
}

// noEgress443 reports when none of the bastion's groups lets tcp/443 out
// to anywhere: the agent then cannot reach the service by any way.
func (j *judge) noEgress443(b discovery.Bastion) (detail, fix string, found bool) {
	if len(b.SecurityGroups) == 0 {
		return "", "", false
	}
	for _, g := range b.SecurityGroups {
		sg, ok := j.sg(g)
		if !ok {
			return "", "", false
		}
		for _, r := range sg.Egress {
			if matches(r, 443) {
				return "", "", false
			}
		}
	}
	d := b.SecurityGroups[0] + " allows no outbound tcp/443"
	if len(b.SecurityGroups) > 1 {
		d = "none of " + strings.Join(b.SecurityGroups, ", ") + " allows outbound tcp/443"
	}
	return d + ": the agent cannot reach Systems Manager",
		j.aws("ec2 authorize-security-group-egress --group-id", b.SecurityGroups[0],
			"--ip-permissions", "'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]'"), true
}
