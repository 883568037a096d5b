// Package reach judges, from an Inventory alone, whether each path from the
// user's laptop through a bastion to a database endpoint will work: SSM
// Session Manager port forwarding through any EC2 instance the agent runs
// on, or SSH through one with a public IP. It reads security groups, route
// tables and VPC endpoints and predicts what AWS would drop, naming the
// missing rule and the aws CLI command that adds it.
//
// The package is pure: no AWS SDK, no network, no clock. Output is
// deterministic for a given inventory.
package reach

import (
	"cmp"
	"slices"
	"strings"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// Options tune the judgement.
type Options struct {
	// ClientIP is the user's public address when known, else "". With it
	// the SSH checks test that the bastion admits this address; without,
	// restricted SSH rules pass with a warning.
	ClientIP string
}

// Annotate fills every database's Routes (to its first endpoint) and, for
// endpoints with a network of their own (Redshift Serverless managed VPC
// endpoints, resource endpoints), the endpoint's Routes. Routes are ordered
// best first. A database with no candidate bastion gets an empty list.
// Annotate replaces whatever routes were there, so it may run again.
func Annotate(inv *discovery.Inventory, o Options) {
	if inv == nil {
		return
	}
	for i := range inv.Databases {
		db := &inv.Databases[i]
		db.Routes = []discovery.Route{}
		for k := range db.Endpoints {
			ep := &db.Endpoints[k]
			if k == 0 {
				db.Routes = Routes(inv, *db, *ep, o)
			}
			// Judged again rather than shared, so that the two lists
			// never alias each other.
			ep.Routes = nil
			if ep.OwnNetwork() {
				ep.Routes = Routes(inv, *db, *ep, o)
			}
		}
	}
}

// Routes returns the routes to one endpoint of db through every candidate
// bastion in inv, best first. Candidates are the instances in the
// endpoint's VPC (the database's, unless the endpoint has its own network)
// or in a VPC routed to it through a peering connection or transit
// gateway; an instance offers an SSM route when it is SSM-managed, has an
// instance profile or is tagged dbtunnel:bastion, and an SSH route when it
// has a public IP. Instances that are not running are candidates only when
// tagged dbtunnel:bastion (to say they are stopped).
func Routes(inv *discovery.Inventory, db discovery.Database, ep discovery.Endpoint, o Options) []discovery.Route {
	out := []discovery.Route{}
	if inv == nil || ep.Port <= 0 {
		return out
	}
	j := newJudge(inv, db, ep, o)
	type ranked struct {
		r discovery.Route
		b discovery.Bastion
	}
	// Pointers: a ranked is hundreds of bytes, and a stable sort moves
	// elements O(n log² n) times; with a hundred bastions per VPC, moving
	// the structs was a quarter of the judging time.
	var rs []*ranked
	for _, b := range inv.Bastions {
		if !j.candidate(b) {
			continue
		}
		if b.SSM.Managed || b.InstanceProfile != "" || b.Preferred {
			rs = append(rs, &ranked{j.judge(b, discovery.ViaSSM), b})
		}
		if b.PublicIP != "" {
			rs = append(rs, &ranked{j.judge(b, discovery.ViaSSH), b})
		}
	}
	slices.SortStableFunc(rs, func(x, y *ranked) int {
		return cmp.Or(
			cmp.Compare(verdictRank(x.r.Verdict), verdictRank(y.r.Verdict)),
			cmp.Compare(backendRank(x.r.Via, x.b), backendRank(y.r.Via, y.b)),
			cmp.Compare(preferredRank(x.b), preferredRank(y.b)),
			cmp.Compare(sortName(x.b), sortName(y.b)),
			cmp.Compare(x.b.InstanceID, y.b.InstanceID),
			strings.Compare(x.r.Via, y.r.Via),
		)
	})
	for _, r := range rs {
		out = append(out, r.r)
	}
	return out
}

// Judge judges one path: endpoint ep of db through bastion b with backend
// via (discovery.ViaSSM or discovery.ViaSSH). It works for any bastion, not
// only a candidate (for `doctor --bastion`), and returns the Route with its
// Verdict, Reasons, Fix and every Check in path order.
func Judge(inv *discovery.Inventory, db discovery.Database, ep discovery.Endpoint, b discovery.Bastion, via string, o Options) discovery.Route {
	if inv == nil {
		inv = &discovery.Inventory{}
	}
	return newJudge(inv, db, ep, o).judge(b, via)
}

func verdictRank(v discovery.Verdict) int {
	switch v {
	case discovery.VerdictOK:
		return 0
	case discovery.VerdictUnknown:
		return 1
	}
	return 2
}

// backendRank puts SSM through an instance with no public IP first: nothing
// listens on the internet and there is no key pair to leak.
func backendRank(via string, b discovery.Bastion) int {
	switch {
	case via == discovery.ViaSSM && b.SSM.Online() && b.PublicIP == "":
		return 0
	case via == discovery.ViaSSM:
		return 1
	}
	return 2
}

func preferredRank(b discovery.Bastion) int {
	if b.Preferred {
		return 0
	}
	return 1
}

func sortName(b discovery.Bastion) string {
	if b.Name != "" {
		return b.Name
	}
	return b.InstanceID
}

// SSMAgent judges only whether b's SSM agent can be online, and if it is
// not, why: the check a TargetNotConnected failure is explained with. It
// needs no database, so it also serves targets given by host and instance.
func SSMAgent(inv *discovery.Inventory, b discovery.Bastion, o Options) discovery.Check {
	j := newJudge(inv, discovery.Database{VPCID: b.VPCID}, discovery.Endpoint{}, o)
	steps := []step{j.running(b), j.ssmOnline(b)}
	for _, s := range steps {
		if s.Status != discovery.CheckPass {
			if len(s.reasons) > 0 {
				s.Detail = strings.Join(s.reasons, "; ")
			}
			return s.Check
		}
	}
	return steps[1].Check
}
