package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/dbtunnel/dbtunnel/internal/connect"
)

func (a *app) urlCommand() *cobra.Command {
	var o connect.Overrides
	cmd := &cobra.Command{
		Use:   "url NAME",
		Short: "Print the connection string for a target's local end",
		Args:  argsAtLeast(1, "url needs a target name"),
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
			fmt.Fprintln(a.stdout, t.URL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}))
			return nil
		},
	}
	cmd.Flags().IntVar(&o.LocalPort, "local-port", 0, "local port (default: the target's local_port, else its stable port)")
	return cmd
}
