package tui

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/connect"
)

// scopeState is what the targets screen knows of one discovery scope.
type scopeState struct {
	scope     discovery.Scope
	inv       *discovery.Inventory // nil until cached or scanned
	fromCache bool                 // inv came from the cache; a scan may still be running
	scanning  bool
	err       error // the last scan's failure; inv may still hold older results
}

// row is one line of the targets list: a config target or a discovered
// database. Everything the list shows is computed once, when inventories
// change, so a keystroke in the filter only compares strings.
type row struct {
	name   string // what the user opens: a config target's or a database's name
	group  string // header the row sits under
	kind   string
	engine string
	// endpoint is host:port of the first endpoint, or the explicit host.
	endpoint string
	route    string // best route, for people
	verdict  discovery.Verdict
	// judged is false for explicit config targets: nothing discovered
	// them, so no verdict exists.
	judged bool
	// note says why a config target has no discovery data yet.
	note string

	cfg *config.Target // set for config targets
	inv *discovery.Inventory
	db  int // index into inv.Databases when inv is set
	// ep is the endpoint the row opens, an index into the database's
	// Endpoints: a config target's `endpoint:` or managed endpoint.
	ep    int
	match string
}

// database returns the discovered database behind the row, if any.
func (r *row) database() (discovery.Database, bool) {
	if r.inv == nil {
		return discovery.Database{}, false
	}
	return r.inv.Databases[r.db], true
}

const configGroup = "config file"

// buildRows lists config targets first, in file order, then every
// discovered database grouped by profile / region / VPC, each with the
// route res would open it on.
func buildRows(cfg *config.Config, res *connect.Resolver, scopes []*scopeState) []row {
	var rows []row
	if cfg != nil {
		names := cfg.Order
		if len(names) != len(cfg.Targets) {
			names = make([]string, 0, len(cfg.Targets))
			for n := range cfg.Targets {
				names = append(names, n)
			}
			slices.Sort(names)
		}
		for _, n := range names {
			if ct := cfg.Targets[n]; ct != nil {
				rows = append(rows, configRow(res, n, ct, scopes))
			}
		}
	}
	for _, s := range scopes {
		if s.inv == nil {
			continue
		}
		start := len(rows)
		for i, db := range s.inv.Databases {
			r := dbRow(res, db.Name, s.inv, i, 0)
			r.group = groupName(s.scope, db.VPCID)
			rows = append(rows, r)
		}
		group := rows[start:]
		slices.SortStableFunc(group, func(a, b row) int {
			if c := strings.Compare(a.group, b.group); c != 0 {
				return c
			}
			return strings.Compare(a.name, b.name)
		})
	}
	for i := range rows {
		r := &rows[i]
		r.match = strings.ToLower(strings.Join([]string{r.name, r.group, r.kind, r.engine, r.endpoint, r.route, string(r.verdict)}, " "))
	}
	return rows
}

func groupName(s discovery.Scope, vpc string) string {
	if vpc == "" {
		vpc = "no VPC"
	}
	return s.Profile + " / " + s.Region + " / " + vpc
}

// dbRow lists endpoint ep of database i with the route the row opens on,
// as res picks it for the target called name.
func dbRow(res *connect.Resolver, name string, inv *discovery.Inventory, i, ep int) row {
	db := inv.Databases[i]
	r := row{name: name, kind: string(db.Kind), engine: db.Engine, inv: inv, db: i, ep: ep, judged: true}
	f := connect.FoundIn(inv, db, ep)
	r.endpoint = hostPort(f.Endpoint.Host, f.Endpoint.Port)
	if len(f.Routes) == 0 {
		r.route, r.verdict = "no bastion", discovery.VerdictBlocked
		return r
	}
	best := f.Routes[res.PreferredRoute(name, f)]
	r.route, r.verdict = best.Via+" "+bastionLabel(best), best.Verdict
	return r
}

func configRow(res *connect.Resolver, name string, ct *config.Target, scopes []*scopeState) row {
	if ct.Host != "" {
		r := row{name: name, group: configGroup, kind: "explicit", engine: ct.Engine, endpoint: hostPort(ct.Host, ct.Port), cfg: ct}
		switch {
		case ct.SSH != nil && ct.SSH.Host != "" && ct.Via != config.ViaSSM:
			r.route = "ssh " + ct.SSH.Host
		case ct.Bastion != "":
			r.route = "ssm " + ct.Bastion
		default:
			r.route = "-"
		}
		return r
	}
	for _, s := range scopes {
		if s.inv == nil || (ct.Profile != "" && s.scope.Profile != ct.Profile) || (ct.Region != "" && s.scope.Region != ct.Region) {
			continue
		}
		for i, db := range s.inv.Databases {
			// The same match a search by name makes, so the row opens
			// what `dbtunnel up` would.
			if ep := connect.EndpointIndex(db, ct.Database, ct.Endpoint); ep >= 0 {
				r := dbRow(res, name, s.inv, i, ep)
				r.group, r.cfg = configGroup, ct
				return r
			}
		}
	}
	return row{
		name: name, group: configGroup, kind: "database", engine: ct.Engine, endpoint: ct.Database,
		route: "-", verdict: discovery.VerdictUnknown, judged: true, cfg: ct,
		note: "not in the inventory yet: opening it searches " + scopeLabel(ct.Profile, ct.Region),
	}
}

func scopeLabel(profile, region string) string {
	return discovery.Scope{Profile: profile, Region: region}.String()
}

func hostPort(host string, port int) string {
	if port == 0 {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func bastionLabel(r discovery.Route) string {
	if r.BastionName != "" {
		return r.Bastion + " (" + r.BastionName + ")"
	}
	return r.Bastion
}

// filterRows returns the indexes of the rows whose text contains every
// word of the query, case-insensitively.
func filterRows(rows []row, query string, into []int) []int {
	into = into[:0]
	words := strings.Fields(strings.ToLower(query))
next:
	for i := range rows {
		for _, w := range words {
			if !strings.Contains(rows[i].match, w) {
				continue next
			}
		}
		into = append(into, i)
	}
	return into
}
