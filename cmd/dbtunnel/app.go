package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery/awssource"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/tunnel/ssh"
)

// Exit codes are part of the contract: scripts branch on them.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// app is the command line as a value: its streams and environment are
// fields, so tests run commands in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	// Global flags.
	configPath, profile, region string
	logLevel, logFile           string

	logger  *slog.Logger
	logSink io.Closer
	intr    *interrupts
	// identities are the run's AWS credentials and assumed roles, shared
	// by discovery, credential fetches and tunnels: a role with MFA asks
	// for one code per run.
	identities *awssource.Identities
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, identities: &awssource.Identities{}}
}

// exitError carries an exit code chosen by a command (exec passes on its
// child's).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError marks a mistake in the command line or config: exit 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func (a *app) run(intr *interrupts, args []string) int {
	a.intr = intr
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(intr.ctx)
	if a.logSink != nil {
		a.logSink.Close()
	}
	return a.exitCode(err)
}

func (a *app) exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if s := a.intr.signal(); s != nil {
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(a.stderr, "dbtunnel: %v\n", err)
		}
		if n, ok := s.(syscall.Signal); ok {
			return 128 + int(n)
		}
		return exitFailure
	}
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(a.stderr, "dbtunnel: %v\n", err)
	var ue *usageError
	var cu *connect.UsageError
	var ce config.Errors
	var cerr *config.Error
	if errors.As(err, &ue) || errors.As(err, &cu) || errors.As(err, &ce) || errors.As(err, &cerr) {
		return exitUsage
	}
	return exitFailure
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "dbtunnel",
		Short: "Tunnels from this machine to private AWS databases",
		Long: `dbtunnel opens a tunnel from a local port to a database in a private subnet,
through an SSH bastion, and keeps it up.

  dbtunnel                            on a terminal: the interactive TUI
  dbtunnel up prod-db                 keep a tunnel open until Ctrl-C
  dbtunnel exec prod-db -- psql       open it, run a command through it, close it`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setupLogging() },
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && a.interactive() {
				return a.runTUI(cmd.Context())
			}
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	f := root.PersistentFlags()
	f.StringVar(&a.configPath, "config", "", "config file (default $DBTUNNEL_CONFIG, ./.dbtunnel.yaml, $XDG_CONFIG_HOME/dbtunnel/config.yaml)")
	f.StringVar(&a.profile, "profile", "", "AWS profile")
	f.StringVar(&a.region, "region", "", "AWS region")
	f.StringVar(&a.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	f.StringVar(&a.logFile, "log-file", "", "write logs to this file instead of stderr (the TUI's default: $XDG_STATE_HOME/dbtunnel/tui.log)")
	root.AddCommand(a.upCommand(), a.execCommand(), a.lsCommand(), a.doctorCommand(), a.urlCommand(), a.versionCommand(), a.demoCommand())
	return root
}

// level is --log-level, checked by setupLogging.
func (a *app) level() slog.Level {
	var level slog.Level
	level.UnmarshalText([]byte(a.logLevel))
	return level
}

func (a *app) setupLogging() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return &usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", a.logLevel)}
	}
	var w io.Writer = a.stderr
	if a.logFile != "" {
		f, err := os.OpenFile(a.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return &usageError{fmt.Errorf("--log-file: %w", err)}
		}
		a.logSink = f
		w = f
	}
	a.logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	return nil
}

func (a *app) loadConfig() (*config.Config, error) {
	home, _ := os.UserHomeDir()
	if h := a.getenv("HOME"); h != "" {
		home = h
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	// Every failure to read the config is the user's to fix: exit 2.
	path, err := config.Find(a.configPath, a.getenv, cwd, home)
	if err != nil {
		return nil, &usageError{err}
	}
	// With no file, Load still applies the defaults (cache TTL, via).
	cfg, err := config.Load(path, home)
	if err != nil {
		return nil, &usageError{err}
	}
	return cfg, nil
}

// opener builds the connect.Opener for this run: the user's home and agent,
// and a terminal prompter only when there is a terminal to ask on.
func (a *app) opener(acceptNewHostKey bool) *connect.Opener {
	home, _ := os.UserHomeDir()
	if h := a.getenv("HOME"); h != "" {
		home = h
	}
	o := &connect.Opener{
		Logger:           a.logger,
		Home:             home,
		AgentSocket:      a.getenv("SSH_AUTH_SOCK"),
		AcceptNewHostKey: acceptNewHostKey,
		Identities:       a.identities,
	}
	// A fresh look (no cache) when an SSM agent turns out not connected:
	// the point is what is true now.
	if cfg, err := a.loadConfig(); err == nil {
		o.Discovery = a.source(cfg, true)
	}
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		o.Prompter = &ssh.TerminalPrompter{In: f, Out: a.stderr}
	}
	return o
}

// resolver builds the target resolver for this run: the config, and
// discovery through the inventory cache.
func (a *app) resolver(refresh bool) (*connect.Resolver, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return &connect.Resolver{
		Config: cfg,
		Source: a.source(cfg, refresh),
		Scopes: a.scopes(cfg),
	}, nil
}

// resolve resolves every named target before anything is opened, so a typo
// in the third name fails before the first connects.
func (a *app) resolve(ctx context.Context, names []string, o connect.Overrides) ([]connect.Target, error) {
	r, err := a.resolver(false)
	if err != nil {
		return nil, err
	}
	targets := make([]connect.Target, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, &usageError{fmt.Errorf("target %s named twice", n)}
		}
		seen[n] = true
		t, err := r.Resolve(ctx, n, o)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	if o.LocalPort != 0 && len(targets) > 1 {
		return nil, &usageError{fmt.Errorf("--local-port with %d targets: each needs its own port (%s)", len(targets), strings.Join(names, ", "))}
	}
	return targets, nil
}
