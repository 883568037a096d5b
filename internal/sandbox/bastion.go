package sandbox

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	gossh "golang.org/x/crypto/ssh"
)

// bastion is the public bastion: an SSH server in this process that
// accepts one client key and forwards direct-tcpip channels (what ssh -L
// asks for) to the demo's services.
type bastion struct {
	log     *slog.Logger
	ln      net.Listener
	hostKey gossh.Signer
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[io.Closer]struct{}

	channels atomic.Int64
}

// startBastion listens on a loopback port and admits only clientKey.
func startBastion(log *slog.Logger, clientKey gossh.PublicKey, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*bastion, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bastion: host key: %w", err)
	}
	hostKey, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("bastion: host key: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bastion: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &bastion{log: log, ln: ln, hostKey: hostKey, dial: dial, ctx: ctx, cancel: cancel, conns: map[io.Closer]struct{}{}}
	want := clientKey.Marshal()
	cfg := &gossh.ServerConfig{
		PublicKeyCallback: func(meta gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			if string(key.Marshal()) == string(want) {
				return nil, nil
			}
			return nil, fmt.Errorf("bastion: key %s not authorized for %s", gossh.FingerprintSHA256(key), meta.User())
		},
		ServerVersion: "SSH-2.0-dbtunnel-demo-bastion",
	}
	cfg.AddHostKey(hostKey)
	b.wg.Add(1)
	go b.serve(cfg)
	return b, nil
}

// Addr is the loopback address the server listens on.
func (b *bastion) Addr() *net.TCPAddr { return b.ln.Addr().(*net.TCPAddr) }

// HostKey is the server's public host key.
func (b *bastion) HostKey() gossh.PublicKey { return b.hostKey.PublicKey() }

// Channels counts the direct-tcpip channels accepted.
func (b *bastion) Channels() int64 { return b.channels.Load() }

// track registers c so Close can close it; false once closing.
func (b *bastion) track(c io.Closer) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *bastion) untrack(c io.Closer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, c)
}

// Close stops the server, drops every connection and waits for its
// goroutines.
func (b *bastion) Close() error {
	b.cancel()
	err := b.ln.Close()
	b.mu.Lock()
	conns := b.conns
	b.conns = nil
	b.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	b.wg.Wait()
	return err
}

func (b *bastion) serve(cfg *gossh.ServerConfig) {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		if !b.track(c) {
			c.Close()
			return
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer b.untrack(c)
			defer c.Close()
			b.handle(c, cfg)
		}()
	}
}

func (b *bastion) handle(c net.Conn, cfg *gossh.ServerConfig) {
	sc, chans, reqs, err := gossh.NewServerConn(c, cfg)
	if err != nil {
		b.log.Debug("bastion: handshake", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	defer sc.Close()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		// Keepalives get their (negative) reply, which is all a client
		// needs to know the server is alive.
		gossh.DiscardRequests(reqs)
	}()
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			nc.Reject(gossh.UnknownChannelType, "only port forwarding here")
			continue
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.forward(nc)
		}()
	}
}

// directTCPIP is the payload of a direct-tcpip channel open (RFC 4254 7.2).
type directTCPIP struct {
	Host       string
	Port       uint32
	OriginHost string
	OriginPort uint32
}

func (b *bastion) forward(nc gossh.NewChannel) {
	var p directTCPIP
	if err := gossh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(gossh.ConnectionFailed, "bad direct-tcpip request")
		return
	}
	addr := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	remote, err := b.dial(b.ctx, "tcp", addr)
	if err != nil {
		b.log.Debug("bastion: dial", "addr", addr, "err", err)
		nc.Reject(gossh.ConnectionFailed, err.Error())
		return
	}
	if !b.track(remote) {
		remote.Close()
		nc.Reject(gossh.ConnectionFailed, "bastion shutting down")
		return
	}
	defer b.untrack(remote)
	defer remote.Close()
	ch, chReqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	b.channels.Add(1)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		gossh.DiscardRequests(chReqs)
	}()
	// Each direction ends with a half-close, as sshd does, so a client
	// that finishes sending still gets the rest of the reply.
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(ch, remote)
		ch.CloseWrite()
	}()
	io.Copy(remote, ch)
	if tc, ok := remote.(interface{ CloseWrite() error }); ok {
		tc.CloseWrite()
	}
	<-done
}

// errBlocked is what a bastion's dial of an endpoint the security groups
// drop returns: in AWS the SYN goes unanswered; here it fails at once.
var errBlocked = errors.New("no route: the security groups drop it (in AWS this would time out)")
