package mmaplog

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"runtime/debug"
	"slices"
	"sync/atomic"

	"github.com/ringlog/ringlog/ringindex"
)

// wtx is one locked write operation: the state being built, the indexes it writes and the
// segments it pinned. Open one with l.begin, finish it with end.
type wtx struct {
	l      *Log
	st     state
	idx    *ringindex.Index
	mig    *ringindex.Index // growth target, nil when no growth runs
	pinned []uint64
	cur    *segment // segment being appended to (pinned)
	unlink []uint64 // segment files to delete after the commit
	retire []uint64 // index generations to delete after the commit
}

// begin takes the writer lock, loads the committed state and finishes a delete that a
// crashed writer left pending.
func (l *Log) begin() (*wtx, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if l.opts.readOnly {
		return nil, ErrReadOnly
	}
	if err := l.lock.LockNotify(l.onLockWait); err != nil {
		if l.closed.Load() {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("mmaplog: lock: %w", err)
	}
	if l.closed.Load() {
		_ = l.lock.Unlock()
		return nil, ErrClosed
	}
	// The writer mutex is held: the handle's transaction buffer is ours.
	w := &l.wbuf
	w.l, w.cur = l, nil
	w.pinned, w.unlink, w.retire = w.pinned[:0], w.unlink[:0], w.retire[:0]
	// The state this handle committed last (still in w.st) is current unless another
	// writer committed since: only lock holders move the commit word. Its index mappings
	// (w.idx, and w.mig during a growth) are then current too.
	if g := atomic.LoadUint64(l.commit); !l.wbufOK || w.st.gen != g || w.idx == nil || (w.st.migGen != 0 && w.mig == nil) {
		reloaded := !l.wbufOK || w.st.gen != g
		if reloaded {
			w.st = l.loadState()
		}
		if err := w.openIndexes(); err != nil {
			l.wbufOK = false
			w.idx, w.mig = nil, nil
			w.abort()
			return nil, err
		}
		if reloaded {
			l.resolveWriteOff(&w.st)
			// Not in the repair of Open: after a reboot, the bytes after the committed end
			// may be durable records that the scan recovers.
			if !l.repairing {
				if err := w.clearAbandoned(w.st.activeSeq, w.st.writeOff); err != nil {
					l.wbufOK = false
					w.abort()
					return nil, err
				}
			}
		}
	}
	l.wbufOK = false // w.st changes from here on; commit sets it again
	l.fastUntil = 0
	if w.st.pendingDelete() {
		w.finishInteriorDelete()
	}
	return w, nil
}

func (w *wtx) openIndexes() error {
	var err error
	if w.idx, err = w.l.indexFor(w.st.indexGen); err != nil {
		return err
	}
	w.mig = nil
	if w.st.migGen != 0 {
		if w.mig, err = w.l.mapIndex(w.st.migGen, false); err != nil {
			return err
		}
	}
	return nil
}

// resolveWriteOff sets st.writeOff, loaded from the state copy, when fast appends published
// events after the copy (st.tail() > 0): they all lie in the active segment, so the write
// offset is the end of the record of st.newest. If that record cannot be read (a corrupt
// or lost tail, which Open's repair cuts after a reboot), the rest of the active segment is given
// up: the next append goes to a new segment, so nothing published is ever overwritten.
// The caller does not hold segMu.
func (l *Log) resolveWriteOff(st *state) {
	if st.tail() == 0 {
		return
	}
	if l.rlock() != nil {
		st.writeOff = l.opts.segmentSize
		return
	}
	defer l.segMu.RUnlock()
	l.resolveWriteOffLocked(st)
}

// resolveWriteOffLocked is resolveWriteOff for a caller that holds segMu for reading.
func (l *Log) resolveWriteOffLocked(st *state) {
	if st.tail() == 0 {
		return
	}
	end := l.opts.segmentSize // tailEnd checks the record of newest against the copy's writeOff
	if idx, err := l.indexFor(st.indexGen); err == nil {
		end = l.tailEnd(st, idx)
	}
	st.writeOff = end
}

// tailEnd returns the end of the record of st.newest, or the segment size if that is not a
// valid record of the active segment at or after the copy's write offset. The caller holds
// segMu for reading.
func (l *Log) tailEnd(st *state, idx *ringindex.Index) (end uint64) {
	end = l.opts.segmentSize
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			_ = faultError(r) // re-panics anything but a memory fault
			end = l.opts.segmentSize
		}
	}()
	slot := idx.Load(st.newest)
	if slot.IsZero() || slot.Tombstoned() || slot.FullSeq(st.activeSeq) != st.activeSeq || slot.Offset() < st.writeOff {
		return end
	}
	seg, err := l.lookupSegment(st.activeSeq)
	if err != nil {
		return end
	}
	if p, msg := decodeRecord(seg.data, slot.Offset(), st.newest, l.opts.maxEventSize, seg.seed); msg == "" {
		end = slot.Offset() + recordSize(len(p))
	}
	return end
}

// clearAbandoned zeroes, durably, the records that an append which never committed (its
// writer was killed, or it failed) left at or after offset off of segment seq, the
// committed end, before anything is written there: otherwise, after a power loss, a scan
// that ran through the new records could go on into old ones of the next ids, left where
// they line up, and recover events nobody committed (docs/FORMAT.md section 5.1). Past the
// committed end no record validates under the segment's seed unless such an append ran
// (the space is zero, or an earlier incarnation's bytes of a recycled file), so the check
// is one header load: an abandoned append's first record carries an id in
// [next, next + segmentSize/16). A missing segment holds nothing.
func (w *wtx) clearAbandoned(seq, off uint64) error {
	seg, err := w.segment(seq)
	if err != nil || off+recordHeaderSize > uint64(len(seg.data)) {
		return nil
	}
	data := seg.data
	lo, hi := w.st.next, w.st.next+uint64(len(data))/recordHeaderSize
	end := off
	for end+recordHeaderSize <= uint64(len(data)) {
		id := binary.LittleEndian.Uint64(data[end+8:])
		if id < lo || id >= hi || (end > off && id != lo) { // then ids in sequence
			break
		}
		p, msg := decodeRecord(data, end, id, w.l.opts.maxEventSize, seg.seed)
		if msg != "" {
			break
		}
		size := recordSize(len(p))
		clear(data[end : end+size])
		end += size
		lo = id + 1
	}
	if end == off {
		return nil
	}
	if err := msync(data[off&^4095 : end]); err != nil {
		return fmt.Errorf("mmaplog: clear an abandoned append in segment %d: %w", seq, err)
	}
	noteSegmentMsync(seq, off&^4095, end-off&^4095)
	return nil
}

// commit publishes the state built so far.
func (w *wtx) commit() {
	w.l.commitState(&w.st)
	w.l.wbufOK = true
	w.l.fastUntil = 0
}

// end releases pins and the lock, then deletes the files the committed state no longer
// references.
func (w *wtx) end() {
	if len(w.pinned)|len(w.unlink)|len(w.retire) == 0 && w.l.wseg != nil && w.l.wseg.seq == w.st.activeSeq {
		w.l.unlock() // an append inside the active segment: nothing else to do
		return
	}
	w.keepActive()
	w.checkpointBeforeUnlink()
	for _, seq := range w.pinned {
		w.l.releaseSegment(seq)
	}
	w.pinned = w.pinned[:0]
	if len(w.unlink) > 0 {
		bound := w.l.poolBound()
		for _, seq := range w.unlink {
			w.l.retireSegmentFile(seq, bound)
		}
	}
	if len(w.retire) > 0 {
		w.l.retireIndexes(slices.Clone(w.retire))
	}
	// Still under the writer lock: w's buffers belong to the next write call after it.
	if len(w.unlink) > 0 {
		w.l.dropSegments(w.st.firstSeq, w.unlink)
	}
	w.l.unlock()
}

// checkpointBeforeUnlink moves the recovery point, durably, before the commit just made
// unlinks the segment holding the recovery position (a prefix or interior delete, an
// append into an empty log in a later segment): a scan after a reboot starts there
// (docs/FORMAT.md section 6). If that fails, the files stay; a later Open deletes them.
func (w *wtx) checkpointBeforeUnlink() {
	if len(w.unlink) == 0 {
		return
	}
	posSeq := w.st.syncedPos.FullSeq(w.st.activeSeq)
	crosses := false
	for _, seq := range w.unlink {
		// Segments after the active one hold no record a scan could need: only the
		// repair after a reboot removes them.
		crosses = crosses || (seq >= posSeq && seq <= w.st.activeSeq)
	}
	if !crosses {
		return
	}
	if w.moveRecoveryPastPrefix() {
		// Nothing to flush: every event the old recovery point needed is deleted.
		w.commit()
		if err := w.l.syncMeta(); err != nil {
			w.unlink = w.unlink[:0]
			return
		}
		w.l.noteCheckpoint(&w.st)
		return
	}
	if err := w.flushLocked(); err != nil {
		w.unlink = w.unlink[:0]
		return
	}
	w.commit()
	if err := w.l.syncMeta(); err != nil {
		w.unlink = w.unlink[:0]
		return
	}
	w.l.noteCheckpoint(&w.st)
}

// moveRecoveryPastPrefix moves the recovery point of w's state to the first event a
// prefix delete kept, without flushing a record, when that is all the unlink needs
// (docs/FORMAT.md section 5.2): every segment w unlinks lies below the new first segment,
// so the events below the new recovery point are deleted and nothing below it is trusted
// that was not durable before. It reports false, changing nothing, when a full checkpoint
// is needed instead (an interior delete; the recovery point already past the kept events'
// start with tombstones not yet flushed below it; no slot to start from).
func (w *wtx) moveRecoveryPastPrefix() bool {
	st := &w.st
	for _, seq := range w.unlink {
		if seq >= st.firstSeq {
			return false
		}
	}
	next := max(st.syncedNext, st.oldest)
	if next >= st.next || (next == st.syncedNext && st.dirtyLow < st.syncedNext) {
		return false
	}
	slot := w.idx.Load(next)
	if slot.IsZero() || slot.Tombstoned() {
		return false
	}
	st.syncedNext, st.syncedPos, st.dirtyLow = next, slot, max(st.dirtyLow, next)
	return true
}

// retireIndexes deletes the files of index generations that the committed state no
// longer names, in the background: a file may go only once the state that stops naming it
// is on disk (the meta page could otherwise reach the disk after the unlink), and that
// msync takes milliseconds, which the append that finished a growth should not wait for.
// No state names these generations again (generations only grow), so the unlink needs no
// lock. Close waits for it.
func (l *Log) retireIndexes(gens []uint64) {
	l.prepWG.Add(1)
	go func() {
		defer l.prepWG.Done()
		if l.syncMeta() == nil {
			for _, gen := range gens {
				_ = removeIfExists(join(l.dir, ringindex.FileName(gen)))
			}
		}
	}()
}

// abort drops the lock without committing anything.
func (w *wtx) abort() {
	w.unlink, w.retire = nil, nil
	for _, seq := range w.pinned {
		w.l.releaseSegment(seq)
	}
	w.pinned = w.pinned[:0]
	w.l.unlock()
}

// keepActive keeps the active segment's mapping pinned between write calls, so that an
// append finds it without a lookup. The pin moves when the active segment changes.
func (w *wtx) keepActive() {
	l := w.l
	if l.wseg != nil && l.wseg.seq == w.st.activeSeq {
		return
	}
	s, err := l.acquireSegment(w.st.activeSeq)
	if err != nil {
		return
	}
	if l.wseg != nil {
		l.releaseSegment(l.wseg.seq)
	}
	l.wseg = s
	l.fastUntil = 0
}

// segment returns seq's mapping, pinned until end.
func (w *wtx) segment(seq uint64) (*segment, error) {
	if w.cur != nil && w.cur.seq == seq {
		return w.cur, nil
	}
	if a := w.l.wseg; a != nil && a.seq == seq {
		return a, nil
	}
	s, err := w.l.acquireSegment(seq)
	if err != nil {
		return nil, err
	}
	w.pinned = append(w.pinned, seq)
	w.cur = s
	return s, nil
}

// store writes a slot to the index and, during growth, to the growth target.
func (w *wtx) store(id EventID, s ringindex.Slot) {
	w.idx.Store(id, s)
	if w.mig != nil {
		w.mig.Store(id, s)
	}
}

// slotSeq returns the full segment seq of a slot.
func (w *wtx) slotSeq(s ringindex.Slot) uint64 { return s.FullSeq(w.st.activeSeq) }

// base is the lowest id of the span the index must hold once first..first+n-1 is appended.
func (w *wtx) base(first EventID) EventID {
	if w.st.live == 0 {
		return first
	}
	return w.st.oldest
}

// ensureCapacity makes room in the index for ids [base, end), starting or finishing an
// online growth as described in docs/FORMAT.md section 4.
func (w *wtx) ensureCapacity(base, end EventID) error {
	for i := 0; i < 3; i++ {
		span := end - base
		if w.st.migGen == 0 && span > w.st.indexCap/2 {
			if err := w.startGrowth(base, span); err != nil {
				return err
			}
		}
		if w.st.migGen != 0 && span > w.st.indexCap {
			w.copySlots(base, ^uint64(0)) // finish now: the old ring cannot hold the span
		}
		if span <= w.st.indexCap {
			return nil
		}
	}
	return fmt.Errorf("mmaplog: index cannot grow to hold %d ids", end-base)
}

func (w *wtx) startGrowth(base, span uint64) error {
	newCap := uint64(1) << bits.Len64(2*span-1)
	if newCap < 2*w.st.indexCap {
		newCap = 2 * w.st.indexCap
	}
	if newCap > ringindex.MaxCapacity {
		return fmt.Errorf("mmaplog: index would need %d slots", newCap)
	}
	gen := w.st.indexGen + 1
	path := join(w.l.dir, ringindex.FileName(gen))
	_ = removeIfExists(path) // an orphan of a writer that died before committing it
	w.l.forgetIndex(gen)
	x, err := ringindex.Create(path, newCap, w.l.logID, gen, w.l.opts.fileMode)
	if err != nil {
		return fmt.Errorf("mmaplog: grow index: %w", err)
	}
	_ = x.Close()
	if w.mig, err = w.l.mapIndex(gen, false); err != nil {
		return err
	}
	w.l.prefaultIndex(w.mig, gen, base, w.st.next, w.st.next+newCap/2)
	w.st.migGen, w.st.migCap, w.st.migNext = gen, newCap, base
	return nil
}

// prefaultIndex faults in, in the background, the pages of the new index generation gen
// that the growth will write: first those of the ids [base, next) that the copy fills,
// then those of [next, end), the ids appended before the next growth is due. Otherwise
// the copy and the appends take a page fault (and an extent conversion) every 512 slots.
// The copy waits until the first range is done (copyDeferred). Close of the index waits
// for it (PrefaultRange holds the index's read lock).
func (l *Log) prefaultIndex(x *ringindex.Index, gen uint64, base, next, end EventID) {
	if l.opts.noPrefault {
		return
	}
	l.growPrefault.Store(gen)
	hook := indexPrefaultHook
	go func() {
		if hook != nil {
			hook()
		}
		_ = x.PrefaultRange(base, next)
		l.growPrefault.CompareAndSwap(gen, 0)
		_ = x.PrefaultRange(next, end)
	}()
}

// indexPrefaultHook, when set (by tests, before Open), runs at the start of each index
// prefault goroutine, before the growth copy may begin.
var indexPrefaultHook func()

// copyDeferred reports whether the growth copy waits for this handle's prefault of its
// range, which it may while the span to end stays within 3/4 of the old capacity: from
// there on, at least 4 copies per appended id finish the copy (at most 3/4 of the
// capacity) before the span reaches the capacity (docs/FORMAT.md section 4).
func (w *wtx) copyDeferred(end EventID) bool {
	st := &w.st
	return st.migGen != 0 && w.l.growPrefault.Load() == st.migGen && end-w.base(end) <= st.indexCap/4*3
}

// copySlots advances the growth by up to quota slots (from migNext, or base if higher) and
// switches to the new index when the copy reaches next.
func (w *wtx) copySlots(base, quota uint64) {
	if w.st.migGen == 0 {
		return
	}
	if w.st.migNext < base {
		w.st.migNext = base
	}
	if w.st.migNext < w.st.next {
		end := w.st.next
		if end-w.st.migNext > quota {
			end = w.st.migNext + quota
		}
		w.mig.CopyFrom(w.idx, w.st.migNext, end)
		w.st.migNext = end
	}
	if w.st.migNext >= w.st.next {
		// Events below the recovery point must stay readable after a power loss even if the
		// kernel writes the meta page (naming the new index) before the new index's pages:
		// flush their slots before the switch is committed. Logs that never Sync skip it.
		if lo := max(base, w.st.oldest); w.st.syncedNext > lo {
			_ = syncIndex(w.mig, lo, w.st.syncedNext)
		}
		w.retire = append(w.retire, w.st.indexGen)
		w.st.indexGen, w.st.indexCap = w.st.migGen, w.st.migCap
		w.st.migGen, w.st.migCap, w.st.migNext = 0, 0, 0
		w.idx, w.mig = w.mig, nil
	}
}

// forgetIndex drops the handle's mapping of an index generation that is being recreated.
func (l *Log) forgetIndex(gen uint64) {
	l.idxMu.Lock()
	defer l.idxMu.Unlock()
	if x := l.idxs[gen]; x != nil {
		if c := l.curIdx.Load(); c == x {
			l.curIdx.Store(nil)
		}
		_ = x.Close()
		delete(l.idxs, gen)
	}
}
