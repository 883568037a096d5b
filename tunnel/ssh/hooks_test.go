package ssh

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The key from EphemeralKey is fetched on every connect, for the bastion's
// user, and is enough on its own to log in.
func TestEphemeralKeyPerConnect(t *testing.T) {
	e := newEnv(t)
	s := newTestServer(t) // authorizes nothing up front
	e.trust(s)
	var mu sync.Mutex
	var users []string
	cfg := e.config(s)
	cfg.IdentityFiles = []string{e.home + "/.ssh/absent"}
	cfg.EphemeralKey = func(ctx context.Context, user string) (gossh.Signer, error) {
		k := newSigner(t)
		s.authorize(k.PublicKey()) // what the instance learns from SendSSHPublicKey
		mu.Lock()
		users = append(users, user)
		mu.Unlock()
		return k, nil
	}
	d := newDialer(t, cfg)
	connect(t, d)
	roundTrip(t, d)
	connect(t, d) // a reconnect pushes a fresh key
	roundTrip(t, d)
	mu.Lock()
	defer mu.Unlock()
	if len(users) != 2 || users[0] != "tester" || users[1] != "tester" {
		t.Fatalf("EphemeralKey called for %q, want twice for tester", users)
	}
}

func TestEphemeralKeyErrorFailsConnect(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	e.trust(s)
	cfg := e.config(s)
	cfg.EphemeralKey = func(context.Context, string) (gossh.Signer, error) {
		return nil, errors.New("instance connect: push key: AccessDeniedException")
	}
	d := newDialer(t, cfg)
	_, err := d.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("connect: %v, want the push error", err)
	}
}

// The host-key decision with a voucher: a vouched key is trusted and
// recorded without asking; a refusal fails even with AcceptNewHostKey; no
// opinion falls back to the usual rules; a changed key fails whatever the
// voucher says (it is not even asked).
func TestVouchHostKey(t *testing.T) {
	type outcome struct {
		ok  bool
		err error
	}
	cases := []struct {
		name      string
		vouch     outcome
		acceptNew bool
		changed   bool
		wantErr   string // "" means connected
		recorded  bool
		asked     bool
	}{
		{name: "vouched", vouch: outcome{ok: true}, recorded: true, asked: true},
		{name: "refused", vouch: outcome{err: errors.New("console of i-0abc lists other host keys")}, acceptNew: true, wantErr: "console of i-0abc", asked: true},
		{name: "no opinion, strict", wantErr: "is unknown", asked: true},
		{name: "no opinion, accept-new", acceptNew: true, recorded: true, asked: true},
		{name: "changed", vouch: outcome{ok: true}, changed: true, wantErr: "has changed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.server()
			if tc.changed {
				line := knownhosts.Line([]string{s.addr()}, newSigner(t).PublicKey()) + "\n"
				if err := os.WriteFile(e.knownHosts, []byte(line), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := e.config(s)
			cfg.AcceptNewHostKey = tc.acceptNew
			var asked []gossh.PublicKey
			cfg.VouchHostKey = func(ctx context.Context, key gossh.PublicKey) (string, bool, error) {
				asked = append(asked, key)
				return "the console of i-0abc", tc.vouch.ok, tc.vouch.err
			}
			d := newDialer(t, cfg)
			_, err := d.Connect(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				roundTrip(t, d)
			} else {
				wantPermanent(t, err)
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tc.wantErr)
				}
			}
			if tc.asked != (len(asked) == 1) {
				t.Fatalf("voucher asked %d times, want asked=%v", len(asked), tc.asked)
			}
			if tc.asked && !keysEqual(asked[0], s.hostKey.PublicKey()) {
				t.Fatal("voucher was asked about another key than the server's")
			}
			b, _ := os.ReadFile(e.knownHosts)
			has := strings.Contains(string(b), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.hostKey.PublicKey()))))
			if has != tc.recorded && !tc.changed {
				t.Fatalf("known_hosts holds the key: %v, want %v (%q)", has, tc.recorded, b)
			}
		})
	}
}

func keysEqual(a, b gossh.PublicKey) bool { return string(a.Marshal()) == string(b.Marshal()) }

// Transport replaces the TCP dial of the bastion; the known_hosts name is
// still the configured host, and the ssh config's ProxyCommand for it is
// not refused (the transport replaces it).
func TestTransport(t *testing.T) {
	e := newEnv(t)
	s := e.server()
	if err := appendKnownHost(e.knownHosts, "i-0123456789abcdef0", s.hostKey.PublicKey(), false); err != nil {
		t.Fatal(err)
	}
	sshConfig := e.home + "/ssh_config"
	writeFile(t, sshConfig, "Host i-*\n  ProxyCommand aws ssm start-session --target %h --document-name AWS-StartSSHSession\n")
	cfg := e.config(s)
	cfg.Host, cfg.Port, cfg.SSHConfigFile = "i-0123456789abcdef0", 0, sshConfig
	dials := 0
	cfg.Transport = func(ctx context.Context) (net.Conn, error) {
		dials++
		var nd net.Dialer
		return nd.DialContext(ctx, "tcp", s.addr())
	}
	d := newDialer(t, cfg)
	connect(t, d)
	roundTrip(t, d)
	if dials != 1 {
		t.Fatalf("transport dialed %d times, want 1", dials)
	}

	cfg.ProxyJump = "jump.example"
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "ProxyJump") {
		t.Fatalf("New with Transport and ProxyJump: %v, want an error naming ProxyJump", err)
	}
}
