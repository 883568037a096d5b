package tui

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
)

// paneHandler passes every record on to the file handler and copies those
// of level info and above, as one line each, to the log pane. The copy
// never blocks a tunnel goroutine: when the pane falls behind, lines are
// dropped (they are still in the file).
type paneHandler struct {
	next   slog.Handler
	lines  chan<- string
	prefix string // attrs added with WithAttrs, already formatted
	group  string
}

func (h *paneHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *paneHandler) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if h.next.Enabled(ctx, r.Level) {
		err = h.next.Handle(ctx, r)
	}
	if r.Level < slog.LevelInfo {
		return err
	}
	var b strings.Builder
	b.WriteString(r.Time.Format(time.TimeOnly))
	b.WriteByte(' ')
	b.WriteString(levelWord(r.Level))
	b.WriteByte(' ')
	b.WriteString(r.Message)
	b.WriteString(h.prefix)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, h.group, a)
		return true
	})
	select {
	case h.lines <- b.String():
	default:
	}
	return err
}

func (h *paneHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range as {
		writeAttr(&b, h.group, a)
	}
	return &paneHandler{next: h.next.WithAttrs(as), lines: h.lines, prefix: b.String(), group: h.group}
}

func (h *paneHandler) WithGroup(name string) slog.Handler {
	return &paneHandler{next: h.next.WithGroup(name), lines: h.lines, prefix: h.prefix, group: h.group + name + "."}
}

func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	fmt.Fprintf(b, " %s%s=%v", group, a.Key, a.Value.Resolve())
}

func levelWord(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARN"
	}
	return "INFO"
}

// logLineMsg is one line for the log pane.
type logLineMsg string

// waitLog delivers the next log line; it ends with nil when ctx does.
func waitLog(ctx context.Context, lines <-chan string) tea.Cmd {
	return func() tea.Msg {
		select {
		case l := <-lines:
			return logLineMsg(l)
		case <-ctx.Done():
			return nil
		}
	}
}

// logCmd writes a record from a command, so that Update itself does no
// I/O; the line comes back to the pane through the handler.
func logCmd(log *slog.Logger, level slog.Level, msg string, args ...any) tea.Cmd {
	return func() tea.Msg {
		log.Log(context.Background(), level, msg, args...)
		return nil
	}
}

// maxLogLines bounds the pane's history.
const maxLogLines = 200
