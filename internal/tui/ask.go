package tui

import (
	"context"
	"errors"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// ErrNotAnswered is what a question gets when the user dismisses it or
// the program ends first.
var ErrNotAnswered = errors.New("not answered in the TUI")

// Asker carries the questions tunnels and scans have for the user (a new
// host key, a key's passphrase, an MFA code) to the program, which owns
// the terminal and asks them one at a time over whatever screen is up. It
// is an ssh.Prompter. Calls block until the user answers or the program
// ends, and may come from any goroutine.
type Asker struct {
	questions chan *question
	done      chan struct{}
	endOnce   sync.Once
}

// NewAsker returns an Asker for Options.Asker.
func NewAsker() *Asker {
	return &Asker{questions: make(chan *question), done: make(chan struct{})}
}

type questionKind int

const (
	askConfirm questionKind = iota // yes or no
	askText                        // a line, shown as typed
	askSecret                      // a line, not shown
)

type question struct {
	text   string
	kind   questionKind
	answer chan answer // buffered: the program never waits on the asker
}

type answer struct {
	text string
	yes  bool
	err  error
}

// Confirm asks a yes/no question, such as whether to trust a new host key.
func (a *Asker) Confirm(prompt string) (bool, error) {
	ans := a.ask(prompt, askConfirm)
	return ans.yes, ans.err
}

// ReadSecret asks for a line that is not shown, such as a passphrase.
func (a *Asker) ReadSecret(prompt string) (string, error) {
	ans := a.ask(prompt, askSecret)
	return ans.text, ans.err
}

// Ask asks for a line that is shown as it is typed, such as an MFA code.
func (a *Asker) Ask(prompt string) (string, error) {
	ans := a.ask(prompt, askText)
	return ans.text, ans.err
}

func (a *Asker) ask(prompt string, kind questionKind) answer {
	q := &question{text: strings.TrimRight(prompt, " :"), kind: kind, answer: make(chan answer, 1)}
	select {
	case a.questions <- q:
	case <-a.done:
		return answer{err: ErrNotAnswered}
	}
	select {
	case ans := <-q.answer:
		return ans
	case <-a.done:
		return answer{err: ErrNotAnswered}
	}
}

// Close answers every question, asked or still to come, with
// ErrNotAnswered. The program closes its Asker when it quits.
func (a *Asker) Close() { a.endOnce.Do(func() { close(a.done) }) }

// questionMsg is a question for the user; the program asks the next one
// once it is answered.
type questionMsg struct{ q *question }

func waitQuestion(ctx context.Context, a *Asker) tea.Cmd {
	return func() tea.Msg {
		select {
		case q := <-a.questions:
			return questionMsg{q}
		case <-a.done:
		case <-ctx.Done():
		}
		return nil
	}
}

// asking is the question on screen, if any, and what is typed in reply.
type asking struct {
	q     *question
	reply field
}

func (m *Model) startAsking(q *question) {
	m.asking = asking{q: q, reply: field{focused: true}}
	m.setStatus("", false)
}

// askKey handles a key while a question is up: nothing else gets keys
// until it is answered, so no key meant for a screen answers it.
func (m *Model) askKey(k tea.KeyPressMsg) tea.Cmd {
	a := &m.asking
	s := k.String()
	if a.q.kind == askConfirm {
		switch s {
		case "y", "Y":
			return m.answer(answer{yes: true})
		case "n", "N", "esc", "ctrl+c":
			return m.answer(answer{yes: false})
		}
		return nil
	}
	switch s {
	case "enter":
		return m.answer(answer{text: a.reply.Value()})
	case "esc", "ctrl+c":
		return m.answer(answer{err: ErrNotAnswered})
	}
	a.reply.Update(k)
	return nil
}

// answer replies to the question on screen and waits for the next one.
func (m *Model) answer(ans answer) tea.Cmd {
	m.asking.q.answer <- ans
	m.asking = asking{}
	return waitQuestion(m.ctx, m.asker)
}

// askView is the question box drawn under the screen.
func (m *Model) askView(w int) []string {
	a := &m.asking
	lines := []string{m.st.header.Render(rule("question", w))}
	// Wrapped, not cut: the end of a question (a key's path, a role's
	// ARN) is what tells the user what is asked.
	lines = append(lines, strings.Split(ansi.Wrap(a.q.text, w, "/:"), "\n")...)
	switch a.q.kind {
	case askConfirm:
		lines = append(lines, m.st.key.Render("y")+" yes   "+m.st.key.Render("n")+" no")
	case askSecret:
		lines = append(lines, "> "+strings.Repeat("•", len([]rune(a.reply.Value())))+"█")
	default:
		lines = append(lines, "> "+a.reply.View())
	}
	return lines
}
