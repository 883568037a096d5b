package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// testServer is an in-process SSH server standing in for a bastion: public
// key auth, direct-tcpip by dialing the requested address, and replies to
// keepalive@openssh.com unless silenced.
type testServer struct {
	t       *testing.T
	ln      net.Listener
	port    int
	hostKey gossh.Signer

	// silent drops keepalive requests unanswered while the TCP connection
	// stays up, which is what a dead network path looks like to the client.
	silent atomic.Bool

	mu         sync.Mutex
	authorized map[string]bool
	users      []string
	directs    []string
	conns      map[net.Conn]bool
	closed     bool
	wg         sync.WaitGroup
}

func newTestServer(t *testing.T, authorized ...gossh.PublicKey) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{
		t:          t,
		ln:         ln,
		port:       ln.Addr().(*net.TCPAddr).Port,
		hostKey:    newSigner(t),
		authorized: make(map[string]bool),
		conns:      make(map[net.Conn]bool),
	}
	for _, k := range authorized {
		s.authorize(k)
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *testServer) addr() string { return s.ln.Addr().String() }

func (s *testServer) authorize(k gossh.PublicKey) {
	s.mu.Lock()
	s.authorized[string(k.Marshal())] = true
	s.mu.Unlock()
}

func (s *testServer) seenUsers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.users...)
}

func (s *testServer) seenDirects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.directs...)
}

// track registers c to be closed by close, or closes it at once if the
// server is already shutting down.
func (s *testServer) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.conns[c] = true
	return true
}

func (s *testServer) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

// dropAll closes every connection, as a bastion reboot would.
func (s *testServer) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *testServer) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.ln.Close()
	s.dropAll()
	s.wg.Wait()
}

func (s *testServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.handle(c)
		}()
	}
}

func (s *testServer) handle(c net.Conn) {
	cfg := &gossh.ServerConfig{
		PublicKeyCallback: func(meta gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.authorized[string(key.Marshal())] {
				s.users = append(s.users, meta.User())
				return nil, nil
			}
			return nil, errors.New("unauthorized key")
		},
	}
	cfg.AddHostKey(s.hostKey)
	sc, chans, reqs, err := gossh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for req := range reqs {
			if req.Type == "keepalive@openssh.com" && s.silent.Load() {
				continue
			}
			// OpenSSH answers keepalives with a failure reply; any reply
			// shows liveness.
			req.Reply(false, nil)
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			nc.Reject(gossh.UnknownChannelType, "only direct-tcpip")
			continue
		}
		var p struct {
			Host     string
			Port     uint32
			OrigHost string
			OrigPort uint32
		}
		if err := gossh.Unmarshal(nc.ExtraData(), &p); err != nil {
			nc.Reject(gossh.ConnectionFailed, "bad payload")
			continue
		}
		target := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
		s.mu.Lock()
		s.directs = append(s.directs, target)
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.forward(nc, target)
		}()
	}
}

// forward splices a direct-tcpip channel to target, passing half-closes
// through in both directions as sshd does.
func (s *testServer) forward(nc gossh.NewChannel, target string) {
	tc, err := net.Dial("tcp", target)
	if err != nil {
		nc.Reject(gossh.ConnectionFailed, err.Error())
		return
	}
	if !s.track(tc) {
		nc.Reject(gossh.ConnectionFailed, "shutting down")
		return
	}
	defer s.untrack(tc)
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	go gossh.DiscardRequests(reqs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(tc, ch)
		tc.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(ch, tc)
	ch.CloseWrite()
	<-done
}

// echoServer echoes until the client half-closes, then sends "bye" and
// closes: "bye" arriving proves the EOF crossed the tunnel and that the
// other direction stayed open.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := make(map[net.Conn]bool)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				io.Copy(c, c)
				c.Write([]byte("bye"))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// agentSocket serves keys from an in-memory agent on a unix socket.
func agentSocket(t *testing.T, keys ...ed25519.PrivateKey) string {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		if err := kr.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	// t.TempDir paths can exceed the unix socket limit on some systems.
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				agent.ServeAgent(kr, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	return path
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
	s, err := gossh.NewSignerFromKey(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signerOf(t *testing.T, k ed25519.PrivateKey) gossh.Signer {
	t.Helper()
	s, err := gossh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeKey writes k as an OpenSSH private key file, encrypted when
// passphrase is set.
func writeKey(t *testing.T, path string, k ed25519.PrivateKey, passphrase string) {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = gossh.MarshalPrivateKey(k, "")
	} else {
		block, err = gossh.MarshalPrivateKeyWithPassphrase(k, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}
