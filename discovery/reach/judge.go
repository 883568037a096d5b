package reach

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// judge holds one endpoint's placement and the scope's CLI flags; its
// methods judge paths from bastions to it.
type judge struct {
	inv *discovery.Inventory
	db  discovery.Database
	ep  discovery.Endpoint

	// The network the endpoint is reached through: its own for managed
	// VPC endpoints and resource endpoints, else the database's.
	own     bool
	what    string // "prod-aurora", "endpoint ep-1"
	vpc     string
	subnets []string
	groups  []string
	port    int

	region string
	flags  string // " --profile P --region R" for fixes

	client    netip.Addr
	hasClient bool
}

// step is a Check plus what the Route needs from it.
type step struct {
	discovery.Check
	// reasons, when set, are the detail's parts, listed apart in
	// Route.Reasons; the Check's Detail joins them.
	reasons []string
	// note marks a passing check whose detail still matters to the user.
	note bool
	// key marks the check whose passing detail explains an ok route.
	key bool
}

func newJudge(inv *discovery.Inventory, db discovery.Database, ep discovery.Endpoint, o Options) *judge {
	j := &judge{inv: inv, db: db, ep: ep, port: ep.Port}
	if ep.OwnNetwork() {
		j.own = true
		j.vpc, j.subnets, j.groups = ep.VPCID, ep.SubnetIDs, ep.SecurityGroups
		name := cmp.Or(ep.Name, ep.Host, ep.Role)
		j.what = "endpoint " + name
	} else {
		j.vpc, j.subnets, j.groups = db.VPCID, db.SubnetIDs, db.SecurityGroups
		j.what = cmp.Or(db.Name, "the database")
	}
	profile := cmp.Or(inv.Scope.Profile, db.Profile)
	j.region = cmp.Or(inv.Scope.Region, db.Region)
	if profile != "" {
		j.flags += " --profile " + profile
	}
	if j.region != "" {
		j.flags += " --region " + j.region
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(o.ClientIP)); err == nil {
		j.client, j.hasClient = a.Unmap(), true
	}
	return j
}

// aws renders a CLI command with the scope's profile and region.
func (j *judge) aws(args ...string) string {
	return "aws " + strings.Join(args, " ") + j.flags
}

func (j *judge) proto() string { return "tcp/" + strconv.Itoa(j.port) }

// candidate reports whether b could carry a tunnel to the endpoint at all.
func (j *judge) candidate(b discovery.Bastion) bool {
	switch b.State {
	case "terminated", "shutting-down":
		return false
	case "", "running":
	default:
		if !b.Preferred {
			return false
		}
	}
	if !b.SSM.Managed && b.InstanceProfile == "" && !b.Preferred && b.PublicIP == "" {
		return false
	}
	if j.vpc == "" || b.VPCID == "" {
		return false
	}
	if b.VPCID == j.vpc {
		return true
	}
	_, linked := j.crossVPC(b)
	return linked
}

// judge runs every check on the path from the laptop through b with the
// backend via to the endpoint, in path order.
func (j *judge) judge(b discovery.Bastion, via string) discovery.Route {
	steps := []step{j.running(b)}
	switch via {
	case discovery.ViaSSM:
		steps = append(steps, j.ssmOnline(b))
	case discovery.ViaSSH:
		steps = append(steps, j.publicIP(b), j.igwRoute(b), j.sshIngress(b))
	default:
		steps = append(steps, step{Check: discovery.Check{
			Name: "backend", Status: discovery.CheckFail,
			Detail: fmt.Sprintf("unknown backend %q: dbtunnel tunnels via %s or %s", via, discovery.ViaSSM, discovery.ViaSSH),
		}})
	}
	steps = append(steps, j.vpcStep(b), j.egress(b), j.ingress(b))
	return assemble(b, via, steps)
}

func assemble(b discovery.Bastion, via string, steps []step) discovery.Route {
	r := discovery.Route{
		Via:         via,
		Bastion:     b.InstanceID,
		BastionName: b.Name,
		Verdict:     discovery.VerdictOK,
		Reasons:     []string{},
		Checks:      make([]discovery.Check, 0, len(steps)),
	}
	var fails, unknowns, notes, key []string
	for _, s := range steps {
		if len(s.reasons) > 0 {
			s.Detail = strings.Join(s.reasons, "; ")
		}
		r.Checks = append(r.Checks, s.Check)
		why := s.reasons
		if len(why) == 0 {
			why = []string{s.Detail}
		}
		switch s.Status {
		case discovery.CheckFail:
			fails = append(fails, why...)
			if r.Fix == "" {
				r.Fix = s.Fix
			}
		case discovery.CheckUnknown:
			unknowns = append(unknowns, why...)
		case discovery.CheckPass:
			if s.key {
				key = append(key, why...)
			}
			if s.note {
				notes = append(notes, why...)
			}
		}
	}
	switch {
	case len(fails) > 0:
		r.Verdict = discovery.VerdictBlocked
		r.Reasons = append(r.Reasons, fails...)
	case len(unknowns) > 0:
		r.Verdict = discovery.VerdictUnknown
		r.Reasons = append(append(r.Reasons, unknowns...), notes...)
	default:
		r.Reasons = append(append(r.Reasons, key...), notes...)
	}
	return r
}

func pass(name, detail string) step {
	return step{Check: discovery.Check{Name: name, Status: discovery.CheckPass, Detail: detail}}
}

func unknown(name, detail string) step {
	return step{Check: discovery.Check{Name: name, Status: discovery.CheckUnknown, Detail: detail}}
}

func fail(name, detail, fix string) step {
	return step{Check: discovery.Check{Name: name, Status: discovery.CheckFail, Detail: detail, Fix: fix}}
}

// ---- the bastion itself ----

func (j *judge) running(b discovery.Bastion) step {
	const name = "bastion running"
	id := b.InstanceID
	switch b.State {
	case "running":
		return pass(name, id+" is running")
	case "":
		return unknown(name, "dbtunnel does not know whether "+id+" is running")
	case "pending":
		return unknown(name, id+" is pending: it should be running shortly")
	case "stopped", "stopping":
		return fail(name, id+" is "+b.State, j.aws("ec2 start-instances --instance-ids", id))
	}
	return fail(name, id+" is "+b.State+", not running", "")
}

// ---- network between bastion and endpoint ----

func (j *judge) vpcStep(b discovery.Bastion) step {
	if b.VPCID != "" && b.VPCID == j.vpc {
		return pass("same VPC", fmt.Sprintf("%s and %s are both in %s", b.InstanceID, j.what, j.vpc))
	}
	s, _ := j.crossVPC(b)
	return s
}

// crossVPC looks for routes from the bastion's subnet to the endpoint's
// subnets through a peering connection or transit gateway. linked is true
// when at least one subnet is routed; the verdict is then at best unknown,
// since the other side's routes and NACLs are not in the inventory.
func (j *judge) crossVPC(b discovery.Bastion) (s step, linked bool) {
	const name = "VPC route"
	where := fmt.Sprintf("%s is in %s, %s in %s", b.InstanceID, cmp.Or(b.VPCID, "an unknown VPC"), j.what, cmp.Or(j.vpc, "an unknown VPC"))
	if b.VPCID == "" || j.vpc == "" {
		return unknown(name, where), false
	}
	rt := j.routeTable(b.SubnetID, b.VPCID)
	if rt == nil {
		return unknown(name, where+", and dbtunnel found no route table for "+cmp.Or(b.SubnetID, "its subnet")), false
	}
	cidrs := j.subnetCIDRs(j.subnets)
	if len(cidrs) == 0 {
		return unknown(name, where+", and dbtunnel does not know the subnets of "+j.what), false
	}
	var covered, missed, via []string
	for _, p := range cidrs {
		r, ok := lookup(rt, p)
		if ok && !blackhole(r) && (r.VPCPeeringConnectionID != "" || r.TransitGatewayID != "") {
			covered = append(covered, p.String())
			via = appendUnique(via, routeTarget(r))
		} else {
			missed = append(missed, p.String())
		}
	}
	if len(covered) == 0 {
		return fail(name, fmt.Sprintf("%s, and %s has no route to %s through a peering connection or transit gateway",
			where, rt.ID, list(missed, "or")), ""), false
	}
	d := fmt.Sprintf("%s: %s routes %s through %s; dbtunnel cannot see the other side's routes and NACLs",
		where, rt.ID, list(covered, "and"), list(via, "and"))
	if len(missed) > 0 {
		d += fmt.Sprintf("; no route to %s", list(missed, "or"))
	}
	return unknown(name, d), true
}

// egress: one of the bastion's groups must let tcp/port out to the
// endpoint: to one of its groups, to 0.0.0.0/0, or to CIDRs covering all
// its subnets.
func (j *judge) egress(b discovery.Bastion) step {
	name := "bastion egress " + j.proto()
	if len(b.SecurityGroups) == 0 {
		return unknown(name, "dbtunnel does not know the security groups of "+b.InstanceID)
	}
	cidrs := j.subnetCIDRs(j.subnets)
	covered := make([]bool, len(cidrs))
	type allow struct{ group, cidr string }
	var allows []allow // CIDR rules that cover some subnet
	var unknowns []string
	for _, g := range b.SecurityGroups {
		sg, ok := j.sg(g)
		if !ok {
			unknowns = append(unknowns, "dbtunnel could not read the rules of "+g)
			continue
		}
		for _, r := range sg.Egress {
			if !matches(r, j.port) {
				continue
			}
			note := ruleNote(r, j.port)
			for _, dst := range r.GroupIDs {
				if slices.Contains(j.groups, dst) {
					return pass(name, fmt.Sprintf("%s allows %s out to %s%s", g, j.proto(), dst, note))
				}
			}
			for _, c := range r.CIDRs {
				if anywhere(c) {
					return pass(name, fmt.Sprintf("%s allows %s out to %s%s", g, j.proto(), c, note))
				}
				p, ok := parsePrefix(c)
				if !ok {
					continue
				}
				used := false
				for i, sub := range cidrs {
					if covers(p, sub) {
						covered[i], used = true, true
					}
				}
				if used {
					allows = append(allows, allow{g, c + note})
				} else if len(cidrs) == 0 {
					unknowns = append(unknowns, fmt.Sprintf("%s allows %s out to %s; dbtunnel does not know the subnets of %s", g, j.proto(), c, j.what))
				}
			}
			for _, pl := range r.PrefixListIDs {
				unknowns = append(unknowns, fmt.Sprintf("%s allows %s out to prefix list %s; dbtunnel cannot expand prefix lists", g, j.proto(), pl))
			}
		}
	}
	var parts []string
	for _, a := range allows {
		parts = append(parts, fmt.Sprintf("%s allows %s out to %s", a.group, j.proto(), a.cidr))
	}
	all := len(cidrs) > 0
	var missed []string
	for i, c := range covered {
		if !c {
			all = false
			missed = append(missed, cidrs[i].String())
		}
	}
	switch {
	case all:
		return pass(name, strings.Join(parts, "; "))
	case len(allows) > 0:
		s := unknown(name, "")
		s.reasons = append(parts, fmt.Sprintf("nothing allows it to %s: if %s's address is there, connections would time out", list(missed, "or"), j.what))
		s.reasons = append(s.reasons, unknowns...)
		return s
	case len(unknowns) > 0:
		s := unknown(name, "")
		s.reasons = unknowns
		return s
	}
	var dests []string
	dests = append(dests, j.groups...)
	for _, c := range cidrs {
		dests = append(dests, c.String())
	}
	d := fmt.Sprintf("%s allows no outbound %s", b.SecurityGroups[0], j.proto())
	if len(b.SecurityGroups) > 1 {
		d = fmt.Sprintf("none of %s allows outbound %s", strings.Join(b.SecurityGroups, ", "), j.proto())
	}
	d += " to " + j.what
	if len(dests) > 0 {
		d += " (" + strings.Join(dests, ", ") + ")"
	}
	d += "; connections would time out, not be refused"
	return fail(name, d, j.egressFix(b.SecurityGroups[0], b.VPCID == j.vpc, cidrs))
}

func (j *judge) egressFix(group string, sameVPC bool, cidrs []netip.Prefix) string {
	perm := "IpProtocol=tcp,FromPort=" + strconv.Itoa(j.port) + ",ToPort=" + strconv.Itoa(j.port)
	switch {
	case sameVPC && len(j.groups) > 0:
		perm += ",UserIdGroupPairs=[{GroupId=" + j.groups[0] + "}]"
	case len(cidrs) > 0:
		var rs []string
		for _, c := range cidrs {
			rs = append(rs, "{CidrIp="+c.String()+"}")
		}
		perm += ",IpRanges=[" + strings.Join(rs, ",") + "]"
	default:
		perm += ",IpRanges=[{CidrIp=<database-cidr>}]"
	}
	return j.aws("ec2 authorize-security-group-egress --group-id", group, "--ip-permissions", "'"+perm+"'")
}

// source is who a connection comes from, as a security group sees it.
type source struct {
	groups []string
	ip     netip.Addr
}

func (s source) String() string {
	items := append([]string(nil), s.groups...)
	if s.ip.IsValid() {
		items = append(items, s.ip.String())
	}
	return list(items, "or")
}

// allowIn looks through groups for an inbound rule letting src reach
// tcp/port. It returns the passing detail, or the unknowns (unreadable
// groups, prefix lists); neither means no rule allows it.
func (j *judge) allowIn(groups []string, port int, src source) (passed string, unknowns []string) {
	p := "tcp/" + strconv.Itoa(port)
	for _, g := range groups {
		sg, ok := j.sg(g)
		if !ok {
			unknowns = append(unknowns, "dbtunnel could not read the rules of "+g)
			continue
		}
		for _, r := range sg.Ingress {
			if !matches(r, port) {
				continue
			}
			note := ruleNote(r, port)
			for _, from := range r.GroupIDs {
				if slices.Contains(src.groups, from) {
					return fmt.Sprintf("%s allows %s from %s%s", g, p, from, note), nil
				}
			}
			if src.ip.IsValid() {
				for _, c := range append(append([]string(nil), r.CIDRs...), r.IPv6CIDRs...) {
					if pr, ok := parsePrefix(c); ok && pr.Contains(src.ip) {
						return fmt.Sprintf("%s allows %s from %s%s", g, p, c, note), nil
					}
				}
			}
			for _, pl := range r.PrefixListIDs {
				unknowns = append(unknowns, fmt.Sprintf("%s allows %s from prefix list %s; dbtunnel cannot expand prefix lists", g, p, pl))
			}
		}
	}
	return "", unknowns
}

// noRule words a miss: "sg-a has no inbound rule for tcp/5432 from sg-b or
// 10.0.1.23", or "none of sg-a, sg-b has …".
func noRule(groups []string, port int, src source) string {
	if len(groups) > 1 {
		return fmt.Sprintf("none of %s has an inbound rule for tcp/%d from %s", strings.Join(groups, ", "), port, src)
	}
	return fmt.Sprintf("%s has no inbound rule for tcp/%d from %s", groups[0], port, src)
}

func (j *judge) bastionSource(b discovery.Bastion) source {
	s := source{groups: b.SecurityGroups}
	if a, err := netip.ParseAddr(b.PrivateIP); err == nil {
		s.ip = a.Unmap()
	}
	return s
}

// ingress: one of the endpoint's groups (only the endpoint's own, for a
// managed or resource endpoint) must admit tcp/port from the bastion.
func (j *judge) ingress(b discovery.Bastion) step {
	name := "database ingress " + j.proto()
	src := j.bastionSource(b)
	if len(j.groups) == 0 {
		s := fail(name, fmt.Sprintf("%s has no security groups, so all inbound traffic is dropped; connections would time out, not be refused", j.what), j.attachGroupFix(src))
		return s
	}
	passed, unknowns := j.allowIn(j.groups, j.port, src)
	if passed != "" {
		s := pass(name, passed)
		s.key = true
		return s
	}
	if len(unknowns) > 0 {
		s := unknown(name, "")
		s.reasons = unknowns
		return s
	}
	fix := "--source-group " + firstOr(b.SecurityGroups, "")
	if b.VPCID != j.vpc || len(b.SecurityGroups) == 0 {
		fix = "--cidr " + cmp.Or(b.PrivateIP, "<bastion-private-ip>") + "/32"
	}
	return fail(name, noRule(j.groups, j.port, src)+"; connections would time out, not be refused",
		j.aws("ec2 authorize-security-group-ingress --group-id", j.groups[0], "--protocol tcp --port", strconv.Itoa(j.port), fix))
}

// attachGroupFix is the command that gives a group-less database one.
func (j *judge) attachGroupFix(src source) string {
	sg := "<sg-allowing-" + j.proto() + "-from-" + firstOr(src.groups, "the-bastion") + ">"
	sg = strings.ReplaceAll(sg, "/", "-")
	if j.own {
		if j.ep.Role == discovery.RoleManagedEndpoint && j.ep.Name != "" {
			return j.aws("redshift-serverless update-endpoint-access --endpoint-name", j.ep.Name, "--vpc-security-group-ids", sg)
		}
		return ""
	}
	n := j.db.Name
	if n == "" {
		return ""
	}
	switch j.db.Kind {
	case discovery.KindRDSInstance:
		return j.aws("rds modify-db-instance --db-instance-identifier", n, "--vpc-security-group-ids", sg, "--apply-immediately")
	case discovery.KindAuroraCluster:
		return j.aws("rds modify-db-cluster --db-cluster-identifier", n, "--vpc-security-group-ids", sg, "--apply-immediately")
	case discovery.KindRDSProxy:
		return j.aws("rds modify-db-proxy --db-proxy-name", n, "--security-groups", sg)
	case discovery.KindRedshiftCluster:
		return j.aws("redshift modify-cluster --cluster-identifier", n, "--vpc-security-group-ids", sg)
	case discovery.KindRedshiftServerless:
		return j.aws("redshift-serverless update-workgroup --workgroup-name", n, "--security-group-ids", sg)
	}
	return ""
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}
