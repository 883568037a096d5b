package ssm

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dbtunnel/dbtunnel/internal/testsupport/tcptest"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

// echoServer echoes every connection until the test ends.
func echoServer(t *testing.T) int { return tcptest.Echo(t).Port }

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling a condition, not synchronising on time
	}
}

// Over a real websocket: the service sees our pings; when it stops
// answering them the session resumes on a new websocket (ResumeSession)
// and a connection open across the change still carries data.
func TestPingTimeoutResumesSession(t *testing.T) {
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
		Target: target, Host: "127.0.0.1", Port: echoServer(t), Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// pingWait is generous: while pings are answered, one pong late past
	// it would resume the session and fail the first phase, and a loaded
	// machine can hold a pong up for a good fraction of a second. The
	// resume phase waits one pingWait, well inside testTimeout.
	d.pingEvery, d.pingWait = 10*time.Millisecond, time.Second
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	lost, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.DialContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testTimeout))
	echo := func(msg string) {
		t.Helper()
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q: %q, %v", msg, buf, err)
		}
	}
	echo("before")

	waitUntil(t, "pings at the service", func() bool { return svc.Stats().PingsIn >= 3 })
	if st := svc.Stats(); st.ResumeSession != 0 || st.Websockets != 1 {
		t.Fatalf("answered pings: %+v, want one websocket and no resume", st)
	}

	svc.SetFaults(ssmfake.Faults{IgnorePings: true})
	waitUntil(t, "a resume after unanswered pings", func() bool { return svc.Stats().ResumeSession >= 1 })
	svc.SetFaults(ssmfake.Faults{})
	waitUntil(t, "the new websocket", func() bool {
		s := svc.Sessions()
		return len(s) == 1 && s[0].Connected && s[0].Websockets >= 2
	})
	echo("after")
	if st := svc.Stats(); st.StartSession != 1 || st.Drops != 0 {
		t.Errorf("stats %+v: want one session, resumed rather than restarted", st)
	}
	select {
	case err := <-lost:
		t.Fatalf("session lost: %v", err)
	default:
	}
}
