//go:build unix

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/tunnel"
)

// shared is the one sandbox with PostgreSQL that the tests of this binary
// use (initdb is the slow part); TestMain starts it and proves that Close
// leaves nothing behind.
var shared *Sandbox

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	bin := FindPostgres()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "sandbox tests: PostgreSQL binaries missing (initdb in /usr/lib/postgresql/*/bin or on PATH); CI must have them")
			return 1
		}
		fmt.Fprintln(os.Stderr, "sandbox tests: no PostgreSQL here; the PostgreSQL tests are skipped")
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, err := Start(ctx, Options{PostgresBin: bin})
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox tests: start: %v\n", err)
		return 1
	}
	shared = sb
	code := m.Run()
	pid, dir := sb.PostgresPID(), sb.Dir
	if err := sb.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox tests: close: %v\n", err)
		code = 1
	}
	if err := cleanedUp(pid, dir); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox tests: %v\n", err)
		code = 1
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox tests: goroutines left after Close: %v\n", err)
		code = 1
	}
	return code
}

// cleanedUp checks that the server process is gone and the directory
// removed.
func cleanedUp(pid int, dir string) error {
	if pid != 0 {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("postgres pid %d still exists after Close (kill 0: %v)", pid, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sandbox dir %s still there after Close (%v)", dir, err)
	}
	return nil
}

func needPostgres(t *testing.T) *Sandbox {
	t.Helper()
	if shared == nil {
		t.Skip("no PostgreSQL on this machine")
	}
	return shared
}

// psqlPath is the psql next to the server, else on PATH.
func psqlPath(t *testing.T) string {
	t.Helper()
	if p := filepath.Join(FindPostgres(), "psql"); FindPostgres() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql missing: %v", err)
	}
	return p
}

// open resolves a target of the demo config and waits for its tunnel.
func open(t *testing.T, sb *Sandbox, name string) (connect.Target, *tunnel.Tunnel) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg, err := sb.Resolver.Resolve(ctx, name, connect.Overrides{})
	if err != nil {
		t.Fatalf("resolve %s: %v", name, err)
	}
	tun, err := sb.Opener.Open(context.Background(), tg)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { tun.Close() })
	if err := tun.WaitReady(ctx); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tg, tun
}

// TestPsqlThroughSSHAndSSM runs the real psql through each kind of tunnel
// to the sandbox's PostgreSQL, and checks that the tunnel went the way
// discovery chose: the SSH bastion saw a forwarding channel, ssmfake a
// session to the endpoint.
func TestPsqlThroughSSHAndSSM(t *testing.T) {
	sb := needPostgres(t)
	psql := psqlPath(t)
	for _, tc := range []struct{ target, via string }{
		{"dev-aurora-ssh", "ssh"},
		{"dev-aurora", "ssm"},
		{"prod-aurora-reader", "ssm"},
		{"analytics", "ssm"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			chans, sessions := sb.SSHChannels(), len(sb.SSMSessions())
			tg, tun := open(t, sb, tc.target)
			if tg.Route.Via != tc.via {
				t.Fatalf("%s goes via %s (%s), want %s", tc.target, tg.Route.Via, tg.Route.Bastion, tc.via)
			}
			local := tun.LocalAddr().(*net.TCPAddr)
			cmd := exec.Command(psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c",
				"select count(*), current_database() from orders", tg.URL(local))
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("psql via %s: %v\n%s", tc.target, err, out)
			}
			if got := strings.TrimSpace(string(out)); got != "100|"+PGDatabase {
				t.Fatalf("psql via %s printed %q, want 100|%s", tc.target, got, PGDatabase)
			}
			if st := tun.Stats(); st.Total < 1 || st.BytesIn == 0 || st.BytesOut == 0 {
				t.Fatalf("tunnel stats %+v", st)
			}
			// psql has hung up: the connection must end on both sides.
			deadline := time.Now().Add(10 * time.Second)
			for tun.Stats().Active != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%s: connection still active 10s after psql exited: %+v", tc.target, tun.Stats())
				}
				time.Sleep(10 * time.Millisecond)
			}
			switch tc.via {
			case "ssh":
				if sb.SSHChannels() <= chans {
					t.Fatal("the SSH bastion forwarded no channel")
				}
			case "ssm":
				all := sb.SSMSessions()
				if len(all) <= sessions {
					t.Fatal("ssmfake started no session")
				}
				last := all[len(all)-1]
				if last.Destination != tg.Remote() || last.Target != tg.Route.Bastion {
					t.Fatalf("session %+v, want %s through %s", last, tg.Remote(), tg.Route.Bastion)
				}
			}
		})
	}
}

// TestDiscoveryVerdicts: the open paths are ok, the blocked ones are
// blocked with the reason and the command that fixes them.
func TestDiscoveryVerdicts(t *testing.T) {
	sb := needPostgres(t)
	dbs := map[string]discovery.Database{}
	for _, res := range discovery.Scan(context.Background(), sb.Source, sb.Scopes, 0) {
		if res.Err != nil {
			t.Fatalf("%s: %v", res.Scope, res.Err)
		}
		for _, db := range res.Inventory.Databases {
			dbs[db.Name] = db
		}
	}
	route := func(db, via, bastionName string) discovery.Route {
		t.Helper()
		for _, r := range dbs[db].Routes {
			if r.Via == via && r.BastionName == bastionName {
				return r
			}
		}
		t.Fatalf("%s: no %s route through %s in %+v", db, via, bastionName, dbs[db].Routes)
		return discovery.Route{}
	}
	ok := func(r discovery.Route) {
		t.Helper()
		if r.Verdict != discovery.VerdictOK {
			t.Errorf("%s via %s %s: %s %v, want ok", r.Bastion, r.Via, r.BastionName, r.Verdict, r.Reasons)
		}
	}
	blocked := func(r discovery.Route, fix string) {
		t.Helper()
		if r.Verdict != discovery.VerdictBlocked || !strings.Contains(r.Fix, fix) {
			t.Errorf("%s via %s %s: %s, fix %q; want blocked with %q", r.Bastion, r.Via, r.BastionName, r.Verdict, r.Fix, fix)
		}
	}
	ok(route(DBDevAurora, "ssm", "bastion-private"))
	ok(route(DBDevAurora, "ssh", "bastion-public"))
	if best := dbs[DBDevAurora].Routes[0]; best.Via != "ssm" {
		t.Errorf("dev-aurora's best route is %s, want ssm first", best.Via)
	}
	ok(route(DBDevMySQL, "ssm", "bastion-private"))
	blocked(route(DBDevMySQL, "ssh", "bastion-public"), "authorize-security-group-ingress")
	blocked(route(DBDevAurora, "ssm", "bastion-isolated"), "create-vpc-endpoint")
	for _, r := range dbs[DBDevLegacy].Routes {
		blocked(r, "aws ec2 ")
	}
	blocked(route(DBDevLegacy, "ssm", "bastion-private"),
		"aws ec2 authorize-security-group-ingress --group-id "+dbs[DBDevLegacy].SecurityGroups[0]+" --protocol tcp --port 5432")
	ok(route(DBProdAurora, "ssm", "bastion-prod"))
	if len(dbs[DBProdOrders].Routes) == 0 {
		t.Fatal("prod-orders has no routes")
	}
	for _, r := range dbs[DBProdOrders].Routes {
		blocked(r, "authorize-security-group-ingress")
	}
	an := dbs[WGAnalytics]
	var ep *discovery.Endpoint
	for i := range an.Endpoints {
		if an.Endpoints[i].Name == EPAnalytics {
			ep = &an.Endpoints[i]
		}
	}
	if an.Kind != discovery.KindRedshiftServerless || ep == nil || len(ep.Routes) == 0 {
		t.Fatalf("analytics %+v", an)
	}
	if r := ep.Routes[0]; r.Verdict != discovery.VerdictOK || r.BastionName != "bastion-tools" {
		t.Errorf("analytics managed endpoint route %+v", r)
	}
	// Two fake accounts, as two profiles.
	if dbs[DBDevAurora].Account == dbs[DBProdAurora].Account {
		t.Errorf("dev and prod share account %s", dbs[DBDevAurora].Account)
	}
}

// TestBlockedTargetDoesNotResolve: a blocked database fails to resolve
// with the fix, before anything is opened.
func TestBlockedTargetDoesNotResolve(t *testing.T) {
	sb := needPostgres(t)
	_, err := sb.Resolver.Resolve(context.Background(), "dev-legacy", connect.Overrides{})
	var nr *connect.NoRouteError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "fix: aws ec2 authorize-security-group-ingress") {
		t.Fatalf("resolve dev-legacy: %v", err)
	}
}

// TestStandin: with PostgreSQL turned off, the stand-in answers through a
// tunnel and says what it is; and Close removes everything.
func TestStandin(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sb, err := Start(context.Background(), Options{PostgresBin: NoPostgres, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if sb.Postgres || sb.PostgresPID() != 0 || !strings.Contains(strings.Join(sb.Notes, "\n"), "stand-in") {
		t.Fatalf("postgres %v pid %d notes %q", sb.Postgres, sb.PostgresPID(), sb.Notes)
	}
	for _, tc := range []struct{ target, banner string }{
		{"dev-aurora-ssh", "no PostgreSQL was found"},
		{"dev-mysql", "stand-in for RDS MySQL"},
	} {
		_, tun := open(t, sb, tc.target)
		c, err := net.Dial("tcp", tun.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		if err != nil || !strings.Contains(line, tc.banner) {
			t.Fatalf("%s: banner %q, %v", tc.target, line, err)
		}
		fmt.Fprintf(c, "hello\n")
		if line, err := r.ReadString('\n'); err != nil || line != "echo: hello\n" {
			t.Fatalf("%s: echo %q, %v", tc.target, line, err)
		}
		c.Close()
		tun.Close()
	}
	dir := sb.Dir
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cleanedUp(0, dir); err != nil {
		t.Fatal(err)
	}
}
