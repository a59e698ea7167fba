package mmaplog

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Lock hand-over (Options.HoldLock). A handle that holds the lock keeps it after a write
// call (flock.UnlockRetain) unless a writer waits for it. A writer about to block on the
// lock adds itself to lockWaiters in the meta file (docs/FORMAT.md section 2), so a holder
// in any process sees it: at the end of its next write call, or within holdPoll when idle.
const (
	metaLockWaitersOff = 256
	holdPoll           = 250 * time.Microsecond
)

// holder runs the idle release of a retained lock. kick is nil until Open has finished
// (and always without HoldLock): until then every write call releases the lock.
type holder struct {
	writes atomic.Uint64 // write calls that retained the lock
	active atomic.Bool   // the releaser goroutine is polling
	kick   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
}

func (l *Log) lockWaiters() *uint32 {
	return (*uint32)(unsafe.Pointer(&l.meta[metaLockWaitersOff]))
}

// onLockWait counts this handle in lockWaiters while it blocks on the lock.
func (l *Log) onLockWait(waiting bool) {
	if l.meta == nil {
		return
	}
	if waiting {
		atomic.AddUint32(l.lockWaiters(), 1)
	} else {
		atomic.AddUint32(l.lockWaiters(), ^uint32(0))
	}
}

// unlock ends a write call: it keeps the OS lock under HoldLock when nobody waits for it,
// and releases it otherwise.
func (l *Log) unlock() {
	if l.hold.kick == nil || l.closed.Load() || atomic.LoadUint32(l.lockWaiters()) != 0 {
		_ = l.lock.Unlock()
		return
	}
	l.hold.writes.Add(1)
	_ = l.lock.UnlockRetain()
	if !l.hold.active.Load() {
		select {
		case l.hold.kick <- struct{}{}:
		default:
		}
	}
}

func (l *Log) startHolder() {
	h := &l.hold
	h.kick = make(chan struct{}, 1)
	h.done = make(chan struct{})
	h.wg.Add(1)
	go l.releaser()
}

func (l *Log) stopHolder() {
	if l.hold.done == nil {
		return
	}
	close(l.hold.done)
	l.hold.wg.Wait()
}

// releaser drops the retained lock when a writer waits for it or when the handle has made
// no write call for holdPoll.
func (l *Log) releaser() {
	h := &l.hold
	defer h.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-h.kick:
		}
		h.active.Store(true)
		for {
			last := h.writes.Load()
			t.Reset(holdPoll)
			select {
			case <-h.done:
				return
			case <-t.C:
			}
			if atomic.LoadUint32(l.lockWaiters()) != 0 || h.writes.Load() == last {
				_, _ = l.lock.Release()
			}
			if !l.lock.Retained() {
				h.active.Store(false)
				if !l.lock.Retained() {
					break
				}
				h.active.Store(true)
			}
		}
	}
}
