package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/dbtunnel/dbtunnel/internal/connect"
)

func (a *app) urlCommand() *cobra.Command {
	var (
		o    connect.Overrides
		show bool
	)
	cmd := &cobra.Command{
		Use:   "url NAME",
		Short: "Print the connection string for a target's local end",
		Long: `Print the connection string for a target's local end. When the target has a
credential source, its user is filled in and the password shown as xxxxx;
--show-password prints the real one (mind your terminal's scrollback).`,
		Args: argsAtLeast(1, "url needs a target name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := a.resolve(cmd.Context(), args[:1], o)
			if err != nil {
				return err
			}
			t := targets[0]
			port := t.LocalPort
			if port == 0 {
				port = connect.StablePort(t.Name)
			}
			cred, err := a.opener(false).Credential(cmd.Context(), t)
			if err != nil {
				return credentialError(t, err)
			}
			u := t.ConnURL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}, cred)
			if show {
				fmt.Fprintln(a.stdout, u.String())
			} else {
				fmt.Fprintln(a.stdout, u.Redacted())
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.LocalPort, "local-port", 0, "local port (default: the target's local_port, else its stable port)")
	cmd.Flags().BoolVar(&show, "show-password", false, "print the password instead of xxxxx")
	return cmd
}
