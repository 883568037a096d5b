package tunnel

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// copyBufferSize is larger than io.Copy's 32 KiB so that one read can fill
// most of an SSH packet pair or a TCP send window without extra syscalls.
const copyBufferSize = 64 << 10

var bufferPool = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

type closeWriter interface{ CloseWrite() error }

// pipe copies between the local client and the remote connection until both
// directions have ended, then closes both. A clean EOF on one side is passed
// on as a half-close (CloseWrite) so protocols that finish sending before
// they finish reading keep working; an error on either side tears both down.
func pipe(local, remote net.Conn, in, out *atomic.Int64) {
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			local.Close()
			remote.Close()
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(remote, local, out, closeBoth)
	}()
	copyHalf(local, remote, in, closeBoth)
	<-done
	closeBoth()
}

// copyHalf copies src to dst, adding to n as bytes are written so live
// counters move during long transfers.
func copyHalf(dst, src net.Conn, n *atomic.Int64, abort func()) {
	bp := bufferPool.Get().(*[]byte)
	defer bufferPool.Put(bp)
	buf := *bp
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n.Add(int64(nw))
			if werr != nil {
				abort()
				return
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				abort()
				return
			}
			if cw, ok := dst.(closeWriter); ok {
				if cw.CloseWrite() == nil {
					return
				}
			}
			// No half-close on this transport: ending the whole
			// connection is the only way to pass the EOF on.
			abort()
			return
		}
	}
}
