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
		if _, err := w.deleteSuffix(bad); err != nil { // bad is live: in [oldest, newest]
			w.abort()
			return err
		}
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
	for id := start; id < st.next; id++ {
		if !st.isLive(id) {
			continue
		}
		slot := w.idx.Load(id)
		if slot.Tombstoned() {
			continue
		}
		if slot.IsZero() {
			return id, true
		}
		seg, err := w.segment(w.slotSeq(slot))
		if err != nil {
			return id, true
		}
		if _, msg := decodeRecord(seg.data, slot.Offset(), id, w.l.opts.maxEventSize); msg != "" {
			return id, true
		}
	}
	return 0, false
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
