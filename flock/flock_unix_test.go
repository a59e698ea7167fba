//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package flock_test

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkRawFlockPair is the floor for BenchmarkLockUnlock/serial:
// flock(LOCK_EX) and flock(LOCK_UN) on a descriptor held open, with no mutex
// and no bookkeeping.
func BenchmarkRawFlockPair(b *testing.B) {
	f, err := os.OpenFile(lockPath(b), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	b.ReportAllocs()
	for b.Loop() {
		if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
			b.Fatal(err)
		}
		if err := unix.Flock(fd, unix.LOCK_UN); err != nil {
			b.Fatal(err)
		}
	}
	reportPairs(b)
}
