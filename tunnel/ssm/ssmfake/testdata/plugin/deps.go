//go:build tools

// Package ssmplugin pins the official session-manager-plugin (which has no
// go.mod of its own) so that the conformance tests of ssmfake can build its
// main package, src/sessionmanagerplugin-main, from this module.
package ssmplugin

import (
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session"
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session/portsession"
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session/shellsession"
)
