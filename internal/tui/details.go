package tui

import (
	"fmt"
	"strconv"

	tea "charm.land/bubbletea/v2"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/connect"
)

// detailsScreen shows one target as `doctor` sees it (every route, its
// verdict, reasons and checks) and the choices an open takes: the
// endpoint, the route (backend and bastion) and the local port, with the
// best preselected.
type detailsScreen struct {
	res      *connect.Resolver
	row      row
	endpoint int
	found    *connect.Found // nil for explicit targets and ones not discovered yet
	report   connect.Report
	route    int // index into found.Routes
	port     field
	// defaultPort is what the port field starts with: the target's
	// local_port, else the stable port dbtunnel picks for its name.
	defaultPort int
}

func newDetailsScreen(res *connect.Resolver, r row) detailsScreen {
	d := detailsScreen{res: res, row: r}
	d.defaultPort = connect.StablePort(r.name)
	if r.cfg != nil && r.cfg.LocalPort != 0 {
		d.defaultPort = r.cfg.LocalPort
	}
	d.port = field{limit: 5, accept: func(r rune) bool { return r >= '0' && r <= '9' }}
	d.port.SetValue(strconv.Itoa(d.defaultPort))
	d.locate(r.ep)
	return d
}

// locate picks endpoint ep and preselects its best route the target
// allows.
func (d *detailsScreen) locate(ep int) {
	db, ok := d.row.database()
	if !ok {
		return
	}
	d.endpoint = ep
	d.found = connect.FoundIn(d.row.inv, db, ep)
	d.report = connect.Diagnose(d.row.name, d.found)
	d.route = d.res.PreferredRoute(d.row.name, d.found)
}

// request is the open the screen's choices ask for. An unchanged port is
// left to the target, so that a busy stable port moves to the next one.
func (d *detailsScreen) request() (openRequest, error) {
	req := openRequest{name: d.row.name, found: d.found}
	if d.found != nil && d.route < len(d.found.Routes) {
		rt := d.found.Routes[d.route]
		req.o.Via, req.o.Bastion = rt.Via, rt.Bastion
	}
	p, err := strconv.Atoi(d.port.Value())
	if err != nil || p < 1 || p > 65535 {
		return req, fmt.Errorf("local port %q: want a number from 1 to 65535", d.port.Value())
	}
	if p != d.defaultPort {
		req.o.LocalPort = p
	}
	return req, nil
}

func (m *Model) detailsKey(k tea.KeyPressMsg) tea.Cmd {
	d := &m.details
	if d.port.Focused() {
		switch k.String() {
		case "enter", "esc", "tab":
			d.port.Blur()
			return nil
		}
		d.port.Update(k)
		return nil
	}
	m.setStatus("", false)
	switch k.String() {
	case "esc", "backspace", "h", "left":
		m.screen = screenTargets
	case "up", "k":
		d.route = max(0, d.route-1)
	case "down", "j":
		if d.found != nil {
			d.route = max(0, min(len(d.found.Routes)-1, d.route+1))
		}
	case "e":
		if db, ok := d.row.database(); ok && len(db.Endpoints) > 1 {
			d.locate((d.endpoint + 1) % len(db.Endpoints))
		}
	case "p":
		d.port.Focus()
	case "enter", "o":
		req, err := d.request()
		if err != nil {
			m.setStatus(err.Error(), true)
			return nil
		}
		return m.open(req)
	}
	return nil
}

func (m *Model) detailsView(w, h int) []string {
	d := &m.details
	r := d.row
	lines := []string{m.st.title.Render(r.name) + "  " + r.kind + "  " + r.engine}
	db, discovered := r.database()
	if discovered {
		vpc := db.VPCID
		if d.found.Endpoint.OwnNetwork() {
			// A managed endpoint may sit in another VPC than its
			// workgroup; its routes are judged there.
			vpc = d.found.Endpoint.VPCID
		}
		where := fmt.Sprintf("in %s · %s", d.found.Scope, vpc)
		if db.Status != "" {
			where += " · " + db.Status
		}
		lines = append(lines, where)
		ep := d.found.Endpoint
		label := ep.Role
		if ep.Name != "" {
			label += " " + ep.Name
		}
		lines = append(lines, fmt.Sprintf("endpoint %s %s (%d of %d, e for next)", label, hostPort(ep.Host, ep.Port), d.endpoint+1, len(db.Endpoints)))
	} else {
		lines = append(lines, "endpoint "+r.endpoint, "route "+r.route+" (from the config file; not judged)")
	}
	port := d.port.View()
	if !d.port.Focused() {
		port += m.st.dim.Render("  (p to change)")
	}
	lines = append(lines, "local port "+port)
	if r.note != "" {
		lines = append(lines, "", r.note)
	}
	if !discovered {
		return append(lines, "", "enter opens the tunnel")
	}
	rep := d.report
	lines = append(lines, "", m.st.header.Render(fmt.Sprintf("Routes (%d) — ↑/↓ picks backend and bastion, enter opens", len(rep.Routes))))
	if len(rep.Routes) == 0 {
		lines = append(lines, m.checkLines(rep.Checks, w)...)
		return lines
	}
	// Routes, then the chosen route's checks; each section gets what it
	// needs, routes first, around the cursor.
	var routeLines []string
	cur := 0
	for i, rt := range rep.Routes {
		mark := "  "
		if i == d.route {
			mark = "› "
			cur = len(routeLines)
		}
		line := mark + m.st.verdict(rt.Verdict, pad(verdictMark(rt.Verdict), colVerdict)) + pad(rt.Via, 5) + bastionLabel(rt)
		if i == d.route {
			line = m.st.selected.Render(padRight(mark+pad(verdictMark(rt.Verdict), colVerdict)+pad(rt.Via, 5)+bastionLabel(rt), w))
		}
		routeLines = append(routeLines, line)
		for _, reason := range rt.Reasons {
			routeLines = append(routeLines, "             "+reason)
		}
	}
	checks := append([]string{"", m.st.header.Render(fmt.Sprintf("Checks of route %d (what doctor says)", d.route+1))}, m.checkLines(rep.Routes[d.route].Checks, w)...)
	room := h - len(lines)
	routeRoom := max(2, room-min(len(checks), room/2))
	if len(routeLines) > routeRoom {
		start := max(0, min(cur-routeRoom/2, len(routeLines)-routeRoom))
		routeLines = routeLines[start : start+routeRoom]
	}
	lines = append(lines, routeLines...)
	return append(lines, checks...)
}

func (m *Model) checkLines(checks []discovery.Check, w int) []string {
	if len(checks) == 0 {
		return []string{"  (no checks recorded)"}
	}
	var out []string
	for _, c := range checks {
		out = append(out, "  "+m.st.verdict(checkVerdict(c.Status), checkMark(c.Status))+" "+pad(c.Name, 16)+c.Detail)
		if c.Fix != "" {
			out = append(out, "      fix: "+c.Fix)
		}
	}
	return out
}
