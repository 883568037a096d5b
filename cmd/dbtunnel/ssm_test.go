package main

import (
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/dbtunnel/dbtunnel/discovery/awsfake"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// lineEcho answers each connection by echoing what it reads.
func lineEcho(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
	return ln.Addr().(*net.TCPAddr)
}

// A target with host, via ssm and an instance goes straight to
// StartSession: no discovery call, one session, closed afterwards.
func TestExecViaSSM(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	echo := lineEcho(t)
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	const instance = "i-0123456789abcdef0"
	svc.AddTarget(instance, ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())

	cfg := writeConfig(t, fmt.Sprintf(`
targets:
  db:
    host: 127.0.0.1
    port: %d
    via: ssm
    bastion: %s
    region: ap-northeast-1
`, echo.Port, instance))
	script := `exec 3<>/dev/tcp/$PGHOST/$PGPORT; echo "hello over ssm" >&3; read -r line <&3; echo "$line"`
	r := runApp(t, nil, "--config", cfg, "exec", "db", "--", bash, "-c", script)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "hello over ssm" {
		t.Fatalf("%+v", r)
	}
	if open := svc.Sessions(); len(open) != 0 {
		t.Fatalf("sessions left open: %+v", open)
	}
	if all := svc.AllSessions(); len(all) != 1 {
		t.Fatalf("%d sessions started, want 1", len(all))
	}
}

// A database on the instance itself (host localhost) goes through
// AWS-StartPortForwardingSession, which needs no remote host.
func TestExecViaSSMOnTheInstance(t *testing.T) {
	echo := lineEcho(t)
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	const instance = "i-0123456789abcdef0"
	svc.AddTarget(instance, ssmfake.Agent{Version: ssmfake.AgentVersionMux, Online: true})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())
	cfg := writeConfig(t, fmt.Sprintf("targets:\n  db: {host: localhost, port: %d, via: ssm, bastion: %s, region: ap-northeast-1}\n", echo.Port, instance))
	script := `exec 3<>/dev/tcp/$PGHOST/$PGPORT; echo "on the instance" >&3; read -r line <&3; echo "$line"`
	r := runApp(t, nil, "--config", cfg, "exec", "db", "--", "bash", "-c", script)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "on the instance" {
		t.Fatalf("%+v", r)
	}
	if all := svc.AllSessions(); len(all) != 1 || all[0].Document != "AWS-StartPortForwardingSession" {
		t.Fatalf("sessions %+v", all)
	}
}

// TargetNotConnected is explained with what discovery finds wrong with the
// instance, here a private bastion with no instance profile and no way out.
func TestExecViaSSMTargetNotConnected(t *testing.T) {
	f := awsfake.NewServer(t)
	r := f.Account(testAccount, testKey).Region(testRegion)
	vpc := r.VPC("10.0.0.0/16")
	priv := vpc.Subnet("10.0.2.0/24")
	bastion := r.Instance("bastion-private", priv, vpc.SecurityGroup("bastion"))
	for _, kv := range f.Env(testKey, testRegion) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing})
	svc.Start()
	t.Cleanup(func() { svc.Close() })
	t.Setenv("AWS_ENDPOINT_URL_SSM", svc.URL())
	cfg := writeConfig(t, fmt.Sprintf(`
targets:
  db:
    host: 127.0.0.1
    port: 5432
    via: ssm
    bastion: %s
    region: %s
`, bastion.ID(), testRegion))
	res := runApp(t, nil, "--config", cfg, "exec", "db", "--timeout", "2s", "--", "true")
	if res.code != exitFailure || !strings.Contains(res.stderr, "the SSM agent on "+bastion.ID()+" is not connected: no instance profile") ||
		!strings.Contains(res.stderr, "aws ec2 associate-iam-instance-profile --instance-id "+bastion.ID()) {
		t.Fatalf("%+v", res)
	}
}
