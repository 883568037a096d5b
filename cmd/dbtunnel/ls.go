package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dbtunnel/dbtunnel/discovery"
)

func (a *app) lsCommand() *cobra.Command {
	var asJSON, refresh bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the databases discovery finds, with the best route to each",
		Long: `List the databases in every discovery scope (profiles × regions from the
config, or --profile/--region), each with its best route and whether it will
work. Results are cached (discovery.cache_ttl, default 10m); --refresh asks AWS
again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.ls(cmd.Context(), asJSON, refresh)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON array of databases")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ignore the cache and ask AWS again")
	return cmd
}

func (a *app) ls(ctx context.Context, asJSON, refresh bool) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	scopes := a.scopes(cfg)
	results := discovery.Scan(ctx, a.source(cfg, refresh), scopes, 0)
	dbs := []discovery.Database{}
	var failed []error
	for _, res := range results {
		if res.Err != nil {
			failed = append(failed, res.Err)
			fmt.Fprintf(a.stderr, "error: %s: %v\n", res.Scope, res.Err)
			continue
		}
		for _, w := range res.Inventory.Warnings {
			// The inventory's scope names the region the SDK resolved.
			fmt.Fprintf(a.stderr, "warning: %s: %s\n", res.Inventory.Scope, w)
		}
		dbs = append(dbs, res.Inventory.Databases...)
	}
	if asJSON {
		b, err := json.MarshalIndent(dbs, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s\n", b)
	} else {
		a.printDatabases(dbs)
	}
	if len(failed) == len(results) && len(failed) > 0 {
		// Every scope failed: nothing listed is the whole truth. The
		// errors were printed above.
		return &exitError{code: exitFailure}
	}
	return nil
}

func (a *app) printDatabases(dbs []discovery.Database) {
	if len(dbs) == 0 {
		fmt.Fprintln(a.stderr, "no databases found")
		return
	}
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tENGINE\tENDPOINT\tSCOPE\tROUTE\tVERDICT")
	for _, db := range dbs {
		endpoint := ""
		if len(db.Endpoints) > 0 {
			endpoint = net.JoinHostPort(db.Endpoints[0].Host, strconv.Itoa(db.Endpoints[0].Port))
		}
		route, verdict := "-", symbol(discovery.VerdictBlocked)+" no bastion"
		if len(db.Routes) > 0 {
			r := db.Routes[0]
			route = r.Via + " " + bastionLabel(r)
			verdict = symbol(r.Verdict) + " " + string(r.Verdict)
		}
		scope := discovery.Scope{Profile: db.Profile, Region: db.Region}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", db.Name, db.Kind, db.Engine, endpoint, scope, route, verdict)
	}
	w.Flush()
}

// symbol marks a verdict so it reads without colour.
func symbol(v discovery.Verdict) string {
	switch v {
	case discovery.VerdictOK:
		return "✓"
	case discovery.VerdictBlocked:
		return "✗"
	}
	return "?"
}

func bastionLabel(r discovery.Route) string {
	if r.BastionName != "" {
		return r.Bastion + " (" + r.BastionName + ")"
	}
	return r.Bastion
}
