package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
)

// standin is a built-in TCP service that answers for a database the demo
// cannot run: it says what it is in a banner line, then echoes each line
// back, so a tunnel to it can be seen working with nc or telnet.
type standin struct {
	ln     net.Listener
	banner string
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startStandin(banner string) (*standin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stand-in: listen: %w", err)
	}
	s := &standin{ln: ln, banner: banner, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is where the stand-in listens.
func (s *standin) Addr() string { return s.ln.Addr().String() }

func (s *standin) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.conns == nil {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.echo(c)
		}()
	}
}

func (s *standin) echo(c net.Conn) {
	if _, err := io.WriteString(c, s.banner+"\n"); err != nil {
		return
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if _, err := fmt.Fprintf(c, "echo: %s\n", sc.Text()); err != nil {
			return
		}
	}
}

// Close stops listening, drops every connection and waits.
func (s *standin) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	s.wg.Wait()
	return err
}
