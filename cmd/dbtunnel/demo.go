package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/internal/sandbox"
	"github.com/dbtunnel/dbtunnel/internal/tui"
	"github.com/dbtunnel/dbtunnel/tunnel"
)

type demoFlags struct {
	noTUI, asJSON, once bool
}

func (a *app) demoCommand() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a sandbox AWS estate on loopback and tunnel into it (no AWS account needed)",
		Long: `Start a sandbox in this process: fake AWS APIs with two profiles of databases
and bastions, an SSH bastion, the Session Manager service and agent, and a
throwaway PostgreSQL (when installed; else a built-in stand-in). Then open
the TUI on it, or with --no-tui (or without a terminal) list what is there,
open a tunnel to every reachable database and print how to connect. Ctrl-C
stops it; everything it made is removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.demo(cmd.Context(), f)
		},
	}
	cmd.Flags().BoolVar(&f.noTUI, "no-tui", false, "print to stdout instead of running the TUI")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "with --no-tui: one JSON object per line per event, as `up --json`")
	cmd.Flags().BoolVar(&f.once, "once", false, "with --no-tui: close everything and exit once the tunnels are up (for scripts and tests)")
	return cmd
}

// demoTUI runs the TUI against the sandbox.
func (a *app) demoTUI(ctx context.Context, sb *sandbox.Sandbox, log *slog.Logger) error {
	return tui.Run(ctx, tui.Options{
		Config: sb.Config, Resolver: sb.Resolver, Opener: sb.Opener, Source: sb.Source,
		Scopes: sb.Scopes, Cache: sb.Cache, Logger: log, Title: "dbtunnel demo — sandbox on loopback",
	}, a.stdin, a.stdout)
}

func (a *app) demo(ctx context.Context, f demoFlags) (err error) {
	useTUI := !f.noTUI && !f.asJSON && !f.once && a.interactive()
	log := a.logger
	if useTUI && a.logFile == "" {
		// The TUI owns the terminal: logs go to a file, kept (and
		// named) only if the demo fails.
		lf, err := os.CreateTemp("", "dbtunnel-demo-*.log")
		if err != nil {
			return err
		}
		log = slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelInfo}))
		defer func() {
			lf.Close()
			if err == nil {
				os.Remove(lf.Name())
			} else {
				fmt.Fprintf(a.stderr, "dbtunnel demo: log in %s\n", lf.Name())
			}
		}()
	}
	if !f.asJSON {
		fmt.Fprintln(a.stderr, "dbtunnel demo: starting a sandbox on loopback (fake AWS, SSH bastion, SSM agent, local database)...")
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{Logger: log})
	if err != nil {
		return err
	}
	defer sb.Close()
	if useTUI {
		return a.demoTUI(ctx, sb, log)
	}
	return a.demoHeadless(ctx, sb, f)
}

// demoHeadless lists the sandbox, opens a tunnel to every target that has a
// working route, prints how to use them and waits for Ctrl-C (or, with
// --once, closes them as soon as they are up).
func (a *app) demoHeadless(ctx context.Context, sb *sandbox.Sandbox, f demoFlags) error {
	out := &eventPrinter{stdout: a.stdout, stderr: a.stderr, json: f.asJSON}
	var dbs []discovery.Database
	for _, res := range discovery.Scan(ctx, sb.Resolver.Source, sb.Scopes, 0) {
		if res.Err != nil {
			return res.Err
		}
		dbs = append(dbs, res.Inventory.Databases...)
	}
	out.printJSONLine(struct {
		Event    string   `json:"event"`
		Dir      string   `json:"dir"`
		Postgres bool     `json:"postgres"`
		PID      int      `json:"postgres_pid,omitempty"`
		Notes    []string `json:"notes"`
	}{"sandbox", sb.Dir, sb.Postgres, sb.PostgresPID(), sb.Notes})
	if !f.asJSON {
		for _, n := range sb.Notes {
			fmt.Fprintf(a.stdout, "  %s\n", n)
		}
		fmt.Fprintln(a.stdout)
		printDemoInventory(a.stdout, dbs)
	}

	var (
		tunnels []*tunnel.Tunnel
		targets []connect.Target
	)
	for _, name := range sb.TargetNames() {
		t, err := sb.Resolver.Resolve(ctx, name, connect.Overrides{})
		var nr *connect.NoRouteError
		if errors.As(err, &nr) {
			out.printJSONLine(map[string]string{"event": "blocked", "target": name, "error": err.Error()})
			continue
		}
		if err == nil {
			var tun *tunnel.Tunnel
			if tun, err = sb.Opener.Open(context.Background(), t); err == nil {
				tunnels, targets = append(tunnels, tun), append(targets, t)
				continue
			}
		}
		closeTunnels(tunnels)
		return err
	}
	if !f.asJSON {
		fmt.Fprintf(a.stdout, "\nTunnels (the blocked databases get none; `dbtunnel doctor` explains why):\n")
	}
	ready := make(chan error, len(tunnels))
	var reporters sync.WaitGroup
	for _, tun := range tunnels {
		reporters.Add(1)
		go func() {
			defer reporters.Done()
			first := true
			for ev := range tun.Events() {
				out.print(tun.Spec(), ev)
				if first && (ev.State == tunnel.StateReady || ev.State == tunnel.StateFailed) {
					first = false
					ready <- ev.Err
				}
			}
			if first {
				ready <- tun.Err()
			}
		}()
	}
	var failed error
	for range tunnels {
		select {
		case err := <-ready:
			failed = cmpErr(failed, err)
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() == nil && failed == nil {
		a.printTry(sb, tunnels, targets, f.asJSON)
		if !f.once {
			<-ctx.Done()
		}
	}
	if ctx.Err() != nil {
		a.shutdown(tunnels, f.asJSON)
	} else {
		closeTunnels(tunnels)
	}
	reporters.Wait()
	if failed != nil {
		return failed
	}
	if err := sb.Close(); err != nil {
		return err
	}
	if !f.asJSON {
		fmt.Fprintln(a.stderr, "dbtunnel demo: stopped; the sandbox and its database are gone")
	}
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func closeTunnels(ts []*tunnel.Tunnel) {
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Add(1)
		go func() { defer wg.Done(); t.Close() }()
	}
	wg.Wait()
}

// printJSONLine writes one JSON object in the event stream (JSON mode
// only).
func (p *eventPrinter) printJSONLine(v any) {
	if !p.json {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(v)
	fmt.Fprintf(p.stdout, "%s\n", b)
}

// printDemoInventory is `ls` for the demo, with a row of its own for each
// endpoint that has its own network (a Redshift managed VPC endpoint), and
// the reason and fix under each blocked row.
func printDemoInventory(w0 io.Writer, dbs []discovery.Database) {
	w := tabwriter.NewWriter(w0, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tENGINE\tSCOPE\tBEST ROUTE\tVERDICT")
	var blocked []string
	row := func(name string, db discovery.Database, routes []discovery.Route) {
		route, verdict := "-", symbol(discovery.VerdictBlocked)+" no bastion"
		if len(routes) > 0 {
			r := routes[0]
			route = r.Via + " " + bastionLabel(r)
			verdict = symbol(r.Verdict) + " " + string(r.Verdict)
			if r.Verdict == discovery.VerdictBlocked {
				blocked = append(blocked, blockedNote(name, r))
			}
		}
		scope := discovery.Scope{Profile: db.Profile, Region: db.Region}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", name, db.Kind, db.Engine, scope, route, verdict)
	}
	for _, db := range dbs {
		own := len(blocked)
		row(db.Name, db, db.Routes)
		for _, ep := range db.Endpoints {
			if !ep.OwnNetwork() {
				continue
			}
			row(db.Name+" via "+ep.Name, db, ep.Routes)
			if own < len(blocked) && len(ep.Routes) > 0 && ep.Routes[0].Verdict == discovery.VerdictOK {
				blocked[own] += fmt.Sprintf("    or connect through %s, which works as it is\n", ep.Name)
			}
		}
	}
	w.Flush()
	if len(blocked) > 0 {
		fmt.Fprintf(w0, "\nBlocked, and what would fix it:\n%s", strings.Join(blocked, ""))
	}
}

func blockedNote(name string, r discovery.Route) string {
	detail := strings.Join(r.Reasons, "; ")
	for _, c := range r.Checks {
		if c.Status == discovery.CheckFail {
			detail = c.Detail
			break
		}
	}
	s := fmt.Sprintf("  %s ✗ %s\n", name, detail)
	if r.Fix != "" {
		s += fmt.Sprintf("    fix: %s\n", r.Fix)
	}
	return s
}

// printTry says how to use the open tunnels.
func (a *app) printTry(sb *sandbox.Sandbox, tunnels []*tunnel.Tunnel, targets []connect.Target, asJSON bool) {
	if asJSON {
		for i, tun := range tunnels {
			local := tun.LocalAddr().(*net.TCPAddr)
			b, _ := json.Marshal(map[string]string{"event": "url", "target": targets[i].Name, "local": local.String(), "url": targets[i].URL(local)})
			fmt.Fprintf(a.stdout, "%s\n", b)
		}
		return
	}
	fmt.Fprintf(a.stdout, "\nTry:\n")
	for i, tun := range tunnels {
		t, local := targets[i], tun.LocalAddr().(*net.TCPAddr)
		switch {
		case t.Engine == "mysql" || !sb.Postgres:
			fmt.Fprintf(a.stdout, "  nc 127.0.0.1 %s    # %s: a stand-in that echoes\n", strconv.Itoa(local.Port), t.Name)
		default:
			fmt.Fprintf(a.stdout, "  psql %q -c 'select count(*) from orders'    # %s\n", t.URL(local), t.Name)
		}
	}
	fmt.Fprintf(a.stdout, "\nWhile this runs, dbtunnel in another terminal sees the sandbox too:\n  env %s dbtunnel doctor dev-legacy\n",
		strings.Join(sb.Env(), " "))
	fmt.Fprintf(a.stdout, "\nCtrl-C stops the demo and removes everything it made.\n")
}
