package awsssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/smithy-go"
	gossh "golang.org/x/crypto/ssh"

	"github.com/dbtunnel/dbtunnel/tunnel"
)

// PushAPI is the part of EC2 Instance Connect that pushes keys.
type PushAPI interface {
	SendSSHPublicKey(ctx context.Context, in *ec2instanceconnect.SendSSHPublicKeyInput, optFns ...func(*ec2instanceconnect.Options)) (*ec2instanceconnect.SendSSHPublicKeyOutput, error)
}

// InstanceConnect makes a fresh ed25519 key in memory for every connect
// and pushes its public half to the instance, which accepts it for 60 s.
// Nothing is written to disk; the private key dies with the connection.
type InstanceConnect struct {
	API      PushAPI
	Instance string
	// Required: a failed push fails the connect. Otherwise (the automatic
	// mode) it is logged and the other keys are tried.
	Required bool
	Logger   *slog.Logger
}

// Key is a tunnel/ssh EphemeralKey.
func (ic *InstanceConnect) Key(ctx context.Context, user string) (gossh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("instance connect: generate key: %w", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("instance connect: generate key: %w", err)
	}
	out, err := ic.API.SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId:     aws.String(ic.Instance),
		InstanceOSUser: aws.String(user),
		SSHPublicKey:   aws.String(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))),
	})
	if err == nil && !out.Success {
		err = errors.New("the service did not report success")
	}
	if err != nil {
		err = fmt.Errorf("instance connect: push key for %s@%s: %w", user, ic.Instance, err)
		if !ic.Required {
			ic.Logger.Warn("ssh: EC2 Instance Connect unavailable, trying other keys", "instance", ic.Instance, "user", user, "err", err)
			return nil, nil
		}
		if permanentPush(err) {
			return nil, tunnel.Permanent(err)
		}
		return nil, err
	}
	ic.Logger.Debug("ssh: pushed an ephemeral key with EC2 Instance Connect", "instance", ic.Instance, "user", user,
		"fingerprint", gossh.FingerprintSHA256(signer.PublicKey()))
	return signer, nil
}

// permanentPush tells the errors retrying cannot fix (no permission, no
// such instance, bad user) from those it may (throttling, an instance
// still starting, the service).
func permanentPush(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "AccessDeniedException", "AuthException", "InvalidArgsException", "EC2InstanceNotFoundException",
		"EC2InstanceTypeInvalidException", "SerialConsoleAccessDisabledException":
		return true
	}
	return false
}
