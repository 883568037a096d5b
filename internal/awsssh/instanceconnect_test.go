package awsssh

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/smithy-go"
	gossh "golang.org/x/crypto/ssh"

	"github.com/dbtunnel/dbtunnel/tunnel"
)

type pushAPI struct {
	in  []*ec2instanceconnect.SendSSHPublicKeyInput
	err error
}

func (p *pushAPI) SendSSHPublicKey(_ context.Context, in *ec2instanceconnect.SendSSHPublicKeyInput, _ ...func(*ec2instanceconnect.Options)) (*ec2instanceconnect.SendSSHPublicKeyOutput, error) {
	p.in = append(p.in, in)
	if p.err != nil {
		return nil, p.err
	}
	return &ec2instanceconnect.SendSSHPublicKeyOutput{Success: true}, nil
}

func TestInstanceConnectKey(t *testing.T) {
	api := &pushAPI{}
	ic := &InstanceConnect{API: api, Instance: "i-0abc", Required: true, Logger: slog.New(slog.DiscardHandler)}
	s1, err := ic.Key(context.Background(), "ec2-user")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := ic.Key(context.Background(), "ec2-user")
	if err != nil {
		t.Fatal(err)
	}
	if s1.PublicKey().Type() != gossh.KeyAlgoED25519 || string(s1.PublicKey().Marshal()) == string(s2.PublicKey().Marshal()) {
		t.Fatal("want a fresh ed25519 key per call")
	}
	pushed, _, _, _, err := gossh.ParseAuthorizedKey([]byte(aws.ToString(api.in[0].SSHPublicKey)))
	if err != nil || string(pushed.Marshal()) != string(s1.PublicKey().Marshal()) ||
		aws.ToString(api.in[0].InstanceId) != "i-0abc" || aws.ToString(api.in[0].InstanceOSUser) != "ec2-user" {
		t.Fatalf("pushed %+v (%v), want the signer's public key for ec2-user@i-0abc", api.in[0], err)
	}

	api.err = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed"}
	if _, err := ic.Key(context.Background(), "ec2-user"); err == nil || !tunnel.IsPermanent(err) {
		t.Fatalf("required, denied: %v, want a permanent error", err)
	}
	api.err = &smithy.GenericAPIError{Code: "ThrottlingException"}
	if _, err := ic.Key(context.Background(), "ec2-user"); err == nil || tunnel.IsPermanent(err) {
		t.Fatalf("required, throttled: %v, want a transient error", err)
	}
	ic.Required = false
	if s, err := ic.Key(context.Background(), "ec2-user"); s != nil || err != nil {
		t.Fatalf("automatic, failing: %v %v, want no key and no error", s, err)
	}
}
