package ssmfake

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

const (
	testTarget    = "i-0123456789abcdef0"
	testRegion    = "us-east-1"
	testAccessKey = "AKIAIOSFODNN7EXAMPLE"
	testSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// newTestService starts a Service that is closed when the test ends. Set
// SSMFAKE_DEBUG=1 for its debug log on stderr.
func newTestService(t *testing.T, opts Options) *Service {
	t.Helper()
	if opts.Logger == nil && os.Getenv("SSMFAKE_DEBUG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	svc := New(opts)
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

// sdkClient is the real aws-sdk-go-v2 SSM client, pointed at svc.
func sdkClient(svc *Service) *ssm.Client {
	return ssm.New(ssm.Options{
		Region:           testRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
		BaseEndpoint:     aws.String(svc.URL()),
		RetryMaxAttempts: 1,
	})
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return strconv.Itoa(port)
}

func dialLocal(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sinkServer is the destination of the transfer tests. Per connection it
// reads a header (bytes up, bytes down, seed), then at once sends `down`
// pseudo-random bytes and reads `up` bytes; when both are done it sends the
// SHA-256 of what it read. Nothing depends on a half-close, which does not
// cross SSM.
type sinkServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func newSinkServer(t *testing.T) *sinkServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sinkServer{ln: ln}
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			s.wg.Go(func() {
				defer func() {
					_ = c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				serveSink(c)
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *sinkServer) port() string { return strconv.Itoa(s.ln.Addr().(*net.TCPAddr).Port) }

func (s *sinkServer) addr() string { return s.ln.Addr().String() }

func serveSink(c net.Conn) {
	var hdr [24]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	up := binary.BigEndian.Uint64(hdr[0:])
	down := binary.BigEndian.Uint64(hdr[8:])
	seed := binary.BigEndian.Uint64(hdr[16:])
	read := make(chan []byte, 1)
	go func() {
		h := sha256.New()
		if _, err := io.CopyN(h, c, int64(up)); err != nil {
			read <- nil
			return
		}
		read <- h.Sum(nil)
	}()
	if _, err := io.CopyN(c, prng(seed, 'd'), int64(down)); err != nil {
		return
	}
	if sum := <-read; sum != nil {
		_, _ = c.Write(sum)
	}
}

func prng(seed uint64, dir byte) io.Reader {
	var s [32]byte
	binary.BigEndian.PutUint64(s[:], seed)
	s[8] = dir
	return rand.NewChaCha8(s)
}

// transfer sends up bytes through addr to a sinkServer and receives down
// bytes, checking both ways by digest.
func transfer(t *testing.T, addr string, up, down int, seed uint64) {
	t.Helper()
	if err := transferErr(addr, up, down, seed); err != nil {
		t.Errorf("transfer %d up / %d down through %s: %v", up, down, addr, err)
	}
}

func transferErr(addr string, up, down int, seed uint64) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	sent := sha256.New()
	werr := make(chan error, 1)
	go func() {
		var hdr [24]byte
		binary.BigEndian.PutUint64(hdr[0:], uint64(up))
		binary.BigEndian.PutUint64(hdr[8:], uint64(down))
		binary.BigEndian.PutUint64(hdr[16:], seed)
		if _, err := c.Write(hdr[:]); err != nil {
			werr <- err
			return
		}
		_, err := io.CopyN(io.MultiWriter(c, sent), prng(seed, 'u'), int64(up))
		werr <- err
	}()
	got, want := sha256.New(), sha256.New()
	if _, err := io.CopyN(want, prng(seed, 'd'), int64(down)); err != nil {
		return err
	}
	if _, err := io.CopyN(got, c, int64(down)); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		return errors.New("received data differ from what the destination sent")
	}
	var sum [32]byte
	if _, err := io.ReadFull(c, sum[:]); err != nil {
		return fmt.Errorf("receive digest: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if !bytes.Equal(sum[:], sent.Sum(nil)) {
		return errors.New("the destination received other data than was sent")
	}
	return nil
}
