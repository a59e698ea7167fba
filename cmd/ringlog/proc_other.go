//go:build !unix

package main

import "os/exec"

// ownProcessGroup does nothing off Unix.
func ownProcessGroup(*exec.Cmd) {}
