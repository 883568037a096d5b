// Package ssh is the SSH tunnel backend: the equivalent of `ssh -L` over
// golang.org/x/crypto/ssh. A Dialer keeps one SSH connection to the bastion
// (optionally through ProxyJump hosts) and opens a direct-tcpip channel to
// the database for every local connection. Settings follow the user's
// OpenSSH client configuration so that a bastion that works with `ssh`
// works here without repeating anything.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/dbtunnel/dbtunnel/tunnel"
)

// ErrNotConnected is returned (wrapped) by DialContext when no SSH
// connection is up, between a lost connection and the next successful
// Connect; it is tunnel.ErrNotConnected, so the tunnel waits for the next.
var ErrNotConnected = tunnel.ErrNotConnected

const (
	roleBastion = "bastion"
	roleJump    = "jump host"
)

// Dialer is a tunnel.Connector that reaches Remote through an SSH bastion.
type Dialer struct {
	cfg            Config
	log            *slog.Logger
	home           string
	target         *hop
	jumps          []*hop
	ciphers        []string
	connectTimeout time.Duration
	keepalive      time.Duration
	maxMissed      int

	// life ends on Close and cancels a Connect still in progress.
	life context.Context
	kill context.CancelFunc

	connectMu sync.Mutex // one Connect at a time

	mu     sync.Mutex
	sess   *session
	closed bool
	keys   map[string]gossh.Signer // decrypted identity files, by path
}

var _ tunnel.Connector = (*Dialer)(nil)

// New validates cfg and resolves the bastion and jump hosts through the ssh
// config. It does not touch the network; Connect does.
func New(cfg Config) (*Dialer, error) {
	if cfg.Host == "" {
		return nil, errors.New("ssh: no bastion host")
	}
	if err := validateRemote(cfg.Remote); err != nil {
		return nil, err
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("ssh: invalid port %d for bastion %s", cfg.Port, cfg.Host)
	}
	home := cfg.Home
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("ssh: home directory: %w", err)
		}
		home = h
	}
	configs, err := loadSSHConfigs(cfg.SSHConfigFile, home)
	if err != nil {
		return nil, err
	}
	r := &resolver{cfg: &cfg, ssh: configs, home: home, localUser: currentUser()}
	target, err := r.resolve(hopSpec{alias: cfg.Host, user: cfg.User, port: cfg.Port}, true)
	if err != nil {
		return nil, err
	}

	jumpSpec := cfg.ProxyJump
	if cfg.Transport != nil {
		// The transport reaches the bastion itself; the ssh config's
		// ProxyJump or ProxyCommand for it (often the one that runs
		// `aws ssm start-session`) is what it replaces.
		if jumpSpec != "" && !strings.EqualFold(jumpSpec, "none") {
			return nil, fmt.Errorf("ssh: bastion %s is reached through its own transport (SSM), which cannot be combined with ProxyJump %q", cfg.Host, jumpSpec)
		}
		jumpSpec = "none"
	}
	if jumpSpec == "" {
		if jumpSpec, err = configs.get(cfg.Host, "ProxyJump"); err != nil {
			return nil, err
		}
	}
	var jumps []*hop
	if jumpSpec != "" && !strings.EqualFold(jumpSpec, "none") {
		specs, err := parseJumps(jumpSpec)
		if err != nil {
			return nil, err
		}
		for _, s := range specs {
			h, err := r.resolve(s, false)
			if err != nil {
				return nil, err
			}
			jumps = append(jumps, h)
		}
	} else if jumpSpec == "" {
		// An explicit "ProxyJump none" means connect directly, so only an
		// unaddressed ProxyCommand is refused.
		pc, err := proxyCommandFor(configs, cfg.Host)
		if err != nil {
			return nil, err
		}
		if pc != "" {
			return nil, fmt.Errorf("ssh: bastion %s uses ProxyCommand %q in the ssh config, which dbtunnel does not run; use ProxyJump, or set ProxyJump none for this target", cfg.Host, pc)
		}
	}

	d := &Dialer{
		cfg:            cfg,
		log:            cfg.Logger,
		home:           home,
		target:         target,
		jumps:          jumps,
		ciphers:        cfg.Ciphers,
		connectTimeout: cfg.ConnectTimeout,
		keepalive:      cfg.KeepaliveInterval,
		maxMissed:      cfg.KeepaliveMaxMissed,
		keys:           make(map[string]gossh.Signer),
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if len(d.ciphers) == 0 {
		d.ciphers = DefaultCiphers()
	}
	if d.connectTimeout <= 0 {
		d.connectTimeout = defaultConnectTimeout
	}
	if d.keepalive == 0 {
		d.keepalive = defaultKeepaliveInterval
	}
	if d.maxMissed <= 0 {
		d.maxMissed = defaultKeepaliveMissed
	}
	d.life, d.kill = context.WithCancel(context.Background())
	return d, nil
}

// Connect opens the SSH connection, replacing any previous one. The channel
// yields one error when the connection is lost (keepalive timeout, network
// error, server closing) or closed, and is then closed. Host key and
// authentication failures are marked tunnel.Permanent.
func (d *Dialer) Connect(ctx context.Context) (<-chan error, error) {
	d.connectMu.Lock()
	defer d.connectMu.Unlock()

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, d.closedErr()
	}
	old := d.sess
	d.sess = nil
	d.mu.Unlock()
	if old != nil {
		old.stop(fmt.Errorf("ssh: connection to %s %s replaced by a new one", roleBastion, d.target))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(d.life, cancel)()

	client, chain, err := d.dial(ctx)
	if err != nil {
		if d.life.Err() != nil {
			return nil, d.closedErr()
		}
		return nil, err
	}
	s := newSession(client, chain, d.target.String(), d.keepalive, d.maxMissed, d.log)

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		s.stop(d.closedErr())
		return nil, d.closedErr()
	}
	d.sess = s
	d.mu.Unlock()

	attrs := []any{"bastion", d.target.String(), "user", d.target.user, "remote", d.cfg.Remote}
	if len(d.jumps) > 0 {
		attrs = append(attrs, "via", hopNames(d.jumps))
	}
	d.log.Info("ssh: connected", attrs...)
	return s.lost, nil
}

// DialContext opens a direct-tcpip channel to Remote over the current
// connection. The returned conn supports CloseWrite, which sends EOF on the
// channel while the reply can still be read.
func (d *Dialer) DialContext(ctx context.Context) (net.Conn, error) {
	d.mu.Lock()
	s := d.sess
	d.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("ssh: open channel to %s via %s %s: %w", d.cfg.Remote, roleBastion, d.target, ErrNotConnected)
	}
	conn, err := s.client.DialContext(ctx, "tcp", d.cfg.Remote)
	if err != nil {
		var refused *gossh.OpenChannelError
		if !errors.As(err, &refused) && ctx.Err() == nil {
			// Not the server's answer: the connection under the channel
			// is gone, and the watcher is about to report it.
			select {
			case <-s.ended:
				err = fmt.Errorf("%w (%w)", ErrNotConnected, err)
			case <-ctx.Done():
			}
		}
		return nil, fmt.Errorf("ssh: open channel to %s via %s %s: %w", d.cfg.Remote, roleBastion, d.target, err)
	}
	return conn, nil
}

// Close ends the connection and every goroutine the Dialer started, and
// forgets decrypted keys. A Connect in progress fails.
func (d *Dialer) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	s := d.sess
	d.sess = nil
	d.keys = nil
	d.mu.Unlock()
	d.kill()
	if s != nil {
		s.stop(d.closedErr())
	}
	return nil
}

func (d *Dialer) closedErr() error {
	return tunnel.Permanent(fmt.Errorf("ssh: connection to %s %s: %w", roleBastion, d.target, net.ErrClosed))
}

func hopNames(hops []*hop) string {
	names := make([]string, len(hops))
	for i, h := range hops {
		names[i] = h.String()
	}
	return strings.Join(names, ",")
}

// dial connects through every jump host to the bastion. It returns the
// bastion client and the jump clients, outermost first.
func (d *Dialer) dial(ctx context.Context) (*gossh.Client, []*gossh.Client, error) {
	hops := append(slices.Clone(d.jumps), d.target)
	var clients []*gossh.Client
	closeAll := func() {
		for i := len(clients) - 1; i >= 0; i-- {
			clients[i].Close()
		}
	}
	for i, h := range hops {
		role, via := roleJump, ""
		if i == len(hops)-1 {
			role = roleBastion
		}
		dctx, cancel := context.WithTimeout(ctx, d.connectTimeout)
		var conn net.Conn
		var err error
		switch {
		case i == 0 && d.cfg.Transport != nil:
			conn, err = d.cfg.Transport(dctx)
		case i == 0:
			var nd net.Dialer
			conn, err = nd.DialContext(dctx, "tcp", h.addr())
		default:
			via = fmt.Sprintf(" via %s %s", roleJump, hops[i-1])
			conn, err = clients[i-1].DialContext(dctx, "tcp", h.addr())
		}
		cancel()
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("ssh: dial %s %s%s: %w", role, h, via, err)
		}
		var ephemeral gossh.Signer
		if role == roleBastion && d.cfg.EphemeralKey != nil {
			// Pushed only now, with the connection open, so that as much
			// as possible of the key's short validity is left for the
			// handshake.
			kctx, cancel := context.WithTimeout(ctx, d.connectTimeout)
			ephemeral, err = d.cfg.EphemeralKey(kctx, h.user)
			cancel()
			if err != nil {
				conn.Close()
				closeAll()
				return nil, nil, fmt.Errorf("ssh: %s %s: %w", role, h, err)
			}
		}
		c, err := d.handshake(ctx, conn, h, role, via, ephemeral)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		clients = append(clients, c)
	}
	return clients[len(clients)-1], clients[:len(clients)-1], nil
}

func (d *Dialer) handshake(ctx context.Context, conn net.Conn, h *hop, role, via string, ephemeral gossh.Signer) (*gossh.Client, error) {
	g := newGuard(ctx, conn, d.connectTimeout)
	check, err := d.newHostKeyCheck(ctx, h, role, g)
	if err != nil {
		g.stop()
		conn.Close()
		return nil, tunnel.Permanent(err)
	}
	auth := &authAttempt{d: d, h: h, guard: g, ephemeral: ephemeral}
	cc := &gossh.ClientConfig{
		Config:            gossh.Config{Ciphers: d.ciphers},
		User:              h.user,
		Auth:              []gossh.AuthMethod{gossh.PublicKeysCallback(auth.signers)},
		HostKeyCallback:   check.callback,
		HostKeyAlgorithms: check.algorithms(),
		ClientVersion:     "SSH-2.0-dbtunnel",
	}
	sc, chans, reqs, err := gossh.NewClientConn(conn, h.knownHostsAddr(), cc)
	auth.close()
	abort := g.stop()
	if err == nil && abort != nil {
		sc.Close()
		err = abort
	}
	if err != nil {
		conn.Close()
		if e := check.failure(); e != nil {
			return nil, tunnel.Permanent(e)
		}
		if e := auth.failure(); e != nil {
			return nil, tunnel.Permanent(e)
		}
		if abort != nil {
			return nil, fmt.Errorf("ssh: dial %s %s%s: %w", role, h, via, abort)
		}
		if reason, ok := authFailure(err); ok {
			auth.mu.Lock()
			ae := &AuthError{Target: h.user + "@" + h.addr(), Tried: auth.tried, Notes: auth.notes, Reason: reason}
			auth.mu.Unlock()
			return nil, tunnel.Permanent(ae)
		}
		return nil, fmt.Errorf("ssh: dial %s %s%s: %w", role, h, via, err)
	}
	return gossh.NewClient(sc, chans, reqs), nil
}

// authFailure recognises x/crypto's rejection errors, which are untyped.
func authFailure(err error) (string, bool) {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		return "the server accepted none of the offered keys", true
	case strings.Contains(msg, "Too many authentication failures"):
		return "the server gave up after too many keys were offered (set IdentitiesOnly yes and IdentityFile for this host in the ssh config)", true
	}
	return "", false
}

// guard bounds a handshake in time and ties it to ctx. x/crypto takes no
// context, so the only way to abandon a handshake is to close its conn. The
// timer stops while the Prompter waits on the user.
type guard struct {
	conn    net.Conn
	timeout time.Duration
	stopCtx func() bool

	mu     sync.Mutex
	timer  *time.Timer
	done   bool
	reason error
}

func newGuard(ctx context.Context, conn net.Conn, timeout time.Duration) *guard {
	g := &guard{conn: conn, timeout: timeout}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.timer = time.AfterFunc(timeout, func() {
		g.fire(fmt.Errorf("handshake not finished within %s", timeout))
	})
	g.stopCtx = context.AfterFunc(ctx, func() { g.fire(context.Cause(ctx)) })
	return g
}

func (g *guard) fire(reason error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return
	}
	g.done, g.reason = true, reason
	g.conn.Close()
}

func (g *guard) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.done {
		g.timer.Stop()
	}
}

func (g *guard) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.done {
		g.timer.Reset(g.timeout)
	}
}

// stop disarms the guard and reports why it closed the conn, if it did.
func (g *guard) stop() error {
	g.mu.Lock()
	g.done = true
	g.timer.Stop()
	reason := g.reason
	g.mu.Unlock()
	g.stopCtx()
	return reason
}

// session is one live SSH connection and the goroutine watching it.
type session struct {
	client *gossh.Client
	chain  []*gossh.Client // jump clients, outermost first
	name   string
	log    *slog.Logger

	lost     chan error
	quit     chan struct{}
	quitOnce sync.Once
	reason   error         // why stop was called; written before quit closes
	ended    chan struct{} // closed when the connection is known to be over
	done     chan struct{}
}

func newSession(client *gossh.Client, chain []*gossh.Client, name string, interval time.Duration, maxMissed int, log *slog.Logger) *session {
	s := &session{
		client: client,
		chain:  chain,
		name:   name,
		log:    log,
		lost:   make(chan error, 1),
		quit:   make(chan struct{}),
		ended:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	go s.watch(interval, maxMissed)
	return s
}

// stop closes the connection, waits for the watcher to finish, and has it
// report reason on lost.
func (s *session) stop(reason error) {
	s.quitOnce.Do(func() {
		s.reason = reason
		close(s.quit)
	})
	<-s.done
}

// watch is the session's only long-lived goroutine. It ends on stop, on
// connection loss, or after maxMissed keepalive intervals without a reply;
// before returning it closes the connection and waits for the helpers it
// started, so nothing outlives the session.
func (s *session) watch(interval time.Duration, maxMissed int) {
	defer close(s.done)

	waitc := make(chan error, 1)
	go func() { waitc <- s.client.Wait() }()

	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	replies := make(chan error, 1)
	inflight, missed := false, 0

	var reason error
	stopped := false
loop:
	for {
		select {
		case <-s.quit:
			reason, stopped = s.reason, true
			break loop
		case err := <-waitc:
			waitc = nil
			if err == nil {
				err = io.EOF
			}
			reason = fmt.Errorf("ssh: connection to %s %s lost: %w", roleBastion, s.name, err)
			break loop
		case err := <-replies:
			inflight, missed = false, 0
			if err != nil {
				reason = fmt.Errorf("ssh: connection to %s %s lost: keepalive: %w", roleBastion, s.name, err)
				break loop
			}
		case <-tick:
			if inflight {
				missed++
				if missed >= maxMissed {
					reason = fmt.Errorf("ssh: connection to %s %s lost: no reply to keepalive for %d intervals of %s", roleBastion, s.name, missed, interval)
					break loop
				}
				continue
			}
			inflight = true
			go func() {
				// Any reply, even a refusal, proves the server is alive.
				_, _, err := s.client.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}

	close(s.ended)
	s.client.Close()
	for i := len(s.chain) - 1; i >= 0; i-- {
		s.chain[i].Close()
	}
	if waitc != nil {
		<-waitc
	}
	if inflight {
		<-replies
	}
	if !stopped {
		s.log.Warn("ssh: connection lost", "bastion", s.name, "err", reason)
	}
	s.lost <- reason
	close(s.lost)
}
