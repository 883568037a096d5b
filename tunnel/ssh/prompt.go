package ssh

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"
)

// Prompter asks the user during a connect. Calls may come from any
// goroutine; the connect timeout is suspended while one is in progress.
type Prompter interface {
	// ReadSecret asks for a key passphrase without echoing it.
	ReadSecret(prompt string) (string, error)
	// Confirm asks a yes/no question, such as whether to trust a new host key.
	Confirm(prompt string) (bool, error)
}

// TerminalPrompter prompts on a terminal. Share one pointer between all
// dialers of a process so that prompts from tunnels starting together do
// not interleave.
type TerminalPrompter struct {
	In  *os.File  // a terminal; ReadSecret fails on anything else
	Out io.Writer // where prompts go, usually os.Stderr

	mu sync.Mutex
}

// ReadSecret prints prompt and reads a line with echo off.
func (p *TerminalPrompter) ReadSecret(prompt string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.Out, prompt)
	b, err := term.ReadPassword(int(p.In.Fd()))
	fmt.Fprintln(p.Out)
	if err != nil {
		return "", fmt.Errorf("ssh: read passphrase: %w", err)
	}
	return string(b), nil
}

// Confirm prints prompt and waits for yes or no, asking again on anything
// else, as OpenSSH does for host keys.
func (p *TerminalPrompter) Confirm(prompt string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.Out, "%s (yes/no): ", prompt)
	for {
		line, err := readLine(p.In)
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "yes", "y":
			return true, nil
		case "no", "n":
			return false, nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, fmt.Errorf("ssh: read answer: %w", err)
		}
		fmt.Fprint(p.Out, "Please type 'yes' or 'no': ")
	}
}

// readLine reads byte by byte so that nothing past the newline is consumed
// from a terminal that others read after us.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
}
