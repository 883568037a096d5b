package discovery

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func testCache(t *testing.T) (*Cache, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	return &Cache{Dir: filepath.Join(t.TempDir(), "dbtunnel"), TTL: 10 * time.Minute, Now: c.now}, c
}

func sampleInventory(s Scope) *Inventory {
	return &Inventory{
		Scope: s, Account: "123456789012", FetchedAt: time.Date(2025, 6, 1, 11, 59, 0, 0, time.UTC),
		Databases: []Database{{Name: "db", Kind: KindRDSInstance, Endpoints: []Endpoint{{Role: RoleInstance, Host: "h", Port: 5432}},
			SecurityGroups: []string{}, Routes: []Route{}}},
		Network:  Network{SecurityGroups: map[string]SecurityGroup{}},
		Warnings: []string{"missing permission ssm:DescribeInstanceInformation: SSM agent status is unknown"},
	}
}

func TestCacheRoundTripAndTTL(t *testing.T) {
	c, clk := testCache(t)
	s := Scope{Profile: "prod", Region: "ap-northeast-1"}
	if _, ok := c.Get(s); ok {
		t.Fatal("hit on an empty cache")
	}
	want := sampleInventory(s)
	if err := c.Put(s, want); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get(s)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v", got, ok)
	}
	if _, ok := c.Get(Scope{Profile: "prod", Region: "us-east-1"}); ok {
		t.Error("hit for another scope")
	}
	clk.t = clk.t.Add(10*time.Minute - time.Second)
	if _, ok := c.Get(s); !ok {
		t.Error("miss before the TTL")
	}
	clk.t = clk.t.Add(time.Second)
	if _, ok := c.Get(s); ok {
		t.Error("hit at the TTL")
	}
	clk.t = clk.t.Add(-time.Hour) // the clock went back: do not trust the entry
	if _, ok := c.Get(s); ok {
		t.Error("hit from the future")
	}
}

func TestCachePermissions(t *testing.T) {
	c, _ := testCache(t)
	s := Scope{Region: "us-east-1"}
	if err := c.Put(s, sampleInventory(s)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode().Perm())
	}
	st, err = os.Stat(c.Path(s))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v", st.Mode().Perm())
	}
	// Nothing left behind but the entry.
	entries, _ := os.ReadDir(c.Dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d files", len(entries))
	}
}

func TestCacheCorruptOrForeignFileIsAMiss(t *testing.T) {
	c, _ := testCache(t)
	s := Scope{Profile: "dev", Region: "eu-west-1"}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		"{not json",
		`{"version":99,"scope":{"profile":"dev","region":"eu-west-1"},"stored_at":"2025-06-01T12:00:00Z","inventory":{}}`,
		`{"version":2,"scope":{"profile":"other","region":"eu-west-1"},"stored_at":"2025-06-01T12:00:00Z","inventory":{}}`,
		`{"version":2,"scope":{"profile":"dev","region":"eu-west-1"},"stored_at":"2025-06-01T12:00:00Z"}`,
	} {
		if err := os.WriteFile(c.Path(s), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Get(s); ok {
			t.Errorf("hit on %s", body)
		}
	}
	// And a good Put replaces it.
	if err := c.Put(s, sampleInventory(s)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(s); !ok {
		t.Error("miss after Put")
	}
}

func TestCacheDisabled(t *testing.T) {
	c, _ := testCache(t)
	c.TTL = 0
	s := Scope{Region: "r"}
	if err := c.Put(s, sampleInventory(s)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Error("a disabled cache wrote")
	}
	var nilCache *Cache
	if _, ok := nilCache.Get(s); ok {
		t.Error("nil cache hit")
	}
}

func TestCachePathsAreDistinct(t *testing.T) {
	c := &Cache{Dir: "/c"}
	seen := map[string]Scope{}
	for _, s := range []Scope{
		{"", "r", Role{}}, {"_", "r", Role{}}, {"default", "r", Role{}}, {"a.b", "r", Role{}}, {"a", "b.r", Role{}},
		{"a/b", "r", Role{}}, {"a%2Fb", "r", Role{}}, {"..", "r", Role{}},
		{"a", "r", Role{ARN: "arn:aws:iam::210987654321:role/x", SourceProfile: "a"}},
	} {
		p := c.Path(s)
		if filepath.Dir(p) != "/c" {
			t.Errorf("%v escapes the dir: %s", s, p)
		}
		if o, dup := seen[p]; dup {
			t.Errorf("%v and %v share %s", s, o, p)
		}
		seen[p] = s
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, _ := DefaultCacheDir(); d != "/xdg/dbtunnel" {
		t.Errorf("got %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := DefaultCacheDir(); d != "/home/u/.cache/dbtunnel" {
		t.Errorf("got %s", d)
	}
}

// countingSource counts Discover calls.
type countingSource struct {
	mu  sync.Mutex
	n   int
	err error
}

func (c *countingSource) Discover(_ context.Context, s Scope) (*Inventory, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.err != nil {
		return nil, c.err
	}
	return sampleInventory(s), nil
}

func TestCachedSource(t *testing.T) {
	c, clk := testCache(t)
	src := &countingSource{}
	cs := CachedSource{Source: src, Cache: c}
	sc := []Scope{{Profile: "a", Region: "r"}, {Profile: "b", Region: "r"}}

	first := Scan(context.Background(), cs, sc, 2)
	second := Scan(context.Background(), cs, sc, 2)
	if src.n != 2 {
		t.Errorf("source called %d times, want 2", src.n)
	}
	for i := range sc {
		if first[i].FromCache || !second[i].FromCache {
			t.Errorf("scope %d: FromCache %v then %v", i, first[i].FromCache, second[i].FromCache)
		}
	}

	// --refresh goes to the source and refreshes the entry.
	cs.Refresh = true
	refreshed := Scan(context.Background(), cs, sc[:1], 1)
	if src.n != 3 || refreshed[0].FromCache {
		t.Errorf("refresh: calls %d, from cache %v", src.n, refreshed[0].FromCache)
	}

	// Expired entries are fetched again.
	cs.Refresh = false
	clk.t = clk.t.Add(11 * time.Minute)
	if _, err := cs.Discover(context.Background(), sc[1]); err != nil || src.n != 4 {
		t.Errorf("after TTL: calls %d, err %v", src.n, err)
	}

	// Errors are returned and never cached.
	src.err = errors.New("denied")
	clk.t = clk.t.Add(time.Hour)
	if _, err := cs.Discover(context.Background(), sc[0]); err == nil {
		t.Error("want the source's error")
	}
	if _, ok := c.Get(sc[0]); ok {
		t.Error("stale entry served after a failure")
	}
}

func TestCachedSourceWithoutCache(t *testing.T) {
	src := &countingSource{}
	cs := CachedSource{Source: src}
	for range 2 {
		if _, err := cs.Discover(context.Background(), Scope{Region: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	if src.n != 2 {
		t.Errorf("calls %d", src.n)
	}
}
