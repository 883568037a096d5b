package ssh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sshconfig "github.com/kevinburke/ssh_config"
	gossh "golang.org/x/crypto/ssh"
)

// Config describes one tunnel's path: the bastion (possibly behind jump
// hosts) and the database address as the bastion sees it. Empty fields are
// filled from the OpenSSH client configuration, the way `ssh` would.
type Config struct {
	// Host is the bastion: an address or an alias in the ssh config.
	Host string
	// Port overrides the ssh config Port; 0 means the ssh config, else 22.
	Port int
	// User overrides the ssh config User; "" means the ssh config, else the
	// current OS user.
	User string
	// IdentityFiles are tried before the ssh config IdentityFile entries.
	// Paths must already be ~-expanded.
	IdentityFiles []string
	// KnownHostsFiles replaces the ssh config UserKnownHostsFile (default
	// ~/.ssh/known_hosts). Accepted new keys go to the first one.
	KnownHostsFiles []string
	// ProxyJump overrides the ssh config ProxyJump: a comma-separated list
	// of [user@]host[:port] hops; "none" disables jumping.
	ProxyJump string
	// SSHConfigFile is read instead of ~/.ssh/config and
	// /etc/ssh/ssh_config; "none" reads no ssh config at all.
	SSHConfigFile string
	// Home is the home directory for ~ and the default file locations;
	// "" means os.UserHomeDir.
	Home string
	// AgentSocket is the ssh-agent socket; "" means the ssh config
	// IdentityAgent, else $SSH_AUTH_SOCK; "none" disables the agent.
	AgentSocket string
	// Remote is the database host:port as the bastion resolves it.
	Remote string
	// AcceptNewHostKey records an unknown host key without asking, like
	// OpenSSH StrictHostKeyChecking=accept-new. A changed key still fails.
	AcceptNewHostKey bool
	// Prompter asks for key passphrases and unknown host keys; nil means
	// there is no one to ask.
	Prompter Prompter
	// KeepaliveInterval is the time between keepalive@openssh.com requests;
	// 0 means 15s, negative disables keepalives.
	KeepaliveInterval time.Duration
	// KeepaliveMaxMissed is how many intervals may pass without a reply
	// before the connection is declared lost; 0 means 3.
	KeepaliveMaxMissed int
	// ConnectTimeout bounds each hop's TCP connect and SSH handshake, not
	// counting time spent waiting on the Prompter; 0 means 15s.
	ConnectTimeout time.Duration
	// Ciphers overrides DefaultCiphers, in preference order.
	Ciphers []string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger

	// Transport, if set, opens the byte stream to the bastion instead of a
	// TCP dial of its address: an SSM session (AWS-StartSSHSession), for
	// example. Host still names the bastion in known_hosts and the ssh
	// config, but a ProxyCommand there is not run (Transport replaces it)
	// and jump hosts are refused.
	Transport func(ctx context.Context) (net.Conn, error)
	// EphemeralKey, if set, is called right before each handshake with the
	// bastion (not with jump hosts) with the login user; a signer it returns
	// is offered before any other key. EC2 Instance Connect uses it to push
	// a key that the instance accepts for 60 s. An error fails the connect;
	// (nil, nil) means no key this time.
	EphemeralKey func(ctx context.Context, user string) (gossh.Signer, error)
	// VouchHostKey, if set, is asked about a bastion host key that no
	// known_hosts file holds, before AcceptNewHostKey or the Prompter. ok
	// means an independent source (the instance's console) confirms the
	// key, which is then recorded; an error refuses the key; (false, nil)
	// leaves the decision to the usual rules. Changed keys always fail.
	VouchHostKey func(ctx context.Context, key gossh.PublicKey) (source string, ok bool, err error)
}

// DefaultCiphers is the cipher preference offered to servers. AES-GCM comes
// first because AES-NI / ARMv8 crypto make it the fastest choice on the
// machines developers and bastions run on; ChaCha20 stays as the fallback
// for hardware without AES instructions. It is a function rather than a
// variable so that no caller can change it for everyone else.
func DefaultCiphers() []string {
	return []string{
		gossh.CipherAES128GCM,
		gossh.CipherAES256GCM,
		gossh.CipherChaCha20Poly1305,
		gossh.CipherAES128CTR,
		gossh.CipherAES192CTR,
		gossh.CipherAES256CTR,
	}
}

const (
	defaultKeepaliveInterval = 15 * time.Second
	defaultKeepaliveMissed   = 3
	defaultConnectTimeout    = 15 * time.Second
)

// hop is one fully resolved SSH server on the path, ready to dial.
type hop struct {
	alias          string // name the user gave, used for ssh config matching
	host           string // HostName after resolution
	port           int
	user           string
	identityFiles  []string
	explicitIDs    int // how many leading identityFiles the caller named
	defaultIDs     bool
	identitiesOnly bool
	agentSocket    string
	knownHosts     []string
	hashKnownHosts bool
	hostKeyAlias   string
}

func (h *hop) addr() string { return net.JoinHostPort(h.host, strconv.Itoa(h.port)) }

// knownHostsAddr is the name the host key is filed under, which differs
// from the dial address only when HostKeyAlias is set.
func (h *hop) knownHostsAddr() string {
	name := h.host
	if h.hostKeyAlias != "" {
		name = h.hostKeyAlias
	}
	return net.JoinHostPort(name, strconv.Itoa(h.port))
}

func (h *hop) String() string {
	if h.alias != "" && h.alias != h.host {
		return fmt.Sprintf("%s (%s)", h.alias, h.addr())
	}
	return h.addr()
}

// sshConfigs holds the parsed ssh config files in precedence order: the
// first value found wins, as in OpenSSH.
type sshConfigs struct {
	files []*sshconfig.Config
	names []string
}

func loadSSHConfigs(cfgFile, home string) (*sshConfigs, error) {
	var paths []string
	explicit := false
	switch cfgFile {
	case "none":
	case "":
		paths = []string{filepath.Join(home, ".ssh", "config"), "/etc/ssh/ssh_config"}
	default:
		paths = []string{cfgFile}
		explicit = true
	}
	c := &sshConfigs{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ssh: read ssh config: %w", err)
		}
		parsed, err := sshconfig.DecodeBytes(b)
		if err != nil {
			return nil, fmt.Errorf("ssh: parse ssh config %s: %w", p, err)
		}
		c.files = append(c.files, parsed)
		c.names = append(c.names, p)
	}
	return c, nil
}

func (c *sshConfigs) get(alias, key string) (string, error) {
	for i, f := range c.files {
		v, err := f.Get(alias, key)
		if err != nil {
			return "", fmt.Errorf("ssh: ssh config %s: %s for %s: %w", c.names[i], key, alias, err)
		}
		if v != "" {
			return v, nil
		}
	}
	return "", nil
}

func (c *sshConfigs) getAll(alias, key string) ([]string, error) {
	var all []string
	for i, f := range c.files {
		v, err := f.GetAll(alias, key)
		if err != nil {
			return nil, fmt.Errorf("ssh: ssh config %s: %s for %s: %w", c.names[i], key, alias, err)
		}
		all = append(all, v...)
	}
	return all, nil
}

// resolver turns names into hops using the ssh config and the caller's
// overrides.
type resolver struct {
	cfg       *Config
	ssh       *sshConfigs
	home      string
	localUser string
}

// hopSpec is what the caller (or a ProxyJump entry) says about a host
// before the ssh config is consulted.
type hopSpec struct {
	alias string
	user  string
	port  int
}

func (r *resolver) resolve(spec hopSpec, target bool) (*hop, error) {
	get := func(key string) (string, error) { return r.ssh.get(spec.alias, key) }
	h := &hop{alias: spec.alias, host: spec.alias, port: 22, user: spec.user}

	hostName, err := get("HostName")
	if err != nil {
		return nil, err
	}
	if hostName != "" {
		h.host = expandTokens(hostName, map[byte]string{'h': spec.alias})
	}

	if spec.port != 0 {
		h.port = spec.port
	} else {
		p, err := get("Port")
		if err != nil {
			return nil, err
		}
		if p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("ssh: ssh config: invalid Port %q for %s", p, spec.alias)
			}
			h.port = n
		}
	}

	if h.user == "" {
		u, err := get("User")
		if err != nil {
			return nil, err
		}
		h.user = u
	}
	if h.user == "" {
		h.user = r.localUser
	}
	if h.user == "" {
		return nil, fmt.Errorf("ssh: no user for %s: set one in the ssh config or the target", spec.alias)
	}

	tokens := map[byte]string{
		'd': r.home, 'h': h.host, 'n': spec.alias, 'p': strconv.Itoa(h.port),
		'r': h.user, 'u': r.localUser,
	}
	expand := func(s string) string { return expandPath(expandTokens(s, tokens), r.home) }

	// OpenSSH applies -i to the destination only; jump hosts get their own
	// ssh config identities. Here the explicit identities also serve as a
	// fallback for jump hosts, since a dbtunnel target names one key for
	// the whole path.
	for _, f := range r.cfg.IdentityFiles {
		h.identityFiles = append(h.identityFiles, expandTilde(f, r.home))
	}
	if target {
		h.explicitIDs = len(r.cfg.IdentityFiles)
	}
	ids, err := r.ssh.getAll(spec.alias, "IdentityFile")
	if err != nil {
		return nil, err
	}
	var fromConfig []string
	for _, id := range ids {
		fromConfig = append(fromConfig, expand(id))
	}
	if target {
		h.identityFiles = append(h.identityFiles, fromConfig...)
	} else {
		h.identityFiles = append(fromConfig, h.identityFiles...)
		h.explicitIDs = 0
	}
	if len(h.identityFiles) == 0 {
		// OpenSSH's defaults, in its order, for when nothing is configured.
		for _, name := range []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk"} {
			h.identityFiles = append(h.identityFiles, filepath.Join(r.home, ".ssh", name))
		}
		h.defaultIDs = true
	}
	h.identityFiles = dedupe(h.identityFiles)

	only, err := get("IdentitiesOnly")
	if err != nil {
		return nil, err
	}
	h.identitiesOnly = strings.EqualFold(only, "yes")

	switch {
	case r.cfg.AgentSocket != "":
		h.agentSocket = r.cfg.AgentSocket
	default:
		ia, err := get("IdentityAgent")
		if err != nil {
			return nil, err
		}
		switch {
		case ia == "" || ia == "SSH_AUTH_SOCK":
			h.agentSocket = os.Getenv("SSH_AUTH_SOCK")
		case strings.HasPrefix(ia, "$"):
			h.agentSocket = os.Getenv(strings.TrimPrefix(ia, "$"))
		default:
			h.agentSocket = expand(ia)
		}
	}
	if h.agentSocket == "none" {
		h.agentSocket = ""
	}

	if len(r.cfg.KnownHostsFiles) > 0 {
		for _, f := range r.cfg.KnownHostsFiles {
			h.knownHosts = append(h.knownHosts, expandTilde(f, r.home))
		}
	} else {
		v, err := get("UserKnownHostsFile")
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(v) {
			if f != "none" {
				h.knownHosts = append(h.knownHosts, expand(f))
			}
		}
		if len(h.knownHosts) == 0 {
			h.knownHosts = []string{filepath.Join(r.home, ".ssh", "known_hosts")}
		}
	}

	hash, err := get("HashKnownHosts")
	if err != nil {
		return nil, err
	}
	h.hashKnownHosts = strings.EqualFold(hash, "yes")

	alias, err := get("HostKeyAlias")
	if err != nil {
		return nil, err
	}
	h.hostKeyAlias = alias
	return h, nil
}

// parseJumps splits an OpenSSH ProxyJump value into hop specs.
func parseJumps(v string) ([]hopSpec, error) {
	var specs []hopSpec
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("ssh: invalid ProxyJump %q: empty hop", v)
		}
		part = strings.TrimPrefix(part, "ssh://")
		var s hopSpec
		if i := strings.LastIndex(part, "@"); i >= 0 {
			s.user, part = part[:i], part[i+1:]
		}
		host, port := part, ""
		if h, p, err := net.SplitHostPort(part); err == nil {
			host, port = h, p
		} else if strings.HasPrefix(part, "[") && strings.HasSuffix(part, "]") {
			host = part[1 : len(part)-1]
		}
		if port != "" {
			n, err := strconv.Atoi(port)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("ssh: invalid ProxyJump %q: bad port %q", v, port)
			}
			s.port = n
		}
		if host == "" {
			return nil, fmt.Errorf("ssh: invalid ProxyJump %q: empty host", v)
		}
		s.alias = host
		specs = append(specs, s)
	}
	return specs, nil
}

// expandTokens replaces the OpenSSH %-tokens it knows and leaves the rest.
func expandTokens(s string, tokens map[byte]string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		if s[i] == '%' {
			b.WriteByte('%')
		} else if v, ok := tokens[s[i]]; ok {
			b.WriteString(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func expandPath(p, home string) string {
	switch {
	case p == "~":
		return home
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(home, p[2:])
	case !filepath.IsAbs(p) && p != "":
		// OpenSSH resolves relative identity and known_hosts paths against
		// the home directory, not the working directory.
		return filepath.Join(home, p)
	}
	return p
}

// expandTilde is the forgiving subset of expandPath for caller-given paths,
// which are otherwise taken as they are.
func expandTilde(p, home string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return expandPath(p, home)
	}
	return p
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// validateRemote insists on host:port because a channel open needs a
// numeric port and a typo here would otherwise surface only at first use.
func validateRemote(remote string) error {
	host, port, err := net.SplitHostPort(remote)
	if err != nil {
		return fmt.Errorf("ssh: invalid remote %q: %w", remote, err)
	}
	n, err := strconv.Atoi(port)
	if host == "" || err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("ssh: invalid remote %q: want host:port", remote)
	}
	return nil
}

// proxyCommandFor reports a ProxyCommand that would apply to alias, since
// silently ignoring it would send traffic somewhere the user did not mean.
func proxyCommandFor(c *sshConfigs, alias string) (string, error) {
	v, err := c.get(alias, "ProxyCommand")
	if err != nil || strings.EqualFold(v, "none") {
		return "", err
	}
	return v, nil
}
