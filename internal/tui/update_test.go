package tui

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/tunnel"
)

func selectedName(m *Model) string {
	r, ok := m.targets.selected(m.rows)
	if !ok {
		return ""
	}
	return r.name
}

func TestTargetsGroupAndOrder(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	var got []string
	for _, r := range m.rows {
		got = append(got, r.group+": "+r.name+" "+string(r.verdict))
	}
	want := []string{
		"config file: legacy ",
		"prod / ap-northeast-1 / vpc-0app: orders-mysql blocked",
		"prod / ap-northeast-1 / vpc-0app: prod-aurora ok",
		"dev / us-east-1 / vpc-0data: analytics unknown",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s", strings.Join(got, "\n"))
	}
}

func TestFilterAsYouTypeKeepsSelection(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	press(m, "down", "down") // prod-aurora
	if selectedName(m) != "prod-aurora" {
		t.Fatalf("selected %q", selectedName(m))
	}
	press(m, "/")
	typeText(m, "postg")
	if len(m.targets.visible) != 1 || selectedName(m) != "prod-aurora" {
		t.Fatalf("after 'postg': %d visible, selected %q", len(m.targets.visible), selectedName(m))
	}
	// Keys typed into the filter are not commands.
	typeText(m, "q")
	if m.quitting || m.targets.filter.Value() != "postgq" || len(m.targets.visible) != 0 {
		t.Fatalf("q while filtering: quitting=%v filter=%q visible=%d", m.quitting, m.targets.filter.Value(), len(m.targets.visible))
	}
	if !strings.Contains(plain(m), "nothing matches the filter") {
		t.Fatal(plain(m))
	}
	press(m, "backspace")
	if len(m.targets.visible) != 1 {
		t.Fatalf("after backspace: %d visible", len(m.targets.visible))
	}
	// Every word must match, anywhere in the row.
	press(m, "esc")
	press(m, "/")
	typeText(m, "ssh blocked")
	if len(m.targets.visible) != 1 || selectedName(m) != "orders-mysql" {
		t.Fatalf("'ssh blocked': %d visible, selected %q", len(m.targets.visible), selectedName(m))
	}
	press(m, "esc")
	if m.targets.filter.Value() != "" || len(m.targets.visible) != len(m.rows) {
		t.Fatal("esc did not clear the filter")
	}
}

func TestScanResultsReplaceCacheAndErrorsAreNotFatal(t *testing.T) {
	o := fixtureOptions(t)
	m := New(t.Context(), o)
	m.tickEvery = 0
	cached := *fixtureInventories()[prod]
	cached.Databases = cached.Databases[:1]
	m.Update(cacheMsg{results: []discovery.Result{{Scope: prod, Inventory: &cached, FromCache: true}}})
	m.startScan()
	if len(m.rows) != 2 || !strings.Contains(plain(m), "prod/ap-northeast-1 (1 cached)") {
		t.Fatalf("cache not shown:\n%s", plain(m))
	}
	m.Update(scanResultMsg{result: discovery.Result{Scope: denied, Err: errors.New("api error UnauthorizedOperation")}})
	m.Update(scanResultMsg{result: discovery.Result{Scope: prod, Inventory: fixtureInventories()[prod]}})
	s := plain(m)
	if len(m.rows) != 3 || !strings.Contains(s, "✓ prod/ap-northeast-1 (2)") || !strings.Contains(s, "✗ audit/eu-west-1: api error UnauthorizedOperation") {
		t.Fatalf("rows %d\n%s", len(m.rows), s)
	}
	// A failed rescan keeps what the scope showed.
	m.Update(scanResultMsg{result: discovery.Result{Scope: prod, Err: errors.New("throttled")}})
	if len(m.rows) != 3 {
		t.Fatalf("rows after a failed rescan: %d", len(m.rows))
	}
	// A late cache read does not overwrite a fresh scan.
	m.Update(cacheMsg{results: []discovery.Result{{Scope: prod, Inventory: &cached, FromCache: true}}})
	if len(m.rows) != 3 {
		t.Fatalf("rows after a late cache read: %d", len(m.rows))
	}
}

func TestDetailsPreselectsBestRouteAndBuildsRequest(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	press(m, "down", "down", "enter")
	if m.screen != screenDetails || m.details.row.name != "prod-aurora" {
		t.Fatalf("screen %v row %q", m.screen, m.details.row.name)
	}
	req, err := m.details.request()
	if err != nil || req.o.Via != "ssm" || req.o.Bastion != "i-0priv" || req.o.LocalPort != 0 || req.found == nil {
		t.Fatalf("best route request %+v, %v", req.o, err)
	}
	press(m, "down")
	if !strings.Contains(plain(m), "Checks of route 2") {
		t.Fatal(plain(m))
	}
	press(m, "p", "backspace", "backspace", "backspace", "backspace", "backspace")
	typeText(m, "15x432")
	press(m, "enter")
	req, err = m.details.request()
	if err != nil || req.o.Via != "ssh" || req.o.Bastion != "i-0pub" || req.o.LocalPort != 15432 {
		t.Fatalf("chosen request %+v, %v", req.o, err)
	}
	// e moves to the reader endpoint, whose routes are the database's.
	press(m, "e")
	if m.details.found.Endpoint.Role != discovery.RoleReader || m.details.route != 0 {
		t.Fatalf("endpoint %+v route %d", m.details.found.Endpoint, m.details.route)
	}
	press(m, "p", "backspace", "backspace", "backspace", "backspace", "backspace", "enter")
	press(m, "enter")
	if m.screen != screenDetails || !m.statusErr || !strings.Contains(m.status, "local port") {
		t.Fatalf("empty port: screen %v status %q", m.screen, m.status)
	}
	press(m, "esc")
	if m.screen != screenTargets {
		t.Fatal("esc did not go back")
	}
}

func TestDetailsOfBlockedDatabaseShowsFix(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	press(m, "down", "enter") // orders-mysql
	s := plain(m)
	if !strings.Contains(s, "✗ blocked ssh  i-0pub (bastion-public)") || !strings.Contains(s, "sg-0orders has no inbound rule") {
		t.Fatal(s)
	}
}

// openedEntry runs the open of the selected target up to the command,
// and returns the entry it made.
func openedEntry(t *testing.T, m *Model) *entry {
	t.Helper()
	if cmd := press(m, "o"); cmd == nil {
		t.Fatal("o returned no command")
	}
	if m.screen != screenTunnels || len(m.tunnels.entries) == 0 {
		t.Fatalf("screen %v, %d entries", m.screen, len(m.tunnels.entries))
	}
	e := m.tunnels.entries[len(m.tunnels.entries)-1]
	if e.state != stateOpening {
		t.Fatalf("state %s", e.state)
	}
	return e
}

func TestTunnelsFollowEventsAndStats(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	press(m, "down", "down")
	e := openedEntry(t, m)
	if e.name != "prod-aurora" || e.req.o.Via != "ssm" {
		t.Fatalf("%+v", e.req)
	}
	// A second o on the same target selects the open one.
	press(m, "1", "o")
	if len(m.tunnels.entries) != 1 || !strings.Contains(m.status, "already open") {
		t.Fatalf("%d entries, status %q", len(m.tunnels.entries), m.status)
	}

	tun, err := tunnel.Forward(t.Context(), tunnel.Spec{Name: "prod-aurora"}, nopDialer{})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	target := connect.Target{Name: "prod-aurora", Engine: "postgres", Host: "db", Port: 5432, User: "app", Route: connect.Route{Via: "ssm", Bastion: "i-0priv"}}
	m.Update(openedMsg{id: e.id, target: target, tun: tun})
	if e.state != tunnel.StateConnecting || e.local != tun.LocalAddr().String() || !strings.HasPrefix(e.url, "postgres://app@"+e.local) {
		t.Fatalf("%+v", e)
	}
	m.Update(tunnelEventMsg{id: e.id, tun: tun, ok: true, ev: tunnel.Event{State: tunnel.StateReconnecting, Err: errors.New("ssm: session refused")}})
	if e.state != tunnel.StateReconnecting || e.err != "ssm: session refused" {
		t.Fatalf("%+v", e)
	}
	m.Update(tunnelEventMsg{id: e.id, tun: tun, ok: true, ev: tunnel.Event{State: tunnel.StateReady}})
	t0 := time.Now()
	m.Update(statsMsg{at: t0, stats: map[int]tunnel.Stats{e.id: {State: tunnel.StateReady, Active: 2, Total: 3, BytesIn: 1000, BytesOut: 24, Reconnects: 1}}})
	m.Update(statsMsg{at: t0.Add(time.Second), stats: map[int]tunnel.Stats{e.id: {State: tunnel.StateReady, Active: 2, Total: 3, BytesIn: 3048, BytesOut: 24, Reconnects: 1}}})
	s := plain(m)
	for _, want := range []string{"● prod-aurora", "ready", "connections 2 (3 total)", "in 3.0 KiB", "out 24 B", "reconnects 1", "2.0 KiB/s", "via ssm i-0priv"} {
		if !strings.Contains(s, want) {
			t.Fatalf("no %q in\n%s", want, s)
		}
	}
	if m.tunnels.activeConns() != 2 {
		t.Fatal("active connections not counted")
	}
	// Keys: c copies, r asks for a redial, d closes.
	if cmd := press(m, "c"); cmd == nil || !strings.Contains(m.status, "(OSC 52)") {
		t.Fatalf("c: status %q", m.status)
	}
	if cmd := press(m, "r"); cmd == nil || !strings.Contains(m.status, "reconnecting prod-aurora") {
		t.Fatalf("r: status %q", m.status)
	}
	// d closes: the entry reads closing until the tunnel has let go of
	// its port, whatever events still arrive.
	if cmd := press(m, "d"); cmd == nil || e.state != stateClosing {
		t.Fatalf("d: state %s", e.state)
	}
	m.Update(tunnelEventMsg{id: e.id, tun: tun, ok: true, ev: tunnel.Event{State: tunnel.StateReady}})
	if cmd := press(m, "d"); cmd != nil || e.state != stateClosing || !strings.Contains(plain(m), "◌ prod-aurora") {
		t.Fatalf("while closing: state %s\n%s", e.state, plain(m))
	}
	m.Update(closedMsg{id: e.id})
	if e.state != tunnel.StateClosed {
		t.Fatalf("closed: state %s", e.state)
	}
	press(m, "d") // again: removed
	if len(m.tunnels.entries) != 0 {
		t.Fatal("second d did not remove the closed entry")
	}
}

func TestOpenFailureIsShownAndReopenable(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	press(m, "down")
	e := openedEntry(t, m)
	m.Update(openedMsg{id: e.id, err: &connect.NoRouteError{Target: "orders-mysql"}})
	if e.state != tunnel.StateFailed || !strings.Contains(plain(m), "last error: no working route to orders-mysql") {
		t.Fatal(plain(m))
	}
	if cmd := press(m, "enter"); cmd == nil || len(m.tunnels.entries) != 1 || m.tunnels.entries[0].state != stateOpening {
		t.Fatal("enter did not reopen the failed tunnel")
	}
}

func TestQuitAsksOnlyWithActiveConnections(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	if cmd := press(m, "q"); !m.quitting || cmd == nil {
		t.Fatal("q with no tunnels did not quit")
	}

	m = newLoaded(t, fixtureOptions(t))
	press(m, "down", "down")
	e := openedEntry(t, m)
	e.state, e.stats.Active = tunnel.StateReady, 1
	press(m, "q")
	if m.quitting || !m.confirmQuit || !strings.Contains(plain(m), "1 connection(s) active") {
		t.Fatal(plain(m))
	}
	press(m, "n")
	if m.confirmQuit || m.quitting {
		t.Fatal("n did not cancel")
	}
	press(m, "ctrl+c")
	cmd := press(m, "y")
	if !m.quitting || cmd == nil || !strings.Contains(plain(m), "closing every tunnel") {
		t.Fatal(plain(m))
	}
	// Every tunnel closed: the program ends.
	if _, cmd := m.Update(allClosedMsg{}); cmd == nil {
		t.Fatal("no quit after every tunnel closed")
	} else if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("allClosedMsg did not quit")
	}
}

func TestResizeAndSmallTerminal(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	for _, size := range [][2]int{{80, 24}, {120, 40}, {200, 50}, {40, 10}, {20, 6}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, scr := range []string{"1", "2"} {
			press(m, scr)
			lines := strings.Split(plain(m), "\n")
			if len(lines) != size[1] {
				t.Fatalf("%dx%d screen %s: %d lines", size[0], size[1], scr, len(lines))
			}
			for _, l := range lines {
				if w := len([]rune(l)); w > size[0] {
					t.Fatalf("%dx%d: line wider than the terminal: %q", size[0], size[1], l)
				}
			}
		}
	}
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 50})
	press(m, "1")
	if !strings.Contains(plain(m), "ENDPOINT") || !strings.Contains(plain(m), "prod-aurora.cluster-abc.ap-northeast-1.rds.amazonaws.com:5432") {
		t.Fatal("no endpoint column on a wide terminal:\n" + plain(m))
	}
}

func TestSparkline(t *testing.T) {
	if got := sparkline([]int64{0, 1, 4, 8}, 6); got != "  ▁▂▅█" {
		t.Fatalf("%q", got)
	}
	if got := bytesText(1536); got != "1.5 KiB" {
		t.Fatal(got)
	}
}

type nopDialer struct{}

func (nopDialer) DialContext(ctx context.Context) (net.Conn, error) {
	return nil, errors.New("no backend")
}
func (nopDialer) Close() error { return nil }

// TestConfigTargetsOpenWhatTheyName: a config target that names an
// endpoint other than the first, or a Redshift Serverless managed
// endpoint, or a backend, is listed, detailed and opened as `dbtunnel up`
// resolves it by name.
func TestConfigTargetsOpenWhatTheyName(t *testing.T) {
	o := fixtureOptions(t)
	o.Config = parseConfig(t, fixtureYAML+discoveredYAML)
	m := newLoaded(t, o)
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 30})
	want := map[string]struct{ endpoint, route, verdict string }{
		"prod-reader": {"prod-aurora.cluster-ro-abc.ap-northeast-1.rds.amazonaws.com:5432", "ssm i-0priv (bastion-private)", "ok"},
		"tools":       {"endpoint-tools.123.us-east-1.redshift-serverless.amazonaws.com:5439", "ssh i-0tools (bastion-tools)", "ok"},
		"aurora-ssh":  {"prod-aurora.cluster-abc.ap-northeast-1.rds.amazonaws.com:5432", "ssh i-0pub (bastion-public)", "blocked"},
		// The only route through i-0pub is blocked: shown, not swapped
		// for one the target does not allow.
		"aurora-pinned": {"prod-aurora.cluster-abc.ap-northeast-1.rds.amazonaws.com:5432", "ssh i-0pub (bastion-public)", "blocked"},
	}
	for i, name := range []string{"prod-reader", "tools", "aurora-ssh", "aurora-pinned"} {
		r := m.rows[i+1]
		w := want[name]
		if r.name != name || r.group != configGroup || r.endpoint != w.endpoint || r.route != w.route || string(r.verdict) != w.verdict {
			t.Errorf("row %d: %q in %q: endpoint %q route %q verdict %q; want %+v", i+1, r.name, r.group, r.endpoint, r.route, r.verdict, w)
		}
	}

	cli := &connect.Resolver{Config: o.Config, Source: o.Source, Scopes: o.Scopes}
	for i, name := range []string{"prod-reader", "tools"} {
		m.screen, m.targets.cursor = screenTargets, 0
		for range i + 1 {
			press(m, "down")
		}
		press(m, "enter")
		if m.screen != screenDetails || m.details.row.name != name {
			t.Fatalf("details of %q, want %q", m.details.row.name, name)
		}
		if s := plain(m); !strings.Contains(s, "(2 of 2, e for next)") {
			t.Errorf("%s: details do not start on the target's endpoint:\n%s", name, s)
		}
		req, err := m.details.request()
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.opts.Resolver.ResolveFound(req.name, req.found, req.o)
		if err != nil {
			t.Fatalf("%s: the TUI's open: %v", name, err)
		}
		byName, err := cli.Resolve(t.Context(), name, connect.Overrides{})
		if err != nil {
			t.Fatalf("%s: resolved by name: %v", name, err)
		}
		if got.Remote() != byName.Remote() || got.Route.Via != byName.Route.Via || got.Route.Bastion != byName.Route.Bastion {
			t.Errorf("%s: the TUI opens %s via %s %s; by name: %s via %s %s", name,
				got.Remote(), got.Route.Via, got.Route.Bastion, byName.Remote(), byName.Route.Via, byName.Route.Bastion)
		}
		press(m, "esc")
	}

	// The details of a target whose routes are all refused preselect
	// the one it asks for.
	for i, name := range []string{"aurora-ssh", "aurora-pinned"} {
		m.screen, m.targets.cursor = screenTargets, 0
		for range i + 3 {
			press(m, "down")
		}
		press(m, "enter")
		if m.details.row.name != name || m.details.route != 1 || !strings.Contains(plain(m), "› ✗ blocked ssh  i-0pub") {
			t.Errorf("details of %q: route %d\n%s", m.details.row.name, m.details.route, plain(m))
		}
		press(m, "esc")
	}

	// o opens the same without the details screen.
	m.targets.cursor = 0
	press(m, "down", "down")
	e := openedEntry(t, m)
	if e.name != "tools" || e.req.found == nil || e.req.found.Endpoint.Name != "analytics-tools" || e.req.o.Via != "ssh" || e.req.o.Bastion != "i-0tools" {
		t.Fatalf("o on tools asks for %+v", e.req)
	}
}

// runCmd runs cmd and the commands of any batch it returns, and returns
// their messages.
func runCmd(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if b, ok := msg.(tea.BatchMsg); ok {
		var msgs []tea.Msg
		for _, c := range b {
			msgs = append(msgs, runCmd(c)...)
		}
		return msgs
	}
	if msg == nil {
		return nil
	}
	return []tea.Msg{msg}
}

// TestOpenFailureLogNamesTheTarget: a target that cannot be resolved is
// named in the log line that says so.
func TestOpenFailureLogNamesTheTarget(t *testing.T) {
	o := fixtureOptions(t)
	o.Config = parseConfig(t, fixtureYAML+`  ghost:
    profile: audit
    region: eu-west-1
    database: ghost-db
`)
	m := newLoaded(t, o)
	press(m, "down")
	var opened *openedMsg
	for _, msg := range runCmd(press(m, "o")) {
		if om, ok := msg.(openedMsg); ok {
			opened = &om
		}
	}
	if opened == nil || opened.err == nil {
		t.Fatalf("open of ghost: %+v", opened)
	}
	runCmd(m.tunnelsUpdate(*opened))
	var lines []string
	for len(m.lines) > 0 {
		lines = append(lines, <-m.lines)
	}
	if !slices.ContainsFunc(lines, func(l string) bool {
		return strings.Contains(l, "ERROR open failed target=ghost err=")
	}) {
		t.Fatalf("log lines %q", lines)
	}
}
