package mmaplog

import "github.com/ringlog/ringlog/ringindex"

// DeleteRange deletes the events in [start, end] (inclusive), clipped to the live range,
// and returns how many live events it removed. A range that clips to nothing returns
// (0, nil). A range reaching the oldest event advances the oldest id and unlinks the
// segments left without live events; a range reaching the newest event truncates the back
// and sets NextEventID to the clipped start, so those ids can be appended again; any other
// range tombstones its ids. start > end is ErrInvalidRange.
func (l *Log) DeleteRange(start, end EventID) (int, error) {
	if start > end {
		return 0, ErrInvalidRange
	}
	w, err := l.begin()
	if err != nil {
		return 0, err
	}
	st := &w.st
	if st.live == 0 || end < st.oldest || start > st.newest {
		w.abort()
		return 0, nil
	}
	s, e := max(start, st.oldest), min(end, st.newest)
	var removed uint64
	switch {
	case e == st.newest:
		// The recovery point moves to s and the recovery position past the removed
		// records, durably, before any id >= s can be appended again: so the records below
		// s and their slots are flushed first (docs/FORMAT.md section 5.3).
		if err := w.flushLocked(); err != nil {
			w.abort()
			return 0, err
		}
		oldNext := st.next
		if removed, err = w.deleteSuffix(s); err != nil {
			break
		}
		w.commit()
		err := w.l.syncMeta()
		if err == nil {
			w.l.noteCheckpoint(st)
		}
		w.clearSlots(s, oldNext)
		w.end()
		return int(removed), err
	case s == st.oldest:
		removed, err = w.deletePrefix(e)
	default:
		removed = w.countLive(s, e)
		if removed == 0 {
			w.abort()
			return 0, nil
		}
		if removed > st.live || st.dead+removed > st.next-st.oldest {
			w.abort()
			return 0, w.corruptIndex(s, "interior delete of [%d, %d] counts %d live ids, state has %d", s, e, removed, st.live)
		}
		st.delStart, st.delEnd = s, e
		st.live -= removed
		st.dead += removed
		w.commit()
		w.finishInteriorDelete()
		w.end()
		return int(removed), nil
	}
	if err != nil {
		w.abort()
		return 0, err
	}
	w.commit()
	w.end()
	return int(removed), nil
}

// clearSlots runs after a committed suffix delete from s: it zeroes the slots of
// [s, oldNext), which still point to the removed records, so that no reader or Check
// meets a slot of an id past NextEventID that names an old record. Recovery never trusts
// a slot at or past the recovery point (s, once the delete is committed), so the zeroed
// slots need no flush of their own.
func (w *wtx) clearSlots(s, oldNext EventID) {
	if oldNext <= s {
		return
	}
	if oldNext-s > w.idx.Capacity() {
		oldNext = s + w.idx.Capacity()
	}
	for id := s; id < oldNext; id++ {
		w.store(id, 0)
	}
}

// corruptIndex reports index slots that contradict the committed state.
func (w *wtx) corruptIndex(id EventID, format string, args ...any) error {
	return corruptf(w.idx.Path(), int64(ringindexSlotOffset(w.idx.Capacity(), id)), format, args...)
}

// ringindexSlotOffset is the file offset of id's slot in an index of capacity cap.
func ringindexSlotOffset(cap uint64, id EventID) uint64 {
	return ringindex.HeaderSize + ringindex.SlotSize*(id&(cap-1))
}

// countLive counts the ids in [s, e] whose slots are not tombstoned.
func (w *wtx) countLive(s, e EventID) uint64 {
	if w.st.dead == 0 {
		return e - s + 1
	}
	var n uint64
	for id := s; ; id++ {
		if !w.idx.Load(id).Tombstoned() {
			n++
		}
		if id == e {
			return n
		}
	}
}

// nextLive returns the smallest id in [id, hi] whose slot is not tombstoned.
func (w *wtx) nextLive(id, hi EventID) (EventID, bool) {
	for ; id <= hi; id++ {
		if !w.idx.Load(id).Tombstoned() {
			return id, true
		}
	}
	return 0, false
}

// prevLive returns the largest id in [lo, id] whose slot is not tombstoned.
func (w *wtx) prevLive(id, lo EventID) (EventID, bool) {
	for ; id >= lo; id-- {
		if !w.idx.Load(id).Tombstoned() {
			return id, true
		}
		if id == 0 {
			break
		}
	}
	return 0, false
}

// deletePrefix deletes [oldest, e] with e < newest.
func (w *wtx) deletePrefix(e EventID) (uint64, error) {
	st := &w.st
	removed := w.countLive(st.oldest, e)
	o, ok := w.nextLive(e+1, st.newest)
	if !ok {
		return 0, w.corruptIndex(st.newest, "newest event %d is tombstoned", st.newest)
	}
	deadBelow := (o - st.oldest) - removed
	if deadBelow > st.dead || removed > st.live {
		return 0, w.corruptIndex(st.oldest, "prefix delete to %d: tombstones disagree with the state", e)
	}
	st.dead -= deadBelow
	st.live -= removed
	st.oldest = o
	first := w.slotSeq(w.idx.Load(o))
	if first > st.activeSeq {
		return 0, w.corruptIndex(o, "slot of event %d names segment %d after the active %d", o, first, st.activeSeq)
	}
	for seq := st.firstSeq; seq < first; seq++ {
		w.unlink = append(w.unlink, seq)
	}
	if first > st.firstSeq {
		st.firstSeq = first
	}
	return removed, nil
}

// deleteSuffix deletes [s, newest]; s may be oldest (the whole log).
func (w *wtx) deleteSuffix(s EventID) (uint64, error) {
	st := &w.st
	removed := w.countLive(s, st.newest)
	if s == st.oldest {
		for seq := st.firstSeq; seq < st.activeSeq; seq++ {
			w.unlink = append(w.unlink, seq)
		}
		st.next, st.oldest, st.live, st.dead = s, s, 0, 0
		st.firstSeq = st.activeSeq
		w.movePointAfterDelete(s)
		return removed, nil
	}
	n, ok := w.prevLive(s-1, st.oldest)
	if !ok {
		return 0, w.corruptIndex(st.oldest, "oldest event %d is tombstoned", st.oldest)
	}
	// Tombstones at or above s leave the span; those between the new newest and s stay.
	gone := (st.next - s) - removed
	if gone > st.dead || removed > st.live {
		return 0, w.corruptIndex(s, "suffix delete from %d: tombstones disagree with the state", s)
	}
	last := w.slotSeq(w.idx.Load(n))
	if last > st.activeSeq {
		return 0, w.corruptIndex(n, "slot of event %d names segment %d after the active %d", n, last, st.activeSeq)
	}
	st.dead -= gone
	st.live -= removed
	st.next, st.newest = s, n
	w.movePointAfterDelete(s)
	for seq := last + 1; seq < st.activeSeq; seq++ {
		w.unlink = append(w.unlink, seq)
	}
	return removed, nil
}

// movePointAfterDelete sets the recovery point of a suffix delete from s, which flushLocked
// made durable up to the old next: every id below s is durable, and the record of s, when
// it is appended again, goes to the write position, after every removed record.
func (w *wtx) movePointAfterDelete(s EventID) {
	st := &w.st
	st.syncedNext = s
	st.syncedPos = ringindex.MakeSlot(st.activeSeq, st.writeOff)
	st.dirtyLow = s
	st.truncs++
}

// finishInteriorDelete applies a committed pending delete: it tombstones the slots, clears
// the pending range, commits, and unlinks segments left without live events. It is
// idempotent, so the next writer can redo it after a crash. (state.validate guarantees
// oldest < delStart <= delEnd < newest.)
func (w *wtx) finishInteriorDelete() {
	st := &w.st
	s, e := st.delStart, st.delEnd
	for id := s; ; id++ {
		w.store(id, w.idx.Load(id).WithTombstone())
		if id == e {
			break
		}
	}
	st.delStart, st.delEnd = 1, 0
	// Tombstones below the recovery point must reach the disk with the next Sync.
	if s < st.syncedNext && (st.dirtyLow >= st.syncedNext || s < st.dirtyLow) {
		st.dirtyLow = s
	}
	// The live neighbours around the range bound the segments that still hold live
	// events; if the index disagrees (damage), unlink nothing.
	a, okA := w.prevLive(s-1, st.oldest)
	b, okB := w.nextLive(e+1, st.newest)
	if okA && okB {
		lo, hi := w.slotSeq(w.idx.Load(a)), w.slotSeq(w.idx.Load(b))
		for seq := lo + 1; seq < hi && hi <= st.activeSeq; seq++ {
			w.unlink = append(w.unlink, seq)
		}
	}
	w.commit()
}
