package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/term"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awssource"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/internal/tui"
)

// interactive reports whether both stdin and stdout are terminals: only
// then does `dbtunnel` with no arguments start the TUI.
func (a *app) interactive() bool {
	in, ok1 := a.stdin.(*os.File)
	out, ok2 := a.stdout.(*os.File)
	return ok1 && ok2 && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd()))
}

// runTUI runs the interactive program. The TUI owns the terminal, so logs
// go to --log-file, else to a 0600 file under the XDG state directory.
func (a *app) runTUI(ctx context.Context) error {
	if a.logFile == "" {
		path, err := a.tuiLogPath()
		if err != nil {
			return err
		}
		f, err := openLogFile(path)
		if err != nil {
			return err
		}
		if a.logSink != nil {
			a.logSink.Close()
		}
		a.logSink = f
		a.logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: a.level()}))
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	scopes := a.scopes(cfg)
	asker := tui.NewAsker()
	a.mfaBeforeTUI(ctx, cfg, scopes, asker)
	cache := &discovery.Cache{Dir: a.cacheDir(), TTL: cfg.Discovery.CacheTTL}
	fresh := awssource.New(awssource.Options{Logger: a.logger, Identities: a.identities})
	opener := a.opener(false)
	return tui.Run(ctx, tui.Options{
		Config: cfg,
		Resolver: &connect.Resolver{
			Config: cfg,
			Source: &discovery.CachedSource{Source: fresh, Cache: cache},
			Scopes: scopes,
		},
		Opener: opener,
		Source: fresh,
		Scopes: scopes,
		Cache:  cache,
		Logger: a.logger,
		Asker:  asker,
	}, a.stdin, a.stdout)
}

// tuiLogPath is $XDG_STATE_HOME/dbtunnel/tui.log, else
// ~/.local/state/dbtunnel/tui.log.
func (a *app) tuiLogPath() (string, error) {
	if d := a.getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "dbtunnel", "tui.log"), nil
	}
	home := a.getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("log file: %w (use --log-file)", err)
		}
	}
	return filepath.Join(home, ".local", "state", "dbtunnel", "tui.log"), nil
}

func openLogFile(path string) (io.WriteCloser, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	return f, nil
}
