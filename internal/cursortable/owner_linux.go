//go:build linux

package cursortable

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// selfToken returns this process's owner token: pid in the low 32 bits, the low 32 bits
// of its start time (clock ticks after boot, /proc/PID/stat field 22) in the high ones,
// so that a dead owner's pid reused by another process does not pass for the owner.
func selfToken() uint64 {
	pid := os.Getpid()
	return uint64(uint32(pid)) | uint64(startTime(pid))<<32
}

// tokenAlive reports whether the process a token names still runs.
func tokenAlive(tok uint64) bool {
	pid := int(uint32(tok))
	if err := unix.Kill(pid, 0); err != nil && err != unix.EPERM {
		return false
	}
	st, ok := startTimeOK(pid)
	return !ok || st == uint32(tok>>32) // unreadable /proc: trust the pid
}

func startTime(pid int) uint32 {
	st, _ := startTimeOK(pid)
	return st
}

// startTimeOK reads field 22 of /proc/PID/stat (fields counted after the command name,
// which may hold spaces and parentheses: parsing starts after its last ')').
func startTimeOK(pid int) (uint32, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}
