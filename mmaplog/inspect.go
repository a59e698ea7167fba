package mmaplog

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"sync/atomic"

	"github.com/ringlog/ringlog/internal/record"
	"github.com/ringlog/ringlog/ringindex"
)

// Inspection describes every file of a log directory at one committed state: what an
// operator's stat tool prints. Inspect returns it.
type Inspection struct {
	// Dir is the log directory.
	Dir string
	// Meta describes the meta file and the committed state it holds.
	Meta MetaInfo
	// Indexes lists the index files, by generation.
	Indexes []IndexInfo
	// Segments lists the segment files, by seq.
	Segments []SegmentInfo
	// Lock describes the writer lock: its holder and the writers waiting for it.
	Lock LockInfo
	// Pool lists the names of the files in the recycling pool (docs/FORMAT.md section 14).
	Pool []string
	// Other lists the names of the other files in the directory (temporary files of a
	// create in progress, files that are not the log's).
	Other []string
}

// MetaInfo describes the meta file and the committed state (docs/FORMAT.md section 2).
type MetaInfo struct {
	// Path is the meta file.
	Path string
	// Version is the format version in its header.
	Version uint32
	// LogID identifies the log; every file of the log carries it.
	LogID [16]byte
	// SegmentSize is the size of every segment file.
	SegmentSize uint64
	// Commit is the commit word: Generation << 16 | TailCount.
	Commit uint64
	// Generation selects the state copy; TailCount is the number of events fast appends
	// published after it.
	Generation, TailCount uint64
	// NextEventID is the id the next append must carry; SyncedNextEventID the recovery
	// point (every id below it was durable at the last Sync).
	NextEventID, SyncedNextEventID EventID
	// OldestEventID and NewestEventID bound the live ids (meaningful when Live > 0).
	OldestEventID, NewestEventID EventID
	// Live is the number of live events, Dead the tombstoned ids in [oldest, next).
	Live, Dead uint64
	// FirstSegment is the lowest seq that can hold a live event, ActiveSegment the one
	// receiving appends, WriteOffset where the next record goes in it.
	FirstSegment, ActiveSegment, WriteOffset uint64
}

// IndexInfo describes one index file.
type IndexInfo struct {
	// Path is the file.
	Path string
	// Generation and Capacity (slots) as the state names them.
	Generation, Capacity uint64
	// Role is "current", "growth target" (an online growth copies into it; CopiedTo is
	// its frontier) or "retired" (replaced by a growth, to be deleted).
	Role string
	// CopiedTo is the growth frontier of a growth target: slots of ids below it are
	// copied.
	CopiedTo EventID
	// Bytes is the file's size.
	Bytes uint64
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	// Path is the file, Seq its number.
	Path string
	Seq  uint64
	// State is "active" (receiving appends), "sealed" (before the active segment),
	// "prepared" (created ahead of the active segment) or "orphan" (below the first live
	// segment: a delete's unlink that has not happened yet).
	State string
	// Events is the number of live events whose records lie in the file; FirstID and
	// LastID bound them (meaningful when Events > 0).
	Events          uint64
	FirstID, LastID EventID
	// BytesUsed is the bytes from the start of the file to the end of the last record the
	// index names in it (the write offset for the active segment; the header alone when
	// it names none).
	BytesUsed uint64
	// BytesAllocated is the file's size.
	BytesAllocated uint64
}

// LockInfo describes the directory's writer lock.
type LockInfo struct {
	// Path is the lock file.
	Path string
	// HolderPID is the process holding the lock, from /proc/locks (Linux); 0 when no
	// process holds it or when it cannot be told.
	HolderPID int
	// HolderKnown reports whether the holder could be looked up at all.
	HolderKnown bool
	// Waiters is the meta file's count of writers blocked on the lock (a hint: see
	// docs/FORMAT.md section 8), WaiterPIDs the pids in its waiter slots.
	Waiters    uint32
	WaiterPIDs []int
}

// Inspect describes every file of the log at the current committed state: the meta
// state, each index file, each segment file with the live events it holds and the bytes
// it uses, and the writer lock's holder and waiters. It reads only: a ReadOnly handle
// serves, and it takes no lock. It loads every live event's index slot (not the records),
// so it costs a pass over the index.
func (l *Log) Inspect() (in *Inspection, err error) {
	if err := l.rlock(); err != nil {
		return nil, err
	}
	defer l.segMu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err)
	st := l.loadState()
	idx, err := l.indexFor(st.indexGen)
	if err != nil {
		return nil, err
	}
	if st.tail() != 0 {
		st.writeOff = l.tailEnd(&st, idx)
	}
	in = &Inspection{Dir: l.dir}
	in.Meta = MetaInfo{
		Path: join(l.dir, metaFileName), Version: binary.LittleEndian.Uint32(l.meta[8:12]),
		LogID: l.logID, SegmentSize: l.opts.segmentSize,
		Commit: st.gen, Generation: st.gen >> tailBits, TailCount: st.tail(),
		NextEventID: st.next, SyncedNextEventID: st.syncedNext, OldestEventID: st.oldest, NewestEventID: st.newest,
		Live: st.live, Dead: st.dead, FirstSegment: st.firstSeq, ActiveSegment: st.activeSeq, WriteOffset: st.writeOff,
	}
	in.Lock = l.lockInfo()
	segs := l.segmentUsage(&st, idx)
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("mmaplog: inspect: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		info, ierr := e.Info()
		if ierr != nil {
			continue // removed meanwhile
		}
		size := uint64(info.Size())
		if seq, ok := parseSegmentFileName(name); ok && !isTempName(name) {
			in.Segments = append(in.Segments, l.segmentInfo(&st, seq, size, segs[seq]))
			continue
		}
		if gen, ok := ringindex.ParseFileName(name); ok && !isTempName(name) {
			x := IndexInfo{Path: join(l.dir, name), Generation: gen, Role: "retired", Bytes: size}
			switch gen {
			case st.indexGen:
				x.Role, x.Capacity = "current", st.indexCap
			case st.migGen:
				x.Role, x.Capacity, x.CopiedTo = "growth target", st.migCap, st.migNext
			default:
				if size >= ringindex.HeaderSize {
					x.Capacity = (size - ringindex.HeaderSize) / ringindex.SlotSize
				}
			}
			in.Indexes = append(in.Indexes, x)
			continue
		}
		if _, ok := parsePoolFileName(name); ok {
			in.Pool = append(in.Pool, name)
			continue
		}
		if name != metaFileName && name != lockFileName {
			in.Other = append(in.Other, name)
		}
	}
	sort.Slice(in.Segments, func(i, j int) bool { return in.Segments[i].Seq < in.Segments[j].Seq })
	sort.Slice(in.Indexes, func(i, j int) bool { return in.Indexes[i].Generation < in.Indexes[j].Generation })
	return in, nil
}

// segUsage is what the index says about one segment: its live events and the slot of
// its record at the highest offset.
type segUsage struct {
	events          uint64
	firstID, lastID EventID
	maxSlot         ringindex.Slot
}

// segmentUsage walks the slots of [oldest, next) and sums them up per segment. The
// caller holds segMu for reading.
func (l *Log) segmentUsage(st *state, idx *ringindex.Index) map[uint64]*segUsage {
	segs := map[uint64]*segUsage{}
	if st.live == 0 {
		return segs
	}
	for id := st.oldest; id < st.next; id++ {
		slot := idx.Load(id)
		if slot.IsZero() {
			continue
		}
		seq := slot.FullSeq(st.activeSeq)
		u := segs[seq]
		if u == nil {
			u = &segUsage{}
			segs[seq] = u
		}
		if slot.Offset() > u.maxSlot.Offset() {
			u.maxSlot = slot
		}
		if slot.Tombstoned() || !st.isLive(id) {
			continue
		}
		if u.events == 0 {
			u.firstID = id
		}
		u.events++
		u.lastID = id
	}
	return segs
}

// segmentInfo builds the row of segment seq. The caller holds segMu for reading.
func (l *Log) segmentInfo(st *state, seq, size uint64, u *segUsage) SegmentInfo {
	s := SegmentInfo{Path: l.segmentPath(seq), Seq: seq, BytesAllocated: size, BytesUsed: segHeaderSize}
	switch {
	case seq == st.activeSeq:
		s.State = "active"
	case seq > st.activeSeq:
		s.State = "prepared"
	case seq < st.firstSeq:
		s.State = "orphan"
	default:
		s.State = "sealed"
	}
	if u != nil {
		s.Events, s.FirstID, s.LastID = u.events, u.firstID, u.lastID
		if seg, err := l.lookupSegment(seq); err == nil {
			if n, ok := record.Length(seg.data, u.maxSlot.Offset()); ok && n <= l.opts.maxEventSize {
				s.BytesUsed = u.maxSlot.Offset() + recordSize(int(n))
			}
		}
	}
	if seq == st.activeSeq {
		s.BytesUsed = max(s.BytesUsed, st.writeOff)
	}
	return s
}

// lockInfo reads the waiter words of the meta file and looks up the lock's holder.
func (l *Log) lockInfo() LockInfo {
	li := LockInfo{Path: join(l.dir, lockFileName)}
	li.Waiters = atomic.LoadUint32(l.lockWaiters())
	for i := 0; i < waiterSlots; i++ {
		if pid := atomic.LoadUint32(l.waiterSlot(i)); pid != 0 {
			li.WaiterPIDs = append(li.WaiterPIDs, int(pid))
		}
	}
	li.HolderPID, li.HolderKnown = lockHolder(li.Path)
	return li
}

// LockStatus returns the writer lock's holder and waiters, the Lock part of Inspect,
// without walking the index: cheap enough to poll. It takes no lock.
func (l *Log) LockStatus() (LockInfo, error) {
	if err := l.rlock(); err != nil {
		return LockInfo{}, err
	}
	defer l.segMu.RUnlock()
	return l.lockInfo(), nil
}
