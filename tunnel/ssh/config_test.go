package ssh

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseJumps(t *testing.T) {
	tests := []struct {
		in   string
		want []hopSpec
		err  bool
	}{
		{in: "jump", want: []hopSpec{{alias: "jump"}}},
		{in: "bob@jump:2222", want: []hopSpec{{alias: "jump", user: "bob", port: 2222}}},
		{in: "ssh://bob@jump:2222", want: []hopSpec{{alias: "jump", user: "bob", port: 2222}}},
		{in: "a, b@c", want: []hopSpec{{alias: "a"}, {alias: "c", user: "b"}}},
		{in: "[::1]:2200", want: []hopSpec{{alias: "::1", port: 2200}}},
		{in: "[fe80::1]", want: []hopSpec{{alias: "fe80::1"}}},
		{in: "jump:0", err: true},
		{in: "jump:ssh", err: true},
		{in: "a,,b", err: true},
		{in: "bob@", err: true},
	}
	for _, tt := range tests {
		got, err := parseJumps(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseJumps(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestExpandTokens(t *testing.T) {
	tokens := map[byte]string{'h': "10.0.0.1", 'r': "ec2-user", 'd': "/home/me"}
	for in, want := range map[string]string{
		"%d/.ssh/%r@%h": "/home/me/.ssh/ec2-user@10.0.0.1",
		"100%%":         "100%",
		"%z stays":      "%z stays",
		"trailing %":    "trailing %",
		"plain":         "plain",
	} {
		if got := expandTokens(in, tokens); got != want {
			t.Errorf("expandTokens(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewResolvesDefaults(t *testing.T) {
	home := t.TempDir()
	d, err := New(Config{Host: "10.77.1.2", User: "ec2-user", Home: home, SSHConfigFile: "none", AgentSocket: "none", Remote: "db:5432"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := d.target
	if h.addr() != "10.77.1.2:22" || h.user != "ec2-user" {
		t.Errorf("target %s as %s, want 10.77.1.2:22 as ec2-user", h.addr(), h.user)
	}
	if want := []string{filepath.Join(home, ".ssh", "known_hosts")}; !slices.Equal(h.knownHosts, want) {
		t.Errorf("known_hosts %v, want %v", h.knownHosts, want)
	}
	if !h.defaultIDs || !slices.Contains(h.identityFiles, filepath.Join(home, ".ssh", "id_ed25519")) {
		t.Errorf("identity files %v, want OpenSSH defaults", h.identityFiles)
	}
	if d.keepalive != defaultKeepaliveInterval || d.maxMissed != defaultKeepaliveMissed || d.connectTimeout != defaultConnectTimeout {
		t.Errorf("timing defaults not applied: %v %v %v", d.keepalive, d.maxMissed, d.connectTimeout)
	}
	if d.ciphers[0] != "aes128-gcm@openssh.com" {
		t.Errorf("ciphers %v, want AES-GCM first", d.ciphers)
	}
}

func TestNewOverridesSSHConfig(t *testing.T) {
	home := t.TempDir()
	cfgFile := filepath.Join(home, "config")
	writeFile(t, cfgFile, `
Host b
  HostName %h.example.com
  Port 2200
  User fromconfig
  IdentityFile ~/.ssh/b.pem
  IdentityFile %d/second.pem
  IdentitiesOnly yes
  HostKeyAlias bastion-key
  IdentityAgent ~/agent.sock
  ProxyJump j1,j2:2022
Host j1
  HostName jump.example.com
  User jumper
`)
	d, err := New(Config{
		Host: "b", Port: 22, User: "explicit",
		IdentityFiles: []string{"/keys/explicit.pem"},
		Home:          home, SSHConfigFile: cfgFile, Remote: "db:5432",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := d.target
	if h.addr() != "b.example.com:22" || h.user != "explicit" {
		t.Errorf("target %s as %s: explicit port and user must win over the ssh config", h.addr(), h.user)
	}
	wantIDs := []string{"/keys/explicit.pem", filepath.Join(home, ".ssh", "b.pem"), filepath.Join(home, "second.pem")}
	if !slices.Equal(h.identityFiles, wantIDs) {
		t.Errorf("identity files %v, want %v", h.identityFiles, wantIDs)
	}
	if !h.identitiesOnly || h.knownHostsAddr() != "bastion-key:22" || h.agentSocket != filepath.Join(home, "agent.sock") {
		t.Errorf("IdentitiesOnly/HostKeyAlias/IdentityAgent not applied: %+v", h)
	}
	if len(d.jumps) != 2 {
		t.Fatalf("jumps %v, want 2", d.jumps)
	}
	if j := d.jumps[0]; j.addr() != "jump.example.com:22" || j.user != "jumper" {
		t.Errorf("jump 1 %s as %s", j.addr(), j.user)
	}
	if j := d.jumps[1]; j.addr() != "j2:2022" {
		t.Errorf("jump 2 %s", j.addr())
	}
}

func TestNewErrors(t *testing.T) {
	home := t.TempDir()
	proxyCmd := filepath.Join(home, "config")
	writeFile(t, proxyCmd, "Host i-*\n  ProxyCommand aws ssm start-session --target %h\n")
	badPort := filepath.Join(home, "badport")
	writeFile(t, badPort, "Host b\n  Port ssh\n")
	base := Config{Host: "b", User: "u", Home: home, SSHConfigFile: "none", Remote: "db:5432"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no host", func(c *Config) { c.Host = "" }, "no bastion host"},
		{"no port in remote", func(c *Config) { c.Remote = "db" }, `invalid remote "db"`},
		{"bad port", func(c *Config) { c.Port = 70000 }, "invalid port"},
		{"missing config file", func(c *Config) { c.SSHConfigFile = filepath.Join(home, "nope") }, "read ssh config"},
		{"proxy command", func(c *Config) { c.Host, c.SSHConfigFile = "i-0abc", proxyCmd }, "ProxyCommand"},
		{"bad config port", func(c *Config) { c.SSHConfigFile = badPort }, `invalid Port "ssh"`},
		{"bad jump", func(c *Config) { c.ProxyJump = "a,,b" }, "invalid ProxyJump"},
	}
	for _, tt := range tests {
		cfg := base
		tt.edit(&cfg)
		d, err := New(cfg)
		if err == nil {
			d.Close()
			t.Errorf("%s: New succeeded", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "ssh: ") {
			t.Errorf("%s: error %q, want it to contain %q", tt.name, err, tt.want)
		}
	}

	// ProxyJump none lifts the ProxyCommand objection.
	cfg := base
	cfg.Host, cfg.SSHConfigFile, cfg.ProxyJump = "i-0abc", proxyCmd, "none"
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("ProxyJump none: %v", err)
	}
	d.Close()
}

func TestTerminalPrompterConfirm(t *testing.T) {
	for input, want := range map[string]bool{"yes\n": true, "y\n": true, "no\n": false, "maybe\nyes\n": true, "": false} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(input + "left for the next reader")
		w.Close()
		var out bytes.Buffer
		p := &TerminalPrompter{In: r, Out: &out}
		got, err := p.Confirm("Trust it?")
		if err != nil || got != want {
			t.Errorf("input %q: got %v, %v; want %v", input, got, err, want)
		}
		if !strings.HasPrefix(out.String(), "Trust it? (yes/no): ") {
			t.Errorf("input %q: prompt %q", input, out.String())
		}
		rest := make([]byte, 64)
		n, _ := r.Read(rest)
		if input != "" && string(rest[:n]) != "left for the next reader" {
			t.Errorf("input %q: Confirm consumed past its line, left %q", input, rest[:n])
		}
		r.Close()
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1":          "10.0.0.1",
		"[10.0.0.1]:2222":   "'[10.0.0.1]:2222'",
		"/home/a b/hosts":   "'/home/a b/hosts'",
		"it's":              `'it'\''s'`,
		"/root/known_hosts": "/root/known_hosts",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
