package ssm_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/dbtunnel/dbtunnel/tunnel"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm/ssmfake"
)

const (
	target = "i-0123456789abcdef0"
	region = "us-east-1"
)

var creds = credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")

func logger() *slog.Logger {
	if os.Getenv("SSM_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fixture is an ssmfake service with one agent, a destination server and
// a Dialer pointed at them.
type fixture struct {
	t    *testing.T
	svc  *ssmfake.Service
	dest *sink
	cfg  ssm.Config
}

func newFixture(t *testing.T, opts ssmfake.Options, agent ssmfake.Agent) *fixture {
	t.Helper()
	if opts.Pacing == 0 {
		opts.Pacing = ssmfake.NoPacing
	}
	opts.Logger = logger()
	svc := ssmfake.New(opts)
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	agent.Online = true
	svc.AddTarget(target, agent)
	dest := newSink(t)
	api := awsssm.New(awsssm.Options{
		Region:           region,
		Credentials:      creds,
		BaseEndpoint:     aws.String(svc.URL()),
		RetryMaxAttempts: 1,
	})
	return &fixture{t: t, svc: svc, dest: dest, cfg: ssm.Config{
		API: api, Credentials: creds, Region: region, Target: target,
		Host: "127.0.0.1", Port: dest.port(), Logger: logger(),
	}}
}

func (f *fixture) dialer() *ssm.Dialer {
	f.t.Helper()
	d, err := ssm.New(f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// forward runs the tunnel core over a new Dialer, as dbtunnel does.
// conn connects a dialer and opens one connection through it, both
// closed when the test ends (or before, by the test).
func (f *fixture) conn(t *testing.T) (*ssm.Dialer, net.Conn) {
	t.Helper()
	d := f.dialer()
	t.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if _, err := d.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := d.DialContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return d, c
}

func (f *fixture) forward() *tunnel.Tunnel {
	f.t.Helper()
	tn, err := tunnel.Forward(context.Background(), tunnel.Spec{Name: "db", Remote: f.cfg.Host, Via: "ssm", Bastion: target}, f.dialer(),
		tunnel.WithLogger(logger()), tunnel.WithDialTimeout(30*time.Second))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = tn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tn.WaitReady(ctx); err != nil {
		f.t.Fatal(err)
	}
	return tn
}

func (f *fixture) session() ssmfake.SessionInfo {
	f.t.Helper()
	ss := f.svc.Sessions()
	if len(ss) != 1 {
		f.t.Fatalf("%d sessions, want 1", len(ss))
	}
	return ss[0]
}

// eventually polls cond, failing the test if it does not hold in time. For
// state the fake exposes only by polling.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		<-tk.C
	}
}

// sink is the destination. Per connection it reads a 24-byte header (bytes
// up, bytes down, seed), streams `down` pseudo-random bytes while reading
// `up` bytes, then answers with the SHA-256 of what it read. Nothing
// depends on a half-close, which SSM does not carry.
type sink struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newSink(t *testing.T) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Go(func() { s.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *sink) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *sink) serve(c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	var hdr [24]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	up, down, seed := binary.BigEndian.Uint64(hdr[:]), binary.BigEndian.Uint64(hdr[8:]), binary.BigEndian.Uint64(hdr[16:])
	sum := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		if _, err := io.CopyN(h, c, int64(up)); err != nil {
			sum <- nil
			return
		}
		sum <- h.Sum(nil)
	}()
	if _, err := io.CopyN(c, stream(seed, 'd'), int64(down)); err != nil {
		<-sum
		return
	}
	if h := <-sum; h != nil {
		c.Write(h)
	}
}

func stream(seed uint64, dir byte) io.Reader {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	s[8] = dir
	return rand.NewChaCha8(s)
}

// exchange sends up bytes to the sink through c and receives down bytes,
// checking both directions by digest.
func exchange(c net.Conn, up, down int, seed uint64) error {
	var hdr [24]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(up))
	binary.BigEndian.PutUint64(hdr[8:], uint64(down))
	binary.BigEndian.PutUint64(hdr[16:], seed)
	sent := sha256.New()
	werr := make(chan error, 1)
	go func() {
		if _, err := c.Write(hdr[:]); err != nil {
			werr <- err
			return
		}
		_, err := io.CopyN(io.MultiWriter(c, sent), stream(seed, 'u'), int64(up))
		werr <- err
	}()
	got, want := sha256.New(), sha256.New()
	if _, err := io.CopyN(got, c, int64(down)); err != nil {
		return errors.Join(err, <-werr)
	}
	if _, err := io.CopyN(want, stream(seed, 'd'), int64(down)); err != nil {
		return err
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		return errors.New("download corrupted")
	}
	if err := <-werr; err != nil {
		return err
	}
	echo := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, echo); err != nil {
		return err
	}
	if !bytes.Equal(echo, sent.Sum(nil)) {
		return errors.New("upload corrupted")
	}
	return nil
}

// transfer runs one exchange over a new connection to the tunnel.
func transfer(tn *tunnel.Tunnel, up, down int, seed uint64) error {
	c, err := net.DialTimeout("tcp", tn.LocalAddr().String(), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	return exchange(c, up, down, seed)
}

func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = f(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestFakeMux(t *testing.T) {
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{Version: ssmfake.AgentVersionMux})
	tn := f.forward()
	if err := parallel(4, func(i int) error { return transfer(tn, 300<<10, 500<<10, uint64(i)) }); err != nil {
		t.Fatal(err)
	}
	s := f.session()
	if s.Mode != "mux" || s.KeepAlive || s.Streams != 4 || s.ClientVersion != "1.3.0.0" {
		t.Errorf("session %+v", s)
	}
	st := f.svc.Stats()
	if st.AuthRejected != 0 {
		t.Errorf("websocket upgrades refused: %+v", st)
	}
	t.Logf("client data %d, of which resent needlessly %d", st.DataIn, st.DuplicatesIn)
}

func TestFakeBasic(t *testing.T) {
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{Version: ssmfake.AgentVersionBasic})
	tn := f.forward()
	// One connection at a time; the second waits for the first.
	if err := parallel(2, func(i int) error { return transfer(tn, 100<<10, 200<<10, uint64(i)) }); err != nil {
		t.Fatal(err)
	}
	if err := transfer(tn, 10<<10, 10<<10, 7); err != nil {
		t.Fatal(err)
	}
	if s := f.session(); s.Mode != "basic" || s.Streams != 3 {
		t.Errorf("session %+v", s)
	}
}

func TestFakeResume(t *testing.T) {
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{})
	tn := f.forward()
	c, err := net.Dial("tcp", tn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	// The download is not read until both resumes are done, so however
	// fast the machine the exchange is still open across them (unpaced,
	// 2 MiB can otherwise finish between the drop and the Bye).
	gate := make(chan struct{})
	openGate := sync.OnceFunc(func() { close(gate) })
	defer openGate() // a test that fails early must not leave exchange waiting
	done := make(chan error, 1)
	go func() { done <- exchange(gatedConn{Conn: c, gate: gate}, 2<<20, 2<<20, 1) }()
	// Drop the websocket and say Bye while data flows both ways.
	eventually(t, "data to flow", func() bool { s := f.session(); return s.BytesIn > 256<<10 && s.BytesOut > 256<<10 })
	f.svc.DropWebsocket("")
	eventually(t, "a second websocket", func() bool { return f.session().Websockets >= 2 })
	f.svc.SayBye("")
	// The client resumes after the Bye on its own time: wait for it
	// rather than count resumes the moment the exchange ends.
	eventually(t, "a resume after the Bye", func() bool {
		s := f.session()
		return f.svc.Stats().ResumeSession >= 2 && s.Connected && s.Websockets >= 3
	})
	openGate()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := f.svc.Stats(); st.Byes != 1 || st.Drops != 1 || st.ResumeSession < 2 {
		t.Errorf("stats %+v: want one drop and one Bye, each resumed once", st)
	}
	if r := tn.Stats().Reconnects; r != 0 {
		t.Errorf("tunnel reconnected %d times: a resume should be invisible", r)
	}
	if err := transfer(tn, 1000, 1000, 2); err != nil {
		t.Fatal(err)
	}
}

func TestFakeLossyNetwork(t *testing.T) {
	for _, version := range []string{ssmfake.AgentVersionMux, ssmfake.AgentVersionBasic} {
		t.Run(version, func(t *testing.T) {
			f := newFixture(t, ssmfake.Options{Faults: ssmfake.Faults{Seed: 42, Loss: 0.01, Duplicate: 0.01, Reorder: 0.01}}, ssmfake.Agent{Version: version})
			tn := f.forward()
			if err := transfer(tn, 1<<20, 1<<20, 3); err != nil {
				t.Fatal(err)
			}
			st := f.svc.Stats()
			if st.FaultLost == 0 || st.Retransmits == 0 {
				t.Errorf("no loss happened: %+v", st)
			}
		})
	}
}

func TestFakePause(t *testing.T) {
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{})
	tn := f.forward()
	c, err := net.Dial("tcp", tn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	done := make(chan error, 1)
	go func() { done <- exchange(c, 2<<20, 2<<20, 4) }()
	eventually(t, "data to flow", func() bool { s := f.session(); return s.BytesIn > 256<<10 && s.BytesOut > 256<<10 })
	f.svc.Pause("", 200*time.Millisecond)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := f.svc.Stats(); st.Pauses != 1 {
		t.Errorf("%d pauses", st.Pauses)
	}
}

func TestFakeSessionsSpread(t *testing.T) {
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{})
	f.cfg.Sessions = 3
	d := f.dialer()
	defer d.Close()
	ctx := context.Background()
	if _, err := d.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 3 {
		c, err := d.DialContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if err := parallel(3, func(i int) error { return exchange(conns[i], 10<<10, 10<<10, uint64(i)) }); err != nil {
		t.Fatal(err)
	}
	ss := f.svc.Sessions()
	if len(ss) != 3 {
		t.Fatalf("%d sessions", len(ss))
	}
	for _, s := range ss {
		if s.Streams != 1 {
			t.Errorf("session %s carried %d connections, want 1 each", s.SessionID, s.Streams)
		}
	}
}

func TestFakeConnectToPortError(t *testing.T) {
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.cfg.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	d := f.dialer()
	defer d.Close()
	if _, err := d.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := d.DialContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, ssm.ErrConnectToPort) {
		t.Fatalf("read: %v, want ErrConnectToPort", err)
	}
}

func TestFakeStartErrors(t *testing.T) {
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{})
	f.svc.SetOnline(target, false)
	d := f.dialer()
	defer d.Close()
	_, err := d.Connect(context.Background())
	if err == nil || tunnel.IsPermanent(err) || !bytes.Contains([]byte(err.Error()), []byte("is not connected")) {
		t.Fatalf("offline agent: %v", err)
	}
	f.svc.SetOnline(target, true)
	f.svc.SetAPIError("StartSession", &ssmfake.APIError{Type: "AccessDeniedException", Message: "not authorized to perform: ssm:StartSession"})
	if _, err := d.Connect(context.Background()); !tunnel.IsPermanent(err) {
		t.Fatalf("access denied: %v", err)
	}
}

func TestFakeIdleTimeout(t *testing.T) {
	f := newFixture(t, ssmfake.Options{Faults: ssmfake.Faults{IdleTimeout: 200 * time.Millisecond}}, ssmfake.Agent{})
	d := f.dialer()
	defer d.Close()
	lost, err := d.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = <-lost
	var ce *ssm.ClosedError
	if !errors.As(err, &ce) || !ce.Idle() {
		t.Fatalf("lost: %v", err)
	}
	if _, err := d.DialContext(context.Background()); !errors.Is(err, ssm.ErrNotConnected) {
		t.Errorf("dial after loss: %v", err)
	}
	// The next Connect starts a new session.
	if _, err := d.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestFakeKeepalive(t *testing.T) {
	f := newFixture(t, ssmfake.Options{Faults: ssmfake.Faults{IdleTimeout: 300 * time.Millisecond}}, ssmfake.Agent{})
	f.cfg.Keepalive = 50 * time.Millisecond
	d := f.dialer()
	defer d.Close()
	if _, err := d.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Twenty NOPs span well over the idle timeout.
	eventually(t, "keepalives", func() bool { return f.session().BytesIn >= 20*8 })
	if s := f.session(); s.Terminated {
		t.Fatalf("session ended despite keepalive: %+v", s)
	}
}

func TestFakeCloseTerminates(t *testing.T) {
	for _, version := range []string{ssmfake.AgentVersionMux, ssmfake.AgentVersionBasic} {
		t.Run(version, func(t *testing.T) {
			f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{Version: version})
			tn := f.forward()
			if err := transfer(tn, 1000, 1000, 5); err != nil {
				t.Fatal(err)
			}
			id := f.session().SessionID
			tn.Close()
			s, ok := f.svc.Session(id)
			if !ok || !s.Terminated {
				t.Fatalf("session after Close: %+v", s)
			}
			if st := f.svc.Stats(); st.TerminateSession != 1 {
				t.Errorf("%d TerminateSession calls", st.TerminateSession)
			}
		})
	}
}

func TestFakeHalfCloseKeepsStream(t *testing.T) {
	// A client that half-closes after sending still gets the full reply:
	// the local EOF must not end the SSM stream.
	f := newFixture(t, ssmfake.Options{}, ssmfake.Agent{})
	tn := f.forward()
	c, err := net.Dial("tcp", tn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var hdr [24]byte
	binary.BigEndian.PutUint64(hdr[8:], 64<<10)
	binary.BigEndian.PutUint64(hdr[16:], 9)
	if _, err := c.Write(hdr[:]); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(io.LimitReader(c, 64<<10+sha256.Size))
	if err != nil || len(got) != 64<<10+sha256.Size {
		t.Fatalf("read %d bytes after half-close: %v", len(got), err)
	}
}

// BenchmarkFakeUpload measures our side of an upload: the fake agent is
// not paced, so the client's window and acks are what limit it.
func BenchmarkFakeUpload(b *testing.B) {
	benchTransfer(b, 4<<20, 0)
}

// BenchmarkFakeDownload is paced like the real agent (1 ms per 1 KiB).
func BenchmarkFakeDownload(b *testing.B) {
	benchTransfer(b, 0, 1<<20)
}

func benchTransfer(b *testing.B, up, down int) {
	opts := ssmfake.Options{Logger: logger()}
	if down == 0 {
		opts.Pacing = ssmfake.NoPacing
	}
	svc := ssmfake.New(opts)
	if err := svc.Start(); err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	svc.AddTarget(target, ssmfake.Agent{Online: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &sink{ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serve(c) })
		}
	})
	defer func() { ln.Close(); s.wg.Wait() }()
	d, err := ssm.New(ssm.Config{
		API:    awsssm.New(awsssm.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(svc.URL()), RetryMaxAttempts: 1}),
		Region: region, Credentials: creds, Target: target, Host: "127.0.0.1", Port: s.port(), Logger: logger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(up + down))
	for i := 0; b.Loop(); i++ {
		c, err := d.DialContext(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if err := exchange(c, up, down, uint64(i)); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
