//go:build unix && !linux

package sandbox

import "syscall"

// dieWithParent: only Linux offers a parent-death signal; elsewhere Close
// is the only cleanup.
func dieWithParent(*syscall.SysProcAttr) {}
