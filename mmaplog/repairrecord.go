package mmaplog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"time"
	"unsafe"
)

// The repair record (meta bytes [512, 640), docs/FORMAT.md sections 2 and 6) says what
// the last repair of Open removed, so that a cut tail is never mistaken for a short log.
// All zero: no Open ever removed anything. Written only by Open's repair, under the writer
// lock, word by word with the CRC last; a reader that sees a CRC mismatch retries, and
// reports the record as damaged if it stays so.
//
//	offset  size  field
//	512     8     count     repairs that removed events, over the log's life (0: none)
//	520     8     from      first id removed by the last repair
//	528     8     to        the NextEventID before it: ids [from, to) were removed
//	536     8     at        when, Unix nanoseconds
//	544     8     seq       segment of the first record that failed (^0: none, see reason)
//	552     8     offset    its byte offset in that segment
//	560     8     reason    why it failed (repairReason)
//	568     4     crc       CRC-32C of [512, 568)                       must not change
const (
	metaRepairOff   = 512
	repairWords     = 7
	repairCRCOff    = metaRepairOff + repairWords*8
	repairRecordEnd = repairCRCOff + 4
)

// repairReason says why the first removed record failed validation. Values must not
// change (they are stored).
type repairReason uint64

const (
	repairRecordInvalid   repairReason = 1 // the record fails its checks (id, length, CRC)
	repairSlotUnwritten   repairReason = 2 // its index slot was never written back
	repairSlotStale       repairReason = 3 // its slot points backwards: a stale slot of an earlier use
	repairTombstone       repairReason = 4 // a tombstone in the unsynced tail (may be stale)
	repairNoSegment       repairReason = 5 // its slot names a segment that is not there
	repairIndexFull       repairReason = 6 // the index on disk cannot hold it (its growth never reached the disk)
	repairBatchIncomplete repairReason = 7 // it starts a batch whose last record is not there
)

// String describes the reason.
func (r repairReason) String() string {
	switch r {
	case repairRecordInvalid:
		return "the record failed validation (torn write)"
	case repairSlotUnwritten:
		return "its index slot was never written back"
	case repairSlotStale:
		return "its index slot is stale (points before the previous event's record)"
	case repairTombstone:
		return "a tombstone in the unsynced tail (may be stale)"
	case repairNoSegment:
		return "its index slot names a segment that is missing or invalid"
	case repairIndexFull:
		return "the index on disk cannot hold it (its growth never reached the disk)"
	case repairBatchIncomplete:
		return "its batch is incomplete (a record of it is torn or missing)"
	}
	return "unknown reason"
}

// Repair describes what an Open removed from the end of the log: events appended after
// the durable recovery point that a power loss or kernel crash tore. Open removes events
// only there (docs/FORMAT.md section 6), never below the recovery point and never within
// the boot that appended them.
type Repair struct {
	// Count is the number of repairs that removed events over the log's life.
	Count uint64
	// From and To bound the ids the last repair removed: [From, To).
	From, To EventID
	// At is when the last repair ran.
	At time.Time
	// Path and Offset locate the first record that failed (Path empty when none: e.g. an
	// unwritten index slot names no record).
	Path   string
	Offset int64
	// Reason says why that record failed.
	Reason string
}

// String formats the repair on one line.
func (r Repair) String() string {
	where := ""
	if r.Path != "" {
		where = fmt.Sprintf(" (%s at offset %d)", r.Path, r.Offset)
	}
	return fmt.Sprintf("a repair after a reboot removed events [%d, %d), past the recovery point, on %s: event %d%s: %s",
		r.From, r.To, r.At.UTC().Format(time.RFC3339), r.From, where, r.Reason)
}

// writeRepair records a repair that removed [from, to), bad naming the first failing
// record. The caller holds the writer lock.
func (l *Log) writeRepair(from, to EventID, bad tailFault) {
	count := atomic.LoadUint64(l.metaWord(metaRepairOff)) + 1
	l.storeMetaRecord(metaRepairOff, []uint64{count, from, to, uint64(time.Now().UnixNano()), bad.seq, bad.off, uint64(bad.reason)})
}

// metaWord returns a pointer to the meta file's word at off.
func (l *Log) metaWord(off int) *uint64 { return (*uint64)(unsafe.Pointer(&l.meta[off])) }

// storeMetaRecord stores a CRC-protected record of the meta file (the repair and the
// retention record) at off: the CRC (after the words) zeroed first, the words one by one,
// the CRC of their bytes last. The caller holds the writer lock.
func (l *Log) storeMetaRecord(off int, words []uint64) {
	crcp := (*uint32)(unsafe.Pointer(&l.meta[off+8*len(words)]))
	atomic.StoreUint32(crcp, 0)
	b := make([]byte, 8*len(words))
	for i, v := range words {
		atomic.StoreUint64(l.metaWord(off+8*i), v)
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	atomic.StoreUint32(crcp, crc32.Checksum(b, castagnoli))
}

// loadMetaRecord loads the words of the record at off into words and reports whether the
// record is all zero (never written) and whether its CRC matches.
func (l *Log) loadMetaRecord(off int, words []uint64) (zero, crcOK bool) {
	b := make([]byte, 8*len(words))
	zero = true
	for i := range words {
		words[i] = atomic.LoadUint64(l.metaWord(off + 8*i))
		binary.LittleEndian.PutUint64(b[8*i:], words[i])
		zero = zero && words[i] == 0
	}
	crc := atomic.LoadUint32((*uint32)(unsafe.Pointer(&l.meta[off+8*len(words)])))
	return zero && crc == 0, crc == crc32.Checksum(b, castagnoli)
}

// readRepair returns the log's repair record: ok false when no repair ever removed
// anything, an error when the record is damaged.
func (l *Log) readRepair() (r Repair, ok bool, err error) {
	for attempt := 0; ; attempt++ {
		var words [repairWords]uint64
		zero, crcOK := l.loadMetaRecord(metaRepairOff, words[:])
		if zero {
			return Repair{}, false, nil
		}
		if !crcOK || words[0] == 0 || words[1] >= words[2] {
			if attempt < 10 {
				time.Sleep(time.Millisecond) // an Open may be writing it
				continue
			}
			return Repair{}, false, corruptf(join(l.dir, metaFileName), metaRepairOff, "repair record fails its checksum")
		}
		r = Repair{Count: words[0], From: words[1], To: words[2], At: time.Unix(0, int64(words[3])), Offset: -1, Reason: repairReason(words[6]).String()}
		if words[4] != noSegment {
			r.Path, r.Offset = l.segmentPath(words[4]), int64(words[5])
		}
		return r, true, nil
	}
}

// noSegment in a repair record's seq field: the failure names no record.
const noSegment = ^uint64(0)

// tailFault locates the first invalid record of an unsynced tail.
type tailFault struct {
	seq, off uint64 // segment and offset of the record (seq noSegment: none)
	reason   repairReason
}
