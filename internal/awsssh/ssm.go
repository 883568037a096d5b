package awsssh

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dbtunnel/dbtunnel/tunnel/ssm"
)

// SSMTransport returns a tunnel/ssh Transport that reaches sshd on the
// instance (port) through an AWS-StartSSHSession session: what
// `ProxyCommand aws ssm start-session --document-name AWS-StartSSHSession`
// does for OpenSSH. Each SSH connection gets its own session, since the
// agent serves this document in basic mode (one connection per session,
// and only the first hears the server speak first); closing the connection
// ends the session.
func SSMTransport(ac aws.Config, instance string, port int, log *slog.Logger) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		d, err := ssm.NewFromAWS(ac, ssm.Config{Target: instance, Port: port, SSH: true, Logger: log})
		if err != nil {
			return nil, err
		}
		if _, err := d.Connect(ctx); err != nil {
			d.Close()
			return nil, fmt.Errorf("ssh over ssm: %w", err)
		}
		c, err := d.DialContext(ctx)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("ssh over ssm: %w", err)
		}
		return &sessionConn{Conn: c, d: d}, nil
	}
}

// sessionConn ends its SSM session when it is closed.
type sessionConn struct {
	net.Conn
	d    *ssm.Dialer
	once sync.Once
}

func (c *sessionConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.d.Close() })
	return err
}
