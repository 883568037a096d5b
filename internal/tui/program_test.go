package tui

import (
	"bytes"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"go.uber.org/goleak"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/connect"
)

func TestMain(m *testing.M) {
	// teatest leaves a goroutine waiting for SIGINT for the life of the
	// process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/charmbracelet/x/exp/teatest/v2.NewTestModel.func2"))
}

// probe records the text of the last frame drawn, as a terminal with
// NO_COLOR shows it, so tests wait on what is on screen.
type probe struct {
	*Model
	mu     sync.Mutex
	screen string
}

func (p *probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := p.Model.Update(msg)
	return p, cmd
}

func (p *probe) View() tea.View {
	v := p.Model.View()
	p.mu.Lock()
	p.screen = ansi.Strip(v.Content)
	p.mu.Unlock()
	return v
}

func (p *probe) Screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.screen
}

func startProgram(t *testing.T, m *Model) (*teatest.TestModel, *probe) {
	t.Helper()
	m.tickEvery = 0 // samples are taken when the test sends tickMsg
	p := &probe{Model: m}
	tm := teatest.NewTestModel(t, p, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	t.Cleanup(func() {
		tm.Quit()
		tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
		m.asker.Close() // as Run does: a tunnel waiting on a question can close
		m.reg.closeAll(t.Context())
	})
	return tm, p
}

// waitScreen waits until the drawn screen satisfies cond; each poll may
// nudge the program (send a stats tick).
func waitScreen(t *testing.T, tm *teatest.TestModel, p *probe, what string, cond func(string) bool, nudge ...tea.Msg) string {
	t.Helper()
	var last string
	teatest.WaitFor(t, tm.Output(), func([]byte) bool {
		last = p.Screen()
		if cond(last) {
			return true
		}
		for _, m := range nudge {
			tm.Send(m)
		}
		return false
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	return last
}

func contains(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

var (
	localPort = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	sparkLine = regexp.MustCompile(`(?m)^    [ ▁▂▃▄▅▆▇█]+  `)
)

// stable replaces what differs from run to run (loopback ports, how many
// samples the sparkline has) so the screen can be compared with a golden
// file.
func stable(s string) string {
	s = localPort.ReplaceAllString(s, "127.0.0.1:PORT")
	return sparkLine.ReplaceAllString(s, "    SPARKLINE  ")
}

func TestTargetsScreenShowsCacheThenStreamsScans(t *testing.T) {
	o := fixtureOptions(t)
	gate := make(chan struct{})
	o.Source = memSource{invs: fixtureInventories(), gate: gate}
	o.Cache = &discovery.Cache{Dir: t.TempDir(), TTL: time.Hour}
	if err := o.Cache.Put(prod, fixtureInventories()[prod]); err != nil {
		t.Fatal(err)
	}
	tm, p := startProgram(t, New(t.Context(), o))

	// The cached scope is listed while every scan is still running.
	waitScreen(t, tm, p, "cached inventory", contains("prod/ap-northeast-1 (2 cached)", "prod-aurora", "orders-mysql"))
	if s := p.Screen(); strings.Contains(s, "analytics") {
		t.Fatalf("dev's inventory shown before its scan finished:\n%s", s)
	}
	close(gate)
	screen := waitScreen(t, tm, p, "scans done", contains("✓ prod/ap-northeast-1 (2)", "✓ dev/us-east-1 (1)", "✗ audit/eu-west-1: discover", "analytics",
		"WARN discovery failed scope=audit/eu-west-1"))
	tm.Send(keyMsg("l")) // the log pane's times differ from run to run
	screen = waitScreen(t, tm, p, "log pane hidden", func(s string) bool { return !strings.Contains(s, "log (l hides)") })
	golden.RequireEqual(t, screen)

	// The scan refreshed the cache for the scopes that answered.
	if _, ok := o.Cache.Get(dev); !ok {
		t.Fatal("dev's fresh inventory was not cached")
	}
}

func TestFilterDetailsAndHelpScreens(t *testing.T) {
	tm, p := startProgram(t, New(t.Context(), fixtureOptions(t)))
	waitScreen(t, tm, p, "scans done", contains("analytics", "audit/eu-west-1: discover"))
	tm.Send(keyMsg("l"))
	tm.Type("/aur")
	screen := waitScreen(t, tm, p, "filtered", contains("/ aur█", "1 of 4"))
	if strings.Contains(screen, "orders-mysql") || !strings.Contains(screen, "prod-aurora") {
		t.Fatalf("filter aur:\n%s", screen)
	}
	tm.Send(keyMsg("enter")) // keep the filter
	tm.Send(keyMsg("enter")) // details of the one row left
	screen = waitScreen(t, tm, p, "details", contains("Routes (2)", "Checks of route 1"))
	t.Run("details", func(t *testing.T) { golden.RequireEqual(t, screen) })

	tm.Send(keyMsg("?"))
	screen = waitScreen(t, tm, p, "help", contains("Keys", "copy the connection string"))
	t.Run("help", func(t *testing.T) { golden.RequireEqual(t, screen) })
}

// openEcho opens the "echo" target through the in-process bastion from
// the targets screen, and waits until it is ready.
func openEcho(t *testing.T) (*teatest.TestModel, *probe, *net.TCPAddr) {
	t.Helper()
	tm, p := startEcho(t, startBastion(t))
	screen := waitScreen(t, tm, p, "ready", contains("● echo", "ready"))
	return tm, p, echoAddr(t, screen)
}

// startEcho starts the program with the "echo" target through b and
// opens it from the targets screen.
func startEcho(t *testing.T, b bastion) (*teatest.TestModel, *probe) {
	t.Helper()
	cfg := bastionConfig(t, b, echoTarget(t))
	m := New(t.Context(), Options{
		Config: cfg,
		Opener: &connect.Opener{Home: t.TempDir(), AgentSocket: "none"},
		Title:  "test",
	})
	tm, p := startProgram(t, m)
	waitScreen(t, tm, p, "targets", contains("echo"))
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, p, "details", contains("local port"))
	tm.Send(keyMsg("enter"))
	return tm, p
}

// echoAddr is the tunnel's local address as the screen shows it.
func echoAddr(t *testing.T, screen string) *net.TCPAddr {
	t.Helper()
	addr, err := net.ResolveTCPAddr("tcp", localPort.FindString(screen))
	if err != nil {
		t.Fatalf("no local address on screen:\n%s", screen)
	}
	return addr
}

func exchange(t *testing.T, addr *net.TCPAddr, msg string) net.Conn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo through the tunnel: %q, %v", got, err)
	}
	return c
}

func TestTunnelsScreenCountsConnectionsAndBytes(t *testing.T) {
	tm, p, addr := openEcho(t)
	c := exchange(t, addr, "hello")
	waitScreen(t, tm, p, "one connection", contains("connections 1 (1 total)", "in 5 B", "out 5 B"), tickMsg{})
	c.Close()
	waitScreen(t, tm, p, "connection closed", contains("connections 0 (1 total)", "INFO backend ready tunnel=echo"), tickMsg{})
	tm.Send(keyMsg("l"))
	screen := waitScreen(t, tm, p, "log pane hidden", func(s string) bool { return !strings.Contains(s, "log (l hides)") })
	golden.RequireEqual(t, stable(screen))

	// c copies the connection string with OSC 52.
	tm.Send(keyMsg("c"))
	copied := contains("copied postgres://app@" + addr.String() + "/orders?sslmode=prefer (OSC 52)")
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return copied(p.Screen()) && bytes.Contains(b, []byte("\x1b]52;c;")) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(5*time.Millisecond))

	// r replaces the SSH connection; the tunnel still carries traffic.
	tm.Send(keyMsg("r"))
	waitScreen(t, tm, p, "reconnected", contains("ready", "reconnects 1"), tickMsg{})
	exchange(t, addr, "again").Close()

	// d closes it: the port is released.
	tm.Send(keyMsg("d"))
	waitScreen(t, tm, p, "closed", contains("○ echo", "closed", "Tunnels (0)"))
	if c, err := net.DialTCP("tcp", nil, addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts after d", addr)
	}
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}

func TestQuitAsksWhileConnectionsAreActive(t *testing.T) {
	tm, p, addr := openEcho(t)
	c := exchange(t, addr, "hold")
	defer c.Close()
	waitScreen(t, tm, p, "one connection", contains("connections 1 (1 total)"), tickMsg{})
	tm.Send(keyMsg("q"))
	waitScreen(t, tm, p, "asks", contains("1 connection(s) active: quit and close every tunnel? (y/n)"))
	tm.Send(keyMsg("n"))
	waitScreen(t, tm, p, "stays", func(s string) bool { return !strings.Contains(s, "(y/n)") })
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("connection cut after n: %v", err)
	}
	tm.Send(keyMsg("q"))
	waitScreen(t, tm, p, "asks again", contains("(y/n)"))
	tm.Send(keyMsg("y"))
	waitScreen(t, tm, p, "closing", contains("closing every tunnel"))
	// The open connection may finish within the grace period; it does.
	c.Close()
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	if c, err := net.DialTCP("tcp", nil, addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts after quitting", addr)
	}
}
