package mmaplog

import (
	"fmt"
	"os"

	"github.com/ringlog/ringlog/ringindex"
)

// Rotate seals the active segment, even an empty one, and returns its path; later appends
// go to the next segment.
func (l *Log) Rotate() (string, error) {
	w, err := l.begin()
	if err != nil {
		return "", err
	}
	sealed := w.st.activeSeq
	if err := l.ensureSegmentFile(sealed + 1); err != nil {
		w.abort()
		return "", err
	}
	if err := w.clearAbandoned(sealed+1, segHeaderSize); err != nil {
		w.abort()
		return "", err
	}
	if seg, err := w.segment(sealed); err == nil {
		sealSegment(seg.data)
	}
	w.st.activeSeq, w.st.writeOff = sealed+1, segHeaderSize
	w.commit()
	w.enforceRetention() // docs/FORMAT.md section 5.7
	w.end()
	return l.segmentPath(sealed), nil
}

// Stats describes a log at one moment.
type Stats struct {
	// EventCount is the number of live events.
	EventCount uint64
	// OldestEventID and NewestEventID bound the live ids (both 0 when EventCount is 0).
	OldestEventID, NewestEventID EventID
	// NextEventID is the id the next append must carry.
	NextEventID EventID
	// SyncedNextEventID is the durable point as this handle knows it: every event below
	// it survives a power loss. It is the recovery point of the last checkpoint (of any
	// handle), or later when a Sync of this handle flushed the records past it.
	SyncedNextEventID EventID
	// SharedFlushes counts this handle's records-only flushes (Sync, SyncAlways appends)
	// that another handle's flush covered (of this or another process): they issued no
	// msync of their own (group commit across handles).
	SharedFlushes uint64
	// Flushes counts the flushes this handle ran (for Sync, SyncAlways or SyncInterval
	// appends, and background checkpoints): each made the records written since its
	// previous one durable with one msync per file it touched. A Sync that an earlier or
	// a concurrent flush covered runs none, so events appended ÷ Flushes is the events
	// per device flush that group commit achieved.
	Flushes uint64
	// TotalBytes is the size of the segment files on disk.
	TotalBytes uint64
	// FileCount is the number of segment files.
	FileCount int
	// SegmentSize is the size of each segment file.
	SegmentSize uint64
	// SegmentCount is the number of segments from the first holding a live event to the
	// active one (FileCount may be higher while prepared or deleted segments exist).
	SegmentCount uint64
	// ActiveSegment is the seq of the segment receiving appends.
	ActiveSegment uint64
	// IndexCapacity is the number of slots of the index ring.
	IndexCapacity uint64
	// IndexGrowing is true while the index grows online into a larger file.
	IndexGrowing bool
	// BytesUsed is the bytes from the oldest live record to the write offset, in existing
	// segment files (records, padding and records deleted in between).
	BytesUsed uint64
	// BytesAllocated is the bytes of all the log's files: segments, index and meta.
	BytesAllocated uint64
	// MaxEventSize and MaxBatchBytes are the limits in force.
	MaxEventSize, MaxBatchBytes uint64
	// Retention is the retention policy in force (stored in the log; zero: keep
	// everything).
	Retention Retention
	// RetentionRemovedSegments, RetentionRemovedEvents and RetentionReclaimedBytes count
	// what retention removed over the log's life, in every process (a writer killed
	// between its delete and the count may leave one step uncounted).
	RetentionRemovedSegments, RetentionRemovedEvents, RetentionReclaimedBytes uint64
	// PoolFiles is the number of freed segment files in the recycling pool now
	// (docs/FORMAT.md section 14); their bytes count in BytesAllocated, not in TotalBytes.
	PoolFiles int
	// RecycledSegments counts the segment files this handle made from the pool instead
	// of creating them.
	RecycledSegments uint64
	// LastRepair is what the last repair of Open removed from the end of the log (events
	// past the recovery point that a power loss tore), with the count of such repairs over
	// the log's life; nil when no Open ever removed anything (or when the record is damaged,
	// which Check reports).
	LastRepair *Repair
}

// Stats returns counts and sizes of the log.
func (l *Log) Stats() (Stats, error) {
	if err := l.rlock(); err != nil {
		return Stats{}, err
	}
	st := l.loadState()
	var firstLiveSeq, firstOff uint64 = st.activeSeq, st.writeOff
	if idx, err := l.indexFor(st.indexGen); err == nil {
		if st.tail() != 0 {
			st.writeOff = l.tailEnd(&st, idx)
		}
		if slot := idx.Load(st.oldest); st.live > 0 && !slot.IsZero() {
			firstLiveSeq, firstOff = slot.FullSeq(st.activeSeq), slot.Offset()
		}
	}
	repair, repaired, repairErr := l.readRepair()
	ret, retErr := l.readRetention()
	l.segMu.RUnlock()
	s := Stats{
		EventCount:        st.live,
		NextEventID:       st.next,
		SyncedNextEventID: l.durableNext(&st),
		SharedFlushes:     l.sy.shared.Load(),
		Flushes:           l.sy.issued.Load(),
		RecycledSegments:  l.recycled.Load(),
		SegmentSize:       l.opts.segmentSize,
		ActiveSegment:     st.activeSeq,
		IndexCapacity:     st.indexCap,
		IndexGrowing:      st.migGen != 0,
		MaxEventSize:      l.opts.maxEventSize,
		MaxBatchBytes:     l.opts.maxBatchBytes,
	}
	if st.live > 0 {
		s.OldestEventID, s.NewestEventID = st.oldest, st.newest
	}
	if repaired && repairErr == nil { // a damaged repair record is Check's to report
		s.LastRepair = &repair
	}
	if retErr == nil { // a damaged retention record reads as none (Check reports it)
		s.Retention = ret.policy
		s.RetentionRemovedSegments, s.RetentionRemovedEvents, s.RetentionReclaimedBytes = ret.segments, ret.events, ret.reclaimedBytes
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return Stats{}, fmt.Errorf("mmaplog: stats: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if isTempName(name) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		size := uint64(info.Size())
		if seq, ok := parseSegmentFileName(name); ok {
			s.FileCount++
			s.TotalBytes += size
			s.BytesAllocated += size
			if seq >= firstLiveSeq && seq < st.activeSeq {
				s.BytesUsed += size
			}
			continue
		}
		if _, ok := parsePoolFileName(name); ok {
			s.PoolFiles++
			s.BytesAllocated += size
			continue
		}
		if _, ok := ringindex.ParseFileName(name); ok || name == metaFileName {
			s.BytesAllocated += size
		}
	}
	s.SegmentCount = st.activeSeq - st.firstSeq + 1
	if firstLiveSeq == st.activeSeq {
		s.BytesUsed = st.writeOff - firstOff
	} else {
		s.BytesUsed += st.writeOff - firstOff
	}
	return s, nil
}
