package mmaplog

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/edsrzf/mmap-go"
)

// SegmentRecord is one record of a segment file read on its own by ReadSegment.
type SegmentRecord struct {
	// ID is the event id the record carries.
	ID EventID
	// Offset is the byte offset of the record in the file.
	Offset int64
	// Data is the event's bytes. It aliases a read-only mapping of the file: valid only
	// until the loop body returns, and not to be modified. Copy what you keep.
	Data []byte
}

// ReadSegment returns an iterator over the validated records of the segment file at path,
// read on its own, without the rest of its log: for instance a sealed segment that Rotate
// returned and that was copied out of the log directory for archival before a prefix
// DeleteRange freed the space (the archival flow of the Azoth EventLog: rotate, archive
// the returned file, delete_range).
//
// The file's header is validated first (magic, version, header checksum, size, and the
// seq against the file name when the name is a segment file name): a damaged or foreign
// file yields a single *CorruptError wrapping ErrCorrupt, a file of an unknown format
// version one wrapping ErrVersion, and a file that cannot be opened its *fs.PathError.
// Then every record is checked as the log checks it (length, id, CRC-32C) and yielded in
// the order it was written, with a nil error. A record that fails its checks while a
// valid record follows later in the file is damage: it is yielded as a *CorruptError
// (ErrCorrupt) naming the file and the record's offset, immediately followed by the next
// valid record, with which the iteration goes on; an error about the file as a whole is
// the only item yielded. The records end at the first one that fails its checks with no
// valid record after it: the space after the last record of a segment is unwritten, or
// holds what a writer killed before its commit left there.
//
// A segment file alone does not know which of its records its log still held live: it
// holds the records of a prefix delete's victims, and after a suffix delete (which
// rewinds the next id) an id can occur twice, the later record being the one appended
// again; a record that a writer completed but was killed before committing can appear
// after the last committed one. Damage to the last record of a file looks like its end:
// Check on the log, which knows the committed state, finds that.
//
// Breaking out of the loop stops the iteration. The file is mapped for the duration of
// the loop and unmapped when it ends.
func ReadSegment(path string) iter.Seq2[SegmentRecord, error] {
	return func(yield func(SegmentRecord, error) bool) {
		sf, err := openSegmentFile(path)
		if err != nil {
			yield(SegmentRecord{}, err)
			return
		}
		defer sf.close()
		off := uint64(segHeaderSize)
		for {
			rec, damage, next, ok, err := sf.step(off)
			if err != nil {
				yield(SegmentRecord{}, err)
				return
			}
			if !ok {
				return
			}
			if damage != nil && !yield(SegmentRecord{}, damage) {
				return
			}
			if !yield(rec, nil) {
				return
			}
			off = next
		}
	}
}

// segmentFile is a segment file mapped read-only on its own (ReadSegment).
type segmentFile struct {
	path   string
	data   mmap.MMap
	maxLen uint64 // the largest payload a record of this segment size can have
	seed   uint32 // the record seed the header names
	lastID EventID
	haveID bool // lastID holds the id of the last valid record
}

// openSegmentFile validates the header of the segment file at path, taking the seq,
// segment size and log id it names from the header itself, and maps the file read-only.
func openSegmentFile(path string) (*segmentFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read segment", Path: path, Err: fmt.Errorf("%w: not a regular file", ErrCorrupt)}
	}
	if err := lockMapping(f); err != nil { // a file of a live log may be recycled
		return nil, corruptf(path, 0, "segment file is being recycled")
	}
	var hdr [segHeaderSize]byte
	n, _ := f.ReadAt(hdr[:], 0)
	if n < segHeaderLen {
		return nil, corruptf(path, int64(n), "segment file is %d bytes, shorter than a segment header", fi.Size())
	}
	// The header names the segment; checkSegHeader then validates magic, version,
	// checksum and header size exactly as Open does.
	want := segHeader{seq: binary.LittleEndian.Uint64(hdr[16:24]), segmentSize: binary.LittleEndian.Uint64(hdr[24:32])}
	copy(want.logID[:], hdr[32:48])
	seed, err := checkSegHeader(path, hdr[:n], want)
	if err != nil {
		return nil, err
	}
	if s := want.segmentSize; s < MinSegmentSize || s > MaxSegmentSize || s%4096 != 0 {
		return nil, corruptf(path, 24, "segment size %d out of range", s)
	}
	if uint64(fi.Size()) < want.segmentSize {
		return nil, corruptf(path, fi.Size(), "segment file is %d bytes, its header says %d", fi.Size(), want.segmentSize)
	}
	if seq, ok := parseSegmentFileName(filepath.Base(path)); ok && seq != want.seq {
		return nil, corruptf(path, 16, "segment seq %d, the file name says %d", want.seq, seq)
	}
	m, err := mmap.MapRegion(f, int(want.segmentSize), mmap.RDONLY, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("mmaplog: map %s: %w", path, err)
	}
	return &segmentFile{path: path, data: m, seed: seed, maxLen: want.segmentSize - segHeaderSize - recordHeaderSize}, nil
}

// close unmaps the file.
func (sf *segmentFile) close() { _ = sf.data.Unmap() }

// step reads the record at off. It returns the record and the offset after it, with ok;
// damage is non-nil when the record at off failed its checks and rec is the next valid
// record after it. ok is false at the end of the records. err reports a memory fault (the
// file was truncated under the mapping).
func (sf *segmentFile) step(off uint64) (rec SegmentRecord, damage error, next uint64, ok bool, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err)
	if p, id, valid := sf.decodeAt(off); valid {
		return sf.accept(off, id, p), nil, off + recordSize(len(p)), true, nil
	} else if sf.unwritten(off) {
		return rec, nil, 0, false, nil
	}
	_, _, msg := sf.decodeMsg(off)
	for o := off + recordAlign; o+recordHeaderSize <= uint64(len(sf.data)); o += recordAlign {
		if sf.unwritten(o) || !sf.plausibleID(off, o) {
			continue
		}
		if p, id, valid := sf.decodeAt(o); valid {
			damage = corruptf(sf.path, int64(off), "%s (the next valid record is at offset %d)", msg, o)
			return sf.accept(o, id, p), damage, o + recordSize(len(p)), true, nil
		}
	}
	return rec, nil, 0, false, nil
}

// accept records id as the last valid one and returns the record.
func (sf *segmentFile) accept(off uint64, id EventID, p []byte) SegmentRecord {
	sf.lastID, sf.haveID = id, true
	return SegmentRecord{ID: id, Offset: int64(off), Data: p[:len(p):len(p)]}
}

// decodeAt validates the record at off against the id its own header carries.
func (sf *segmentFile) decodeAt(off uint64) ([]byte, EventID, bool) {
	p, id, msg := sf.decodeMsg(off)
	return p, id, msg == ""
}

// decodeMsg is decodeAt returning the failed check's description.
func (sf *segmentFile) decodeMsg(off uint64) ([]byte, EventID, string) {
	if off+recordHeaderSize > uint64(len(sf.data)) {
		return nil, 0, "record header beyond the end of the file"
	}
	id := binary.LittleEndian.Uint64(sf.data[off+8:])
	p, msg := decodeRecord(sf.data, off, id, sf.maxLen, sf.seed)
	return p, id, msg
}

// unwritten reports whether the record header at off is all zero (space never written).
func (sf *segmentFile) unwritten(off uint64) bool {
	if off+recordHeaderSize > uint64(len(sf.data)) {
		return true
	}
	h := sf.data[off : off+recordHeaderSize]
	return binary.LittleEndian.Uint64(h[0:8])|binary.LittleEndian.Uint64(h[8:16]) == 0
}

// plausibleID reports whether the header at o, searched for after a damaged record at off,
// can be the next record: ids grow by one per record within a segment (or go back after a
// suffix delete), so it cannot exceed the last valid id by more than the records that fit
// in between. This keeps the search from checksumming random lengths of garbage.
func (sf *segmentFile) plausibleID(off, o uint64) bool {
	if !sf.haveID {
		return true
	}
	id := binary.LittleEndian.Uint64(sf.data[o+8:])
	return id <= sf.lastID+1+(o-off)/recordHeaderSize
}
