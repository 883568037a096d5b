package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// cacheVersion changes when the stored form changes; other versions are
// misses. 2: an inventory's scope keeps the role it was read through.
const cacheVersion = 2

// Cache keeps the inventory of each scope in its own JSON file so that
// `ls` and the TUI start without waiting on AWS. Inventories hold no
// secrets (only ids, addresses and rules), and the files are 0600 in a
// 0700 directory all the same.
type Cache struct {
	// Dir holds the files; see DefaultCacheDir.
	Dir string
	// TTL is how long an entry is fresh; with TTL <= 0 nothing is read
	// or written.
	TTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

type cacheEntry struct {
	Version   int        `json:"version"`
	Scope     Scope      `json:"scope"`
	StoredAt  time.Time  `json:"stored_at"`
	Inventory *Inventory `json:"inventory"`
}

// DefaultCacheDir is $XDG_CACHE_HOME/dbtunnel, else ~/.cache/dbtunnel.
func DefaultCacheDir() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "dbtunnel"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	return filepath.Join(home, ".cache", "dbtunnel"), nil
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Path is the file that holds scope's inventory.
func (c *Cache) Path(scope Scope) string {
	name := fileSafe(scope.Profile) + "." + fileSafe(scope.Region)
	if scope.Role.ARN != "" {
		// The same profile name through another role is another account.
		name += "." + fileSafe(scope.Role.ARN)
	}
	return filepath.Join(c.Dir, "inventory."+name+".json")
}

// fileSafe escapes s into a file-name part: letters, digits, '-' stay,
// everything else is %XX; "" becomes "_" (which is never produced
// otherwise, as '_' is escaped).
func fileSafe(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// Get returns scope's inventory when a fresh entry exists. A missing,
// stale, unreadable or corrupt file is a miss.
func (c *Cache) Get(scope Scope) (*Inventory, bool) {
	if c == nil || c.TTL <= 0 || c.Dir == "" {
		return nil, false
	}
	data, err := os.ReadFile(c.Path(scope))
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if err := json.Unmarshal(data, &e); err != nil || e.Version != cacheVersion || e.Scope != scope || e.Inventory == nil {
		return nil, false
	}
	age := c.now().Sub(e.StoredAt)
	if age < 0 || age >= c.TTL {
		return nil, false
	}
	return e.Inventory, true
}

// Put stores scope's inventory, replacing the file atomically.
func (c *Cache) Put(scope Scope, inv *Inventory) error {
	if c == nil || c.TTL <= 0 || c.Dir == "" || inv == nil {
		return nil
	}
	data, err := json.Marshal(cacheEntry{Version: cacheVersion, Scope: scope, StoredAt: c.now(), Inventory: inv})
	if err != nil {
		return fmt.Errorf("cache %s: %w", scope, err)
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("cache %s: %w", scope, err)
	}
	tmp, err := os.CreateTemp(c.Dir, ".inventory-*.tmp") // 0600
	if err != nil {
		return fmt.Errorf("cache %s: %w", scope, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("cache %s: write %s: %w", scope, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("cache %s: sync %s: %w", scope, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cache %s: close %s: %w", scope, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), c.Path(scope)); err != nil {
		os.Remove(tmp.Name())
		done = true
		return fmt.Errorf("cache %s: %w", scope, err)
	}
	done = true
	return nil
}

// Remove drops scope's entry; a missing entry is not an error.
func (c *Cache) Remove(scope Scope) error {
	if c == nil || c.Dir == "" {
		return nil
	}
	if err := os.Remove(c.Path(scope)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cache %s: %w", scope, err)
	}
	return nil
}

// CachedSource serves inventories from Cache while they are fresh and
// otherwise asks Source and stores the answer. Refresh (`--refresh`)
// skips the read, not the write. Errors are never cached.
type CachedSource struct {
	Source  Source
	Cache   *Cache
	Refresh bool
	Logger  *slog.Logger // optional; cache write failures are logged here
}

var _ Source = CachedSource{}

// Discover implements Source.
func (c CachedSource) Discover(ctx context.Context, scope Scope) (*Inventory, error) {
	inv, _, err := c.discoverCached(ctx, scope)
	return inv, err
}

func (c CachedSource) discoverCached(ctx context.Context, scope Scope) (*Inventory, bool, error) {
	if !c.Refresh {
		if inv, ok := c.Cache.Get(scope); ok {
			return inv, true, nil
		}
	}
	inv, err := c.Source.Discover(ctx, scope)
	if err != nil {
		return nil, false, err
	}
	if err := c.Cache.Put(scope, inv); err != nil && c.Logger != nil {
		c.Logger.Warn("inventory not cached", "scope", scope.String(), "err", err)
	}
	return inv, false, nil
}
