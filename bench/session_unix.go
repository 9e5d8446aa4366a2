//go:build unix

package bench

import (
	"os/exec"
	"syscall"
)

// ownSession starts cmd in a new session (setsid), so that the kernel's
// autogroup scheduling sees it as a program of its own, not one of the
// bench's.
func ownSession(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
}
