// Package awsssh is the AWS side of the SSH backend: EC2 Instance Connect
// keys, host keys checked against the instance's console, and SSH carried
// over an SSM session. It plugs into tunnel/ssh through its hooks, so that
// the backend itself knows nothing of AWS.
package awsssh

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	gossh "golang.org/x/crypto/ssh"
)

// The markers cloud-init (and Amazon Linux's ec2 scripts) print around the
// host keys at first boot.
const (
	beginFingerprints = "-----BEGIN SSH HOST KEY FINGERPRINTS-----"
	endFingerprints   = "-----END SSH HOST KEY FINGERPRINTS-----"
	beginKeys         = "-----BEGIN SSH HOST KEY KEYS-----"
	endKeys           = "-----END SSH HOST KEY KEYS-----"
)

// ConsoleHostKeys is what an instance printed about its SSH host keys on
// its console.
type ConsoleHostKeys struct {
	// Fingerprints are "SHA256:<base64>" or "MD5:<hex:pairs>".
	Fingerprints []string
	Keys         []gossh.PublicKey
}

// Empty reports that the console showed no host key at all (the block was
// never printed, or has scrolled out of the 64 KB the API keeps).
func (h ConsoleHostKeys) Empty() bool { return len(h.Fingerprints) == 0 && len(h.Keys) == 0 }

var (
	sha256FP = regexp.MustCompile(`SHA256:[A-Za-z0-9+/]{43}`)
	md5FP    = regexp.MustCompile(`(?:MD5:)?((?:[0-9a-f]{2}:){15}[0-9a-f]{2})`)
)

// ParseConsole finds the host key blocks in console text. Lines may carry
// a prefix (a timestamp, "ec2: ", "cloud-init[123]: "), which is ignored.
// A block printed again (after a reboot) replaces the earlier one, since
// the latest boot is what the instance runs with now; a block cut short by
// the end of the text keeps what it had.
func ParseConsole(text string) ConsoleHostKeys {
	var h ConsoleHostKeys
	const (
		none = iota
		inFingerprints
		inKeys
	)
	state := none
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.Contains(line, beginFingerprints):
			state, h.Fingerprints = inFingerprints, nil
			continue
		case strings.Contains(line, beginKeys):
			state, h.Keys = inKeys, nil
			continue
		case strings.Contains(line, endFingerprints), strings.Contains(line, endKeys):
			state = none
			continue
		}
		switch state {
		case inFingerprints:
			if fp := sha256FP.FindString(line); fp != "" {
				h.Fingerprints = append(h.Fingerprints, fp)
			} else if m := md5FP.FindStringSubmatch(line); m != nil {
				h.Fingerprints = append(h.Fingerprints, "MD5:"+m[1])
			}
		case inKeys:
			if k := keyIn(line); k != nil {
				h.Keys = append(h.Keys, k)
			}
		}
	}
	return h
}

// keyIn parses the first "<type> <base64>" pair of a line.
func keyIn(line string) gossh.PublicKey {
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if !strings.HasPrefix(f[i], "ssh-") && !strings.HasPrefix(f[i], "ecdsa-") && !strings.HasPrefix(f[i], "sk-") {
			continue
		}
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(f[i] + " " + f[i+1]))
		if err == nil {
			return k
		}
	}
	return nil
}

// Verify decides about key: true when the console lists it (by key or by
// fingerprint), a *HostKeyMismatchError when the console lists host keys
// and key is not one of them, and (false, nil) when the console lists none.
func (h ConsoleHostKeys) Verify(instance string, key gossh.PublicKey) (bool, error) {
	if h.Empty() {
		return false, nil
	}
	for _, k := range h.Keys {
		if string(k.Marshal()) == string(key.Marshal()) {
			return true, nil
		}
	}
	sha, md5 := gossh.FingerprintSHA256(key), "MD5:"+gossh.FingerprintLegacyMD5(key)
	if slices.Contains(h.Fingerprints, sha) || slices.Contains(h.Fingerprints, md5) {
		return true, nil
	}
	listed := slices.Clone(h.Fingerprints)
	for _, k := range h.Keys {
		listed = append(listed, gossh.FingerprintSHA256(k))
	}
	slices.Sort(listed)
	return false, &HostKeyMismatchError{Instance: instance, Key: key, Listed: slices.Compact(listed)}
}

// HostKeyMismatchError means the bastion presented a host key that its
// console does not list: someone may be in the middle, or the keys were
// replaced after boot. Connecting never proceeds past it.
type HostKeyMismatchError struct {
	Instance string
	Key      gossh.PublicKey
	Listed   []string // fingerprints the console shows
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("ssh: host key of %s (%s %s) is not among those its console printed at boot (%s): someone may be in the middle, or its keys were replaced after boot; compare with: aws ec2 get-console-output --instance-id %s --output text",
		e.Instance, e.Key.Type(), gossh.FingerprintSHA256(e.Key), strings.Join(e.Listed, ", "), e.Instance)
}

// ConsoleAPI is the part of EC2 the console check uses.
type ConsoleAPI interface {
	GetConsoleOutput(ctx context.Context, in *ec2.GetConsoleOutputInput, optFns ...func(*ec2.Options)) (*ec2.GetConsoleOutputOutput, error)
}

// ConsoleVoucher returns a tunnel/ssh VouchHostKey that checks a new host
// key against the instance's console. When the console cannot be read or
// shows no host keys it has no opinion, and the usual known_hosts rules
// decide.
func ConsoleVoucher(api ConsoleAPI, instance string, log *slog.Logger) func(context.Context, gossh.PublicKey) (string, bool, error) {
	return func(ctx context.Context, key gossh.PublicKey) (string, bool, error) {
		source := "the console output of " + instance
		// Not Latest: the default is the output kept from boot, which is
		// where the host key block is printed.
		out, err := api.GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(instance)})
		if err != nil {
			log.Warn("ssh: cannot read the console to verify the host key; known_hosts rules apply", "instance", instance, "err", err)
			return source, false, nil
		}
		text, err := decodeConsole(aws.ToString(out.Output))
		if err != nil {
			log.Warn("ssh: console output undecodable; known_hosts rules apply", "instance", instance, "err", err)
			return source, false, nil
		}
		keys := ParseConsole(text)
		if keys.Empty() {
			log.Info("ssh: the console shows no host keys; known_hosts rules apply", "instance", instance)
			return source, false, nil
		}
		ok, err := keys.Verify(instance, key)
		return source, ok, err
	}
}

// decodeConsole undoes the API's base64.
func decodeConsole(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}
