package mmaplog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// Segment recycling (docs/FORMAT.md section 14): a segment file that a delete frees is
// renamed into a small pool (free-00, free-01, ...) instead of being unlinked, and the
// next segment a writer needs is made from a pool file: its blocks are allocated and
// written, and its pages may still be cached. Each reuse gives the file a new salt, the
// seed of its records' CRCs, so nothing written in an earlier use validates again; and a
// file that any process still maps (the mapping holds a shared flock, section 9) is never
// taken.

const poolFilePrefix = "free-"

// poolFileName is the name of pool slot k.
func poolFileName(k int) string { return fmt.Sprintf("%s%02d", poolFilePrefix, k) }

// parsePoolFileName returns the slot of a pool file name.
func parsePoolFileName(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, poolFilePrefix)
	if !ok || len(digits) != 2 {
		return 0, false
	}
	k, err := strconv.Atoi(digits)
	return k, err == nil && k >= 0 && k < MaxRecycleSegments
}

// poolBound is how many files the pool may hold when this handle retires one: its
// Options.RecycleSegments, at most one under a MaxBytes retention policy (so the ring's
// directory stays within MaxBytes plus two segments, pool included).
func (l *Log) poolBound() int {
	n := l.opts.recycle
	if n > 1 {
		if r, err := l.readRetention(); err == nil && r.policy.MaxBytes > 0 {
			n = 1
		}
	}
	return n
}

// retireSegmentFile moves the file of segment seq, which no committed state references any
// more, into the first free slot of the pool, or unlinks it when the pool is full (or
// bound is 0). The caller holds the writer lock. No directory fsync: a rename undone by a
// power loss leaves an orphan segment, which the next Open retires again.
func (l *Log) retireSegmentFile(seq uint64, bound int) {
	path := l.segmentPath(seq)
	for k := range bound {
		err := renameNoReplace(path, join(l.dir, poolFileName(k)))
		if err == nil {
			return
		}
		if !errors.Is(err, fs.ErrExist) {
			break // the file is gone, or the directory refuses: unlink below
		}
	}
	_ = removeIfExists(path)
}

// published counts a segment file published from the pool (Stats.RecycledSegments).
func (l *Log) published(recycled bool) {
	if recycled {
		l.recycled.Add(1)
	}
}

// discardTemp disposes of a complete segment file prepared under a temporary name that
// was not published (another creator won, or the log moved past its seq): into the pool
// when it has room, else unlinked.
func (l *Log) discardTemp(tmp string) {
	for k := range l.poolBound() {
		if renameNoReplace(tmp, join(l.dir, poolFileName(k))) == nil {
			return
		}
	}
	_ = os.Remove(tmp)
}

// prepareSegmentTemp returns a complete file for segment seq under a temporary name,
// ready to be renamed into place: a pool file with its header rewritten when one can be
// taken (recycled), else a new preallocated file.
func (l *Log) prepareSegmentTemp(seq uint64) (tmp string, recycled bool, err error) {
	final := l.segmentPath(seq)
	for k := range l.opts.recycle {
		pool := join(l.dir, poolFileName(k))
		tmp = tempName(final)
		if renameNoReplace(pool, tmp) != nil {
			continue // an empty slot (or another process took it first)
		}
		if l.reincarnate(tmp, pool, seq) {
			return tmp, true, nil
		}
	}
	hdr := encodeSegHeader(segHeader{seq: seq, segmentSize: l.opts.segmentSize, logID: l.logID, salt: newSalt(0, false)})
	tmp, err = prepareTemp(final, int64(l.opts.segmentSize), hdr, l.opts.fileMode)
	return tmp, false, err
}

// reincarnate turns the pool file just claimed as tmp into segment seq: under an exclusive
// flock (which fails while any process maps the file: it then goes back to slot pool),
// it writes a version-3 header with seq and the next salt, and syncs that page alone. A file that is
// not a whole segment of this log's size is unlinked. It reports whether tmp is ready.
func (l *Log) reincarnate(tmp, pool string, seq uint64) bool {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		_ = os.Remove(tmp)
		return false
	}
	defer f.Close() // drops the exclusive lock: no mapping of the file exists
	if !lockRecycle(f) {
		if renameNoReplace(tmp, pool) != nil {
			_ = os.Remove(tmp)
		}
		return false
	}
	fi, err := f.Stat()
	if err != nil || uint64(fi.Size()) != l.opts.segmentSize {
		_ = os.Remove(tmp)
		return false
	}
	var old [segHeaderSize]byte
	_, _ = f.ReadAt(old[:], 0)
	prev, hadSalt := l.saltOf(tmp, old[:])
	hdr := encodeSegHeader(segHeader{seq: seq, segmentSize: l.opts.segmentSize, logID: l.logID, salt: newSalt(prev, hadSalt)})
	if _, err := f.WriteAt(hdr, 0); err != nil {
		_ = os.Remove(tmp)
		return false
	}
	// Only the header's page: the file's earlier use may have left up to a whole
	// segment of dirty pages, stale now, which an fsync would write back first.
	if err := syncHead(f, len(hdr)); err != nil {
		_ = os.Remove(tmp)
		return false
	}
	return true
}

// saltOf returns the salt of hdr when it is a valid version-3 segment header of this log.
func (l *Log) saltOf(path string, hdr []byte) (uint32, bool) {
	want := segHeader{seq: binary.LittleEndian.Uint64(hdr[16:24]), segmentSize: l.opts.segmentSize, logID: l.logID}
	seed, err := checkSegHeader(path, hdr, want)
	return seed, err == nil && binary.LittleEndian.Uint32(hdr[8:12]) >= 3
}
