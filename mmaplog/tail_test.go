package mmaplog_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

func openSmall(t testing.TB, dir string) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10, IndexCapacity: 1024})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestWaitReturnsWhenAppended(t *testing.T) {
	dir := t.TempDir()
	w, r := openSmall(t, dir), openSmall(t, dir)
	done := make(chan error, 1)
	go func() { done <- r.Wait(context.Background(), 2) }()
	for i := 0; i < 3; i++ {
		select {
		case err := <-done:
			t.Fatalf("Wait returned %v before event 2 existed (after %d appends)", err, i)
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := w.Append([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after event 2 was appended")
	}
	// Already appended: returns at once.
	if err := r.Wait(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}

func TestWaitContextCancel(t *testing.T) {
	l := openSmall(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := l.Wait(ctx, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
	t.Logf("Wait returned %v after %v", err, time.Since(start))
	l.Close()
	if err := l.Wait(context.Background(), 0); !errors.Is(err, mmaplog.ErrClosed) {
		t.Fatalf("Wait after Close = %v", err)
	}
}

func TestFollowYieldsAppendsInOrder(t *testing.T) {
	dir := t.TempDir()
	w, r := openSmall(t, dir), openSmall(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 2000
	go func() {
		for i := 0; i < n; i += 10 {
			batch := make([][]byte, 10)
			for j := range batch {
				batch[j] = []byte(fmt.Sprintf("e%d", i+j))
			}
			if _, err := w.AppendBatch(batch); err != nil {
				panic(err)
			}
		}
	}()
	it := r.Follow(ctx, 0)
	got := 0
	for it.Next() {
		if it.ID() != uint64(got) || string(it.Value()) != fmt.Sprintf("e%d", got) {
			t.Fatalf("event %d: id %d value %q", got, it.ID(), it.Value())
		}
		got++
		if got == n {
			cancel()
		}
	}
	if got != n || !errors.Is(it.Err(), context.Canceled) {
		t.Fatalf("followed %d events, err %v", got, it.Err())
	}
	it.Close()
}

// An idle follower sleeps on the futex: it must use next to no CPU.
func TestIdleFollowerUsesNoCPU(t *testing.T) {
	l := openSmall(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		it := l.Follow(ctx, 0)
		for it.Next() {
		}
	}()
	time.Sleep(100 * time.Millisecond)
	before := cpuTime(t)
	const idle = 2 * time.Second
	time.Sleep(idle)
	used := cpuTime(t) - before
	cancel()
	<-done
	share := float64(used) / float64(idle) * 100
	t.Logf("idle follower: %v CPU over %v (%.3f%% of one core)", used, idle, share)
	if share > 1 {
		t.Fatalf("idle follower used %.2f%% of a core, want < 1%%", share)
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
