package tui

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/tunnel"
)

// entry is one tunnel on the tunnels screen, from the moment it is asked
// for until the user removes it.
type entry struct {
	id     int
	name   string
	req    openRequest
	target connect.Target
	tun    *tunnel.Tunnel // nil while opening, and when the open failed
	state  tunnel.State
	stats  tunnel.Stats
	local  string
	url    string
	err    string // the last error, for people
	// history holds bytes moved (both ways) per sample, newest last.
	history   []int64
	lastBytes int64
	rate      float64 // bytes per second over the last sample
}

// historyLen is how many samples the sparkline shows.
const historyLen = 24

type tunnelsScreen struct {
	entries []*entry
	cursor  int
	nextID  int
	// lastSample is when the previous stats sample was taken.
	lastSample time.Time
}

func newTunnelsScreen() tunnelsScreen { return tunnelsScreen{nextID: 1} }

func (t *tunnelsScreen) byID(id int) *entry {
	for _, e := range t.entries {
		if e.id == id {
			return e
		}
	}
	return nil
}

func (t *tunnelsScreen) live() map[int]*tunnel.Tunnel {
	m := map[int]*tunnel.Tunnel{}
	for _, e := range t.entries {
		if e.tun != nil && e.state != tunnel.StateClosed && e.state != tunnel.StateFailed {
			m[e.id] = e.tun
		}
	}
	return m
}

// open counts the tunnels that are not closed or failed.
func (t *tunnelsScreen) open() int {
	n := 0
	for _, e := range t.entries {
		if e.state != tunnel.StateClosed && e.state != tunnel.StateFailed {
			n++
		}
	}
	return n
}

func (t *tunnelsScreen) activeConns() int64 {
	var n int64
	for _, e := range t.entries {
		if e.state != tunnel.StateClosed {
			n += e.stats.Active
		}
	}
	return n
}

func (t *tunnelsScreen) selected() *entry {
	if t.cursor < 0 || t.cursor >= len(t.entries) {
		return nil
	}
	return t.entries[t.cursor]
}

// open asks for a tunnel and shows it on the tunnels screen at once, as
// opening; a target already open is only selected.
func (m *Model) open(req openRequest) tea.Cmd {
	t := &m.tunnels
	for i, e := range t.entries {
		if e.name == req.name && e.state != tunnel.StateClosed && e.state != tunnel.StateFailed {
			t.cursor = i
			m.screen = screenTunnels
			m.setStatus(req.name+" is already open", false)
			return nil
		}
	}
	e := &entry{id: t.nextID, name: req.name, req: req, state: stateOpening}
	t.nextID++
	t.entries = append(t.entries, e)
	t.cursor = len(t.entries) - 1
	m.screen = screenTunnels
	m.setStatus("", false)
	return tea.Batch(
		openTunnel(m.ctx, m.opts.Resolver, m.opener, m.reg, e.id, req),
		logCmd(m.log, slog.LevelInfo, "opening tunnel", "target", req.name),
	)
}

// tunnelsUpdate handles the messages of opening, watching and closing
// tunnels, and the quit that waits on them.
func (m *Model) tunnelsUpdate(msg tea.Msg) tea.Cmd {
	t := &m.tunnels
	switch msg := msg.(type) {
	case openedMsg:
		e := t.byID(msg.id)
		if msg.err != nil {
			if msg.tun != nil {
				msg.tun.Close()
			}
			if e != nil {
				e.state, e.err = tunnel.StateFailed, msg.err.Error()
			}
			return logCmd(m.log, slog.LevelError, "open failed", "target", msg.name, "err", msg.err)
		}
		if e == nil || m.quitting {
			// Removed or quitting meanwhile; the registry closes it.
			return closeTunnel(msg.id, msg.tun)
		}
		e.tun, e.target = msg.tun, msg.target
		addr := msg.tun.LocalAddr()
		e.local = addr.String()
		if tcp, ok := tcpAddr(addr); ok {
			e.url = msg.target.URL(tcp)
		}
		e.state = tunnel.StateConnecting
		return tea.Batch(waitEvent(e.id, msg.tun), logCmd(m.log, slog.LevelInfo, "tunnel listening", "target", e.name, "local", e.local, "remote", msg.target.Remote(), "via", msg.target.Route.Via, "bastion", msg.target.Route.Bastion))
	case tunnelEventMsg:
		e := t.byID(msg.id)
		if !msg.ok {
			if e != nil && e.tun == msg.tun && e.state != tunnel.StateFailed {
				e.state = tunnel.StateClosed
			}
			return nil
		}
		// A tunnel that failed closes itself; it stays shown as failed.
		failedThenClosed := e != nil && e.state == tunnel.StateFailed && msg.ev.State == tunnel.StateClosed
		if e != nil && e.tun == msg.tun && !failedThenClosed && (e.state != stateClosing || msg.ev.State == tunnel.StateClosed) {
			e.state = msg.ev.State
			if msg.ev.Err != nil && !errors.Is(msg.ev.Err, tunnel.ErrRedialRequested) {
				e.err = msg.ev.Err.Error()
			}
			if msg.ev.State == tunnel.StateReady {
				e.err = ""
			}
		}
		return waitEvent(msg.id, msg.tun)
	case tickMsg:
		return tea.Batch(sample(t.live()), tick(m.tickEvery))
	case statsMsg:
		if msg.at.Before(t.lastSample) {
			// Samples are taken in their own commands; a late one is
			// older than what is on screen.
			return nil
		}
		dt := msg.at.Sub(t.lastSample).Seconds()
		first := t.lastSample.IsZero()
		t.lastSample = msg.at
		for id, st := range msg.stats {
			e := t.byID(id)
			if e == nil {
				continue
			}
			e.stats = st
			moved := st.BytesIn + st.BytesOut
			delta := moved - e.lastBytes
			e.lastBytes = moved
			e.history = append(e.history, delta)
			if len(e.history) > historyLen {
				e.history = e.history[len(e.history)-historyLen:]
			}
			if !first && dt > 0 {
				e.rate = float64(delta) / dt
			}
			if st.LastErr != nil && st.State != tunnel.StateReady {
				e.err = st.LastErr.Error()
			}
		}
		return nil
	case closedMsg:
		if e := t.byID(msg.id); e != nil {
			e.state = tunnel.StateClosed
			e.stats.Active = 0
		}
		return nil
	case allClosedMsg:
		return tea.Quit
	}
	return nil
}

func (m *Model) tunnelsKey(k tea.KeyPressMsg) tea.Cmd {
	t := &m.tunnels
	m.setStatus("", false)
	switch k.String() {
	case "up", "k":
		t.cursor = max(0, t.cursor-1)
	case "down", "j":
		t.cursor = max(0, min(len(t.entries)-1, t.cursor+1))
	}
	e := t.selected()
	if e == nil {
		return nil
	}
	switch k.String() {
	case "enter":
		if e.state == tunnel.StateClosed || e.state == tunnel.StateFailed {
			t.remove(e.id)
			return m.open(e.req)
		}
	case "d":
		switch {
		case e.state == tunnel.StateClosed || e.state == tunnel.StateFailed:
			t.remove(e.id)
		case e.state == stateClosing:
		case e.tun != nil:
			e.state = stateClosing
			return tea.Batch(closeTunnel(e.id, e.tun), logCmd(m.log, slog.LevelInfo, "closing tunnel", "target", e.name, "active", e.stats.Active))
		}
	case "r":
		if e.tun != nil && e.state != tunnel.StateClosed && e.state != tunnel.StateFailed {
			m.setStatus("reconnecting "+e.name, false)
			return tea.Batch(redial(e.tun), logCmd(m.log, slog.LevelInfo, "reconnect requested", "target", e.name))
		}
	case "c":
		if e.url != "" {
			m.setStatus("copied "+e.url+" (OSC 52)", false)
			return tea.SetClipboard(e.url)
		}
	}
	return nil
}

func (t *tunnelsScreen) remove(id int) {
	for i, e := range t.entries {
		if e.id == id {
			t.entries = append(t.entries[:i], t.entries[i+1:]...)
			break
		}
	}
	t.cursor = max(0, min(t.cursor, len(t.entries)-1))
}

func (m *Model) tunnelsView(w, h int) []string {
	t := &m.tunnels
	if len(t.entries) == 0 {
		return []string{"", "no tunnels yet: pick a target (1) and press enter"}
	}
	var lines []string
	cur := 0
	for i, e := range t.entries {
		mark := "  "
		if i == t.cursor {
			mark = "› "
			cur = len(lines)
		}
		local := e.local
		if local == "" {
			local = "-"
		}
		head := mark + stateMark(e.state) + " " + pad(e.name, 22) + pad(string(e.state), 14) + local
		if e.target.Name != "" {
			head += "  via " + e.target.Route.Via + " " + e.target.Route.Bastion
		}
		if i == t.cursor {
			head = m.st.selected.Render(padRight(head, w))
		} else {
			head = m.st.state(e.state, head)
		}
		lines = append(lines, head)
		lines = append(lines, fmt.Sprintf("    connections %d (%d total)  in %s  out %s  reconnects %d",
			e.stats.Active, e.stats.Total, bytesText(e.stats.BytesIn), bytesText(e.stats.BytesOut), e.stats.Reconnects))
		lines = append(lines, "    "+sparkline(e.history, historyLen)+"  "+bytesText(int64(e.rate))+"/s")
		if e.err != "" {
			lines = append(lines, m.st.err.Render("    last error: "+firstLine(e.err)))
		}
	}
	listH := h - 3
	if len(lines) > listH {
		start := max(0, min(cur-1, len(lines)-listH))
		lines = lines[start : start+listH]
	}
	lines = fit(lines, listH)
	if e := t.selected(); e != nil {
		lines = append(lines, m.st.dim.Render(rule("", w)))
		remote := e.target.Remote()
		if e.target.Name == "" {
			remote = "-"
		}
		url := e.url
		if url == "" {
			url = "-"
		}
		lines = append(lines, "url "+url, "remote "+remote)
	}
	return lines
}

// bytesText prints a byte count in B, KiB, MiB or GiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit && exp < 2; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}

var sparks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the samples, newest right, scaled to the largest; a
// sample of 0 is the lowest bar so that the line reads as idle.
func sparkline(samples []int64, width int) string {
	var peak int64
	for _, s := range samples {
		peak = max(peak, s)
	}
	var b strings.Builder
	for range width - len(samples) {
		b.WriteRune(' ')
	}
	for _, s := range samples {
		i := 0
		if peak > 0 && s > 0 {
			i = 1 + int(s*int64(len(sparks)-2)/peak)
		}
		b.WriteRune(sparks[min(i, len(sparks)-1)])
	}
	return b.String()
}
