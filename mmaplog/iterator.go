package mmaplog

import (
	"errors"
	"iter"
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
func (it *Iterator) Next() bool {
	if it.finished {
		return false
	}
	l := it.l
	if err := l.rlock(); err != nil {
		it.fail(err)
		return false
	}
	defer l.segMu.RUnlock()
	for {
		st := l.loadState()
		if it.next < st.oldest {
			it.next = st.oldest
		}
		limit := it.end
		if st.next < limit {
			limit = st.next
		}
		if st.live == 0 || it.next >= limit {
			it.finishLocked(nil)
			return false
		}
		id := it.next
		it.next++
		if !st.isLive(id) {
			continue
		}
		idx, err := l.indexFor(st.indexGen)
		if err != nil {
			it.finishLocked(err)
			return false
		}
		slot := idx.Load(id)
		if slot.Tombstoned() {
			continue
		}
		if slot.IsZero() {
			if err := l.recheck(id, "index slot is unwritten"); err == ErrNotFound {
				continue
			} else {
				it.finishLocked(err)
				return false
			}
		}
		seq := slot.FullSeq(st.activeSeq)
		if it.seg == nil || it.seg.seq != seq {
			s, err := l.lookupSegment(seq)
			if err != nil {
				if err == ErrClosed {
					it.finishLocked(err)
					return false
				}
				if e := l.recheck(id, err.Error()); e == ErrNotFound {
					continue
				} else {
					it.finishLocked(e)
					return false
				}
			}
			if it.seg != nil {
				it.seg.refs.Add(-1)
			}
			s.refs.Add(1)
			it.seg = s
		}
		p, msg := decodeRecord(it.seg.data, slot.Offset(), id, l.opts.maxEventSize)
		if msg != "" {
			if err := l.recheckAt(id, seq, slot, msg); err == ErrNotFound {
				continue
			} else {
				it.finishLocked(err)
				return false
			}
		}
		it.id, it.val = id, p[:len(p):len(p)]
		return true
	}
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
