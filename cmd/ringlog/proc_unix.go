//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the child in a process group of its own, so that a Ctrl-C on the
// terminal reaches only the demo's parent, which then stops its children itself.
func ownProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
