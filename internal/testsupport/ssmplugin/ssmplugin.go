// Package ssmplugin builds the official Session Manager client,
// github.com/aws/session-manager-plugin, from its Go module, for tests and
// benchmarks that use it as the reference. Only test code imports it.
//
// The module that pins the plugin (and the one dependency it needs pinned)
// lives in tunnel/ssm/ssmfake/testdata/plugin; callers pass its path.
// Binaries are cached under os.UserCacheDir()/dbtunnel-test, keyed by that
// module's files and the Go version, so a machine builds them once.
package ssmplugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// Tools are the built binaries.
type Tools struct {
	Plugin   string // session-manager-plugin
	Msgcodec string // the plugin's frame codec, as a filter
	Cached   bool   // found in the cache, not built
	Took     time.Duration
}

// ModuleDir is the pinning module's path relative to the repository root.
const ModuleDir = "tunnel/ssm/ssmfake/testdata/plugin"

// moduleFiles are the inputs of the build; their hash keys the cache.
var moduleFiles = []string{"go.mod", "go.sum", "deps.go", "msgcodec/main.go"}

const mainPackage = "github.com/aws/session-manager-plugin/src/sessionmanagerplugin-main"

// Build builds (or finds in the cache) the plugin and msgcodec from the
// module in dir.
func Build(dir string) (Tools, error) {
	start := time.Now()
	src, err := filepath.Abs(dir)
	if err != nil {
		return Tools{}, fmt.Errorf("plugin module %s: %w", dir, err)
	}
	h := sha256.New()
	for _, f := range moduleFiles {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return Tools{}, fmt.Errorf("plugin module: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	key := hex.EncodeToString(h.Sum(nil))[:16]
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	base := filepath.Join(cache, "dbtunnel-test")
	out := filepath.Join(base, "ssm-plugin-"+key)
	tl := Tools{
		Plugin:   filepath.Join(out, "sessionmanagerplugin-main"),
		Msgcodec: filepath.Join(out, "msgcodec"),
	}
	if tl.complete() {
		tl.Cached = true
		tl.Took = time.Since(start)
		return tl, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		return Tools{}, fmt.Errorf("plugin build cache: %w", err)
	}
	tmp, err := os.MkdirTemp(base, "build-")
	if err != nil {
		return Tools{}, fmt.Errorf("plugin build cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", tmp+string(filepath.Separator), mainPackage, "./msgcodec")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return Tools{}, fmt.Errorf("go build in %s: %w\n%s", src, err, b)
	}
	// Publish atomically: concurrent test binaries may race here.
	if err := os.Rename(tmp, out); err != nil && !tl.complete() {
		return Tools{}, fmt.Errorf("plugin build cache: %w", err)
	}
	tl.Took = time.Since(start)
	return tl, nil
}

func (t Tools) complete() bool { return isFile(t.Plugin) && isFile(t.Msgcodec) }

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
