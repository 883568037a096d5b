package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// y joins lines so that test YAML keeps its indentation readable.
func y(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

type errorCase struct {
	name string
	yaml string
	want []string // full error lines, in file order
}

// errorCases is shared with FuzzParse as its seed corpus.
func errorCases() []errorCase {
	return []errorCase{
		// Unknown keys, one per level.
		{"unknown top-level key", y(
			"defaults: {}",
			"targest: {}",
		), []string{`t.yaml:2:1: targest: unknown key; did you mean "targets"?`}},
		{"misplaced top-level key", y(
			"region: us-east-1",
		), []string{`t.yaml:1:1: region: unknown key; it belongs under defaults`}},
		{"unknown key in defaults", y(
			"defaults:",
			"  Profile: dev",
			"  colour: red",
		), []string{
			`t.yaml:2:3: defaults.Profile: unknown key; did you mean "profile"?`,
			`t.yaml:3:3: defaults.colour: unknown key (expected one of profile, region, via)`,
		}},
		{"unknown key in discovery", y(
			"discovery:",
			"  reigons: [us-east-1]",
		), []string{`t.yaml:2:3: discovery.reigons: unknown key; did you mean "regions"?`}},
		{"unknown key in target", y(
			"targets:",
			"  x:",
			"    database: d",
			"    local-port: 1",
			"    known_hosts: ~/kh",
		), []string{
			`t.yaml:4:5: targets.x.local-port: unknown key; did you mean "local_port"?`,
			`t.yaml:5:5: targets.x.known_hosts: unknown key; it belongs under ssh`,
		}},
		{"unknown key in ssh", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: 1",
			"    ssh:",
			"      host: b",
			"      identityfile: k",
		), []string{`t.yaml:7:7: targets.x.ssh.identityfile: unknown key; did you mean "identity_file"?`}},

		// Wrong types.
		{"top level is a list", y(
			"- a",
		), []string{`t.yaml:1:1: the top level must be a mapping with defaults, discovery and targets (got a list)`}},
		{"top level is a scalar", "hello\n",
			[]string{`t.yaml:1:1: the top level must be a mapping with defaults, discovery and targets (got "hello")`}},
		{"section is a string", y(
			"defaults: dev",
		), []string{`t.yaml:1:1: defaults: expected a mapping (got "dev")`}},
		{"targets is a list", y(
			"targets: [a, b]",
		), []string{`t.yaml:1:1: targets: expected a mapping (got a list)`}},
		{"mapping where a string is expected", y(
			"defaults:",
			"  profile: {name: dev}",
		), []string{`t.yaml:2:3: defaults.profile: expected a string (got a mapping)`}},
		{"port not an integer", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: abc",
		), []string{`t.yaml:4:5: targets.x.port: expected an integer (got "abc")`}},
		{"quoted port", y(
			"targets:",
			"  x:",
			"    host: h",
			`    port: "5432"`,
		), []string{`t.yaml:4:5: targets.x.port: expected an integer (got "5432")`}},
		{"float local_port", y(
			"targets:",
			"  x:",
			"    database: d",
			"    local_port: 1.5",
		), []string{`t.yaml:4:5: targets.x.local_port: expected an integer (got 1.5)`}},
		{"huge port", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: 99999999999",
		), []string{`t.yaml:4:5: targets.x.port: out of range (got 99999999999)`}},
		{"profiles not a list", y(
			"discovery:",
			"  profiles: dev",
		), []string{`t.yaml:2:3: discovery.profiles: expected a list (got "dev")`}},
		{"list element not a string", y(
			"discovery:",
			"  regions:",
			"    - us-east-1",
			"    - [eu-west-1]",
		), []string{`t.yaml:4:7: discovery.regions[1]: expected a string (got a list)`}},
		{"cache_ttl without unit", y(
			"discovery:",
			"  cache_ttl: 10",
		), []string{`t.yaml:2:3: discovery.cache_ttl: expected a duration such as "10m" or "1h30m" (got 10)`}},
		{"ssh block is a string", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: 1",
			"    ssh: bastion",
		), []string{`t.yaml:5:5: targets.x.ssh: expected a mapping (got "bastion")`}},
		{"non-string key", y(
			"targets:",
			"  ? [a]",
			"  : {}",
		), []string{`t.yaml:2:5: targets: keys must be strings (got a list)`}},
		{"empty string value", y(
			"defaults:",
			"  profile:",
		), []string{`t.yaml:2:3: defaults.profile: must not be empty`}},

		// Bad values.
		{"bad via", y(
			"defaults:",
			"  via: ssm",
			"targets:",
			"  prod-aurora:",
			"    database: prod",
			"    via: sshh",
		), []string{`t.yaml:6:5: targets.prod-aurora.via: must be one of auto, ssm, ssh (got "sshh")`}},
		{"bad default via", y(
			"defaults:",
			"  via: SSM",
		), []string{`t.yaml:2:3: defaults.via: must be one of auto, ssm, ssh (got "SSM")`}},
		{"port ranges", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: 0",
			"    local_port: 65536",
			"    ssh:",
			"      host: b",
			"      port: -1",
		), []string{
			`t.yaml:4:5: targets.x.port: must be between 1 and 65535 (got 0)`,
			`t.yaml:5:5: targets.x.local_port: must be between 0 and 65535 (got 65536)`,
			`t.yaml:8:7: targets.x.ssh.port: must be between 1 and 65535 (got -1)`,
		}},
		{"negative sessions", y(
			"targets:",
			"  x:",
			"    database: d",
			"    sessions: -2",
		), []string{`t.yaml:4:5: targets.x.sessions: must be 0 or more (got -2)`}},
		{"sessions with via ssh", y(
			"targets:",
			"  x:",
			"    database: d",
			"    via: ssh",
			"    sessions: 4",
		), []string{`t.yaml:5:5: targets.x.sessions: only applies with via ssm or auto (via is ssh)`}},
		{"sessions with via ssh from defaults", y(
			"defaults: {via: ssh}",
			"targets:",
			"  x: {database: d, sessions: 2}",
		), []string{`t.yaml:3:20: targets.x.sessions: only applies with via ssm or auto (via is ssh from defaults.via)`}},
		{"profiles written as a list", y(
			"profiles: [dev, prod]",
		), []string{`t.yaml:1:1: profiles: expected a mapping of profile names to role settings (got a list); the profiles to search go in discovery.profiles`}},
		{"bad roles", y(
			"profiles:",
			"  prod: {source_profile: dev}",
			"  ops:",
			"    source_profile: prod",
			"    role_arn: arn:aws:iam::123456789012:user/me",
			"    mfa_serial: my phone",
			"targets:",
			"  x: {database: d, external_id: abc}",
			"  y: {database: d, profile: prod, role_arn: 'arn:aws:iam::210987654321:role/db'}",
		), []string{
			`t.yaml:2:3: profiles.prod: needs role_arn: a profile defined here is a role assumed with source_profile's credentials`,
			`t.yaml:4:5: profiles.ops.source_profile: prod is itself defined in this file; roles are not chained: use a profile from the AWS config`,
			`t.yaml:5:5: profiles.ops.role_arn: must be a role ARN such as arn:aws:iam::123456789012:role/NAME (got "arn:aws:iam::123456789012:user/me")`,
			`t.yaml:6:5: profiles.ops.mfa_serial: must be an MFA device ARN or serial number (got "my phone")`,
			`t.yaml:8:20: targets.x.external_id: only applies with role_arn`,
			`t.yaml:9:35: targets.y.role_arn: profile prod already assumes a role; roles are not chained: give the target a profile from the AWS config`,
		}},
		{"keepalive with via ssh", y(
			"targets:",
			"  x:",
			"    database: d",
			"    via: ssh",
			"    keepalive: 5m",
		), []string{`t.yaml:5:5: targets.x.keepalive: only applies with via ssm or auto (via is ssh)`}},
		{"bad keepalives", y(
			"targets:",
			"  x: {database: d, keepalive: -1s}",
			"  y: {database: d, keepalive: often}",
		), []string{
			`t.yaml:2:20: targets.x.keepalive: must be positive (got -1s)`,
			`t.yaml:3:20: targets.y.keepalive: expected a duration such as "10m" or "1h30m" (got "often")`,
		}},
		{"bad bastions", y(
			"targets:",
			"  a: {database: d, bastion: i-123}",
			"  b: {database: d, bastion: i-0123456789ABCDEF0}",
			"  c: {database: d, bastion: 'tag:Name='}",
			"  d: {database: d, bastion: bastion-1}",
		), []string{
			`t.yaml:2:20: targets.a.bastion: must be auto, an instance id such as i-0123456789abcdef0, or tag:Key=Value (got "i-123")`,
			`t.yaml:3:20: targets.b.bastion: must be auto, an instance id such as i-0123456789abcdef0, or tag:Key=Value (got "i-0123456789ABCDEF0")`,
			`t.yaml:4:20: targets.c.bastion: must be auto, an instance id such as i-0123456789abcdef0, or tag:Key=Value (got "tag:Name=")`,
			`t.yaml:5:20: targets.d.bastion: must be auto, an instance id such as i-0123456789abcdef0, or tag:Key=Value (got "bastion-1")`,
		}},
		{"bad target name", y(
			"targets:",
			"  -prod:",
			"    database: d",
			"  'prod db':",
			"    database: d",
		), []string{
			`t.yaml:2:3: targets.-prod: invalid target name "-prod": use letters, digits, '.', '_' and '-', starting with a letter or digit`,
			`t.yaml:4:3: targets.prod db: invalid target name "prod db": use letters, digits, '.', '_' and '-', starting with a letter or digit`,
		}},
		{"bad regions", y(
			"defaults:",
			"  region: tokyo",
			"discovery:",
			"  regions: [us-east-1, useast1, us-east-1]",
			"targets:",
			"  x: {database: d, region: US-EAST-1}",
		), []string{
			`t.yaml:2:3: defaults.region: must be an AWS region such as us-east-1 (got "tokyo")`,
			`t.yaml:4:24: discovery.regions[1]: must be an AWS region such as us-east-1 (got "useast1")`,
			`t.yaml:4:33: discovery.regions[2]: "us-east-1" is already listed at [0]`,
			`t.yaml:6:20: targets.x.region: must be an AWS region such as us-east-1 (got "US-EAST-1")`,
		}},
		{"empty profile in list", y(
			"discovery:",
			"  profiles: [dev, '']",
		), []string{`t.yaml:2:19: discovery.profiles[1]: must not be empty`}},
		{"cache_ttl not positive", y(
			"discovery:",
			"  cache_ttl: -5m",
		), []string{`t.yaml:2:3: discovery.cache_ttl: must be positive (got -5m0s)`}},
		{"bad sslmode", y(
			"targets:",
			"  x: {database: d, sslmode: required}",
		), []string{`t.yaml:2:20: targets.x.sslmode: must be one of disable, allow, prefer, require, verify-ca, verify-full (got "required")`}},
		{"host with port, url, user", y(
			"targets:",
			"  a: {host: 'db:5432', port: 5432}",
			"  b: {host: 'postgres://db', port: 5432}",
			"  c: {host: h, port: 1, ssh: {host: ec2-user@bastion}}",
		), []string{
			`t.yaml:2:7: targets.a.host: must not include a port; set port instead (got "db:5432")`,
			`t.yaml:3:7: targets.b.host: must be a host name or address, not a URL (got "postgres://db")`,
			`t.yaml:4:31: targets.c.ssh.host: must not include a user; set user instead (got "ec2-user@bastion")`,
		}},
		{"tilde user", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: 1",
			"    ssh:",
			"      host: b",
			"      identity_file: ~bob/key",
		), []string{`t.yaml:7:7: targets.x.ssh.identity_file: ~user is not supported; use ~/ or an absolute path (got "~bob/key")`}},

		// Duplicate keys.
		{"duplicate key", y(
			"defaults:",
			"  via: ssm",
			"  via: ssh",
		), []string{`t.yaml:3:3: defaults.via: duplicate key (first at line 2)`}},
		{"duplicate target", y(
			"targets:",
			"  x: {database: a}",
			"  x: {database: b}",
		), []string{`t.yaml:3:3: targets.x: duplicate key (first at line 2)`}},
		{"duplicate section", y(
			"targets: {}",
			"targets: {}",
		), []string{`t.yaml:2:1: targets: duplicate key (first at line 1)`}},

		// Syntax errors carry a line but no column. yaml v3 reports the
		// line where the enclosing construct starts, not the bad token.
		{"unclosed flow sequence", y(
			"discovery:",
			"  regions: [us-east-1",
		), []string{`t.yaml:2: invalid YAML: did not find expected ',' or ']'`}},
		{"bad indentation", y(
			"targets:",
			"  x:",
			"    host: h",
			"   port: 1",
		), []string{`t.yaml:2: invalid YAML: did not find expected key`}},
		{"tab indentation", "targets:\n\tx: {}\n",
			[]string{`t.yaml:2: invalid YAML: found character that cannot start any token`}},
		{"unknown anchor", y(
			"targets:",
			"  x: *nope",
		), []string{`t.yaml:1: invalid YAML: unknown anchor 'nope' referenced`}},
		{"two documents", y(
			"targets: {}",
			"---",
			"targets: {}",
		), []string{`t.yaml:2:1: only one YAML document is allowed`}},

		// Required keys and their combinations.
		{"neither database nor host", y(
			"targets:",
			"  x:",
			"    via: ssm",
		), []string{`t.yaml:2:3: targets.x: needs either database (discovered) or host and port (explicit)`}},
		{"empty target", y(
			"targets:",
			"  x:",
		), []string{`t.yaml:2:3: targets.x: needs either database (discovered) or host and port (explicit)`}},
		{"host without port", y(
			"targets:",
			"  x:",
			"    host: h",
		), []string{`t.yaml:2:3: targets.x: missing port (required with host)`}},
		{"port without host", y(
			"targets:",
			"  x:",
			"    port: 5432",
		), []string{`t.yaml:2:3: targets.x: missing host (required with port)`}},
		{"database and host", y(
			"targets:",
			"  x:",
			"    database: d",
			"    host: h",
			"    port: 1",
		), []string{`t.yaml:4:5: targets.x.host: conflicts with database: give database (discovered) or host and port (explicit), not both`}},
		{"database and port", y(
			"targets:",
			"  x:",
			"    database: d",
			"    port: 1",
		), []string{`t.yaml:4:5: targets.x.port: only applies with host; a discovered database brings its own port`}},
		{"endpoint without database", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: 1",
			"    endpoint: reader",
		), []string{`t.yaml:5:5: targets.x.endpoint: only applies with database`}},
		{"ssh without host", y(
			"targets:",
			"  x:",
			"    host: h",
			"    port: 1",
			"    ssh:",
			"      user: ec2-user",
		), []string{`t.yaml:5:5: targets.x.ssh: missing host`}},
		{"empty ssh block", y(
			"targets:",
			"  x:",
			"    host: db",
			"    port: 5432",
			"    ssh:",
		), []string{`t.yaml:5:5: targets.x.ssh: missing host`}},
		{"ssh block with via ssm", y(
			"targets:",
			"  x:",
			"    database: d",
			"    via: ssm",
			"    ssh: {host: b}",
		), []string{`t.yaml:5:5: targets.x.ssh: only applies with via ssh or auto (via is ssm)`}},

		// A bad value is reported once, not again by the checks that use it.
		{"no follow-on errors", y(
			"defaults:",
			"  via: 3",
			"targets:",
			"  x:",
			"    host: h",
			"    port: [5432]",
			"    via: {}",
			"    sessions: 2",
			"    ssh: {host: b}",
		), []string{
			`t.yaml:2:3: defaults.via: must be one of auto, ssm, ssh (got "3")`,
			`t.yaml:6:5: targets.x.port: expected an integer (got a list)`,
			`t.yaml:7:5: targets.x.via: expected a string (got a mapping)`,
		}},

		// Merge keys: errors point at the "<<".
		{"merge of a scalar", y(
			"targets:",
			"  x:",
			"    <<: 3",
			"    database: d",
		), []string{`t.yaml:3:5: targets.x: merge key "<<" needs a mapping or a list of mappings (got 3)`}},
		{"merge cycle", y(
			"targets:",
			"  x: &a",
			"    <<: *a",
			"    database: d",
		), []string{`t.yaml:3:5: targets.x: merge key "<<" refers to a mapping that contains it`}},
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorCases() {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tt.yaml), "/home/u")
			if err == nil {
				t.Fatalf("no error; got config %+v", c)
			}
			if c != nil {
				t.Errorf("config %+v returned with an error", c)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			// The table lists errors in file order: the sort must give that.
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load(filepath.Join("testdata", "example.yaml"), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Order, []string{"prod-aurora", "legacy-mysql"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if c.Defaults != (Defaults{Profile: "dev", Region: "ap-northeast-1", Via: ViaAuto}) {
		t.Errorf("defaults %+v", c.Defaults)
	}
	if !slices.Equal(c.Discovery.Profiles, []string{"dev", "prod"}) ||
		!slices.Equal(c.Discovery.Regions, []string{"ap-northeast-1", "us-east-1"}) ||
		c.Discovery.CacheTTL != 10*time.Minute {
		t.Errorf("discovery %+v", c.Discovery)
	}
	pa := *c.Targets["prod-aurora"]
	wantPA := Target{
		Name: "prod-aurora", Profile: "prod", Region: "ap-northeast-1", Database: "prod-aurora",
		Endpoint: "writer", Via: ViaSSM, Bastion: "auto", LocalPort: 15432, Sessions: 1,
	}
	if pa != wantPA {
		t.Errorf("prod-aurora:\n got %+v\nwant %+v", pa, wantPA)
	}
	lm := *c.Targets["legacy-mysql"]
	ssh := lm.SSH
	lm.SSH = nil
	wantLM := Target{
		Name: "legacy-mysql", Profile: "dev", Region: "ap-northeast-1",
		Host: "db.internal.example.com", Port: 3306, Via: ViaSSH, LocalPort: 13306,
	}
	if lm != wantLM {
		t.Errorf("legacy-mysql:\n got %+v\nwant %+v", lm, wantLM)
	}
	wantSSH := SSH{
		Host: "203.0.113.10", Port: 22, User: "ec2-user",
		IdentityFile: "/home/u/.ssh/bastion.pem", KnownHosts: "/home/u/.ssh/known_hosts",
	}
	if ssh == nil || *ssh != wantSSH {
		t.Errorf("ssh:\n got %+v\nwant %+v", ssh, wantSSH)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("validate after defaults: %v", err)
	}
}

func TestEmptyConfigs(t *testing.T) {
	for _, in := range []string{"", "{}", "# just a comment\n", "~\n", "---\n", "targets:\n", "defaults: {}\ndiscovery:\ntargets: {}\n"} {
		c, err := Parse("t.yaml", []byte(in), "")
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if c.Defaults.Via != ViaAuto || c.Discovery.CacheTTL != DefaultCacheTTL || c.Targets == nil || len(c.Targets) != 0 {
			t.Errorf("%q: got %+v", in, c)
		}
	}
}

func TestDefaultsApplied(t *testing.T) {
	c, err := Parse("t.yaml", []byte(y(
		"defaults:",
		"  profile: dev",
		"  region: eu-west-1",
		"  via: ssm",
		"discovery:",
		"  cache_ttl: 90s",
		"targets:",
		"  inherit: {database: a}",
		"  own: {database: b, profile: prod, region: us-east-1, via: auto, engine: PostgreSQL}",
	)), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.Discovery.CacheTTL != 90*time.Second {
		t.Errorf("cache_ttl %v", c.Discovery.CacheTTL)
	}
	in := c.Targets["inherit"]
	if in.Name != "inherit" || in.Profile != "dev" || in.Region != "eu-west-1" || in.Via != ViaSSM {
		t.Errorf("inherit: %+v", in)
	}
	own := c.Targets["own"]
	if own.Profile != "prod" || own.Region != "us-east-1" || own.Via != ViaAuto || own.Engine != "postgresql" {
		t.Errorf("own: %+v", own)
	}

	// With no defaults block, via falls back to auto.
	c, err = Parse("t.yaml", []byte("targets: {x: {database: a}}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if x := c.Targets["x"]; x.Via != ViaAuto || x.Profile != "" || x.Region != "" {
		t.Errorf("x: %+v", x)
	}
}

func TestTildeExpansion(t *testing.T) {
	doc := y(
		"targets:",
		"  x:",
		"    host: h",
		"    port: 1",
		"    ssh:",
		"      host: b",
		"      user: ~u",
		"      identity_file: ~/.ssh/id_ed25519",
		"      known_hosts: '~'",
		"      proxy_jump: ~/also-not",
	)
	c, err := Parse("t.yaml", []byte(doc), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Targets["x"].SSH
	want := SSH{Host: "b", User: "~u", IdentityFile: "/home/u/.ssh/id_ed25519", KnownHosts: "/home/u", ProxyJump: "~/also-not"}
	if *s != want {
		t.Errorf("got %+v\nwant %+v", *s, want)
	}

	// Absolute and relative paths are left alone.
	c, err = Parse("t.yaml", []byte("targets: {x: {host: h, port: 1, ssh: {host: b, identity_file: /k, known_hosts: kh}}}\n"), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Targets["x"].SSH; s.IdentityFile != "/k" || s.KnownHosts != "kh" {
		t.Errorf("got %+v", s)
	}

	// Without a home directory ~ cannot be expanded.
	_, err = Parse("t.yaml", []byte(doc), "")
	want2 := []string{
		"t.yaml:8:7: targets.x.ssh.identity_file: cannot expand ~: home directory unknown",
		"t.yaml:9:7: targets.x.ssh.known_hosts: cannot expand ~: home directory unknown",
	}
	if err == nil || err.Error() != strings.Join(want2, "\n") {
		t.Errorf("got %v\nwant %s", err, strings.Join(want2, "\n"))
	}
}

func TestMergeKeys(t *testing.T) {
	c, err := Parse("t.yaml", []byte(y(
		"targets:",
		"  base: &base",
		"    database: a",
		"    profile: prod",
		"    via: ssm",
		"    local_port: 1",
		"  reader:",
		"    <<: *base",
		"    endpoint: reader",
		"    local_port: 2",
		"  both:",
		"    <<: [{local_port: 3}, *base]",
	)), "")
	if err != nil {
		t.Fatal(err)
	}
	r := c.Targets["reader"]
	if r.Database != "a" || r.Profile != "prod" || r.Via != ViaSSM || r.Endpoint != "reader" || r.LocalPort != 2 {
		t.Errorf("reader: %+v", r)
	}
	// Earlier maps in a merge list win, as in YAML's merge rule.
	if b := c.Targets["both"]; b.LocalPort != 3 || b.Database != "a" {
		t.Errorf("both: %+v", b)
	}
}

// Anchors that merge each other repeatedly must not make work grow with
// the number of paths through them.
func TestMergeFanOut(t *testing.T) {
	var b strings.Builder
	b.WriteString("targets:\n  a0: &a0 {database: d}\n")
	for i := 1; i < 60; i++ {
		b.WriteString("  a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " {<<: [*a" + strconv.Itoa(i-1) + ", *a" + strconv.Itoa(i-1) + "]}\n")
	}
	if _, err := Parse("t.yaml", []byte(b.String()), ""); err != nil {
		t.Fatal(err)
	}
}

func TestValidateBuiltConfig(t *testing.T) {
	c := &Config{
		Defaults: Defaults{Via: "ftp"},
		Targets: map[string]*Target{
			"ok":  {Database: "d"},
			"bad": {Host: "h"},
		},
	}
	err := c.Validate()
	want := "defaults.via: must be one of auto, ssm, ssh (got \"ftp\")\ntargets.bad: missing port (required with host)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	c.Defaults.Via = ViaSSM
	c.Targets["bad"].Port = 5432
	if err := c.Validate(); err != nil {
		t.Errorf("fixed config: %v", err)
	}
}

func TestErrorsAs(t *testing.T) {
	_, err := Parse("t.yaml", []byte("defaults: {via: x}\n"), "")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(*Error) failed on %v", err)
	}
	want := Error{File: "t.yaml", Line: 1, Col: 12, Path: "defaults.via", Msg: `must be one of auto, ssm, ssh (got "x")`}
	if *e != want {
		t.Errorf("got %+v\nwant %+v", *e, want)
	}
}

// Target names may contain dots; their keys must not be confused with
// another target's keys when locating errors.
func TestDottedTargetNames(t *testing.T) {
	_, err := Parse("t.yaml", []byte(y(
		"targets:",
		"  a: {database: d}",
		"  a.via: {database: d, via: bad}",
	)), "")
	want := `t.yaml:3:24: targets.a.via.via: must be one of auto, ssm, ssh (got "bad")`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := Load("", "")
	if err != nil || c.Path != "" || len(c.Targets) != 0 || c.Defaults.Via != ViaAuto {
		t.Errorf("Load(\"\"): %+v, %v", c, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte("defaults:\n  vía: ssm\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(p, "")
	if want := p + `:2:3: defaults.vía: unknown key; did you mean "via"?`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// findDirs makes a fake layout: root/work is the cwd, root/home the home
// directory, root/xdg a custom XDG_CONFIG_HOME. Every place Find looks at
// gets a file; tests delete them to walk down the order.
type findDirs struct{ root, cwd, home, xdg string }

func newFindDirs(t *testing.T) findDirs {
	root := t.TempDir()
	d := findDirs{root, filepath.Join(root, "work"), filepath.Join(root, "home"), filepath.Join(root, "xdg")}
	for _, dir := range []string{d.cwd, filepath.Join(d.home, ".config", "dbtunnel"), filepath.Join(d.xdg, "dbtunnel")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"explicit.yaml", "env.yaml"} {
		touch(t, filepath.Join(root, f))
	}
	touch(t, filepath.Join(d.cwd, ".dbtunnel.yaml"))
	touch(t, filepath.Join(d.xdg, "dbtunnel", "config.yaml"))
	touch(t, filepath.Join(d.home, ".config", "dbtunnel", "config.yaml"))
	return d
}

func touch(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFindOrder(t *testing.T) {
	d := newFindDirs(t)
	env := map[string]string{"DBTUNNEL_CONFIG": filepath.Join(d.root, "env.yaml"), "XDG_CONFIG_HOME": d.xdg}
	getenv := func(k string) string { return env[k] }
	find := func(explicit, want string) {
		t.Helper()
		got, err := Find(explicit, getenv, d.cwd, d.home)
		if err != nil || got != want {
			t.Errorf("Find(%q) = %q, %v; want %q", explicit, got, err, want)
		}
	}
	remove := func(p string) {
		t.Helper()
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}

	find(filepath.Join(d.root, "explicit.yaml"), filepath.Join(d.root, "explicit.yaml"))
	find("", filepath.Join(d.root, "env.yaml"))
	delete(env, "DBTUNNEL_CONFIG")
	find("", filepath.Join(d.cwd, ".dbtunnel.yaml"))
	remove(filepath.Join(d.cwd, ".dbtunnel.yaml"))
	find("", filepath.Join(d.xdg, "dbtunnel", "config.yaml"))
	delete(env, "XDG_CONFIG_HOME") // falls back to <home>/.config
	find("", filepath.Join(d.home, ".config", "dbtunnel", "config.yaml"))
	env["XDG_CONFIG_HOME"] = "relative/dir" // ignored, as the XDG spec says
	find("", filepath.Join(d.home, ".config", "dbtunnel", "config.yaml"))
	remove(filepath.Join(d.home, ".config", "dbtunnel", "config.yaml"))
	find("", "")

	// A relative --config is taken against cwd.
	touch(t, filepath.Join(d.cwd, "my.yaml"))
	find("my.yaml", filepath.Join(d.cwd, "my.yaml"))

	// Nowhere to look at all is not an error either.
	if got, err := Find("", getenv, "", ""); got != "" || err != nil {
		t.Errorf("no cwd or home: %q, %v", got, err)
	}
}

func TestFindErrors(t *testing.T) {
	d := newFindDirs(t)
	missing := filepath.Join(d.cwd, "nope.yaml")
	env := map[string]string{"DBTUNNEL_CONFIG": missing}
	getenv := func(k string) string { return env[k] }

	// Files the user named must exist, even when another place has one.
	if _, err := Find(missing, getenv, d.cwd, d.home); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "--config") {
		t.Errorf("--config missing: %v", err)
	}
	if _, err := Find("", getenv, d.cwd, d.home); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "$DBTUNNEL_CONFIG") {
		t.Errorf("$DBTUNNEL_CONFIG missing: %v", err)
	}
	if _, err := Find(d.cwd, getenv, d.cwd, d.home); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("--config directory: %v", err)
	}

	// Something unusable in a usual place is reported, not skipped.
	delete(env, "DBTUNNEL_CONFIG")
	p := filepath.Join(d.cwd, ".dbtunnel.yaml")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Find("", getenv, d.cwd, d.home); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory named .dbtunnel.yaml: %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "f.yaml", Line: 3, Col: 5, Path: "targets.x.via", Msg: "m"}, "f.yaml:3:5: targets.x.via: m"},
		{Error{File: "f.yaml", Line: 3, Msg: "invalid YAML: m"}, "f.yaml:3: invalid YAML: m"},
		{Error{Line: 3, Col: 5, Path: "defaults", Msg: "m"}, "3:5: defaults: m"},
		{Error{Path: "targets.x", Msg: "m"}, "targets.x: m"},
		{Error{File: "f.yaml", Msg: "m"}, "f.yaml: m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// A discovered target picks its bastion through discovery, so its ssh block
// may carry only the login.
func TestDiscoveredTargetSSHLoginOnly(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte("targets:\n  x:\n    database: d\n    ssh:\n      user: ubuntu\n      identity_file: ~/.ssh/k\n"), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Targets["x"].SSH; s == nil || s.User != "ubuntu" || s.IdentityFile != "/home/u/.ssh/k" || s.Host != "" {
		t.Fatalf("ssh = %+v", s)
	}
}

func TestRoles(t *testing.T) {
	c, err := Parse("t.yaml", []byte(y(
		"profiles:",
		"  prod:",
		"    source_profile: dev",
		"    role_arn: arn:aws:iam::210987654321:role/dbtunnel",
		"    external_id: ext-1",
		"    mfa_serial: arn:aws:iam::123456789012:mfa/me",
		"targets:",
		"  a: {database: d, profile: prod}",
		"  b: {database: d, profile: dev, role_arn: 'arn:aws-cn:iam::210987654321:role/path/db'}",
	)), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	src, role := c.RoleFor("prod")
	want := Role{ARN: "arn:aws:iam::210987654321:role/dbtunnel", ExternalID: "ext-1", MFASerial: "arn:aws:iam::123456789012:mfa/me"}
	if src != "dev" || role != want {
		t.Fatalf("RoleFor(prod) = %q, %+v", src, role)
	}
	if src, role := c.RoleFor("dev"); src != "dev" || role != (Role{}) {
		t.Fatalf("RoleFor(dev) = %q, %+v", src, role)
	}
	if got := c.Targets["b"].Role.ARN; got != "arn:aws-cn:iam::210987654321:role/path/db" {
		t.Fatalf("target role %q", got)
	}
}
