//go:build unix

package sandbox

import (
	"errors"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// postgresSupported: the throwaway PostgreSQL needs Unix process control
// (another user when root, process groups, SIGINT for a fast shutdown).
const postgresSupported = true

// procUser is who the PostgreSQL tools run as; nil is ourselves.
type procUser struct{ uid, gid uint32 }

// unprivileged is the user the server runs as when we are root: initdb
// refuses root.
func unprivileged() (*procUser, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &procUser{uint32(uid), uint32(gid)}, nil
	}
	return nil, errors.New("postgres: running as root and no postgres or nobody user to run initdb as (initdb refuses root)")
}

func (u *procUser) chown(path string) error {
	if u == nil {
		return nil
	}
	return os.Chown(path, int(u.uid), int(u.gid))
}

// procAttr runs a tool as u in its own process group; a server also dies
// with this process where the OS can arrange it.
func procAttr(u *procUser, server bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid}
	}
	if server {
		dieWithParent(a)
	}
	return a
}

// interrupt asks the server for a fast shutdown.
func interrupt(p *os.Process) error { return p.Signal(syscall.SIGINT) }

// killGroup kills the server and its children.
func killGroup(p *os.Process) { syscall.Kill(-p.Pid, syscall.SIGKILL) }
