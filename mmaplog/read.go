package mmaplog

import (
	"fmt"

	"github.com/ringlog/ringlog/ringindex"
)

// rlock takes the handle's read lock (which keeps mappings alive) and checks Close.
func (l *Log) rlock() error {
	l.segMu.RLock()
	if l.closed.Load() {
		l.segMu.RUnlock()
		return ErrClosed
	}
	return nil
}

// locate finds the record of id: the index slot and the validated payload, aliasing the
// segment mapping. The caller holds segMu for reading. On success seg is the mapping that
// holds the payload.
func (l *Log) locate(id EventID) (payload []byte, seg *segment, err error) {
	st := l.loadState()
	if !st.isLive(id) {
		return nil, nil, ErrNotFound
	}
	idx, err := l.indexFor(st.indexGen)
	if err != nil {
		return nil, nil, err
	}
	slot := idx.Load(id)
	if slot.Tombstoned() {
		return nil, nil, ErrNotFound
	}
	if slot.IsZero() {
		return nil, nil, l.recheck(id, "index slot is unwritten")
	}
	seq := slot.FullSeq(st.activeSeq)
	seg, err = l.lookupSegment(seq)
	if err != nil {
		if err == ErrClosed {
			return nil, nil, err
		}
		if e := l.recheck(id, err.Error()); e != nil {
			return nil, nil, e
		}
		return nil, nil, err
	}
	payload, msg := decodeRecord(seg.data, slot.Offset(), id, l.opts.maxEventSize)
	if msg != "" {
		return nil, nil, l.recheckAt(id, seq, slot, msg)
	}
	return payload, seg, nil
}

// recheck turns a failed read into ErrNotFound when id stopped being live meanwhile (its
// slot was reused or its segment unlinked), and into ErrCorrupt otherwise.
func (l *Log) recheck(id EventID, msg string) error {
	st := l.loadState()
	if !st.isLive(id) {
		return ErrNotFound
	}
	if idx, err := l.indexFor(st.indexGen); err == nil && idx.Load(id).Tombstoned() {
		return ErrNotFound
	}
	return fmt.Errorf("%w: event %d: %s", ErrCorrupt, id, msg)
}

func (l *Log) recheckAt(id EventID, seq uint64, slot ringindex.Slot, msg string) error {
	if err := l.recheck(id, msg); err != ErrNotFound {
		return corruptf(l.segmentPath(seq), int64(slot.Offset()), "event %d: %s", id, msg)
	}
	return ErrNotFound
}

// Get returns a copy of event id in O(1): one computed index slot, one record, validated
// by id and CRC. It returns ErrNotFound when the id is absent or deleted.
func (l *Log) Get(id EventID) ([]byte, error) {
	if err := l.rlock(); err != nil {
		return nil, err
	}
	p, _, err := l.locate(id)
	var out []byte
	if err == nil {
		out = make([]byte, len(p))
		copy(out, p)
	}
	l.segMu.RUnlock()
	return out, err
}

// View calls fn with the bytes of event id, zero-copy from the mapping. The bytes are
// valid only during the call and must not be modified or retained; the mapping is pinned
// until fn returns. fn's error is returned as is.
func (l *Log) View(id EventID, fn func([]byte) error) error {
	if err := l.rlock(); err != nil {
		return err
	}
	p, seg, err := l.locate(id)
	if err != nil {
		l.segMu.RUnlock()
		return err
	}
	seg.refs.Add(1)
	l.segMu.RUnlock()
	defer seg.refs.Add(-1)
	return fn(p[:len(p):len(p)])
}

// NextEventID returns the id the next append must carry.
func (l *Log) NextEventID() (EventID, error) {
	if err := l.rlock(); err != nil {
		return 0, err
	}
	st := l.loadState()
	l.segMu.RUnlock()
	return st.next, nil
}

// OldestEventID returns the smallest live id, or ErrEmpty.
func (l *Log) OldestEventID() (EventID, error) {
	if err := l.rlock(); err != nil {
		return 0, err
	}
	st := l.loadState()
	l.segMu.RUnlock()
	if st.live == 0 {
		return 0, ErrEmpty
	}
	return st.oldest, nil
}

// NewestEventID returns the largest live id, or ErrEmpty.
func (l *Log) NewestEventID() (EventID, error) {
	if err := l.rlock(); err != nil {
		return 0, err
	}
	st := l.loadState()
	l.segMu.RUnlock()
	if st.live == 0 {
		return 0, ErrEmpty
	}
	return st.newest, nil
}
