package mmaplog

import (
	"context"
	"sync/atomic"
	"time"
	"unsafe"
)

// Tail wake-up words in the meta file (docs/FORMAT.md section 2): writers bump tailSeq
// after every commit that publishes new events and wake the futex when tailWaiters is
// non-zero; waiters count themselves in tailWaiters before they sleep.
const (
	metaTailSeqOff     = 192
	metaTailWaitersOff = 200
	// metaBootIDOff holds the boot id of the machine that last opened the log (repair.go).
	metaBootIDOff = 320
)

func (l *Log) tailSeq() *uint32     { return (*uint32)(unsafe.Pointer(&l.meta[metaTailSeqOff])) }
func (l *Log) tailWaiters() *uint32 { return (*uint32)(unsafe.Pointer(&l.meta[metaTailWaitersOff])) }

// notifyTail wakes every waiter, in any process, after new events were published. With
// nobody waiting it costs one atomic load. The order matters (docs/FORMAT.md section 7):
// the writer stores the commit word, then loads tailWaiters; a waiter adds itself to
// tailWaiters, then loads the commit word. Sequentially consistent atomics guarantee that
// at least one of them sees the other's store, so no wake-up is lost.
func (l *Log) notifyTail() {
	if atomic.LoadUint32(l.tailWaiters()) != 0 {
		l.wakeTail()
	}
}

// wakeTail is the rest of notifyTail, out of line so that notifyTail is inlined.
func (l *Log) wakeTail() {
	atomic.AddUint32(l.tailSeq(), 1)
	wakeAll(l.tailSeq())
}

// Wait blocks until event id has been appended (id < NextEventID()), by any handle in any
// process, or until ctx is done, in which case it returns ctx's error. On Linux it sleeps
// on a futex in the shared meta mapping, so an idle waiter uses no CPU; elsewhere it polls
// with a bounded backoff (at most 10 ms between checks).
func (l *Log) Wait(ctx context.Context, id EventID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := l.rlock(); err != nil {
		return err
	}
	seqWord, waiters := l.tailSeq(), l.tailWaiters()
	// Counted in inWait, this call keeps the meta mapping alive: Close waits for it.
	l.inWait.Add(1)
	l.segMu.RUnlock()
	defer l.inWait.Add(-1)
	// Wake the futex when ctx ends; every waiter rechecks its own condition.
	stop := context.AfterFunc(ctx, func() { wakeAll(seqWord) })
	defer stop()
	for attempt := 0; ; attempt++ {
		if l.closed.Load() {
			return ErrClosed
		}
		if l.opts.readOnly {
			// A read-only mapping cannot count itself among the waiters: poll.
			if id < l.loadView().next {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			pollSleep(ctx, attempt)
			continue
		}
		atomic.AddUint32(waiters, 1)
		seen := atomic.LoadUint32(seqWord)
		if id < l.loadView().next {
			atomic.AddUint32(waiters, ^uint32(0))
			return nil
		}
		if err := ctx.Err(); err != nil {
			atomic.AddUint32(waiters, ^uint32(0))
			return err
		}
		if !l.closed.Load() {
			sleepOn(seqWord, seen, attempt)
		}
		atomic.AddUint32(waiters, ^uint32(0))
	}
}

// pollSleep waits 100 µs doubling up to 10 ms, or until ctx is done.
func pollSleep(ctx context.Context, attempt int) {
	d := min(100*time.Microsecond<<min(attempt, 7), 10*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// stopWaiters wakes every Wait of this handle and waits until they have returned, so that
// the meta mapping can be unmapped. closed is already set.
func (l *Log) stopWaiters() {
	l.segMu.Lock() // a Wait that passed its closed check has counted itself by now
	l.segMu.Unlock()
	for l.inWait.Load() > 0 {
		wakeAll(l.tailSeq())
		time.Sleep(50 * time.Microsecond)
	}
}

// Follow returns an iterator over the events from start on that blocks at the tail: Next
// waits (as Wait does) for the next event to be appended, by any process, and returns
// false only when ctx is done (Err then returns ctx's error) or on an error. Deleted
// events are skipped as IterRange does.
func (l *Log) Follow(ctx context.Context, start EventID) *Iterator {
	return &Iterator{l: l, next: start, end: Latest, follow: ctx}
}
