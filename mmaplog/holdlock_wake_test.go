package mmaplog_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// The releaser of an idle HoldLock holder sleeps on the futex of lockWaiters, and a writer
// of another process that is about to block on the lock wakes it (docs/FORMAT.md section
// 8): the hand-over does not wait for the holder's idle period.

const hwEnvReady = "RINGLOG_HW_READY" // file the holder creates once it holds the lock, idle

func init() { childRoles["hw-idle-holder"] = hwChildIdleHolder }

// hwChildIdleHolder appends once under HoldLock with an idle period of a minute, so that
// only a waiter's wake-up can make it release, says so, and stays idle until the parent's
// appends are done (its stop file).
func hwChildIdleHolder() int {
	mmaplog.SetHoldIdle(time.Minute)
	dir := os.Getenv(envDir)
	l, err := mmaplog.Open(dir, &mmaplog.Options{HoldLock: true})
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	ready := os.Getenv(hwEnvReady)
	for round := 0; ; round++ {
		if _, err := os.Stat(ready + ".stop"); err == nil {
			return 0
		}
		// Take the lock back after each hand-over: one append, then idle.
		if _, err := l.Append([]byte("holder")); err != nil {
			return childFail("append: %v", err)
		}
		if err := hwWrite(ready, []byte{byte(round)}); err != nil {
			return childFail("%v", err)
		}
		for {
			if b, err := os.ReadFile(ready); err == nil && len(b) == 0 {
				break // the parent has appended: take the lock again
			}
			if _, err := os.Stat(ready + ".stop"); err == nil {
				return 0
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func TestHoldLockWaiterWakesIdleHolder(t *testing.T) {
	const rounds = 10
	dir := t.TempDir()
	ready := filepath.Join(t.TempDir(), "ready")
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	holder := startChildren(t, "hw-idle-holder", 1, envDir+"="+dir, hwEnvReady+"="+ready)
	var waits []time.Duration
	for round := range rounds {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
			if b, err := os.ReadFile(ready); err == nil && len(b) == 1 && int(b[0]) == round {
				break
			}
			if anyFailed(holder) || time.Now().After(deadline) {
				waitChildren(t, holder)
				t.Fatalf("round %d: the holder did not take the lock", round)
			}
		}
		// The holder is idle and keeps the lock for a minute unless woken.
		time.Sleep(5 * time.Millisecond)
		start := time.Now()
		appended := make(chan error, 1)
		go func() { _, err := l.Append([]byte("waiter")); appended <- err }()
		select {
		case err := <-appended:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			// The cleanup kills the holder, which frees the lock for the append.
			t.Fatalf("round %d: a waiter waited 5 s for an idle holder: the holder's releaser was not woken", round)
		}
		waits = append(waits, time.Since(start))
		if round == rounds-1 {
			break // the holder stops at the stop file below, without appending again
		}
		if err := hwWrite(ready, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(ready+".stop", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitChildren(t, holder)
	slices.Sort(waits)
	t.Logf("an append of another process waiting for an idle HoldLock holder (idle period 1 min): p50 %v, max %v over %d rounds",
		waits[len(waits)/2], waits[len(waits)-1], rounds)
	if n, _ := l.NextEventID(); n != 2*rounds {
		t.Fatalf("NextEventID %d, want %d", n, 2*rounds)
	}
}

// hwWrite replaces the file at path with b atomically (the other process polls it).
func hwWrite(path string, b []byte) error {
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
