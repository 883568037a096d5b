package tui

import (
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// asked runs one question from another goroutine, as a tunnel's dial
// does, and puts it on m's screen; the result arrives on the channel once
// it is answered.
func asked(t *testing.T, m *Model, ask func(*Asker) answer) <-chan answer {
	t.Helper()
	got := make(chan answer, 1)
	go func() { got <- ask(m.asker) }()
	msg := waitQuestion(t.Context(), m.asker)()
	q, ok := msg.(questionMsg)
	if !ok {
		t.Fatalf("waitQuestion: %T", msg)
	}
	m.Update(q)
	return got
}

func confirm(prompt string) func(*Asker) answer {
	return func(a *Asker) answer { yes, err := a.Confirm(prompt); return answer{yes: yes, err: err} }
}

func TestQuestionsTakeTheKeysUntilAnswered(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	got := asked(t, m, confirm("The authenticity of bastion 127.0.0.1 can't be established.\nAre you sure you want to continue connecting?"))
	s := plain(m)
	if !strings.Contains(s, "can't be established.") || !strings.Contains(s, "continue connecting?") || !strings.Contains(s, "y yes · n or esc no") {
		t.Fatal(s)
	}
	// Keys meant for a screen neither answer it nor reach the screen.
	press(m, "o", "q", "enter")
	if len(m.tunnels.entries) != 0 || m.quitting || len(got) != 0 {
		t.Fatalf("keys leaked past the question: %d entries, quitting %v", len(m.tunnels.entries), m.quitting)
	}
	press(m, "y")
	if ans := <-got; !ans.yes || ans.err != nil {
		t.Fatalf("y: %+v", ans)
	}
	if strings.Contains(plain(m), "continue connecting?") {
		t.Fatal("the question stays after its answer")
	}
	got = asked(t, m, confirm("Trust it?"))
	press(m, "esc")
	if ans := <-got; ans.yes || ans.err != nil {
		t.Fatalf("esc: %+v", ans)
	}
}

func TestSecretIsNotShown(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	got := asked(t, m, func(a *Asker) answer {
		s, err := a.ReadSecret("Enter passphrase for key '/home/u/.ssh/id_ed25519': ")
		return answer{text: s, err: err}
	})
	typeText(m, "hunter2")
	s := plain(m)
	if strings.Contains(s, "hunter2") || !strings.Contains(s, "> •••••••█") || !strings.Contains(s, "Enter passphrase for key '/home/u/.ssh/id_ed25519'") {
		t.Fatal(s)
	}
	press(m, "enter")
	if ans := <-got; ans.text != "hunter2" || ans.err != nil {
		t.Fatalf("passphrase: %+v", ans)
	}
}

func TestDismissedAndLateQuestions(t *testing.T) {
	m := newLoaded(t, fixtureOptions(t))
	ask := func(a *Asker) answer {
		s, err := a.Ask("MFA code for arn:aws:iam::123456789012:mfa/dev (profile prod):")
		return answer{text: s, err: err}
	}
	got := asked(t, m, ask)
	typeText(m, "123456")
	if s := plain(m); !strings.Contains(s, "> 123456█") {
		t.Fatal(s)
	}
	press(m, "esc")
	if ans := <-got; !errors.Is(ans.err, ErrNotAnswered) {
		t.Fatalf("esc: %+v", ans)
	}
	// Once the program quits, a question gets an error at once and the
	// tunnel that asked can close.
	m.quit()
	if ans := ask(m.asker); !errors.Is(ans.err, ErrNotAnswered) {
		t.Fatalf("after quit: %+v", ans)
	}
}

// TestUnknownHostKeyIsAskedInTheTUI: a bastion whose key known_hosts
// does not hold is asked about on the screen; yes records it and the
// tunnel comes up, no fails the tunnel and records nothing.
func TestUnknownHostKeyIsAskedInTheTUI(t *testing.T) {
	for _, yes := range []bool{true, false} {
		b := startBastion(t)
		if err := os.WriteFile(b.knownHosts, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		tm, p := startEcho(t, b)
		waitScreen(t, tm, p, "question", contains("The authenticity of bastion", "key fingerprint is SHA256:", "y yes"))
		if yes {
			tm.Send(keyMsg("y"))
			screen := waitScreen(t, tm, p, "ready", contains("● echo", "ready"))
			exchange(t, echoAddr(t, screen), "hello").Close()
		} else {
			tm.Send(keyMsg("n"))
			waitScreen(t, tm, p, "failed", contains("✗ echo", "failed", "last error: ssh: host key for 127.0.0.1:"))
		}
		kh, err := os.ReadFile(b.knownHosts)
		if err != nil {
			t.Fatal(err)
		}
		if recorded := strings.Contains(string(kh), "ssh-ed25519 "); recorded != yes {
			t.Fatalf("answered %v, known_hosts now %q", yes, kh)
		}
		tm.Send(keyMsg("q"))
		tm.WaitFinished(t)
	}
}

// TestPassphraseIsAskedInTheTUI: an encrypted identity file is unlocked
// with a passphrase typed in the question box, which the screen never
// shows.
func TestPassphraseIsAskedInTheTUI(t *testing.T) {
	b := startBastion(t)
	block, err := gossh.MarshalPrivateKeyWithPassphrase(b.key, "", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.identity, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	tm, p := startEcho(t, b)
	// The path is wrapped, not cut: its end is on the screen.
	waitScreen(t, tm, p, "question", contains("Enter passphrase for key '", "id_ed25519'", "enter answer"))
	tm.Type("correct horse")
	screen := waitScreen(t, tm, p, "typed", contains("> •••••••••••••█"))
	if strings.Contains(screen, "correct horse") {
		t.Fatalf("the passphrase is on the screen:\n%s", screen)
	}
	tm.Send(keyMsg("enter"))
	screen = waitScreen(t, tm, p, "ready", contains("● echo", "ready"))
	exchange(t, echoAddr(t, screen), "hello").Close()
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t)
}
