package mmaplog

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlog/ringlog/flock"
)

// TestHoldLockKeptThroughFlushes: a flush of a HoldLock handle counts as use, so the
// releaser does not drop the lock while it runs (a durable writer appends again as soon as
// its flush returns, and would lock again after every flush); once the handle is idle the
// lock is released as before.
func TestHoldLockKeptThroughFlushes(t *testing.T) {
	dir := t.TempDir()
	probe, err := flock.New(filepath.Join(dir, lockFileName), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	var freeDuringFlush, probes atomic.Int32
	syncTraceHook = func(flush uint64, step syncStep) {
		if step != syncDataStart {
			return
		}
		// A slow device: the flush lasts 10 idle periods of the releaser, and the lock
		// must stay retained all through it.
		deadline := time.Now().Add(10 * time.Duration(holdIdle.Load()))
		for time.Now().Before(deadline) {
			probes.Add(1)
			if ok, _ := probe.TryLock(); ok {
				freeDuringFlush.Add(1)
				probe.Unlock()
			}
			time.Sleep(time.Duration(holdIdle.Load()) / 8)
		}
	}
	defer func() { syncTraceHook = nil }()
	defer holdIdle.Store(holdIdle.Swap(int64(time.Millisecond)))
	l, err := Open(dir, &Options{HoldLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for id := EventID(1); id <= 20; id++ {
		if err := l.AppendWithID(id, []byte("durable")); err != nil {
			t.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("20 AppendWithID+Sync pairs: the lock was free at %d of %d probes during the flushes", freeDuringFlush.Load(), probes.Load())
	if n := freeDuringFlush.Load(); n != 0 {
		t.Fatalf("the releaser dropped the lock during a flush (free at %d probes)", n)
	}
	syncTraceHook = nil
	deadline := time.Now().Add(time.Second)
	for {
		if ok, _ := probe.TryLock(); ok {
			probe.Unlock()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the idle handle kept the lock for over 1 s after its last flush")
		}
		time.Sleep(50 * time.Microsecond)
	}
}
