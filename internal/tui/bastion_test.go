package tui

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/internal/testsupport/tcptest"
)

// echoTarget is the database: a TCP service on loopback that echoes.
func echoTarget(t *testing.T) *net.TCPAddr { return tcptest.Echo(t) }

// bastion is an in-process SSH server that accepts one client key and
// forwards direct-tcpip channels, as sshd with AllowTcpForwarding does.
type bastion struct {
	addr       *net.TCPAddr
	identity   string // the client's private key file
	knownHosts string
	key        ed25519.PrivateKey
}

func startBastion(t *testing.T) bastion {
	t.Helper()
	dir := t.TempDir()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostKey, err := gossh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := gossh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	b := bastion{identity: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts"), key: clientPriv}
	if err := os.WriteFile(b.identity, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	authorized, _ := gossh.NewPublicKey(clientPub)
	cfg := &gossh.ServerConfig{PublicKeyCallback: func(_ gossh.ConnMetadata, k gossh.PublicKey) (*gossh.Permissions, error) {
		if string(k.Marshal()) == string(authorized.Marshal()) {
			return nil, nil
		}
		return nil, fmt.Errorf("unknown key")
	}}
	cfg.AddHostKey(hostKey)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().(*net.TCPAddr)
	line := knownhosts.Line([]string{knownhosts.Normalize(b.addr.String())}, hostKey.PublicKey())
	if err := os.WriteFile(b.knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { serveSSH(c, cfg, &wg) })
		}
	})
	return b
}

func serveSSH(c net.Conn, cfg *gossh.ServerConfig, wg *sync.WaitGroup) {
	defer c.Close()
	sc, chans, reqs, err := gossh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	wg.Go(func() { gossh.DiscardRequests(reqs) })
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			nc.Reject(gossh.UnknownChannelType, "only direct-tcpip")
			continue
		}
		host, port, ok := parseDirect(nc.ExtraData())
		if !ok {
			nc.Reject(gossh.ConnectionFailed, "bad payload")
			continue
		}
		remote, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			nc.Reject(gossh.ConnectionFailed, err.Error())
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			remote.Close()
			continue
		}
		wg.Go(func() { gossh.DiscardRequests(creqs) })
		wg.Go(func() {
			var pipes sync.WaitGroup
			pipes.Go(func() { io.Copy(remote, ch); remote.(*net.TCPConn).CloseWrite() })
			pipes.Go(func() { io.Copy(ch, remote); ch.CloseWrite() })
			pipes.Wait()
			ch.Close()
			remote.Close()
		})
	}
}

// parseDirect reads the destination of a direct-tcpip open (RFC 4254
// 7.2): a string host and a uint32 port come first.
func parseDirect(b []byte) (string, int, bool) {
	if len(b) < 4 {
		return "", 0, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint32(len(b)-4) < n+4 {
		return "", 0, false
	}
	host := string(b[4 : 4+n])
	port := binary.BigEndian.Uint32(b[4+n:])
	return host, int(port), true
}

// bastionConfig is a config with one explicit target, "echo", reached
// through the bastion.
func bastionConfig(t *testing.T, b bastion, target *net.TCPAddr) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf(`targets:
  echo:
    host: 127.0.0.1
    port: %d
    via: ssh
    user: app
    dbname: orders
    ssh:
      host: 127.0.0.1
      port: %d
      user: ec2-user
      identity_file: %s
      known_hosts: %s
`, target.Port, b.addr.Port, b.identity, b.knownHosts)
	cfg, err := config.Parse("", []byte(yaml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
