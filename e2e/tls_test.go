//go:build linux

package e2e

// TLS through the tunnel: PostgreSQL serves a certificate for an RDS-like
// endpoint name, which the bastion resolves to the database; `exec` with
// sslmode verify-full sets PGHOST to that name and PGHOSTADDR to the
// tunnel, so libpq checks the certificate against the real name while it
// connects to 127.0.0.1.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a server certificate for dnsName and its key, in PEM.
func (ca *testCA) issue(t *testing.T, dnsName string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: dnsName},
		DNSNames:     []string{dnsName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// resolveInBastion makes name resolve to ip for the bastion's sshd, which
// dials tunnelled connections: `ip netns exec` bind-mounts
// /etc/netns/NS/hosts over /etc/hosts for what it starts, so sshd is
// restarted to see it. The machine's /etc/hosts is not touched.
func resolveInBastion(t *testing.T, b *Bed, name, ip string) {
	t.Helper()
	dir := filepath.Join("/etc/netns", b.BastionNS)
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists already: not ours to replace", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := fmt.Sprintf("127.0.0.1 localhost\n::1 localhost\n%s %s\n", ip, name)
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	// Registered before StopSSHD's own cleanup, so it runs after sshd is
	// back: the running sshd keeps its view; later starts get the usual.
	t.Cleanup(func() { os.RemoveAll(dir) })
	b.StopSSHD(t)
	b.StartSSHD(t)
	b.WaitSSHD(t)
}

// enableSSL turns TLS on in the bed's PostgreSQL with the given certificate
// until the test ends.
func enableSSL(t *testing.T, b *Bed, certPEM, keyPEM []byte) {
	t.Helper()
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	dir, err := os.MkdirTemp(b.pgDir, "tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, certPEM}, {keyFile, keyPEM}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(f.path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	// ALTER SYSTEM cannot run in the implicit transaction of one -c.
	psql := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := b.DBPsql(ctx, "-f", "-")
		cmd.Stdin = strings.NewReader(sql)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	waitSSL := func(want string) error {
		return pollUntil(30*time.Second, func() (bool, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := b.DBPsql(ctx, "-tA", "-c", "show ssl").Output()
			return err == nil && strings.TrimSpace(string(out)) == want, nil
		})
	}
	sql := fmt.Sprintf("alter system set ssl_cert_file = '%s';\nalter system set ssl_key_file = '%s';\nalter system set ssl = on;\nselect pg_reload_conf();\n", certFile, keyFile)
	if err := psql(sql); err != nil {
		t.Fatalf("enable ssl: %v", err)
	}
	t.Cleanup(func() {
		if err := psql("alter system reset ssl;\nalter system reset ssl_cert_file;\nalter system reset ssl_key_file;\nselect pg_reload_conf();\n"); err != nil {
			t.Errorf("disable ssl: %v", err)
			return
		}
		if err := waitSSL("off"); err != nil {
			t.Errorf("ssl still on: %v", err)
		}
	})
	if err := waitSSL("on"); err != nil {
		t.Fatalf("ssl not on after reload: %v\n%s", err, tailFile(b.pgLog, 2000))
	}
}

func TestExecVerifyFullThroughTunnel(t *testing.T) {
	b := requireBed(t)
	name := fmt.Sprintf("e2e-%d.cluster-abc123.ap-northeast-1.rds.amazonaws.com", os.Getpid())
	ca, wrong := newTestCA(t, "dbtunnel e2e RDS CA"), newTestCA(t, "someone else's CA")
	certPEM, keyPEM := ca.issue(t, name)
	enableSSL(t, b, certPEM, keyPEM)
	resolveInBastion(t, b, name, b.DBIP)

	l := b.NewLaptop(t)
	caFile, wrongFile := filepath.Join(l.Home, "rds-ca.pem"), filepath.Join(l.Home, "wrong-ca.pem")
	for f, data := range map[string][]byte{caFile: ca.pem, wrongFile: wrong.pem} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeTLSConfig := func(rootCert string) {
		cfg := fmt.Sprintf(`targets:
  pg:
    host: %s
    port: %d
    via: ssh
    user: postgres
    dbname: postgres
    sslmode: verify-full
    sslrootcert: %s
    ssh:
      host: %s
      port: %d
      user: root
      identity_file: %s
      known_hosts: %s
`, name, b.DBPort, rootCert, b.BastionIP, b.SSHPort, l.Identity, l.KnownHosts)
		if err := os.WriteFile(l.ConfigPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	query := "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()"
	script := `printf '%s %s %s\n' "$PGHOST" "$PGHOSTADDR" "$PGSSLMODE"; exec psql -X -w -tA -F ' ' -c "$1"`

	writeTLSConfig(caFile)
	r := l.Run(t, 2*time.Minute, "exec", "pg", "--", "sh", "-c", script, "sh", query)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.Code != 0 || len(lines) != 2 || lines[0] != name+" 127.0.0.1 verify-full" || !strings.HasPrefix(lines[1], "t TLS") {
		t.Fatalf("verify-full with the right CA: exit %d\nstdout %q\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
	// The URL carries the same for drivers that read only DATABASE_URL.
	r = l.Run(t, 2*time.Minute, "exec", "pg", "--", "sh", "-c", `exec psql -X -w -tA -d "$DATABASE_URL" -c "$1"`, "sh", query)
	if r.Code != 0 || !strings.HasPrefix(strings.TrimSpace(r.Stdout), "t|TLS") {
		t.Fatalf("verify-full through DATABASE_URL: exit %d\nstdout %q\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}

	// Another CA: the same tunnel, the certificate refused.
	writeTLSConfig(wrongFile)
	r = l.Run(t, 2*time.Minute, "exec", "pg", "--", "psql", "-X", "-w", "-tA", "-c", "select 1")
	if r.Code == 0 || !strings.Contains(r.Stderr, "certificate verify failed") {
		t.Fatalf("verify-full with the wrong CA: exit %d\nstdout %q\nstderr %s", r.Code, r.Stdout, r.Stderr)
	}
}
