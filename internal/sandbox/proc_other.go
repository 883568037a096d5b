//go:build !unix

package sandbox

import (
	"errors"
	"os"
	"syscall"
)

// postgresSupported: on this OS the demo uses the stand-in.
const postgresSupported = false

type procUser struct{}

func unprivileged() (*procUser, error) {
	return nil, errors.New("postgres: not supported on this OS")
}

func (u *procUser) chown(string) error              { return nil }
func procAttr(*procUser, bool) *syscall.SysProcAttr { return nil }
func interrupt(p *os.Process) error                 { return p.Kill() }
func killGroup(p *os.Process)                       { p.Kill() }
