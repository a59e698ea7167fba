//go:build !unix

package cursortable

import "os"

// selfToken returns this process's owner token: its pid.
func selfToken() uint64 { return uint64(uint32(os.Getpid())) }

// tokenAlive cannot probe processes here: a holder counts as alive, so a committer
// killed mid-commit blocks that cursor's commits until the table is recreated.
func tokenAlive(uint64) bool { return true }
