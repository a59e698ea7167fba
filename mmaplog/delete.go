package mmaplog

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
		removed = w.deleteSuffix(s)
	case s == st.oldest:
		removed = w.deletePrefix(e)
	default:
		removed = w.countLive(s, e)
		if removed == 0 {
			w.abort()
			return 0, nil
		}
		st.delStart, st.delEnd = s, e
		st.live -= removed
		st.dead += removed
		w.commit()
		if err := w.finishInteriorDelete(); err != nil {
			w.abort()
			return int(removed), err
		}
		w.end()
		return int(removed), nil
	}
	w.commit()
	w.end()
	return int(removed), nil
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

// deletePrefix deletes [oldest, e] with e < newest.
func (w *wtx) deletePrefix(e EventID) uint64 {
	st := &w.st
	removed := w.countLive(st.oldest, e)
	o := e + 1
	for w.idx.Load(o).Tombstoned() { // newest is live, so this stops
		o++
	}
	deadBelow := (o - st.oldest) - removed
	st.dead -= deadBelow
	st.live -= removed
	st.oldest = o
	first := w.slotSeq(w.idx.Load(o))
	for seq := st.firstSeq; seq < first; seq++ {
		w.unlink = append(w.unlink, seq)
	}
	if first > st.firstSeq {
		st.firstSeq = first
	}
	return removed
}

// deleteSuffix deletes [s, newest]; s may be oldest (the whole log).
func (w *wtx) deleteSuffix(s EventID) uint64 {
	st := &w.st
	removed := w.countLive(s, st.newest)
	if st.syncedNext > s {
		st.syncedNext = s // re-appended ids must be flushed by the next Sync
	}
	if s == st.oldest {
		for seq := st.firstSeq; seq < st.activeSeq; seq++ {
			w.unlink = append(w.unlink, seq)
		}
		st.next, st.oldest, st.live, st.dead = s, s, 0, 0
		st.firstSeq = st.activeSeq
		return removed
	}
	n := s - 1
	for w.idx.Load(n).Tombstoned() { // oldest is live, so this stops
		n--
	}
	// Tombstones at or above s leave the span; those between the new newest and s stay.
	st.dead -= (st.next - s) - removed
	st.live -= removed
	st.next, st.newest = s, n
	last := w.slotSeq(w.idx.Load(n))
	for seq := last + 1; seq < st.activeSeq; seq++ {
		w.unlink = append(w.unlink, seq)
	}
	return removed
}

// finishInteriorDelete applies a committed pending delete: it tombstones the slots, clears
// the pending range and unlinks segments left without live events. It is idempotent, so the
// next writer can redo it after a crash.
func (w *wtx) finishInteriorDelete() error {
	st := &w.st
	s, e := st.delStart, st.delEnd
	for id := s; ; id++ {
		w.store(id, w.idx.Load(id).WithTombstone())
		if id == e {
			break
		}
	}
	st.delStart, st.delEnd = 1, 0
	// The live neighbours around the range bound the segments that still hold live events.
	a := s - 1
	for w.idx.Load(a).Tombstoned() {
		a--
	}
	b := e + 1
	for w.idx.Load(b).Tombstoned() {
		b++
	}
	lo, hi := w.slotSeq(w.idx.Load(a)), w.slotSeq(w.idx.Load(b))
	for seq := lo + 1; seq < hi; seq++ {
		w.unlink = append(w.unlink, seq)
	}
	w.commit()
	return nil
}
