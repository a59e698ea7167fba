//go:build linux

package mmaplog_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
	"golang.org/x/sys/unix"
)

// holdExclusive takes flock(LOCK_EX) on the file at path from a descriptor of its own, as
// a recycler does while it rewrites a pool file's header (or a child process forked
// meanwhile, which inherits the recycler's descriptor until it execs), and releases it
// after d.
func holdExclusive(t *testing.T, path string, d time.Duration) <-chan struct{} {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		t.Fatalf("flock %s: %v", path, err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(d)
		f.Close()
		close(released)
	}()
	return released
}

// TestMappingWaitsOutABriefExclusiveLock: a segment file held exclusively for a moment
// (a recycler rewriting a header, a forked child's inherited descriptor) is mapped once
// the lock goes, by a reader and by the writer moving into it: before, the writer's
// Append failed with ErrCorrupt ("segment file is being recycled").
func TestMappingWaitsOutABriefExclusiveLock(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ev := make([]byte, 1000)
	var id mmaplog.EventID
	for st, _ := l.Stats(); st.ActiveSegment == 0; st, _ = l.Stats() {
		if id, err = l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	// A reader: a new handle maps segment 1 (at Open or at its first Get there).
	released := holdExclusive(t, rcSegPath(dir, 1), 20*time.Millisecond)
	start := time.Now()
	r, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open while the active segment was locked for 20 ms: %v", err)
	}
	if _, err := r.Get(id); err != nil {
		t.Fatalf("Get %d while its segment was locked for 20 ms: %v", id, err)
	}
	waited := time.Since(start)
	<-released
	r.Close()

	// The writer: a handle that prepared the next segment ahead and closed left it
	// published and mapped by nobody; a handle without preparation of its own maps it
	// when its append moves into it.
	p, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := p.Stats()
	next := st.ActiveSegment + 1
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := p.Append(ev); err != nil { // the first append starts the preparation
			t.Fatal(err)
		}
		if _, err := os.Stat(rcSegPath(dir, next)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment %d was never prepared", next)
		}
	}
	p.Close()
	w, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	released = holdExclusive(t, rcSegPath(dir, next), 20*time.Millisecond)
	for st, _ := w.Stats(); st.ActiveSegment < next; st, _ = w.Stats() {
		if _, err := w.Append(ev); err != nil {
			t.Fatalf("append into segment %d while it was locked for 20 ms: %v", next, err)
		}
	}
	<-released
	t.Logf("Open + Get waited %v for a 20 ms exclusive lock; the writer moved into a locked segment", waited.Round(time.Millisecond))
}

// TestMappingGivesUpOnAHeldExclusiveLock: a lock that stays is not waited for forever:
// the Get of a live event there fails as damage (ErrCorrupt) within the bound, and
// succeeds once the lock is gone.
func TestMappingGivesUpOnAHeldExclusiveLock(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	id, err := l.Append([]byte("held"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Rotate(); err != nil { // segment 0 sealed: a reader maps it on first use
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("active")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	released := holdExclusive(t, rcSegPath(dir, 0), 600*time.Millisecond)
	start := time.Now()
	_, err = r.Get(id)
	took := time.Since(start)
	if !errors.Is(err, mmaplog.ErrCorrupt) || took > 500*time.Millisecond {
		t.Fatalf("Get under a held exclusive lock: %v after %v, want ErrCorrupt within the wait bound", err, took)
	}
	<-released
	if p, err := r.Get(id); err != nil || string(p) != "held" {
		t.Fatalf("Get after the lock went: %q, %v", p, err)
	}
	t.Logf("a held exclusive lock: Get failed after %v (%v), then read back once it went", took.Round(time.Millisecond), err)
}
