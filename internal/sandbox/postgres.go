package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The throwaway PostgreSQL's login and database.
const (
	PGUser     = "postgres"
	PGDatabase = "demo"
)

// FindPostgres returns the directory holding initdb and postgres:
// PostgreSQL 15's Debian location, else the newest /usr/lib/postgresql/*/bin,
// else wherever initdb is on PATH (Homebrew, Postgres.app); "" when none.
func FindPostgres() string {
	if !postgresSupported {
		return ""
	}
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return false
			}
		}
		return true
	}
	if d := "/usr/lib/postgresql/15/bin"; has(d) {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	return ""
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// postgres is a PostgreSQL cluster made for this run in the sandbox's
// directory, listening on 127.0.0.1 only.
type postgres struct {
	log  *slog.Logger
	bin  string
	dir  string // owned by the server's user: data/, the unix socket, the log
	data string
	port int
	user *procUser // nil: run as ourselves
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
	err  error         // its exit status, once done
}

// startPostgres runs initdb and then the server (directly rather than
// through pg_ctl, so the server is our child: we hold its pid, see it
// exit, and it dies with us). As root, both run as the postgres user (else
// nobody), since initdb refuses to run as root.
func startPostgres(ctx context.Context, log *slog.Logger, bin, dir string) (*postgres, error) {
	p := &postgres{log: log, bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if os.Geteuid() == 0 {
		u, err := unprivileged()
		if err != nil {
			return nil, err
		}
		p.user = u
		if err := u.chown(dir); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	out, err := p.command(ctx, filepath.Join(bin, "initdb"), "-D", p.data, "-U", PGUser,
		"--auth=trust", "--no-sync", "--no-instructions", "--encoding=UTF8", "--locale=C").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("postgres: initdb in %s: %w: %s", p.data, err, lastLines(out, 5))
	}
	// The port is picked by binding :0 and released before the server
	// binds it; another process may take it meanwhile, so try again.
	for attempt := 0; ; attempt++ {
		err = p.start(ctx)
		if err == nil || attempt == 2 || ctx.Err() != nil {
			break
		}
		log.Debug("postgres: retrying on another port", "err", err)
	}
	if err != nil {
		return nil, err
	}
	if err := p.seed(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	// Only what the tools need: the user's PG* variables must not
	// redirect them.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	cmd.Dir = p.dir
	cmd.SysProcAttr = procAttr(p.user, false)
	return cmd
}

// start writes the settings for a free port and runs the server until it
// accepts connections.
func (p *postgres) start(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	conf := fmt.Sprintf(`
# dbtunnel demo (this cluster is deleted when the demo ends)
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
fsync = off
synchronous_commit = off
full_page_writes = off
`, port, p.dir)
	if err := os.WriteFile(filepath.Join(p.data, "postgresql.auto.conf"), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := p.user.chown(filepath.Join(p.data, "postgresql.auto.conf")); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(p.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer logf.Close()
	// Not CommandContext: the server outlives Start's ctx and is stopped
	// by Close.
	cmd := p.command(context.Background(), filepath.Join(p.bin, "postgres"), "-D", p.data)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should this process die without cleaning up, the server goes too.
	cmd.SysProcAttr = procAttr(p.user, true)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: start: %w", err)
	}
	p.cmd, p.port, p.done = cmd, port, make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	// postmaster.pid's eighth line turns "ready" once connections are
	// accepted.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		if b, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid")); err == nil {
			lines := strings.Split(string(b), "\n")
			if len(lines) > 7 && strings.TrimSpace(lines[7]) == "ready" {
				return nil
			}
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
			return fmt.Errorf("postgres: server exited (%v): %s", p.err, lastLines(b, 5))
		case <-ctx.Done():
			p.Close()
			return ctx.Err()
		case <-deadline.C:
			p.Close()
			return fmt.Errorf("postgres: not ready after 60s on port %d", port)
		case <-tick.C:
		}
	}
}

// seedSQL gives the demo database something to query.
const seedSQL = `
create database ` + PGDatabase + `;
\c ` + PGDatabase + `
create table orders (
  id serial primary key,
  customer text not null,
  total numeric(10,2) not null,
  placed_at timestamptz not null default now()
);
insert into orders (customer, total)
  select 'customer-' || g, (g * 7.25)::numeric(10,2) from generate_series(1, 100) g;
comment on database ` + PGDatabase + ` is 'dbtunnel demo: a throwaway local PostgreSQL, deleted when the demo ends';
`

func (p *postgres) seed(ctx context.Context) error {
	psql := filepath.Join(p.bin, "psql")
	if _, err := os.Stat(psql); err != nil {
		if psql, err = exec.LookPath("psql"); err != nil {
			return fmt.Errorf("postgres: no psql in %s or on PATH to create the demo database", p.bin)
		}
	}
	cmd := p.command(ctx, psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", p.dir, "-p", strconv.Itoa(p.port),
		"-U", PGUser, "-d", "postgres", "-f", "-")
	cmd.Stdin = strings.NewReader(seedSQL)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("postgres: create the demo database: %w: %s", err, lastLines(out, 5))
	}
	return nil
}

// Addr is where the server listens.
func (p *postgres) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// PID is the server's process id.
func (p *postgres) PID() int { return p.cmd.Process.Pid }

// Close stops the server (fast shutdown: open sessions are ended) and
// waits for it to exit; it is killed if it takes more than 10 s.
func (p *postgres) Close() error {
	if p.cmd == nil {
		return nil
	}
	interrupt(p.cmd.Process)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		// The whole group: the server's children too.
		killGroup(p.cmd.Process)
		<-p.done
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(bytes.ToValidUTF8(b, nil))), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
