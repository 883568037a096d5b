//go:build linux

package e2e

// EC2 Instance Connect and SSH over SSM, end to end. Each test runs a
// second, real OpenSSH sshd in the bastion namespace with its own config
// and host key (the bed's sshd is left alone):
//
//   - Instance Connect: sshd has no authorized_keys file at all; its
//     AuthorizedKeysCommand is a shell script that prints the keys the fake
//     SendSSHPublicKey recorded for the user in the last 60 s (the record
//     file stands in for the instance metadata that eic_run_authorized_keys
//     reads). dbtunnel gets no key file and no agent, so the pushed key is
//     the only way in; records moved 61 s into the past lock it out.
//   - SSH over SSM: sshd listens on 127.0.0.1 inside the bastion namespace,
//     which the laptop cannot reach; the only path is ssmfake's agent, whose
//     dials are made from inside that namespace (setns on a locked thread).

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

const (
	sshxKey    = "AKIDSSHX"
	sshxRegion = "eu-west-1"
)

// sshxSSHD is an extra sshd in the bastion namespace.
type sshxSSHD struct {
	addr    string // where it listens, inside the bastion namespace
	hostKey gossh.PublicKey
	cfgPath string
	log     string
}

// startSSHXSSHD runs sshd in ns listening on listen with the given extra
// config lines; it is killed (with its per-connection children) at cleanup.
func startSSHXSSHD(t *testing.T, b *Bed, dir, listen string, extra string) *sshxSSHD {
	t.Helper()
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	if err := sshKeygen(hostKey); err != nil {
		t.Fatal(err)
	}
	pubText, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := gossh.ParseAuthorizedKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	s := &sshxSSHD{addr: listen, hostKey: pub, cfgPath: filepath.Join(dir, "sshd_config"), log: filepath.Join(dir, "sshd.log")}
	cfg := fmt.Sprintf(`# dbtunnel e2e: sshx
ListenAddress %s
HostKey %s
PidFile none
`, listen, hostKey) + sshdCommon + extra
	if err := os.WriteFile(s.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := run("/usr/sbin/sshd", "-t", "-f", s.cfgPath); err != nil {
		t.Fatalf("sshd -t: %v %s", err, out)
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := NS(b.BastionNS, "/usr/sbin/sshd", "-D", "-e", "-f", s.cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	p, err := startProc(cmd)
	if err != nil {
		t.Fatalf("start sshd: %v", err)
	}
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL, 0)
		// Connection children re-exec sshd with the same arguments; kill
		// the ones of this config only, leaves first.
		_ = pollUntil(10*time.Second, func() (bool, error) {
			left := 0
			for _, pid := range nsPIDs(b.BastionNS, "sshd") {
				cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				if strings.Contains(string(cl), s.cfgPath) {
					left++
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			return left == 0, nil
		})
		if t.Failed() {
			t.Logf("sshd log (%s):\n%s", s.log, tailFile(s.log, 4000))
		}
	})
	// Poll from inside the namespace: the SSM test's sshd is not
	// reachable from the laptop at all.
	dial := netnsDialer(b.BastionNS)
	err = pollUntil(15*time.Second, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("sshd exited: %v; log:\n%s", p.err, tailFile(s.log, 2000))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c, err := dial(ctx, "tcp", listen)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sshxAWS is the fake AWS side: awsfake for EC2 and Instance Connect, with
// the bastion as an instance.
type sshxAWS struct {
	fake     *awsfake.Fake
	instance *awsfake.Instance
}

func newSSHXAWS(t *testing.T, b *Bed) *sshxAWS {
	t.Helper()
	f := awsfake.NewServer(t)
	r := f.Account("210987654321", sshxKey).Region(sshxRegion)
	sub := r.VPC("10.0.0.0/16").Subnet("10.0.1.0/24", awsfake.Public)
	inst := r.Instance("bastion", sub).PublicIP(b.BastionIP).SSMOnline()
	return &sshxAWS{fake: f, instance: inst}
}

// env is the AWS part of dbtunnel's environment: only the fakes.
func (a *sshxAWS) env(t *testing.T, ssmURL string) []string {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"AWS_ACCESS_KEY_ID=" + sshxKey, "AWS_SECRET_ACCESS_KEY=not-checked",
		"AWS_REGION=" + sshxRegion, "AWS_ENDPOINT_URL=" + a.fake.URL,
		"AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty, "AWS_EC2_METADATA_DISABLED=true",
	}
	if ssmURL != "" {
		env = append(env, "AWS_ENDPOINT_URL_SSM="+ssmURL)
	}
	return env
}

// runSSHX runs dbtunnel to completion with extra environment (and no AWS
// settings inherited from the developer).
func runSSHX(t *testing.T, l *Laptop, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := l.Dbtunnel(t, ctx, args...)
	var base []string
	for _, kv := range cmd.Env {
		if !strings.HasPrefix(kv, "AWS_") {
			base = append(base, kv)
		}
	}
	cmd.Env = append(base, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
	r.Code, r.Signal = exitStatus(cmd, err)
	t.Logf("dbtunnel %s → exit %d%s\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Signal, clip(r.Stdout, 2000), clip(r.Stderr, 4000))
	return r
}

// sshxLaptop is a laptop with no SSH key at all and an empty known_hosts.
func sshxLaptop(t *testing.T, b *Bed) *Laptop {
	t.Helper()
	l := b.NewLaptop(t)
	for _, f := range []string{l.Identity, l.Identity + ".pub"} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	l.WriteKnownHosts(t)
	return l
}

func writeSSHXConfig(t *testing.T, l *Laptop, b *Bed, instance string, ssh ...string) {
	t.Helper()
	text := fmt.Sprintf(`targets:
  pg:
    host: %s
    port: %d
    via: ssh
    user: postgres
    dbname: postgres
    bastion: %s
    ssh:
      known_hosts: %s
`, b.DBIP, b.DBPort, instance, l.KnownHosts)
	for _, s := range ssh {
		text += "      " + s + "\n"
	}
	if err := os.WriteFile(l.ConfigPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// eicRecords is the instance side of EC2 Instance Connect: the fake's
// pushes, written where sshd's AuthorizedKeysCommand reads them, with a
// clock offset that moves them into the past.
type eicRecords struct {
	path string
	mu   sync.Mutex
	age  time.Duration
	keys []awsfake.PushedKey
}

func (r *eicRecords) add(p awsfake.PushedKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, p)
	r.writeLocked()
}

// setAge rewrites every record as if pushed age earlier than it was.
func (r *eicRecords) setAge(age time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.age = age
	r.writeLocked()
}

func (r *eicRecords) writeLocked() {
	var b strings.Builder
	for _, k := range r.keys {
		fmt.Fprintf(&b, "%d %s %s\n", k.At.Add(-r.age).Unix(), k.OSUser, k.PublicKey)
	}
	// Written whole then renamed, so sshd never reads half a file.
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err == nil {
		_ = os.Rename(tmp, r.path)
	}
}

// eicScript prints the keys pushed for user $1 in the last 60 s.
const eicScript = `#!/bin/sh
now=$(date +%s)
[ -r "$0.keys" ] || exit 0
while read -r ts user key; do
	if [ "$user" = "$1" ] && [ $((now - ts)) -lt 60 ] && [ $((now - ts)) -ge -5 ]; then
		printf '%s\n' "$key"
	fi
done < "$0.keys"
`

// eicSetup installs the AuthorizedKeysCommand. sshd insists that the
// command and every directory above it be root-owned and not group or
// world writable, which rules out /tmp; /run is.
func eicSetup(t *testing.T, a *sshxAWS) (*eicRecords, string) {
	t.Helper()
	dir := fmt.Sprintf("/run/dbtunnel-e2e-%d-eic", os.Getpid())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	script := filepath.Join(dir, "eic-keys")
	if err := os.WriteFile(script, []byte(eicScript), 0o755); err != nil {
		t.Fatal(err)
	}
	rec := &eicRecords{path: script + ".keys"}
	rec.writeLocked()
	a.fake.OnPushKey(rec.add)
	extra := fmt.Sprintf("AuthorizedKeysFile none\nAuthorizedKeysCommand %s %%u\nAuthorizedKeysCommandUser nobody\n", script)
	return rec, extra
}

func consoleWith(keys ...gossh.PublicKey) string {
	var b strings.Builder
	b.WriteString("[    9.870000] cloud-init[1105]: Cloud-init v. 22.2.2 finished\n")
	b.WriteString("ec2: #############################################################\n")
	b.WriteString("ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "ec2: 256 %s root@ip-10-0-1-23 (ED25519)\n", gossh.FingerprintSHA256(k))
	}
	b.WriteString("ec2: -----END SSH HOST KEY FINGERPRINTS-----\n")
	b.WriteString("ec2: #############################################################\n")
	return b.String()
}

func TestInstanceConnect(t *testing.T) {
	b := requireBed(t)
	a := newSSHXAWS(t, b)
	rec, extra := eicSetup(t, a)
	port := freePortOn(t, b)
	sshd := startSSHXSSHD(t, b, t.TempDir(), net.JoinHostPort(b.BastionIP, strconv.Itoa(port)), extra)
	a.instance.ConsoleOutput(consoleWith(sshd.hostKey))
	l := sshxLaptop(t, b)
	writeSSHXConfig(t, l, b, a.instance.ID(),
		"host: "+b.BastionIP, "port: "+strconv.Itoa(port), "user: root", "instance_connect: true")
	env := a.env(t, "")

	t.Run("the sshd enforces the window", func(t *testing.T) {
		// What a user does by hand: push with the aws CLI (through the
		// fake), then ssh with that key; 61 s later the key is refused.
		aws, err := exec.LookPath("aws")
		if err != nil {
			if inCI() {
				t.Fatalf("aws CLI not found (CI=true): %v", err)
			}
			t.Skipf("aws CLI not found: %v", err)
		}
		key := filepath.Join(t.TempDir(), "id")
		if err := sshKeygen(key); err != nil {
			t.Fatal(err)
		}
		cli := exec.Command(aws, "ec2-instance-connect", "send-ssh-public-key", "--instance-id", a.instance.ID(),
			"--instance-os-user", "root", "--ssh-public-key", "file://"+key+".pub")
		cli.Env = append(l.Env("AWS_PAGER=", "AWS_DEFAULT_REGION="+sshxRegion), env...)
		if out, err := cli.CombinedOutput(); err != nil {
			t.Fatalf("aws ec2-instance-connect send-ssh-public-key: %v: %s", err, out)
		}
		ssh := func() error {
			_, err := run("ssh", "-F", "none", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
				"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
				"-p", strconv.Itoa(port), "root@"+b.BastionIP, "true")
			return err
		}
		if err := ssh(); err != nil {
			t.Fatalf("ssh with a just-pushed key: %v", err)
		}
		rec.setAge(61 * time.Second)
		defer rec.setAge(0)
		if err := ssh(); err == nil || !strings.Contains(err.Error(), "Permission denied") {
			t.Fatalf("ssh with a key pushed 61 s ago: %v, want Permission denied", err)
		}
	})

	t.Run("exec logs in with the pushed key and verifies the host key on the console", func(t *testing.T) {
		before := len(a.fake.PushedKeys())
		r := runSSHX(t, l, env, "exec", "pg", "--", "psql", "-X", "-tA", "-c", "select 1")
		if r.Code != 0 || r.Stdout != "1\n" {
			t.Fatalf("exec: exit %d%s, stdout %q, want 0 and 1", r.Code, r.Signal, r.Stdout)
		}
		pushed := a.fake.PushedKeys()[before:]
		if len(pushed) != 1 || pushed[0].OSUser != "root" || pushed[0].InstanceID != a.instance.ID() || !strings.HasPrefix(pushed[0].PublicKey, "ssh-ed25519 ") {
			t.Fatalf("pushed %+v, want one ed25519 key for root@%s", pushed, a.instance.ID())
		}
		if a.fake.Calls("ec2:GetConsoleOutput") != 1 {
			t.Fatalf("GetConsoleOutput called %d times, want 1", a.fake.Calls("ec2:GetConsoleOutput"))
		}
		// Recorded as ssh would (hashed when the system ssh_config says
		// HashKnownHosts yes, as Debian's does): check it by lookup.
		kh, _ := os.ReadFile(l.KnownHosts)
		check, err := knownhosts.New(l.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		bastion := net.JoinHostPort(b.BastionIP, strconv.Itoa(port))
		if strings.Count(string(kh), "\n") != 1 || check(bastion, &net.TCPAddr{IP: net.ParseIP(b.BastionIP), Port: port}, sshd.hostKey) != nil {
			t.Fatalf("known_hosts = %q, want one line holding the console-verified key for %s", kh, bastion)
		}
		// The sshd saw the pushed key and nothing else.
		fp := pushedFingerprint(t, pushed[0].PublicKey)
		if log := tailFile(sshd.log, 1<<20); !strings.Contains(log, "Accepted publickey for root") || !strings.Contains(log, fp) {
			t.Fatalf("sshd log does not show a login with the pushed key %s:\n%s", fp, clip(log, 3000))
		}
		for _, f := range []string{l.Identity, l.Identity + ".pub"} {
			if _, err := os.Stat(f); err == nil {
				t.Fatalf("%s exists: the laptop must have no key of its own", f)
			}
		}

		// Known now: the next run checks it strictly, without the console.
		r = runSSHX(t, l, env, "exec", "pg", "--", "psql", "-X", "-tA", "-c", "select 2")
		if r.Code != 0 || r.Stdout != "2\n" {
			t.Fatalf("second exec: exit %d%s, stdout %q", r.Code, r.Signal, r.Stdout)
		}
		if a.fake.Calls("ec2:GetConsoleOutput") != 1 {
			t.Fatal("console read again for a host key already in known_hosts")
		}
	})

	t.Run("a key pushed more than 60 s before use is refused", func(t *testing.T) {
		// Every record the fake keeps from now on is dated 61 s back,
		// as if dbtunnel had dawdled past the window.
		rec.setAge(61 * time.Second)
		defer rec.setAge(0)
		r := runSSHX(t, l, env, "exec", "pg", "--", "psql", "-X", "-tA", "-c", "select 1")
		if r.Code != 1 || !strings.Contains(r.Stderr, "authenticate root@") || !strings.Contains(r.Stderr, "ephemeral key") {
			t.Fatalf("exec with an expired push: exit %d, stderr %q; want 1 and an authentication error naming the ephemeral key", r.Code, r.Stderr)
		}
	})

	t.Run("a host key the console does not list is refused", func(t *testing.T) {
		l2 := sshxLaptop(t, b)
		writeSSHXConfig(t, l2, b, a.instance.ID(),
			"host: "+b.BastionIP, "port: "+strconv.Itoa(port), "user: root", "instance_connect: true")
		other := newSSHXPub(t)
		a.instance.ConsoleOutput(consoleWith(other))
		defer a.instance.ConsoleOutput(consoleWith(sshd.hostKey))
		r := runSSHX(t, l2, env, "exec", "pg", "--", "psql", "-X", "-tA", "-c", "select 1")
		if r.Code != 1 || !strings.Contains(r.Stderr, "not among those its console printed") || !strings.Contains(r.Stderr, gossh.FingerprintSHA256(other)) {
			t.Fatalf("exec against a console listing another key: exit %d, stderr %q", r.Code, r.Stderr)
		}
		if kh, _ := os.ReadFile(l2.KnownHosts); len(strings.TrimSpace(string(kh))) != 0 {
			t.Fatalf("known_hosts written after a mismatch: %q", kh)
		}
	})
}

func TestSSHOverSSM(t *testing.T) {
	b := requireBed(t)
	a := newSSHXAWS(t, b)
	dir := t.TempDir()
	authKeys := filepath.Join(dir, "authorized_keys")
	clientPub, err := os.ReadFile(b.IdentityFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(authKeys, clientPub, 0o600); err != nil {
		t.Fatal(err)
	}
	// 127.0.0.1:22 of the bastion namespace: the instance's own sshd, as
	// AWS-StartSSHSession reaches it. The bed's sshd listens on the
	// bastion's outer address only.
	sshd := startSSHXSSHD(t, b, dir, "127.0.0.1:22", "AuthorizedKeysFile "+authKeys+"\n")

	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing, Dial: netnsDialer(b.BastionNS)})
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	svc.AddTarget(a.instance.ID(), ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})

	l := b.NewLaptop(t) // the bed's client key, authorized above
	l.WriteKnownHosts(t, a.instance.ID()+" "+strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshd.hostKey))))
	writeSSHXConfig(t, l, b, a.instance.ID(), "transport: ssm", "user: root", "identity_file: "+l.Identity, "instance_connect: false")
	env := a.env(t, svc.URL())

	// The laptop cannot reach that sshd itself.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:22", time.Second); err == nil {
		c.Close()
		t.Log("note: something listens on the laptop's own 127.0.0.1:22; the test still goes through SSM (checked below)")
	}

	r := runSSHX(t, l, env, "exec", "pg", "--", "psql", "-X", "-tA", "-c",
		"select host(inet_server_addr()) || ' ' || host(inet_client_addr())")
	want := b.DBIP + " " + b.BastionDBSide + "\n"
	if r.Code != 0 || r.Stdout != want {
		t.Fatalf("exec over ssh over ssm: exit %d%s, stdout %q, want %q", r.Code, r.Signal, r.Stdout, want)
	}
	sessions := svc.AllSessions()
	if len(sessions) != 1 {
		t.Fatalf("%d SSM sessions, want 1: %+v", len(sessions), sessions)
	}
	s := sessions[0]
	if s.Document != "AWS-StartSSHSession" || s.Target != a.instance.ID() || s.Destination != "127.0.0.1:22" || s.Mode != "basic" || s.Streams != 1 {
		t.Fatalf("session %+v, want one basic AWS-StartSSHSession to 127.0.0.1:22 on %s", s, a.instance.ID())
	}
	if log := tailFile(sshd.log, 1<<20); !strings.Contains(log, "Accepted publickey for root from 127.0.0.1") {
		t.Fatalf("sshd log shows no login over the session:\n%s", clip(log, 3000))
	}

	t.Run("host key is checked under the instance id", func(t *testing.T) {
		l.WriteKnownHosts(t, a.instance.ID()+" "+strings.TrimSpace(string(gossh.MarshalAuthorizedKey(newSSHXPub(t)))))
		r := runSSHX(t, l, env, "exec", "pg", "--", "true")
		if r.Code != 1 || !strings.Contains(r.Stderr, "has changed") || !strings.Contains(r.Stderr, "ssh-keygen -R "+a.instance.ID()) {
			t.Fatalf("exec with a changed host key: exit %d, stderr %q", r.Code, r.Stderr)
		}
	})
}

func pushedFingerprint(t *testing.T, authorized string) string {
	t.Helper()
	k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(authorized))
	if err != nil {
		t.Fatal(err)
	}
	return gossh.FingerprintSHA256(k)
}

func newSSHXPub(t *testing.T) gossh.PublicKey {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k")
	if err := sshKeygen(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := gossh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// freePortOn finds a port free on the bastion's address, by binding it
// from inside the namespace.
func freePortOn(t *testing.T, b *Bed) int {
	t.Helper()
	port := 0
	err := inNetns(b.BastionNS, func() error {
		ln, err := net.Listen("tcp", net.JoinHostPort(b.BastionIP, "0"))
		if err != nil {
			return err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		return ln.Close()
	})
	if err != nil {
		t.Fatalf("pick a port in %s: %v", b.BastionNS, err)
	}
	return port
}
