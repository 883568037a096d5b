package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/reach"
	"github.com/dbtunnel/dbtunnel/tunnel"
	"github.com/dbtunnel/dbtunnel/tunnel/ssm"
)

// explainAfter bounds how long a TargetNotConnected explanation is reused
// before discovery is asked again: retries come every few seconds, and the
// agent's state changes slowly.
const explainAfter = time.Minute

// explainTimeout bounds the discovery call made to explain a failure, so a
// slow API never delays the next attempt by much.
const explainTimeout = 10 * time.Second

// explaining wraps an SSM dialer so that TargetNotConnected names the
// likely cause for this instance (agent offline, instance stopped, no NAT
// and no endpoints, endpoint group without 443, ...) instead of listing
// every usual one: the backend knows only that the agent is not connected,
// discovery knows why.
type explaining struct {
	*ssm.Dialer
	explain func(ctx context.Context) (cause, fix string)
	log     *slog.Logger
	target  string
	// now is the clock the reuse of an explanation is timed by; nil means
	// time.Now. Tests set it to step past explainAfter without waiting.
	now func() time.Time

	mu         sync.Mutex
	cause, fix string
	at         time.Time
}

func (e *explaining) Connect(ctx context.Context) (<-chan error, error) {
	lost, err := e.Dialer.Connect(ctx)
	var nc *ssm.NotConnectedError
	if err != nil && errors.As(err, &nc) && nc.Cause == "" {
		nc.Cause = e.why(ctx)
	}
	return lost, err
}

func (e *explaining) why(ctx context.Context) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now
	if e.now != nil {
		now = e.now
	}
	if e.at.IsZero() || now().Sub(e.at) > explainAfter {
		ctx, cancel := context.WithTimeout(ctx, explainTimeout)
		defer cancel()
		cause, fix := e.explain(ctx)
		// The fix is a long command: said once here rather than in every
		// retry's message.
		if fix != "" && fix != e.fix {
			e.log.Warn("ssm: to fix the agent's connection, run: "+fix, "instance", e.target)
		}
		e.cause, e.fix, e.at = cause, fix, now()
	}
	return e.cause
}

var _ tunnel.Connector = (*explaining)(nil)

// explainNotConnected says why t's SSM agent is likely not connected: from
// a fresh look at its scope when the Opener has a discovery source, else
// from what discovery found when the target was resolved; and the command
// that fixes it when there is one. "" when neither knows, and the
// backend's generic message stands.
func (o *Opener) explainNotConnected(ctx context.Context, t Target) (cause, fix string) {
	id := t.Route.SSM.Instance
	if o.Discovery != nil {
		scope := t.Scope()
		inv, err := o.Discovery.Discover(ctx, scope)
		if err == nil && inv != nil {
			for _, b := range inv.Bastions {
				if b.InstanceID == id {
					return describeCheck(reach.SSMAgent(inv, b, reach.Options{}), id)
				}
			}
			return fmt.Sprintf("%s is not among the instances discovery sees in %s: check the instance id, profile and region", id, scope), ""
		}
		o.Logger.Debug("explain TargetNotConnected: discovery failed", "instance", id, "err", err)
	}
	if t.Route.Chosen != nil {
		for _, c := range t.Route.Chosen.Checks {
			if c.Name == "SSM agent online" || (c.Name == "bastion running" && c.Status != discovery.CheckPass) {
				return describeCheck(c, id)
			}
		}
	}
	return "", ""
}

func describeCheck(c discovery.Check, id string) (cause, fix string) {
	if c.Status == discovery.CheckPass {
		// Discovery saw it online: something changed since.
		return "discovery last saw " + id + "'s agent online, so it has stopped or lost its way to Systems Manager since; check the instance and the agent (sudo systemctl status amazon-ssm-agent)", ""
	}
	return c.Detail, c.Fix
}
