//go:build linux

package e2e

// Database credentials end to end: the password of a PostgreSQL role that
// must log in with scram-sha-256 (pg_hba, for the bastion's side, where
// tunnelled connections come from) lives only in a secret in moto's
// Secrets Manager; `dbtunnel exec` fetches it and hands it to psql through
// the environment. While psql is connected, every process's command line,
// dbtunnel's debug log and its cache are searched for the password.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

func motoConfig(m *moto) aws.Config {
	return aws.Config{
		Region:       motoRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(motoKey, motoSecret, ""),
		BaseEndpoint: aws.String(m.URL),
	}
}

// withAWS replaces the AWS part of env with moto's.
func withAWS(env []string, m *moto) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return append(out,
		"AWS_ACCESS_KEY_ID="+motoKey, "AWS_SECRET_ACCESS_KEY="+motoSecret, "AWS_REGION="+motoRegion,
		"AWS_ENDPOINT_URL="+m.URL, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	)
}

// writeAuthConfig writes target pg (the bed's database through its
// bastion) with the given auth block and no user: the secret names it.
func writeAuthConfig(t *testing.T, l *Laptop, auth string) {
	t.Helper()
	b := l.bed
	cfg := fmt.Sprintf(`targets:
  pg:
    host: %s
    port: %d
    via: ssh
    region: %s
    dbname: postgres
    sslmode: disable
    auth: %s
    ssh:
      host: %s
      port: %d
      user: root
      identity_file: %s
      known_hosts: %s
`, b.DBIP, b.DBPort, motoRegion, auth, b.BastionIP, b.SSHPort, l.Identity, l.KnownHosts)
	if err := os.WriteFile(l.ConfigPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// setAppPassword sets the app role's password, with the SQL on stdin so
// that it is in no command line; the bed's own password comes back after
// the test.
func setAppPassword(t *testing.T, b *Bed, pw string) {
	t.Helper()
	run := func(pw string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := b.DBPsql(ctx, "-f", "-")
		cmd.Stdin = strings.NewReader(fmt.Sprintf("alter role %s password '%s';\n", b.AppUser, strings.ReplaceAll(pw, "'", "''")))
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := run(pw); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := run(b.AppPassword); err != nil {
			t.Errorf("restore app password: %v", err)
		}
	})
}

// cmdlinesWith lists the processes whose command line holds s.
func cmdlinesWith(s string) []string {
	var hits []string
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), s) {
			hits = append(hits, p+": "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return hits
}

func cmdlinesMatching(pred func(argv []string) bool) int {
	n := 0
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && pred(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")) {
			n++
		}
	}
	return n
}

// filesHolding lists the files under dir whose content holds s.
func filesHolding(t *testing.T, dir, s string) (hits []string, files int) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		files++
		if b, _ := os.ReadFile(p); strings.Contains(string(b), s) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits, files
}

func TestExecPasswordFromSecretsManager(t *testing.T) {
	b := requireBed(t)
	m := startMoto(t)
	ctx := context.Background()
	pw := "E2e-" + rand.Text() + "-pw"
	_, err := secretsmanager.NewFromConfig(motoConfig(m)).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("e2e/app"),
		SecretString: aws.String(`{"username":"` + b.AppUser + `","password":"` + pw + `"}`),
	})
	if err != nil {
		t.Fatalf("create secret in moto: %v", err)
	}
	setAppPassword(t, b, pw)
	l := b.NewLaptop(t)
	logFile := filepath.Join(l.Home, "dbtunnel.log")

	// Without the secret there is no way in: pg_hba wants app's password.
	writeAuthConfig(t, l, "{source: none}")
	ctxNone, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	none := l.Dbtunnel(t, ctxNone, "exec", "pg", "--", "psql", "-X", "-w", "-tA", "-U", b.AppUser, "-c", "select current_user")
	none.Env = withAWS(none.Env, m)
	out, err := none.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "password") {
		t.Fatalf("login without the secret: %v\n%s", err, out)
	}

	writeAuthConfig(t, l, "{source: secret, secret: e2e/app}")
	dir := t.TempDir()
	connected, release := filepath.Join(dir, "connected"), filepath.Join(dir, "release")
	for _, f := range []string{connected, release} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// psql logs in, prints the user, then stays connected (in its \!
	// shell) until the test has looked at every process.
	ctxRun, cancelRun := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelRun()
	cmd := l.Dbtunnel(t, ctxRun, "--log-level", "debug", "--log-file", logFile, "exec", "pg", "--",
		"psql", "-X", "-w", "-tA", "-v", "ON_ERROR_STOP=1", "-c", "select current_user",
		"-c", `\! echo connected > `+connected+`; read x < `+release)
	cmd.Env = withAWS(cmd.Env, m)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	ready := make(chan error, 1)
	go func() {
		// Opening a FIFO's read end blocks until the writer comes.
		f, err := os.Open(connected)
		if err == nil {
			_, err = io.ReadAll(f)
			f.Close()
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctxRun.Done():
		t.Fatalf("psql never connected; stderr:\n%s", stderr.String())
	}

	if hits := cmdlinesWith(pw); len(hits) > 0 {
		t.Errorf("password in command lines:\n%s", strings.Join(hits, "\n"))
	}
	// The scan saw the live processes: psql among them.
	if n := cmdlinesMatching(func(argv []string) bool {
		return len(argv) > 0 && filepath.Base(argv[0]) == "psql" && strings.Contains(strings.Join(argv, " "), "select current_user")
	}); n == 0 {
		t.Error("psql not found among the processes scanned")
	}
	// Its environment is where the password is meant to be.
	if n := cmdlinesMatching(func(argv []string) bool { return len(argv) > 0 && filepath.Base(argv[0]) == "psql" }); n > 0 {
		found := false
		paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range paths {
			b, _ := os.ReadFile(p)
			if strings.HasPrefix(filepath.Base(strings.Split(string(b), "\x00")[0]), "psql") {
				env, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "environ"))
				found = found || strings.Contains(string(env), "\x00PGPASSWORD="+pw+"\x00")
			}
		}
		if !found {
			t.Error("PGPASSWORD not in psql's environment")
		}
	}

	rel, err := os.OpenFile(release, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	rel.WriteString("go\n")
	rel.Close()
	var got []string
	for ln := range lines {
		got = append(got, ln)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exec: %v\nstdout: %v\nstderr:\n%s", err, got, stderr.String())
	}
	if len(got) == 0 || got[0] != b.AppUser {
		t.Errorf("current_user: %v, want %s", got, b.AppUser)
	}

	logged, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(logged), "level=DEBUG") || !strings.Contains(string(logged), "database credential fetched") {
		t.Fatalf("debug log missing: %v\n%s", err, logged)
	}
	if strings.Contains(string(logged), pw) {
		t.Errorf("password in the log:\n%s", logged)
	}
	if strings.Contains(stderr.String(), pw) {
		t.Errorf("password on stderr")
	}
	if hits, _ := filesHolding(t, l.Home, pw); len(hits) > 0 {
		t.Errorf("password in files under the laptop's HOME (cache, config, state): %v", hits)
	}
	// exec removed what it wrote (nothing for PostgreSQL; MySQL's option
	// file lives in a temp dir of its own).
	if matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "dbtunnel-*", "*.cnf")); len(matches) > 0 {
		t.Errorf("left behind: %v", matches)
	}
}

// The RDS master user secret, end to end against moto: an instance created
// with ManageMasterUserPassword reports MasterUserSecret; discovery carries
// its ARN (never the value) into the cache, and `url` shows the password
// only when asked.
func TestMotoMasterUserSecret(t *testing.T) {
	requireTools(t, "moto_server", "aws")
	m := startMoto(t)
	fake := awsfake.NewServer(t)
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := motoEnv(home, m.URL, fake.URL)
	// Seed 000's network and bastions, and an instance of our own behind
	// them whose master password RDS manages.
	w := seedMoto(t, m, env)
	fake.Account(motoAccount, motoKey).Region(motoRegion).ExternalInstance(w.privBastion, w.privIP).InstanceProfile("ssm-core").SSMOnline()
	ctx := context.Background()
	cfg := motoConfig(m)
	out, err := rds.NewFromConfig(cfg).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBSubnetGroupName:        aws.String("seed-000"),
		VpcSecurityGroupIds:      []string{w.sgDB},
		DBInstanceIdentifier:     aws.String("orders"),
		DBInstanceClass:          aws.String("db.t4g.micro"),
		Engine:                   aws.String("postgres"),
		MasterUsername:           aws.String("postgres"),
		ManageMasterUserPassword: aws.Bool(true),
		AllocatedStorage:         aws.Int32(20),
	})
	if err != nil {
		t.Fatalf("create instance in moto: %v", err)
	}
	if out.DBInstance.MasterUserSecret == nil {
		t.Fatal("moto did not report MasterUserSecret")
	}
	arn := aws.ToString(out.DBInstance.MasterUserSecret.SecretArn)
	sv, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatalf("moto secret %s: %v", arn, err)
	}
	var secret struct{ Username, Password string }
	if err := json.Unmarshal([]byte(aws.ToString(sv.SecretString)), &secret); err != nil || secret.Password == "" {
		t.Fatalf("moto's secret is not JSON with a password: %v", err)
	}

	bin := motoBinary(t)
	cfgPath := filepath.Join(home, "dbtunnel.yaml")
	if err := os.WriteFile(cfgPath, []byte("targets:\n  orders:\n    database: orders\n    local_port: 25432\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(home, "dbtunnel.log")
	args := []string{"--config", cfgPath, "--log-level", "debug", "--log-file", logFile, "url", "orders"}

	r := runMotoDbtunnel(t, bin, home, env, args...)
	// moto writes the secret with username "admin" whatever MasterUsername
	// says (AWS writes the master user): the user comes from the secret.
	if r.code != 0 || strings.TrimSpace(r.stdout) != "postgres://"+secret.Username+":xxxxx@127.0.0.1:25432?sslmode=prefer" {
		t.Fatalf("url: exit %d: %q", r.code, r.stdout)
	}
	r = runMotoDbtunnel(t, bin, home, env, append(args, "--show-password")...)
	u, err := url.Parse(strings.TrimSpace(r.stdout))
	if p, _ := u.User.Password(); r.code != 0 || err != nil || u.User.Username() != secret.Username || p != secret.Password {
		t.Fatalf("url --show-password: exit %d: %q (want moto's secret)", r.code, r.stdout)
	}

	hits, files := filesHolding(t, filepath.Join(home, ".cache"), secret.Password)
	if files == 0 {
		t.Fatal("no discovery cache written")
	}
	if len(hits) > 0 {
		t.Errorf("password in the cache: %v", hits)
	}
	if arnHits, _ := filesHolding(t, filepath.Join(home, ".cache"), arn); len(arnHits) == 0 {
		t.Error("the cache does not hold the secret's ARN: discovery lost MasterUserSecret")
	}
	logged, _ := os.ReadFile(logFile)
	if strings.Contains(string(logged), secret.Password) || !strings.Contains(string(logged), "database credential fetched") {
		t.Errorf("log holds the password, or no fetch was logged:\n%s", logged)
	}
}
