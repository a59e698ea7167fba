package mmaplog

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime/debug"
	"sync/atomic"

	"github.com/ringlog/ringlog/ringindex"
)

// Iterator walks the live events of a range in id order. It is not safe for concurrent
// use; open one per goroutine. Close it when done (All does so itself).
//
// Next validates events ahead, in runs of up to runMax events of one pinned segment, under
// one read lock and one fault guard; the following calls return them after checking only
// that the handle is open and the commit word has not moved. When it has moved, the rest
// of the run is checked again against the new state (liveness and index slot, so deleted
// or re-appended ids are never returned from a stale run); the records themselves need no
// second CRC check, as published bytes are never rewritten.
type Iterator struct {
	l        *Log
	next     EventID // next id to consider
	end      EventID // exclusive
	id       EventID
	val      []byte
	seg      *segment // pinned mapping holding val and the run
	err      error
	finished bool
	follow   context.Context // non-nil: block at the tail (Follow)
	v        view            // committed state, reloaded whenever the commit word moves

	run    *[runMax]runEvent // events validated ahead, all in seg (allocated on first use)
	runPos int               // run[runPos:runLen] are not returned yet
	runLen int
	runGen uint64 // the commit word value run[runPos:runLen] was last checked against
}

// runEvent is one event an Iterator validated ahead: its id, the index slot it was found
// through (which gives the record's offset in the pinned segment) and its payload length.
// It holds no pointer, so filling a run costs no write barriers.
type runEvent struct {
	id   EventID
	slot ringindex.Slot
	n    uint64
}

// payload returns the payload of e, validated in seg by fillRun.
func (e *runEvent) payload(seg *segment) []byte {
	off := e.slot.Offset() + recordHeaderSize
	return seg.data[off : off+e.n : off+e.n]
}

// runMax bounds an Iterator's run: the work done ahead of the caller, and the slots
// rechecked when the state moves.
const runMax = 64

// IterRange returns an iterator over the live events in [start, end). end == Latest means
// up to the newest event at the time of the call. start > end is ErrInvalidRange.
// Events deleted after the call are skipped if the iterator has not reached them yet;
// events appended after the call are included when end is not Latest and they fall in the
// range.
func (l *Log) IterRange(start, end EventID) (*Iterator, error) {
	if start > end {
		return nil, ErrInvalidRange
	}
	if err := l.rlock(); err != nil {
		return nil, err
	}
	st := l.loadState()
	l.segMu.RUnlock()
	if end == Latest {
		end = st.next
	}
	return &Iterator{l: l, next: start, end: end}, nil
}

// Next advances to the next live event and reports whether there is one. It returns false
// at the end of the range or on an error (see Err).
func (it *Iterator) Next() bool {
	if it.runPos < it.runLen {
		// Fast path: an event validated ahead, still current if no writer committed since.
		// Only the commit word is read (under the read lock, which keeps the meta mapping).
		l := it.l
		l.segMu.RLock()
		if !l.closed.Load() && atomic.LoadUint64(l.commit) == it.runGen {
			e := &it.run[it.runPos]
			it.runPos++
			it.next = e.id + 1
			it.id, it.val = e.id, e.payload(it.seg)
			l.segMu.RUnlock()
			return true
		}
		l.segMu.RUnlock()
	}
	if it.finished {
		return false
	}
	return it.nextSlow()
}

// nextSlow is Next when the run is used up or the state moved: it takes the read lock and
// the fault guard and advances.
func (it *Iterator) nextSlow() (ok bool) {
	l := it.l
	if err := l.rlock(); err != nil {
		it.fail(err)
		return false
	}
	// One return and three defers, so the compiler open-codes them.
	defer l.segMu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			it.finishLocked(faultError(r)) // faultError re-panics what is not a fault
			ok = false
		}
	}()
	return it.advance()
}

// advance is Next with segMu held for reading.
func (it *Iterator) advance() bool {
	l := it.l
	for {
		// Reload the state only when a writer committed since (one atomic load otherwise).
		if atomic.LoadUint64(l.commit) != it.v.gen || it.v.gen == 0 {
			it.v = l.loadView()
		}
		if it.runPos < it.runLen {
			if it.recheckRun() {
				e := &it.run[it.runPos]
				it.runPos++
				it.next = e.id + 1
				it.id, it.val = e.id, e.payload(it.seg)
				return true
			}
			continue // the state moved under the whole run: read on from it.next
		}
		v := &it.v
		if it.next < v.oldest {
			it.next = v.oldest
		}
		limit := min(it.end, v.next)
		if it.next >= limit || v.live == 0 {
			if it.follow == nil {
				it.finishLocked(nil)
				return false
			}
			if it.next < limit {
				it.next = limit // an empty log: nothing below next is live
			}
			l.segMu.RUnlock()
			err := l.Wait(it.follow, it.next)
			if e := l.rlock(); e != nil {
				l.segMu.RLock() // balance the deferred RUnlock
				it.finishLocked(e)
				return false
			}
			if err != nil {
				it.finishLocked(err)
				return false
			}
			continue
		}
		id := it.next
		p, slot, err := it.read(id)
		if err == ErrClosed {
			it.finishLocked(err)
			return false
		}
		if err != nil {
			// Retry once against a fresh state before giving up (see locate).
			it.v = l.loadView()
			if !it.v.isLive(id) {
				it.next++
				continue
			}
			if p, slot, err = it.read(id); err != nil {
				if err == ErrNotFound {
					it.next++
					continue
				}
				it.finishLocked(err)
				return false
			}
		}
		it.next++
		if p == nil {
			continue // not live: tombstoned or deleted
		}
		it.id, it.val = id, p[:len(p):len(p)]
		it.fillRun(slot, min(it.end, it.v.next))
		return true
	}
}

// fillRun validates, against it.v, the events after it.id that lie in the pinned segment,
// up to runMax of them and below limit, and keeps them in the run. It stops quietly at the
// first event it cannot take (another segment, a record that fails its checks: the slow
// path deals with those when it gets there); ids that are not live are skipped.
func (it *Iterator) fillRun(slot ringindex.Slot, limit EventID) {
	it.runPos, it.runLen, it.runGen = 0, 0, it.v.gen
	l, v, seg := it.l, &it.v, it.seg
	if it.next >= limit || seg == nil {
		return
	}
	idx := l.curIdx.Load()
	if idx == nil || idx.Generation() != v.indexGen {
		return
	}
	if it.run == nil {
		it.run = new([runMax]runEvent)
	}
	run, n := it.run, 0
	seqLow := slot.SeqLow()
	maxEvent := l.opts.maxEventSize
	for id := it.next; id < limit && n < runMax; id++ {
		if !v.isLive(id) {
			continue
		}
		s := idx.Load(id)
		if s.Tombstoned() {
			continue
		}
		if s.IsZero() || s.SeqLow() != seqLow {
			break
		}
		p, msg := decodeRecord(seg.data, s.Offset(), id, maxEvent, seg.seed)
		if msg != "" {
			break
		}
		run[n] = runEvent{id: id, slot: s, n: uint64(len(p))}
		n++
	}
	it.runLen = n
}

// recheckRun checks the rest of the run against it.v after the commit word moved: it drops
// events that are no longer live and cuts the run at the first event whose slot changed
// (a suffix delete and re-append). It reports whether an event is left to return.
func (it *Iterator) recheckRun() bool {
	v := &it.v
	idx, err := it.l.readIndex(v.indexGen)
	if err != nil || v.live == 0 {
		it.runPos, it.runLen = 0, 0
		return false
	}
	kept := it.runPos
	for i := it.runPos; i < it.runLen; i++ {
		e := it.run[i]
		if !v.isLive(e.id) {
			continue
		}
		s := idx.Load(e.id)
		if s.Tombstoned() {
			continue
		}
		if s != e.slot {
			break
		}
		it.run[kept] = e
		kept++
	}
	it.runLen = kept
	it.runGen = v.gen
	if it.runPos == it.runLen {
		it.runPos, it.runLen = 0, 0
		return false
	}
	return true
}

// read validates the record of id against the iterator's state. It returns a nil payload
// and no error when id is not live, and keeps the segment holding the payload pinned.
func (it *Iterator) read(id EventID) ([]byte, ringindex.Slot, error) {
	l, v := it.l, &it.v
	if !v.isLive(id) {
		return nil, 0, nil
	}
	idx, err := l.readIndex(v.indexGen)
	if err != nil {
		return nil, 0, err
	}
	slot := idx.Load(id)
	if slot.Tombstoned() {
		return nil, 0, nil
	}
	if slot.IsZero() {
		return nil, 0, fmt.Errorf("%w: event %d: index slot is unwritten", ErrCorrupt, id)
	}
	seq := slot.FullSeq(v.activeSeq)
	if it.seg == nil || it.seg.seq != seq {
		s, err := l.lookupSegment(seq)
		if err != nil {
			return nil, 0, err
		}
		if it.seg != nil {
			it.seg.refs.Add(-1)
		}
		s.refs.Add(1)
		it.seg = s
	}
	p, msg := decodeRecord(it.seg.data, slot.Offset(), id, l.opts.maxEventSize, it.seg.seed)
	if msg != "" {
		return nil, 0, corruptf(l.segmentPath(seq), int64(slot.Offset()), "event %d: %s", id, msg)
	}
	return p, slot, nil
}

// ID returns the id of the current event.
func (it *Iterator) ID() EventID { return it.id }

// Value returns the current event's bytes, zero-copy from the mapping: valid until the
// next call of Next or Close, and not to be modified.
func (it *Iterator) Value() []byte { return it.val }

// Err returns the error that ended the iteration, or nil.
func (it *Iterator) Err() error { return it.err }

// Close releases the iterator's pin. It is idempotent and returns nil.
func (it *Iterator) Close() error {
	if it.finished {
		return nil
	}
	it.finished = true
	it.val = nil
	it.runPos, it.runLen = 0, 0
	if it.seg != nil {
		if it.l.rlock() == nil {
			it.seg.refs.Add(-1)
			it.l.segMu.RUnlock()
		}
		it.seg = nil
	}
	return nil
}

// finishLocked ends the iteration while the caller holds the read lock.
func (it *Iterator) finishLocked(err error) {
	if err != nil && !errors.Is(err, ErrNotFound) {
		it.err = err
	}
	it.finished = true
	it.val = nil
	it.runPos, it.runLen = 0, 0
	if it.seg != nil {
		it.seg.refs.Add(-1)
		it.seg = nil
	}
}

func (it *Iterator) fail(err error) {
	it.err = err
	it.finished = true
	it.val = nil
	it.runPos, it.runLen = 0, 0
	it.seg = nil
}

// All returns the remaining events as a range-over-func sequence. The iterator is closed
// when the loop ends; check Err afterwards.
func (it *Iterator) All() iter.Seq2[EventID, []byte] {
	return func(yield func(EventID, []byte) bool) {
		defer it.Close()
		for it.Next() {
			if !yield(it.id, it.val) {
				return
			}
		}
	}
}
