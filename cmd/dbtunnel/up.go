package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/tunnel"
)

type routeFlags struct {
	overrides        connect.Overrides
	acceptNewHostKey bool
}

func (r *routeFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&r.overrides.LocalPort, "local-port", 0, "local port to listen on (default: the target's local_port, else a stable free port)")
	f.StringVar(&r.overrides.Via, "via", "", "backend: ssh or ssm (default: the target's)")
	f.StringVar(&r.overrides.Bastion, "bastion", "", "bastion to use instead of the target's")
	f.BoolVar(&r.acceptNewHostKey, "accept-new-host-key", false, "trust and record an SSH host key seen for the first time, like OpenSSH's accept-new (a changed key is always refused)")
}

func (a *app) upCommand() *cobra.Command {
	var rf routeFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "up NAME...",
		Short: "Open tunnels and keep them up until interrupted",
		Long: `Open a tunnel for each target and keep it up, reconnecting as needed, until
SIGINT or SIGTERM. A line is printed when each tunnel is ready; with --json,
one JSON object per event (connecting, ready, reconnecting, failed, closed).`,
		Args: argsAtLeast(1, "up needs at least one target name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.up(cmd.Context(), args, rf, asJSON)
		},
	}
	rf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line for each event")
	return cmd
}

func (a *app) up(ctx context.Context, names []string, rf routeFlags, asJSON bool) error {
	targets, err := a.resolve(ctx, names, rf.overrides)
	if err != nil {
		return err
	}
	opener := a.opener(rf.acceptNewHostKey)
	var tunnels []*tunnel.Tunnel
	closeAll := func() {
		var wg sync.WaitGroup
		for _, t := range tunnels {
			wg.Add(1)
			go func() { defer wg.Done(); t.Close() }()
		}
		wg.Wait()
	}
	// All listeners are bound before any is reported, so a busy port
	// fails the command before anything is up.
	for _, t := range targets {
		tun, err := opener.Open(context.Background(), t)
		if err != nil {
			closeAll()
			return err
		}
		tunnels = append(tunnels, tun)
	}

	out := &eventPrinter{stdout: a.stdout, stderr: a.stderr, json: asJSON}
	var reporters sync.WaitGroup
	failed := make(chan struct{}, len(tunnels))
	for _, tun := range tunnels {
		reporters.Add(1)
		go func() {
			defer reporters.Done()
			for ev := range tun.Events() {
				out.print(tun.Spec(), ev)
				if ev.State == tunnel.StateFailed {
					failed <- struct{}{}
				}
			}
		}()
	}

	select {
	case <-ctx.Done():
		a.shutdown(tunnels, asJSON)
	case <-failed:
		closeAll()
	}
	reporters.Wait()
	var errs []error
	for _, tun := range tunnels {
		if err := tun.Err(); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case len(errs) > 0 && !asJSON:
		// The failure was printed as it happened.
		return &exitError{code: exitFailure}
	case len(errs) > 0:
		return errors.Join(errs...)
	}
	return ctx.Err()
}

// shutdown closes the tunnels after a signal: open connections get the
// grace period to finish, or less if a second signal comes.
func (a *app) shutdown(tunnels []*tunnel.Tunnel, quiet bool) {
	var active int64
	for _, t := range tunnels {
		active += t.Stats().Active
	}
	if active > 0 && !quiet {
		fmt.Fprintf(a.stderr, "closing: waiting up to %s for %d open connection(s); interrupt again to close them now\n", shutdownGrace, active)
	}
	ctx, cancel := context.WithTimeout(a.intr.force, shutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	for _, t := range tunnels {
		wg.Add(1)
		go func() { defer wg.Done(); t.Shutdown(ctx) }()
	}
	wg.Wait()
}

// shutdownGrace is how long open connections may finish after a signal.
const shutdownGrace = 5 * time.Second

// eventPrinter writes tunnel events for people (ready lines on stdout,
// trouble on stderr) or for scripts (every event as a JSON line on stdout).
type eventPrinter struct {
	mu             sync.Mutex
	stdout, stderr io.Writer
	json           bool
	// noReady leaves out ready lines: exec's stdout is its command's.
	noReady bool
}

type jsonEvent struct {
	Event     string `json:"event"`
	Target    string `json:"target"`
	Local     string `json:"local"`
	Remote    string `json:"remote"`
	Via       string `json:"via"`
	Bastion   string `json:"bastion"`
	Time      string `json:"time"`
	Attempt   int    `json:"attempt,omitempty"`
	RetryInMS int64  `json:"retry_in_ms,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (p *eventPrinter) print(s tunnel.Spec, ev tunnel.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		je := jsonEvent{
			Event: string(ev.State), Target: s.Name, Local: s.Listen, Remote: s.Remote,
			Via: s.Via, Bastion: s.Bastion, Time: ev.Time.UTC().Format(time.RFC3339Nano),
			Attempt: ev.Attempt, RetryInMS: ev.Delay.Milliseconds(),
		}
		if ev.Err != nil {
			je.Error = ev.Err.Error()
		}
		b, _ := json.Marshal(je)
		fmt.Fprintf(p.stdout, "%s\n", b)
		return
	}
	switch ev.State {
	case tunnel.StateReady:
		if p.noReady {
			return
		}
		fmt.Fprintf(p.stdout, "%s  %s -> %s via %s %s (ready)\n", s.Name, s.Listen, s.Remote, s.Via, s.Bastion)
	case tunnel.StateReconnecting:
		if ev.Delay > 0 {
			fmt.Fprintf(p.stderr, "%s  reconnecting in %s (attempt %d): %v\n", s.Name, ev.Delay.Round(10*time.Millisecond), ev.Attempt, ev.Err)
		} else {
			fmt.Fprintf(p.stderr, "%s  reconnecting: %v\n", s.Name, ev.Err)
		}
	case tunnel.StateIdle:
		fmt.Fprintf(p.stderr, "%s  idle: %v; a new session starts when a client connects\n", s.Name, ev.Err)
	case tunnel.StateFailed:
		fmt.Fprintf(p.stderr, "%s  failed: %v\n", s.Name, ev.Err)
	}
}

func argsAtLeast(n int, msg string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return &usageError{fmt.Errorf("%s (usage: %s)", msg, cmd.UseLine())}
		}
		return nil
	}
}
