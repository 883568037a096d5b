package tui

import (
	"charm.land/lipgloss/v2"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/tunnel"
)

// styles are the few looks the screens use. Colour only ever repeats what
// a symbol or a word already says, so the screens read the same with
// NO_COLOR (the renderer then drops colours and keeps bold and reverse).
type styles struct {
	title, header, group, dim, selected, key, err lipgloss.Style
	ok, blocked, unknown                          lipgloss.Style
}

func newStyles() styles {
	return styles{
		title:    lipgloss.NewStyle().Bold(true),
		header:   lipgloss.NewStyle().Bold(true).Underline(true),
		group:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		dim:      lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		selected: lipgloss.NewStyle().Reverse(true),
		key:      lipgloss.NewStyle().Bold(true),
		err:      lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
		ok:       lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		blocked:  lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
		unknown:  lipgloss.NewStyle().Foreground(lipgloss.Color("11")),
	}
}

// verdictMark is the symbol and word for a verdict: ✓ ok, ✗ blocked,
// ? unknown.
func verdictMark(v discovery.Verdict) string {
	switch v {
	case discovery.VerdictOK:
		return "✓ ok"
	case discovery.VerdictBlocked:
		return "✗ blocked"
	case discovery.VerdictUnknown:
		return "? unknown"
	}
	return "· config"
}

func (s styles) verdict(v discovery.Verdict, text string) string {
	switch v {
	case discovery.VerdictOK:
		return s.ok.Render(text)
	case discovery.VerdictBlocked:
		return s.blocked.Render(text)
	case discovery.VerdictUnknown:
		return s.unknown.Render(text)
	}
	return s.dim.Render(text)
}

func checkMark(c discovery.CheckStatus) string {
	switch c {
	case discovery.CheckPass:
		return "✓"
	case discovery.CheckFail:
		return "✗"
	}
	return "?"
}

func checkVerdict(c discovery.CheckStatus) discovery.Verdict {
	switch c {
	case discovery.CheckPass:
		return discovery.VerdictOK
	case discovery.CheckFail:
		return discovery.VerdictBlocked
	}
	return discovery.VerdictUnknown
}

// stateOpening is an entry whose tunnel is still being resolved and bound.
const stateOpening tunnel.State = "opening"

// stateClosing is an entry the user closed whose tunnel is still
// draining: its port is not free yet, so it must not read as closed.
const stateClosing tunnel.State = "closing"

func stateMark(st tunnel.State) string {
	switch st {
	case tunnel.StateReady:
		return "●"
	case tunnel.StateConnecting, tunnel.StateReconnecting, stateOpening, stateClosing:
		return "◌"
	case tunnel.StateFailed:
		return "✗"
	case tunnel.StateIdle:
		return "◇"
	}
	return "○"
}

func (s styles) state(st tunnel.State, text string) string {
	switch st {
	case tunnel.StateReady:
		return s.ok.Render(text)
	case tunnel.StateFailed:
		return s.blocked.Render(text)
	case tunnel.StateClosed:
		return s.dim.Render(text)
	}
	return s.unknown.Render(text)
}
