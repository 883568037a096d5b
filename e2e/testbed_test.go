//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bed is the shared test bed: a bastion namespace running a real OpenSSH sshd,
// a database namespace running a real PostgreSQL, wired so that the root
// namespace (the "laptop", where the tests and dbtunnel run) can reach the
// bastion but not the database:
//
//	root ns  10.X.1.1 ──veth── 10.X.1.2  bastion ns  10.X.2.1 ──veth── 10.X.2.2  db ns
//	                          (sshd :22, ip_forward 0)                (postgres :5432)
//
// One Bed serves the whole package (TestMain builds it and tears it down).
// Tests run sequentially; the ones that disturb sshd (StopSSHD,
// ReplaceHostKey) restore it through t.Cleanup.
type Bed struct {
	Dir       string // root temp dir of the run (0755)
	Home      string // temp HOME holding .ssh/id_ed25519 (0600) and .ssh/known_hosts
	BastionNS string // e.g. dbt1234b
	DBNS      string // e.g. dbt1234d

	LaptopIP      string // root ns end of the root↔bastion link, 10.X.1.1
	BastionIP     string // bastion's address on the root side, 10.X.1.2 (sshd listens here)
	BastionDBSide string // bastion's address on the db side, 10.X.2.1 (source of tunnelled connections)
	DBIP          string // database address, 10.X.2.2
	SSHPort       int    // 22
	DBPort        int    // 5432

	IdentityFile string // client private key (ed25519), authorized for root@bastion
	KnownHosts   string // Home/.ssh/known_hosts, holds the bastion's current key

	AppUser     string // a password-protected role ("app") for tests that need credentials
	AppPassword string

	Binary   string // built dbtunnel binary (valid only when buildErr == nil)
	buildErr error

	pgBin     string
	rootVeth  string
	sshdDir   string
	sshdCfg   string
	sshdLog   string
	hostKey   string // sshd host key path (private); .pub next to it
	origKey   []byte // original host key pair, to restore after ReplaceHostKey
	origPub   []byte
	pgDir     string // owned by postgres: data dir and unix socket live here
	pgData    string
	pgLog     string
	mu        sync.Mutex
	sshd      *proc
	pg        *proc
	closeOnce sync.Once
}

// prereqError marks a missing prerequisite: outside CI the tests skip on it,
// with CI=true they fail.
type prereqError struct{ msg string }

func (e *prereqError) Error() string { return e.msg }

func prereq(format string, args ...any) error {
	return &prereqError{msg: fmt.Sprintf(format, args...)}
}

func inCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// proc is a long-running child (sshd, postgres, ssh) whose exit we observe.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig, waits up to grace, then SIGKILLs and waits.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// newBed checks prerequisites, builds the network, starts sshd and postgres
// and builds the dbtunnel binary (concurrently). On error the returned Bed (if
// any) still needs Close.
func newBed(logf func(string, ...any)) (*Bed, error) {
	if err := checkPrereqs(); err != nil {
		return nil, err
	}
	sweepStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("dbtunnel-e2e-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // postgres must traverse it
		return nil, err
	}
	pid := os.Getpid()
	b := &Bed{
		Dir:       dir,
		Home:      filepath.Join(dir, "home"),
		BastionNS: fmt.Sprintf("dbt%db", pid),
		DBNS:      fmt.Sprintf("dbt%dd", pid),
		rootVeth:  fmt.Sprintf("dbt%dr", pid),
		SSHPort:   22,
		DBPort:    5432,
		AppUser:   "app",
		pgBin:     pgBinDir(),
		Binary:    filepath.Join(dir, "bin", "dbtunnel"),
	}

	built := make(chan error, 1)
	go func() { built <- buildDbtunnel(b.Binary) }()
	waitedBuild := false
	defer func() { // on early return, don't leave the build running past us
		if !waitedBuild {
			b.buildErr = <-built
		}
	}()

	t0 := time.Now()
	if err := b.setupNetwork(pid); err != nil {
		return b, err
	}
	logf("e2e: network %s/%s up: laptop %s, bastion %s|%s, db %s (%v)",
		b.BastionNS, b.DBNS, b.LaptopIP, b.BastionIP, b.BastionDBSide, b.DBIP, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if err := b.setupSSH(); err != nil {
		return b, err
	}
	logf("e2e: sshd up on %s:%d (%v)", b.BastionIP, b.SSHPort, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if err := b.setupPostgres(); err != nil {
		return b, err
	}
	logf("e2e: postgres up on %s:%d (%v)", b.DBIP, b.DBPort, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	b.buildErr, waitedBuild = <-built, true
	if b.buildErr != nil {
		logf("e2e: dbtunnel binary not built (tests that need it will fail): %v", b.buildErr)
	} else {
		logf("e2e: dbtunnel built (waited %v)", time.Since(t0).Round(time.Millisecond))
	}
	return b, nil
}

func checkPrereqs() error {
	if os.Geteuid() != 0 {
		return prereq("e2e needs root (network namespaces, sshd, running postgres as user postgres); euid=%d", os.Geteuid())
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		return prereq("OpenSSH server not installed (/usr/sbin/sshd): %v", err)
	}
	for _, name := range []string{"ip", "ssh", "ssh-keygen", "psql", "pg_isready", "runuser", "setpriv", "go"} {
		if _, err := exec.LookPath(name); err != nil {
			return prereq("%s not found in PATH: %v", name, err)
		}
	}
	bin := pgBinDir()
	for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return prereq("PostgreSQL server binaries missing (%s): %v", filepath.Join(bin, name), err)
		}
	}
	if _, err := user.Lookup("postgres"); err != nil {
		return prereq("OS user postgres missing: %v", err)
	}
	return nil
}

// pgBinDir is $E2E_PG_BIN, else /usr/lib/postgresql/15/bin, else the newest
// /usr/lib/postgresql/*/bin.
func pgBinDir() string {
	if d := os.Getenv("E2E_PG_BIN"); d != "" {
		return d
	}
	const want = "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(want, "postgres")); err == nil {
		return want
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) < pgMajor(dirs[j]) })
	if len(dirs) > 0 {
		return dirs[len(dirs)-1]
	}
	return want
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func buildDbtunnel(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	args := []string{"build", "-buildvcs=false", "-o", out}
	if race, _ := strconv.ParseBool(os.Getenv("E2E_RACE")); race {
		args = append(args, "-race") // dbtunnel itself under the race detector
	}
	cmd := exec.Command("go", append(args, "./cmd/dbtunnel")...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/dbtunnel in %s: %w\n%s", root, err, bytes.TrimSpace(b))
	}
	return nil
}

// run runs a command to completion and returns its stdout; the error carries
// the command line and its stderr.
func run(name string, args ...string) (string, error) {
	return runIn(nil, name, args...)
}

func runIn(stdin io.Reader, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()+"\n"+stdout.String()))
	}
	return stdout.String(), nil
}

// NS returns a command that runs name inside network namespace ns.
func NS(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// sweepStale removes what an earlier run that died without cleanup (go test
// -timeout panic, SIGKILL) left behind: namespaces dbt<pid>b/dbt<pid>d and
// the link dbt<pid>r, /etc/netns/dbt<pid>b and the temp dir
// dbtunnel-e2e-<pid>-* whose pid is gone. Processes are not touched: a
// namespace that still holds any is left alone (ours die with the test
// binary through their parent-death signal).
func sweepStale() {
	re := regexp.MustCompile(`^dbt([0-9]+)[bdr]$`)
	alive := func(name string) bool {
		m := re.FindStringSubmatch(name)
		if m == nil {
			return true
		}
		pid, _ := strconv.Atoi(m[1])
		return pid == os.Getpid() || syscall.Kill(pid, 0) == nil
	}
	if out, err := run("ip", "netns", "list"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || alive(f[0]) || len(nsPIDs(f[0], "")) > 0 {
				continue
			}
			_, _ = run("ip", "netns", "del", f[0])
		}
	}
	// resolveInBastion's hosts files, named after the namespace.
	netnsDirs, _ := filepath.Glob("/etc/netns/dbt*b")
	for _, d := range netnsDirs {
		if !alive(filepath.Base(d)) {
			_ = os.RemoveAll(d)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "dbtunnel-e2e-*-*"))
	for _, d := range dirs {
		pid, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), "dbtunnel-e2e-"), "-")
		if !alive("dbt"+pid+"b") && os.Getenv("E2E_KEEP") == "" {
			_ = os.RemoveAll(d)
		}
	}
	if out, err := run("ip", "-o", "link", "show", "type", "veth"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if !alive(name) {
				_, _ = run("ip", "link", "del", name)
			}
		}
	}
}

// pickNet chooses X for 10.X.0.0/16 from the pid, skipping any X already
// present in the root namespace's addresses or routes.
func pickNet(pid int) (int, error) {
	routes, err := run("ip", "route", "show", "table", "all")
	if err != nil {
		return 0, err
	}
	addrs, err := run("ip", "-o", "addr")
	if err != nil {
		return 0, err
	}
	used := routes + "\n" + addrs
	for i := range 200 {
		x := (pid+i)%200 + 20 // 10.20.x.x .. 10.219.x.x
		if !regexp.MustCompile(`(^|[^0-9.])10\.` + strconv.Itoa(x) + `\.`).MatchString(used) {
			return x, nil
		}
	}
	return 0, errors.New("no free 10.X.0.0/16 range in the root namespace")
}

func (b *Bed) setupNetwork(pid int) error {
	x, err := pickNet(pid)
	if err != nil {
		return err
	}
	b.LaptopIP = fmt.Sprintf("10.%d.1.1", x)
	b.BastionIP = fmt.Sprintf("10.%d.1.2", x)
	b.BastionDBSide = fmt.Sprintf("10.%d.2.1", x)
	b.DBIP = fmt.Sprintf("10.%d.2.2", x)

	if _, err := run("ip", "netns", "add", b.BastionNS); err != nil {
		return prereq("ip netns does not work here: %v", err)
	}
	if _, err := run("ip", "netns", "add", b.DBNS); err != nil {
		return prereq("ip netns does not work here: %v", err)
	}
	bv0, bv1, dv0 := "eth-laptop", "eth-db", "eth-bastion" // names inside the namespaces
	steps := [][]string{
		// root ↔ bastion
		{"ip", "link", "add", b.rootVeth, "type", "veth", "peer", "name", bv0, "netns", b.BastionNS},
		{"ip", "addr", "add", b.LaptopIP + "/24", "dev", b.rootVeth},
		{"ip", "link", "set", b.rootVeth, "up"},
		{"ip", "-n", b.BastionNS, "link", "set", "lo", "up"},
		{"ip", "-n", b.BastionNS, "addr", "add", b.BastionIP + "/24", "dev", bv0},
		{"ip", "-n", b.BastionNS, "link", "set", bv0, "up"},
		// bastion ↔ db
		{"ip", "-n", b.BastionNS, "link", "add", bv1, "type", "veth", "peer", "name", dv0, "netns", b.DBNS},
		{"ip", "-n", b.BastionNS, "addr", "add", b.BastionDBSide + "/24", "dev", bv1},
		{"ip", "-n", b.BastionNS, "link", "set", bv1, "up"},
		{"ip", "-n", b.DBNS, "link", "set", "lo", "up"},
		{"ip", "-n", b.DBNS, "addr", "add", b.DBIP + "/24", "dev", dv0},
		{"ip", "-n", b.DBNS, "link", "set", dv0, "up"},
		// The bastion must not route: the only way to the db is a process on it.
		{"ip", "netns", "exec", b.BastionNS, "sysctl", "-qw", "net.ipv4.ip_forward=0"},
		{"ip", "netns", "exec", b.DBNS, "sysctl", "-qw", "net.ipv4.ip_forward=0"},
	}
	// The db ns keeps only its connected route (the bastion's db-side subnet):
	// no default route, nothing back to the laptop subnet.
	for _, s := range steps {
		if _, err := run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

func sshKeygen(path string) error {
	_ = os.Remove(path)
	_ = os.Remove(path + ".pub")
	_, err := run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dbtunnel-e2e", "-f", path)
	return err
}

// pubKey returns "ssh-ed25519 AAAA..." (type and base64, no comment) of a .pub file.
func pubKey(pubPath string) (string, error) {
	b, err := os.ReadFile(pubPath)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return "", fmt.Errorf("%s: not a public key", pubPath)
	}
	return f[0] + " " + f[1], nil
}

// sshdCommon is how every sshd of these tests runs: public keys only, TCP
// forwarding on, nothing else a bastion does not need, verbose logs (the
// tests read which key logged in).
const sshdCommon = `StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
PermitOpen any
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
PrintMotd no
UseDNS no
LogLevel VERBOSE
`

func (b *Bed) setupSSH() error {
	b.sshdDir = filepath.Join(b.Dir, "sshd")
	sshDir := filepath.Join(b.Home, ".ssh")
	for _, d := range []string{b.sshdDir, sshDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation dir
		return err
	}
	b.hostKey = filepath.Join(b.sshdDir, "ssh_host_ed25519_key")
	if err := sshKeygen(b.hostKey); err != nil {
		return err
	}
	var err error
	if b.origKey, err = os.ReadFile(b.hostKey); err != nil {
		return err
	}
	if b.origPub, err = os.ReadFile(b.hostKey + ".pub"); err != nil {
		return err
	}
	b.IdentityFile = filepath.Join(sshDir, "id_ed25519")
	if err := sshKeygen(b.IdentityFile); err != nil {
		return err
	}
	clientPub, err := os.ReadFile(b.IdentityFile + ".pub")
	if err != nil {
		return err
	}
	authKeys := filepath.Join(b.sshdDir, "authorized_keys")
	if err := os.WriteFile(authKeys, clientPub, 0o600); err != nil {
		return err
	}
	b.KnownHosts = filepath.Join(sshDir, "known_hosts")
	line, err := b.KnownHostsLine()
	if err != nil {
		return err
	}
	if err := os.WriteFile(b.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
		return err
	}

	b.sshdCfg = filepath.Join(b.sshdDir, "sshd_config")
	b.sshdLog = filepath.Join(b.sshdDir, "sshd.log")
	cfg := fmt.Sprintf(`# dbtunnel e2e bastion
ListenAddress %s:%d
HostKey %s
PidFile %s
AuthorizedKeysFile %s
MaxStartups 100:30:200
`, b.BastionIP, b.SSHPort, b.hostKey, filepath.Join(b.sshdDir, "sshd.pid"), authKeys) + sshdCommon
	if err := os.WriteFile(b.sshdCfg, []byte(cfg), 0o600); err != nil {
		return err
	}
	if out, err := run("/usr/sbin/sshd", "-t", "-f", b.sshdCfg); err != nil {
		return fmt.Errorf("sshd -t: %w %s", err, out)
	}
	if err := b.startSSHD(); err != nil {
		return err
	}
	return b.waitSSHD(15 * time.Second)
}

// KnownHostsLine is the known_hosts line for the bastion's current host key.
func (b *Bed) KnownHostsLine() (string, error) {
	k, err := pubKey(b.hostKey + ".pub")
	if err != nil {
		return "", err
	}
	return b.knownHostsName() + " " + k, nil
}

// HostKey is the bastion's current host key, "ssh-ed25519 AAAA...".
func (b *Bed) HostKey(t testing.TB) string {
	t.Helper()
	k, err := pubKey(b.hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (b *Bed) knownHostsName() string {
	if b.SSHPort == 22 {
		return b.BastionIP
	}
	return fmt.Sprintf("[%s]:%d", b.BastionIP, b.SSHPort)
}

func (b *Bed) startSSHD() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sshd != nil && !b.sshd.exited() {
		return errors.New("sshd already running")
	}
	logf, err := os.OpenFile(b.sshdLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := NS(b.BastionNS, "/usr/sbin/sshd", "-D", "-e", "-f", b.sshdCfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	p, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("start sshd: %w", err)
	}
	b.sshd = p
	return nil
}

// waitSSHD polls until the bastion's sshd port accepts a TCP connection.
func (b *Bed) waitSSHD(timeout time.Duration) error {
	addr := net.JoinHostPort(b.BastionIP, strconv.Itoa(b.SSHPort))
	b.mu.Lock()
	p := b.sshd
	b.mu.Unlock()
	err := pollUntil(timeout, func() (bool, error) {
		if p != nil && p.exited() {
			return false, fmt.Errorf("sshd exited: %v; log:\n%s", p.err, tailFile(b.sshdLog, 2000))
		}
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("sshd on %s: %w", addr, err)
	}
	return nil
}

// pollUntil calls cond every 10ms until it reports true or an error, or the
// deadline passes.
func pollUntil(timeout time.Duration, cond func() (bool, error)) error {
	return pollUntilEvery(timeout, 10*time.Millisecond, cond)
}

// pollUntilEvery is pollUntil with a tick of every.
func pollUntilEvery(timeout, every time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", timeout)
		}
		<-tick.C
	}
}

// nsPIDs lists the processes in network namespace ns whose command name is
// comm ("" for all).
func nsPIDs(ns, comm string) []int {
	out, err := run("ip", "netns", "pids", ns)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if comm != "" {
			c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err != nil || strings.TrimSpace(string(c)) != comm {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// killNS SIGKILLs the processes of ns named comm ("" for all) and waits until
// none is left. It kills leaves first (processes with no child in the set)
// so that every process dies while its parent is alive to reap it: orphans
// would go to PID 1, which here (a VM's init) does not reap, and pile up as
// zombies. A process that is a zombie has left the namespace.
func (b *Bed) killNS(ns, comm string) error {
	return pollUntil(10*time.Second, func() (bool, error) {
		pids := nsPIDs(ns, comm)
		if len(pids) == 0 {
			return true, nil
		}
		parent := map[int]int{}
		for _, pid := range pids {
			parent[pid] = ppid(pid)
		}
		hasChild := map[int]bool{}
		for _, pp := range parent {
			hasChild[pp] = true
		}
		for _, pid := range pids {
			if !hasChild[pid] {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return false, nil
	})
}

// ppid reads a process's parent pid from /proc (0 if it is gone).
func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may contain spaces and parens.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// StopSSHD kills every sshd process in the bastion namespace, the listener
// and the per-connection children alike, so established sessions die with
// it (as when the bastion reboots). It returns once none is left. Tests that
// call it should StartSSHD again; a Cleanup does it if they don't.
func (b *Bed) StopSSHD(t testing.TB) {
	t.Helper()
	if err := b.stopSSHD(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.mu.Lock()
		running := b.sshd != nil && !b.sshd.exited()
		b.mu.Unlock()
		if !running {
			if err := b.startSSHD(); err == nil {
				_ = b.waitSSHD(15 * time.Second)
			}
		}
	})
}

func (b *Bed) stopSSHD() error {
	if err := b.killNS(b.BastionNS, "sshd"); err != nil {
		return fmt.Errorf("kill sshd in %s: %w", b.BastionNS, err)
	}
	b.mu.Lock()
	p := b.sshd
	b.mu.Unlock()
	if p != nil {
		p.stop(syscall.SIGKILL, 0)
	}
	return nil
}

// StartSSHD starts sshd again (after StopSSHD); it does not wait for the port.
func (b *Bed) StartSSHD(t testing.TB) {
	t.Helper()
	if err := b.startSSHD(); err != nil {
		t.Fatal(err)
	}
}

// WaitSSHD polls (dialing, 10ms apart) until sshd accepts on the bastion
// port and returns the moment it did.
func (b *Bed) WaitSSHD(t testing.TB) time.Time {
	t.Helper()
	if err := b.waitSSHD(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// ReplaceHostKey gives the bastion a fresh host key and restarts sshd (all
// sessions die), returning the old key ("ssh-ed25519 AAAA..."). Cleanup
// restores the original key and restarts sshd again.
func (b *Bed) ReplaceHostKey(t testing.TB) (oldKey string) {
	t.Helper()
	oldKey = b.HostKey(t)
	if err := b.stopSSHD(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.stopSSHD()
		_ = os.WriteFile(b.hostKey, b.origKey, 0o600)
		_ = os.WriteFile(b.hostKey+".pub", b.origPub, 0o644)
		if err := b.startSSHD(); err != nil {
			t.Errorf("restore sshd: %v", err)
			return
		}
		if err := b.waitSSHD(15 * time.Second); err != nil {
			t.Errorf("restore sshd: %v", err)
		}
	})
	if err := sshKeygen(b.hostKey); err != nil {
		t.Fatal(err)
	}
	if err := b.startSSHD(); err != nil {
		t.Fatal(err)
	}
	b.WaitSSHD(t)
	if b.HostKey(t) == oldKey {
		t.Fatal("host key did not change")
	}
	return oldKey
}

func (b *Bed) setupPostgres() error {
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	b.pgDir = filepath.Join(b.Dir, "pg")
	b.pgData = filepath.Join(b.pgDir, "data")
	b.pgLog = filepath.Join(b.Dir, "postgres.log")
	if err := os.Mkdir(b.pgDir, 0o700); err != nil {
		return err
	}
	if err := os.Chown(b.pgDir, uid, gid); err != nil {
		return err
	}
	if _, err := run("runuser", "-u", "postgres", "--", filepath.Join(b.pgBin, "initdb"),
		"-D", b.pgData, "-U", "postgres", "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"); err != nil {
		return err
	}
	conf := fmt.Sprintf(`
# dbtunnel e2e
listen_addresses = '%s'
port = %d
unix_socket_directories = '%s'
max_connections = 150
fsync = off
synchronous_commit = off
full_page_writes = off
log_connections = on
log_disconnections = on
`, b.DBIP, b.DBPort, b.pgDir)
	f, err := os.OpenFile(filepath.Join(b.pgData, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	subnet := strings.TrimSuffix(b.BastionDBSide, ".1") + ".0/24"
	hba := fmt.Sprintf(`# dbtunnel e2e: local socket and the bastion's subnet only
local all all                trust
host  all app      %[1]s scram-sha-256
host  all all      %[1]s trust
`, subnet)
	if err := os.WriteFile(filepath.Join(b.pgData, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return err
	}
	if err := b.startPostgres(); err != nil {
		return err
	}
	b.AppPassword = "app-e2e-secret"
	sql := fmt.Sprintf("create role %s login password '%s';\n", b.AppUser, b.AppPassword)
	if _, err := runIn(strings.NewReader(sql), "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", b.pgDir, "-U", "postgres", "-d", "postgres", "-f", "-"); err != nil {
		return err
	}
	return nil
}

func (b *Bed) startPostgres() error {
	logf, err := os.OpenFile(b.pgLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	// setpriv rather than runuser: it sets the parent-death signal after the
	// uid change (a uid change clears it), so postgres dies with the test
	// binary even if the cleanup never runs.
	cmd := NS(b.DBNS, "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
		"--pdeathsig=KILL", "--", filepath.Join(b.pgBin, "postgres"), "-D", b.pgData)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := startProc(cmd)
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	b.pg = p
	err = pollUntil(30*time.Second, func() (bool, error) {
		if p.exited() {
			return false, fmt.Errorf("postgres exited: %v; log:\n%s", p.err, tailFile(b.pgLog, 3000))
		}
		err := NS(b.DBNS, "pg_isready", "-q", "-h", b.DBIP, "-p", strconv.Itoa(b.DBPort), "-t", "1").Run()
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("postgres on %s:%d: %w", b.DBIP, b.DBPort, err)
	}
	return nil
}

// DBPsql returns a psql command run inside the db namespace over the local
// unix socket, as postgres (-X, quiet, ON_ERROR_STOP): the direct path that
// tunnelled results are compared against.
func (b *Bed) DBPsql(ctx context.Context, args ...string) *exec.Cmd {
	base := []string{"netns", "exec", b.DBNS, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", b.pgDir, "-p", strconv.Itoa(b.DBPort), "-U", "postgres", "-d", "postgres"}
	return exec.CommandContext(ctx, "ip", append(base, args...)...)
}

// Close tears everything down: processes killed and waited, namespaces and
// links deleted, temp dir removed. Safe to call more than once and on a
// partially built Bed.
func (b *Bed) Close() {
	if b == nil {
		return
	}
	b.closeOnce.Do(func() {
		b.mu.Lock()
		sshd, pg := b.sshd, b.pg
		b.mu.Unlock()
		pg.stop(syscall.SIGINT, 10*time.Second) // fast shutdown
		if sshd != nil {
			_ = b.stopSSHD()
		}
		for _, ns := range []string{b.BastionNS, b.DBNS} {
			if ns == "" {
				continue
			}
			_ = b.killNS(ns, "")
			_, _ = run("ip", "netns", "del", ns)
		}
		if b.rootVeth != "" {
			_, _ = run("ip", "link", "del", b.rootVeth) // normally gone with the bastion ns
		}
		if b.Dir != "" && os.Getenv("E2E_KEEP") == "" {
			_ = os.RemoveAll(b.Dir)
		}
	})
}

// logOnFailure arranges for the sshd and postgres log lines written during
// t to be printed if t fails.
func (b *Bed) logOnFailure(t testing.TB) {
	sshdOff, pgOff := fileSize(b.sshdLog), fileSize(b.pgLog)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		t.Logf("sshd log during this test:\n%s", tailFrom(b.sshdLog, sshdOff, 6000))
		t.Logf("postgres log during this test:\n%s", tailFrom(b.pgLog, pgOff, 4000))
	})
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func tailFile(path string, max int) string { return tailFrom(path, 0, max) }

func tailFrom(path string, off int64, max int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if off <= int64(len(b)) {
		b = b[off:]
	}
	if len(b) > max {
		b = append([]byte("…"), b[len(b)-max:]...)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// The laptop side: a per-test HOME, config file and dbtunnel invocations.

// Laptop is one test's client side: its own HOME (.ssh/id_ed25519 copied from
// the bed, .ssh/known_hosts holding the bastion's real key) and config file.
type Laptop struct {
	bed        *Bed
	Home       string
	Identity   string
	KnownHosts string
	ConfigPath string
}

// Target describes the `pg` target written by WriteConfig.
type Target struct {
	LocalPort  int    // 0: not written (dbtunnel picks a free port)
	KnownHosts string // default: the laptop's known_hosts
}

// NewLaptop makes a fresh HOME and writes the default config for target pg.
func (b *Bed) NewLaptop(t testing.TB) *Laptop {
	t.Helper()
	home := t.TempDir()
	sshDir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		t.Fatal(err)
	}
	l := &Laptop{
		bed:        b,
		Home:       home,
		Identity:   filepath.Join(sshDir, "id_ed25519"),
		KnownHosts: filepath.Join(sshDir, "known_hosts"),
		ConfigPath: filepath.Join(home, "dbtunnel.yaml"),
	}
	for _, c := range []struct {
		from, to string
		mode     os.FileMode
	}{{b.IdentityFile, l.Identity, 0o600}, {b.IdentityFile + ".pub", l.Identity + ".pub", 0o644}} {
		data, err := os.ReadFile(c.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.to, data, c.mode); err != nil {
			t.Fatal(err)
		}
	}
	line, err := b.KnownHostsLine()
	if err != nil {
		t.Fatal(err)
	}
	l.WriteKnownHosts(t, line)
	l.WriteConfig(t, Target{})
	return l
}

// WriteKnownHosts replaces the laptop's known_hosts with lines.
func (l *Laptop) WriteKnownHosts(t testing.TB, lines ...string) {
	t.Helper()
	var s string
	for _, ln := range lines {
		s += ln + "\n"
	}
	if err := os.WriteFile(l.KnownHosts, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// WriteConfig (re)writes the laptop's config file with target pg.
func (l *Laptop) WriteConfig(t testing.TB, tg Target) {
	t.Helper()
	kh := tg.KnownHosts
	if kh == "" {
		kh = l.KnownHosts
	}
	b := l.bed
	var sb strings.Builder
	fmt.Fprintf(&sb, "targets:\n")
	fmt.Fprintf(&sb, "  pg:\n")
	fmt.Fprintf(&sb, "    host: %s\n", b.DBIP)
	fmt.Fprintf(&sb, "    port: %d\n", b.DBPort)
	fmt.Fprintf(&sb, "    via: ssh\n")
	fmt.Fprintf(&sb, "    user: postgres\n")
	fmt.Fprintf(&sb, "    dbname: postgres\n")
	if tg.LocalPort != 0 {
		fmt.Fprintf(&sb, "    local_port: %d\n", tg.LocalPort)
	}
	fmt.Fprintf(&sb, "    ssh:\n")
	fmt.Fprintf(&sb, "      host: %s\n", b.BastionIP)
	fmt.Fprintf(&sb, "      port: %d\n", b.SSHPort)
	fmt.Fprintf(&sb, "      user: root\n")
	fmt.Fprintf(&sb, "      identity_file: %s\n", l.Identity)
	fmt.Fprintf(&sb, "      known_hosts: %s\n", kh)
	if err := os.WriteFile(l.ConfigPath, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Env is the environment for dbtunnel and client processes: the inherited
// one (CI included) with HOME set to the laptop's, no ssh agent, no
// DBTUNNEL_CONFIG/XDG dirs from the developer and no PG*/DATABASE_URL.
func (l *Laptop) Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "SSH_AUTH_SOCK", k == "SSH_AGENT_PID", k == "DATABASE_URL",
			k == "XDG_CONFIG_HOME", k == "XDG_CACHE_HOME", k == "XDG_STATE_HOME",
			strings.HasPrefix(k, "DBTUNNEL_"), strings.HasPrefix(k, "PG"):
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+l.Home,
		"XDG_CONFIG_HOME="+filepath.Join(l.Home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(l.Home, ".cache"),
		"XDG_STATE_HOME="+filepath.Join(l.Home, ".local", "state"),
	)
	return append(env, extra...)
}

// Dbtunnel returns `dbtunnel --config CONFIG args...` with the laptop's
// environment, no stdin, in its own session (no controlling terminal), and
// killed if the test binary dies. It fails the test if the binary was not built.
func (l *Laptop) Dbtunnel(t testing.TB, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	if l.bed.buildErr != nil {
		t.Fatalf("dbtunnel binary unavailable: %v", l.bed.buildErr)
	}
	cmd := exec.CommandContext(ctx, l.bed.Binary, append([]string{"--config", l.ConfigPath}, args...)...)
	cmd.Env = l.Env()
	cmd.Dir = l.Home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Result of a finished process.
type Result struct {
	Stdout, Stderr string
	Code           int    // exit code; -1 if killed by a signal
	Signal         string // set if killed by a signal
	Err            error  // Wait's error, for messages
}

// Run runs dbtunnel to completion (killed after timeout) and returns its result.
func (l *Laptop) Run(t testing.TB, timeout time.Duration, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := l.Dbtunnel(t, ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
	r.Code, r.Signal = exitStatus(cmd, err)
	if ctx.Err() != nil {
		t.Errorf("dbtunnel %s: still running after %v, killed", strings.Join(args, " "), timeout)
	}
	t.Logf("dbtunnel %s → exit %d%s\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Signal,
		clip(r.Stdout, 2000), clip(r.Stderr, 4000))
	return r
}

func exitStatus(cmd *exec.Cmd, err error) (int, string) {
	if cmd.ProcessState == nil {
		if err != nil {
			return -1, " (not started: " + err.Error() + ")"
		}
		return -1, ""
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, " (killed by " + ws.Signal().String() + ")"
	}
	return cmd.ProcessState.ExitCode(), ""
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

// Psql runs psql on the laptop against addr (host:port, normally the tunnel's
// local end) as postgres with -X -tA and returns its trimmed stdout. Safe
// to call from several goroutines.
func (l *Laptop) Psql(t testing.TB, addr string, sql string) (string, error) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1",
		"-h", host, "-p", port, "-U", "postgres", "-d", "postgres", "-c", sql)
	cmd.Env = l.Env("PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("psql %s -c %q: %w: %s", addr, sql, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// ---------------------------------------------------------------------------
// A running `dbtunnel up`.

// Up is a running `dbtunnel up`, its stdout read line by line.
type Up struct {
	t      testing.TB
	cmd    *exec.Cmd
	stderr *lockedBuffer

	mu     sync.Mutex
	lines  []string
	pos    int
	eof    bool
	notify chan struct{} // closed and replaced on every new line / EOF

	done    chan struct{} // closed when the process has been waited for
	waitErr error
}

// StartUp starts `dbtunnel --config CONFIG up args...`. Cleanup kills it if
// the test did not stop it, and prints its output if the test failed.
func (l *Laptop) StartUp(t testing.TB, args ...string) *Up {
	t.Helper()
	cmd := l.Dbtunnel(t, context.Background(), append([]string{"up"}, args...)...)
	u := &Up{t: t, cmd: cmd, stderr: &lockedBuffer{}, notify: make(chan struct{}), done: make(chan struct{})}
	cmd.Stderr = u.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			u.mu.Lock()
			u.lines = append(u.lines, sc.Text())
			close(u.notify)
			u.notify = make(chan struct{})
			u.mu.Unlock()
		}
		u.mu.Lock()
		u.eof = true
		close(u.notify)
		u.mu.Unlock()
	}()
	go func() {
		<-readDone
		u.waitErr = cmd.Wait()
		close(u.done)
	}()
	t.Cleanup(func() {
		if !u.Exited() {
			_ = cmd.Process.Kill()
			<-u.done
		}
		if t.Failed() {
			u.mu.Lock()
			out := strings.Join(u.lines, "\n")
			u.mu.Unlock()
			t.Logf("dbtunnel up %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), clip(out, 4000), clip(u.stderr.String(), 6000))
		}
	})
	return u
}

var errLineTimeout = errors.New("timed out waiting for a line")

// NextLine returns the next stdout line, io.EOF once stdout is closed, or
// errLineTimeout.
func (u *Up) NextLine(timeout time.Duration) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		u.mu.Lock()
		if u.pos < len(u.lines) {
			l := u.lines[u.pos]
			u.pos++
			u.mu.Unlock()
			return l, nil
		}
		if u.eof {
			u.mu.Unlock()
			return "", io.EOF
		}
		ch := u.notify
		u.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return "", errLineTimeout
		}
	}
}

// WaitLine consumes stdout lines until one matches re and returns its
// submatches; it fails the test on EOF or after timeout.
func (u *Up) WaitLine(re *regexp.Regexp, timeout time.Duration) []string {
	u.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		line, err := u.NextLine(time.Until(deadline))
		if err != nil {
			u.t.Fatalf("waiting for a line matching %q from dbtunnel up: %v (stderr: %s)", re, err, clip(u.stderr.String(), 2000))
		}
		if m := re.FindStringSubmatch(line); m != nil {
			return m
		}
		u.t.Logf("up: %s", line)
	}
}

// Event is one --json line of `dbtunnel up`.
type Event struct {
	Event   string `json:"event"`
	Target  string `json:"target"`
	Local   string `json:"local"`
	Remote  string `json:"remote"`
	Via     string `json:"via"`
	Bastion string `json:"bastion"`
	Error   string `json:"error"`
	Raw     string `json:"-"`
}

// NextEvent returns the next --json event; non-JSON lines fail the test.
func (u *Up) NextEvent(timeout time.Duration) (Event, error) {
	u.t.Helper()
	line, err := u.NextLine(timeout)
	if err != nil {
		return Event{}, err
	}
	var ev Event
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		u.t.Fatalf("up --json printed a line that is not a JSON object: %q: %v", line, err)
	}
	ev.Raw = line
	u.t.Logf("up event: %s", line)
	return ev, nil
}

// WaitEvent consumes events until one named name and returns it, failing
// the test on EOF, timeout, or any event named in fatal.
func (u *Up) WaitEvent(name string, timeout time.Duration, fatal ...string) Event {
	u.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ev, err := u.NextEvent(time.Until(deadline))
		if err != nil {
			u.t.Fatalf("waiting for event %q from dbtunnel up --json: %v (stderr: %s)", name, err, clip(u.stderr.String(), 2000))
		}
		if ev.Event == name {
			return ev
		}
		for _, f := range fatal {
			if ev.Event == f {
				u.t.Fatalf("waiting for event %q, got %s (stderr: %s)", name, ev.Raw, clip(u.stderr.String(), 2000))
			}
		}
	}
}

// Signal sends sig to the dbtunnel process.
func (u *Up) Signal(sig syscall.Signal) {
	u.t.Helper()
	if err := u.cmd.Process.Signal(sig); err != nil {
		u.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Exited reports whether the process has exited (and been waited for).
func (u *Up) Exited() bool {
	select {
	case <-u.done:
		return true
	default:
		return false
	}
}

// Wait waits for exit (failing the test after timeout) and returns the exit
// code and, if it died of a signal, a description.
func (u *Up) Wait(timeout time.Duration) (int, string) {
	u.t.Helper()
	select {
	case <-u.done:
	case <-time.After(timeout):
		u.t.Fatalf("dbtunnel up still running %v after being asked to stop", timeout)
	}
	return exitStatus(u.cmd, u.waitErr)
}

// Stderr returns what the process wrote to stderr so far.
func (u *Up) Stderr() string { return u.stderr.String() }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// ---------------------------------------------------------------------------
// Small helpers.

// freePort returns a port that was free on 127.0.0.1 a moment ago (for
// clients such as ssh -L that cannot pick one themselves).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitAccepting polls until addr accepts TCP connections, or p exits.
func waitAccepting(addr string, timeout time.Duration, exited func() bool) error {
	return pollUntil(timeout, func() (bool, error) {
		if exited != nil && exited() {
			return false, errors.New("process exited")
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})
}
