package mmaplog

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Lock hand-over (Options.HoldLock). A handle that holds the lock keeps it after a write
// call (flock.UnlockRetain) unless a writer waits for it. A writer about to block on the
// lock adds itself to lockWaiters in the meta file (docs/FORMAT.md section 2) and wakes the
// futex on that word, so a holder in any process sees it: at the end of its next write
// call, or at once when idle (its releaser sleeps on the word). A holder idle for holdIdle
// releases the lock on its own.
const (
	metaLockWaitersOff = 256
	defaultHoldIdle    = 5 * time.Millisecond
)

// releaserSlice bounds one futex wait of the releaser.
const releaserSlice = 50 * time.Millisecond

// holdIdle is how long a holder stays idle before its releaser drops the lock (a variable
// so that tests can lengthen it).
var holdIdle atomic.Int64

func init() { holdIdle.Store(int64(defaultHoldIdle)) }

// holder runs the idle release of a retained lock. kick is nil until Open has finished
// (and always without HoldLock): until then every write call releases the lock.
type holder struct {
	active atomic.Bool // the releaser goroutine is polling
	kick   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
}

func (l *Log) lockWaiters() *uint32 {
	return (*uint32)(unsafe.Pointer(&l.meta[metaLockWaitersOff]))
}

// Waiter slots: a waiter also writes its pid into a free slot, so that a holder can tell
// a count left behind by a waiter that was killed while it waited (healWaiters).
const (
	metaWaiterSlotsOff = 384
	waiterSlots        = 16
	healEvery          = 10 * time.Millisecond
)

func (l *Log) waiterSlot(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&l.meta[metaWaiterSlotsOff+4*i]))
}

// onLockWait counts this handle in lockWaiters (and a pid slot, when one is free) while it
// blocks on the lock. The flock mutex is held meanwhile, so l.waitSlot is ours.
func (l *Log) onLockWait(waiting bool) {
	if l.meta == nil {
		return
	}
	if waiting {
		atomic.AddUint32(l.lockWaiters(), 1)
		l.waitSlot = -1
		pid := uint32(os.Getpid())
		for i := 0; i < waiterSlots; i++ {
			if atomic.CompareAndSwapUint32(l.waiterSlot(i), 0, pid) {
				l.waitSlot = i
				break
			}
		}
		wakeAll(l.lockWaiters()) // an idle holder's releaser sleeps on the count
		return
	}
	if l.waitSlot >= 0 {
		atomic.StoreUint32(l.waiterSlot(l.waitSlot), 0)
	}
	atomic.AddUint32(l.lockWaiters(), ^uint32(0))
}

// healWaiters, run by the lock holder when lockWaiters is non-zero (at most every
// healEvery), clears the slots of waiters whose process is gone and takes them off the
// count. A waiter killed while it waited would otherwise keep every holder releasing the
// lock after each call. Waiters that found no free slot cannot be checked.
func (l *Log) healWaiters() {
	now := time.Now().UnixNano()
	if last := l.lastHeal.Load(); now-last < int64(healEvery) || !l.lastHeal.CompareAndSwap(last, now) {
		return
	}
	for i := 0; i < waiterSlots; i++ {
		pid := atomic.LoadUint32(l.waiterSlot(i))
		if pid == 0 || processAlive(int(pid)) {
			continue
		}
		if atomic.CompareAndSwapUint32(l.waiterSlot(i), pid, 0) {
			atomic.AddUint32(l.lockWaiters(), ^uint32(0))
		}
	}
}

// unlock ends a write call: it keeps the OS lock under HoldLock when nobody waits for it,
// and releases it otherwise.
func (l *Log) unlock() {
	// The common case of a busy holder first, small enough to be inlined.
	if l.hold.active.Load() && atomic.LoadUint32(l.lockWaiters()) == 0 && !l.closed.Load() {
		_ = l.lock.UnlockRetain()
		return
	}
	l.unlockSlow()
}

// unlockSlow is unlock's general case.
func (l *Log) unlockSlow() {
	if l.hold.kick == nil || l.closed.Load() {
		_ = l.lock.Unlock()
		return
	}
	if atomic.LoadUint32(l.lockWaiters()) != 0 {
		l.healWaiters()
		if atomic.LoadUint32(l.lockWaiters()) != 0 {
			_ = l.lock.Unlock()
			return
		}
	}
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
	// Wake the releaser from its futex wait (and, harmlessly, any other holder's, which
	// sleeps again). One that checked done just before the close sleeps out its current
	// wait (at most releaserSlice).
	wakeAll(l.lockWaiters())
	l.hold.wg.Wait()
}

// releaser drops the retained lock when a writer waits for it or when the handle has
// been idle for holdIdle: it changed nothing (the commit word did not move) and ran no
// flush. It sleeps on the futex of lockWaiters meanwhile, which a waiter wakes.
func (l *Log) releaser() {
	h := &l.hold
	defer h.wg.Done()
	waiters := l.lockWaiters()
	for {
		select {
		case <-h.done:
			return
		case <-h.kick:
		}
		h.active.Store(true)
		for {
			// The commit word moves with every write call that changed the log; while
			// this handle retains the lock, no other handle moves it.
			last := atomic.LoadUint64(l.commit)
			// A flush of the handle counts as use too: a durable writer appends again
			// as soon as its flush returns (raftlog's StoreLogs), and releasing the lock
			// during every flush made each append lock it again.
			flushes := l.sy.activity.Load()
			// A futex wait, not a Go timer or a poll: a waiter's wake-up ends it at once,
			// and an active holder's releaser wakes once per holdIdle, not once per
			// write call.
			deadline := time.Now().Add(time.Duration(holdIdle.Load()))
			// The futex wait blocks this thread with its P: a goroutine readied just
			// before (the write call that waited for the lock mutex Release held) would
			// wait in that P's queue until the runtime takes the P back, which can be
			// milliseconds, with the lock free. Let it run first.
			runtime.Gosched()
			for attempt := 0; atomic.LoadUint32(waiters) == 0; attempt++ {
				left := time.Until(deadline)
				if left <= 0 || h.stopping() {
					break
				}
				// In slices of at most releaserSlice: a Close that wakes the word between
				// the check above and the wait costs at most that long.
				sleepOnFor(waiters, 0, min(left, releaserSlice), attempt)
			}
			if h.stopping() {
				return
			}
			idle := atomic.LoadUint64(l.commit) == last && flushes%2 == 0 && l.sy.activity.Load() == flushes
			if atomic.LoadUint32(waiters) != 0 || idle {
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

// stopping reports whether Close has stopped the releaser.
func (h *holder) stopping() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}
