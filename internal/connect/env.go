package connect

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dbtunnel/dbtunnel/internal/creds"
)

// MySQLDefaultsVar names the option file `exec` writes for MySQL targets
// with a password, for `mysql --defaults-extra-file="$DBTUNNEL_MYSQL_CNF"`.
const MySQLDefaultsVar = "DBTUNNEL_MYSQL_CNF"

// Env is what `exec` adds to the command's environment for a tunnel
// listening on local, without a password.
func (t Target) Env(local *net.TCPAddr) []string { return t.EnvWith(local, nil) }

// URL is the connection string for the tunnel's local end, without a
// password.
func (t Target) URL(local *net.TCPAddr) string { return t.ConnURL(local, nil).String() }

// verifyHost reports whether the client must check the certificate against
// the database's real name: with sslmode verify-full, the local address
// (127.0.0.1) never matches it, so PGHOST names the endpoint and
// PGHOSTADDR the tunnel.
func (t Target) verifyHost() bool {
	return t.SSLMode == "verify-full" && t.Engine != "mysql" && t.Host != ""
}

func (t Target) sslmode() string {
	switch {
	case t.SSLMode != "":
		return t.SSLMode
	case t.Auth != nil && t.Auth.Kind == creds.KindIAMToken:
		// RDS accepts IAM tokens only over TLS.
		return "require"
	}
	// prefer keeps TLS where the server offers it, as libpq does.
	return "prefer"
}

// EnvWith is Env with the credential c (nil: none): the libpq and MySQL
// client variables and DATABASE_URL. The password goes only into the
// variables of the target's engine and DATABASE_URL.
func (t Target) EnvWith(local *net.TCPAddr, c *creds.Credential) []string {
	host, port := local.IP.String(), strconv.Itoa(local.Port)
	pgHost := host
	if t.verifyHost() {
		pgHost = t.Host
	}
	env := []string{
		"PGHOST=" + pgHost,
		"PGPORT=" + port,
		"MYSQL_HOST=" + host,
		"MYSQL_TCP_PORT=" + port,
		"PGSSLMODE=" + t.sslmode(),
	}
	if t.verifyHost() {
		env = append(env, "PGHOSTADDR="+host)
	}
	if t.SSLRootCert != "" {
		env = append(env, "PGSSLROOTCERT="+t.SSLRootCert)
	}
	user := t.User
	if c != nil {
		user = c.User
	}
	if user != "" {
		env = append(env, "PGUSER="+user)
	}
	if t.DBName != "" {
		env = append(env, "PGDATABASE="+t.DBName)
	}
	if c != nil {
		if t.Engine == "mysql" {
			env = append(env, "MYSQL_PWD="+c.Password)
		} else {
			env = append(env, "PGPASSWORD="+c.Password)
		}
	}
	return append(env, "DATABASE_URL="+t.ConnURL(local, c).String())
}

// ConnURL is the connection string for the tunnel's local end, with c's
// user and password when c is not nil. Print it with Redacted unless the
// user asked for the password.
func (t Target) ConnURL(local *net.TCPAddr, c *creds.Credential) *url.URL {
	u := &url.URL{Scheme: "postgres", Host: local.String()}
	if t.Engine == "mysql" {
		u.Scheme = "mysql"
	}
	switch {
	case c != nil:
		u.User = url.UserPassword(c.User, c.Password)
	case t.User != "":
		u.User = url.User(t.User)
	}
	if t.DBName != "" {
		u.Path = "/" + t.DBName
	}
	if u.Scheme == "mysql" {
		return u
	}
	q := url.Values{"sslmode": {t.sslmode()}}
	if t.verifyHost() {
		u.Host = net.JoinHostPort(t.Host, strconv.Itoa(local.Port))
		q.Set("hostaddr", local.IP.String())
	}
	if t.SSLRootCert != "" {
		q.Set("sslrootcert", t.SSLRootCert)
	}
	u.RawQuery = q.Encode()
	return u
}

// WriteMySQLDefaults writes a MySQL option file (mode 0600) holding the
// login for the tunnel's local end into dir, for clients that should not
// read MYSQL_PWD, and returns its path. The caller removes it.
func (t Target) WriteMySQLDefaults(dir string, local *net.TCPAddr, c *creds.Credential) (string, error) {
	quote := func(s string) string {
		// Option values in double quotes take backslash escapes.
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[client]\nhost=%s\nport=%d\nprotocol=TCP\n", local.IP, local.Port)
	if c != nil {
		fmt.Fprintf(&b, "user=%s\npassword=%s\n", quote(c.User), quote(c.Password))
	}
	// database only under [mysql]: mysqldump and mysqladmin read
	// [client] too and refuse an option they do not know.
	if t.DBName != "" {
		fmt.Fprintf(&b, "[mysql]\ndatabase=%s\n", quote(t.DBName))
	}
	f, err := os.CreateTemp(dir, "dbtunnel-"+t.Name+"-*.cnf")
	if err != nil {
		return "", fmt.Errorf("mysql option file for %s: %w", t.Name, err)
	}
	path := filepath.Clean(f.Name())
	// CreateTemp makes it 0600 already; say so rather than rely on it.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.WriteString(b.String())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("mysql option file for %s: %w", t.Name, err)
	}
	return path, nil
}
