package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// credsWorld is a region with a database of every credential kind, behind
// a bastion that reaches them all.
type credsWorld struct {
	f        *awsfake.Fake
	r        *awsfake.Region
	pg       *awsfake.DBInstance
	wg       *awsfake.Workgroup
	rs       *awsfake.RedshiftCluster
	appARN   string
	pgSecret struct{ Username, Password string }
}

func newCredsWorld(t *testing.T) *credsWorld {
	w := &credsWorld{f: awsfake.NewServer(t)}
	w.r = w.f.Account(testAccount, testKey).Region(testRegion)
	vpc := w.r.VPC("10.0.0.0/16")
	priv := vpc.Subnet("10.0.2.0/24").WithNAT()
	priv2 := vpc.Subnet("10.0.3.0/24").WithNAT()
	sgB := vpc.SecurityGroup("bastion")
	w.r.Instance("bastion-private", priv, sgB).InstanceProfile("ssm-core").SSMOnline()
	sgDB := vpc.SecurityGroup("db").AllowIngressFromGroup("tcp", 5432, sgB).AllowIngressFromGroup("tcp", 5439, sgB)
	subnets := []*awsfake.Subnet{priv, priv2}
	w.pg = w.r.RDSInstance("orders", "postgres", subnets, sgDB).ManagedSecret().IAMAuth()
	w.wg = w.r.ServerlessWorkgroup("analytics", subnets, sgDB).ManagedAdminSecret()
	w.rs = w.r.RedshiftCluster("warehouse", subnets, sgDB)
	w.appARN = w.r.Secret("prod/app", `{"username":"app","password":"app-Pa55/w0rd?&"}`)
	v, _ := w.r.SecretValue(w.pg.SecretARN())
	if err := json.Unmarshal([]byte(v), &w.pgSecret); err != nil || w.pgSecret.Password == "" {
		t.Fatalf("managed secret %q: %v", v, err)
	}
	for _, kv := range w.f.Env(testKey, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return w
}

const credsConfig = `
targets:
  orders-auto:
    database: orders
    local_port: 25432
  orders-other-user:
    database: orders
    user: reporting
    local_port: 25432
  orders-iam:
    database: orders
    user: iam_app
    local_port: 25432
    auth: {source: iam}
  orders-none:
    database: orders
    local_port: 25432
    auth: {source: none}
  app:
    host: db.internal.example.com
    port: 5432
    bastion: i-0123456789abcdef0
    dbname: shop
    local_port: 25433
    auth: {source: secret, secret: prod/app}
  missing:
    host: db.internal.example.com
    port: 5432
    bastion: i-0123456789abcdef0
    local_port: 25433
    auth: {source: secret, secret: prod/nope}
  wh:
    database: warehouse
    user: analyst
    local_port: 25439
    auth: {source: redshift-iam, duration: 30m, auto_create: true}
  sls:
    database: analytics
    local_port: 25439
    auth: {source: redshift-iam}
  sls-admin:
    database: analytics
    local_port: 25439
`

func TestURLRedactsPassword(t *testing.T) {
	w := newCredsWorld(t)
	cfg := writeConfig(t, credsConfig)
	home := t.TempDir()
	logFile := filepath.Join(t.TempDir(), "dbtunnel.log")
	env := map[string]string{"DBTUNNEL_CONFIG": cfg}
	run := func(args ...string) result {
		t.Helper()
		r := runAppIn(t, home, env, append([]string{"--log-level", "debug", "--log-file", logFile}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		return r
	}
	pw := w.pgSecret.Password

	r := run("url", "orders-auto")
	if got := strings.TrimSpace(r.stdout); got != "postgres://postgres:xxxxx@127.0.0.1:25432?sslmode=prefer" {
		t.Errorf("url orders-auto = %s", got)
	}
	r = run("url", "orders-auto", "--show-password")
	u, err := url.Parse(strings.TrimSpace(r.stdout))
	if p, _ := u.User.Password(); err != nil || u.User.Username() != "postgres" || p != pw {
		t.Errorf("--show-password: %s (want the managed secret's password)", r.stdout)
	}
	r = run("url", "app")
	if got := strings.TrimSpace(r.stdout); got != "postgres://app:xxxxx@127.0.0.1:25433/shop?sslmode=prefer" {
		t.Errorf("url app = %s", got)
	}
	r = run("url", "app", "--show-password")
	u, _ = url.Parse(strings.TrimSpace(r.stdout))
	if p, _ := u.User.Password(); p != "app-Pa55/w0rd?&" {
		t.Errorf("app password through the URL: %q from %s", p, r.stdout)
	}
	// Auto leaves alone a target that logs in as another user, and none
	// means none: no secret is read for either.
	calls := w.f.Calls("secretsmanager:GetSecretValue")
	for _, name := range []string{"orders-other-user", "orders-none"} {
		r = run("url", name, "--show-password")
		if strings.Contains(r.stdout, "xxxxx") || strings.Contains(r.stdout, pw) {
			t.Errorf("url %s = %s: want no password", name, r.stdout)
		}
	}
	if n := w.f.Calls("secretsmanager:GetSecretValue"); n != calls {
		t.Errorf("%d secrets read for targets without a source", n-calls)
	}

	// Redshift: temporary credentials, and the Serverless admin secret
	// chosen by auto.
	r = run("url", "wh", "--show-password")
	u, _ = url.Parse(strings.TrimSpace(r.stdout))
	if p, _ := u.User.Password(); u.User.Username() != "IAM:analyst" || len(p) < 16 {
		t.Errorf("wh: %s", r.stdout)
	}
	r = run("url", "sls")
	if got := strings.TrimSpace(r.stdout); got != "postgres://IAM%3Adbtunnel:xxxxx@127.0.0.1:25439?sslmode=prefer" {
		t.Errorf("url sls = %s", got)
	}
	r = run("url", "sls-admin")
	if got := strings.TrimSpace(r.stdout); got != "postgres://admin:xxxxx@127.0.0.1:25439?sslmode=prefer" {
		t.Errorf("url sls-admin = %s", got)
	}

	// IAM: a token signed for the database's endpoint, TLS required.
	r = run("url", "orders-iam", "--show-password")
	u, _ = url.Parse(strings.TrimSpace(r.stdout))
	tok, _ := u.User.Password()
	tu, err := url.Parse("https://" + tok)
	if err != nil || tu.Host != w.pg.Endpoint().String() || tu.Query().Get("DBUser") != "iam_app" || u.Query().Get("sslmode") != "require" {
		t.Errorf("iam token for %s (want %s), sslmode %s: %v", tu.Host, w.pg.Endpoint(), u.Query().Get("sslmode"), err)
	}

	// A source that fails says which and what to do, and exits 1.
	r = runAppIn(t, home, env, "--log-level", "debug", "--log-file", logFile, "url", "missing")
	if r.code != 1 || !strings.Contains(r.stderr, "credentials for missing from secret prod/nope: ") ||
		!strings.Contains(r.stderr, "ResourceNotFoundException") || !strings.Contains(r.stderr, "auth: {source: none}") {
		t.Errorf("missing secret: exit %d: %s", r.code, r.stderr)
	}

	// The log (at debug) and the discovery cache never hold a password.
	logged, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(logged), "database credential fetched") {
		t.Fatalf("log: %v\n%s", err, logged)
	}
	for _, secret := range []string{pw, "app-Pa55/w0rd?&", url.QueryEscape("app-Pa55/w0rd?&")} {
		if strings.Contains(string(logged), secret) {
			t.Errorf("the log holds a password:\n%s", logged)
		}
		cached := 0
		filepath.WalkDir(filepath.Join(home, ".cache"), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			cached++
			if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
				t.Errorf("cache file %s holds a password", p)
			}
			return nil
		})
		if cached == 0 {
			t.Error("no discovery cache written: the check proves nothing")
		}
	}
}

// exec's MySQL branch: the password in MYSQL_PWD and in a 0600 option
// file that exists while the command runs and is gone when exec returns;
// nothing in the libpq variables.
func TestExecMySQLOptionFile(t *testing.T) {
	newCredsWorld(t) // the prod/app secret, and the AWS environment
	echo := lineEcho(t)
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	const instance = "i-0123456789abcdef0"
	svc.AddTarget(instance, ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())
	cfg := writeConfig(t, fmt.Sprintf(`
targets:
  shop:
    host: 127.0.0.1
    port: %d
    engine: aurora-mysql
    via: ssm
    bastion: %s
    region: %s
    dbname: shop
    auth: {source: secret, secret: prod/app}
`, echo.Port, instance, testRegion))
	script := `printf '%s\n' "$DBTUNNEL_MYSQL_CNF" "$(stat -c %a "$DBTUNNEL_MYSQL_CNF")" "${PGPASSWORD-unset}"
[ "$MYSQL_PWD" = "$(sed -n 's/^password="\(.*\)"$/\1/p' "$DBTUNNEL_MYSQL_CNF")" ] && echo same-password
cat "$DBTUNNEL_MYSQL_CNF"`
	r := runApp(t, nil, "--config", cfg, "exec", "shop", "--", "sh", "-c", script)
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	lines := strings.SplitN(r.stdout, "\n", 5)
	if len(lines) != 5 {
		t.Fatalf("output %q", r.stdout)
	}
	path, mode, pgpw, same, cnf := lines[0], lines[1], lines[2], lines[3], lines[4]
	if mode != "600" || pgpw != "unset" || same != "same-password" {
		t.Errorf("option file mode %s, PGPASSWORD %s, MYSQL_PWD matches the file: %s", mode, pgpw, same)
	}
	for _, want := range []string{"[client]\n", "user=\"app\"\n", "password=\"app-Pa55/w0rd?&\"\n", "[mysql]\ndatabase=\"shop\"\n"} {
		if !strings.Contains(cnf, want) {
			t.Errorf("option file lacks %q:\n%s", want, cnf)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) || !filepath.IsAbs(path) {
		t.Errorf("option file %q after exec: %v (want removed)", path, err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("option file's directory %s left behind: %v", filepath.Dir(path), err)
	}
}
