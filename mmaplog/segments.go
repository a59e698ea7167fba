package mmaplog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/edsrzf/mmap-go"
)

// segment is one mapped segment file of this handle.
type segment struct {
	seq   uint64
	seed  uint32 // the record seed of the file's incarnation (its header's salt)
	data  mmap.MMap
	refs  atomic.Int32 // pins held by View callbacks and iterators
	owner *Log         // the handle that mapped it (whose segCache may hold it)
}

// adviseSmallPages makes the page faults of a mapping that a flushing handle writes
// bring in single pages, without read-ahead (docs/FORMAT.md section 10): the kernel then
// keeps the file's new pages in 4 KiB folios, and an msync writes back only the pages the
// records dirtied, where a large folio (up to 2 MiB) is written whole. It runs once per
// mapping: from mapSegment once the handle flushes, or from startFlushing for the ones
// mapped before (both under segMu held for writing, so never both).
func (s *segment) adviseSmallPages() {
	if s.data != nil {
		adviseRandom(s.data)
	}
}

// unmap releases the mapping. The caller holds segMu for writing (or owns s alone), so no
// reader is between its segCache lookup and its use of s.data.
func (s *segment) unmap() {
	if s.owner != nil {
		s.owner.segCache[s.seq&(segCacheSize-1)].CompareAndSwap(s, nil)
	}
	if s.data != nil {
		_ = s.data.Unmap()
		s.data = nil
	}
}

// segCacheSize is the number of slots of a handle's segCache (a power of two).
const segCacheSize = 64

// segCache is a handle's direct-mapped cache in front of its l.segs map: one atomic load
// and a compare instead of a map lookup on every read. An entry is a segment the handle
// has mapped; it is stored by readers holding segMu for reading (when they find the
// segment in l.segs) and removed by unmap under segMu held for writing, before the mapping
// goes. So a reader holding segMu for reading that finds an entry with its seq has a live
// mapping. Seqs that share a slot only cost each other a map lookup.
type segCache [segCacheSize]atomic.Pointer[segment]

// cachedSegment returns the mapping of segment seq from the handle's segCache, or nil on
// a miss. The caller holds segMu for reading.
func (l *Log) cachedSegment(seq uint64) *segment {
	if s := l.segCache[seq&(segCacheSize-1)].Load(); s != nil && s.seq == seq {
		return s
	}
	return nil
}

// errSegmentGone reports a segment file that does not exist. Where a live event needs
// it, that is damage, so it wraps ErrCorrupt; readers first recheck whether the event was
// deleted meanwhile (which unlinks segments).
var errSegmentGone = fmt.Errorf("%w: segment file is missing", ErrCorrupt)

// mapSegment opens, validates and maps segment seq. The mapping holds a shared flock on
// the file for as long as it exists (taken before the header is read), which keeps the
// file out of recycling meanwhile (docs/FORMAT.md sections 9 and 14). A file that a
// recycler holds, or one whose header names another seq (recycled after it was opened
// by name), fails like a missing one: readers recheck the event, which a delete removed.
func (l *Log) mapSegment(seq uint64) (*segment, error) {
	path := join(l.dir, segmentFileName(seq))
	f, err := os.OpenFile(path, l.openFlag(), 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &CorruptError{Path: path, What: "segment file is missing", Err: errSegmentGone}
		}
		return nil, fmt.Errorf("mmaplog: %w", err)
	}
	defer f.Close()
	if err := lockMapping(f); err != nil {
		return nil, &CorruptError{Path: path, What: "segment file is being recycled", Err: errSegmentGone}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("mmaplog: %w", err)
	}
	if uint64(fi.Size()) < l.opts.segmentSize {
		return nil, corruptf(path, fi.Size(), "segment file is %d bytes, want %d", fi.Size(), l.opts.segmentSize)
	}
	var hdr [segHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, corruptf(path, 0, "read header: %v", err)
	}
	seed, err := checkSegHeader(path, hdr[:], segHeader{seq: seq, segmentSize: l.opts.segmentSize, logID: l.logID})
	if err != nil {
		return nil, err
	}
	m, err := mmap.MapRegion(f, int(l.opts.segmentSize), l.mapProt(), 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mmaplog: map %s: %w", path, err)
	}
	s := &segment{seq: seq, seed: seed, data: m, owner: l}
	if l.flushing.Load() && seq >= l.loadView().activeSeq {
		s.adviseSmallPages()
	}
	return s, nil
}

// lookupSegment returns the mapping of seq. The caller holds segMu for reading; if seq is
// not mapped yet, lookupSegment maps it, dropping and retaking the read lock. It returns
// ErrClosed if the handle was closed meanwhile (the read lock is then still held).
func (l *Log) lookupSegment(seq uint64) (*segment, error) {
	for {
		if s := l.cachedSegment(seq); s != nil {
			return s, nil
		}
		if s := l.segs[seq]; s != nil {
			l.segCache[seq&(segCacheSize-1)].Store(s)
			return s, nil
		}
		l.segMu.RUnlock()
		l.segMu.Lock()
		s := l.segs[seq]
		var err error
		if s == nil && !l.closed.Load() {
			s, err = l.mapSegment(seq)
			if err == nil {
				l.segs[seq] = s
			}
			// While mapping a new segment, release the mappings of segments that a prefix
			// delete (of any handle, in any process) has passed, unless something pins
			// them (or it is the one just mapped). A reader that follows the log thus
			// holds only the live part of it mapped.
			l.dropBelowLocked(l.loadView().firstSeq, seq)
		}
		l.segMu.Unlock()
		l.segMu.RLock()
		if l.closed.Load() {
			return nil, ErrClosed
		}
		if err != nil {
			return nil, err
		}
		if l.segs[seq] == s {
			return s, nil
		}
		// Another mapping dropped it between the two locks (it lies below firstSeq and
		// nothing pinned it yet): look it up again.
	}
}

// acquireSegment pins seq's mapping for use outside segMu (writer paths, View, iterators).
func (l *Log) acquireSegment(seq uint64) (*segment, error) {
	l.segMu.RLock()
	defer l.segMu.RUnlock()
	if l.closed.Load() {
		return nil, ErrClosed
	}
	s, err := l.lookupSegment(seq)
	if err != nil {
		return nil, err
	}
	s.refs.Add(1)
	return s, nil
}

func (l *Log) releaseSegment(seq uint64) {
	l.segMu.RLock()
	if s := l.segs[seq]; s != nil {
		s.refs.Add(-1)
	}
	l.segMu.RUnlock()
}

// dropBelowLocked unmaps the unpinned mappings of segments below firstSeq but keep. The
// caller holds segMu for writing.
func (l *Log) dropBelowLocked(firstSeq, keep uint64) {
	for seq, s := range l.segs {
		if seq < firstSeq && seq != keep && s.refs.Load() == 0 {
			s.unmap()
			delete(l.segs, seq)
		}
	}
}

// dropSegments unmaps the handle's mappings of segments that no longer hold live events
// (seq below firstSeq, or listed in dead) unless something pins them.
func (l *Log) dropSegments(firstSeq uint64, dead []uint64) {
	l.segMu.Lock()
	defer l.segMu.Unlock()
	drop := func(seq uint64, s *segment) {
		if s.refs.Load() == 0 {
			s.unmap()
			delete(l.segs, seq)
		}
	}
	for seq, s := range l.segs {
		if seq < firstSeq {
			drop(seq, s)
		}
	}
	for _, seq := range dead {
		if s := l.segs[seq]; s != nil {
			drop(seq, s)
		}
	}
}

// ensureSegmentFile creates segment seq if it does not exist yet (reusing a prepared one,
// or making it from the recycling pool). The caller holds the writer lock.
func (l *Log) ensureSegmentFile(seq uint64) error {
	path := join(l.dir, segmentFileName(seq))
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp, recycled, err := l.prepareSegmentTemp(seq)
	if err == nil {
		if err = renameNoReplace(tmp, path); err != nil {
			l.discardTemp(tmp)
		} else {
			l.published(recycled)
			err = syncDir(l.dir)
		}
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("mmaplog: create segment %d: %w", seq, err)
	}
	return nil
}

// prepareAhead creates, maps and prefaults segment seq in the background, off the append
// path, unless this handle already did or is doing it (a handle that flushes does not
// prefault: docs/FORMAT.md section 10). The slow part (preallocation,
// fsync) runs without the writer lock; the file is renamed into place under the lock and
// only if seq is not below the active segment, so preparation never resurrects a segment
// that a delete unlinked, and never touches one that appends already use.
func (l *Log) prepareAhead(seq uint64) {
	if l.opts.noPrefault || l.preparedSeq.Load() > seq || !l.prepBusy.CompareAndSwap(false, true) {
		return
	}
	l.prepWG.Add(1)
	go func() {
		defer l.prepWG.Done()
		defer l.prepBusy.Store(false)
		if l.closed.Load() || l.publishPrepared(seq) != nil {
			return
		}
		s, err := l.acquireSegment(seq)
		if err != nil {
			return
		}
		if !l.flushing.Load() {
			// A handle that flushes does not: populating a whole fresh segment in the
			// background was measured to slow its durable flushes; flushEnd populates
			// each chunk it writes ahead instead.
			prefault(s.data) // the whole mapping: madvise needs a page-aligned start
		}
		l.releaseSegment(seq)
		l.preparedSeq.Store(seq + 1)
	}()
}

// publishPrepared makes sure segment file seq exists if seq is the active segment or
// later. It returns an error (and creates nothing) when the log has moved past seq.
func (l *Log) publishPrepared(seq uint64) error {
	path := l.segmentPath(seq)
	tmp, recycled := "", false
	if _, err := os.Stat(path); err != nil {
		tmp, recycled, err = l.prepareSegmentTemp(seq)
		if err != nil {
			return err
		}
	}
	w, err := l.begin()
	if err != nil {
		if tmp != "" {
			l.discardTemp(tmp)
		}
		return err
	}
	active := w.st.activeSeq
	if seq < active || tmp == "" {
		w.abort()
		if tmp != "" {
			l.discardTemp(tmp)
			l.preparedSeq.Store(active)
			return errSegmentGone
		}
		return nil
	}
	err = renameNoReplace(tmp, path) // under the lock: the log cannot move past seq meanwhile
	w.abort()
	if err != nil {
		l.discardTemp(tmp)
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	l.published(recycled)
	return syncDir(l.dir)
}

// segmentPath returns the path of segment seq.
func (l *Log) segmentPath(seq uint64) string { return join(l.dir, segmentFileName(seq)) }
