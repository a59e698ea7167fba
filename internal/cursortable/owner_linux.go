//go:build linux

package cursortable

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Linux pids are below 2^22 (pid_max's ceiling), which leaves 10 bits of the 32-bit
// owner token for the process's start time: a dead owner's pid reused by another
// process passes for the owner only if it also started a multiple of 1024 clock ticks
// later.
const (
	pidBits = 22
	pidMask = 1<<pidBits - 1
)

// selfToken returns this process's owner token: pid | (start time mod 1024) << 22.
func selfToken() uint64 {
	pid := os.Getpid()
	st, _ := startTime(pid)
	return uint64(pid&pidMask) | uint64(st&1023)<<pidBits
}

// tokenAlive reports whether the process a token names still runs.
func tokenAlive(tok uint64) bool {
	pid := int(tok & pidMask)
	if err := unix.Kill(pid, 0); err != nil && err != unix.EPERM {
		return false
	}
	st, ok := startTime(pid)
	return !ok || uint64(st&1023) == tok>>pidBits // unreadable /proc: trust the pid
}

// startTime reads field 22 of /proc/PID/stat, the start time in clock ticks after boot
// (fields are counted after the command name, which may hold spaces and parentheses:
// parsing starts after its last ')').
func startTime(pid int) (uint64, bool) {
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
	return v, err == nil
}
