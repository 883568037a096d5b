package tunnel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dbtunnel/dbtunnel/internal/testsupport/tcptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer answers every connection by sending back what it reads and
// half-closing when the client does, as a database that reads a whole
// request before replying would.
func echoServer(t *testing.T) string {
	return tcptest.Serve(t, func(c net.Conn) {
		io.Copy(c, c)
		c.(*net.TCPConn).CloseWrite()
	}).String()
}

// tcpDialer reaches a fixed address directly: a backend with no session.
type tcpDialer struct{ addr string }

func (d tcpDialer) DialContext(ctx context.Context) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", d.addr)
}
func (tcpDialer) Close() error { return nil }

// sessionDialer is a Connector whose sessions the test makes, fails and
// breaks at will.
type sessionDialer struct {
	tcpDialer
	mu       sync.Mutex
	fails    []error // returned by the next Connect calls, in order
	attempts chan time.Time
	lost     chan error
	closed   bool
}

func newSessionDialer(addr string) *sessionDialer {
	return &sessionDialer{tcpDialer: tcpDialer{addr}, attempts: make(chan time.Time, 100)}
}

func (d *sessionDialer) Connect(ctx context.Context) (<-chan error, error) {
	d.attempts <- time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.fails) > 0 {
		err := d.fails[0]
		d.fails = d.fails[1:]
		return nil, err
	}
	d.lost = make(chan error, 1)
	return d.lost, nil
}

func (d *sessionDialer) failNext(errs ...error) {
	d.mu.Lock()
	d.fails = append(d.fails, errs...)
	d.mu.Unlock()
}

func (d *sessionDialer) breakSession(err error) {
	d.mu.Lock()
	d.lost <- err
	d.mu.Unlock()
}

func (d *sessionDialer) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	return nil
}

func forward(t *testing.T, d Dialer, opts ...Option) *Tunnel {
	t.Helper()
	tun, err := Forward(context.Background(), Spec{Name: "test"}, d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.Close() })
	return tun
}

// echoed connects to tun, has msg echoed back and returns the open
// connection (closed when the test ends).
func echoed(t *testing.T, tun *Tunnel, msg string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", tun.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo through %s: %q, %v", tun.LocalAddr(), got, err)
	}
	return c
}

// nextState reads events until one with the wanted state arrives.
func nextState(t *testing.T, tun *Tunnel, want State) Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-tun.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s", want)
			}
			if ev.State == want {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", want)
		}
	}
}

func TestForwardBusyPortNamesAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	_, err = Forward(context.Background(), Spec{Name: "pg", Listen: addr}, tcpDialer{})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want it to name %s", err, addr)
	}
}

func TestForwardListensOnLoopbackByDefault(t *testing.T) {
	tun := forward(t, tcpDialer{echoServer(t)})
	ip := tun.LocalAddr().(*net.TCPAddr).IP
	if !ip.IsLoopback() {
		t.Fatalf("listening on %s, want loopback", ip)
	}
}

func TestHalfCloseCarriesReply(t *testing.T) {
	tun := forward(t, tcpDialer{echoServer(t)})
	c, err := net.Dial("tcp", tun.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("select 1; -- then EOF")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	// The echo server replies only after it sees EOF, so the reply
	// proves the half-close went through and the other way stayed open.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %q, want %q", got, msg)
	}
	st := tun.Stats()
	if st.BytesOut != int64(len(msg)) || st.BytesIn != int64(len(msg)) {
		t.Fatalf("stats in=%d out=%d, want %d each", st.BytesIn, st.BytesOut, len(msg))
	}
}

func TestConcurrentConnections(t *testing.T) {
	tun := forward(t, tcpDialer{echoServer(t)})
	const n = 200
	payload := make([]byte, 256<<10)
	rand.Read(payload)
	want := sha256.Sum256(payload)
	errs := make(chan error, n)
	var ready sync.WaitGroup
	ready.Add(n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			c, err := net.Dial("tcp", tun.LocalAddr().String())
			ready.Done()
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			<-start
			go func() {
				c.Write(payload)
				c.(*net.TCPConn).CloseWrite()
			}()
			h := sha256.New()
			io.Copy(h, c)
			if !bytes.Equal(h.Sum(nil), want[:]) {
				errs <- errors.New("checksum mismatch")
				return
			}
			errs <- nil
		}()
	}
	ready.Wait()
	close(start)
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := tun.Stats()
	if st.Total != n {
		t.Fatalf("total = %d, want %d", st.Total, n)
	}
	if st.BytesIn != n*int64(len(payload)) {
		t.Fatalf("bytes in = %d, want %d", st.BytesIn, n*len(payload))
	}
}

func TestCloseDrainsActiveConnections(t *testing.T) {
	tun := forward(t, tcpDialer{echoServer(t)}, WithGrace(10*time.Second))
	c := echoed(t, tun, "ping")
	buf := make([]byte, 4)
	closed := make(chan struct{})
	go func() { tun.Close(); close(closed) }()
	<-tun.closing
	// New clients are refused while the old one is still served.
	if _, err := net.Dial("tcp", tun.LocalAddr().String()); err == nil {
		t.Fatal("dial succeeded after Close started")
	}
	if _, err := c.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("during drain: %q %v", buf, err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned with a connection still active")
	default:
	}
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c)
	<-closed
}

func TestCloseCutsConnectionsAfterGrace(t *testing.T) {
	tun := forward(t, tcpDialer{echoServer(t)}, WithGrace(10*time.Millisecond))
	c, err := net.Dial("tcp", tun.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	tun.Close()
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("read after close: %v", err)
	}
	if st := tun.Stats(); st.Active != 0 || st.State != StateClosed {
		t.Fatalf("after close: %+v", st)
	}
}

func TestSupervisorRedialsAfterLossAndFailure(t *testing.T) {
	d := newSessionDialer(echoServer(t))
	tun := forward(t, d, WithBackoff(time.Millisecond, 5*time.Millisecond))
	nextState(t, tun, StateConnecting)
	nextState(t, tun, StateReady)

	d.failNext(errors.New("connection refused"), errors.New("connection refused"))
	d.breakSession(errors.New("keepalive: 3 missed"))
	ev := nextState(t, tun, StateReconnecting)
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "keepalive") {
		t.Fatalf("reconnecting event err = %v", ev.Err)
	}
	for i := 0; i < 2; i++ {
		ev = nextState(t, tun, StateReconnecting)
		if ev.Delay <= 0 || ev.Attempt != i+1 {
			t.Fatalf("retry %d: %+v", i, ev)
		}
	}
	nextState(t, tun, StateReady)
	if st := tun.Stats(); st.Reconnects != 1 {
		t.Fatalf("reconnects = %d, want 1", st.Reconnects)
	}
	c, err := net.Dial("tcp", tun.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("ok"))
	c.(*net.TCPConn).CloseWrite()
	if got, _ := io.ReadAll(c); string(got) != "ok" {
		t.Fatalf("after reconnect got %q", got)
	}
	c.Close()
}

func TestBackoffGrowsToCapAndResets(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second)
	var last time.Duration
	for i := 0; i < 10; i++ {
		last = b.delay()
		if last > time.Second {
			t.Fatalf("delay %v over the cap", last)
		}
	}
	if last < 800*time.Millisecond {
		t.Fatalf("after 10 steps delay is %v, want near the cap", last)
	}
	b.reset()
	if d := b.delay(); d > 120*time.Millisecond {
		t.Fatalf("after reset delay is %v", d)
	}
}

func TestWaitingClientCutsBackoffShort(t *testing.T) {
	d := newSessionDialer(echoServer(t))
	d.failNext(errors.New("refused"))
	tun := forward(t, d, WithBackoff(time.Hour, time.Hour), WithDemandGap(0))
	<-d.attempts
	nextState(t, tun, StateReconnecting)
	// The backoff is an hour; only the waiting client can bring the
	// next attempt forward.
	c, err := net.Dial("tcp", tun.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi"))
	c.(*net.TCPConn).CloseWrite()
	if got, _ := io.ReadAll(c); string(got) != "hi" {
		t.Fatalf("got %q", got)
	}
}

func TestWaitingClientClosedAfterDialTimeout(t *testing.T) {
	d := newSessionDialer(echoServer(t))
	refused := errors.New("bastion refused")
	d.failNext(refused, refused, refused)
	tun := forward(t, d, WithBackoff(time.Hour, time.Hour), WithDialTimeout(50*time.Millisecond))
	// The first attempt has failed before the client comes, so its
	// stats below cannot be read before any attempt.
	<-d.attempts
	nextState(t, tun, StateReconnecting)
	c, err := net.Dial("tcp", tun.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A clean close reads as EOF, not a reset.
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("client saw %v, want a clean close", err)
	}
	if st := tun.Stats(); st.State != StateReconnecting || !errors.Is(st.LastErr, refused) {
		t.Fatalf("stats %+v", st)
	}
}

func TestPermanentErrorFailsTunnel(t *testing.T) {
	d := newSessionDialer("")
	hostKey := errors.New("host key changed")
	d.failNext(Permanent(fmt.Errorf("ssh: %w", hostKey)))
	tun := forward(t, d)
	err := tun.WaitReady(context.Background())
	if !errors.Is(err, hostKey) || !IsPermanent(err) {
		t.Fatalf("WaitReady = %v", err)
	}
	nextState(t, tun, StateFailed)
	nextState(t, tun, StateClosed)
	<-tun.Done()
	if _, ok := <-tun.Events(); ok {
		t.Fatal("events not closed after closed")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		t.Fatal("dialer not closed")
	}
}

func TestContextCancelClosesTunnel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tun, err := Forward(ctx, Spec{Name: "ctx"}, tcpDialer{echoServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-tun.Done()
	if _, err := net.Dial("tcp", tun.LocalAddr().String()); err == nil {
		t.Fatal("listener still open after ctx cancel")
	}
}

func TestWaitReadyTimeoutNamesLastError(t *testing.T) {
	d := newSessionDialer("")
	d.failNext(errors.New("no route to host"))
	tun := forward(t, d, WithBackoff(time.Hour, time.Hour))
	nextState(t, tun, StateReconnecting)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := tun.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Fatalf("WaitReady = %v", err)
	}
}

func TestRedialReplacesWorkingSession(t *testing.T) {
	d := newSessionDialer(echoServer(t))
	tun := forward(t, d)
	<-d.attempts
	nextState(t, tun, StateReady)

	tun.Redial()
	<-d.attempts
	ev := nextState(t, tun, StateReconnecting)
	if !errors.Is(ev.Err, ErrRedialRequested) {
		t.Fatalf("reconnecting event err = %v, want ErrRedialRequested", ev.Err)
	}
	nextState(t, tun, StateReady)
	if st := tun.Stats(); st.Reconnects != 1 {
		t.Fatalf("reconnects = %d, want 1", st.Reconnects)
	}
	c, err := net.Dial("tcp", tun.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("again"))
	c.(*net.TCPConn).CloseWrite()
	if got, _ := io.ReadAll(c); string(got) != "again" {
		t.Fatalf("after redial got %q", got)
	}
}

func TestRedialCutsBackoffShort(t *testing.T) {
	d := newSessionDialer(echoServer(t))
	d.failNext(errors.New("refused"))
	// Neither the backoff nor the demand gap would allow a second
	// attempt within the test; only Redial can.
	tun := forward(t, d, WithBackoff(time.Hour, time.Hour), WithDemandGap(time.Hour))
	<-d.attempts
	nextState(t, tun, StateReconnecting)
	tun.Redial()
	<-d.attempts
	nextState(t, tun, StateReady)
}

type idleErr struct{}

func (idleErr) Error() string { return "session closed by the service: idle timeout" }
func (idleErr) Idle() bool    { return true }

// A session ended for inactivity is not replaced until a client connects:
// the account's idle policy holds, and the client is served.
func TestIdleSessionReopensOnDemand(t *testing.T) {
	d := newSessionDialer(echoServer(t))
	tun := forward(t, d, WithBackoff(time.Millisecond, time.Millisecond), WithDemandGap(0))
	nextState(t, tun, StateReady)
	<-d.attempts

	d.breakSession(fmt.Errorf("ssm: %w", idleErr{}))
	ev := nextState(t, tun, StateIdle)
	if !IsIdle(ev.Err) {
		t.Fatalf("idle event err = %v", ev.Err)
	}
	if n := len(d.attempts); n != 0 {
		t.Fatalf("%d session attempts while idle with no client", n)
	}
	if st := tun.Stats(); st.State != StateIdle {
		t.Fatalf("state %s", st.State)
	}

	c, err := net.Dial("tcp", tun.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("back"))
	c.(*net.TCPConn).CloseWrite()
	if got, _ := io.ReadAll(c); string(got) != "back" {
		t.Fatalf("got %q", got)
	}
	if n := len(d.attempts); n != 1 {
		t.Fatalf("%d session attempts for one client, want 1", n)
	}
}

func TestRedialEndsIdleWait(t *testing.T) {
	d := newSessionDialer(echoServer(t))
	tun := forward(t, d)
	nextState(t, tun, StateReady)
	<-d.attempts
	d.breakSession(fmt.Errorf("ssm: %w", idleErr{}))
	nextState(t, tun, StateIdle)
	tun.Redial()
	<-d.attempts
	nextState(t, tun, StateReady)
}

// staleDialer's session can end without the supervisor knowing yet: a
// dial then fails with ErrNotConnected and only that dial reports the
// loss, as a watcher that notices a moment later would.
type staleDialer struct {
	*sessionDialer
	dead atomic.Bool
}

func (d *staleDialer) Connect(ctx context.Context) (<-chan error, error) {
	lost, err := d.sessionDialer.Connect(ctx)
	if err == nil {
		d.dead.Store(false)
	}
	return lost, err
}

func (d *staleDialer) DialContext(ctx context.Context) (net.Conn, error) {
	if d.dead.Load() {
		d.breakSession(errors.New("connection reset by peer"))
		return nil, fmt.Errorf("stale: %w", ErrNotConnected)
	}
	return d.sessionDialer.DialContext(ctx)
}

// TestClientWaitsOutASessionEndedUnseen: a client that comes while the
// tunnel still reads ready but its session has ended is carried by the
// next session, not closed.
func TestClientWaitsOutASessionEndedUnseen(t *testing.T) {
	d := &staleDialer{sessionDialer: newSessionDialer(echoServer(t))}
	tun := forward(t, d, WithBackoff(time.Millisecond, time.Millisecond))
	nextState(t, tun, StateReady)
	d.dead.Store(true)
	echoed(t, tun, "ping") // through the next session
	nextState(t, tun, StateReconnecting)
	nextState(t, tun, StateReady)
	if st := tun.Stats(); st.Reconnects != 1 || st.Total != 1 {
		t.Fatalf("stats %+v", st)
	}
}
