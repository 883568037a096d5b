package connect

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/tunnel/ssh"
)

func TestResolveExplicitSSHOverSSM(t *testing.T) {
	cfg := parse(t, `
targets:
  pg:
    host: db.internal
    port: 5432
    via: ssh
    bastion: i-0123456789abcdef0
    ssh: {transport: ssm, user: ec2-user}
`)
	tg, err := (&Resolver{Config: cfg}).Resolve(context.Background(), "pg", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	s := tg.Route.SSH
	if tg.Route.Via != "ssh" || tg.Route.Bastion != "i-0123456789abcdef0" || s == nil || s.Host != "i-0123456789abcdef0" ||
		s.Instance != "i-0123456789abcdef0" || s.Transport != config.TransportSSM || s.User != "ec2-user" || tg.Route.SSM != nil {
		t.Fatalf("route %+v ssh %+v", tg.Route, s)
	}
}

func TestResolveDiscoveredSSHOverSSM(t *testing.T) {
	r := resolver(t, "targets:\n  pa:\n    database: prod-aurora\n    profile: prod\n    region: ap-northeast-1\n    ssh: {transport: ssm}\n")
	tg, err := r.Resolve(context.Background(), "pa", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	s := tg.Route.SSH
	if tg.Route.Via != "ssh" || s == nil || s.Instance != "i-0private" || s.Host != "i-0private" || s.Transport != config.TransportSSM || s.User != "ec2-user" {
		t.Fatalf("route %+v ssh %+v", tg.Route, s)
	}
}

func TestResolveDiscoveredSSHKnowsInstance(t *testing.T) {
	r := resolver(t, "targets:\n  pa:\n    database: prod-aurora\n    profile: prod\n    region: ap-northeast-1\n    via: ssh\n")
	tg, err := r.Resolve(context.Background(), "pa", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if tg.Route.SSH.Instance != "i-0public" || tg.Route.SSH.Host != "198.51.100.10" {
		t.Fatalf("ssh %+v", tg.Route.SSH)
	}
}

// When the AWS hooks are attached to the SSH backend.
func TestAWSSSHHooks(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name                      string
		route                     SSHRoute
		loadErr                   error
		wantLoad, wantKey, wantTx bool
		wantErr                   bool
	}{
		{name: "address only", route: SSHRoute{Host: "203.0.113.10"}},
		{name: "instance, no identity: automatic", route: SSHRoute{Host: "198.51.100.10", Instance: "i-0abc"}, wantLoad: true, wantKey: true},
		{name: "instance with identity_file", route: SSHRoute{Host: "198.51.100.10", Instance: "i-0abc", IdentityFile: "/k"}, wantLoad: true},
		{name: "forced on", route: SSHRoute{Host: "h", Instance: "i-0abc", IdentityFile: "/k", InstanceConnect: &yes}, wantLoad: true, wantKey: true},
		{name: "forced off", route: SSHRoute{Host: "h", Instance: "i-0abc", InstanceConnect: &no}, wantLoad: true},
		{name: "over ssm", route: SSHRoute{Host: "i-0abc", Instance: "i-0abc", Transport: config.TransportSSM}, wantLoad: true, wantKey: true, wantTx: true},
		{name: "no aws, automatic", route: SSHRoute{Host: "h", Instance: "i-0abc"}, loadErr: errors.New("no region"), wantLoad: true},
		{name: "no aws, over ssm", route: SSHRoute{Host: "i-0abc", Instance: "i-0abc", Transport: config.TransportSSM}, loadErr: errors.New("no region"), wantLoad: true, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			loads := 0
			o := &Opener{Logger: slog.New(slog.DiscardHandler), AWSConfig: func(context.Context, string, string) (aws.Config, error) {
				loads++
				return aws.Config{Region: "eu-west-1"}, tc.loadErr
			}}
			r := tc.route
			var cfg ssh.Config
			err := o.awsSSH(context.Background(), Target{Name: "t", Route: Route{SSH: &r}}, &cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if (loads > 0) != tc.wantLoad || (cfg.EphemeralKey != nil) != tc.wantKey || (cfg.Transport != nil) != tc.wantTx {
				t.Fatalf("loaded %d, key %v, transport %v", loads, cfg.EphemeralKey != nil, cfg.Transport != nil)
			}
			if !tc.wantErr && tc.loadErr == nil && tc.wantLoad && cfg.VouchHostKey == nil {
				t.Fatal("no console check for an instance bastion")
			}
		})
	}
}
