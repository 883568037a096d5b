package tui

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/tunnel"
)

// Messages: every result of I/O reaches Update as one of these.
type (
	// cacheMsg carries the inventories the cache held at start.
	cacheMsg struct{ results []discovery.Result }
	// scanStartedMsg hands over the stream of a fresh scan.
	scanStartedMsg struct{ results <-chan discovery.Result }
	// scanResultMsg is one scope's fresh result.
	scanResultMsg struct {
		result  discovery.Result
		results <-chan discovery.Result
	}
	// scanDoneMsg ends a scan.
	scanDoneMsg struct{}
	// openedMsg ends an open: the tunnel is bound, or err says why not.
	openedMsg struct {
		id int
		// name is the target asked for, known even when resolving it
		// failed and target is empty.
		name   string
		target connect.Target
		tun    *tunnel.Tunnel
		err    error
	}
	// tunnelEventMsg is one event of a tunnel; ok is false once its
	// events are over.
	tunnelEventMsg struct {
		id  int
		ev  tunnel.Event
		ok  bool
		tun *tunnel.Tunnel
	}
	// statsMsg is a sample of every open tunnel's counters.
	statsMsg struct {
		at    time.Time
		stats map[int]tunnel.Stats
	}
	// tickMsg asks for the next stats sample.
	tickMsg struct{}
	// closedMsg says a tunnel closed on request.
	closedMsg struct{ id int }
	// allClosedMsg says every tunnel closed, so the program can end.
	allClosedMsg struct{}
)

// registry holds every tunnel the program opened, so that Run closes them
// all on the way out, including one whose openedMsg never reached Update.
type registry struct {
	mu      sync.Mutex
	tunnels map[*tunnel.Tunnel]struct{}
}

func newRegistry() *registry { return &registry{tunnels: map[*tunnel.Tunnel]struct{}{}} }

func (r *registry) add(t *tunnel.Tunnel) {
	r.mu.Lock()
	r.tunnels[t] = struct{}{}
	r.mu.Unlock()
}

// closeAll closes every tunnel at once, each draining for at most ctx.
func (r *registry) closeAll(ctx context.Context) {
	r.mu.Lock()
	ts := make([]*tunnel.Tunnel, 0, len(r.tunnels))
	for t := range r.tunnels {
		ts = append(ts, t)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Go(func() { t.Shutdown(ctx) })
	}
	wg.Wait()
}

func loadCache(c *discovery.Cache, scopes []discovery.Scope) tea.Cmd {
	return func() tea.Msg {
		var msg cacheMsg
		for _, s := range scopes {
			if inv, ok := c.Get(s); ok {
				msg.results = append(msg.results, discovery.Result{Scope: s, Inventory: inv, FromCache: true})
			}
		}
		return msg
	}
}

func startScan(ctx context.Context, src discovery.Source, scopes []discovery.Scope) tea.Cmd {
	return func() tea.Msg {
		return scanStartedMsg{results: discovery.Stream(ctx, src, scopes, 0)}
	}
}

// nextResult waits for the next scope to finish and stores a fresh
// inventory in the cache.
func nextResult(c *discovery.Cache, results <-chan discovery.Result) tea.Cmd {
	return func() tea.Msg {
		r, ok := <-results
		if !ok {
			return scanDoneMsg{}
		}
		if r.Err == nil && !r.FromCache {
			// A cache that cannot be written costs the next start its
			// head start, nothing else.
			_ = c.Put(r.Scope, r.Inventory)
		}
		return scanResultMsg{result: r, results: results}
	}
}

// openRequest is everything needed to open one tunnel.
type openRequest struct {
	name string
	// found is the located database; nil for an explicit config target
	// or one not in the inventory yet, which the resolver looks up.
	found *connect.Found
	o     connect.Overrides
}

func openTunnel(ctx context.Context, r *connect.Resolver, op *connect.Opener, reg *registry, id int, req openRequest) tea.Cmd {
	return func() tea.Msg {
		var (
			t   connect.Target
			err error
		)
		if req.found != nil {
			t, err = r.ResolveFound(req.name, req.found, req.o)
		} else {
			t, err = r.Resolve(ctx, req.name, req.o)
		}
		if err != nil {
			return openedMsg{id: id, name: req.name, err: err}
		}
		// The tunnel outlives the request: it ends when closed.
		tun, err := op.Open(context.Background(), t)
		if err != nil {
			return openedMsg{id: id, name: req.name, target: t, err: err}
		}
		reg.add(tun)
		return openedMsg{id: id, name: req.name, target: t, tun: tun}
	}
}

func waitEvent(id int, tun *tunnel.Tunnel) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-tun.Events()
		return tunnelEventMsg{id: id, ev: ev, ok: ok, tun: tun}
	}
}

func sample(tunnels map[int]*tunnel.Tunnel) tea.Cmd {
	return func() tea.Msg {
		m := statsMsg{at: time.Now(), stats: make(map[int]tunnel.Stats, len(tunnels))}
		for id, t := range tunnels {
			m.stats[id] = t.Stats()
		}
		return m
	}
}

func tick(every time.Duration) tea.Cmd {
	if every <= 0 {
		return nil
	}
	return tea.Tick(every, func(time.Time) tea.Msg { return tickMsg{} })
}

func closeTunnel(id int, tun *tunnel.Tunnel) tea.Cmd {
	return func() tea.Msg {
		tun.Close()
		return closedMsg{id: id}
	}
}

func redial(tun *tunnel.Tunnel) tea.Cmd {
	return func() tea.Msg {
		tun.Redial()
		return nil
	}
}

func closeAll(reg *registry, grace time.Duration) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		reg.closeAll(ctx)
		return allClosedMsg{}
	}
}
