package tui

import (
	"fmt"
	"os"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// manyInventories spreads n databases over three scopes and four VPCs.
func manyInventories(n int) map[discovery.Scope]*discovery.Inventory {
	scopes := []discovery.Scope{prod, dev, denied}
	invs := map[discovery.Scope]*discovery.Inventory{}
	for _, s := range scopes {
		invs[s] = &discovery.Inventory{Scope: s}
	}
	engines := []string{"aurora-postgresql", "mysql", "postgres", "redshift"}
	for i := range n {
		s := scopes[i%len(scopes)]
		inv := invs[s]
		verdict := []discovery.Verdict{discovery.VerdictOK, discovery.VerdictBlocked, discovery.VerdictUnknown}[i%3]
		inv.Databases = append(inv.Databases, discovery.Database{
			Name: fmt.Sprintf("db-%04d-%s", i, engines[i%4]), Kind: discovery.KindRDSInstance, Engine: engines[i%4],
			Profile: s.Profile, Region: s.Region, VPCID: fmt.Sprintf("vpc-%02d", i%4),
			Endpoints: []discovery.Endpoint{{Role: discovery.RoleInstance, Host: fmt.Sprintf("db-%04d.abc.%s.rds.amazonaws.com", i, s.Region), Port: 5432}},
			Routes:    []discovery.Route{route("ssm", fmt.Sprintf("i-%04d", i%7), "bastion", verdict, "reason", "")},
		})
	}
	return invs
}

func loadedWith(b *testing.B, invs map[discovery.Scope]*discovery.Inventory) *Model {
	o := fixtureOptions(b)
	o.Source = memSource{invs: invs}
	m := New(b.Context(), o)
	m.tickEvery = 0
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for s, inv := range invs {
		m.scanResult(discovery.Result{Scope: s, Inventory: inv})
	}
	return m
}

// BenchmarkFilterKeystroke is one key typed into the filter with 500
// targets listed: Update (refilter) and View (the frame), alternately
// adding and removing a character so the list changes every time.
func BenchmarkFilterKeystroke(b *testing.B) {
	for _, n := range []int{0, 500} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			m := loadedWith(b, manyInventories(n))
			press(m, "/")
			typeText(m, "db 00")
			keys := []tea.KeyPressMsg{{Code: '1', Text: "1"}, {Code: tea.KeyBackspace}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				m.Update(keys[i%2])
				_ = m.View()
			}
		})
	}
}

// BenchmarkFirstPaintCached is the work between the program starting and
// its first frame with the inventory on it: build the model, read every
// scope's cache file, apply it, and draw. n databases are spread over
// three scopes' files.
func BenchmarkFirstPaintCached(b *testing.B) {
	for _, n := range []int{0, 500} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			cache := &discovery.Cache{Dir: b.TempDir(), TTL: time.Hour}
			for s, inv := range manyInventories(n) {
				if err := cache.Put(s, inv); err != nil {
					b.Fatal(err)
				}
			}
			o := fixtureOptions(b)
			o.Cache = cache
			b.ReportAllocs()
			for b.Loop() {
				m := New(b.Context(), o)
				m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
				m.Update(loadCache(o.Cache, o.Scopes)())
				_ = m.View()
			}
		})
	}
}

// TestWriteBenchCache writes the 500-target cache bench/tui-first-paint.sh
// starts the binary on; it does nothing unless DBTUNNEL_BENCH_CACHE names
// the directory.
func TestWriteBenchCache(t *testing.T) {
	dir := os.Getenv("DBTUNNEL_BENCH_CACHE")
	if dir == "" {
		t.Skip("DBTUNNEL_BENCH_CACHE not set: only bench/tui-first-paint.sh needs this")
	}
	cache := &discovery.Cache{Dir: dir, TTL: time.Hour}
	for s, inv := range manyInventories(500) {
		if err := cache.Put(s, inv); err != nil {
			t.Fatal(err)
		}
	}
}
