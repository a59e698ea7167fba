package mmaplog

import (
	"runtime/debug"

	"github.com/ringlog/ringlog/ringindex"
)

// AppendWithID appends one event with a caller-allocated id. On a log with live events the
// id must equal NextEventID(); on an empty log it may be any id >= NextEventID(). Otherwise
// the error is an *IDError (errors.Is(err, ErrOutOfOrder)) and nothing is written.
func (l *Log) AppendWithID(id EventID, event []byte) error {
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
	if !w.appendOneGuarded(first, events) {
		if err := w.appendGuarded(first, events); err != nil {
			w.abort()
			return 0, err
		}
	}
	w.commit()
	gen := w.st.gen
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

// appendOneGuarded is the fast path of appendGuarded for the common case: one event that
// fits in the active segment, pinned by the handle, on a log with live events, with no
// index growth running or due. Only the record, its slot and the tail words of w.st
// change. It reports false, having written nothing, when the general path must run; a
// memory fault also reports false (the general path then meets it again and reports it).
func (w *wtx) appendOneGuarded(first EventID, events [][]byte) (ok bool) {
	st, seg := &w.st, w.l.wseg
	if len(events) != 1 || st.live == 0 || st.migGen != 0 || seg == nil || seg.seq != st.activeSeq ||
		first+1-st.oldest > st.indexCap/2 {
		return false
	}
	e := events[0]
	off, size := st.writeOff, recordSize(len(e))
	if size > w.l.opts.segmentSize-off {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			_ = faultError(r) // re-panics anything but a memory fault
			ok = false
		}
	}()
	putRecord(seg.data[off:off+size], first, e)
	w.idx.Store(first, ringindex.MakeSlot(st.activeSeq, off))
	st.next, st.newest, st.live, st.writeOff = first+1, first, st.live+1, off+size
	return true
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
	firstSeq := seq
	for i, e := range events {
		size := recordSize(len(e))
		if off+size > segSize {
			seq, off = seq+1, segHeaderSize
			if err := w.l.ensureSegmentFile(seq); err != nil {
				return err
			}
			if seg, err = w.segment(seq); err != nil {
				return err
			}
		}
		if i == 0 {
			firstSeq = seq
		}
		id := first + uint64(i)
		putRecord(seg.data[off:off+size], id, e)
		w.store(id, ringindex.MakeSlot(seq, off))
		off += size
	}
	wasEmpty := w.st.live == 0
	w.st.next = first + n
	w.st.newest = first + n - 1
	w.st.live += n
	if wasEmpty {
		w.st.oldest = first
		w.st.dead = 0
		if firstSeq > w.st.firstSeq {
			for s := w.st.firstSeq; s < firstSeq; s++ {
				w.unlink = append(w.unlink, s)
			}
			w.st.firstSeq = firstSeq
		}
	}
	w.st.activeSeq, w.st.writeOff = seq, off
	quota := 4 * n
	if quota < 256 {
		quota = 256
	}
	w.copySlots(base, quota)
	return nil
}

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
