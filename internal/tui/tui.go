// Package tui is dbtunnel's interactive terminal program: discover
// databases, pick a route, open tunnels and watch them. A root Model holds
// the state and delegates to one screen per file (targets, details,
// tunnels); every piece of I/O (discovery, the cache, opening and closing
// tunnels, sampling their counters, the clipboard) runs in a tea.Cmd whose
// result comes back as a typed message.
package tui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/connect"
)

// Options are what the program works with.
type Options struct {
	// Config may have no targets.
	Config *config.Config
	// Resolver resolves a target name (config or discovered) to a
	// connect.Target.
	Resolver *connect.Resolver
	// Opener opens tunnels.
	Opener *connect.Opener
	// Source discovers databases; nil (no AWS) lists config targets only.
	Source discovery.Source
	Scopes []discovery.Scope
	// Cache, when set, is shown at once while fresh scans stream in, and
	// receives their results.
	Cache *discovery.Cache
	// Logger should write to a file: the program owns the terminal.
	Logger *slog.Logger
	// Title names the session in the header, e.g. "sandbox".
	Title string
	// Asker is where questions for the user go: the program asks them
	// (host keys and passphrases of the tunnels it opens; the caller may
	// route others, such as MFA codes, to it). Nil: the program makes
	// its own.
	Asker *Asker
}

type screen int

const (
	screenTargets screen = iota
	screenDetails
	screenTunnels
)

// closeGrace is how long open connections may finish when the program
// quits.
const closeGrace = 5 * time.Second

// Model is the root model.
type Model struct {
	ctx    context.Context
	opts   Options
	log    *slog.Logger
	lines  chan string
	opener *connect.Opener
	reg    *registry
	asker  *Asker
	// tickEvery is the stats sampling period; 0 samples only on request
	// (tests).
	tickEvery time.Duration

	width, height int
	screen        screen
	help, showLog bool
	confirmQuit   bool
	quitting      bool
	status        string
	statusErr     bool

	st       styles
	spin     spinner.Model
	spinning bool
	scopes   []*scopeState
	scanning bool
	rows     []row
	logs     []string

	targets targetsScreen
	details detailsScreen
	tunnels tunnelsScreen
	asking  asking
}

// New builds the program's model. ctx bounds discovery and the log pane;
// tunnels live until closed.
func New(ctx context.Context, o Options) *Model {
	if o.Config == nil {
		o.Config = &config.Config{Targets: map[string]*config.Target{}}
	}
	if o.Resolver == nil {
		o.Resolver = &connect.Resolver{Config: o.Config, Source: o.Source, Scopes: o.Scopes}
	}
	next := slog.Handler(slog.DiscardHandler)
	if o.Logger != nil {
		next = o.Logger.Handler()
	}
	lines := make(chan string, 256)
	log := slog.New(&paneHandler{next: next, lines: lines})
	op := &connect.Opener{}
	if o.Opener != nil {
		cp := *o.Opener
		op = &cp
	}
	// Tunnel logs reach the pane too.
	op.Logger = log
	asker := o.Asker
	if asker == nil {
		asker = NewAsker()
	}
	// The terminal is the program's: a tunnel asks through it.
	op.Prompter = asker
	m := &Model{
		ctx: ctx, opts: o, log: log, lines: lines, opener: op, reg: newRegistry(), asker: asker,
		tickEvery: time.Second,
		width:     80, height: 24,
		showLog: true,
		st:      newStyles(),
		spin:    spinner.New(spinner.WithSpinner(spinner.MiniDot)),
	}
	if o.Source != nil {
		for _, s := range o.Scopes {
			m.scopes = append(m.scopes, &scopeState{scope: s})
		}
	}
	m.targets = newTargetsScreen()
	m.tunnels = newTunnelsScreen()
	m.rebuildRows()
	return m
}

// Init starts reading the cache and a fresh scan.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{waitLog(m.ctx, m.lines), tick(m.tickEvery), waitQuestion(m.ctx, m.asker)}
	if len(m.scopes) > 0 {
		cmds = append(cmds, loadCache(m.opts.Cache, m.opts.Scopes), m.startScan())
	}
	return tea.Batch(cmds...)
}

func (m *Model) startScan() tea.Cmd {
	if m.scanning || len(m.scopes) == 0 {
		return nil
	}
	m.scanning = true
	for _, s := range m.scopes {
		s.scanning = true
	}
	cmds := []tea.Cmd{startScan(m.ctx, m.opts.Source, m.opts.Scopes)}
	if !m.spinning {
		m.spinning = true
		cmds = append(cmds, m.spin.Tick)
	}
	return tea.Batch(cmds...)
}

// Update routes a message to the root, then the current screen.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case spinner.TickMsg:
		if !m.scanning {
			m.spinning = false
			return m, nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case logLineMsg:
		m.logs = append(m.logs, string(msg))
		if len(m.logs) > maxLogLines {
			m.logs = m.logs[len(m.logs)-maxLogLines:]
		}
		return m, waitLog(m.ctx, m.lines)
	case cacheMsg:
		for _, r := range msg.results {
			if s := m.scope(r.Scope); s != nil && s.inv == nil {
				s.inv, s.fromCache = r.Inventory, true
			}
		}
		m.rebuildRows()
		return m, nil
	case scanStartedMsg:
		return m, nextResult(m.opts.Cache, msg.results)
	case scanResultMsg:
		return m, tea.Batch(m.scanResult(msg.result), nextResult(m.opts.Cache, msg.results))
	case scanDoneMsg:
		m.scanning = false
		return m, nil
	case questionMsg:
		m.startAsking(msg.q)
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	cmd := m.tunnelsUpdate(msg)
	return m, cmd
}

func (m *Model) scope(s discovery.Scope) *scopeState {
	for _, st := range m.scopes {
		if st.scope == s {
			return st
		}
	}
	return nil
}

func (m *Model) scanResult(r discovery.Result) tea.Cmd {
	s := m.scope(r.Scope)
	if s == nil {
		return nil
	}
	s.scanning = false
	s.err = r.Err
	if r.Err != nil {
		// The cached inventory, if any, stays on screen.
		return logCmd(m.log, slog.LevelWarn, "discovery failed", "scope", r.Scope.String(), "err", r.Err)
	}
	s.inv, s.fromCache = r.Inventory, r.FromCache
	m.rebuildRows()
	var cmds []tea.Cmd
	for _, w := range r.Inventory.Warnings {
		cmds = append(cmds, logCmd(m.log, slog.LevelWarn, "discovery warning", "scope", r.Scope.String(), "warning", w))
	}
	return tea.Batch(cmds...)
}

func (m *Model) rebuildRows() {
	m.rows = buildRows(m.opts.Config, m.opts.Resolver, m.scopes)
	m.targets.refilter(m.rows)
}

// key handles the keys every screen shares, then the screen's own.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if m.quitting {
		if s == "ctrl+c" {
			return tea.Quit
		}
		return nil
	}
	if m.asking.q != nil {
		return m.askKey(k)
	}
	if m.confirmQuit {
		switch s {
		case "y", "Y", "enter":
			return m.quit()
		case "n", "N", "esc", "q":
			m.confirmQuit = false
			m.setStatus("", false)
		}
		return nil
	}
	if s == "ctrl+c" {
		return m.requestQuit()
	}
	if m.help {
		if s == "?" || s == "esc" || s == "q" {
			m.help = false
		}
		return nil
	}
	if !m.typing() {
		switch s {
		case "q":
			return m.requestQuit()
		case "?":
			m.help = true
			return nil
		case "l":
			m.showLog = !m.showLog
			return nil
		case "tab":
			if m.screen == screenTunnels {
				m.screen = screenTargets
			} else {
				m.screen = screenTunnels
			}
			return nil
		case "1":
			m.screen = screenTargets
			return nil
		case "2":
			m.screen = screenTunnels
			return nil
		}
	}
	switch m.screen {
	case screenDetails:
		return m.detailsKey(k)
	case screenTunnels:
		return m.tunnelsKey(k)
	}
	return m.targetsKey(k)
}

// typing reports whether a text field has the keys.
func (m *Model) typing() bool {
	switch m.screen {
	case screenTargets:
		return m.targets.filter.Focused()
	case screenDetails:
		return m.details.port.Focused()
	}
	return false
}

func (m *Model) requestQuit() tea.Cmd {
	if n := m.tunnels.activeConns(); n > 0 {
		m.confirmQuit = true
		m.setStatus(fmt.Sprintf("%d connection(s) active: quit and close every tunnel? (y/n)", n), true)
		return nil
	}
	return m.quit()
}

func (m *Model) quit() tea.Cmd {
	m.confirmQuit = false
	m.quitting = true
	// A tunnel waiting on an answer could not close.
	m.asker.Close()
	if m.tunnels.open() == 0 {
		return tea.Quit
	}
	m.setStatus("closing every tunnel…", false)
	return closeAll(m.reg, closeGrace)
}

func (m *Model) setStatus(s string, isErr bool) {
	m.status, m.statusErr = s, isErr
}

// View draws the header, the current screen, the log pane and the status
// line, cut to the terminal's size.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "dbtunnel"
	return v
}

func (m *Model) render() string {
	w, h := max(m.width, 20), max(m.height, 6)
	logH := 0
	if m.showLog && h >= 16 {
		logH = 4
	}
	bodyH := h - 2 - logH
	var body []string
	switch {
	case m.help:
		body = m.helpView(w)
	case m.screen == screenDetails:
		body = m.detailsView(w, bodyH)
	case m.screen == screenTunnels:
		body = m.tunnelsView(w, bodyH)
	default:
		body = m.targetsView(w, bodyH)
	}
	lines := make([]string, 0, h)
	lines = append(lines, m.headerView(w))
	if m.asking.q != nil {
		q := m.askView(w)
		if len(q) > bodyH {
			// Keep the answer line.
			q = append(q[:bodyH-1], q[len(q)-1])
		}
		lines = append(lines, fit(body, bodyH-len(q))...)
		lines = append(lines, q...)
	} else {
		lines = append(lines, fit(body, bodyH)...)
	}
	if logH > 0 {
		lines = append(lines, m.st.dim.Render(rule("log (l hides)", w)))
		lines = append(lines, fit(tail(m.logs, logH-1), logH-1)...)
	}
	lines = append(lines, m.statusView(w))
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	return strings.Join(lines, "\n")
}

func (m *Model) headerView(w int) string {
	title := "dbtunnel"
	if m.opts.Title != "" {
		title += " — " + m.opts.Title
	}
	tab := func(n, label string, on bool) string {
		if on {
			return m.st.selected.Render(" " + n + " " + label + " ")
		}
		return " " + n + " " + label + " "
	}
	tabs := tab("1", "Targets", m.screen != screenTunnels) + tab("2", fmt.Sprintf("Tunnels (%d)", m.tunnels.open()), m.screen == screenTunnels)
	left := m.st.title.Render(title) + "  " + tabs
	right := "? help  q quit"
	gap := w - ansi.StringWidth(left) - len(right)
	if gap < 1 {
		return left
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) statusView(w int) string {
	if m.status != "" {
		if m.statusErr {
			return m.st.err.Render(firstLine(m.status))
		}
		return firstLine(m.status)
	}
	var hints string
	switch {
	case m.asking.q != nil && m.asking.q.kind == askConfirm:
		hints = "y yes · n or esc no"
	case m.asking.q != nil:
		hints = "enter answer · esc dismiss"
	case m.help:
		hints = "esc close help"
	case m.screen == screenDetails:
		hints = "↑/↓ route · e endpoint · p port · enter open · esc back"
	case m.screen == screenTunnels:
		hints = "↑/↓ select · enter reopen · d close · r reconnect · c copy URL · tab targets"
	default:
		hints = "↑/↓ select · / filter · enter details · o open · R rescan · tab tunnels"
	}
	return m.st.dim.Render(hints)
}

func (m *Model) helpView(w int) []string {
	return []string{
		m.st.header.Render("Keys"),
		"",
		"  anywhere     1 targets · 2 tunnels · tab switch · l log pane · ? help",
		"               q or ctrl+c quit (asks first while connections are open)",
		"  targets      ↑/↓ j/k pgup/pgdn home/end move · / filter as you type",
		"               (enter keeps the filter, esc clears it) · enter details",
		"               o open with the best route · R rescan discovery",
		"  details      ↑/↓ pick the route (backend and bastion) · e next endpoint",
		"               p edit the local port · enter open · esc back",
		"  tunnels      ↑/↓ select · enter reopen a closed or failed tunnel",
		"               d close (again: remove) · r reconnect now",
		"               c copy the connection string (OSC 52)",
		"  a question   y/n, or type and enter · esc says no (a host key,",
		"               a passphrase, an MFA code a tunnel or scan needs)",
		"",
		"  verdicts     ✓ ok   ✗ blocked   ? unknown   · config (explicit, not judged)",
		"  states       ● ready  ◌ connecting/reconnecting  ◇ idle  ✗ failed  ○ closed",
	}
}

// fit pads or cuts lines to exactly h.
func fit(lines []string, h int) []string {
	if h <= 0 {
		return nil
	}
	if len(lines) > h {
		return lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return lines
}

func tail(lines []string, n int) []string {
	if len(lines) <= n {
		return append([]string(nil), lines...)
	}
	return append([]string(nil), lines[len(lines)-n:]...)
}

func rule(label string, w int) string {
	s := ""
	if label != "" {
		s = "── " + label + " "
	}
	if n := w - ansi.StringWidth(s); n > 0 {
		s += strings.Repeat("─", n)
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// Run runs the program on in and out until the user quits or ctx ends,
// then closes every tunnel it opened.
func Run(parent context.Context, o Options, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	m := New(ctx, o)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out))
	_, err := p.Run()
	cancel()
	m.asker.Close()
	// Normally every tunnel is closed already; after a kill or ctx's end
	// they are closed here, with the same grace.
	cctx, ccancel := context.WithTimeout(context.Background(), closeGrace)
	defer ccancel()
	m.reg.closeAll(cctx)
	if err != nil && parent.Err() != nil {
		return parent.Err()
	}
	return err
}
