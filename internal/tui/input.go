package tui

import (
	tea "charm.land/bubbletea/v2"
)

// field is a one-line text input: the filter and the port. It has no
// blinking cursor, so a screen with it focused draws the same every time.
type field struct {
	prompt  string
	value   string
	limit   int             // in runes; 0 is no limit
	accept  func(rune) bool // nil accepts anything printable
	focused bool
}

func (f *field) Focus()            { f.focused = true }
func (f *field) Blur()             { f.focused = false }
func (f *field) Focused() bool     { return f.focused }
func (f *field) Value() string     { return f.value }
func (f *field) SetValue(s string) { f.value = s }

// Update edits the value with a key and reports whether it changed.
func (f *field) Update(k tea.KeyPressMsg) bool {
	before := f.value
	switch k.String() {
	case "backspace", "ctrl+h":
		if r := []rune(f.value); len(r) > 0 {
			f.value = string(r[:len(r)-1])
		}
	case "ctrl+u":
		f.value = ""
	case "ctrl+w":
		r := []rune(f.value)
		i := len(r)
		for i > 0 && r[i-1] == ' ' {
			i--
		}
		for i > 0 && r[i-1] != ' ' {
			i--
		}
		f.value = string(r[:i])
	default:
		if k.Text == "" || k.Mod&(tea.ModCtrl|tea.ModAlt) != 0 {
			return false
		}
		for _, r := range k.Text {
			if f.limit > 0 && len([]rune(f.value)) >= f.limit {
				break
			}
			if r < ' ' || (f.accept != nil && !f.accept(r)) {
				continue
			}
			f.value += string(r)
		}
	}
	return f.value != before
}

func (f *field) View() string {
	if f.focused {
		return f.prompt + f.value + "█"
	}
	return f.prompt + f.value
}
