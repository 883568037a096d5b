// Package config reads dbtunnel's YAML config file into plain structs.
//
// It is a leaf: no cobra, no AWS. The file is decoded by walking yaml.Node
// trees by hand rather than with struct tags, because users need every
// mistake reported at once with file:line:col and the key path, and yaml's
// KnownFields gives only a line and stops at the first unknown key.
package config

import (
	"fmt"
	"os"
	"time"
)

// Tunnel backends a target may ask for.
const (
	ViaAuto = "auto" // let discovery pick the best route (SSM preferred)
	ViaSSM  = "ssm"
	ViaSSH  = "ssh"
)

// BastionAuto lets discovery pick a bastion that can reach the database.
const BastionAuto = "auto"

// DefaultCacheTTL is how long discovery results are reused when the file
// does not set discovery.cache_ttl.
const DefaultCacheTTL = 10 * time.Minute

// Config is one loaded config file, with defaults applied.
type Config struct {
	Path      string // file loaded; "" when none was found
	Defaults  Defaults
	Discovery Discovery
	// Profiles are the file's own profiles, each a role assumed with an
	// AWS profile's credentials; usable wherever a profile is named.
	Profiles map[string]*Profile
	Targets  map[string]*Target // by name; never nil after Load or Parse
	Order    []string           // target names in file order

	// src remembers where each key was written so that Validate can point
	// at it; nil for a Config built in code.
	src *source
}

// Defaults apply to every target that does not set its own value.
type Defaults struct {
	Profile string // AWS shared-config profile; "" means the SDK's default
	Region  string
	Via     string // auto, ssm or ssh; auto when unset
}

// Discovery scopes what `ls` and the TUI search.
type Discovery struct {
	Profiles []string // empty: the current profile
	Regions  []string // empty: the current region
	CacheTTL time.Duration
}

// Role is an IAM role to assume, as the AWS CLI's role_arn, external_id
// and mfa_serial.
type Role struct {
	ARN        string // arn:aws:iam::123456789012:role/NAME
	ExternalID string
	MFASerial  string // the MFA device; its code is asked on the terminal
}

// Profile is a profile defined in dbtunnel's file rather than the AWS
// config: Role assumed with SourceProfile's credentials. For users who
// reach other accounts (seed 003) without editing ~/.aws/config.
type Profile struct {
	Name          string
	SourceProfile string // AWS profile; "" means the SDK's default credentials
	Role          Role
}

// RoleFor is the role a target or scope with this profile name assumes,
// and the AWS profile whose credentials assume it: the file's profile of
// that name if there is one, else none and the name itself.
func (c *Config) RoleFor(profile string) (awsProfile string, role Role) {
	if p := c.Profiles[profile]; p != nil {
		return p.SourceProfile, p.Role
	}
	return profile, Role{}
}

// Target is one named database the user can tunnel to: either discovered
// (Database set) or explicit (Host and Port set).
type Target struct {
	Name      string
	Profile   string
	Region    string
	Database  string // RDS instance/cluster id, Redshift cluster id, workgroup or endpoint name
	Endpoint  string // writer, reader or a custom endpoint name; only with Database
	Host      string // explicit remote host; with Port, instead of Database
	Port      int
	Via       string // auto, ssm or ssh
	Bastion   string // "auto", an instance id, or "tag:Key=Value"; "" means auto
	LocalPort int    // 0: a stable free port is chosen
	Sessions  int    // SSM sessions to spread connections over; 0 means 1
	// Keepalive, SSM only: send a no-op this often on an idle session so
	// the service's idle timeout does not end it. 0 (the default) leaves
	// the account's idle policy in force.
	Keepalive time.Duration
	Engine    string // lowercased, e.g. postgres, mysql, redshift
	User      string // database user
	DBName    string // database name
	SSLMode   string // libpq sslmode
	SSH       *SSH   // nil when the file has no ssh block
	// Role, when set, is assumed with the profile's credentials for
	// everything about this target: discovery and the tunnel.
	Role Role
}

// SSH describes how to reach an SSH bastion when discovery is not used to
// find one.
type SSH struct {
	Host         string // address or an alias in ~/.ssh/config
	Port         int    // 0: ssh_config or 22 decides
	User         string
	IdentityFile string // ~ expanded
	KnownHosts   string // ~ expanded
	ProxyJump    string
}

// Load reads and parses the file at path; home expands ~ in path-like keys.
// An empty path (Find found nothing) yields an empty config with defaults.
func Load(path, home string) (*Config, error) {
	if path == "" {
		return Parse("", nil, home)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, home)
}

// Parse decodes and validates data, naming filename in errors. Any problem
// returns Errors holding every *Error found, sorted by position, and a nil
// Config.
func Parse(filename string, data []byte, home string) (*Config, error) {
	c := &Config{Path: filename, Targets: map[string]*Target{}, src: newSource()}
	d := &decoder{file: filename, home: home, src: c.src}
	d.document(data, c)
	// Validate even after decode errors: the source marks the keys that
	// failed, so checks skip them instead of piling on follow-on errors.
	errs := append(d.errs, c.validate()...)
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	c.applyDefaults()
	return c, nil
}

// applyDefaults fills what the file left unset; it runs after validation so
// that errors name what the user wrote, not what was inherited.
func (c *Config) applyDefaults() {
	if c.Defaults.Via == "" {
		c.Defaults.Via = ViaAuto
	}
	if c.Discovery.CacheTTL == 0 {
		c.Discovery.CacheTTL = DefaultCacheTTL
	}
	if c.Targets == nil {
		c.Targets = map[string]*Target{}
	}
	for name, t := range c.Targets {
		t.Name = name
		if t.Via == "" {
			t.Via = c.Defaults.Via
		}
		if t.Profile == "" {
			t.Profile = c.Defaults.Profile
		}
		if t.Region == "" {
			t.Region = c.Defaults.Region
		}
	}
}
