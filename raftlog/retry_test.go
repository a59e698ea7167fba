package raftlog_test

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/raftlog"
)

var errInjected = errors.New("injected failure")

// failNextSyncs makes the next n flushes of s fail.
func failNextSyncs(s *raftlog.Store, n int) {
	var left atomic.Int32
	left.Store(int32(n))
	raftlog.SetSyncHook(s, func(flush func() error) error {
		if left.Add(-1) >= 0 {
			return errInjected
		}
		return flush()
	})
}

// TestRetryAfterFailure: raft re-sends the same indexes after a failed StoreLogs. Each
// case injects a failed flush, then re-sends a batch, and checks what the store holds,
// also after a reopen.
func TestRetryAfterFailure(t *testing.T) {
	cases := []struct {
		name string
		// rollbackFails makes the failed call unable to remove what it appended.
		rollbackFails bool
		retry         []*raft.Log
		want          error
	}{
		{name: "failed flush removes the batch; the retry appends it anew", retry: entries(11, 5, 1)},
		{name: "entries left behind; the identical retry is accepted", rollbackFails: true, retry: entries(11, 5, 1)},
		{name: "entries left behind; a shorter identical retry is accepted", rollbackFails: true, retry: entries(11, 2, 1)},
		{name: "entries left behind; a longer retry appends the rest", rollbackFails: true, retry: entries(11, 9, 1)},
		{name: "entries left behind; a new leader's entries replace them", rollbackFails: true, retry: entries(11, 3, 2)},
		{name: "entries left behind; replaced from the first difference", rollbackFails: true,
			retry: append(entries(11, 2, 1), entries(13, 4, 2)...)},
		{name: "entries left behind; a retry from the last acknowledged index is accepted when identical",
			rollbackFails: true, retry: entries(9, 7, 1)},
		{name: "entries left behind; a retry changing an acknowledged entry is a conflict",
			rollbackFails: true, retry: entries(10, 3, 2), want: raftlog.ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := raftlog.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { s.Close() }()
			m := model{}
			if err := s.StoreLogs(entries(1, 10, 1)); err != nil {
				t.Fatal(err)
			}
			m.store(entries(1, 10, 1))
			failNextSyncs(s, 1)
			if tc.rollbackFails {
				raftlog.SetRollbackHook(s, func() error { return errInjected })
			}
			err = s.StoreLogs(entries(11, 5, 1))
			if !errors.Is(err, errInjected) {
				t.Fatalf("StoreLogs with a failing flush: %v", err)
			}
			t.Logf("failed call: %v", err)
			if tc.rollbackFails {
				m.store(entries(11, 5, 1)) // left in the log, not acknowledged
			}
			verify(t, s, m)
			raftlog.SetRollbackHook(s, nil)
			err = s.StoreLogs(tc.retry)
			wantErr(t, "retry", err, tc.want)
			if err == nil {
				if !tc.rollbackFails {
					m = model{}
					m.store(entries(1, 10, 1))
				}
				// Entries after the retried batch that differ were deleted with it.
				retryLast := tc.retry[len(tc.retry)-1].Index
				for i := range m {
					if i > retryLast && tc.retry[len(tc.retry)-1].Term != 1 {
						delete(m, i)
					}
				}
				m.store(tc.retry)
			}
			verify(t, s, m)
			s.Close()
			if s, err = raftlog.Open(dir, nil); err != nil {
				t.Fatal(err)
			}
			verify(t, s, m)
		})
	}
}

// TestRetryNeverReplacesLaterEntries: entries a failed call left behind are replaceable
// only while nothing stored after them depends on them; once a later call has succeeded,
// replacing them is ErrConflict.
func TestRetryNeverReplacesLaterEntries(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	if err := s.StoreLogs(entries(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	failNextSyncs(s, 1)
	raftlog.SetRollbackHook(s, func() error { return errInjected })
	if err := s.StoreLogs(entries(11, 5, 1)); !errors.Is(err, errInjected) {
		t.Fatal(err)
	}
	raftlog.SetRollbackHook(s, nil)
	if err := s.StoreLogs(entries(16, 5, 1)); err != nil {
		t.Fatal(err)
	}
	err := s.StoreLogs(entries(11, 3, 2))
	wantErr(t, "replacing entries before an acknowledged one", err, raftlog.ErrConflict)
	m := model{}
	m.store(entries(1, 20, 1))
	verify(t, s, m)
}

// TestFailedDeleteFlush: a DeleteRange whose flush fails reports it.
func TestFailedDeleteFlush(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	if err := s.StoreLogs(entries(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	failNextSyncs(s, 1)
	if err := s.DeleteRange(1, 5); !errors.Is(err, errInjected) {
		t.Fatalf("DeleteRange with a failing flush: %v", err)
	}
	if err := s.DeleteRange(1, 5); err != nil { // raft retries at the next snapshot
		t.Fatal(err)
	}
}

// TestOneFlushPerCall: every StoreLogs and DeleteRange flushes exactly once before it
// returns, and concurrent StoreLogs calls are in their flushes at the same time (the
// flush runs outside the store's write lock, so the log's group commit can share it).
func TestOneFlushPerCall(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	var flushes, inFlush, maxInFlush atomic.Int64
	// appended[k] is closed once call k-1 has appended: call k+1 may then append while k
	// flushes, as raft's pipelined appends would.
	const calls = 64
	appended := make([]chan struct{}, calls+1)
	for i := range appended {
		appended[i] = make(chan struct{})
	}
	close(appended[0])
	raftlog.SetSyncHook(s, func(flush func() error) error {
		flushes.Add(1)
		n := inFlush.Add(1)
		for {
			m := maxInFlush.Load()
			if n <= m || maxInFlush.CompareAndSwap(m, n) {
				break
			}
		}
		defer inFlush.Add(-1)
		return flush()
	})
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for k := range calls {
		wg.Go(func() {
			<-appended[k]
			first := uint64(1 + 4*k)
			done := make(chan error, 1)
			go func() { done <- s.StoreLogs(entries(first, 4, 1)) }()
			// Let call k+1 start once k's entries are in (its flush may still run).
			for {
				if last, _ := s.LastIndex(); last >= first+3 {
					break
				}
				select {
				case err := <-done:
					close(appended[k+1])
					errs <- err
					return
				default:
				}
				// Yield: with two Ps, a goroutine spinning here kept the appending
				// goroutine it had just started from running until its own P came back.
				runtime.Gosched()
			}
			close(appended[k+1])
			errs <- <-done
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := flushes.Load(); got != calls {
		t.Fatalf("%d StoreLogs calls made %d flushes, want one each", calls, got)
	}
	m := model{}
	m.store(entries(1, 4*calls, 1))
	verify(t, s, m)
	t.Logf("%d calls, %d flushes, at most %d calls in a flush at once", calls, flushes.Load(), maxInFlush.Load())
	if maxInFlush.Load() < 2 {
		t.Fatalf("concurrent StoreLogs calls never flushed at the same time (max %d): the flush is serialized", maxInFlush.Load())
	}
	flushes.Store(0)
	if err := s.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 5); err != nil { // nothing left there: no flush needed
		t.Fatal(err)
	}
	if got := flushes.Load(); got != 1 {
		t.Fatalf("DeleteRange made %d flushes, want 1", got)
	}
}
