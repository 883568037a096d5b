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
	"github.com/dbtunnel/dbtunnel/internal/connect"
)

func (a *app) doctorCommand() *cobra.Command {
	var asJSON, refresh bool
	cmd := &cobra.Command{
		Use:   "doctor NAME",
		Short: "Check every step on the way to a database, and say how to fix what is blocked",
		Long: `Check every route to the database: the bastion, the VPC, security group rules
both ways, the SSM agent or the SSH path. Each check shows ✓ (pass), ✗ (fail)
or ? (cannot tell), and a failing check comes with the command that fixes it.
Exits 0 when a route works, 1 when none does.`,
		Args: argsAtLeast(1, "doctor needs a target name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.doctor(cmd.Context(), args[0], asJSON, refresh)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "ignore the cache and ask AWS again")
	return cmd
}

func (a *app) doctor(ctx context.Context, name string, asJSON, refresh bool) error {
	r, err := a.resolver(refresh)
	if err != nil {
		return err
	}
	f, err := r.Lookup(ctx, name)
	if err != nil {
		return err
	}
	rep := connect.Diagnose(name, f)
	if asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "%s\n", b)
	} else {
		a.printReport(rep)
	}
	if rep.Verdict != discovery.VerdictOK {
		return &exitError{code: exitFailure}
	}
	return nil
}

func (a *app) printReport(rep connect.Report) {
	fmt.Fprintf(a.stdout, "%s: %s %s in %s\n", rep.Target, rep.Kind, rep.Database, rep.Scope)
	fmt.Fprintf(a.stdout, "endpoint: %s %s\n", rep.Endpoint.Role, net.JoinHostPort(rep.Endpoint.Host, strconv.Itoa(rep.Endpoint.Port)))
	if len(rep.Routes) == 0 {
		a.printChecks(rep.Checks)
	}
	for i, r := range rep.Routes {
		fmt.Fprintf(a.stdout, "\nroute %d: %s via %s: %s %s\n", i+1, r.Via, bastionLabel(r), symbol(r.Verdict), r.Verdict)
		a.printChecks(r.Checks)
	}
}

func (a *app) printChecks(checks []discovery.Check) {
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	for _, c := range checks {
		mark := map[discovery.CheckStatus]string{discovery.CheckPass: "✓", discovery.CheckFail: "✗"}[c.Status]
		if mark == "" {
			mark = "?"
		}
		fmt.Fprintf(w, "  %s %s\t%s\n", mark, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "    fix:\t%s\n", c.Fix)
		}
	}
	w.Flush()
}
