package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAuthParses(t *testing.T) {
	c, err := Parse("t.yaml", []byte(y(
		"targets:",
		"  a:",
		"    database: prod-aurora",
		"    sslmode: verify-full",
		"    sslrootcert: ~/rds/global-bundle.pem",
		"    auth:",
		"      source: master-secret",
		"  b:",
		"    host: db.internal",
		"    port: 5432",
		"    bastion: i-0123456789abcdef0",
		"    auth: {source: secret, secret: prod/app}",
		"  c:",
		"    database: warehouse",
		"    user: analyst",
		"    auth:",
		"      source: redshift-iam",
		"      duration: 30m",
		"      auto_create: true",
		"      db_groups: [readers, etl]",
		"  d:",
		"    database: orders",
		"    user: iam_app",
		"    auth: {source: iam}",
		"  e:",
		"    database: orders",
		"    auth: {}",
	)), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	a := c.Targets["a"]
	if a.Auth == nil || a.Auth.Source != AuthMasterSecret || a.SSLRootCert != "/home/u/rds/global-bundle.pem" || a.SSLMode != "verify-full" {
		t.Errorf("a: %+v %+v", a, a.Auth)
	}
	if b := c.Targets["b"].Auth; b == nil || b.Source != AuthSecret || b.Secret != "prod/app" {
		t.Errorf("b: %+v", b)
	}
	if x := c.Targets["c"].Auth; x == nil || x.Source != AuthRedshiftIAM || x.Duration != 30*time.Minute || !x.AutoCreate || !slices.Equal(x.DBGroups, []string{"readers", "etl"}) {
		t.Errorf("c: %+v", x)
	}
	if d := c.Targets["d"].Auth; d == nil || d.Source != AuthIAM {
		t.Errorf("d: %+v", d)
	}
	if e := c.Targets["e"].Auth; e == nil || e.Source != "" {
		t.Errorf("e (empty block means auto): %+v", e)
	}
}

func TestAuthErrors(t *testing.T) {
	for _, tt := range []errorCase{
		{"unknown source", y(
			"targets:",
			"  x:",
			"    database: d",
			"    auth:",
			"      source: vault",
		), []string{`t.yaml:5:7: targets.x.auth.source: must be one of auto, none, master-secret, secret, iam, redshift-iam (got "vault")`}},
		{"typo and misplaced keys", y(
			"targets:",
			"  x:",
			"    database: d",
			"    secret: prod/app",
			"    auth:",
			"      sorce: secret",
			"      user: app",
		), []string{
			`t.yaml:4:5: targets.x.secret: unknown key; it belongs under auth`,
			`t.yaml:6:7: targets.x.auth.sorce: unknown key; did you mean "source"?`,
			`t.yaml:7:7: targets.x.auth.user: unknown key; it belongs under the target itself`,
		}},
		{"secret without its name", y(
			"targets:",
			"  x:",
			"    database: d",
			"    auth:",
			"      source: secret",
		), []string{`t.yaml:4:5: targets.x.auth: missing secret (the name or ARN of a Secrets Manager secret; required with source: secret)`}},
		{"keys of another source", y(
			"targets:",
			"  x:",
			"    database: d",
			"    auth:",
			"      source: master-secret",
			"      secret: prod/app",
			"      duration: 20m",
			"      auto_create: true",
			"      db_groups: [g]",
		), []string{
			`t.yaml:6:7: targets.x.auth.secret: only applies with source: secret (source is master-secret)`,
			`t.yaml:7:7: targets.x.auth.duration: only applies with source: redshift-iam (source is master-secret)`,
			`t.yaml:8:7: targets.x.auth.auto_create: only applies with source: redshift-iam (source is master-secret)`,
			`t.yaml:9:7: targets.x.auth.db_groups: only applies with source: redshift-iam (source is master-secret)`,
		}},
		{"auto is the default source", y(
			"targets:",
			"  x:",
			"    database: d",
			"    auth: {secret: s}",
		), []string{`t.yaml:4:12: targets.x.auth.secret: only applies with source: secret (source is auto)`}},
		{"iam without a user", y(
			"targets:",
			"  x:",
			"    database: d",
			"    auth: {source: iam}",
		), []string{`t.yaml:4:12: targets.x.auth.source: source: iam needs user on the target (the database user the token is for)`}},
		{"discovery-only sources with host", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: 5432",
			"    auth: {source: master-secret}",
			"  y:",
			"    host: h",
			"    port: 5439",
			"    auth: {source: redshift-iam}",
		), []string{
			`t.yaml:5:12: targets.x.auth.source: source: master-secret needs a discovered database (database: ...), not host and port`,
			`t.yaml:9:12: targets.y.auth.source: source: redshift-iam needs a discovered database (database: ...), not host and port`,
		}},
		{"bad values", y(
			"targets:",
			"  x:",
			"    database: d",
			"    sslrootcert: ~bob/ca.pem",
			"    auth:",
			"      source: redshift-iam",
			"      duration: 2h",
			"      auto_create: \"yes\"",
			"      db_groups: [a, a]",
			"  y:",
			"    database: d",
			"    auth: secret",
		), []string{
			`t.yaml:4:5: targets.x.sslrootcert: ~user is not supported; use ~/ or an absolute path (got "~bob/ca.pem")`,
			`t.yaml:7:7: targets.x.auth.duration: must be between 15m and 1h (got 2h0m0s)`,
			`t.yaml:8:7: targets.x.auth.auto_create: expected true or false (got "yes")`,
			`t.yaml:9:22: targets.x.auth.db_groups[1]: "a" is already listed at [0]`,
			`t.yaml:12:5: targets.y.auth: expected a mapping (got "secret")`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml), "/home/u")
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
