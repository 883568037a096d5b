package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Key paths are kept with segments joined by sep, not ".", so that a target
// named "a.via" cannot share a path with target "a"'s via key; display turns
// them into the dotted form users see.
const sep = "\x00"

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + sep + key
}

func elem(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func display(path string) string { return strings.ReplaceAll(path, sep, ".") }

type position struct{ line, col int }

// source records where each known key was written (the key itself, or the
// element for list items) and which values failed to decode.
type source struct {
	pos map[string]position
	bad map[string]bool
}

func newSource() *source {
	return &source{pos: map[string]position{}, bad: map[string]bool{}}
}

// find returns the position of path, or of its nearest recorded ancestor
// (a missing key is reported at the mapping that should hold it).
func (s *source) find(path string) position {
	for {
		if p, ok := s.pos[path]; ok {
			return p
		}
		if path == "" {
			return position{}
		}
		i := strings.LastIndex(path, sep)
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
	}
}

func (s *source) has(path string) bool { _, ok := s.pos[path]; return ok }

// decoder walks the yaml.Node tree against the schema, filling a Config and
// collecting type errors; semantic checks are left to validate.
type decoder struct {
	file string
	home string
	src  *source
	errs Errors
}

func (d *decoder) errorAt(line, col int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Col: col, Path: display(path), Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) errorNode(n *yaml.Node, path, format string, args ...any) {
	d.errorAt(n.Line, n.Column, path, format, args...)
}

// fail reports a bad value at path's recorded position and marks it so that
// validation does not complain about the zero value left behind.
func (d *decoder) fail(path, format string, args ...any) {
	d.src.bad[path] = true
	p := d.src.find(path)
	d.errorAt(p.line, p.col, path, format, args...)
}

func (d *decoder) typeError(path, want string, n *yaml.Node) {
	d.fail(path, "expected %s (got %s)", want, describe(n))
}

func (d *decoder) document(data []byte, c *Config) {
	root, err := parseYAML(data)
	if err != nil {
		d.errs = append(d.errs, syntaxError(d.file, err))
		return
	}
	if root == nil {
		return
	}
	root = resolve(root)
	d.src.pos[""] = position{root.Line, root.Column}
	if !isNull(root) && root.Kind != yaml.MappingNode {
		d.fail("", "the top level must be a mapping with defaults, discovery and targets (got %s)", describe(root))
		return
	}
	hints := map[string]string{
		"profile": "defaults", "region": "defaults", "via": "defaults",
		"regions": "discovery", "cache_ttl": "discovery",
	}
	for _, e := range d.fields("", root, []string{"defaults", "discovery", "profiles", "targets"}, hints) {
		switch e.name {
		case "defaults":
			d.defaults(e.path, e.val, &c.Defaults)
		case "discovery":
			d.discovery(e.path, e.val, &c.Discovery)
		case "profiles":
			d.profiles(e.path, e.val, c)
		case "targets":
			d.targets(e.path, e.val, c)
		}
	}
}

func (d *decoder) defaults(path string, n *yaml.Node, out *Defaults) {
	hints := map[string]string{"profiles": "discovery", "regions": "discovery", "cache_ttl": "discovery"}
	for _, e := range d.fields(path, n, []string{"profile", "region", "via"}, hints) {
		switch e.name {
		case "profile":
			out.Profile = d.str(e.path, e.val)
		case "region":
			out.Region = d.str(e.path, e.val)
		case "via":
			out.Via = d.str(e.path, e.val)
		}
	}
}

func (d *decoder) discovery(path string, n *yaml.Node, out *Discovery) {
	for _, e := range d.fields(path, n, []string{"profiles", "regions", "cache_ttl"}, nil) {
		switch e.name {
		case "profiles":
			out.Profiles = d.strs(e.path, e.val)
		case "regions":
			out.Regions = d.strs(e.path, e.val)
		case "cache_ttl":
			out.CacheTTL = d.duration(e.path, e.val)
		}
	}
}

// profiles is the top-level mapping of the file's own profiles. A list
// there is most likely discovery.profiles written one level too high.
func (d *decoder) profiles(path string, n *yaml.Node, c *Config) {
	if r := resolve(n); r.Kind == yaml.SequenceNode {
		d.fail(path, "expected a mapping of profile names to role settings (got a list); the profiles to search go in discovery.profiles")
		return
	}
	c.Profiles = map[string]*Profile{}
	for _, e := range d.fields(path, n, nil, nil) {
		p := &Profile{Name: e.name}
		for _, f := range d.fields(e.path, e.val, []string{"source_profile", "role_arn", "external_id", "mfa_serial"}, nil) {
			switch f.name {
			case "source_profile":
				p.SourceProfile = d.str(f.path, f.val)
			default:
				d.role(f, &p.Role)
			}
		}
		c.Profiles[e.name] = p
	}
}

// role decodes one of role_arn, external_id and mfa_serial into r.
func (d *decoder) role(e entry, r *Role) {
	switch e.name {
	case "role_arn":
		r.ARN = d.str(e.path, e.val)
	case "external_id":
		r.ExternalID = d.str(e.path, e.val)
	case "mfa_serial":
		r.MFASerial = d.str(e.path, e.val)
	}
}

func (d *decoder) targets(path string, n *yaml.Node, c *Config) {
	// nil known keys: any name is accepted here; validate checks its form.
	for _, e := range d.fields(path, n, nil, nil) {
		c.Targets[e.name] = d.target(e.path, e.name, e.val)
		c.Order = append(c.Order, e.name)
	}
}

func (d *decoder) target(path, name string, n *yaml.Node) *Target {
	known := []string{
		"profile", "region", "database", "endpoint", "host", "port", "via", "bastion",
		"local_port", "sessions", "keepalive", "engine", "user", "dbname", "sslmode", "ssh",
		"role_arn", "external_id", "mfa_serial",
	}
	hints := map[string]string{"identity_file": "ssh", "known_hosts": "ssh", "proxy_jump": "ssh"}
	t := &Target{Name: name}
	for _, e := range d.fields(path, n, known, hints) {
		switch e.name {
		case "profile":
			t.Profile = d.str(e.path, e.val)
		case "region":
			t.Region = d.str(e.path, e.val)
		case "database":
			t.Database = d.str(e.path, e.val)
		case "endpoint":
			t.Endpoint = d.str(e.path, e.val)
		case "host":
			t.Host = d.str(e.path, e.val)
		case "port":
			t.Port = d.integer(e.path, e.val)
		case "via":
			t.Via = d.str(e.path, e.val)
		case "bastion":
			t.Bastion = d.str(e.path, e.val)
		case "local_port":
			t.LocalPort = d.integer(e.path, e.val)
		case "sessions":
			t.Sessions = d.integer(e.path, e.val)
		case "keepalive":
			t.Keepalive = d.duration(e.path, e.val)
		case "engine":
			// Engines are compared case-insensitively everywhere (RDS
			// reports "aurora-postgresql", users write "Postgres").
			t.Engine = strings.ToLower(d.str(e.path, e.val))
		case "user":
			t.User = d.str(e.path, e.val)
		case "dbname":
			t.DBName = d.str(e.path, e.val)
		case "sslmode":
			t.SSLMode = d.str(e.path, e.val)
		case "ssh":
			t.SSH = d.ssh(e.path, e.val)
		case "role_arn", "external_id", "mfa_serial":
			d.role(e, &t.Role)
		}
	}
	return t
}

// ssh returns nil only when the value is not a mapping at all, so that a
// present but empty block still gets "missing host" from validate.
func (d *decoder) ssh(path string, n *yaml.Node) *SSH {
	if r := resolve(n); !isNull(r) && r.Kind != yaml.MappingNode {
		d.typeError(path, "a mapping", r)
		return nil
	}
	s := &SSH{}
	known := []string{"host", "port", "user", "identity_file", "known_hosts", "proxy_jump"}
	for _, e := range d.fields(path, n, known, nil) {
		switch e.name {
		case "host":
			s.Host = d.str(e.path, e.val)
		case "port":
			s.Port = d.integer(e.path, e.val)
		case "user":
			s.User = d.str(e.path, e.val)
		case "identity_file":
			s.IdentityFile = d.pathValue(e.path, e.val)
		case "known_hosts":
			s.KnownHosts = d.pathValue(e.path, e.val)
		case "proxy_jump":
			s.ProxyJump = d.str(e.path, e.val)
		}
	}
	return s
}

// entry is one known key of a mapping, its recorded path and its value.
type entry struct {
	name string
	path string
	val  *yaml.Node
}

// fields checks that n is a mapping (null counts as empty) and returns its
// entries in file order, after reporting non-string, duplicate and unknown
// keys. known nil accepts any key. hints name the section an unknown key
// belongs in, for keys users commonly put one level off.
func (d *decoder) fields(path string, n *yaml.Node, known []string, hints map[string]string) []entry {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.typeError(path, "a mapping", n)
		return nil
	}
	var out []entry
	first := map[string]int{} // key → line of its first occurrence
	for _, kv := range d.pairs(path, n, map[*yaml.Node]mergeState{}) {
		k := kv.key
		if k.Kind != yaml.ScalarNode {
			d.errorNode(k, path, "keys must be strings (got %s)", describe(k))
			continue
		}
		p := join(path, k.Value)
		if line, dup := first[k.Value]; dup {
			d.errorNode(k, p, "duplicate key (first at line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		if known != nil && !slices.Contains(known, k.Value) {
			d.errorNode(k, p, "unknown key%s", suggest(k.Value, known, hints))
			continue
		}
		d.src.pos[p] = position{k.Line, k.Column}
		out = append(out, entry{name: k.Value, path: p, val: kv.val})
	}
	return out
}

type pair struct{ key, val *yaml.Node }

type mergeState int

const (
	merging mergeState = iota + 1 // being expanded: seeing it again is a cycle
	merged                        // already expanded: its keys are in, skip it
)

// pairs lists the key/value pairs of mapping m with YAML merge keys ("<<")
// expanded. Keys written in m come first and win; merged keys follow in
// order and are dropped when already present, which is YAML's merge rule.
// Duplicates among written keys are kept so that fields reports them.
// Each mapping is expanded at most once per call, so anchors that merge
// each other cannot blow up or loop.
func (d *decoder) pairs(path string, m *yaml.Node, state map[*yaml.Node]mergeState) []pair {
	state[m] = merging
	defer func() { state[m] = merged }()
	var own, extra []pair
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			extra = append(extra, d.merge(path, k, v, state)...)
			continue
		}
		own = append(own, pair{k, v})
	}
	seen := map[string]bool{}
	for _, p := range own {
		if p.key.Kind == yaml.ScalarNode {
			seen[p.key.Value] = true
		}
	}
	for _, p := range extra {
		if p.key.Kind == yaml.ScalarNode {
			if seen[p.key.Value] {
				continue
			}
			seen[p.key.Value] = true
		}
		own = append(own, p)
	}
	return own
}

func (d *decoder) merge(path string, k, v *yaml.Node, state map[*yaml.Node]mergeState) []pair {
	v = resolve(v)
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = srcs[:0]
		for _, c := range v.Content {
			srcs = append(srcs, resolve(c))
		}
	}
	var out []pair
	for _, s := range srcs {
		switch {
		case s.Kind != yaml.MappingNode:
			d.errorNode(k, path, "merge key \"<<\" needs a mapping or a list of mappings (got %s)", describe(s))
		case state[s] == merging:
			d.errorNode(k, path, "merge key \"<<\" refers to a mapping that contains it")
		case state[s] == merged:
		default:
			out = append(out, d.pairs(path, s, state)...)
		}
	}
	return out
}

// str decodes a non-empty string. Any scalar is accepted (a profile named
// 123 is still a name), but not null: an empty value is always a slip.
func (d *decoder) str(path string, n *yaml.Node) string {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		d.typeError(path, "a string", n)
		return ""
	}
	if isNull(n) || n.Value == "" {
		d.fail(path, "must not be empty")
		return ""
	}
	return n.Value
}

// integer decodes a YAML integer; a quoted "5432" is refused like any
// other string so that types in the file mean what they say.
func (d *decoder) integer(path string, n *yaml.Node) int {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var v int64
		if err := n.Decode(&v); err == nil {
			if v < math.MinInt32 || v > math.MaxInt32 {
				d.fail(path, "out of range (got %s)", n.Value)
				return 0
			}
			return int(v)
		}
	}
	d.typeError(path, "an integer", n)
	return 0
}

func (d *decoder) duration(path string, n *yaml.Node) time.Duration {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if v, err := time.ParseDuration(n.Value); err == nil {
			return v
		}
	}
	d.fail(path, "expected a duration such as \"10m\" or \"1h30m\" (got %s)", describe(n))
	return 0
}

// strs decodes a list of strings. Bad elements stay in place (as "") so
// that indexes in later errors match the file.
func (d *decoder) strs(path string, n *yaml.Node) []string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.typeError(path, "a list", n)
		return nil
	}
	out := make([]string, len(n.Content))
	for i, c := range n.Content {
		p := elem(path, i)
		d.src.pos[p] = position{c.Line, c.Column}
		out[i] = d.str(p, c)
	}
	return out
}

// pathValue decodes a filesystem path, expanding a leading ~ to home the way a
// shell would, since the file is usually shared between machines.
func (d *decoder) pathValue(path string, n *yaml.Node) string {
	s := d.str(path, n)
	if !strings.HasPrefix(s, "~") {
		return s
	}
	if len(s) > 1 && s[1] != '/' && s[1] != filepath.Separator {
		d.fail(path, "~user is not supported; use ~/ or an absolute path (got %q)", s)
		return ""
	}
	if d.home == "" {
		d.fail(path, "cannot expand ~: home directory unknown")
		return ""
	}
	return filepath.Join(d.home, s[1:])
}

// resolve follows aliases to the node they name. The bound only guards
// against a malformed tree; the parser never chains aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// describe renders a value for "got ..." in messages, cut short so that a
// pasted blob does not flood the terminal.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if isNull(n) {
		return "an empty value"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	switch n.Tag {
	case "!!int", "!!float", "!!bool":
		return v // a plain 22 or true reads better unquoted
	}
	return strconv.Quote(v)
}

// parseYAML returns the root node of the single document in data, or nil
// for an empty file.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	// The parser has internal-error panics of its own; a config file must
	// produce an error message, never a crash with a stack trace.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: internal parser error: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, err
	case len(next.Content) > 0 && !isNull(next.Content[0]):
		return nil, &Error{Line: next.Line, Col: next.Column, Msg: "only one YAML document is allowed"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// syntaxError turns a parser error into an *Error. The parser reports
// "yaml: line N: problem" and only sometimes a line; Line is at least 1 so
// every error points somewhere in the file.
func syntaxError(file string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		e.File = file
		return e
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil && n >= 1 {
				line, msg = n, text
				// yaml v3 adds 1 to the 0-based mark for scanner errors
				// but not for parser errors: correct those so the line
				// names the construct that failed (or the problem).
				if parserProblem(msg) {
					line++
				}
			}
		}
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// parserProblem reports whether msg is one of the parser's (as opposed to
// the scanner's) problems, listed from yaml v3's parserc.go; the tests pin
// the resulting lines so that a yaml upgrade that changes them shows up.
func parserProblem(msg string) bool {
	switch msg {
	case "did not find expected <stream-start>",
		"did not find expected <document start>",
		"did not find expected node content",
		"did not find expected '-' indicator",
		"did not find expected key",
		"did not find expected ',' or ']'",
		"did not find expected ',' or '}'",
		"found undefined tag handle",
		"found duplicate %YAML directive",
		"found incompatible YAML document",
		"found duplicate %TAG directive":
		return true
	}
	return false
}
