package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/internal/creds"
	"github.com/dbtunnel/dbtunnel/tunnel"
)

// execDrain is how long exec lets connections finish after its command
// exits.
const execDrain = 250 * time.Millisecond

func (a *app) execCommand() *cobra.Command {
	var rf routeFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "exec NAME [--] CMD [ARGS...]",
		Short: "Open a tunnel, run a command through it, close it",
		Long: `Open the tunnel, wait until it is ready, run CMD with PGHOST, PGPORT, PGUSER,
PGDATABASE, PGSSLMODE, MYSQL_HOST, MYSQL_TCP_PORT and DATABASE_URL pointing at
it, then close the tunnel and exit with CMD's exit code.

When the target has a credential source (its auth block, or the admin secret
discovery finds), the password is fetched first and passed only in CMD's
environment: PGPASSWORD (MYSQL_PWD and a 0600 option file named by
DBTUNNEL_MYSQL_CNF for MySQL) and DATABASE_URL.`,
		Args: argsAtLeast(2, "exec needs a target name and a command"),
		RunE: func(cmd *cobra.Command, args []string) error {
			argv, err := splitCommand(cmd, args[1:])
			if err != nil {
				return err
			}
			if len(argv) == 0 {
				return &usageError{fmt.Errorf("exec needs a command after %s (usage: %s)", args[0], cmd.UseLine())}
			}
			return a.exec(cmd.Context(), args[0], argv, rf, timeout)
		},
	}
	// Flags after the command belong to the command.
	cmd.Flags().SetInterspersed(false)
	rf.register(cmd)
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the tunnel to be ready")
	return cmd
}

func (a *app) exec(ctx context.Context, name string, argv []string, rf routeFlags, timeout time.Duration) error {
	targets, err := a.resolve(ctx, []string{name}, rf.overrides)
	if err != nil {
		return err
	}
	t := targets[0]
	opener := a.opener(rf.acceptNewHostKey)
	// The password first: a source that fails should not cost a tunnel.
	cred, err := opener.Credential(ctx, t)
	if err != nil {
		return credentialError(t, err)
	}
	// The tunnel lives until the command is done, not until a signal: the
	// signal goes to the command, which may well keep using the tunnel.
	tun, err := opener.Open(context.Background(), t)
	if err != nil {
		return err
	}
	defer tun.Close()
	// Retries while waiting, and trouble while the command runs, are
	// worth a line on stderr; the ready line would only clutter stdout.
	printer := &eventPrinter{stdout: a.stdout, stderr: a.stderr, noReady: true}
	// A failure before ready comes back from WaitReady and is printed
	// once, as the command's error; after ready only the printer tells.
	var ready atomic.Bool
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for ev := range tun.Events() {
			if ev.State != tunnel.StateFailed || ready.Load() {
				printer.print(tun.Spec(), ev)
			}
		}
	}()
	defer func() { tun.Close(); <-printed }()

	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	err = tun.WaitReady(waitCtx)
	cancel()
	if err != nil {
		return err
	}
	ready.Store(true)

	local := tun.LocalAddr().(*net.TCPAddr)
	env := t.EnvWith(local, cred)
	if cred != nil && t.Engine == "mysql" {
		dir, err := os.MkdirTemp("", "dbtunnel-")
		if err != nil {
			return fmt.Errorf("exec %s: %w", t.Name, err)
		}
		defer os.RemoveAll(dir)
		cnf, err := t.WriteMySQLDefaults(dir, local, cred)
		if err != nil {
			return err
		}
		env = append(env, connect.MySQLDefaultsVar+"="+cnf)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, a.stdout, a.stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(a.stderr, "dbtunnel: %v\n", err)
		return &exitError{code: 127}
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		if s := a.intr.signal(); s != nil {
			cmd.Process.Signal(s)
		}
		err = <-waited
	}
	// The command is gone; a connection it left open has no one to
	// finish it. It would linger over SSM, which cannot pass a half-close
	// on, so the drain is short.
	drain, cancelDrain := context.WithTimeout(context.Background(), execDrain)
	tun.Shutdown(drain)
	cancelDrain()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return &exitError{code: 0}
	case errors.As(err, &ee):
		return &exitError{code: exitStatus(ee)}
	default:
		return fmt.Errorf("exec %s: %w", argv[0], err)
	}
}

// credentialError adds what the user can do to a failure to fetch the
// password.
func credentialError(t connect.Target, err error) error {
	var ce *creds.Error
	if !errors.As(err, &ce) {
		return err
	}
	return fmt.Errorf("%w\n  (to connect without it, set auth: {source: none} on target %s)", err, t.Name)
}

// exitStatus is the code a shell would report: the command's own, or
// 128+N when signal N killed it.
func exitStatus(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// splitCommand finds the command in what follows NAME. Flag parsing stops at
// NAME so that the command's own flags are left alone; but in
// `exec NAME --local-port 5433 -- psql`, what stands between NAME and "--"
// is all dbtunnel flags, so it is parsed as such. Anything else before a
// "--" means the "--" is the command's own.
func splitCommand(cmd *cobra.Command, rest []string) ([]string, error) {
	dash := slices.Index(rest, "--")
	if dash < 0 {
		return rest, nil
	}
	head := rest[:dash]
	if len(head) == 0 || !strings.HasPrefix(head[0], "-") {
		if dash == 0 {
			return rest[1:], nil
		}
		return rest, nil
	}
	fs := cmd.Flags()
	if err := fs.Parse(head); err != nil {
		return nil, &usageError{fmt.Errorf("exec: %w", err)}
	}
	if extra := fs.Args(); len(extra) > 0 {
		return nil, &usageError{fmt.Errorf("exec: unexpected %q before --: put the command after --", extra[0])}
	}
	return rest[dash+1:], nil
}
