package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain keeps the AWS SDK off this machine's own AWS setup: no shared
// config, no instance metadata, no ambient keys or region.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dbtunnel-cmd-test")
	if err != nil {
		panic(err)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"} {
		os.Unsetenv(k)
	}
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
