package ssh

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AuthError means the server accepted none of the keys offered. Retrying
// with the same keys cannot help.
type AuthError struct {
	Target string   // user@host:port
	Tried  []string // the keys offered, by source and fingerprint
	Notes  []string // keys that could not be offered, and why
	Reason string   // the server's or library's own words
}

func (e *AuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh: authenticate %s: %s", e.Target, e.Reason)
	if len(e.Tried) > 0 {
		fmt.Fprintf(&b, "; tried %s", strings.Join(e.Tried, ", "))
	} else {
		b.WriteString("; no key was offered")
	}
	if len(e.Notes) > 0 {
		fmt.Fprintf(&b, "; skipped %s", strings.Join(e.Notes, "; "))
	}
	return b.String()
}

// authAttempt gathers the keys for one hop's handshake and remembers what
// was offered, so that a rejection can say exactly what the server saw.
type authAttempt struct {
	d         *Dialer
	h         *hop
	guard     *guard
	ephemeral gossh.Signer // pushed for this handshake (EC2 Instance Connect); nil if none

	mu        sync.Mutex
	tried     []string
	notes     []string
	err       error // a key we could not use after the server accepted it
	agentConn net.Conn
}

func (a *authAttempt) note(format string, args ...any) {
	a.mu.Lock()
	a.notes = append(a.notes, fmt.Sprintf(format, args...))
	a.mu.Unlock()
}

func (a *authAttempt) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *authAttempt) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.agentConn != nil {
		a.agentConn.Close()
		a.agentConn = nil
	}
}

// signers is the PublicKeysCallback. It runs once per handshake, when the
// server first asks for public-key auth, so nothing is read (and no agent
// dialled) for a connection that fails earlier.
func (a *authAttempt) signers() ([]gossh.Signer, error) {
	log := a.d.log.With("host", a.h.addr(), "user", a.h.user)
	files := a.identities(log)

	var out []gossh.Signer
	var tried []string
	offered := make(map[string]bool)
	add := func(s gossh.Signer, desc string) {
		k := string(s.PublicKey().Marshal())
		if offered[k] {
			return
		}
		offered[k] = true
		out = append(out, s)
		tried = append(tried, fmt.Sprintf("%s (%s %s)", desc, s.PublicKey().Type(), gossh.FingerprintSHA256(s.PublicKey())))
	}

	// A key pushed for this very connection is the one the server expects.
	if a.ephemeral != nil {
		add(a.ephemeral, "ephemeral key")
	}
	// Agent keys go first, as in OpenSSH: they need no passphrase. With
	// IdentitiesOnly only those matching a configured file are offered, which
	// keeps a crowded agent from exhausting the server's MaxAuthTries.
	for _, s := range a.agentSigners(log) {
		if a.h.identitiesOnly && !hasKey(files, s.PublicKey()) {
			continue
		}
		add(s, "agent key")
	}
	for _, f := range files {
		add(f.signer, f.path)
	}

	a.mu.Lock()
	a.tried = tried
	a.mu.Unlock()
	log.Debug("ssh: offering keys", "keys", tried)
	return out, nil
}

func (a *authAttempt) agentSigners(log *slog.Logger) []gossh.Signer {
	if a.h.agentSocket == "" {
		return nil
	}
	conn, err := net.DialTimeout("unix", a.h.agentSocket, a.d.connectTimeout)
	if err != nil {
		log.Debug("ssh: agent unavailable", "socket", a.h.agentSocket, "err", err)
		a.note("ssh-agent at %s: %v", a.h.agentSocket, err)
		return nil
	}
	a.mu.Lock()
	if a.agentConn != nil {
		a.agentConn.Close()
	}
	a.agentConn = conn
	a.mu.Unlock()
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		a.note("ssh-agent at %s: %v", a.h.agentSocket, err)
		return nil
	}
	if len(signers) == 0 {
		a.note("ssh-agent at %s: holds no keys", a.h.agentSocket)
	}
	return signers
}

type identity struct {
	path   string
	signer gossh.Signer
}

func hasKey(ids []identity, k gossh.PublicKey) bool {
	for _, id := range ids {
		if bytes.Equal(id.signer.PublicKey().Marshal(), k.Marshal()) {
			return true
		}
	}
	return false
}

// identities loads the hop's identity files. Files are read on every
// connect so a key replaced on disk is picked up on reconnect.
func (a *authAttempt) identities(log *slog.Logger) []identity {
	var ids []identity
	for i, path := range a.h.identityFiles {
		pemBytes, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && a.h.defaultIDs {
				continue
			}
			if i < a.h.explicitIDs {
				log.Warn("ssh: identity file unreadable", "file", path, "err", err)
			}
			a.note("%s: %v", path, unwrapPathError(err))
			continue
		}
		signer, err := gossh.ParsePrivateKey(pemBytes)
		if err == nil {
			ids = append(ids, identity{path: path, signer: signer})
			continue
		}
		var missing *gossh.PassphraseMissingError
		if !errors.As(err, &missing) {
			if a.h.defaultIDs {
				log.Debug("ssh: skipping identity file", "file", path, "err", err)
			}
			a.note("%s: %v", path, err)
			continue
		}
		pub := missing.PublicKey
		if pub == nil {
			pub = readPublicKey(path + ".pub")
		}
		if cached := a.d.unlocked(path, pub); cached != nil {
			ids = append(ids, identity{path: path, signer: cached})
			continue
		}
		if pub == nil {
			// Old PEM keys hide their public half; without it the key can
			// only be offered after decrypting, so ask now if we may.
			if a.d.cfg.Prompter == nil {
				a.note("%s: encrypted and no terminal to ask its passphrase (load it with: ssh-add %s)", path, shellQuote(path))
				continue
			}
			s, err := a.d.unlock(path, pemBytes, a.guard)
			if err != nil {
				a.note("%s: %v", path, err)
				continue
			}
			ids = append(ids, identity{path: path, signer: s})
			continue
		}
		ids = append(ids, identity{path: path, signer: &lockedKey{a: a, path: path, pem: pemBytes, pub: pub}})
	}
	return ids
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func readPublicKey(path string) gossh.PublicKey {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := gossh.ParseAuthorizedKey(b)
	if err != nil {
		return nil
	}
	return pub
}

// lockedKey offers an encrypted key by its public half and asks for the
// passphrase only once the server has said it would accept the key, as
// OpenSSH does: a user whose agent already holds the right key is never
// prompted.
type lockedKey struct {
	a    *authAttempt
	path string
	pem  []byte
	pub  gossh.PublicKey
}

func (k *lockedKey) PublicKey() gossh.PublicKey { return k.pub }

func (k *lockedKey) Sign(rand io.Reader, data []byte) (*gossh.Signature, error) {
	s, err := k.open()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, data)
}

func (k *lockedKey) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*gossh.Signature, error) {
	s, err := k.open()
	if err != nil {
		return nil, err
	}
	as, ok := s.(gossh.AlgorithmSigner)
	if !ok {
		return nil, fmt.Errorf("ssh: identity file %s: key type %s cannot sign with %s", k.path, k.pub.Type(), algorithm)
	}
	return as.SignWithAlgorithm(rand, data, algorithm)
}

func (k *lockedKey) open() (gossh.Signer, error) {
	s, err := k.a.d.unlock(k.path, k.pem, k.a.guard)
	if err != nil {
		k.a.mu.Lock()
		k.a.err = err
		k.a.mu.Unlock()
		return nil, err
	}
	if !bytes.Equal(s.PublicKey().Marshal(), k.pub.Marshal()) {
		err := fmt.Errorf("ssh: identity file %s does not match its public key %s.pub", k.path, k.path)
		k.a.mu.Lock()
		k.a.err = err
		k.a.mu.Unlock()
		return nil, err
	}
	return s, nil
}

const passphraseAttempts = 3

// unlock decrypts an identity file through the Prompter and keeps the
// result for the Dialer's lifetime, so that reconnecting after a network
// drop does not stop to ask again (often with nobody at the terminal).
func (d *Dialer) unlock(path string, pemBytes []byte, g *guard) (gossh.Signer, error) {
	p := d.cfg.Prompter
	if p == nil {
		return nil, fmt.Errorf("ssh: identity file %s is encrypted and there is no terminal to ask its passphrase; load it into ssh-agent with: ssh-add %s", path, shellQuote(path))
	}
	g.pause()
	defer g.resume()
	var lastErr error
	for range passphraseAttempts {
		pass, err := p.ReadSecret(fmt.Sprintf("Enter passphrase for key '%s': ", path))
		if err != nil {
			return nil, fmt.Errorf("ssh: identity file %s: %w", path, err)
		}
		if pass == "" {
			// OpenSSH treats an empty answer as "skip this key".
			return nil, fmt.Errorf("ssh: identity file %s: no passphrase given", path)
		}
		s, err := gossh.ParsePrivateKeyWithPassphrase(pemBytes, []byte(pass))
		if err == nil {
			d.mu.Lock()
			if d.keys != nil {
				d.keys[path] = s
			}
			d.mu.Unlock()
			return s, nil
		}
		lastErr = err
		if !isWrongPassphrase(err) {
			break
		}
		d.log.Info("ssh: wrong passphrase", "file", path)
	}
	return nil, fmt.Errorf("ssh: identity file %s: %w", path, lastErr)
}

func isWrongPassphrase(err error) bool { return errors.Is(err, x509.IncorrectPasswordError) }

// unlocked returns the key already decrypted from path, if the file still
// holds the same key.
func (d *Dialer) unlocked(path string, pub gossh.PublicKey) gossh.Signer {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.keys[path]
	if s == nil || (pub != nil && !bytes.Equal(s.PublicKey().Marshal(), pub.Marshal())) {
		return nil
	}
	return s
}
