// Package sandbox is `dbtunnel demo`: a whole AWS estate on loopback, with
// no AWS account. It runs, in this process, the fake AWS APIs
// (discovery/awsfake) with two profiles of databases and bastions, the
// Session Manager service and agent (tunnel/ssm/ssmfake), an SSH bastion
// (golang.org/x/crypto/ssh), and behind them a throwaway PostgreSQL
// (initdb in a temp dir) when its binaries are installed, else a built-in
// stand-in that says so. It hands out what the CLI and the TUI run on — a
// config, a resolver, an opener, a discovery source and scopes — wired to
// all of that and to nothing of the user's own (~/.aws, ~/.ssh, the
// ssh-agent are never read).
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awssource"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// Options configure Start. The zero value is usable.
type Options struct {
	// Logger receives the sandbox's and the tunnels' logs; nil discards.
	Logger *slog.Logger
	// Dir is where the sandbox's temporary directory is made;
	// os.TempDir() when "". Run as root with PostgreSQL, the postgres
	// user must be able to traverse it.
	Dir string
	// PostgresBin is the directory with initdb and postgres; "" finds
	// them (FindPostgres); NoPostgres uses the stand-in even if they
	// exist.
	PostgresBin string
}

// NoPostgres, as Options.PostgresBin, runs the stand-in instead of
// PostgreSQL.
const NoPostgres = "none"

// Sandbox is a running demo estate. Its exported fields are what the CLI
// and the TUI need; they stay valid until Close.
type Sandbox struct {
	Config   *config.Config
	Resolver *connect.Resolver
	Opener   *connect.Opener
	// Source is discovery against the fake AWS, uncached; Cache is the
	// sandbox's own inventory cache (in Dir, never the user's).
	Source discovery.Source
	Cache  *discovery.Cache
	Scopes []discovery.Scope
	// Dir is the sandbox's temporary directory, removed by Close; Home is
	// the HOME-like directory in it (.ssh, .aws, .cache).
	Dir, Home string
	// Postgres tells whether a real PostgreSQL answers for the PostgreSQL
	// and Redshift endpoints (true) or the stand-in (false); Notes say
	// why, for people.
	Postgres bool
	Notes    []string

	log     *slog.Logger
	world   *world
	aws     *awsEndpoint
	ssm     *ssmfake.Service
	bastion *bastion
	pg      *postgres
	standin map[service]*standin
	targets map[service]string // service -> local address

	closeOnce sync.Once
	closeErr  error
}

// Start builds and starts the sandbox. ctx bounds the start only; the
// sandbox runs until Close. On error everything started is undone.
func Start(ctx context.Context, o Options) (sb *Sandbox, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp(o.Dir, "dbtunnel-demo-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	sb = &Sandbox{Dir: dir, Home: filepath.Join(dir, "home"), log: log, standin: map[service]*standin{}, targets: map[service]string{}}
	defer func() {
		if err != nil {
			sb.Close()
			sb = nil
		}
	}()
	// Traversable so that PostgreSQL, run as another user when we are
	// root, reaches its own directory in it; nothing here is listable.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := os.Mkdir(sb.Home, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := sb.startTargets(ctx, o.PostgresBin); err != nil {
		return nil, err
	}
	sb.world = buildWorld()
	sb.ssm = ssmfake.New(ssmfake.Options{
		Logger: log.With("component", "ssmfake"),
		Dial:   sb.dialEndpoint,
		// The real agent paces its reads at 1 ms; the demo shows the
		// tunnel, not the service's throttling.
		Pacing: ssmfake.NoPacing,
	})
	for _, id := range sb.world.privateBastions {
		sb.ssm.AddTarget(id, ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	}
	for _, id := range sb.world.offlineBastions {
		sb.ssm.AddTarget(id, ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: false})
	}
	if sb.aws, err = startAWS(sb.world.fake, sb.ssm, filepath.Join(sb.Home, ".aws")); err != nil {
		return nil, err
	}
	clientKey, err := writeClientKey(filepath.Join(sb.Home, ".ssh"))
	if err != nil {
		return nil, err
	}
	if sb.bastion, err = startBastion(log.With("component", "bastion"), clientKey, sb.dialEndpoint); err != nil {
		return nil, err
	}
	if err := writeSSHConfig(filepath.Join(sb.Home, ".ssh"), sb.bastion); err != nil {
		return nil, err
	}
	if sb.Config, err = writeConfig(sb.Dir, sb.Home); err != nil {
		return nil, err
	}
	sb.Scopes = []discovery.Scope{{Profile: ProfileDev, Region: Region}, {Profile: ProfileProd, Region: Region}}
	sb.Source = awssource.New(awssource.Options{Logger: log.With("component", "discovery"), LoadOptions: sb.aws.loadOptions()})
	sb.Cache = &discovery.Cache{Dir: filepath.Join(sb.Home, ".cache", "dbtunnel"), TTL: sb.Config.Discovery.CacheTTL}
	sb.Resolver = &connect.Resolver{
		Config: sb.Config,
		Source: discovery.CachedSource{Source: sb.Source, Cache: sb.Cache, Logger: log},
		Scopes: sb.Scopes,
	}
	sb.Opener = &connect.Opener{
		Logger: log,
		Home:   sb.Home,
		// The user's agent keys have no business with the demo bastion.
		AgentSocket: "none",
		AWSConfig:   sb.aws.config,
	}
	return sb, nil
}

// startTargets starts what really answers behind the fake endpoints.
func (sb *Sandbox) startTargets(ctx context.Context, bin string) error {
	if bin == "" {
		bin = FindPostgres()
	}
	switch {
	case bin == NoPostgres:
		sb.Notes = append(sb.Notes, "PostgreSQL: a built-in stand-in (PostgreSQL was turned off for this run)")
	case bin == "":
		sb.Notes = append(sb.Notes, "PostgreSQL: not installed here (no initdb in /usr/lib/postgresql/*/bin or on PATH), so a built-in stand-in answers; install PostgreSQL to query a real one")
	default:
		start := time.Now()
		pg, err := startPostgres(ctx, sb.log, bin, filepath.Join(sb.Dir, "pg"))
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		sb.pg, sb.Postgres = pg, true
		sb.targets[svcPostgres] = pg.Addr()
		sb.Notes = append(sb.Notes, fmt.Sprintf("PostgreSQL: a throwaway cluster from %s on %s, made in %s; database %q, user %q, deleted on exit",
			bin, pg.Addr(), time.Since(start).Round(10*time.Millisecond), PGDatabase, PGUser))
	}
	if !sb.Postgres {
		s, err := startStandin("dbtunnel demo: no PostgreSQL was found on this machine, so this built-in service stands in for the PostgreSQL and Redshift databases; the tunnel to it works (type a line, it comes back).")
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		sb.standin[svcPostgres] = s
		sb.targets[svcPostgres] = s.Addr()
	}
	s, err := startStandin("dbtunnel demo: this is a stand-in for RDS MySQL, not a MySQL server; the tunnel works (type a line, it comes back).")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	sb.standin[svcMySQL] = s
	sb.targets[svcMySQL] = s.Addr()
	sb.Notes = append(sb.Notes, "MySQL: a built-in stand-in that echoes what it is sent")
	return nil
}

// dialEndpoint is how the bastions reach a database endpoint: the fake
// host name is mapped to the local service behind it; endpoints the
// security groups block get nowhere.
func (sb *Sandbox) dialEndpoint(ctx context.Context, network, addr string) (net.Conn, error) {
	svc, ok := sb.world.open[addr]
	if !ok {
		return nil, fmt.Errorf("dial %s: %w", addr, errBlocked)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", sb.targets[svc])
}

// PostgresPID is the throwaway PostgreSQL server's pid, 0 with the
// stand-in.
func (sb *Sandbox) PostgresPID() int {
	if sb.pg == nil {
		return 0
	}
	return sb.pg.PID()
}

// PostgresAddr is where the throwaway PostgreSQL (or its stand-in)
// listens directly, bypassing every tunnel.
func (sb *Sandbox) PostgresAddr() string { return sb.targets[svcPostgres] }

// SSHChannels counts the port-forwarding channels the SSH bastion opened.
func (sb *Sandbox) SSHChannels() int64 { return sb.bastion.Channels() }

// SSMSessions lists the Session Manager sessions started so far.
func (sb *Sandbox) SSMSessions() []ssmfake.SessionInfo { return sb.ssm.AllSessions() }

// Env is the environment under which `dbtunnel ls` or `doctor` in another
// terminal sees the sandbox while it runs: its AWS files, its cache and its
// config file. HOME stays the user's (go run keeps its build cache there).
func (sb *Sandbox) Env() []string {
	return []string{
		"XDG_CACHE_HOME=" + filepath.Join(sb.Home, ".cache"),
		"AWS_CONFIG_FILE=" + sb.aws.configFile,
		"AWS_SHARED_CREDENTIALS_FILE=" + sb.aws.credentialsFile,
		"DBTUNNEL_CONFIG=" + sb.Config.Path,
	}
}

// TargetNames are the config's targets, sorted.
func (sb *Sandbox) TargetNames() []string {
	names := make([]string, 0, len(sb.Config.Targets))
	for n := range sb.Config.Targets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close stops everything the sandbox started, in the reverse order, and
// removes its directory. Tunnels opened through Opener must be closed
// first. Safe to call more than once.
func (sb *Sandbox) Close() error {
	sb.closeOnce.Do(func() {
		var errs []error
		if sb.bastion != nil {
			errs = append(errs, sb.bastion.Close())
		}
		if sb.aws != nil {
			errs = append(errs, sb.aws.Close())
		}
		if sb.ssm != nil {
			errs = append(errs, sb.ssm.Close())
		}
		for _, s := range sb.standin {
			errs = append(errs, s.Close())
		}
		if sb.pg != nil {
			errs = append(errs, sb.pg.Close())
		}
		if err := os.RemoveAll(sb.Dir); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: remove %s: %w", sb.Dir, err))
		}
		sb.closeErr = errors.Join(errs...)
	})
	return sb.closeErr
}
