package ssmfake

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// Build (or find) the official plugin while the other tests run.
	go loadOfficialTools()
	os.Exit(m.Run())
}
