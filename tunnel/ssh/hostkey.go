package ssh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	gossh "golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyChangedError means a server presented a key other than the one
// recorded for it: either the server was rebuilt or someone is in the
// middle. Connecting never proceeds past it.
type HostKeyChangedError struct {
	Host     string          // host:port as filed in known_hosts
	Role     string          // "bastion" or "jump host"
	File     string          // known_hosts file holding the old key
	Line     int             // line of the old key in File
	Key      gossh.PublicKey // the key the server presented
	defaultF bool            // File is the one ssh-keygen edits by default
	others   []xknownhosts.KnownKey
}

// RemoveCommand is the command that forgets the old key, for a user who has
// confirmed the change is legitimate.
func (e *HostKeyChangedError) RemoveCommand() string {
	cmd := "ssh-keygen -R " + shellQuote(knownhosts.Normalize(e.Host))
	if !e.defaultF {
		cmd += " -f " + shellQuote(e.File)
	}
	return cmd
}

func (e *HostKeyChangedError) Error() string {
	where := fmt.Sprintf("%s:%d", e.File, e.Line)
	for _, k := range e.others {
		where += fmt.Sprintf(", %s:%d", k.Filename, k.Line)
	}
	return fmt.Sprintf("ssh: host key for %s has changed (known key at %s; server now offers %s %s); if the %s was rebuilt, remove that line with: %s",
		e.Host, where, e.Key.Type(), gossh.FingerprintSHA256(e.Key), e.Role, e.RemoveCommand())
}

// HostKeyUnknownError means a server's key is in no known_hosts file and
// nobody could be asked to trust it.
type HostKeyUnknownError struct {
	Host  string // host:port as filed in known_hosts
	Key   gossh.PublicKey
	Files []string // the known_hosts files searched
	hint  string
}

func (e *HostKeyUnknownError) Error() string {
	return fmt.Sprintf("ssh: host key for %s is unknown (%s %s, not in %s); verify the fingerprint, then trust it by running again with --accept-new-host-key, or by connecting once with: %s",
		e.Host, e.Key.Type(), gossh.FingerprintSHA256(e.Key), strings.Join(e.Files, ", "), e.hint)
}

// hostKeyCheck verifies one hop's host key and remembers why it refused,
// because x/crypto does not promise to keep the callback's error wrapped.
type hostKeyCheck struct {
	ctx   context.Context // the connect's, for VouchHostKey
	d     *Dialer
	h     *hop
	role  string
	guard *guard
	db    *knownhosts.HostKeyDB // nil when no known_hosts file exists yet
	files []string

	mu  sync.Mutex
	err error
}

func (d *Dialer) newHostKeyCheck(ctx context.Context, h *hop, role string, g *guard) (*hostKeyCheck, error) {
	c := &hostKeyCheck{ctx: ctx, d: d, h: h, role: role, guard: g}
	for _, f := range h.knownHosts {
		_, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ssh: known_hosts: %w", err)
		}
		c.files = append(c.files, f)
	}
	if len(c.files) > 0 {
		db, err := knownhosts.NewDB(c.files...)
		if err != nil {
			return nil, fmt.Errorf("ssh: read known_hosts: %w", err)
		}
		c.db = db
	}
	return c, nil
}

// algorithms lists the key types already known for the host first, so the
// server presents a key we can verify rather than a valid one of another
// type that would look like a change; the rest follow so that a server that
// really dropped the known type still reaches the changed-key check.
// Certificates are left out unless a @cert-authority line asks for them,
// since an unknown certificate cannot be recorded as a plain host key.
func (c *hostKeyCheck) algorithms() []string {
	var algos []string
	if c.db != nil {
		algos = c.db.HostKeyAlgorithms(c.h.knownHostsAddr())
	}
	for _, a := range gossh.SupportedAlgorithms().HostKeys {
		if !strings.Contains(a, "-cert-") && !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos
}

func (c *hostKeyCheck) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *hostKeyCheck) fail(err error) error {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	return err
}

func (c *hostKeyCheck) callback(_ string, remote net.Addr, key gossh.PublicKey) error {
	host := c.h.knownHostsAddr()
	if remote == nil {
		remote = &net.TCPAddr{}
	}
	if c.db != nil {
		err := c.db.HostKeyCallback()(host, remote, key)
		var revoked *xknownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &revoked):
			return c.fail(fmt.Errorf("ssh: host key for %s is marked revoked at %s:%d", host, revoked.Revoked.Filename, revoked.Revoked.Line))
		case knownhosts.IsHostKeyChanged(err):
			var ke *xknownhosts.KeyError
			errors.As(err, &ke)
			return c.fail(c.changed(host, key, ke.Want))
		case !knownhosts.IsHostUnknown(err):
			return c.fail(fmt.Errorf("ssh: check host key for %s: %w", host, err))
		}
	}
	return c.unknown(host, key)
}

func (c *hostKeyCheck) changed(host string, key gossh.PublicKey, want []xknownhosts.KnownKey) error {
	// Point at the lines of the same key type first: those are the ones the
	// server replaced.
	same := slices.DeleteFunc(slices.Clone(want), func(k xknownhosts.KnownKey) bool { return k.Key.Type() != key.Type() })
	if len(same) > 0 {
		want = same
	}
	slices.SortFunc(want, func(a, b xknownhosts.KnownKey) int {
		if a.Filename != b.Filename {
			return strings.Compare(a.Filename, b.Filename)
		}
		return a.Line - b.Line
	})
	return &HostKeyChangedError{
		Host:     host,
		Role:     c.role,
		File:     want[0].Filename,
		Line:     want[0].Line,
		Key:      key,
		defaultF: want[0].Filename == filepath.Join(c.d.home, ".ssh", "known_hosts"),
		others:   want[1:],
	}
}

func (c *hostKeyCheck) unknown(host string, key gossh.PublicKey) error {
	if _, ok := key.(*gossh.Certificate); ok {
		return c.fail(fmt.Errorf("ssh: host certificate for %s is not signed by a known @cert-authority", host))
	}
	log := c.d.log.With("host", host, "key_type", key.Type(), "fingerprint", gossh.FingerprintSHA256(key))
	source, vouched, err := c.vouch(key)
	switch {
	case err != nil:
		return c.fail(err)
	case vouched:
		log.Info("ssh: new host key verified", "by", source, "known_hosts", c.h.knownHosts[0])
	case c.d.cfg.AcceptNewHostKey:
		log.Warn("ssh: accepting new host key", "known_hosts", c.h.knownHosts[0])
	case c.d.cfg.Prompter != nil:
		prompt := fmt.Sprintf("The authenticity of %s %s can't be established.\n%s key fingerprint is %s.\nAre you sure you want to continue connecting?",
			c.role, c.h, key.Type(), gossh.FingerprintSHA256(key))
		c.guard.pause()
		ok, err := c.d.cfg.Prompter.Confirm(prompt)
		c.guard.resume()
		if err != nil {
			return c.fail(fmt.Errorf("ssh: confirm host key for %s: %w", host, err))
		}
		if !ok {
			return c.fail(fmt.Errorf("ssh: host key for %s (%s %s) was not accepted", host, key.Type(), gossh.FingerprintSHA256(key)))
		}
		log.Info("ssh: host key accepted", "known_hosts", c.h.knownHosts[0])
	default:
		hint := "ssh"
		if c.h.port != 22 {
			hint += " -p " + strconv.Itoa(c.h.port)
		}
		hint += " " + c.h.user + "@" + c.h.host
		return c.fail(&HostKeyUnknownError{Host: host, Key: key, Files: c.h.knownHosts, hint: hint})
	}
	if err := appendKnownHost(c.h.knownHosts[0], host, key, c.h.hashKnownHosts); err != nil {
		return c.fail(err)
	}
	return nil
}

// vouch asks VouchHostKey, for the bastion only, with the handshake's
// timer stopped: the answer comes from an API call, not from the server.
func (c *hostKeyCheck) vouch(key gossh.PublicKey) (string, bool, error) {
	if c.d.cfg.VouchHostKey == nil || c.role != roleBastion {
		return "", false, nil
	}
	c.guard.pause()
	defer c.guard.resume()
	ctx, cancel := context.WithTimeout(c.ctx, c.d.connectTimeout)
	defer cancel()
	return c.d.cfg.VouchHostKey(ctx, key)
}

// appendKnownHost records key the way OpenSSH does on first contact, so the
// next connect (by us or by ssh) checks strictly against it. Hashing follows
// HashKnownHosts, which Debian and Ubuntu turn on system-wide.
func appendKnownHost(file, host string, key gossh.PublicKey, hash bool) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("ssh: record host key for %s: %w", host, err)
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ssh: record host key for %s: %w", host, err)
	}
	name := knownhosts.Normalize(host)
	if hash {
		name = xknownhosts.HashHostname(name)
	}
	line := name + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key))) + "\n"
	// A file whose last line lacks its newline would swallow ours into it.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("ssh: record host key for %s in %s: %w", host, file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ssh: record host key for %s in %s: %w", host, file, err)
	}
	return nil
}

// shellQuote quotes s for copy-pasting into a POSIX shell; bracketed
// known_hosts names like [host]:2222 are globs otherwise.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`[]*?&;|<>(){}!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
