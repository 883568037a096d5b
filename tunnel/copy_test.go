package tunnel

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"
)

func TestBufferClasses(t *testing.T) {
	if got := minCopyBuffer << (bufferClasses - 1); got != maxCopyBuffer {
		t.Fatalf("largest buffer class is %d bytes, want maxCopyBuffer = %d", got, maxCopyBuffer)
	}
	for class := range bufferClasses {
		bp := getBuffer(class)
		if len(*bp) != minCopyBuffer<<class {
			t.Fatalf("class %d: buffer of %d bytes, want %d", class, len(*bp), minCopyBuffer<<class)
		}
		bufferPools[class].Put(bp)
	}
}

// streamConn is a net.Conn whose reads come from r (filling the caller's
// buffer whenever r can) and whose writes are recorded.
type streamConn struct {
	net.Conn
	r      io.Reader
	out    bytes.Buffer
	writes []int
	eof    bool // CloseWrite was called
}

func (c *streamConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *streamConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, len(p))
	return c.out.Write(p)
}
func (c *streamConn) Close() error      { return nil }
func (c *streamConn) CloseWrite() error { c.eof = true; return nil }

// A bulk stream grows the buffer by doubling up to maxCopyBuffer and
// arrives intact; the byte counter sees all of it.
func TestCopyHalfGrowsBuffer(t *testing.T) {
	data := make([]byte, 5*maxCopyBuffer+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	src := &streamConn{r: bytes.NewReader(data)}
	dst := &streamConn{}
	var n atomic.Int64
	aborted := false
	copyHalf(dst, src, &n, func() { aborted = true })

	if aborted || !dst.eof {
		t.Fatalf("clean EOF: aborted %v, half-closed %v; want a half-close", aborted, dst.eof)
	}
	if !bytes.Equal(dst.out.Bytes(), data) {
		t.Fatalf("copied %d bytes, not the %d sent", dst.out.Len(), len(data))
	}
	if n.Load() != int64(len(data)) {
		t.Fatalf("counter = %d, want %d", n.Load(), len(data))
	}
	for i, size := range dst.writes[:bufferClasses] {
		if want := minCopyBuffer << i; size != want {
			t.Fatalf("write %d: %d bytes, want %d (writes %v)", i, size, want, dst.writes)
		}
	}
	for i, size := range dst.writes {
		if size > maxCopyBuffer {
			t.Fatalf("write %d: %d bytes, more than maxCopyBuffer", i, size)
		}
	}
}

// Small reads (interactive traffic) never grow the buffer.
func TestCopyHalfSmallReadsStaySmall(t *testing.T) {
	r, w := io.Pipe()
	go func() {
		for range 100 {
			_, _ = w.Write(bytes.Repeat([]byte("q"), 100))
		}
		w.Close()
	}()
	src := &sizedReader{streamConn: streamConn{r: r}}
	dst := &streamConn{}
	var n atomic.Int64
	copyHalf(dst, src, &n, func() {})
	if n.Load() != 100*100 {
		t.Fatalf("copied %d bytes, want %d", n.Load(), 100*100)
	}
	if src.maxBuf != minCopyBuffer {
		t.Fatalf("read buffer grew to %d bytes on 100-byte reads, want %d", src.maxBuf, minCopyBuffer)
	}
}

type sizedReader struct {
	streamConn
	maxBuf int
}

func (s *sizedReader) Read(p []byte) (int, error) {
	s.maxBuf = max(s.maxBuf, len(p))
	return s.r.Read(p)
}
