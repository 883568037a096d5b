package config

import (
	"errors"
	"strings"
	"testing"
)

func TestSSHTransportAndInstanceConnect(t *testing.T) {
	c, err := Parse("t.yaml", []byte(y(
		"targets:",
		"  viassm:",
		"    host: db.internal",
		"    port: 5432",
		"    via: ssh",
		"    bastion: i-0123456789abcdef0",
		"    ssh: {transport: ssm, user: ec2-user, instance_connect: true}",
		"  plain:",
		"    host: db.internal",
		"    port: 5432",
		"    ssh: {host: 203.0.113.10, instance_connect: false}",
		"  unset:",
		"    database: prod",
		"    ssh: {user: ubuntu}",
	)), "/home/u")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Targets["viassm"].SSH
	if s.Transport != TransportSSM || s.InstanceConnect == nil || !*s.InstanceConnect {
		t.Fatalf("viassm ssh = %+v", s)
	}
	if ic := c.Targets["plain"].SSH.InstanceConnect; ic == nil || *ic {
		t.Fatalf("plain instance_connect = %v, want false", ic)
	}
	if ic := c.Targets["unset"].SSH.InstanceConnect; ic != nil {
		t.Fatalf("unset instance_connect = %v, want nil", *ic)
	}
}

func TestSSHTransportErrors(t *testing.T) {
	_, err := Parse("t.yaml", []byte(y(
		"targets:",
		"  a:",
		"    host: db",
		"    port: 5432",
		"    ssh: {transport: ssm}",
		"  b:",
		"    host: db",
		"    port: 5432",
		"    ssh: {host: 203.0.113.10, transport: ssm}",
		"  c:",
		"    host: db",
		"    port: 5432",
		"    bastion: i-0123456789abcdef0",
		"    ssh: {transport: ssm, proxy_jump: j}",
		"  d:",
		"    host: db",
		"    port: 5432",
		"    ssh: {host: h, transport: quic, instance_connect: \"yes\"}",
	)), "/home/u")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		"t.yaml:5:5: targets.a.ssh: missing the instance: with transport ssm set bastion: i-… (or ssh.host: i-…)",
		"t.yaml:9:11: targets.b.ssh.host: with transport ssm must be an instance id such as i-0123456789abcdef0 (got \"203.0.113.10\")",
		"t.yaml:14:27: targets.c.ssh.proxy_jump: cannot be combined with transport ssm (the SSM session reaches the instance itself)",
		"t.yaml:18:20: targets.d.ssh.transport: must be one of tcp, ssm (got \"quic\")",
		"t.yaml:18:37: targets.d.ssh.instance_connect: expected true or false (got \"yes\")",
	}
	if len(got) != len(want) {
		t.Fatalf("errors:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}
