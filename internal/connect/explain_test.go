package connect

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// warnings records the messages logged at warn level and above.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// The explanation of TargetNotConnected is reused for explainAfter, then
// asked for again; the fix is logged once however often it is given.
func TestExplainReusedForAMinuteFixLoggedOnce(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	calls := 0
	answers := []struct{ cause, fix string }{
		{"no instance profile", "aws ec2 associate-iam-instance-profile --instance-id i-1 ..."},
		{"no instance profile", "aws ec2 associate-iam-instance-profile --instance-id i-1 ..."},
		{"instance stopped", "aws ec2 start-instances --instance-ids i-1"},
	}
	w := &warnings{}
	e := &explaining{
		log:    slog.New(w),
		target: "i-1",
		now:    func() time.Time { return clock },
		explain: func(ctx context.Context) (string, string) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("explain called without a deadline")
			}
			a := answers[calls]
			calls++
			return a.cause, a.fix
		},
	}
	ctx := context.Background()
	step := func(d time.Duration, wantCause string, wantCalls int) {
		t.Helper()
		clock = clock.Add(d)
		if got := e.why(ctx); got != wantCause {
			t.Errorf("after %v: cause %q, want %q", d, got, wantCause)
		}
		if calls != wantCalls {
			t.Errorf("after %v: discovery asked %d times, want %d", d, calls, wantCalls)
		}
	}
	step(0, "no instance profile", 1)
	step(5*time.Second, "no instance profile", 1) // a retry soon after: reused
	step(explainAfter-5*time.Second, "no instance profile", 1)
	step(time.Nanosecond, "no instance profile", 2) // stale: asked again, same fix
	if got := w.list(); len(got) != 1 || !strings.Contains(got[0], "associate-iam-instance-profile") {
		t.Fatalf("warnings %q, want the fix once", got)
	}
	step(explainAfter+time.Second, "instance stopped", 3) // a new fix is logged too
	if got := w.list(); len(got) != 2 || !strings.Contains(got[1], "start-instances") {
		t.Fatalf("warnings %q, want the new fix logged", got)
	}
}

// With no fix to give, nothing is logged, and an empty explanation is
// reused like any other.
func TestExplainWithoutFixLogsNothing(t *testing.T) {
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	calls := 0
	w := &warnings{}
	e := &explaining{log: slog.New(w), target: "i-1", now: func() time.Time { return clock },
		explain: func(context.Context) (string, string) { calls++; return "", "" }}
	for range 3 {
		if got := e.why(context.Background()); got != "" {
			t.Errorf("cause %q", got)
		}
		clock = clock.Add(10 * time.Second)
	}
	if calls != 1 || len(w.list()) != 0 {
		t.Errorf("%d calls, warnings %q; want 1 and none", calls, w.list())
	}
}
