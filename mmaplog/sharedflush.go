package mmaplog

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// Flushes shared across handles and processes (docs/FORMAT.md section 5.6). Meta words,
// in memory only (reset by Open after a reboot; their on-disk value means nothing):
//
//	offset  size  field
//	576     8     durable       commit word up to which a completed flush of some handle
//	                            made every event durable
//	584     8     flushing      the highest commit word a flush in progress covers
//	592     4     durableSeq    futex word: +1 after every advance of durable
//	596     4     durableWaiters handles sleeping on durableSeq
//
// A records-only flush whose snapshot is already covered by durable returns at once;
// while another flush is in progress it waits for that one (up to sharedFlushWait, in
// case that flusher died) instead of issuing an msync of its own at the same time, which
// would cost the device a flush of its own: afterwards it is covered, or it leads the next
// flush for every handle that committed meanwhile. Commit words only grow within one
// boot, so "durable >= gen" means that gen's events are durable.
const (
	metaDurableOff        = 576
	metaFlushingOff       = 584
	metaDurableSeqOff     = 592
	metaDurableWaitersOff = 596
)

// sharedFlushWait bounds the wait for another handle's flush in progress.
const sharedFlushWait = 20 * time.Millisecond

// metaWord32 returns a pointer to the meta file's 32-bit word at off (metaWord: 64-bit).
func (l *Log) metaWord32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&l.meta[off])) }

// sharedCovered reports whether a completed flush of any handle covers commit word gen.
// While a flush of another handle is in progress it waits for it: if that flush covers
// gen, nothing is left to do; if not, the caller leads the next flush, which then covers
// the appends committed meanwhile by every handle (group commit across handles and
// processes, as the syncer does within one handle).
func (l *Log) sharedCovered(gen uint64) bool {
	durable, flushing := l.metaWord(metaDurableOff), l.metaWord(metaFlushingOff)
	seqWord, waiters := l.metaWord32(metaDurableSeqOff), l.metaWord32(metaDurableWaitersOff)
	var deadline time.Time // set when the first wait starts: the common case waits for none
	for attempt := 0; ; attempt++ {
		seq := atomic.LoadUint32(seqWord)
		d := atomic.LoadUint64(durable)
		if d >= gen {
			return true
		}
		if atomic.LoadUint64(flushing) <= d {
			return false // no flush in progress: lead one
		}
		if attempt == 0 {
			deadline = time.Now().Add(sharedFlushWait)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false // the flush in progress outlasted the wait (its flusher died?): lead one
		}
		atomic.AddUint32(waiters, 1)
		sleepOnFor(seqWord, seq, left, attempt)
		atomic.AddUint32(waiters, ^uint32(0))
	}
}

// beginSharedFlush announces a flush that covers commit word gen.
func (l *Log) beginSharedFlush(gen uint64) { atomicMax(l.metaWord(metaFlushingOff), gen) }

// endSharedFlush records that every event up to commit word gen is durable and wakes the
// handles waiting for it.
func (l *Log) endSharedFlush(gen uint64) {
	atomicMax(l.metaWord(metaDurableOff), gen)
	atomic.AddUint32(l.metaWord32(metaDurableSeqOff), 1)
	if atomic.LoadUint32(l.metaWord32(metaDurableWaitersOff)) != 0 {
		wakeAll(l.metaWord32(metaDurableSeqOff))
	}
}

// resetSharedFlush clears the words after a reboot: the commit words of the recovered
// log may be lower than the ones they hold.
func (l *Log) resetSharedFlush() {
	atomic.StoreUint64(l.metaWord(metaDurableOff), 0)
	atomic.StoreUint64(l.metaWord(metaFlushingOff), 0)
	atomic.StoreUint32(l.metaWord32(metaDurableWaitersOff), 0)
}

// atomicMax raises *p to v if it is lower.
func atomicMax(p *uint64, v uint64) {
	for {
		old := atomic.LoadUint64(p)
		if old >= v || atomic.CompareAndSwapUint64(p, old, v) {
			return
		}
	}
}
