package connect

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/internal/awsssh"
	"github.com/dbtunnel/dbtunnel/tunnel/ssh"
)

// awsSSH adds what AWS knows about an SSH bastion that is an EC2 instance:
// the SSM transport, EC2 Instance Connect keys and the console check of a
// new host key. A bastion known only by address gets none of them.
//
// Instance Connect, unless the target says instance_connect: true or
// false, is used when the target names no identity_file: a discovered
// bastion's key pair usually belongs to whoever launched it, and a pushed
// key costs one API call and leaves nothing behind. In that automatic mode
// a refused push (no permission, no Instance Connect on the image) is
// logged and the agent's and ~/.ssh keys are tried as before.
func (o *Opener) awsSSH(ctx context.Context, t Target, cfg *ssh.Config) error {
	r := t.Route.SSH
	if r.Instance == "" {
		return nil
	}
	overSSM := r.Transport == config.TransportSSM
	required := overSSM || (r.InstanceConnect != nil && *r.InstanceConnect)
	ac, err := o.awsConfig(ctx, t)
	if err != nil {
		if required {
			return fmt.Errorf("target %s: %w", t.Name, err)
		}
		o.Logger.Info("ssh: no AWS configuration: EC2 Instance Connect and the console host-key check are off", "tunnel", t.Name, "err", err)
		return nil
	}
	log := o.Logger.With("tunnel", t.Name)
	if overSSM {
		port := r.Port
		if port == 0 {
			port = 22
		}
		cfg.Transport = awsssh.SSMTransport(ac, r.Instance, port, log)
	}
	explicit := r.InstanceConnect != nil
	if (explicit && *r.InstanceConnect) || (!explicit && r.IdentityFile == "") {
		ic := &awsssh.InstanceConnect{
			API:      ec2instanceconnect.NewFromConfig(ac),
			Instance: r.Instance,
			Required: explicit,
			Logger:   log,
		}
		cfg.EphemeralKey = ic.Key
	}
	cfg.VouchHostKey = awsssh.ConsoleVoucher(ec2.NewFromConfig(ac), r.Instance, log)
	return nil
}
