//go:build linux

package e2e

// Benchmarks of the issue: dbtunnel against OpenSSH `ssh -L` and against a
// direct connection, through the same sshd of the same test bed, in the same
// run, each tool on its defaults (ssh -L as OpenSSH's client with no cipher
// or window options; dbtunnel with an ordinary config file).
//
//	BenchmarkThroughput/{direct,ssh-L,dbtunnel}          bulk db → laptop, MB/s
//	BenchmarkThroughputUpload/{direct,ssh-L,dbtunnel}    bulk laptop → db, MB/s
//	BenchmarkPgbenchSelect/{direct,ssh-L,dbtunnel}/clients={1,16}   pgbench -S, tps
//	BenchmarkIdleConns/{ssh-L,dbtunnel}                  RSS with 100 idle PostgreSQL sessions
//
// Through a tunnel, the throughput and pgbench benchmarks also report the
// CPU time of the tunnel client (ssh or dbtunnel) and of the bastion's sshd
// per GB or per transaction (tunnel-cpu-*, sshd-cpu-*): on a machine where
// every party shares two cores, that is where the tools differ, and it is
// far less sensitive to other load than MB/s. DBTUNNEL_BENCH_VARIANTS adds
// more dbtunnels to compare in the same run (see dbtunnelVariants).
//
// The bulk source is this test binary re-executed in the db namespace
// (DBTUNNEL_BENCH_SOURCE, see init below): a plain TCP server that streams
// or swallows N bytes per connection, so the numbers measure the path and
// not psql. "direct" has no tunnel: the laptop has no route to the db, so
// the benchmark opens its socket from the bastion namespace (setns on a
// locked thread) and talks to the db over the bastion↔db veth, the last hop
// every tunnelled byte also takes. pgbench for "direct" runs in the bastion
// namespace for the same reason.
//
// Nothing here runs without -bench. bench/run.sh runs them and prints the
// table; docs/BENCHMARKS.md explains the numbers.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	benchSourceEnv = "DBTUNNEL_BENCH_SOURCE" // set: this process is the bulk source
	bulkChunk      = 1 << 20                 // bytes per benchmark op (b.SetBytes)
	idleConns      = 100
	pgbenchDB      = "bench"
	pgbenchScale   = 1
)

// init turns a re-executed test binary into the bulk source before TestMain
// (and its test bed) ever runs.
func init() {
	if addr := os.Getenv(benchSourceEnv); addr != "" {
		os.Exit(runBulkSource(addr))
	}
}

// Bulk source protocol, one request per connection: the client sends one
// byte op and a big-endian uint64 n.
//
//	'D'  the server sends n bytes, then closes.
//	'U'  the server reads n bytes, then sends one byte 'K' and closes.
func runBulkSource(addr string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bulk source: %v\n", err)
		return 1
	}
	fmt.Printf("%d\n", ln.Addr().(*net.TCPAddr).Port)
	// Incompressible-looking data (ssh compression is off by default, but
	// don't let anything on the path profit from zeros).
	data := make([]byte, bulkChunk)
	r := rand.NewChaCha8([32]byte{'d', 'b', 't'})
	_, _ = r.Read(data)
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "bulk source: %v\n", err)
			return 1
		}
		go serveBulk(c, data)
	}
}

func serveBulk(c net.Conn, data []byte) {
	defer c.Close()
	var req [9]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return // a readiness probe
	}
	n := int64(binary.BigEndian.Uint64(req[1:]))
	switch req[0] {
	case 'D':
		for n > 0 {
			p := data[:min(n, int64(len(data)))]
			w, err := c.Write(p)
			n -= int64(w)
			if err != nil {
				return
			}
		}
	case 'U':
		if _, err := io.CopyN(io.Discard, c, n); err != nil {
			return
		}
		_, _ = c.Write([]byte{'K'})
	}
}

// ---------------------------------------------------------------------------
// Setup shared by the benchmarks.

// requireBedB is requireBed for benchmarks: skip when a prerequisite is
// missing, fail instead when CI=true, fail when the bed could not be built.
func requireBedB(b *testing.B) *Bed {
	b.Helper()
	switch {
	case prereqErr != nil && inCI():
		b.Fatalf("e2e prerequisite missing (CI=true, so this is a failure): %v", prereqErr)
	case prereqErr != nil:
		b.Skipf("e2e prerequisite missing: %v", prereqErr)
	case bedErr != nil:
		b.Fatalf("e2e test bed setup failed: %v", bedErr)
	}
	bed.logOnFailure(b)
	return bed
}

func requireTool(b *testing.B, name string) {
	b.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if inCI() {
			b.Fatalf("%s not found (CI=true, so this is a failure): %v", name, err)
		}
		b.Skipf("%s not found: %v", name, err)
	}
}

var bulkSource struct {
	once sync.Once
	port int
	err  error
}

// bulkSourcePort starts the bulk source in the db namespace once per test
// binary and returns its port on b.DBIP. It dies with the bed (Close kills
// every process of the db namespace) or with us (parent-death signal).
func bulkSourcePort(tb testing.TB, bd *Bed) int {
	tb.Helper()
	bulkSource.once.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			bulkSource.err = err
			return
		}
		cmd := NS(bd.DBNS, exe)
		cmd.Env = append(os.Environ(), benchSourceEnv+"="+net.JoinHostPort(bd.DBIP, "0"))
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil {
			bulkSource.err = err
			return
		}
		if err := cmd.Start(); err != nil {
			bulkSource.err = fmt.Errorf("start bulk source: %w", err)
			return
		}
		go func() { _ = cmd.Wait() }()
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			bulkSource.err = fmt.Errorf("bulk source did not report its port: %w", err)
			return
		}
		bulkSource.port, bulkSource.err = strconv.Atoi(strings.TrimSpace(line))
	})
	if bulkSource.err != nil {
		tb.Fatal(bulkSource.err)
	}
	return bulkSource.port
}

// benchLaptop is a laptop whose config holds two targets on the same
// bastion: pg (the database) and bulk (the bulk source).
func benchLaptop(b *testing.B, bd *Bed, bulkPort int) *Laptop {
	b.Helper()
	l := bd.NewLaptop(b)
	var sb strings.Builder
	sb.WriteString("targets:\n")
	for _, tg := range []struct {
		name string
		port int
	}{{"pg", bd.DBPort}, {"bulk", bulkPort}} {
		fmt.Fprintf(&sb, "  %s:\n", tg.name)
		fmt.Fprintf(&sb, "    host: %s\n", bd.DBIP)
		fmt.Fprintf(&sb, "    port: %d\n", tg.port)
		fmt.Fprintf(&sb, "    via: ssh\n")
		fmt.Fprintf(&sb, "    user: postgres\n")
		fmt.Fprintf(&sb, "    dbname: %s\n", pgbenchDB)
		fmt.Fprintf(&sb, "    ssh:\n")
		fmt.Fprintf(&sb, "      host: %s\n", bd.BastionIP)
		fmt.Fprintf(&sb, "      port: %d\n", bd.SSHPort)
		fmt.Fprintf(&sb, "      user: root\n")
		fmt.Fprintf(&sb, "      identity_file: %s\n", l.Identity)
		fmt.Fprintf(&sb, "      known_hosts: %s\n", l.KnownHosts)
	}
	if err := os.WriteFile(l.ConfigPath, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return l
}

// tunnelProc is a running tunnel (ssh -L or dbtunnel up) and its local end.
type tunnelProc struct {
	Local string
	PID   int
}

// startSSHL starts OpenSSH's `ssh -N -L` to remote (host:port as the bastion
// sees it), on its defaults: no cipher, MAC or window options, no ssh
// config (-F /dev/null, as in TestOpenSSHBaseline).
func startSSHL(b *testing.B, bd *Bed, l *Laptop, remote string) tunnelProc {
	b.Helper()
	local := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(b)))
	cmd := exec.Command("ssh", "-N",
		"-F", "/dev/null",
		"-L", local+":"+remote,
		"-i", l.Identity,
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile="+l.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "ExitOnForwardFailure=yes",
		"-p", strconv.Itoa(bd.SSHPort),
		"root@"+bd.BastionIP)
	cmd.Env = l.Env()
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	p, err := startProc(cmd)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.stop(syscall.SIGTERM, 5*time.Second) })
	if err := waitAccepting(local, 15*time.Second, p.exited); err != nil {
		b.Fatalf("ssh -L %s: %v; ssh stderr: %s", local, err, stderr.String())
	}
	return tunnelProc{Local: local, PID: cmd.Process.Pid}
}

// variant is one dbtunnel to measure. The first is always "dbtunnel", the
// binary the bed built from this tree, run as users run it. For A/B
// experiments (docs/BENCHMARKS.md), DBTUNNEL_BENCH_VARIANTS adds more,
// measured in the same run under the name dbtunnel@NAME: entries separated
// by ';', each "NAME=BINARY [KEY=VALUE...]" ("-" for this tree's binary), e.g.
//
//	DBTUNNEL_BENCH_VARIANTS='before=/tmp/dbtunnel-main;gogc400=- GOGC=400'
type variant struct {
	name string
	bin  string   // "" = the bed's build
	env  []string // added to the laptop environment
}

func dbtunnelVariants(b *testing.B) []variant {
	b.Helper()
	vs := []variant{{name: "dbtunnel"}}
	for _, entry := range strings.Split(os.Getenv("DBTUNNEL_BENCH_VARIANTS"), ";") {
		f := strings.Fields(entry)
		if len(f) == 0 {
			continue
		}
		name, bin, ok := strings.Cut(f[0], "=")
		if !ok || name == "" || bin == "" || strings.ContainsAny(name, "/ ") {
			b.Fatalf("DBTUNNEL_BENCH_VARIANTS: bad entry %q (want NAME=BINARY [KEY=VALUE...])", entry)
		}
		if bin == "-" {
			bin = ""
		}
		vs = append(vs, variant{name: "dbtunnel@" + name, bin: bin, env: f[1:]})
	}
	return vs
}

func startDbtunnel(b *testing.B, l *Laptop, target string, v variant) tunnelProc {
	b.Helper()
	var cmd *exec.Cmd
	if v.bin != "" {
		// As l.Dbtunnel, without needing the bed's own build.
		cmd = exec.Command(v.bin, "--config", l.ConfigPath, "up", target)
		cmd.Env, cmd.Dir = l.Env(), l.Home
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	} else {
		cmd = l.Dbtunnel(b, context.Background(), "up", target)
	}
	cmd.Env = append(cmd.Env, v.env...)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
		if b.Failed() {
			b.Logf("dbtunnel up %s stderr:\n%s", target, clip(stderr.String(), 4000))
		}
	})
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(target) + `\s+(127\.0\.0\.1:[0-9]+) -> .* \(ready\)\s*$`)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
		}
		close(ready)
	}()
	select {
	case local, ok := <-ready:
		if !ok {
			b.Fatalf("dbtunnel up %s exited before it was ready: %s", target, clip(stderr.String(), 4000))
		}
		return tunnelProc{Local: local, PID: cmd.Process.Pid}
	case <-time.After(readyTimeout):
		b.Fatalf("dbtunnel up %s: not ready after %v: %s", target, readyTimeout, clip(stderr.String(), 4000))
	}
	return tunnelProc{}
}

// path is one way from the benchmark to the bulk source.
type path struct {
	name string
	dial func() (net.Conn, error)
	proc tunnelProc // zero for direct
}

// bulkPaths starts ssh -L and dbtunnel to the bulk source and returns the
// three paths to it, direct first.
func bulkPaths(b *testing.B) []path {
	bd := requireBedB(b)
	port := bulkSourcePort(b, bd)
	remote := net.JoinHostPort(bd.DBIP, strconv.Itoa(port))
	l := benchLaptop(b, bd, port)
	sshL := startSSHL(b, bd, l, remote)
	paths := []path{
		{name: "direct", dial: func() (net.Conn, error) { return dialFromNS(bd.BastionNS, remote) }},
		{name: "ssh-L", dial: tcpDialer(sshL.Local), proc: sshL},
	}
	for _, v := range dbtunnelVariants(b) {
		dbt := startDbtunnel(b, l, "bulk", v)
		paths = append(paths, path{name: v.name, dial: tcpDialer(dbt.Local), proc: dbt})
	}
	return paths
}

func tcpDialer(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 10*time.Second) }
}

func sendRequest(c net.Conn, op byte, n int64) error {
	var req [9]byte
	req[0] = op
	binary.BigEndian.PutUint64(req[1:], uint64(n))
	_, err := c.Write(req[:])
	return err
}

// BenchmarkThroughput is bulk transfer from the db to the laptop (the
// direction of query results and pg_dump): b.N MiB over one connection.
// Besides MB/s it reports the CPU time the tunnel client (ssh or dbtunnel)
// and the bastion's sshd spent per GB: less sensitive to other load on the
// machine than MB/s, and where the difference between the tools shows.
func BenchmarkThroughput(b *testing.B) {
	bd := requireBedB(b)
	for _, p := range bulkPaths(b) {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(bulkChunk)
			c, err := p.dial()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			total := int64(b.N) * bulkChunk
			buf := make([]byte, 256<<10)
			cpu := startCPU(b, bd, p.proc)
			b.ResetTimer()
			if err := sendRequest(c, 'D', total); err != nil {
				b.Fatal(err)
			}
			var got int64
			for got < total {
				n, err := c.Read(buf)
				got += int64(n)
				if err != nil {
					b.Fatalf("after %d of %d bytes: %v", got, total, err)
				}
			}
			b.StopTimer()
			cpu.report(b, float64(total)/1e9, "ms/GB", 1e3)
		})
	}
}

// BenchmarkThroughputUpload is bulk transfer from the laptop to the db
// (COPY FROM, restores): b.N MiB over one connection, then an ack.
func BenchmarkThroughputUpload(b *testing.B) {
	bd := requireBedB(b)
	for _, p := range bulkPaths(b) {
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(bulkChunk)
			c, err := p.dial()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			data := make([]byte, bulkChunk)
			r := rand.NewChaCha8([32]byte{'u', 'p'})
			_, _ = r.Read(data)
			cpu := startCPU(b, bd, p.proc)
			b.ResetTimer()
			if err := sendRequest(c, 'U', int64(b.N)*bulkChunk); err != nil {
				b.Fatal(err)
			}
			for range b.N {
				if _, err := c.Write(data); err != nil {
					b.Fatal(err)
				}
			}
			var ack [1]byte
			if _, err := io.ReadFull(c, ack[:]); err != nil || ack[0] != 'K' {
				b.Fatalf("ack: %q, %v", ack, err)
			}
			b.StopTimer()
			cpu.report(b, float64(b.N)*bulkChunk/1e9, "ms/GB", 1e3)
		})
	}
}

// cpuMeter measures the CPU time (user+system, all threads) that the
// tunnel client and the bastion's sshd processes use over a benchmark run.
type cpuMeter struct {
	pid         int // tunnel client; 0 = none (direct)
	bastionNS   string
	client      time.Duration
	sshd        time.Duration
	sshdAtStart map[int]time.Duration
}

func startCPU(b *testing.B, bd *Bed, tp tunnelProc) *cpuMeter {
	m := &cpuMeter{pid: tp.PID, bastionNS: bd.BastionNS}
	if m.pid == 0 {
		return m
	}
	m.client = procCPU(m.pid)
	m.sshdAtStart = map[int]time.Duration{}
	for _, pid := range nsPIDs(bd.BastionNS, "sshd") {
		m.sshdAtStart[pid] = procCPU(pid)
	}
	return m
}

// report adds metrics tunnel-cpu-UNIT and sshd-cpu-UNIT: CPU time since
// startCPU divided by per (bytes in GB, transactions...), in units of
// 1/scale seconds.
func (m *cpuMeter) report(b *testing.B, per float64, unit string, scale float64) {
	if m.pid == 0 || per <= 0 {
		return
	}
	client := procCPU(m.pid) - m.client
	var sshd time.Duration
	for _, pid := range nsPIDs(m.bastionNS, "sshd") {
		sshd += procCPU(pid) - m.sshdAtStart[pid] // new sessions start at 0
	}
	b.ReportMetric(client.Seconds()*scale/per, "tunnel-cpu-"+unit)
	b.ReportMetric(sshd.Seconds()*scale/per, "sshd-cpu-"+unit)
}

// procCPU is utime+stime of a process, all threads, dead ones included
// (/proc/PID/stat, in USER_HZ = 100 ticks a second); 0 if it is gone.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	// After "pid (comm)": state is field 3 of stat(5), so utime (14) and
	// stime (15) are f[11] and f[12].
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}

// ---------------------------------------------------------------------------
// pgbench

var pgbenchInit struct {
	once sync.Once
	err  error
}

// initPgbench creates database bench and pgbench's tables in it (scale 1:
// 100,000 accounts, all in shared buffers, so -S measures the round trip and
// not the disk), once per test binary, over the db's unix socket.
func initPgbench(b *testing.B, bd *Bed) {
	b.Helper()
	pgbenchInit.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := bd.DBPsql(ctx, "-c", "create database "+pgbenchDB).CombinedOutput(); err != nil {
			pgbenchInit.err = fmt.Errorf("create database %s: %w: %s", pgbenchDB, err, out)
			return
		}
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", bd.DBNS, "pgbench", "-i", "-q",
			"-s", strconv.Itoa(pgbenchScale), "-h", bd.pgDir, "-p", strconv.Itoa(bd.DBPort), "-U", "postgres", pgbenchDB)
		if out, err := cmd.CombinedOutput(); err != nil {
			pgbenchInit.err = fmt.Errorf("pgbench -i: %w: %s", err, out)
		}
	})
	if pgbenchInit.err != nil {
		b.Fatal(pgbenchInit.err)
	}
}

var (
	tpsRe = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	latRe = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

// BenchmarkPgbenchSelect runs pgbench -S (one primary-key SELECT per
// transaction) with 1 and 16 clients; b.N is the number of transactions,
// the tps metric is pgbench's own (without connection setup).
func BenchmarkPgbenchSelect(b *testing.B) {
	bd := requireBedB(b)
	requireTool(b, "pgbench")
	initPgbench(b, bd)
	l := benchLaptop(b, bd, bulkSourcePort(b, bd))
	pgRemote := net.JoinHostPort(bd.DBIP, strconv.Itoa(bd.DBPort))
	sshL := startSSHL(b, bd, l, pgRemote)

	type pgPath struct {
		name string
		ns   string // "" = the laptop (root namespace)
		addr string
		proc tunnelProc
	}
	paths := []pgPath{
		{"direct", bd.BastionNS, pgRemote, tunnelProc{}},
		{"ssh-L", "", sshL.Local, sshL},
	}
	for _, v := range dbtunnelVariants(b) {
		tp := startDbtunnel(b, l, "pg", v)
		paths = append(paths, pgPath{v.name, "", tp.Local, tp})
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			for _, clients := range []int{1, 16} {
				b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) {
					runPgbench(b, bd, l, p.ns, p.addr, p.proc, clients)
				})
			}
		})
	}
}

func runPgbench(b *testing.B, bd *Bed, l *Laptop, ns, addr string, tp tunnelProc, clients int) {
	host, port, _ := net.SplitHostPort(addr)
	perClient := (b.N + clients - 1) / clients
	threads := min(clients, runtime.NumCPU())
	args := []string{"-n", "-S", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads),
		"-t", strconv.Itoa(perClient), "-h", host, "-p", port, "-U", "postgres", pgbenchDB}
	var cmd *exec.Cmd
	if ns == "" {
		cmd = exec.Command("pgbench", args...)
	} else {
		cmd = NS(ns, "pgbench", args...)
	}
	cmd.Env = l.Env("PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10")
	cpu := startCPU(b, bd, tp)
	b.ResetTimer()
	out, err := cmd.CombinedOutput()
	b.StopTimer()
	cpu.report(b, float64(perClient*clients), "us/txn", 1e6)
	if err != nil {
		b.Fatalf("pgbench %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	m := tpsRe.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no tps in pgbench output:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	b.ReportMetric(tps, "tps")
	if m := latRe.FindSubmatch(out); m != nil {
		lat, _ := strconv.ParseFloat(string(m[1]), 64)
		b.ReportMetric(lat, "ms/txn")
	}
}

// ---------------------------------------------------------------------------
// Memory with idle connections

// BenchmarkIdleConns opens 100 PostgreSQL sessions through the tunnel
// (startup and trust authentication to ReadyForQuery, as a connection pool
// holds them), reads the tunnel process's VmRSS while they sit idle, and
// closes them. One op is one such cycle; the metrics are the tunnel's RSS
// freshly started (base-RSS-MiB), the most it held with the 100 sessions
// open (RSS-MiB), and the difference per session (KiB/conn). ssh -L is the
// reference.
func BenchmarkIdleConns(b *testing.B) {
	bd := requireBedB(b)
	l := benchLaptop(b, bd, bulkSourcePort(b, bd))
	pgRemote := net.JoinHostPort(bd.DBIP, strconv.Itoa(bd.DBPort))
	type tunnel struct {
		name  string
		start func() tunnelProc
	}
	procs := []tunnel{{"ssh-L", func() tunnelProc { return startSSHL(b, bd, l, pgRemote) }}}
	for _, v := range dbtunnelVariants(b) {
		procs = append(procs, tunnel{v.name, func() tunnelProc { return startDbtunnel(b, l, "pg", v) }})
	}
	freshRSS := map[string]float64{}
	for _, p := range procs {
		tp := p.start()
		b.Run(p.name, func(b *testing.B) {
			// base is the freshly started tunnel (nothing through it yet:
			// the first call of this function); loaded the most it held
			// with 100 sessions open, over every cycle.
			if base, ok := freshRSS[p.name]; !ok || base == 0 {
				freshRSS[p.name] = vmRSS(b, tp.PID)
			}
			base := freshRSS[p.name]
			var loaded float64
			for range b.N {
				b.StopTimer()
				// Let the previous cycle's teardown finish (the tunnel sees
				// the closes asynchronously).
				time.Sleep(200 * time.Millisecond)
				b.StartTimer()
				conns := make([]net.Conn, 0, idleConns)
				for range idleConns {
					c, err := pgSession(tp.Local)
					if err != nil {
						b.Fatalf("session %d through %s: %v", len(conns)+1, p.name, err)
					}
					conns = append(conns, c)
				}
				b.StopTimer()
				time.Sleep(200 * time.Millisecond)
				loaded = max(loaded, vmRSS(b, tp.PID))
				for _, c := range conns {
					c.Close()
				}
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(base/1024, "base-RSS-MiB")
			b.ReportMetric(loaded/1024, "RSS-MiB")
			b.ReportMetric((loaded-base)/idleConns, "KiB/conn")
		})
	}
}

// vmRSS returns VmRSS of pid in KiB.
func vmRSS(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return n
				}
			}
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// pgSession opens a PostgreSQL session at addr as postgres on database
// postgres (protocol 3.0, trust authentication) and returns it idle, after
// ReadyForQuery.
func pgSession(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var msg []byte
	msg = binary.BigEndian.AppendUint32(msg, 0) // length, below
	msg = binary.BigEndian.AppendUint32(msg, 3<<16)
	for _, kv := range []string{"user", "postgres", "database", "postgres", "application_name", "dbtunnel-bench"} {
		msg = append(append(msg, kv...), 0)
	}
	msg = append(msg, 0)
	binary.BigEndian.PutUint32(msg, uint32(len(msg)))
	if _, err := c.Write(msg); err != nil {
		c.Close()
		return nil, err
	}
	r := bufio.NewReader(c)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			c.Close()
			return nil, fmt.Errorf("startup: %w", err)
		}
		body := make([]byte, int(binary.BigEndian.Uint32(hdr[1:]))-4)
		if _, err := io.ReadFull(r, body); err != nil {
			c.Close()
			return nil, fmt.Errorf("startup: %w", err)
		}
		switch hdr[0] {
		case 'E':
			c.Close()
			return nil, fmt.Errorf("server error: %q", body)
		case 'R':
			if binary.BigEndian.Uint32(body) != 0 {
				c.Close()
				return nil, errors.New("server asks for a password (want trust)")
			}
		case 'Z':
			_ = c.SetDeadline(time.Time{})
			return c, nil
		}
	}
}
