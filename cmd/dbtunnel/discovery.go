package main

import (
	"os"
	"path/filepath"

	"github.com/dbtunnel/dbtunnel/config"
	"github.com/dbtunnel/dbtunnel/discovery"
	"github.com/dbtunnel/dbtunnel/discovery/awssource"
	"github.com/dbtunnel/dbtunnel/internal/connect"
)

// scopes are the profile × region pairs discovery searches: the flags, else
// the config's discovery section, else the current profile and region as
// the AWS CLI resolves them ("" leaves it to the SDK).
func (a *app) scopes(cfg *config.Config) []discovery.Scope {
	profiles, regions := cfg.Discovery.Profiles, cfg.Discovery.Regions
	if a.profile != "" {
		profiles = []string{a.profile}
	}
	if a.region != "" {
		regions = []string{a.region}
	}
	if len(profiles) == 0 {
		profiles = []string{cfg.Defaults.Profile}
	}
	if len(regions) == 0 {
		regions = []string{cfg.Defaults.Region}
	}
	var scopes []discovery.Scope
	for _, p := range profiles {
		for _, r := range regions {
			scopes = append(scopes, connect.ScopeFor(cfg, p, r, nil))
		}
	}
	return scopes
}

// source is AWS discovery behind the inventory cache.
func (a *app) source(cfg *config.Config, refresh bool) discovery.Source {
	return &discovery.CachedSource{
		Source:  awssource.New(awssource.Options{Logger: a.logger, Identities: a.identities}),
		Cache:   &discovery.Cache{Dir: a.cacheDir(), TTL: cfg.Discovery.CacheTTL},
		Refresh: refresh,
	}
}

// cacheDir follows the XDG base directory spec, as the config lookup does.
func (a *app) cacheDir() string {
	if d := a.getenv("XDG_CACHE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "dbtunnel")
	}
	home := a.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".cache", "dbtunnel")
}
