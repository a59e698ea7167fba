package mmaplog

import (
	"fmt"
	"runtime/debug"

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

// locate finds the record of id and returns its validated payload, aliasing the mapping
// seg. The caller holds segMu for reading.
func (l *Log) locate(id EventID) (payload []byte, seg *segment, err error) {
	var v view
	l.loadViewInto(&v)
	if payload, seg, err = l.locateIn(&v, id); err == nil || err == ErrNotFound || err == ErrClosed {
		return payload, seg, err
	}
	return l.relocate(&v, id, err)
}

// relocate is locate after a first attempt against v failed with err: the state may have
// moved between the state load and the slot load (a delete, a re-append, a rotation), so
// it retries with a fresh one before calling it damage.
func (l *Log) relocate(v *view, id EventID, err error) ([]byte, *segment, error) {
	for attempt := 0; ; attempt++ {
		fresh := l.loadView()
		if !fresh.isLive(id) {
			return nil, nil, ErrNotFound
		}
		if fresh.gen == v.gen || attempt >= 3 {
			return nil, nil, err
		}
		*v = fresh
		payload, seg, err2 := l.locateIn(v, id)
		if err2 == nil || err2 == ErrNotFound || err2 == ErrClosed {
			return payload, seg, err2
		}
		err = err2
	}
}

// locateIn is one attempt of locate against the state v.
func (l *Log) locateIn(v *view, id EventID) ([]byte, *segment, error) {
	if !v.isLive(id) {
		return nil, nil, ErrNotFound
	}
	idx, err := l.readIndex(v.indexGen)
	if err != nil {
		return nil, nil, err
	}
	slot := idx.Load(id)
	if slot.Tombstoned() {
		return nil, nil, ErrNotFound
	}
	if slot.IsZero() {
		return nil, nil, fmt.Errorf("%w: event %d: index slot is unwritten", ErrCorrupt, id)
	}
	seq := slot.FullSeq(v.activeSeq)
	seg := l.cachedSegment(seq)
	if seg == nil {
		if seg, err = l.lookupSegment(seq); err != nil {
			return nil, nil, err
		}
	}
	payload, msg := decodeRecord(seg.data, slot.Offset(), id, l.opts.maxEventSize, seg.seed)
	if msg != "" {
		return nil, nil, corruptf(l.segmentPath(seq), int64(slot.Offset()), "event %d: %s", id, msg)
	}
	return payload, seg, nil
}

// readIndex returns the handle's mapping of index generation gen: the current index,
// checked inline, or indexFor's answer.
func (l *Log) readIndex(gen uint64) (*ringindex.Index, error) {
	if x := l.curIdx.Load(); x != nil && x.Generation() == gen {
		return x, nil
	}
	return l.indexFor(gen)
}

// Get returns a copy of event id in O(1): one computed index slot, one record, validated
// by id and CRC. It returns ErrNotFound when the id is absent or deleted.
func (l *Log) Get(id EventID) (out []byte, err error) {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if l.closed.Load() {
		return nil, ErrClosed
	}
	// One deferred call restores the fault setting and recovers (cheaper than two).
	fault := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(fault)
		if r := recover(); r != nil {
			err = faultError(r)
		}
	}()
	p, _, err := l.locate(id)
	if err != nil {
		return nil, err
	}
	out = make([]byte, len(p))
	copy(out, p)
	return out, nil
}

// View calls fn with the bytes of event id, zero-copy from the mapping. The bytes are
// valid only during the call and must not be modified or retained; the mapping is pinned
// until fn returns (against deletes, by any handle; not against Close of this handle).
// fn's error is returned as is.
func (l *Log) View(id EventID, fn func([]byte) error) (err error) {
	if err := l.rlock(); err != nil {
		return err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err)
	p, seg, err := l.locatePinned(id)
	if err != nil {
		return err
	}
	defer seg.refs.Add(-1)
	return fn(p[:len(p):len(p)])
}

// locatePinned is locate for a caller holding segMu for reading; it releases it (also
// when a fault panics through) and returns the segment pinned on success.
func (l *Log) locatePinned(id EventID) ([]byte, *segment, error) {
	defer l.segMu.RUnlock()
	p, seg, err := l.locate(id)
	if err == nil {
		seg.refs.Add(1)
	}
	return p, seg, err
}

// recoverFault, deferred after debug.SetPanicOnFault(true), turns a memory fault in a
// mapping (SIGBUS: another process truncated a mapped file) into an ErrCorrupt error
// instead of a crash. Other panics go on.
func recoverFault(err *error) {
	if r := recover(); r != nil {
		*err = faultError(r)
	}
}

// faultError converts a recovered memory fault into an error; it re-panics anything else.
func faultError(r any) error {
	if f, ok := r.(interface{ Addr() uintptr }); ok {
		return fmt.Errorf("%w: fault reading a mapped file at %#x (truncated by another process?)", ErrCorrupt, f.Addr())
	}
	panic(r)
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
