package connect

import (
	"net"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/internal/creds"
)

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestEnvWithCredential(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25432}
	c := &creds.Credential{User: "postgres", Password: "p@ss:w/rd"}
	pg := Target{Name: "pg", Engine: "postgres", Host: "db.abc.ap-northeast-1.rds.amazonaws.com", Port: 5432, DBName: "shop"}

	m := envMap(pg.EnvWith(local, c))
	if m["PGPASSWORD"] != c.Password || m["PGUSER"] != "postgres" || m["PGHOST"] != "127.0.0.1" || m["MYSQL_PWD"] != "" ||
		m["DATABASE_URL"] != "postgres://postgres:p%40ss%3Aw%2Frd@127.0.0.1:25432/shop?sslmode=prefer" {
		t.Errorf("postgres env: %v", m)
	}
	if _, ok := m["PGHOSTADDR"]; ok {
		t.Error("PGHOSTADDR without verify-full")
	}
	if m := envMap(pg.Env(local)); m["PGPASSWORD"] != "" || strings.Contains(m["DATABASE_URL"], "@") {
		t.Errorf("without a credential: %v", m)
	}

	// verify-full: the certificate is checked against the real name while
	// the connection goes to the tunnel.
	v := pg
	v.SSLMode, v.SSLRootCert = "verify-full", "/ca/rds.pem"
	m = envMap(v.EnvWith(local, c))
	if m["PGHOST"] != pg.Host || m["PGHOSTADDR"] != "127.0.0.1" || m["PGPORT"] != "25432" || m["PGSSLMODE"] != "verify-full" || m["PGSSLROOTCERT"] != "/ca/rds.pem" ||
		m["DATABASE_URL"] != "postgres://postgres:p%40ss%3Aw%2Frd@"+pg.Host+":25432/shop?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=%2Fca%2Frds.pem" {
		t.Errorf("verify-full env: %v", m)
	}

	// IAM tokens need TLS; an explicit sslmode still wins.
	iam := pg
	iam.Auth = &creds.Request{Kind: creds.KindIAMToken}
	if m := envMap(iam.EnvWith(local, c)); m["PGSSLMODE"] != "require" {
		t.Errorf("iam sslmode %s", m["PGSSLMODE"])
	}

	my := Target{Name: "my", Engine: "mysql", Host: "db", Port: 3306, DBName: "shop"}
	m = envMap(my.EnvWith(local, &creds.Credential{User: "admin", Password: `pa"ss\`}))
	if m["MYSQL_PWD"] != `pa"ss\` || m["PGPASSWORD"] != "" || !strings.HasPrefix(m["DATABASE_URL"], "mysql://admin:") {
		t.Errorf("mysql env: %v", m)
	}
	dir := t.TempDir()
	path, err := my.WriteMySQLDefaults(dir, local, &creds.Credential{User: "admin", Password: `pa"ss\`})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("option file mode: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	want := "[client]\nhost=127.0.0.1\nport=25432\nprotocol=TCP\nuser=\"admin\"\npassword=\"pa\\\"ss\\\\\"\n[mysql]\ndatabase=\"shop\"\n"
	if string(b) != want {
		t.Errorf("option file:\n%s\nwant:\n%s", b, want)
	}
}

func TestWithAuth(t *testing.T) {
	found := func(kind discovery.Kind, secret, admin string) *Found {
		return &Found{Database: discovery.Database{Name: "db1", Kind: kind, MasterUserSecretARN: secret, MasterUsername: admin}}
	}
	base := Target{Name: "t", Host: "db1.example.com", Port: 5432, Region: "us-east-1"}
	for _, tc := range []struct {
		name  string
		t     Target
		auth  *config.Auth
		want  *creds.Request
		error string
	}{
		{"explicit, no auth", base, nil, nil, ""},
		{"auto picks the master secret", with(base, found(discovery.KindRDSInstance, "arn:s", "postgres"), ""), nil,
			&creds.Request{Kind: creds.KindSecret, SecretID: "arn:s"}, ""},
		{"auto and the admin user", with(base, found(discovery.KindAuroraCluster, "arn:s", "postgres"), "postgres"), &config.Auth{Source: "auto"},
			&creds.Request{Kind: creds.KindSecret, SecretID: "arn:s", User: "postgres"}, ""},
		{"auto and another user", with(base, found(discovery.KindRDSInstance, "arn:s", "postgres"), "app"), nil, nil, ""},
		{"auto without a secret", with(base, found(discovery.KindRDSInstance, "", "postgres"), ""), nil, nil, ""},
		{"none", with(base, found(discovery.KindRDSInstance, "arn:s", ""), ""), &config.Auth{Source: "none"}, nil, ""},
		{"master-secret missing", with(base, found(discovery.KindRDSInstance, "", ""), ""), &config.Auth{Source: "master-secret"}, nil,
			"target t: rds-instance db1 keeps no admin password in Secrets Manager"},
		{"named secret", base, &config.Auth{Source: "secret", Secret: "prod/app"}, &creds.Request{Kind: creds.KindSecret, SecretID: "prod/app"}, ""},
		{"iam signs for the real endpoint", with(base, found(discovery.KindRDSInstance, "", ""), "iam_app"), &config.Auth{Source: "iam"},
			&creds.Request{Kind: creds.KindIAMToken, User: "iam_app", Host: "db1.example.com", Port: 5432}, ""},
		{"iam on redshift", with(base, found(discovery.KindRedshiftCluster, "", ""), "a"), &config.Auth{Source: "iam"}, nil, "for Redshift use auth.source redshift-iam"},
		{"redshift cluster", with(base, found(discovery.KindRedshiftCluster, "", ""), "analyst"), &config.Auth{Source: "redshift-iam", AutoCreate: true},
			&creds.Request{Kind: creds.KindRedshiftCluster, User: "analyst", Cluster: "db1", AutoCreate: true}, ""},
		{"redshift cluster without user", with(base, found(discovery.KindRedshiftCluster, "", ""), ""), &config.Auth{Source: "redshift-iam"}, nil, "needs user"},
		{"redshift serverless", with(base, found(discovery.KindRedshiftServerless, "", ""), "ignored"), &config.Auth{Source: "redshift-iam"},
			&creds.Request{Kind: creds.KindRedshiftServerless, Workgroup: "db1"}, ""},
		{"redshift-iam on postgres", with(base, found(discovery.KindRDSInstance, "", ""), "a"), &config.Auth{Source: "redshift-iam"}, nil, "is not one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := &config.Target{Auth: tc.auth, SSLRootCert: "/ca.pem"}
			got, err := withAuth(tc.t, ct)
			if tc.error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("error %v, want %q", err, tc.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.SSLRootCert != "/ca.pem" {
				t.Errorf("sslrootcert not carried")
			}
			if tc.want == nil {
				if got.Auth != nil {
					t.Errorf("auth %+v, want none", got.Auth)
				}
				return
			}
			w := *tc.want
			w.Target, w.Region, w.DBName = "t", "us-east-1", got.DBName
			if got.Auth == nil || !reflect.DeepEqual(*got.Auth, w) {
				t.Errorf("auth %+v, want %+v", got.Auth, w)
			}
		})
	}
}

func with(t Target, f *Found, user string) Target {
	t.Found, t.User = f, user
	return t
}
