package awssource

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// roleSession names dbtunnel's sessions in the target account's CloudTrail.
const roleSession = "dbtunnel"

// MFARequest says which code is wanted: the device, the role it unlocks
// and the profile that names them (for the prompt and for errors).
type MFARequest struct {
	Serial  string
	Role    string
	Profile string
}

// MFAPrompt returns the device's current one-time code.
type MFAPrompt func(MFARequest) (string, error)

// Identities hands out one set of credentials per AWS profile and role for
// the life of a command, so that discovery, the credential fetch and the
// tunnels share them: one sts:AssumeRole, and one MFA code typed, where
// each would otherwise assume the role on its own (and STS refuses a code
// used twice). It is safe for concurrent use; a nil *Identities shares
// nothing and asks on the terminal.
type Identities struct {
	mu sync.Mutex
	// prompt asks for MFA codes; TerminalMFA when nil.
	prompt MFAPrompt
	creds  map[identityKey]aws.CredentialsProvider
	// asking holds one prompt at a time: scopes are discovered in
	// parallel, and two questions on one terminal would interleave.
	asking sync.Mutex
}

// SetPrompt makes p ask for MFA codes from now on, for roles already
// assumed too (a renewal needs a new code): the TUI refuses to ask once
// it owns the terminal. Nil restores TerminalMFA.
func (c *Identities) SetPrompt(p MFAPrompt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prompt = p
}

type identityKey struct {
	profile string
	role    discovery.Role
}

// Apply returns ac, loaded for scope s's AWS profile, with that profile's
// credentials or, when s has a role, the role's assumed with them. The
// first configuration seen for a profile and role supplies the
// credentials; later ones, in any region, reuse them.
func (c *Identities) Apply(ac aws.Config, s discovery.Scope) aws.Config {
	out := ac.Copy()
	if c == nil {
		if s.Role.ARN != "" {
			out.Credentials = assumeRole(ac, s, TerminalMFA)
		}
		return out
	}
	k := identityKey{profile: s.AWSProfile(), role: s.Role}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.creds[k]; ok {
		out.Credentials = p
		return out
	}
	if s.Role.ARN == "" {
		return c.applyLocked(ac, k)
	}
	// The role's source credentials are shared too.
	base := c.applyLocked(ac, identityKey{profile: k.profile})
	out.Credentials = assumeRole(base, s, c.ask)
	if c.creds == nil {
		c.creds = map[identityKey]aws.CredentialsProvider{}
	}
	c.creds[k] = out.Credentials
	return out
}

// applyLocked is Apply for a key without a role; c.mu is held.
func (c *Identities) applyLocked(ac aws.Config, k identityKey) aws.Config {
	out := ac.Copy()
	if p, ok := c.creds[k]; ok {
		out.Credentials = p
		return out
	}
	if out.Credentials == nil {
		return out
	}
	if _, cached := out.Credentials.(*aws.CredentialsCache); !cached {
		out.Credentials = aws.NewCredentialsCache(out.Credentials)
	}
	if c.creds == nil {
		c.creds = map[identityKey]aws.CredentialsProvider{}
	}
	c.creds[k] = out.Credentials
	return out
}

// ask is the MFA prompt of the moment.
func (c *Identities) ask(req MFARequest) (string, error) {
	if c == nil {
		return TerminalMFA(req)
	}
	c.asking.Lock()
	defer c.asking.Unlock()
	c.mu.Lock()
	p := c.prompt
	c.mu.Unlock()
	if p == nil {
		p = TerminalMFA
	}
	return p(req)
}

// LoadOption lets a profile of the AWS config files that assumes a role
// with mfa_serial ask for its code through c's prompt; without it the
// SDK refuses such a profile.
func (c *Identities) LoadOption(profile string) func(*config.LoadOptions) error {
	return config.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
		if o.SerialNumber == nil {
			return
		}
		req := MFARequest{Serial: aws.ToString(o.SerialNumber), Role: o.RoleARN, Profile: profileName(profile)}
		o.TokenProvider = func() (string, error) { return c.ask(req) }
	})
}

// assumeRole is a provider of s.Role's credentials, assumed (and renewed
// before they expire) with ac's, as the AWS CLI does for a profile with
// role_arn: an external ID when the role's trust policy wants one, and an
// MFA code when it names a device. The prompt names the profile the user
// configured the role under.
func assumeRole(ac aws.Config, s discovery.Scope, prompt MFAPrompt) aws.CredentialsProvider {
	r := s.Role
	client := sts.NewFromConfig(ac)
	provider := stscreds.NewAssumeRoleProvider(client, r.ARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = roleSession
		if r.ExternalID != "" {
			o.ExternalID = aws.String(r.ExternalID)
		}
		if r.MFASerial != "" {
			o.SerialNumber = aws.String(r.MFASerial)
			req := MFARequest{Serial: r.MFASerial, Role: r.ARN, Profile: profileName(s.Profile)}
			o.TokenProvider = func() (string, error) { return prompt(req) }
		}
	})
	return aws.NewCredentialsCache(provider)
}

func profileName(p string) string {
	if p == "" {
		return "default"
	}
	return p
}

// TerminalMFA asks for the code on the controlling terminal, not on
// stdin: stdin may belong to exec's command or carry a script, and
// stdout must stay clean for --json. Without a terminal it fails, naming
// the device and the profile.
func TerminalMFA(req MFARequest) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("role %s needs a code from MFA device %s (mfa_serial of profile %s) and there is no terminal to ask on: %w", req.Role, req.Serial, req.Profile, err)
	}
	defer tty.Close()
	return askMFA(tty, tty, req)
}

// askMFA prompts on w and reads one line from r a byte at a time, so that
// nothing past the code is consumed.
func askMFA(r io.Reader, w io.Writer, req MFARequest) (string, error) {
	fmt.Fprintf(w, "MFA code for %s (profile %s): ", req.Serial, req.Profile)
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if err != nil {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("read MFA code for %s (profile %s): %w", req.Serial, req.Profile, err)
		}
	}
	code := strings.TrimSpace(string(line))
	if code == "" {
		return "", fmt.Errorf("read MFA code for %s (profile %s): empty", req.Serial, req.Profile)
	}
	return code, nil
}
