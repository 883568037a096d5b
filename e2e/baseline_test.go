//go:build linux

package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestTestBed checks the topology itself: the laptop reaches the bastion but
// has no path to the database, which only the bastion reaches.
func TestTestBed(t *testing.T) {
	b := requireBed(t)

	t.Run("laptop cannot reach db", func(t *testing.T) {
		out, err := run("ip", "route", "get", b.DBIP)
		if err == nil && strings.Contains(out, "dev "+b.rootVeth) {
			t.Fatalf("root ns routes %s via the bastion link: %s", b.DBIP, out)
		}
		// The db subnet is not routed to the bastion, so the packets follow
		// the default route (if any). Some sandboxes answer every SYN there,
		// so prove it at the protocol level: no PostgreSQL answers.
		dbPort := strconv.Itoa(b.DBPort)
		if out, err := exec.Command("pg_isready", "-h", b.DBIP, "-p", dbPort, "-U", "postgres", "-t", "2").CombinedOutput(); err == nil {
			t.Fatalf("pg_isready from the root ns reached %s:%s directly: %s", b.DBIP, dbPort, out)
		}
	})

	t.Run("routing via the bastion does not help", func(t *testing.T) {
		// Even a laptop that routes the db subnet to the bastion gets no
		// TCP connection: the bastion does not forward and the db has no
		// route back. Only a process on the bastion (sshd) reaches the db.
		subnet := strings.TrimSuffix(b.DBIP, ".2") + ".0/24"
		if _, err := run("ip", "route", "add", subnet, "via", b.BastionIP, "dev", b.rootVeth); err != nil {
			t.Fatal(err)
		}
		defer run("ip", "route", "del", subnet, "via", b.BastionIP, "dev", b.rootVeth) //nolint:errcheck
		c, err := net.DialTimeout("tcp", net.JoinHostPort(b.DBIP, strconv.Itoa(b.DBPort)), time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("direct TCP connection from the root ns to %s:%d via the bastion succeeded; the tunnel must be the only way in", b.DBIP, b.DBPort)
		}
		t.Logf("direct TCP connection to the db fails as it should: %v", err)
	})

	t.Run("bastion does not forward", func(t *testing.T) {
		out, err := NS(b.BastionNS, "cat", "/proc/sys/net/ipv4/ip_forward").Output()
		if err != nil || strings.TrimSpace(string(out)) != "0" {
			t.Fatalf("bastion ip_forward = %q, %v; want 0", out, err)
		}
	})

	t.Run("db has no route to the laptop", func(t *testing.T) {
		out, err := NS(b.DBNS, "ip", "route", "get", b.LaptopIP).CombinedOutput()
		if err == nil {
			t.Fatalf("db ns has a route to the laptop %s: %s", b.LaptopIP, out)
		}
	})

	t.Run("bastion reaches db", func(t *testing.T) {
		if out, err := NS(b.BastionNS, "pg_isready", "-U", "postgres", "-h", b.DBIP, "-p", strconv.Itoa(b.DBPort), "-t", "5").CombinedOutput(); err != nil {
			t.Fatalf("pg_isready from the bastion: %v: %s", err, out)
		}
	})

	t.Run("laptop reaches sshd", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(b.BastionIP, strconv.Itoa(b.SSHPort)), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if !strings.HasPrefix(string(buf[:n]), "SSH-2.0-OpenSSH") {
			t.Fatalf("banner = %q, want SSH-2.0-OpenSSH…", buf[:n])
		}
	})
}

// TestOpenSSHBaseline is the reference for everything dbtunnel does: plain
// `ssh -N -L` through the bastion, then psql through it.
func TestOpenSSHBaseline(t *testing.T) {
	b := requireBed(t)
	l := b.NewLaptop(t)
	port := freePort(t)
	local := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	ssh := exec.Command("ssh", "-N",
		"-F", "/dev/null",
		"-L", local+":"+net.JoinHostPort(b.DBIP, strconv.Itoa(b.DBPort)),
		"-i", l.Identity,
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile="+l.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "ExitOnForwardFailure=yes",
		"-p", strconv.Itoa(b.SSHPort),
		"root@"+b.BastionIP)
	ssh.Env = l.Env()
	var stderr lockedBuffer
	ssh.Stderr = &stderr
	ssh.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	p, err := startProc(ssh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(syscall.SIGTERM, 5*time.Second) })

	if err := waitAccepting(local, 15*time.Second, p.exited); err != nil {
		t.Fatalf("ssh -L %s: %v; ssh stderr: %s", local, err, stderr.String())
	}

	got, err := l.Psql(t, local, "select 1")
	if err != nil {
		t.Fatal(err)
	}
	if got != "1" {
		t.Fatalf("select 1 via ssh -L = %q", got)
	}
	// The server sees the bastion's db-side address: the path is laptop →
	// sshd → db, not a route.
	got, err = l.Psql(t, local, "select host(inet_server_addr()) || ' ' || host(inet_client_addr())")
	if err != nil {
		t.Fatal(err)
	}
	if want := b.DBIP + " " + b.BastionDBSide; got != want {
		t.Fatalf("server/client addr = %q, want %q", got, want)
	}

	// The db-side comparison path used by the COPY test works too.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := b.DBPsql(ctx, "-tA", "-c", "select 41+1")
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil || strings.TrimSpace(out.String()) != "42" {
		t.Fatalf("psql in the db ns: %q, %v", out.String(), err)
	}
}
