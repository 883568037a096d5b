package config

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
)

// Validate checks c's values and their combinations. For a Config from Load
// or Parse errors carry positions; for one built in code they carry only key
// paths. It returns Errors, or nil.
func (c *Config) Validate() error {
	errs := c.validate()
	if len(errs) == 0 {
		return nil
	}
	errs.sort()
	return errs
}

// checker collects semantic errors, locating each by key path through the
// source recorded at decode time.
type checker struct {
	file string
	src  *source
	errs Errors
}

func (v *checker) errorf(path, format string, args ...any) {
	p := v.src.find(path)
	v.errs = append(v.errs, &Error{File: v.file, Line: p.line, Col: p.col, Path: display(path), Msg: fmt.Sprintf(format, args...)})
}

// set reports whether a key was given: written in the file (even with a
// bad value) or, for a Config built in code, non-zero.
func (v *checker) set(path string, nonzero bool) bool {
	return nonzero || v.src.has(path)
}

// check reports whether a given key's value should be checked: it was set
// and did not already fail to decode.
func (v *checker) check(path string, nonzero bool) bool {
	return v.set(path, nonzero) && !v.src.bad[path]
}

func (v *checker) oneOf(path, got string, allowed ...string) {
	if v.check(path, got != "") && !slices.Contains(allowed, got) {
		v.errorf(path, "must be one of %s (got %q)", strings.Join(allowed, ", "), got)
	}
}

func (v *checker) portRange(path string, port, lo int) {
	if v.check(path, port != 0) && (port < lo || port > 65535) {
		v.errorf(path, "must be between %d and 65535 (got %d)", lo, port)
	}
}

func (v *checker) region(path, r string) {
	if v.check(path, r != "") && !validRegion(r) {
		v.errorf(path, "must be an AWS region such as us-east-1 (got %q)", r)
	}
}

func (v *checker) host(path, h string) {
	if v.check(path, h != "") {
		if msg := hostProblem(h); msg != "" {
			v.errorf(path, "%s (got %q)", msg, h)
		}
	}
}

// names checks a list of names: present, and each named once.
func (v *checker) names(path string, list []string, each func(p, s string)) {
	first := map[string]int{}
	for i, s := range list {
		p := elem(path, i)
		if v.src.bad[p] {
			continue
		}
		if s == "" {
			v.errorf(p, "must not be empty")
			continue
		}
		if j, dup := first[s]; dup {
			v.errorf(p, "%q is already listed at [%d]", s, j)
			continue
		}
		first[s] = i
		if each != nil {
			each(p, s)
		}
	}
}

func (c *Config) validate() Errors {
	v := &checker{file: c.Path, src: c.src}
	if v.src == nil {
		v.src = newSource()
	}
	vias := []string{ViaAuto, ViaSSM, ViaSSH}

	v.oneOf("defaults"+sep+"via", c.Defaults.Via, vias...)
	v.region("defaults"+sep+"region", c.Defaults.Region)

	v.names("discovery"+sep+"profiles", c.Discovery.Profiles, nil)
	v.names("discovery"+sep+"regions", c.Discovery.Regions, v.region)
	if p := "discovery" + sep + "cache_ttl"; v.check(p, c.Discovery.CacheTTL != 0) && c.Discovery.CacheTTL <= 0 {
		v.errorf(p, "must be positive (got %s)", c.Discovery.CacheTTL)
	}

	profiles := make([]string, 0, len(c.Profiles))
	for name := range c.Profiles {
		profiles = append(profiles, name)
	}
	slices.Sort(profiles)
	for _, name := range profiles {
		p := join("profiles", name)
		if pr := c.Profiles[name]; pr != nil {
			if !v.set(p+sep+"role_arn", pr.Role.ARN != "") {
				v.errorf(p, "needs role_arn: a profile defined here is a role assumed with source_profile's credentials")
			}
			v.role(p, pr.Role)
			if sp := p + sep + "source_profile"; v.check(sp, pr.SourceProfile != "") && c.Profiles[pr.SourceProfile] != nil {
				v.errorf(sp, "%s is itself defined in this file; roles are not chained: use a profile from the AWS config", pr.SourceProfile)
			}
		}
	}

	// The via a target ends up with decides which keys make sense; it is
	// only known when both it and the default are valid.
	defVia, defFrom := ViaAuto, ""
	if c.Defaults.Via != "" {
		defVia, defFrom = c.Defaults.Via, " from defaults.via"
		if !slices.Contains(vias, defVia) || v.src.bad["defaults"+sep+"via"] {
			defVia = ""
		}
	}
	names := make([]string, 0, len(c.Targets))
	for name := range c.Targets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t := c.Targets[name]
		if t == nil {
			continue
		}
		via, from := defVia, defFrom
		if t.Via != "" {
			via, from = t.Via, ""
			if !slices.Contains(vias, via) || v.src.bad[join("targets", name)+sep+"via"] {
				via = ""
			}
		}
		v.target(join("targets", name), name, t, via, from)
		profile := t.Profile
		if profile == "" {
			profile = c.Defaults.Profile
		}
		if p := join("targets", name) + sep + "role_arn"; v.check(p, t.Role.ARN != "") && c.Profiles[profile] != nil {
			v.errorf(p, "profile %s already assumes a role; roles are not chained: give the target a profile from the AWS config", profile)
		}
	}
	return v.errs
}

// target checks one target; via is its effective backend ("" when invalid)
// and from says where it came from, for messages.
func (v *checker) target(path, name string, t *Target, via, from string) {
	at := func(key string) string { return path + sep + key }
	v.role(path, t.Role)
	if !validName(name) {
		v.errorf(path, "invalid target name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	v.oneOf(at("via"), t.Via, ViaAuto, ViaSSM, ViaSSH)
	v.region(at("region"), t.Region)

	hasDB := v.set(at("database"), t.Database != "")
	hasHost := v.set(at("host"), t.Host != "")
	hasPort := v.set(at("port"), t.Port != 0)
	switch {
	case hasDB && hasHost:
		v.errorf(at("host"), "conflicts with database: give database (discovered) or host and port (explicit), not both")
	case hasDB && hasPort:
		v.errorf(at("port"), "only applies with host; a discovered database brings its own port")
	case hasDB:
	case hasHost && !hasPort:
		v.errorf(path, "missing port (required with host)")
	case hasPort && !hasHost:
		v.errorf(path, "missing host (required with port)")
	case !hasHost && !hasPort:
		v.errorf(path, "needs either database (discovered) or host and port (explicit)")
	}
	if v.set(at("endpoint"), t.Endpoint != "") && !hasDB {
		v.errorf(at("endpoint"), "only applies with database")
	}
	v.host(at("host"), t.Host)
	v.portRange(at("port"), t.Port, 1)
	v.portRange(at("local_port"), t.LocalPort, 0)

	if p := at("sessions"); v.check(p, t.Sessions != 0) {
		switch {
		case t.Sessions < 0:
			v.errorf(p, "must be 0 or more (got %d)", t.Sessions)
		case t.Sessions > 1 && via == ViaSSH:
			v.errorf(p, "only applies with via ssm or auto (via is ssh%s)", from)
		}
	}
	if p := at("keepalive"); v.check(p, t.Keepalive != 0) {
		switch {
		case t.Keepalive < 0:
			v.errorf(p, "must be positive (got %s)", t.Keepalive)
		case via == ViaSSH:
			v.errorf(p, "only applies with via ssm or auto (via is ssh%s)", from)
		}
	}
	if p := at("bastion"); v.check(p, t.Bastion != "") && !validBastion(t.Bastion) {
		v.errorf(p, "must be auto, an instance id such as i-0123456789abcdef0, or tag:Key=Value (got %q)", t.Bastion)
	}
	v.oneOf(at("sslmode"), t.SSLMode, "disable", "allow", "prefer", "require", "verify-ca", "verify-full")

	if t.SSH == nil {
		return
	}
	p := at("ssh")
	if via == ViaSSM {
		v.errorf(p, "only applies with via ssh or auto (via is ssm%s)", from)
	}
	// A discovered target's bastion comes from discovery, so its ssh
	// block may hold only the login (user, key, known_hosts).
	if !v.set(p+sep+"host", t.SSH.Host != "") && !hasDB {
		v.errorf(p, "missing host")
	}
	v.host(p+sep+"host", t.SSH.Host)
	v.portRange(p+sep+"port", t.SSH.Port, 1)
}

// hostProblem names the common ways a host value is not a bare host: a URL,
// a user@ prefix or a :port suffix belong in other keys.
func hostProblem(h string) string {
	switch {
	case strings.Contains(h, "://"):
		return "must be a host name or address, not a URL"
	case strings.Contains(h, "@"):
		return "must not include a user; set user instead"
	case strings.ContainsAny(h, " \t\r\n/"):
		return "must be a host name or address"
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return "must not include a port; set port instead"
	}
	return ""
}

// validName keeps target names safe to type on a command line and to use
// in file names and environment.
func validName(s string) bool {
	if s == "" || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validRegion accepts the shape of AWS region names (us-east-1,
// us-gov-west-1, ap-southeast-5) without a list that would go stale.
func validRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	for _, p := range parts[:len(parts)-1] {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz") != "" {
			return false
		}
	}
	last := parts[len(parts)-1]
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// validBastion accepts auto, an EC2 instance id (old 8-hex or current
// 17-hex form) or a tag filter with a non-empty key and value.
func validBastion(s string) bool {
	if s == BastionAuto {
		return true
	}
	if id, ok := strings.CutPrefix(s, "i-"); ok {
		return (len(id) == 8 || len(id) == 17) && strings.Trim(id, "0123456789abcdef") == ""
	}
	if tag, ok := strings.CutPrefix(s, "tag:"); ok {
		k, val, ok := strings.Cut(tag, "=")
		return ok && k != "" && val != ""
	}
	return false
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// roleARN matches an IAM role's ARN in any partition.
var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)

// role checks the role keys under path.
func (v *checker) role(path string, r Role) {
	at := func(key string) string { return path + sep + key }
	hasARN := v.set(at("role_arn"), r.ARN != "")
	if p := at("role_arn"); v.check(p, r.ARN != "") && !roleARN.MatchString(r.ARN) {
		v.errorf(p, "must be a role ARN such as arn:aws:iam::123456789012:role/NAME (got %q)", r.ARN)
	}
	for key, val := range map[string]string{"external_id": r.ExternalID, "mfa_serial": r.MFASerial} {
		if p := at(key); v.set(p, val != "") && !hasARN {
			v.errorf(p, "only applies with role_arn")
		}
	}
	if p := at("mfa_serial"); v.check(p, r.MFASerial != "") && strings.ContainsAny(r.MFASerial, " \t") {
		v.errorf(p, "must be an MFA device ARN or serial number (got %q)", r.MFASerial)
	}
}
