package awsfake

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// EC2 Instance Connect (JSON 1.1, X-Amz-Target
// AWSEC2InstanceConnectService.SendSSHPublicKey) and ec2:GetConsoleOutput.
// The fake records every pushed key with the time it was pushed; it does
// not run an SSH server: a test makes its sshd ask (AuthorizedKeysCommand)
// for the keys pushed in the last 60 s, as the instance's
// eic_run_authorized_keys does against the instance metadata.

// PushedKey is one key SendSSHPublicKey accepted.
type PushedKey struct {
	InstanceID string
	OSUser     string
	PublicKey  string // authorized_keys form, as sent
	At         time.Time
}

// eicState holds what Instance Connect and the consoles need; it has its
// own lock because handlers run under f.mu's read lock.
type eicState struct {
	mu       sync.Mutex
	pushed   []PushedKey
	onPush   []func(PushedKey)
	consoles map[string]string // instance id → console text
}

// PushedKeys returns the keys pushed so far, oldest first.
func (f *Fake) PushedKeys() []PushedKey {
	f.eic.mu.Lock()
	defer f.eic.mu.Unlock()
	return append([]PushedKey(nil), f.eic.pushed...)
}

// OnPushKey calls fn for every key SendSSHPublicKey accepts, before the
// reply is sent, so that whatever fn makes of the key (a file an sshd
// reads) is in place when the client goes on to log in.
func (f *Fake) OnPushKey(fn func(PushedKey)) *Fake {
	f.eic.mu.Lock()
	defer f.eic.mu.Unlock()
	f.eic.onPush = append(f.eic.onPush, fn)
	return f
}

// ConsoleOutput sets the text GetConsoleOutput returns for the instance
// (what the instance printed on its serial console since boot).
func (i *Instance) ConsoleOutput(text string) *Instance {
	f := i.r.f
	f.eic.mu.Lock()
	defer f.eic.mu.Unlock()
	if f.eic.consoles == nil {
		f.eic.consoles = map[string]string{}
	}
	f.eic.consoles[i.id] = text
	return i
}

type eicSendSSHPublicKeyInput struct {
	InstanceID       string `json:"InstanceId"`
	InstanceOSUser   string `json:"InstanceOSUser"`
	SSHPublicKey     string `json:"SSHPublicKey"`
	AvailabilityZone string `json:"AvailabilityZone"`
}

type eicSendSSHPublicKeyOutput struct {
	RequestID string `json:"RequestId"`
	Success   bool   `json:"Success"`
}

// osUser is the service's pattern for InstanceOSUser.
var osUser = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9@._-]{0,30}[A-Za-z0-9$_-]?$`)

func eicInvalidArgs(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidArgsException", msg}
}

func eicSendSSHPublicKey(c *call) (any, *apiError) {
	var in eicSendSSHPublicKeyInput
	if aerr := c.decode(&in); aerr != nil {
		return nil, aerr
	}
	switch {
	case in.InstanceID == "" || in.InstanceOSUser == "" || in.SSHPublicKey == "":
		return nil, eicInvalidArgs("InstanceId, InstanceOSUser and SSHPublicKey are required")
	case !osUser.MatchString(in.InstanceOSUser):
		return nil, eicInvalidArgs("Invalid InstanceOSUser " + in.InstanceOSUser)
	case len(in.SSHPublicKey) < 80 || len(in.SSHPublicKey) > 4096:
		return nil, eicInvalidArgs("SSHPublicKey must be between 80 and 4096 characters")
	}
	key, _, _, _, err := gossh.ParseAuthorizedKey([]byte(in.SSHPublicKey))
	if err != nil {
		return nil, eicInvalidArgs("Invalid SSH public key")
	}
	if t := key.Type(); t != gossh.KeyAlgoRSA && t != gossh.KeyAlgoED25519 {
		return nil, eicInvalidArgs("Unsupported SSH public key type " + t + "; use RSA or ED25519")
	}
	var inst *Instance
	for _, i := range c.region.instances {
		if i.id == in.InstanceID {
			inst = i
		}
	}
	switch {
	case inst == nil || inst.state == "terminated":
		return nil, &apiError{http.StatusBadRequest, "EC2InstanceNotFoundException", "Instance not found"}
	case inst.state != "running":
		return nil, &apiError{http.StatusBadRequest, "EC2InstanceStateInvalidException", "Instance is not in valid state. Please retry later."}
	}
	p := PushedKey{InstanceID: in.InstanceID, OSUser: in.InstanceOSUser, PublicKey: strings.TrimSpace(in.SSHPublicKey), At: time.Now()}
	f := c.f
	f.eic.mu.Lock()
	f.eic.pushed = append(f.eic.pushed, p)
	hooks := append([]func(PushedKey){}, f.eic.onPush...)
	f.eic.mu.Unlock()
	for _, fn := range hooks {
		fn(p)
	}
	return eicSendSSHPublicKeyOutput{RequestID: c.requestID, Success: true}, nil
}

type ec2GetConsoleOutputResult struct {
	InstanceID string `xml:"instanceId"`
	Timestamp  string `xml:"timestamp"`
	Output     string `xml:"output,omitempty"`
}

func ec2GetConsoleOutput(c *call) (any, *apiError) {
	id := c.param("InstanceId")
	if id == "" {
		return nil, &apiError{http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId"}
	}
	var inst *Instance
	for _, i := range c.region.instances {
		if i.id == id {
			inst = i
		}
	}
	if inst == nil {
		return nil, notFound("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
	}
	c.f.eic.mu.Lock()
	text := c.f.eic.consoles[id]
	c.f.eic.mu.Unlock()
	out := ec2GetConsoleOutputResult{InstanceID: id, Timestamp: time.Now().UTC().Format(isoMillis)}
	if text != "" {
		out.Output = base64.StdEncoding.EncodeToString([]byte(text))
	}
	return out, nil
}
