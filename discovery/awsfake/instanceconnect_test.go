package awsfake_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	gossh "golang.org/x/crypto/ssh"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
)

func eicWorld(t *testing.T) (*awsfake.Fake, *awsfake.Instance, string) {
	t.Helper()
	f := awsfake.NewServer(t)
	r := f.Account("111122223333", "AKIDEIC").Region("eu-west-1")
	sub := r.VPC("10.0.0.0/16").Subnet("10.0.1.0/24", awsfake.Public)
	inst := r.Instance("bastion", sub).ConsoleOutput("boot\n-----BEGIN SSH HOST KEY KEYS-----\nssh-ed25519 AAAA root@x\n")
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return f, inst, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sp)))
}

// The real SDK clients push a key and read the console; the fake records
// the push and its time and calls the hook before replying.
func TestSDKInstanceConnectAndConsole(t *testing.T) {
	f, inst, key := eicWorld(t)
	hooked := make(chan awsfake.PushedKey, 1)
	f.OnPushKey(func(p awsfake.PushedKey) { hooked <- p })
	ac := cfg(f, "AKIDEIC", "eu-west-1")
	ctx := context.Background()

	before := time.Now()
	out, err := ec2instanceconnect.NewFromConfig(ac).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId: aws.String(inst.ID()), InstanceOSUser: aws.String("ec2-user"), SSHPublicKey: aws.String(key),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Success || aws.ToString(out.RequestId) == "" {
		t.Fatalf("reply %+v", out)
	}
	pushed := f.PushedKeys()
	if len(pushed) != 1 || pushed[0].InstanceID != inst.ID() || pushed[0].OSUser != "ec2-user" || pushed[0].PublicKey != key || pushed[0].At.Before(before) {
		t.Fatalf("recorded %+v", pushed)
	}
	select {
	case p := <-hooked:
		if p.PublicKey != key {
			t.Fatalf("hook got %+v", p)
		}
	default:
		t.Fatal("OnPushKey hook not called before the reply")
	}

	_, err = ec2instanceconnect.NewFromConfig(ac).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId: aws.String("i-0000000000000000f"), InstanceOSUser: aws.String("ec2-user"), SSHPublicKey: aws.String(key),
	})
	wantCode(t, err, "EC2InstanceNotFoundException")
	_, err = ec2instanceconnect.NewFromConfig(ac).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId: aws.String(inst.ID()), InstanceOSUser: aws.String("no spaces"), SSHPublicKey: aws.String(key),
	})
	wantCode(t, err, "InvalidArgsException")

	co, err := ec2.NewFromConfig(ac).GetConsoleOutput(ctx, &ec2.GetConsoleOutputInput{InstanceId: aws.String(inst.ID())})
	if err != nil {
		t.Fatal(err)
	}
	text, err := base64.StdEncoding.DecodeString(aws.ToString(co.Output))
	if aws.ToString(co.InstanceId) != inst.ID() || co.Timestamp == nil || err != nil || !strings.HasPrefix(string(text), "boot\n-----BEGIN SSH HOST KEY KEYS-----") {
		t.Fatalf("console reply %+v: %q, %v", co, text, err)
	}
	f.Deny("ec2-instance-connect:SendSSHPublicKey")
	_, err = ec2instanceconnect.NewFromConfig(ac).SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId: aws.String(inst.ID()), InstanceOSUser: aws.String("ec2-user"), SSHPublicKey: aws.String(key),
	})
	wantCode(t, err, "AccessDeniedException")
}

// The aws CLI agrees with the fake's wire format for both operations.
func TestCLIInstanceConnectAndConsole(t *testing.T) {
	bin := awsCLI(t)
	f, inst, key := eicWorld(t)
	env := cliEnv(t, "AKIDEIC")
	for i, kv := range env {
		if strings.HasPrefix(kv, "AWS_DEFAULT_REGION=") {
			env[i] = "AWS_DEFAULT_REGION=eu-west-1"
		}
	}
	stdout, stderr, err := runCLI(t, bin, f.URL, env, "ec2-instance-connect", "send-ssh-public-key",
		"--instance-id", inst.ID(), "--instance-os-user", "ec2-user", "--ssh-public-key", key)
	if err != nil {
		t.Fatalf("send-ssh-public-key: %v: %s", err, stderr)
	}
	var sent struct{ Success bool }
	if err := json.Unmarshal([]byte(stdout), &sent); err != nil || !sent.Success {
		t.Fatalf("send-ssh-public-key printed %q (%v)", stdout, err)
	}
	stdout, stderr, err = runCLI(t, bin, f.URL, env, "ec2", "get-console-output", "--instance-id", inst.ID())
	if err != nil {
		t.Fatalf("get-console-output: %v: %s", err, stderr)
	}
	var co struct{ InstanceId, Output string }
	if err := json.Unmarshal([]byte(stdout), &co); err != nil {
		t.Fatalf("get-console-output printed %q: %v", stdout, err)
	}
	// The CLI decodes the base64 itself.
	if co.InstanceId != inst.ID() || !strings.Contains(co.Output, "-----BEGIN SSH HOST KEY KEYS-----") {
		t.Fatalf("get-console-output: %+v", co)
	}
}
