package ssm_test

import (
	"bufio"
	"net"
	"strings"
	"testing"

	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// An SSH session (AWS-StartSSHSession) reaches the port on the instance
// itself in basic mode, and the server's greeting (SSH servers speak first)
// comes through on the session's one connection.
func TestSSHDocument(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("SSH-2.0-fake\r\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("got " + line))
	}()

	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{Version: ssmfake.AgentVersionMux})
	f.cfg.Host, f.cfg.SSH, f.cfg.Port = "", true, ln.Addr().(*net.TCPAddr).Port
	d, c := f.conn(t)
	r := bufio.NewReader(c)
	greeting, err := r.ReadString('\n')
	if err != nil || greeting != "SSH-2.0-fake\r\n" {
		t.Fatalf("greeting %q, %v", greeting, err)
	}
	c.Write([]byte("SSH-2.0-client\r\n"))
	reply, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(reply, "got SSH-2.0-client") {
		t.Fatalf("reply %q, %v", reply, err)
	}
	s := f.session()
	if s.Document != ssm.DocumentSSH || s.Mode != "basic" || s.Destination != ln.Addr().String() {
		t.Fatalf("session %+v, want document %s in basic mode to %s", s, ssm.DocumentSSH, ln.Addr())
	}
	c.Close()
	d.Close()
	<-served
}

func TestSSHDocumentRefusesHost(t *testing.T) {
	_, err := ssm.New(ssm.Config{API: awsssm.New(awsssm.Options{Region: region}), Target: target, Host: "db.internal", Port: 22, SSH: true})
	if err == nil || !strings.Contains(err.Error(), "db.internal") {
		t.Fatalf("New: %v, want an error naming the host", err)
	}
}
