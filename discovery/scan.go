package discovery

import (
	"context"
	"sync"
)

// DefaultScanConcurrency bounds the scopes discovered at once when Scan
// is given no bound. Discovering a scope mostly waits on AWS, and scopes
// in different accounts or regions share no API rate limit, so the bound
// only guards against a runaway config: 16 covers the usual profiles ×
// regions in one wave (with 8, 3 profiles × 4 regions took two waves,
// 3.6× one scope's time instead of 2.5×: docs/BENCHMARKS.md).
const DefaultScanConcurrency = 16

// Result is the outcome of discovering one scope.
type Result struct {
	Scope     Scope
	Inventory *Inventory // nil when Err is set
	Err       error
	// FromCache is set when the inventory was read from the cache rather
	// than from AWS.
	FromCache bool
}

// cachingSource is a Source that can tell whether an inventory came from
// its cache (CachedSource).
type cachingSource interface {
	discoverCached(ctx context.Context, scope Scope) (*Inventory, bool, error)
}

func discoverOne(ctx context.Context, src Source, scope Scope) Result {
	r := Result{Scope: scope}
	if cs, ok := src.(cachingSource); ok {
		r.Inventory, r.FromCache, r.Err = cs.discoverCached(ctx, scope)
	} else {
		r.Inventory, r.Err = src.Discover(ctx, scope)
	}
	if r.Err != nil {
		r.Inventory, r.FromCache = nil, false
	}
	return r
}

// ScanEach discovers every scope, at most concurrency at a time
// (DefaultScanConcurrency when <= 0), and calls fn with each result as its
// scope finishes; i is the scope's index in scopes. Calls to fn never
// overlap. It returns when every scope is done, with the results in scope
// order. A scope that fails does not stop the others.
func ScanEach(ctx context.Context, src Source, scopes []Scope, concurrency int, fn func(i int, r Result)) []Result {
	if concurrency <= 0 {
		concurrency = DefaultScanConcurrency
	}
	results := make([]Result, len(scopes))
	sem := make(chan struct{}, concurrency)
	var (
		wg sync.WaitGroup
		mu sync.Mutex // serialises fn
	)
	for i, scope := range scopes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				results[i] = discoverOne(ctx, src, scope)
				<-sem
			case <-ctx.Done():
				results[i] = Result{Scope: scope, Err: ctx.Err()}
			}
			if fn != nil {
				mu.Lock()
				defer mu.Unlock()
				fn(i, results[i])
			}
		}()
	}
	wg.Wait()
	return results
}

// Scan discovers every scope, at most concurrency at a time, and returns
// the results in scope order.
func Scan(ctx context.Context, src Source, scopes []Scope, concurrency int) []Result {
	return ScanEach(ctx, src, scopes, concurrency, nil)
}

// Stream discovers every scope like Scan and sends each result as its
// scope finishes; the channel is closed after the last one. It is
// buffered for every scope, so a reader that stops early leaks nothing.
func Stream(ctx context.Context, src Source, scopes []Scope, concurrency int) <-chan Result {
	ch := make(chan Result, len(scopes))
	go func() {
		defer close(ch)
		ScanEach(ctx, src, scopes, concurrency, func(_ int, r Result) { ch <- r })
	}()
	return ch
}
