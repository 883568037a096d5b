package sandbox

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/dbtunnel/dbtunnel/config"
)

// writeClientKey makes the key the demo logs in to its bastion with, as
// ~/.ssh/id_ed25519 of the sandbox's home, and returns its public half.
func writeClientKey(sshDir string) (gossh.PublicKey, error) {
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sandbox: client key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "dbtunnel demo")
	if err != nil {
		return nil, fmt.Errorf("sandbox: client key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(sshDir, "id_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("sandbox: client key: %w", err)
	}
	return sshPub, nil
}

// writeSSHConfig sends the public bastion's address to the in-process
// server, as a user's ~/.ssh/config would send it anywhere, and records
// the server's host key so that it is verified like any other.
func writeSSHConfig(sshDir string, b *bastion) error {
	port := strconv.Itoa(b.Addr().Port)
	cfg := fmt.Sprintf(`# dbtunnel demo: the public bastion %[1]s is served in-process on loopback.
Host %[1]s
  HostName 127.0.0.1
  Port %[2]s
  User ec2-user
  IdentityFile %[3]s
  IdentitiesOnly yes
  UserKnownHostsFile %[4]s
`, PublicBastionIP, port, filepath.Join(sshDir, "id_ed25519"), filepath.Join(sshDir, "known_hosts"))
	if err := os.WriteFile(filepath.Join(sshDir, "config"), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	known := "[127.0.0.1]:" + port + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(b.HostKey()))) + "\n"
	if err := os.WriteFile(filepath.Join(sshDir, "known_hosts"), []byte(known), 0o600); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

// configYAML is the demo's dbtunnel config: both profiles searched, and
// named targets that carry the database user so their URLs are complete.
const configYAML = `# dbtunnel demo config (generated; removed when the demo ends)
defaults:
  profile: ` + ProfileDev + `
  region: ` + Region + `
  via: auto
discovery:
  profiles: [` + ProfileDev + `, ` + ProfileProd + `]
  regions: [` + Region + `]
  cache_ttl: 10m
targets:
  dev-aurora:              # best route: SSM through bastion-private
    profile: ` + ProfileDev + `
    database: ` + DBDevAurora + `
    user: ` + PGUser + `
    dbname: ` + PGDatabase + `
    sslmode: disable
  dev-aurora-ssh:          # the same cluster through the public bastion over SSH
    profile: ` + ProfileDev + `
    database: ` + DBDevAurora + `
    via: ssh
    user: ` + PGUser + `
    dbname: ` + PGDatabase + `
    sslmode: disable
  dev-mysql:
    profile: ` + ProfileDev + `
    database: ` + DBDevMySQL + `
  dev-legacy:              # blocked: its security group admits nothing
    profile: ` + ProfileDev + `
    database: ` + DBDevLegacy + `
    user: ` + PGUser + `
  prod-aurora-reader:      # SSM through the VPC's interface endpoints
    profile: ` + ProfileProd + `
    database: ` + DBProdAurora + `
    endpoint: reader
    user: ` + PGUser + `
    dbname: ` + PGDatabase + `
    sslmode: disable
  prod-orders:             # blocked: only the VPC's default security group
    profile: ` + ProfileProd + `
    database: ` + DBProdOrders + `
    user: ` + PGUser + `
  analytics:               # Redshift Serverless through its managed VPC endpoint
    profile: ` + ProfileProd + `
    database: ` + EPAnalytics + `
    user: ` + PGUser + `
    dbname: ` + PGDatabase + `
    sslmode: disable
`

// writeConfig writes the demo config into dir and loads it, so it goes
// through the same validation as a user's.
func writeConfig(dir, home string) (*config.Config, error) {
	p := filepath.Join(dir, "dbtunnel.yaml")
	if err := os.WriteFile(p, []byte(configYAML), 0o600); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	cfg, err := config.Load(p, home)
	if err != nil {
		return nil, fmt.Errorf("sandbox: demo config: %w", err)
	}
	return cfg, nil
}
