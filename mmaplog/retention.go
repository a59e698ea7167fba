package mmaplog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"runtime/debug"
	"time"
)

// Retention bounds how much of the log is kept: writers remove whole sealed segments from
// the front (a prefix delete) at segment turnover, never on the append fast path
// (docs/FORMAT.md section 5.7). A zero field is unbounded; the zero Retention keeps
// everything.
type Retention struct {
	// MaxBytes bounds the segment files of the log, counted as segments from the first
	// holding a live event to the active one, times the segment size. A non-zero value
	// must be at least two segments.
	MaxBytes uint64
	// MaxEvents bounds the live events: at a turnover, front segments go while the log
	// holds more.
	MaxEvents uint64
	// MaxAge removes a sealed segment whose newest event is older than this (measured by
	// the time the writer left the segment). Negative is invalid.
	MaxAge time.Duration
	// KeepUnconsumed (interest retention) makes MaxEvents and MaxAge never remove an
	// event that a cursor of the log (Log.Cursor) has not committed: only segments whose
	// every id lies below the lowest cursor position go. MaxBytes still applies: when it
	// is reached, segments go regardless, and a cursor left behind gets ErrCursorBehind
	// from its next Follow. Without cursors it changes nothing.
	KeepUnconsumed bool
}

// IsZero reports whether r keeps everything.
func (r Retention) IsZero() bool { return r == Retention{} }

// retentionRecord is the stored retention record: the policy in force and what retention
// removed over the log's life (in every process).
type retentionRecord struct {
	policy                           Retention
	segments, events, reclaimedBytes uint64
}

// The retention record (meta bytes [640, 768), docs/FORMAT.md sections 2 and 5.7): the
// policy every writer enforces and what retention removed. All zero: no policy ever set.
// Written only under the writer lock, word by word with the CRC zeroed first and stored
// last; a reader that sees a mismatch retries for 10 ms, then treats it as damaged.
//
//	offset  size  field
//	640     8     version    = 1 (0: no record)                    must not change
//	648     8     maxBytes
//	656     8     maxEvents
//	664     8     maxAge     nanoseconds
//	672     8     segments   sealed segments removed by retention, over the log's life
//	680     8     events     live events removed by retention
//	688     8     reclaimed  segment bytes removed by retention
//	696     8     flags      bit 0: KeepUnconsumed
//	704     4     crc        CRC-32C of [640, 704)                 must not change
const (
	metaRetentionOff    = 640
	retentionWords      = 8
	retentionCRCOff     = metaRetentionOff + retentionWords*8
	retentionVersion    = 1 // must not change
	retentionRecordEnd  = retentionCRCOff + 4
	retentionRecordRoom = 768 // first byte after the room reserved for the record
)

var _ = [retentionRecordRoom - retentionRecordEnd]byte{} // the record fits its room

// retentionNow is the clock of seal times and of MaxAge; tests replace it.
var retentionNow = func() int64 { return time.Now().UnixNano() }

// readRetention returns the retention record; a damaged one is ErrCorrupt.
func (l *Log) readRetention() (retentionRecord, error) {
	for attempt := 0; ; attempt++ {
		var words [retentionWords]uint64
		zero, crcOK := l.loadMetaRecord(metaRetentionOff, words[:])
		if zero {
			return retentionRecord{}, nil
		}
		if !crcOK || words[0] != retentionVersion || int64(words[3]) < 0 {
			if attempt < 10 {
				time.Sleep(time.Millisecond) // a writer may be storing it
				continue
			}
			if crcOK && words[0] > retentionVersion {
				return retentionRecord{}, fmt.Errorf("%w: %s offset %d: retention record version %d", ErrVersion, join(l.dir, metaFileName), metaRetentionOff, words[0])
			}
			return retentionRecord{}, corruptf(join(l.dir, metaFileName), metaRetentionOff, "retention record fails its checksum")
		}
		return retentionRecord{
			policy: Retention{MaxBytes: words[1], MaxEvents: words[2], MaxAge: time.Duration(words[3]),
				KeepUnconsumed: words[7]&retentionKeepUnconsumed != 0},
			segments: words[4], events: words[5], reclaimedBytes: words[6],
		}, nil
	}
}

// writeRetention stores r. The caller holds the writer lock.
func (l *Log) writeRetention(r retentionRecord) {
	var flags uint64
	if r.policy.KeepUnconsumed {
		flags |= retentionKeepUnconsumed
	}
	l.storeMetaRecord(metaRetentionOff, []uint64{retentionVersion, r.policy.MaxBytes, r.policy.MaxEvents, uint64(r.policy.MaxAge),
		r.segments, r.events, r.reclaimedBytes, flags})
}

// retentionKeepUnconsumed is bit 0 of the record's flags word.
const retentionKeepUnconsumed = 1

// checkRetention validates a policy against the segment size of the log.
func checkRetention(r Retention, segSize uint64) error {
	if r.MaxAge < 0 {
		return invalidOptions("Retention.MaxAge %v is negative", r.MaxAge)
	}
	if r.MaxBytes != 0 && r.MaxBytes < 2*segSize {
		return invalidOptions("Retention.MaxBytes %d is below two segments (%d bytes)", r.MaxBytes, 2*segSize)
	}
	return nil
}

// storeRetention replaces the stored policy with p (keeping the counters) unless it is
// already in force, and msyncs the meta page so that the policy survives a power loss.
// The caller holds the writer lock.
func (l *Log) storeRetention(p Retention) error {
	rec, err := l.readRetention()
	if err == nil && rec.policy == p {
		return nil
	}
	if err != nil {
		// A damaged record is replaced by the new policy: its counters are lost, and that
		// is all the damage costs.
		rec = retentionRecord{}
	}
	rec.policy = p
	l.writeRetention(rec)
	if err := l.syncMeta(); err != nil {
		return fmt.Errorf("mmaplog: sync the retention policy: %w", err)
	}
	return nil
}

// SetRetention replaces the retention policy stored in the log (for every handle and
// process; the zero Retention keeps everything), makes it durable and enforces it at
// once. An invalid policy is ErrInvalidOptions and changes nothing.
func (l *Log) SetRetention(p Retention) error {
	if err := checkRetention(p, l.opts.segmentSize); err != nil {
		return err
	}
	w, err := l.begin()
	if err != nil {
		return err
	}
	err = l.storeRetention(p) // in force even if its msync failed
	w.enforceRetention()
	w.end()
	return err
}

// Seal time, in the segment header's free bytes (docs/FORMAT.md section 3):
//
//	offset  size  field
//	52      4     sealCRC   CRC-32C of [56, 64)                        must not change
//	56      8     sealedAt  Unix nanoseconds when the writer left the segment (0: unknown)
const (
	segSealCRCOff = 52
	segSealOff    = 56
)

// sealSegment records in data, a segment's mapping, that the writer leaves it now. A
// memory fault (a file truncated by another process) leaves the seal time unknown.
func sealSegment(data []byte) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			_ = faultError(r) // re-panics anything but a memory fault; the seal stays unknown
		}
	}()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(retentionNow()))
	copy(data[segSealOff:segSealOff+8], b[:])
	binary.LittleEndian.PutUint32(data[segSealCRCOff:], crc32.Checksum(b[:], castagnoli))
}

// sealTime returns a segment's seal time, 0 when unknown (never sealed, or a seal whose
// bytes did not reach the disk whole).
func sealTime(data []byte) int64 {
	if len(data) < segHeaderSize {
		return 0
	}
	b := data[segSealOff : segSealOff+8]
	if binary.LittleEndian.Uint32(data[segSealCRCOff:]) != crc32.Checksum(b, castagnoli) {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b))
}

// enforceRetention removes, as one prefix delete committed in w, the whole sealed
// segments at the front that the stored policy no longer allows. It never removes the
// active segment nor the segment holding the newest event, so the log is never emptied
// by retention. Runs under the writer lock after a turnover commit (append, Rotate) or
// SetRetention, never on the fast path; the unlink happens in w.end, after the checkpoint
// the recovery position may need (checkpointBeforeUnlink).
func (w *wtx) enforceRetention() {
	saved, unlinks := w.st, len(w.unlink)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			_ = faultError(r) // re-panics anything but a memory fault
			// A mapping truncated by another process: if nothing was committed yet,
			// remove nothing.
			if w.st.gen == saved.gen {
				w.st, w.unlink = saved, w.unlink[:unlinks]
			}
		}
	}()
	w.cutRetention()
}

// cutRetention is enforceRetention without the fault guard.
func (w *wtx) cutRetention() {
	st := &w.st
	if st.live == 0 || st.firstSeq >= st.activeSeq || st.pendingDelete() {
		return
	}
	rec, err := w.l.readRetention()
	if err != nil || rec.policy.IsZero() {
		return
	}
	p := rec.policy
	seg := w.l.opts.segmentSize
	newestSeq := w.slotSeq(w.idx.Load(st.newest))
	if newestSeq > st.activeSeq {
		return
	}
	// cut: the last segment to remove; segments [firstSeq, cut] go. MaxBytes is decided
	// apart, since it overrides interest retention.
	bytesCut, bytesFound := uint64(0), false
	if p.MaxBytes != 0 {
		if n := st.activeSeq - st.firstSeq + 1; n*seg > p.MaxBytes {
			bytesCut, bytesFound = st.firstSeq+(n-p.MaxBytes/seg)-1, true
		}
	}
	cut, found := uint64(0), false
	if p.MaxEvents != 0 && st.live > p.MaxEvents {
		// At most MaxEvents ids may follow the last one removed, so the segment of id
		// next-1-MaxEvents (>= oldest, as next-oldest >= live) is the smallest cut: ids
		// in a segment range are contiguous (docs/FORMAT.md section 4).
		if x := w.idx.Load(st.next - 1 - p.MaxEvents); !x.IsZero() && (!found || w.slotSeq(x) > cut) {
			cut, found = w.slotSeq(x), true
		}
	}
	if p.MaxAge > 0 {
		now := retentionNow()
		for s := st.firstSeq; s < newestSeq; s++ {
			sg, err := w.segment(s)
			if err != nil {
				break
			}
			t := sealTime(sg.data)
			if t != 0 && now-t <= int64(p.MaxAge) {
				break // sealed recently: so were the segments after it
			}
			if t != 0 && (!found || s > cut) {
				cut, found = s, true // an unknown seal time before it is older still
			}
		}
	}
	if found && p.KeepUnconsumed {
		if last, none, limited := w.unconsumedLimit(); none || (limited && last < st.firstSeq) {
			found = false
		} else if limited {
			cut = min(cut, last)
		}
	}
	if bytesFound && (!found || bytesCut > cut) {
		cut, found = bytesCut, true
	}
	if !found {
		return
	}
	cut = min(cut, newestSeq-1)
	if cut < st.firstSeq {
		return
	}
	e, ok := w.lastIDIn(cut)
	if !ok || e < st.oldest || e >= st.newest {
		return
	}
	saved, unlinks := *st, len(w.unlink)
	removed, err := w.deletePrefix(e)
	if err != nil {
		*st, w.unlink = saved, w.unlink[:unlinks] // damage: remove nothing
		return
	}
	w.commit()
	gone := st.firstSeq - saved.firstSeq
	rec.segments += gone
	rec.events += removed
	rec.reclaimedBytes += gone * seg
	w.l.writeRetention(rec)
}

// unconsumedLimit returns, for interest retention, the last segment that holds only ids
// below the lowest cursor position (every cursor consumed them), with limited set;
// limited is false when there is no cursor or every cursor is at NextEventID. none means
// that no segment may go: a cursor is at or below oldest, or the slot of the position
// cannot be read.
func (w *wtx) unconsumedLimit() (last uint64, none, limited bool) {
	st := &w.st
	low, any := w.l.minCursorPosition()
	if !any || low >= st.next {
		return 0, false, false
	}
	if low <= st.oldest {
		return 0, true, true
	}
	s := w.idx.Load(low)
	if s.IsZero() || w.slotSeq(s) == 0 {
		return 0, true, true
	}
	return w.slotSeq(s) - 1, false, true
}

// lastIDIn returns the largest id below next whose record lies in a segment at or before
// seq, by a binary search over the slots of [oldest, next) (their segments never decrease
// with the id: docs/FORMAT.md section 4). ok is false when no such id is live.
func (w *wtx) lastIDIn(seq uint64) (EventID, bool) {
	st := &w.st
	lo, hi := st.oldest, st.next // first id whose segment is after seq lies in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		s := w.idx.Load(mid)
		if s.IsZero() {
			return 0, false // damage: remove nothing
		}
		if w.slotSeq(s) > seq {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == st.oldest {
		return 0, false
	}
	return lo - 1, true
}
