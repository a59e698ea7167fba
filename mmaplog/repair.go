package mmaplog

import (
	"os"
	"time"

	"github.com/ringlog/ringlog/internal/record"
	"github.com/ringlog/ringlog/ringindex"
)

// Bounds of the tail validation done by Open (docs/FORMAT.md section 6).
const (
	tailCheckEvents = 4096
	tailCheckBytes  = 64 << 20
	orphanTempAge   = 10 * time.Minute
)

// repair runs once per Open under the writer lock: it finishes a pending delete (begin does
// that), validates the unsynced tail and cuts the log at the first invalid record, and
// deletes orphan files.
func (l *Log) repair() error {
	w, err := l.begin()
	if err != nil {
		return err
	}
	boot := currentBootID()
	rebooted := boot == nil || string(l.meta[metaBootIDOff:metaBootIDOff+16]) != string(boot)
	if bad, ok := w.firstBadTailRecord(rebooted); ok {
		w.recoveryCut(bad)
		w.commit()
	}
	if rebooted && boot != nil {
		copy(l.meta[metaBootIDOff:], boot)
	}
	w.collectOrphans()
	w.end()
	return nil
}

// firstBadTailRecord validates the records after the recovery point (syncedNext) and
// returns the first id whose record is invalid. After a reboot (a power loss may have
// dropped unsynced pages) it checks every record from the recovery point; within one boot
// (the page cache survived any process crash) only the newest tailCheckEvents events, at
// most tailCheckBytes bytes, as a cheap sanity check.
func (w *wtx) firstBadTailRecord(rebooted bool) (EventID, bool) {
	st := &w.st
	if st.live == 0 {
		return 0, false
	}
	lo := max(st.oldest, st.syncedNext)
	limit := uint64(tailCheckBytes)
	if rebooted {
		limit = ^uint64(0)
	} else if st.next-lo > tailCheckEvents {
		lo = st.next - tailCheckEvents
	}
	// Walk back to honour the byte bound.
	var bytes uint64
	start := st.next
	for start > lo && bytes < limit {
		start--
		slot := w.idx.Load(start)
		if slot.Tombstoned() || slot.IsZero() {
			continue
		}
		seg, err := w.segment(w.slotSeq(slot))
		if err != nil {
			continue
		}
		if n, ok := record.Length(seg.data, slot.Offset()); ok && n <= w.l.opts.maxEventSize {
			bytes += recordSize(int(n))
		}
	}
	// After a reboot the index pages of the tail may be older than the meta page: a slot
	// may still point to a record of the same id that a suffix delete removed (valid CRC,
	// wrong bytes) or carry a stale tombstone. Such slots are caught because the records
	// of [syncedNext, next) were appended in id order, after the record of syncedNext-1:
	// their positions must increase strictly. A tombstone in the tail is cut as well.
	var prevSeq, prevOff uint64
	havePrev := false
	if rebooted && start > st.oldest {
		if slot := w.idx.Load(start - 1); !slot.IsZero() {
			prevSeq, prevOff, havePrev = w.slotSeq(slot), slot.Offset(), true
		}
	}
	for id := start; id < st.next; id++ {
		if !st.isLive(id) {
			continue
		}
		slot := w.idx.Load(id)
		if slot.Tombstoned() {
			if rebooted {
				return id, true
			}
			continue
		}
		if slot.IsZero() {
			return id, true
		}
		seq := w.slotSeq(slot)
		if seq > st.activeSeq || (rebooted && havePrev && (seq < prevSeq || (seq == prevSeq && slot.Offset() <= prevOff))) {
			return id, true
		}
		seg, err := w.segment(seq)
		if err != nil {
			return id, true
		}
		if _, msg := decodeRecord(seg.data, slot.Offset(), id, w.l.opts.maxEventSize); msg != "" {
			return id, true
		}
		prevSeq, prevOff, havePrev = seq, slot.Offset(), true
	}
	return 0, false
}

// recoveryCut ends the log before bad, an id at or after the recovery point whose record
// failed validation. Unlike a suffix delete it trusts no index slot at or after bad (they
// may be stale after a power loss): it recounts tombstones below bad when there are any,
// unlinks nothing, and leaves the write offset where it is.
func (w *wtx) recoveryCut(bad EventID) {
	st := &w.st
	if bad <= st.oldest {
		st.next, st.oldest, st.newest, st.live, st.dead = bad, bad, 0, 0, 0
		st.firstSeq = st.activeSeq
	} else {
		newest, dead := bad-1, uint64(0)
		if st.dead > 0 {
			newest = st.oldest
			for id := st.oldest; id < bad; id++ {
				if w.idx.Load(id).Tombstoned() {
					dead++
				} else {
					newest = id
				}
			}
		}
		st.next, st.newest, st.dead = bad, newest, dead
		st.live = bad - st.oldest - dead
	}
	st.syncedNext = min(st.syncedNext, bad)
	st.dirtyLow = min(st.dirtyLow, st.syncedNext)
	st.truncs++
}

// collectOrphans schedules for deletion the files the committed state does not reference:
// segments below firstSeq, index files of other generations and stale temporary files.
func (w *wtx) collectOrphans() {
	entries, err := os.ReadDir(w.l.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case isTempName(name):
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > orphanTempAge {
				_ = os.Remove(join(w.l.dir, name))
			}
		default:
			if seq, ok := parseSegmentFileName(name); ok && seq < w.st.firstSeq {
				w.unlink = append(w.unlink, seq)
			} else if gen, ok := ringindex.ParseFileName(name); ok && gen != w.st.indexGen && gen != w.st.migGen {
				w.retire = append(w.retire, gen)
			}
		}
	}
}
