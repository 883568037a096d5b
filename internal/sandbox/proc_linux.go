package sandbox

import "syscall"

// dieWithParent has the kernel kill the child if this process dies without
// cleaning up. Go sets it after the uid change, which would clear it.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
