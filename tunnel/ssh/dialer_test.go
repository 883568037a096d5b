package ssh

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dbtunnel/dbtunnel/tunnel"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is a fake home directory with one identity file, a known_hosts path
// and a database (echo server) for the bastion to reach.
type env struct {
	t          *testing.T
	home       string
	key        ed25519.PrivateKey
	keyPath    string
	knownHosts string
	remote     string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, home: t.TempDir(), key: newKey(t), remote: echoServer(t)}
	e.keyPath = filepath.Join(e.home, ".ssh", "id_test")
	e.knownHosts = filepath.Join(e.home, ".ssh", "known_hosts")
	writeKey(t, e.keyPath, e.key, "")
	return e
}

func (e *env) pub() gossh.PublicKey { return signerOf(e.t, e.key).PublicKey() }

// server starts a bastion that accepts e's key.
func (e *env) server() *testServer { return newTestServer(e.t, e.pub()) }

// trust records s's host key in e's known_hosts.
func (e *env) trust(s *testServer) {
	e.t.Helper()
	if err := appendKnownHost(e.knownHosts, s.addr(), s.hostKey.PublicKey(), false); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) config(s *testServer) Config {
	return Config{
		Host:            "127.0.0.1",
		Port:            s.port,
		User:            "tester",
		IdentityFiles:   []string{e.keyPath},
		KnownHostsFiles: []string{e.knownHosts},
		SSHConfigFile:   "none",
		Home:            e.home,
		AgentSocket:     "none",
		Remote:          e.remote,
		ConnectTimeout:  10 * time.Second,
	}
}

func newDialer(t *testing.T, cfg Config) *Dialer {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func connect(t *testing.T, d *Dialer) <-chan error {
	t.Helper()
	lost, err := d.Connect(context.Background())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return lost
}

// roundTrip checks a full exchange through the tunnel, including the
// half-close: the echo server only says "bye" after it has seen our EOF.
func roundTrip(t *testing.T, d *Dialer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("%T has no CloseWrite", c)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "bye" {
		t.Fatalf("after half-close: %q, %v", rest, err)
	}
}

func wantPermanent(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("connect succeeded, want an error")
	}
	if !tunnel.IsPermanent(err) {
		t.Fatalf("error is not permanent: %v", err)
	}
}

type fakePrompter struct {
	mu      sync.Mutex
	secrets []string // answers to ReadSecret, in order
	confirm bool
	asked   []string
}

func (p *fakePrompter) ReadSecret(prompt string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, prompt)
	if len(p.secrets) == 0 {
		return "", errors.New("no more answers")
	}
	s := p.secrets[0]
	p.secrets = p.secrets[1:]
	return s, nil
}

func (p *fakePrompter) Confirm(prompt string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, prompt)
	return p.confirm, nil
}

func (p *fakePrompter) prompts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

func TestRoundTripAndHalfClose(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	e.trust(s)
	d := newDialer(t, e.config(s))
	connect(t, d)
	roundTrip(t, d)
	roundTrip(t, d) // many channels share the one connection
	if got := s.seenUsers(); len(got) != 1 || got[0] != "tester" {
		t.Fatalf("server saw users %v, want one connection as tester", got)
	}
	if got := s.seenDirects(); len(got) != 2 || got[0] != e.remote {
		t.Fatalf("direct-tcpip targets %v, want %s twice", got, e.remote)
	}
}

func TestDialWithoutConnection(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	d := newDialer(t, e.config(s))
	_, err := d.DialContext(context.Background())
	if !errors.Is(err, ErrNotConnected) || tunnel.IsPermanent(err) {
		t.Fatalf("got %v, want transient ErrNotConnected", err)
	}
	if !strings.Contains(err.Error(), "open channel to "+e.remote+" via bastion") {
		t.Fatalf("error does not name the remote and bastion: %v", err)
	}
}

func TestDialRemoteRefused(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	e.trust(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.remote = ln.Addr().String()
	ln.Close() // nothing listens there now
	d := newDialer(t, e.config(s))
	connect(t, d)
	_, err = d.DialContext(context.Background())
	if err == nil || tunnel.IsPermanent(err) || !strings.Contains(err.Error(), "open channel to "+e.remote) {
		t.Fatalf("got %v, want a transient error naming %s", err, e.remote)
	}
}

func TestUnreachableBastion(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	cfg := e.config(s)
	s.close()
	d := newDialer(t, cfg)
	_, err := d.Connect(context.Background())
	want := fmt.Sprintf("ssh: dial bastion 127.0.0.1:%d: ", s.port)
	if err == nil || tunnel.IsPermanent(err) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want a transient error starting %q", err, want)
	}
}

func TestUnknownHostKeyWithoutPrompter(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	d := newDialer(t, e.config(s))
	_, err := d.Connect(context.Background())
	wantPermanent(t, err)
	var ue *HostKeyUnknownError
	if !errors.As(err, &ue) {
		t.Fatalf("got %T %v, want HostKeyUnknownError", err, err)
	}
	if fp := gossh.FingerprintSHA256(s.hostKey.PublicKey()); !strings.Contains(err.Error(), fp) {
		t.Fatalf("error does not show the fingerprint %s: %v", fp, err)
	}
	if _, err := os.Stat(e.knownHosts); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("known_hosts was written without consent: %v", err)
	}
}

func TestAcceptNewHostKey(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	// A directory that does not exist yet, to check it is created private.
	e.knownHosts = filepath.Join(e.home, "kh", "known_hosts")
	cfg := e.config(s)
	cfg.AcceptNewHostKey = true
	d := newDialer(t, cfg)
	connect(t, d)
	roundTrip(t, d)
	d.Close()

	b, err := os.ReadFile(e.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 ", s.port)
	if !strings.HasPrefix(string(b), want) || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("known_hosts is %q, want one line starting %q", b, want)
	}
	for path, mode := range map[string]os.FileMode{e.knownHosts: 0o600, filepath.Dir(e.knownHosts): 0o700} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), mode)
		}
	}

	// The recorded key now passes strict checking.
	strict := newDialer(t, e.config(s))
	connect(t, strict)
	roundTrip(t, strict)
}

func TestPrompterConfirmsHostKey(t *testing.T) {
	for _, yes := range []bool{true, false} {
		t.Run(strconv.FormatBool(yes), func(t *testing.T) {
			e := newEnv(t)
			s := e.server()
			p := &fakePrompter{confirm: yes}
			cfg := e.config(s)
			cfg.Prompter = p
			d := newDialer(t, cfg)
			_, err := d.Connect(context.Background())
			asked := p.prompts()
			if len(asked) != 1 || !strings.Contains(asked[0], gossh.FingerprintSHA256(s.hostKey.PublicKey())) || !strings.Contains(asked[0], "ssh-ed25519") {
				t.Fatalf("prompts %q, want one showing the key type and fingerprint", asked)
			}
			_, statErr := os.Stat(e.knownHosts)
			if yes {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				roundTrip(t, d)
				if statErr != nil {
					t.Fatalf("accepted key not recorded: %v", statErr)
				}
				return
			}
			wantPermanent(t, err)
			if !errors.Is(statErr, os.ErrNotExist) {
				t.Fatalf("refused key was recorded: %v", statErr)
			}
		})
	}
}

func TestChangedHostKey(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	// Not the default file, so the fix must name it with -f.
	e.knownHosts = filepath.Join(e.home, "hosts")
	old := newSigner(t).PublicKey()
	other := newSigner(t).PublicKey()
	content := "# bastions\n" +
		knownhosts.Line([]string{"other.example"}, other) + "\n" +
		knownhosts.Line([]string{s.addr()}, old) + "\n"
	if err := os.WriteFile(e.knownHosts, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(s)
	// Neither consent nor accept-new may override a changed key.
	cfg.AcceptNewHostKey = true
	p := &fakePrompter{confirm: true}
	cfg.Prompter = p
	d := newDialer(t, cfg)
	_, err := d.Connect(context.Background())
	wantPermanent(t, err)
	var ce *HostKeyChangedError
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want HostKeyChangedError", err, err)
	}
	msg := err.Error()
	for _, want := range []string{
		fmt.Sprintf("host key for 127.0.0.1:%d has changed", s.port),
		e.knownHosts + ":3",
		fmt.Sprintf("ssh-keygen -R '[127.0.0.1]:%d' -f %s", s.port, e.knownHosts),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	if len(p.prompts()) != 0 {
		t.Errorf("prompted on a changed key: %q", p.prompts())
	}
	if b, _ := os.ReadFile(e.knownHosts); string(b) != content {
		t.Errorf("known_hosts was modified:\n%s", b)
	}
}

func TestAuthRejected(t *testing.T) {
	e := newEnv(t)
	s := newTestServer(t, newSigner(t).PublicKey()) // someone else's key
	e.trust(s)
	d := newDialer(t, e.config(s))
	_, err := d.Connect(context.Background())
	wantPermanent(t, err)
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %T %v, want AuthError", err, err)
	}
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("tester@127.0.0.1:%d", s.port), e.keyPath, gossh.FingerprintSHA256(e.pub())} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
}

func TestEncryptedIdentity(t *testing.T) {
	const pass = "correct horse"
	// Encrypting costs a bcrypt run, slow under -race: do it once.
	key := newKey(t)
	keyFile := filepath.Join(t.TempDir(), "key")
	writeKey(t, keyFile, key, pass)
	encrypted, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	setup := func(t *testing.T) (*env, *testServer, Config) {
		e := newEnv(t)
		e.key = key
		writeFile(t, e.keyPath, string(encrypted))
		s := e.server()
		e.trust(s)
		return e, s, e.config(s)
	}

	t.Run("prompter", func(t *testing.T) {
		e, s, cfg := setup(t)
		p := &fakePrompter{secrets: []string{"wrong", pass}}
		cfg.Prompter = p
		d := newDialer(t, cfg)
		connect(t, d)
		roundTrip(t, d)
		asked := p.prompts()
		if len(asked) != 2 || !strings.Contains(asked[1], e.keyPath) {
			t.Fatalf("prompts %q, want two naming %s", asked, e.keyPath)
		}
		// Reconnecting reuses the unlocked key: nobody may be at the
		// terminal when the network drops.
		s.dropAll()
		connect(t, d)
		roundTrip(t, d)
		if n := len(p.prompts()); n != 2 {
			t.Fatalf("reconnect prompted again (%d prompts)", n)
		}
	})

	t.Run("no prompter", func(t *testing.T) {
		e, _, cfg := setup(t)
		d := newDialer(t, cfg)
		_, err := d.Connect(context.Background())
		wantPermanent(t, err)
		if msg := err.Error(); !strings.Contains(msg, e.keyPath) || !strings.Contains(msg, "ssh-add "+e.keyPath) {
			t.Fatalf("error should name the file and suggest ssh-add: %s", msg)
		}
		if strings.Contains(err.Error(), pass) {
			t.Fatal("error leaks the passphrase")
		}
	})

	t.Run("agent has it", func(t *testing.T) {
		// The file stays locked when the agent already holds the key.
		e, _, cfg := setup(t)
		cfg.AgentSocket = agentSocket(t, e.key)
		p := &fakePrompter{}
		cfg.Prompter = p
		d := newDialer(t, cfg)
		connect(t, d)
		roundTrip(t, d)
		if len(p.prompts()) != 0 {
			t.Fatalf("prompted although the agent holds the key: %q", p.prompts())
		}
	})
}

func TestAgentAuth(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	e.trust(s)
	cfg := e.config(s)
	cfg.IdentityFiles = nil
	os.Remove(e.keyPath)
	cfg.AgentSocket = agentSocket(t, newKey(t), e.key)
	d := newDialer(t, cfg)
	connect(t, d)
	roundTrip(t, d)
}

func TestSSHConfigAlias(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	e.knownHosts = filepath.Join(e.home, "hosts")
	e.trust(s)
	sshConfig := filepath.Join(e.home, "ssh_config")
	writeFile(t, sshConfig, fmt.Sprintf(`
Host db-bastion
  HostName 127.0.0.1
  Port %d
  User alice
  IdentityFile ~/.ssh/id_test
  UserKnownHostsFile ~/hosts

Host *
  User nobody
`, s.port))
	d := newDialer(t, Config{
		Host:           "db-bastion",
		SSHConfigFile:  sshConfig,
		Home:           e.home,
		AgentSocket:    "none",
		Remote:         e.remote,
		ConnectTimeout: 10 * time.Second,
	})
	connect(t, d)
	roundTrip(t, d)
	if got := s.seenUsers(); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("server saw users %v, want alice", got)
	}
}

func TestProxyJump(t *testing.T) {
	for _, fromConfig := range []bool{true, false} {
		t.Run(fmt.Sprintf("from ssh config %v", fromConfig), func(t *testing.T) {
			e := newEnv(t)
			bastion := e.server()
			jump := e.server()
			e.trust(bastion)
			e.trust(jump)
			sshConfig := filepath.Join(e.home, "ssh_config")
			writeFile(t, sshConfig, fmt.Sprintf(`
Host bastion
  HostName 127.0.0.1
  Port %d
  User alice
  ProxyJump jump

Host jump
  HostName 127.0.0.1
  Port %d
  User bob
`, bastion.port, jump.port))
			cfg := Config{
				Host:            "bastion",
				IdentityFiles:   []string{e.keyPath},
				KnownHostsFiles: []string{e.knownHosts},
				SSHConfigFile:   sshConfig,
				Home:            e.home,
				AgentSocket:     "none",
				Remote:          e.remote,
				ConnectTimeout:  10 * time.Second,
			}
			wantJumpUser := "bob"
			if !fromConfig {
				cfg.ProxyJump = fmt.Sprintf("carol@127.0.0.1:%d", jump.port)
				wantJumpUser = "carol"
			}
			d := newDialer(t, cfg)
			connect(t, d)
			roundTrip(t, d)
			if got := jump.seenUsers(); len(got) != 1 || got[0] != wantJumpUser {
				t.Errorf("jump host saw users %v, want %s", got, wantJumpUser)
			}
			if got := jump.seenDirects(); len(got) != 1 || got[0] != bastion.addr() {
				t.Errorf("jump host forwarded to %v, want only the bastion %s", got, bastion.addr())
			}
			if got := bastion.seenUsers(); len(got) != 1 || got[0] != "alice" {
				t.Errorf("bastion saw users %v, want alice", got)
			}
		})
	}
}

func TestProxyJumpUnknownJumpHostKey(t *testing.T) {
	e := newEnv(t)
	bastion := e.server()
	jump := e.server()
	e.trust(bastion) // but not the jump host
	cfg := e.config(bastion)
	cfg.ProxyJump = jump.addr()
	d := newDialer(t, cfg)
	_, err := d.Connect(context.Background())
	wantPermanent(t, err)
	var ue *HostKeyUnknownError
	if !errors.As(err, &ue) || ue.Host != jump.addr() {
		t.Fatalf("got %v, want the jump host's key reported unknown", err)
	}
}

func TestKeepaliveLoss(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	e.trust(s)
	cfg := e.config(s)
	// Short enough to lose the connection quickly, long enough that the
	// reconnected session's keepalives are answered on a loaded machine.
	cfg.KeepaliveInterval = 100 * time.Millisecond
	d := newDialer(t, cfg)

	s.silent.Store(true)
	lost := connect(t, d)
	select {
	case err := <-lost:
		if err == nil || !strings.Contains(err.Error(), "keepalive") || tunnel.IsPermanent(err) {
			t.Fatalf("lost: %v, want a transient keepalive error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lost did not fire although keepalives went unanswered")
	}
	if _, ok := <-lost; ok {
		t.Fatal("lost yielded twice")
	}
	if _, err := d.DialContext(context.Background()); !errors.Is(err, tunnel.ErrNotConnected) {
		t.Fatalf("dial on a lost connection: %v, want ErrNotConnected", err)
	}

	s.silent.Store(false)
	connect(t, d)
	roundTrip(t, d)
}

func TestConnectionDropped(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	e.trust(s)
	d := newDialer(t, e.config(s))
	lost := connect(t, d)
	s.dropAll()
	// Whether or not the watcher has seen it yet, a dial says there is no
	// connection, so the tunnel waits for the next one.
	if _, err := d.DialContext(context.Background()); !errors.Is(err, tunnel.ErrNotConnected) {
		t.Fatalf("dial after the drop: %v, want ErrNotConnected", err)
	}
	select {
	case err := <-lost:
		if err == nil || tunnel.IsPermanent(err) {
			t.Fatalf("lost: %v, want a transient error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lost did not fire after the server dropped the connection")
	}
	connect(t, d)
	roundTrip(t, d)
}

func TestClose(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	e.trust(s)
	d := newDialer(t, e.config(s))
	lost := connect(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Close returns only after the session has reported and stopped.
	select {
	case err := <-lost:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("lost: %v, want net.ErrClosed", err)
		}
	default:
		t.Fatal("lost not signalled by the time Close returned")
	}
	_, err := d.Connect(context.Background())
	wantPermanent(t, err)
	if err := d.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestConnectCanceled(t *testing.T) {
	// A listener that accepts but never speaks SSH: the handshake hangs
	// until the context ends it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	e := newEnv(t)
	cfg := e.config(&testServer{port: ln.Addr().(*net.TCPAddr).Port})
	d := newDialer(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := d.Connect(ctx)
		done <- err
	}()
	c := <-accepted
	defer c.Close()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptNewHashesWhenConfigured(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	sshConfig := filepath.Join(e.home, "ssh_config")
	writeFile(t, sshConfig, "Host *\n  HashKnownHosts yes\n")
	cfg := e.config(s)
	cfg.SSHConfigFile = sshConfig
	cfg.AcceptNewHostKey = true
	connect(t, newDialer(t, cfg))
	b, err := os.ReadFile(e.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "|1|") || strings.Contains(string(b), "127.0.0.1") {
		t.Fatalf("known_hosts line not hashed: %q", b)
	}
	cfg.AcceptNewHostKey = false
	connect(t, newDialer(t, cfg))
}

func TestChangedHostKeyType(t *testing.T) {
	// The bastion was rebuilt with only an ed25519 key while an ECDSA key is
	// on record: that must read as a changed key, not a failed negotiation.
	e := newEnv(t)
	s := e.server()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	old, err := gossh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, e.knownHosts, knownhosts.Line([]string{s.addr()}, old)+"\n")
	_, err = newDialer(t, e.config(s)).Connect(context.Background())
	wantPermanent(t, err)
	var ce *HostKeyChangedError
	if !errors.As(err, &ce) || ce.Line != 1 || ce.Key.Type() != gossh.KeyAlgoED25519 {
		t.Fatalf("got %v, want the ed25519 key reported as a change from line 1", err)
	}
}
