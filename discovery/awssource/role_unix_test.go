//go:build unix

package awssource

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Without a controlling terminal (cron, CI, a detached session) the code
// is not read from anywhere else: the error names the device, the role
// and the profile. The check runs in a child in a new session, which has
// no terminal whatever runs the tests.
func TestTerminalMFAWithoutTerminal(t *testing.T) {
	req := MFARequest{Serial: "arn:aws:iam::111111111111:mfa/me", Role: "arn:aws:iam::222222222222:role/ops", Profile: "prod"}
	if os.Getenv("AWSSOURCE_TEST_NO_TTY") == "1" {
		_, err := TerminalMFA(req)
		fmt.Printf("error: %v\n", err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTerminalMFAWithoutTerminal$", "-test.v")
	cmd.Env = append(os.Environ(), "AWSSOURCE_TEST_NO_TTY=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdin = strings.NewReader("123456\n") // a code on stdin must not be taken
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := "error: role " + req.Role + " needs a code from MFA device " + req.Serial + " (mfa_serial of profile prod) and there is no terminal to ask on: open /dev/tty: "
	if !strings.Contains(string(out), want) {
		t.Errorf("got:\n%s\nwant a line starting %q", out, want)
	}
}
