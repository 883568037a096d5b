package main

import (
	"context"
	"fmt"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awssource"
	"github.com/dbtunnel/dbtunnel/internal/connect"
	"github.com/dbtunnel/dbtunnel/internal/tui"
)

// mfaBeforeTUI assumes, while the terminal is still free, every role of
// the TUI's scopes and of the config's targets that wants an MFA code,
// so that the TUI shares those sessions; any later code (a new role, or a
// renewal after the session's hour) is asked for in the TUI.
func (a *app) mfaBeforeTUI(ctx context.Context, cfg *config.Config, scopes []discovery.Scope, asker *tui.Asker) {
	all := append([]discovery.Scope(nil), scopes...)
	for _, ct := range cfg.Targets {
		all = append(all, connect.ScopeFor(cfg, ct.Profile, ct.Region, ct))
	}
	done := map[discovery.Scope]bool{}
	for _, s := range all {
		key := discovery.Scope{Profile: s.AWSProfile(), Role: s.Role}
		if s.Role.MFASerial == "" || done[key] {
			continue
		}
		done[key] = true
		ac, err := connect.LoadAWSConfig(ctx, s.AWSProfile(), s.Region, a.identities.LoadOption(s.AWSProfile()))
		if err == nil {
			_, err = a.identities.Apply(ac, s).Credentials.Retrieve(ctx)
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "dbtunnel: %s: %v\n", s, err)
		}
	}
	a.identities.SetPrompt(func(req awssource.MFARequest) (string, error) {
		code, err := asker.Ask(fmt.Sprintf("Role %s wants a new code.\nMFA code for %s (profile %s):", req.Role, req.Serial, req.Profile))
		if err != nil {
			return "", fmt.Errorf("role %s needs a code from MFA device %s (mfa_serial of profile %s): %w", req.Role, req.Serial, req.Profile, err)
		}
		return code, nil
	})
}
