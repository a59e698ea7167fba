package mmaplog

import (
	"fmt"
	"os"
	"time"

	"github.com/ringlog/ringlog/ringindex"
)

// orphanTempAge is how old a temporary file must be before Open deletes it (a younger
// one may belong to a writer preparing a segment right now).
const orphanTempAge = 10 * time.Minute

// repair runs once per Open under the writer lock: it finishes a pending delete (begin does
// that), and, after a reboot, validates the tail past the recovery point and cuts the log at
// its first invalid record (recording what it removed in the repair record); then it
// deletes orphan files. Within one boot nothing is cut: every record below the committed
// NextEventID was complete before the commit word published it, and the page cache keeps
// it across any process crash, so a record there that fails validation is damage, reported
// as ErrCorrupt by the reads of that event and by Check (docs/FORMAT.md section 6).
func (l *Log) repair() error {
	w, err := l.begin()
	if err != nil {
		return err
	}
	boot := currentBootID()
	rebooted := boot == nil || string(l.meta[metaBootIDOff:metaBootIDOff+16]) != string(boot)
	cut := false
	if rebooted {
		if bad, fault, ok := w.firstBadTailRecord(); ok {
			l.writeRepair(bad, w.st.next, fault)
			w.recoveryCut(bad)
			w.commit()
			cut = true
		}
		if boot != nil {
			copy(l.meta[metaBootIDOff:], boot)
		}
	}
	w.collectOrphans()
	w.end()
	if cut {
		// The cut and its record survive the next power loss: otherwise the next Open could
		// find a different tail to cut and the report of this one would be lost.
		if err := msync(l.meta[:metaSize]); err != nil {
			return fmt.Errorf("mmaplog: sync meta after repair: %w", err)
		}
	}
	return nil
}

// firstBadTailRecord validates, after a reboot, the records past the recovery point
// (syncedNext): a power loss may have dropped any page written since the last Sync. It
// returns the first id whose record or slot is invalid and what failed.
func (w *wtx) firstBadTailRecord() (EventID, tailFault, bool) {
	st := &w.st
	if st.live == 0 {
		return 0, tailFault{}, false
	}
	start := max(st.oldest, st.syncedNext)
	// The index pages of the tail may be older than the meta page: a slot may still point
	// to a record of the same id that a suffix delete removed (valid CRC, wrong bytes) or
	// carry a stale tombstone. Such slots are caught because the records of
	// [syncedNext, next) were appended in id order, after the record of syncedNext-1: their
	// positions must increase strictly. A tombstone in the tail is cut as well.
	var prevSeq, prevOff uint64
	havePrev := false
	if start > st.oldest {
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
			return id, tailFault{seq: noSegment, reason: repairTombstone}, true
		}
		if slot.IsZero() {
			return id, tailFault{seq: noSegment, reason: repairSlotUnwritten}, true
		}
		seq := w.slotSeq(slot)
		fault := tailFault{seq: seq, off: slot.Offset()}
		if seq > st.activeSeq {
			fault.seq, fault.reason = noSegment, repairNoSegment
			return id, fault, true
		}
		if havePrev && (seq < prevSeq || (seq == prevSeq && slot.Offset() <= prevOff)) {
			fault.reason = repairSlotStale
			return id, fault, true
		}
		seg, err := w.segment(seq)
		if err != nil {
			fault.reason = repairNoSegment
			return id, fault, true
		}
		if _, msg := decodeRecord(seg.data, slot.Offset(), id, w.l.opts.maxEventSize); msg != "" {
			fault.reason = repairRecordInvalid
			return id, fault, true
		}
		prevSeq, prevOff, havePrev = seq, slot.Offset(), true
	}
	return 0, tailFault{}, false
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
