package tui

import (
	"fmt"
	"log/slog"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// targetsScreen lists config targets and discovered databases.
type targetsScreen struct {
	filter  field
	visible []int // indexes into Model.rows that pass the filter
	cursor  int   // index into visible
	offset  int   // first visible row drawn
}

func newTargetsScreen() targetsScreen {
	return targetsScreen{filter: field{prompt: "/ "}}
}

// refilter recomputes the visible rows, keeping the cursor on the same
// row when it is still there.
func (t *targetsScreen) refilter(rows []row) {
	var keep string
	if t.cursor < len(t.visible) && t.visible[t.cursor] < len(rows) {
		keep = rows[t.visible[t.cursor]].group + "\x00" + rows[t.visible[t.cursor]].name
	}
	t.visible = filterRows(rows, t.filter.Value(), t.visible)
	t.cursor = 0
	for i, idx := range t.visible {
		if rows[idx].group+"\x00"+rows[idx].name == keep {
			t.cursor = i
			break
		}
	}
}

func (t *targetsScreen) selected(rows []row) (*row, bool) {
	if t.cursor < 0 || t.cursor >= len(t.visible) {
		return nil, false
	}
	return &rows[t.visible[t.cursor]], true
}

func (t *targetsScreen) move(delta int) {
	t.cursor = max(0, min(len(t.visible)-1, t.cursor+delta))
}

func (m *Model) targetsKey(k tea.KeyPressMsg) tea.Cmd {
	t := &m.targets
	if t.filter.Focused() {
		switch k.String() {
		case "enter":
			t.filter.Blur()
			return nil
		case "esc":
			t.filter.Blur()
			t.filter.SetValue("")
			t.refilter(m.rows)
			return nil
		case "up", "down", "pgup", "pgdown":
			// Moving while filtering keeps the filter open.
		default:
			if t.filter.Update(k) {
				t.refilter(m.rows)
			}
			return nil
		}
	}
	m.setStatus("", false)
	page := max(1, m.height-10)
	switch k.String() {
	case "/":
		t.filter.Focus()
	case "esc":
		if t.filter.Value() != "" {
			t.filter.SetValue("")
			t.refilter(m.rows)
		}
	case "up", "k":
		t.move(-1)
	case "down", "j":
		t.move(1)
	case "pgup":
		t.move(-page)
	case "pgdown":
		t.move(page)
	case "home", "g":
		t.cursor = 0
	case "end", "G":
		t.move(len(t.visible))
	case "R":
		if cmd := m.startScan(); cmd != nil {
			return tea.Batch(cmd, logCmd(m.log, slog.LevelInfo, "rescanning discovery scopes"))
		}
	case "enter":
		if r, ok := t.selected(m.rows); ok {
			m.details = newDetailsScreen(m.opts.Resolver, *r)
			m.screen = screenDetails
		}
	case "o":
		if r, ok := t.selected(m.rows); ok {
			d := newDetailsScreen(m.opts.Resolver, *r)
			req, err := d.request()
			if err != nil {
				m.setStatus(err.Error(), true)
				return nil
			}
			return m.open(req)
		}
	}
	return nil
}

// Fixed column widths of the list.
const (
	colMark    = 2
	colVerdict = 10
	colKind    = 15
)

type columns struct{ name, engine, endpoint int }

// columnsFor sizes the list for a terminal w wide: at 80 the route gets
// about 20 cells and the name what is left; from 150 the endpoint gets a
// column of its own (below, the selected row's endpoint is in the footer).
func columnsFor(w int) columns {
	if w >= 150 {
		c := columns{engine: 19, endpoint: 64}
		c.name = max(20, w-colMark-colVerdict-colKind-c.engine-c.endpoint-34)
		return c
	}
	c := columns{engine: 14}
	c.name = max(12, w-colMark-colVerdict-colKind-c.engine-21)
	return c
}

func (m *Model) targetsView(w, h int) []string {
	t := &m.targets
	lines := append([]string{m.scopesLine(w)}, m.scopeErrors(2)...)
	if t.filter.Focused() || t.filter.Value() != "" {
		lines = append(lines, t.filter.View()+m.st.dim.Render(fmt.Sprintf("   %d of %d", len(t.visible), len(m.rows))))
	} else {
		lines = append(lines, m.st.dim.Render(fmt.Sprintf("%d targets · / to filter", len(m.rows))))
	}
	c := columnsFor(w)
	header := pad("", colMark) + pad("VERDICT", colVerdict) + pad("NAME", c.name) + pad("KIND", colKind) + pad("ENGINE", c.engine)
	if c.endpoint > 0 {
		header += pad("ENDPOINT", c.endpoint)
	}
	lines = append(lines, m.st.header.Render(header+"ROUTE"))

	if len(m.rows) == 0 {
		lines = append(lines, "", m.emptyText())
		return lines
	}
	if len(t.visible) == 0 {
		lines = append(lines, "", "nothing matches the filter (esc clears it)")
		return lines
	}
	// The list gets what the header lines and the selected row's
	// footer leave.
	listH := max(1, h-len(lines)-2)
	items := t.layout(m.rows)
	cur := 0
	for i, it := range items {
		if it.row == t.cursor {
			cur = i
		}
	}
	if cur > 0 && items[cur-1].row < 0 && cur-1 < t.offset {
		t.offset = cur - 1 // keep the group header of the first row in view
	}
	if cur < t.offset {
		t.offset = cur
	}
	if cur >= t.offset+listH {
		t.offset = cur - listH + 1
	}
	t.offset = max(0, min(t.offset, len(items)-listH))
	for i := t.offset; i < len(items) && i < t.offset+listH; i++ {
		it := items[i]
		if it.row < 0 {
			lines = append(lines, m.st.group.Render("▾ "+it.group))
			continue
		}
		r := &m.rows[t.visible[it.row]]
		mark := "  "
		if it.row == t.cursor {
			mark = "› "
		}
		verdict := verdictMark(r.verdict)
		if !r.judged {
			verdict = verdictMark("")
		}
		line := mark + m.st.verdict(r.verdict, pad(verdict, colVerdict)) + pad(r.name, c.name) + pad(r.kind, colKind) + pad(r.engine, c.engine)
		if c.endpoint > 0 {
			line += pad(r.endpoint, c.endpoint)
		}
		line += r.route
		if it.row == t.cursor {
			line = m.st.selected.Render(ansi.Strip(padRight(line, w)))
		}
		lines = append(lines, line)
	}
	lines = fit(lines, h-2)
	if r, ok := t.selected(m.rows); ok {
		lines = append(lines, m.st.dim.Render(rule("", w)))
		foot := "endpoint " + r.endpoint + " · route " + r.route
		if r.note != "" {
			foot = r.note
		}
		lines = append(lines, foot)
	}
	return lines
}

func (m *Model) emptyText() string {
	switch {
	case m.scanning:
		return "looking for databases…"
	case len(m.scopes) == 0:
		return "no targets in the config file and no discovery (AWS) configured"
	}
	return "no databases found in " + m.scopeNames()
}

func (m *Model) scopeNames() string {
	var names []string
	for _, s := range m.scopes {
		names = append(names, s.scope.String())
	}
	return strings.Join(names, ", ")
}

// scopesLine shows each scope's state: a spinner while scanning, ✓ and the
// count when done, ✗ and the error when it failed.
func (m *Model) scopesLine(w int) string {
	if len(m.scopes) == 0 {
		return m.st.dim.Render("discovery off: config targets only")
	}
	parts := make([]string, 0, len(m.scopes))
	for _, s := range m.scopes {
		n := 0
		if s.inv != nil {
			n = len(s.inv.Databases)
		}
		switch {
		case s.scanning && s.inv != nil:
			parts = append(parts, m.spin.View()+" "+s.scope.String()+fmt.Sprintf(" (%d cached)", n))
		case s.scanning:
			parts = append(parts, m.spin.View()+" "+s.scope.String())
		case s.err != nil && s.inv != nil:
			parts = append(parts, m.st.err.Render("✗ "+s.scope.String())+fmt.Sprintf(" (%d cached)", n))
		case s.err != nil:
			parts = append(parts, m.st.err.Render("✗ "+s.scope.String()))
		default:
			parts = append(parts, m.st.ok.Render("✓")+" "+s.scope.String()+fmt.Sprintf(" (%d)", n))
		}
	}
	return "scopes: " + strings.Join(parts, " · ")
}

// scopeErrors spells out up to n scopes' failures; the log pane and the
// log file have every one.
func (m *Model) scopeErrors(n int) []string {
	var out []string
	for _, s := range m.scopes {
		if s.err != nil && !s.scanning && len(out) < n {
			out = append(out, m.st.err.Render("  ✗ "+s.scope.String()+": "+errText(s.err)))
		}
	}
	return out
}

func errText(err error) string {
	return firstLine(err.Error())
}

// listItem is a line of the list: a group header (row < 0) or a row
// (an index into targetsScreen.visible).
type listItem struct {
	row   int
	group string
}

func (t *targetsScreen) layout(rows []row) []listItem {
	items := make([]listItem, 0, len(t.visible)+8)
	group := "\x00"
	for i, idx := range t.visible {
		if g := rows[idx].group; g != group {
			group = g
			items = append(items, listItem{row: -1, group: g})
		}
		items = append(items, listItem{row: i})
	}
	return items
}

// pad cuts or pads s to n cells, leaving a space before the next column.
func pad(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > n-1 {
		s = ansi.Truncate(s, n-1, "…")
	}
	return padRight(s, n)
}

func padRight(s string, n int) string {
	if w := ansi.StringWidth(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}
