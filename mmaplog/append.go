package mmaplog

import (
	"errors"
	"runtime/debug"
	"sync/atomic"

	"github.com/ringlog/ringlog/ringindex"
)

// AppendWithID appends one event with a caller-allocated id. On a log with live events the
// id must equal NextEventID(); on an empty log it may be any id >= NextEventID(). Otherwise
// the error is an *IDError (errors.Is(err, ErrOutOfOrder)) and nothing is written.
func (l *Log) AppendWithID(id EventID, event []byte) error {
	if l.hold.kick != nil && l.opts.sync != SyncAlways {
		if _, ok := l.appendHeld(id, true, event); ok {
			return nil
		}
	}
	one := [1][]byte{event}
	_, err := l.appendBatch(id, true, one[:])
	return err
}

// AppendBatchWithIDs appends events with ids first, first+1, ... atomically: after any
// crash, all or none of the batch is visible, and readers see it all at once. The id rule
// of AppendWithID applies to first.
func (l *Log) AppendBatchWithIDs(first EventID, events [][]byte) error {
	_, err := l.appendBatch(first, true, events)
	return err
}

// Append appends one event with the id NextEventID() has under the write lock, and returns
// it. Use it when several writers share a log and none allocates ids.
func (l *Log) Append(event []byte) (EventID, error) {
	if l.hold.kick != nil && l.opts.sync != SyncAlways {
		if id, ok := l.appendHeld(0, false, event); ok {
			return id, nil
		}
	}
	one := [1][]byte{event}
	return l.appendBatch(0, false, one[:])
}

// AppendBatch appends events atomically with ids allocated under the write lock and
// returns the first id.
func (l *Log) AppendBatch(events [][]byte) (EventID, error) {
	return l.appendBatch(0, false, events)
}

// checkBatch rejects a batch before anything is locked or written.
func (l *Log) checkBatch(events [][]byte) error {
	if len(events) == 0 {
		return ErrEmptyBatch
	}
	var sum uint64
	for i, e := range events {
		if uint64(len(e)) > l.opts.maxEventSize {
			return &sizeError{what: "event", index: i, size: uint64(len(e)), limit: l.opts.maxEventSize}
		}
		sum += uint64(len(e))
	}
	if sum > l.opts.maxBatchBytes {
		return &sizeError{what: "batch", index: -1, size: sum, limit: l.opts.maxBatchBytes}
	}
	return nil
}

func (l *Log) appendBatch(first EventID, withID bool, events [][]byte) (EventID, error) {
	if l.closed.Load() {
		return 0, ErrClosed
	}
	if err := l.checkBatch(events); err != nil {
		return 0, err
	}
	w, err := l.begin()
	if err != nil {
		return 0, err
	}
	if !withID {
		first = w.st.next
	} else if err := w.checkID(first); err != nil {
		w.abort()
		return 0, err
	}
	n := uint64(len(events))
	if first+n < first || first+n == Latest {
		w.abort()
		return 0, &IDError{Expected: w.st.next, Got: first, Empty: w.st.live == 0}
	}
	turnover := false
	if w.appendOneGuarded(first, events) {
		w.l.publishTail(&w.st)
		w.l.wbufOK = true
	} else {
		seq := w.st.activeSeq
		if err := w.appendGuarded(first, events); err != nil {
			w.abort()
			return 0, err
		}
		w.commit()
		turnover = w.st.activeSeq != seq
	}
	gen := w.st.gen // the append's: a retention commit may follow
	if turnover {
		w.enforceRetention() // docs/FORMAT.md section 5.7
	}
	w.l.notifyTail()
	w.afterAppend()
	w.end()
	if l.opts.sync == SyncAlways {
		// The events are appended (visible) either way; an error here means their
		// durability is unknown.
		if err := l.syncThrough(gen); err != nil {
			return first, err
		}
	}
	return first, nil
}

// appendGuarded runs appendRecords with memory faults in mappings (a segment or index
// truncated by another process) turned into errors; nothing is committed then.
func (w *wtx) appendGuarded(first EventID, events [][]byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err)
	return w.appendRecords(first, events)
}

// appendOneGuarded is the fast path of appendGuarded for the common case (fastFits): one
// event that fits in the pinned active segment. Only the record, its slot and the tail
// words of w.st change, so the caller publishes it with publishTail (docs/FORMAT.md
// section 2). It reports false, having written nothing, when the general path must run;
// a memory fault also reports false (the general path then meets it again and reports it).
func (w *wtx) appendOneGuarded(first EventID, events [][]byte) bool {
	if len(events) != 1 {
		return false
	}
	size := recordSize(len(events[0]))
	return w.fastFits(first, size) && w.putOne(first, events[0], size)
}

// fastFits reports whether event first, of record size size, can take the fast path:
// first is below fastUntil and the record fits in the rest of the active segment.
func (w *wtx) fastFits(first EventID, size uint64) bool {
	return first < w.fastUntil() && size <= w.l.opts.segmentSize-w.st.writeOff
}

// fastUntil returns the id below which single events may take the fast path on the state
// w.st: on a log with live events whose active segment the handle pins, with no pending
// delete, until the commit word's tail count is full and until an index growth is due (or,
// while a growth runs, as long as its copy waits for the prefault: copyDeferred). It
// returns 0 when the fast path is closed. Single appends do not move the bound: they add 1
// to the tail count and to next together.
func (w *wtx) fastUntil() EventID {
	st, seg := &w.st, w.l.wseg
	if st.live == 0 || seg == nil || seg.seq != st.activeSeq || st.pendingDelete() || w.idx == nil {
		return 0
	}
	until := satAdd(st.next-st.tail(), tailMask)
	if st.migGen == 0 {
		return min(until, satAdd(st.oldest, st.indexCap/2)) // a growth is due from there
	}
	if w.mig == nil || !w.copyDeferred(st.next+1) {
		return 0
	}
	return min(until, satAdd(st.oldest, st.indexCap/4*3)) // where copyDeferred ends
}

// satAdd returns a+b, or the largest id if that overflows.
func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return Latest - 1
	}
	return a + b
}

// putOne writes the record of event first at the write offset of the pinned active
// segment and its slot (in both indexes during a growth), and advances the tail words of
// w.st. A memory fault (a file truncated by another process) reports false, and w.st is
// unchanged.
func (w *wtx) putOne(first EventID, e []byte, size uint64) (ok bool) {
	st := &w.st
	off := st.writeOff
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			_ = faultError(r) // re-panics anything but a memory fault
			ok = false
		}
	}()
	putRecord(w.l.wseg.data[off:off+size], w.l.wseg.seed, first, e, false)
	w.store(first, ringindex.MakeSlot(st.activeSeq, off))
	st.next, st.newest, st.live, st.writeOff = first+1, first, st.live+1, off+size
	return true
}

// appendHeld is the fast path of Append and AppendWithID on a handle that retains the
// writer lock (HoldLock) and committed last: no system call, no state copy, three locked
// instructions (the mutex, the commit word). It reports false, having done nothing, when
// the general path must run (including every error case, which that path reports). The
// bound of fastUntil is computed once per committed state (l.fastUntil).
func (l *Log) appendHeld(first EventID, withID bool, e []byte) (EventID, bool) {
	if uint64(len(e)) > l.opts.maxEventSize || !l.lock.LockRetained() {
		return 0, false
	}
	w := &l.wbuf
	st := &w.st
	if !withID {
		first = st.next
	}
	size := recordSize(len(e))
	// wbufOK and an unmoved commit word: w.st and w.idx are the committed state.
	if !l.wbufOK || atomic.LoadUint64(l.commit) != st.gen || first != st.next || l.closed.Load() {
		_ = l.lock.UnlockRetain()
		return 0, false
	}
	if l.fastUntil == 0 {
		l.fastUntil = w.fastUntil() // w.l is l since the begin that made wbufOK true
	}
	if first >= l.fastUntil || size > l.opts.segmentSize-st.writeOff ||
		(st.migGen != 0 && l.growPrefault.Load() != st.migGen) {
		_ = l.lock.UnlockRetain()
		return 0, false
	}
	if !w.putOne(first, e, size) {
		_ = l.lock.UnlockRetain()
		return 0, false
	}
	l.publishTail(st)
	l.notifyTail()
	if l.preparedSeq.Load() <= st.activeSeq+1 && !l.prepBusy.Load() {
		w.afterAppend()
	}
	l.unlock()
	return first, true
}

// checkID applies the id rule.
func (w *wtx) checkID(id EventID) error {
	if w.st.live == 0 {
		if id < w.st.next {
			return &IDError{Expected: w.st.next, Got: id, Empty: true}
		}
		return nil
	}
	if id != w.st.next {
		return &IDError{Expected: w.st.next, Got: id}
	}
	return nil
}

// appendRecords writes the records and slots of a batch and updates w.st; nothing is
// published until the caller commits.
func (w *wtx) appendRecords(first EventID, events [][]byte) error {
	n := uint64(len(events))
	base := w.base(first)
	if err := w.ensureCapacity(base, first+n); err != nil {
		return err
	}
	segSize := w.l.opts.segmentSize
	seq, off := w.st.activeSeq, w.st.writeOff
	seg, err := w.segment(seq)
	if err != nil {
		return err
	}
	firstSeq, firstOff := seq, off
	for i, e := range events {
		size := recordSize(len(e))
		if off+size > segSize {
			sealSegment(seg.data) // the writer leaves seq (retention's MaxAge)
			seq, off = seq+1, segHeaderSize
			if err := w.l.ensureSegmentFile(seq); err != nil {
				return err
			}
			if seg, err = w.segment(seq); err != nil {
				return err
			}
			if err := w.clearAbandoned(seq, off); err != nil {
				return err
			}
		}
		if i == 0 {
			firstSeq, firstOff = seq, off
		}
		id := first + uint64(i)
		putRecord(seg.data[off:off+size], seg.seed, id, e, i < len(events)-1)
		w.store(id, ringindex.MakeSlot(seq, off))
		off += size
		if appendAbortHook != nil && appendAbortHook(i+1) {
			return errAppendAborted
		}
	}
	wasEmpty := w.st.live == 0
	w.st.next = first + n
	w.st.newest = first + n - 1
	w.st.live += n
	if wasEmpty {
		w.st.oldest = first
		w.st.dead = 0
		// Nothing below first is live: the recovery point moves to the first record, so
		// that a scan after a reboot expects first (which may be above the old next) where
		// it was written (docs/FORMAT.md section 6).
		w.st.syncedNext, w.st.syncedPos, w.st.dirtyLow = first, ringindex.MakeSlot(firstSeq, firstOff), first
		if firstSeq > w.st.firstSeq {
			for s := w.st.firstSeq; s < firstSeq; s++ {
				w.unlink = append(w.unlink, s)
			}
			w.st.firstSeq = firstSeq
		}
	}
	w.st.activeSeq, w.st.writeOff = seq, off
	if !w.copyDeferred(first + n) {
		w.copySlots(base, max(4*n, 256))
	}
	return nil
}

// appendAbortHook, when set (tests only), is called after each record a batch writes with
// the number written so far; true makes the append fail there, uncommitted, as if its
// writer had been killed.
var appendAbortHook func(written int) bool

// errAppendAborted is the error of an append that appendAbortHook stopped.
var errAppendAborted = errors.New("mmaplog: append aborted by a test hook")

// afterAppend keeps preparation one segment ahead of the writer: it prefaults the active
// segment if this handle has not yet, then prepares the next one at once (a 64 MiB
// segment takes ~100 ms to prefault here, about what a fast writer needs to fill half of
// one, so waiting for the half-way mark loses the race).
func (w *wtx) afterAppend() {
	switch p := w.l.preparedSeq.Load(); {
	case p <= w.st.activeSeq:
		w.l.prepareAhead(w.st.activeSeq)
	case p <= w.st.activeSeq+1:
		w.l.prepareAhead(w.st.activeSeq + 1)
	}
}
