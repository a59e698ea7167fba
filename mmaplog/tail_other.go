//go:build !linux

package mmaplog

import (
	"sync/atomic"
	"time"
)

// sleepOn polls word with a bounded backoff: 100 µs doubling up to 10 ms.
func sleepOn(word *uint32, seen uint32, attempt int) {
	d := 100 * time.Microsecond << min(attempt, 7)
	if d > 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	deadline := time.Now().Add(d)
	for atomic.LoadUint32(word) == seen && time.Now().Before(deadline) {
		time.Sleep(d / 10)
	}
}

// sleepOnFor polls word like sleepOn, for at most d.
func sleepOnFor(word *uint32, seen uint32, d time.Duration, attempt int) {
	deadline := time.Now().Add(d)
	for atomic.LoadUint32(word) == seen && time.Now().Before(deadline) {
		time.Sleep(min(d/10, 100*time.Microsecond<<min(attempt, 7)))
	}
}

// wakeAll does nothing: pollers notice the change themselves.
func wakeAll(word *uint32) {}
