package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the per-project config file looked for in the working
// directory.
const FileName = ".dbtunnel.yaml"

// Find returns the config file to load: explicit (from --config), else
// $DBTUNNEL_CONFIG, else <cwd>/.dbtunnel.yaml, else
// $XDG_CONFIG_HOME/dbtunnel/config.yaml (XDG_CONFIG_HOME defaulting to
// <home>/.config). A file the user named that does not exist is an error;
// when none of the usual places has one, Find returns "" and nil, since no
// config is a valid config. Relative paths are taken against cwd.
func Find(explicit string, getenv func(string) string, cwd, home string) (string, error) {
	if explicit != "" {
		return named(explicit, "--config", cwd)
	}
	if env := getenv("DBTUNNEL_CONFIG"); env != "" {
		return named(env, "$DBTUNNEL_CONFIG", cwd)
	}
	var candidates []string
	if cwd != "" {
		candidates = append(candidates, filepath.Join(cwd, FileName))
	}
	// The XDG spec says relative values are invalid and must be ignored.
	xdg := getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(xdg) && home != "" {
		xdg = filepath.Join(home, ".config")
	}
	if filepath.IsAbs(xdg) {
		candidates = append(candidates, filepath.Join(xdg, "dbtunnel", "config.yaml"))
	}
	for _, p := range candidates {
		ok, err := isFile(p)
		if err != nil {
			// Something is there but unusable: skipping it would silently
			// load another file or none, which is harder to debug.
			return "", fmt.Errorf("config %s: %w", p, err)
		}
		if ok {
			return p, nil
		}
	}
	return "", nil
}

// named checks a path the user gave explicitly; from says where it came
// from so that the error leads back to it.
func named(p, from, cwd string) (string, error) {
	if !filepath.IsAbs(p) && cwd != "" {
		p = filepath.Join(cwd, p)
	}
	ok, err := isFile(p)
	if err == nil && !ok {
		err = fs.ErrNotExist
	}
	if err != nil {
		return "", fmt.Errorf("config file from %s: %s: %w", from, p, err)
	}
	return p, nil
}

// isFile reports whether p exists; a directory there is an error.
func isFile(p string) (bool, error) {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case fi.IsDir():
		return false, errors.New("is a directory")
	}
	return true, nil
}
