//go:build unix && !linux

package cursortable

import (
	"os"

	"golang.org/x/sys/unix"
)

// selfToken returns this process's owner token: its pid (no start time off Linux).
func selfToken() uint64 { return uint64(uint32(os.Getpid())) }

// tokenAlive reports whether a process with the token's pid exists.
func tokenAlive(tok uint64) bool {
	err := unix.Kill(int(uint32(tok)), 0)
	return err == nil || err == unix.EPERM
}
