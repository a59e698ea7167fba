package mmaplog

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"
	"unsafe"

	"github.com/ringlog/ringlog/internal/record"
	"github.com/ringlog/ringlog/ringindex"
)

// orphanTempAge is how old a temporary file must be before Open deletes it (a younger
// one may belong to a writer preparing a segment right now).
const orphanTempAge = 10 * time.Minute

// repair runs once per Open under the writer lock: it finishes a pending delete (begin does
// that), and, after a reboot, rebuilds the end of the log from its records: it scans them
// forward from the recovery position, keeps every record that validates in id order
// (recovering events whose commit never reached the disk as well), ends the log at the
// first that does not (recording what that removed in the repair record), and moves the
// write position to a fresh segment; then it deletes orphan files. Within one boot
// nothing is cut: every record below the committed NextEventID was complete before the
// commit word published it, and the page cache keeps it across any process crash, so a
// record there that fails validation is damage, reported as ErrCorrupt by the reads of
// that event and by Check (docs/FORMAT.md section 6).
func (l *Log) repair() error {
	l.repairing = true
	w, err := l.begin()
	l.repairing = false
	if err != nil {
		return err
	}
	boot := currentBootID()
	rebooted := boot == nil || string(l.meta[metaBootIDOff:metaBootIDOff+16]) != string(boot)
	if rebooted {
		l.resetSharedFlush()
		if err := w.recoverTail(); err != nil {
			w.abort()
			return err
		}
		if boot != nil {
			copy(l.meta[metaBootIDOff:], boot)
		}
	} else if err := w.clearAbandoned(w.st.activeSeq, w.st.writeOff); err != nil {
		w.abort()
		return err
	}
	w.collectOrphans()
	if !l.opts.retention.IsZero() {
		// The opener's explicit policy replaces the stored one (docs/FORMAT.md section
		// 5.7); if its msync fails, it is in force until a power loss.
		_ = l.storeRetention(l.opts.retention)
	}
	if rebooted {
		// The rebuilt end, its report and the boot id survive the next power loss:
		// otherwise the next Open could find a different end (docs/FORMAT.md section 6).
		if err := l.syncMeta(); err != nil {
			w.abort()
			return fmt.Errorf("mmaplog: sync meta after repair: %w", err)
		}
		l.noteCheckpoint(&w.st)
	}
	ghosts := rebooted && len(w.unlink) > 0
	w.end()
	if ghosts {
		// The segment files after the rebuilt end are gone for good: a later scan never
		// meets them again.
		if err := syncDir(l.dir); err != nil {
			return fmt.Errorf("mmaplog: sync directory after repair: %w", err)
		}
	}
	return nil
}

// tailScan is the result of scanning the records past the recovery position.
type tailScan struct {
	end      EventID // first id without a valid record in sequence
	stopSeq  uint64  // where the record of end would go: (stopSeq, stopOff)
	stopOff  uint64
	firstSeq uint64    // segment of the first record found (when any)
	lastSeq  uint64    // segment of the last record kept, or of the start position
	found    bool      // any record found
	tombs    bool      // some recovered id kept its tombstone
	fault    tailFault // where the scan stopped and why
}

// scanTail walks the records from the recovery position (syncedPos, where the record of
// syncedNext was to go): the record of each next id lies right after the previous one,
// or at the start of a later segment when it did not fit (or after a Rotate). It stops at
// the first id whose record does not validate there, and keeps only whole batches: the
// result ends after the last record without the more bit. For each id it finds at or
// above oldest it stores the slot (in both indexes during a growth), keeping a tombstone
// that names exactly the record found (an interior delete of the tail whose slots
// reached the disk). The caller holds the writer lock; a memory fault (a file shorter
// than its mapping) ends the scan there.
func (w *wtx) scanTail(maxSeq uint64) (res tailScan) {
	st := &w.st
	l := w.l
	id := st.syncedNext
	seq, off := st.syncedPos.FullSeq(st.activeSeq), st.syncedPos.Offset()
	done := tailScan{end: id, stopSeq: seq, stopOff: off, lastSeq: seq} // after the last whole batch
	base := st.liveFloor()
	defer func() {
		if r := recover(); r != nil {
			_ = faultError(r) // re-panics anything but a memory fault
			res.fault = tailFault{seq: seq, off: off, reason: repairRecordInvalid}
		}
		fault, found, first, tombs := res.fault, res.found, res.firstSeq, res.tombs
		res = done
		res.fault, res.found, res.firstSeq, res.tombs = fault, found, first, tombs
		if id > done.end { // the records after the last whole batch are dropped
			res.fault = tailFault{seq: done.stopSeq, off: done.stopOff, reason: repairBatchIncomplete}
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	at := func(seq, off uint64) ([]byte, bool, bool) {
		seg, err := w.segment(seq)
		if err != nil {
			return nil, false, false
		}
		p, msg := decodeRecord(seg.data, off, id, l.opts.maxEventSize, seg.seed)
		return p, msg == "" && record.More(seg.data, off), msg == ""
	}
	for {
		if id >= base && id-base >= w.idx.Capacity() {
			res.fault = tailFault{seq: seq, off: off, reason: repairIndexFull}
			return res
		}
		p, more, ok := at(seq, off)
		for s := seq + 1; !ok && s <= maxSeq; s++ {
			if p, more, ok = at(s, segHeaderSize); ok {
				seq, off = s, segHeaderSize
			}
		}
		if !ok {
			res.fault = tailFault{seq: seq, off: off, reason: repairRecordInvalid}
			if _, err := w.segment(seq); err != nil {
				res.fault.reason = repairNoSegment
			}
			return res
		}
		if !res.found {
			res.found, res.firstSeq = true, seq
		}
		if id >= base {
			slot := ringindex.MakeSlot(seq, off)
			if id < st.next && w.idx.Load(id) == slot.WithTombstone() {
				res.tombs = true
			} else {
				w.store(id, slot)
			}
		}
		off += recordSize(len(p))
		id++
		if !more {
			done.end, done.stopSeq, done.stopOff, done.lastSeq = id, seq, off, seq
		}
	}
}

// recoverTail rebuilds the end of the log after a reboot (docs/FORMAT.md section 6): the
// ids below the recovery point are trusted as they are; from there the records decide.
// The new NextEventID is the end of the scan (never below oldest): lower than the state
// on disk when a power loss tore records the state had published (the removed ids go to
// the repair record), higher when durable records were flushed after their state. The
// write position moves past every byte the scan did not accept (the rest of the last
// segment, later segment files are removed), so no record written before the reboot can
// ever follow a new one. The rebuilt slots are flushed; the caller commits nothing more
// and flushes the meta page.
func (w *wtx) recoverTail() error {
	st := &w.st
	l := w.l
	maxSeq, err := l.highestSegmentFile()
	if err != nil {
		return err
	}
	res := w.scanTail(max(maxSeq, st.activeSeq))
	lo := st.liveFloor()
	end := max(res.end, lo)
	if end < st.next {
		l.writeRepair(end, st.next, res.fault)
		st.truncs++
	}
	from := min(st.syncedNext, end)
	if st.live == 0 && end > lo {
		st.oldest, st.firstSeq = lo, res.firstSeq
	}
	st.next = end
	switch {
	case end == st.oldest:
		st.oldest, st.newest, st.live, st.dead = end, 0, 0, 0
	case st.dead > 0 || res.tombs:
		st.newest, st.dead = st.oldest, 0
		for id := st.oldest; id < end; id++ {
			if w.idx.Load(id).Tombstoned() {
				st.dead++
			} else {
				st.newest = id
			}
		}
		st.live = end - st.oldest - st.dead
	default:
		st.newest, st.dead, st.live = end-1, 0, end-st.oldest
	}
	st.activeSeq = max(st.activeSeq, res.lastSeq)
	if st.live == 0 {
		st.firstSeq = st.activeSeq
	}
	// The next append goes where the scan stopped if nothing but zeros follows there (a
	// clean end), else to a fresh segment.
	st.writeOff = l.opts.segmentSize
	if res.stopSeq == st.activeSeq && w.zeroFrom(res.stopSeq, res.stopOff) {
		st.writeOff = res.stopOff
	}
	for seq := st.activeSeq + 1; seq <= maxSeq; seq++ {
		w.unlink = append(w.unlink, seq)
	}
	if st.live > 0 && from < end {
		lo := max(from, st.oldest)
		if err := syncIndex(w.idx, lo, end); err != nil {
			return fmt.Errorf("mmaplog: sync rebuilt index: %w", err)
		}
		if w.mig != nil {
			if err := syncIndex(w.mig, lo, end); err != nil {
				return fmt.Errorf("mmaplog: sync rebuilt index: %w", err)
			}
		}
	}
	st.syncedNext, st.dirtyLow = end, end
	st.syncedPos = ringindex.MakeSlot(st.activeSeq, st.writeOff)
	w.commit()
	return nil
}

// zeroFrom reports whether segment seq holds only zero bytes from off to its end (no
// record written before a reboot can lie there). A read fault reports false.
func (w *wtx) zeroFrom(seq, off uint64) (zero bool) {
	seg, err := w.segment(seq)
	if err != nil || off > uint64(len(seg.data)) || off%8 != 0 {
		return false
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			_ = faultError(r) // re-panics anything but a memory fault
			zero = false
		}
	}()
	rest := seg.data[off:]
	words := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(rest))), len(rest)/8)
	for _, v := range words {
		if v != 0 {
			return false
		}
	}
	return true
}

// highestSegmentFile returns the highest seq of the segment files in the directory (0
// when there is none).
func (l *Log) highestSegmentFile() (uint64, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return 0, fmt.Errorf("mmaplog: %w", err)
	}
	var top uint64
	for _, e := range entries {
		if seq, ok := parseSegmentFileName(e.Name()); ok {
			top = max(top, seq)
		}
	}
	return top, nil
}

// collectOrphans schedules for deletion the files the committed state does not reference:
// segments below firstSeq, index files of other generations and stale temporary files;
// it deletes pool files beyond the opener's pool bound.
func (w *wtx) collectOrphans() {
	entries, err := os.ReadDir(w.l.dir)
	if err != nil {
		return
	}
	bound := w.l.poolBound()
	for _, e := range entries {
		name := e.Name()
		if k, ok := parsePoolFileName(name); ok {
			if k >= bound { // beyond this opener's pool (all of it when recycling is off)
				_ = os.Remove(join(w.l.dir, name))
			}
			continue
		}
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
