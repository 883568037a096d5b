package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every error is
// located, and that an accepted config is consistent and stays valid.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	// Accepted configs using every key, flow style and merge keys, so that
	// mutations explore the success path as well as the error paths.
	f.Add([]byte(y(
		"defaults: {profile: dev, region: us-east-1, via: ssh}",
		"targets:",
		"  base: &b {database: d, endpoint: reader, bastion: 'tag:Role=bastion', engine: MySQL, user: app, dbname: app, sslmode: require}",
		"  copy: {<<: *b, local_port: 0, sessions: 1, ssh: {host: b, port: 2222, user: u, identity_file: ~/k, known_hosts: /kh, proxy_jump: j}}",
		"  raw: {host: 10.0.0.1, port: 5432, via: ssm, sessions: 8, bastion: i-0123abcd}",
	)))
	for _, tc := range errorCases() {
		f.Add([]byte(tc.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data, "/home/u")
		if err != nil {
			if c != nil {
				t.Fatalf("config returned with error %v", err)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T is not a non-empty Errors: %v", err, err)
			}
			for _, e := range errs {
				if e == nil || e.Line < 1 || e.Msg == "" || e.File != "f.yaml" {
					t.Fatalf("unlocated error %#v in %v", e, err)
				}
			}
			if !slices.IsSortedFunc(errs, func(a, b *Error) int {
				if a.Line != b.Line {
					return a.Line - b.Line
				}
				return a.Col - b.Col
			}) {
				t.Fatalf("errors not sorted:\n%v", err)
			}
			return
		}
		if len(c.Order) != len(c.Targets) {
			t.Fatalf("order %v does not match %d targets", c.Order, len(c.Targets))
		}
		for _, name := range c.Order {
			tg := c.Targets[name]
			if tg == nil || tg.Name != name || tg.Via == "" {
				t.Fatalf("target %q: %+v", name, tg)
			}
		}
		if c.Defaults.Via == "" || c.Discovery.CacheTTL <= 0 {
			t.Fatalf("defaults not applied: %+v %+v", c.Defaults, c.Discovery)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
	})
}
