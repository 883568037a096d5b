package ssm

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

func TestMuxBreakEndsSession(t *testing.T) {
	svc := ssmfake.New(ssmfake.Options{Pacing: ssmfake.NoPacing, Logger: testLogger()})
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	const target = "i-0123456789abcdef0"
	svc.AddTarget(target, ssmfake.Agent{Online: true})
	creds := credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")
	d, err := New(Config{
		API:         awsssm.New(awsssm.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(svc.URL()), RetryMaxAttempts: 1}),
		Credentials: creds, Region: "us-east-1",
		Target: target, Host: "127.0.0.1", Port: 9, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lost, err := d.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	s := d.sessions[0]
	d.mu.Unlock()
	s.mux.sess.Close()
	if err := <-lost; !strings.Contains(err.Error(), "multiplexed connection to the agent broke") {
		t.Fatalf("lost: %v", err)
	}
	<-s.stopped
	if info, _ := svc.Session(s.id); !info.Terminated {
		t.Errorf("broken session not terminated: %+v", info)
	}
}
