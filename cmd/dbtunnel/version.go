package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by the release build: -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, d := commit, date
			if c == "" {
				c, d = vcsInfo()
			}
			fmt.Fprintf(a.stdout, "dbtunnel %s", version)
			if c != "" {
				fmt.Fprintf(a.stdout, " (%s", c)
				if d != "" {
					fmt.Fprintf(a.stdout, ", %s", d)
				}
				fmt.Fprint(a.stdout, ")")
			}
			fmt.Fprintf(a.stdout, " %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

// vcsInfo reads the commit the go tool stamped into a source build, so a
// `go install` binary still says what it was built from.
func vcsInfo() (rev, when string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
			if len(rev) > 12 {
				rev = rev[:12]
			}
		case "vcs.time":
			when = s.Value
		}
	}
	return rev, when
}
