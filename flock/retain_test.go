package flock_test

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlog/ringlog/flock"
)

func TestUnlockRetainKeepsOthersOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, err := flock.New(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := flock.New(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := a.UnlockRetain(); err != nil {
		t.Fatal(err)
	}
	if !a.Retained() {
		t.Fatal("Retained() = false after UnlockRetain")
	}
	if ok, err := b.TryLock(); err != nil || ok {
		t.Fatalf("second *Lock got a retained lock: %v %v", ok, err)
	}
	// The holder takes it again without a system call, and can retain again.
	if ok, err := a.TryLock(); err != nil || !ok {
		t.Fatalf("TryLock of the retaining *Lock = %v %v", ok, err)
	}
	if err := a.UnlockRetain(); err != nil {
		t.Fatal(err)
	}
	if released, err := a.Release(); err != nil || !released {
		t.Fatalf("Release = %v %v", released, err)
	}
	if released, err := a.Release(); err != nil || released {
		t.Fatalf("second Release = %v %v", released, err)
	}
	if ok, err := b.TryLock(); err != nil || !ok {
		t.Fatalf("TryLock after Release = %v %v", ok, err)
	}
	b.Unlock()
}

func TestLockNotifyReportsWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, _ := flock.New(path, 0o600)
	defer a.Close()
	b, _ := flock.New(path, 0o600)
	defer b.Close()
	var waiting atomic.Int32
	// Uncontended: no notification.
	if err := b.LockNotify(func(w bool) { t.Error("onWait called without contention") }); err != nil {
		t.Fatal(err)
	}
	b.Unlock()
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	a.UnlockRetain()
	got := make(chan error, 1)
	go func() {
		got <- b.LockNotify(func(w bool) {
			if w {
				waiting.Add(1)
			} else {
				waiting.Add(-1)
			}
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for waiting.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("LockNotify did not report waiting")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if _, err := a.Release(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	t.Logf("waiter got the lock %v after Release", time.Since(start))
	if waiting.Load() != 0 {
		t.Fatal("onWait(false) not called")
	}
	b.Unlock()
}

func BenchmarkLockUnlockRetained(b *testing.B) {
	l, err := flock.New(filepath.Join(b.TempDir(), "lock"), 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ReportAllocs()
	for b.Loop() {
		l.Lock()
		l.UnlockRetain()
	}
}
