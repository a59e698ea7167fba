package mmaplog

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime/debug"
	"sync/atomic"
)

// Iterator walks the live events of a range in id order. It is not safe for concurrent
// use; open one per goroutine. Close it when done (All does so itself).
type Iterator struct {
	l        *Log
	next     EventID // next id to consider
	end      EventID // exclusive
	id       EventID
	val      []byte
	seg      *segment // pinned mapping holding val
	err      error
	finished bool
	follow   context.Context // non-nil: block at the tail (Follow)
	v        view            // committed state, reloaded whenever the commit word moves
}

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
func (it *Iterator) Next() (ok bool) {
	if it.finished {
		return false
	}
	l := it.l
	if err := l.rlock(); err != nil {
		it.fail(err)
		return false
	}
	// One return and three defers, so the compiler open-codes them (cheap per event).
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
		p, seq, err := it.read(id)
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
			if p, seq, err = it.read(id); err != nil {
				if err == ErrNotFound {
					it.next++
					continue
				}
				it.finishLocked(err)
				return false
			}
		}
		_ = seq
		it.next++
		if p == nil {
			continue // not live: tombstoned or deleted
		}
		it.id, it.val = id, p[:len(p):len(p)]
		return true
	}
}

// read validates the record of id against the iterator's state. It returns a nil payload
// and no error when id is not live, and keeps the segment holding the payload pinned.
func (it *Iterator) read(id EventID) ([]byte, uint64, error) {
	l, v := it.l, &it.v
	if !v.isLive(id) {
		return nil, 0, nil
	}
	idx, err := l.indexFor(v.indexGen)
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
	p, msg := decodeRecord(it.seg.data, slot.Offset(), id, l.opts.maxEventSize)
	if msg != "" {
		return nil, 0, corruptf(l.segmentPath(seq), int64(slot.Offset()), "event %d: %s", id, msg)
	}
	return p, seq, nil
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
	if it.seg != nil {
		it.seg.refs.Add(-1)
		it.seg = nil
	}
}

func (it *Iterator) fail(err error) {
	it.err = err
	it.finished = true
	it.val = nil
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
