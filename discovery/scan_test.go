package discovery

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// gateSource answers each scope when its gate opens, so tests decide the
// order scopes finish in.
type gateSource struct {
	gates map[string]chan struct{}
	fail  map[string]error

	mu       sync.Mutex
	inflight int
	peak     int
}

func (g *gateSource) Discover(ctx context.Context, s Scope) (*Inventory, error) {
	g.mu.Lock()
	g.inflight++
	g.peak = max(g.peak, g.inflight)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inflight--
		g.mu.Unlock()
	}()
	if ch := g.gates[s.String()]; ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := g.fail[s.String()]; err != nil {
		return nil, err
	}
	return &Inventory{Scope: s, Account: "acct-" + s.Profile}, nil
}

func scopes(n int) []Scope {
	out := make([]Scope, n)
	for i := range out {
		out[i] = Scope{Profile: fmt.Sprint("p", i), Region: "r"}
	}
	return out
}

func TestScanOrderAndStreaming(t *testing.T) {
	sc := scopes(3)
	src := &gateSource{gates: map[string]chan struct{}{}, fail: map[string]error{sc[1].String(): errors.New("boom")}}
	for _, s := range sc {
		src.gates[s.String()] = make(chan struct{})
	}
	// Finish in reverse order: 2, 1, 0.
	var streamed []int
	done := make(chan []Result)
	go func() {
		done <- ScanEach(context.Background(), src, sc, 0, func(i int, r Result) {
			streamed = append(streamed, i)
			if r.Scope != sc[i] {
				t.Errorf("result %d has scope %v", i, r.Scope)
			}
			if i > 0 {
				close(src.gates[sc[i-1].String()])
			}
		})
	}()
	close(src.gates[sc[2].String()])
	results := <-done
	if fmt.Sprint(streamed) != "[2 1 0]" {
		t.Errorf("streamed in order %v, want [2 1 0]", streamed)
	}
	for i, r := range results {
		if r.Scope != sc[i] {
			t.Errorf("results[%d].Scope = %v", i, r.Scope)
		}
	}
	if results[1].Err == nil || results[1].Inventory != nil {
		t.Errorf("scope 1 should fail alone: %+v", results[1])
	}
	if results[0].Err != nil || results[2].Err != nil || results[0].Inventory.Account != "acct-p0" {
		t.Errorf("other scopes should succeed: %+v", results)
	}
}

func TestScanConcurrencyBound(t *testing.T) {
	sc := scopes(10)
	src := &gateSource{gates: map[string]chan struct{}{}}
	open := make(chan struct{})
	for _, s := range sc {
		src.gates[s.String()] = open
	}
	go func() {
		// Open the gates once the bound is reached.
		for {
			src.mu.Lock()
			n := src.inflight
			src.mu.Unlock()
			if n == 3 {
				close(open)
				return
			}
			runtime.Gosched()
		}
	}()
	results := Scan(context.Background(), src, sc, 3)
	if len(results) != 10 {
		t.Fatalf("%d results", len(results))
	}
	if src.peak != 3 {
		t.Errorf("peak %d, want 3", src.peak)
	}
}

func TestStream(t *testing.T) {
	sc := scopes(5)
	var got []Scope
	for r := range Stream(context.Background(), &gateSource{}, sc, 2) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got = append(got, r.Scope)
	}
	if len(got) != 5 {
		t.Errorf("streamed %d results", len(got))
	}
}

func TestScanCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := make(chan struct{})
	src := &gateSource{gates: map[string]chan struct{}{}}
	for _, s := range scopes(4) {
		src.gates[s.String()] = block
	}
	for _, r := range Scan(ctx, src, scopes(4), 1) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%v: err = %v", r.Scope, r.Err)
		}
	}
}

func TestScanEmpty(t *testing.T) {
	if r := Scan(context.Background(), &gateSource{}, nil, 0); len(r) != 0 {
		t.Errorf("got %v", r)
	}
}
