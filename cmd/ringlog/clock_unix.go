//go:build unix

package main

import "golang.org/x/sys/unix"

// monoNow returns CLOCK_MONOTONIC in nanoseconds: one clock for every process of the
// host, so a timestamp taken by one process can be compared with another's.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
