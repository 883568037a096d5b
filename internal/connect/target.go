// Package connect turns a target the user named into an open tunnel: it
// resolves the target (from the config file now, from discovery later) to a
// route, builds that route's tunnel.Dialer, picks the local port and opens
// the tunnel. `up`, `exec`, the TUI and the demo all open tunnels here.
package connect

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dbtunnel/dbtunnel/config"
)

// Target is a database resolved to one way in.
type Target struct {
	Name string
	// Engine is postgres, mysql, redshift... or "" when unknown.
	Engine string
	// Host and Port are the database as the bastion sees it.
	Host string
	Port int
	// LocalPort is the port to listen on; 0 picks a stable free one.
	LocalPort int
	User      string
	DBName    string
	SSLMode   string
	Route     Route
}

// Route is how a Target is reached.
type Route struct {
	Via string // "ssh" (and "ssm" once that backend lands)
	// Bastion names the bastion for people: an address, an ssh config
	// alias or an instance id.
	Bastion string
	SSH     *SSHRoute
}

// SSHRoute is what the SSH backend needs beyond the remote address.
type SSHRoute struct {
	Host, User, IdentityFile, KnownHosts, ProxyJump string
	Port                                            int
}

// Remote is the database's address as the bastion dials it.
func (t Target) Remote() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Overrides are the command-line flags that change a target's route.
type Overrides struct {
	LocalPort int
	Via       string
	Bastion   string
}

// UsageError is an error in what the user asked for (an unknown target, a
// route that cannot be built from the config), as opposed to a failure while
// connecting. The CLI exits 2 for it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// Resolve finds the target called name in cfg and applies the overrides.
func Resolve(cfg *config.Config, name string, o Overrides) (Target, error) {
	ct, ok := cfg.Targets[name]
	if !ok {
		return Target{}, unknownTarget(cfg, name)
	}
	if ct.Host == "" {
		return Target{}, usageErrorf("target %s names database %q: discovered databases are not supported yet; give the target host, port and an ssh bastion", name, ct.Database)
	}
	t := Target{
		Name:      name,
		Engine:    engineOf(ct.Engine, ct.Port),
		Host:      ct.Host,
		Port:      ct.Port,
		LocalPort: ct.LocalPort,
		User:      ct.User,
		DBName:    ct.DBName,
		SSLMode:   ct.SSLMode,
	}
	via := ct.Via
	if o.Via != "" {
		via = o.Via
	}
	if o.LocalPort != 0 {
		t.LocalPort = o.LocalPort
	}
	switch via {
	case "ssh", "auto", "":
		if ct.SSH == nil || ct.SSH.Host == "" {
			return Target{}, usageErrorf("target %s: no ssh bastion: add ssh.host to the target in %s", name, configName(cfg))
		}
		s := *ct.SSH
		if o.Bastion != "" {
			s.Host = o.Bastion
		}
		t.Route = Route{
			Via:     "ssh",
			Bastion: s.Host,
			SSH: &SSHRoute{
				Host: s.Host, Port: s.Port, User: s.User,
				IdentityFile: s.IdentityFile, KnownHosts: s.KnownHosts, ProxyJump: s.ProxyJump,
			},
		}
	case "ssm":
		return Target{}, usageErrorf("target %s: via ssm is not available yet; use via: ssh", name)
	default:
		return Target{}, usageErrorf("target %s: unknown route %q (want ssh or ssm)", name, via)
	}
	return t, nil
}

func unknownTarget(cfg *config.Config, name string) error {
	if len(cfg.Targets) == 0 {
		if cfg.Path == "" {
			return usageErrorf("unknown target %q: no config file found (looked for --config, $DBTUNNEL_CONFIG, ./.dbtunnel.yaml, $XDG_CONFIG_HOME/dbtunnel/config.yaml)", name)
		}
		return usageErrorf("unknown target %q: %s defines no targets", name, cfg.Path)
	}
	names := make([]string, 0, len(cfg.Targets))
	for n := range cfg.Targets {
		names = append(names, n)
	}
	slices.Sort(names)
	return usageErrorf("unknown target %q in %s (known: %s)", name, cfg.Path, strings.Join(names, ", "))
}

func configName(cfg *config.Config) string {
	if cfg.Path == "" {
		return "the config file"
	}
	return cfg.Path
}

// engineOf returns the configured engine, or guesses it from the well-known
// port so that `exec` can set the right client variables.
func engineOf(engine string, port int) string {
	if engine != "" {
		return strings.ToLower(engine)
	}
	switch port {
	case 5432:
		return "postgres"
	case 5439:
		return "redshift"
	case 3306:
		return "mysql"
	}
	return ""
}

// Env is what `exec` adds to the command's environment for a tunnel
// listening on local: the libpq and MySQL client variables and DATABASE_URL.
func (t Target) Env(local *net.TCPAddr) []string {
	host, port := local.IP.String(), strconv.Itoa(local.Port)
	env := []string{
		"PGHOST=" + host,
		"PGPORT=" + port,
		"MYSQL_HOST=" + host,
		"MYSQL_TCP_PORT=" + port,
	}
	sslmode := t.SSLMode
	if sslmode == "" {
		// The tunnel's local end never matches the certificate's name,
		// so verify-full cannot work here; prefer keeps TLS where the
		// server offers it, as libpq does by default.
		sslmode = "prefer"
	}
	env = append(env, "PGSSLMODE="+sslmode)
	if t.User != "" {
		env = append(env, "PGUSER="+t.User)
	}
	if t.DBName != "" {
		env = append(env, "PGDATABASE="+t.DBName)
	}
	return append(env, "DATABASE_URL="+t.URL(local))
}

// URL is the connection string for the tunnel's local end, without a
// password.
func (t Target) URL(local *net.TCPAddr) string {
	u := url.URL{Scheme: "postgres", Host: local.String()}
	switch t.Engine {
	case "mysql", "mariadb", "aurora-mysql":
		u.Scheme = "mysql"
	}
	if t.User != "" {
		u.User = url.User(t.User)
	}
	if t.DBName != "" {
		u.Path = "/" + t.DBName
	}
	if u.Scheme != "mysql" {
		sslmode := t.SSLMode
		if sslmode == "" {
			sslmode = "prefer"
		}
		u.RawQuery = url.Values{"sslmode": {sslmode}}.Encode()
	}
	return u.String()
}
