package cursortable

import (
	"encoding/binary"
	"hash/crc32"
	"unsafe"
)

// The cursors file (docs/FORMAT.md §13). All integers little-endian. Every constant in
// this block is part of the on-disk format and MUST NOT CHANGE.
//
// Header page (offset 0, HeaderSize bytes; bytes past 44 are zero):
//
//	0        8       12      16      20      24           40      44
//	+--------+-------+-------+-------+-------+------------+-------+----------+
//	| magic  | vers. | entry | capa- | entry | logID      | crc32c| zero ... |
//	|RLOGCURS| = 1   | size  | city  | off   | (16 bytes) | 0..40 |          |
//	+--------+-------+-------+-------+-------+------------+-------+----------+
//
// Entry i (offset HeaderSize + i*EntrySize, EntrySize bytes):
//
//	0      8      16     24     32     36       40     48     56     60     64          128
//	+------+------+------+------+------+--------+------+------+------+------+-----------+
//	| lock | gen  | seq0 | pos0 | crc0 | nameCRC| seq1 | pos1 | crc1 | epoch| name (64) |
//	+------+------+------+------+------+--------+------+------+------+------+-----------+
//
//	lock     owner token of a commit, create or delete in progress (0: none); CAS 0 -> token
//	gen      seq of the current copy; the copy index is gen & 1
//	seqN     sequence number of copy N (a valid copy N has seqN & 1 == N)
//	posN     committed position of copy N: the next id to read
//	crcN     crc32c(seqN || posN || nameCRC), Castagnoli, little-endian fields
//	nameCRC  crc32c(slot index u32 || epoch u32 || name 64 bytes)
//	epoch    incremented by every create in the slot (so a deleted cursor's copies fail
//	         the CRC of its successor)
//	name     1..64 bytes of [A-Za-z0-9._-], zero-padded; a free slot has name[0:8] == 0
const (
	// Magic opens every cursors file. Must not change.
	Magic = "RLOGCURS"
	// Version is the format version this package writes and reads. Must not change.
	Version = 1
	// HeaderSize is the size of the header page; the first entry follows it. Must not change.
	HeaderSize = 4096
	// EntrySize is the size of one entry. Must not change.
	EntrySize = 128
	// Capacity is the number of entries of a table. Must not change.
	Capacity = 256
	// FileSize is the size of a cursors file: 69,632 bytes (17 pages).
	FileSize = HeaderSize + Capacity*EntrySize
	// MaxNameLen is the longest cursor name, in bytes.
	MaxNameLen = 64
	// FileName is the name of the table file in a log directory.
	FileName = "cursors"

	hdrMagicOff    = 0
	hdrVersionOff  = 8
	hdrEntrySzOff  = 12
	hdrCapacityOff = 16
	hdrEntryOff    = 20
	hdrLogIDOff    = 24
	hdrCRCOff      = 40
	hdrLen         = 44

	entLockOff  = 0
	entGenOff   = 8
	entCopy0Off = 16 // seq0, pos0, crc0
	entCopy1Off = 40 // seq1, pos1, crc1
	entNameOff  = 64
	copyStride  = entCopy1Off - entCopy0Off
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rawEntry is the in-memory view of one mapped entry. Every field is read and written
// with sync/atomic only: other processes change it at any time.
type rawEntry struct {
	lock    uint64
	gen     uint64
	seq0    uint64
	pos0    uint64
	crc0    uint32
	nameCRC uint32
	seq1    uint64
	pos1    uint64
	crc1    uint32
	epoch   uint32
	name    [MaxNameLen / 8]uint64
}

// Compile-time checks that rawEntry matches the format.
var (
	_ [EntrySize - unsafe.Sizeof(rawEntry{})]struct{}
	_ [unsafe.Sizeof(rawEntry{}) - EntrySize]struct{}
	_ [entCopy1Off - unsafe.Offsetof(rawEntry{}.seq1)]struct{}
	_ [unsafe.Offsetof(rawEntry{}.seq1) - entCopy1Off]struct{}
	_ [entNameOff - unsafe.Offsetof(rawEntry{}.name)]struct{}
	_ [unsafe.Offsetof(rawEntry{}.name) - entNameOff]struct{}
)

// copyPtrs returns the words of copy i (0 or 1).
func (r *rawEntry) copyPtrs(i uint64) (seq, pos *uint64, crc *uint32) {
	if i&1 == 0 {
		return &r.seq0, &r.pos0, &r.crc0
	}
	return &r.seq1, &r.pos1, &r.crc1
}

// copyCRC is the checksum of a copy: crc32c(seq || pos || nameCRC), little-endian, the
// same value as crc32.Checksum over those 20 bytes. It works on the words themselves
// (slicing-by-8): no byte buffer, no allocation, no dispatch on Commit's path.
func copyCRC(seq, pos uint64, nameCRC uint32) uint32 {
	c := ^uint32(0)
	c = crcWord(c, seq)
	c = crcWord(c, pos)
	for i := range 4 {
		c = crc8[0][byte(c)^byte(nameCRC>>(8*i))] ^ c>>8
	}
	return ^c
}

// crcWord feeds the 8 little-endian bytes of w into the running (inverted) CRC c.
func crcWord(c uint32, w uint64) uint32 {
	x := w ^ uint64(c)
	t := &crc8
	return t[7][byte(x)] ^ t[6][byte(x>>8)] ^ t[5][byte(x>>16)] ^ t[4][byte(x>>24)] ^
		t[3][byte(x>>32)] ^ t[2][byte(x>>40)] ^ t[1][byte(x>>48)] ^ t[0][byte(x>>56)]
}

// crc8 are the slicing-by-8 tables of CRC32C: crc8[0] is the bytewise table, crc8[k][i]
// the CRC of byte i followed by k zero bytes.
var crc8 = func() (t [8][256]uint32) {
	t[0] = *castagnoli
	for i := range 256 {
		for k := 1; k < 8; k++ {
			p := t[k-1][i]
			t[k][i] = p>>8 ^ t[0][byte(p)]
		}
	}
	return t
}()

// nameWords packs a validated name into the zero-padded words of the name field.
func nameWords(name string) (w [MaxNameLen / 8]uint64) {
	var b [MaxNameLen]byte
	copy(b[:], name)
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	return w
}

// wordsName unpacks the name field.
func wordsName(w *[MaxNameLen / 8]uint64) string {
	var b [MaxNameLen]byte
	for i := range w {
		binary.LittleEndian.PutUint64(b[i*8:], w[i])
	}
	n := 0
	for n < len(b) && b[n] != 0 {
		n++
	}
	return string(b[:n])
}

// nameCRCOf is the checksum of an entry's identity: its slot, epoch and name words.
func nameCRCOf(slot int, epoch uint32, w *[MaxNameLen / 8]uint64) uint32 {
	var b [8 + MaxNameLen]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(slot))
	binary.LittleEndian.PutUint32(b[4:], epoch)
	for i := range w {
		binary.LittleEndian.PutUint64(b[8+i*8:], w[i])
	}
	return crc32.Checksum(b[:], castagnoli)
}

// ValidName reports whether name is a valid cursor name: 1..MaxNameLen bytes of
// [A-Za-z0-9._-].
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// encodeHeader returns the header page of a new table.
func encodeHeader(logID [16]byte) []byte {
	b := make([]byte, HeaderSize)
	copy(b[hdrMagicOff:], Magic)
	binary.LittleEndian.PutUint32(b[hdrVersionOff:], Version)
	binary.LittleEndian.PutUint32(b[hdrEntrySzOff:], EntrySize)
	binary.LittleEndian.PutUint32(b[hdrCapacityOff:], Capacity)
	binary.LittleEndian.PutUint32(b[hdrEntryOff:], HeaderSize)
	copy(b[hdrLogIDOff:], logID[:])
	binary.LittleEndian.PutUint32(b[hdrCRCOff:], crc32.Checksum(b[:hdrCRCOff], castagnoli))
	return b
}

// validateHeader checks a header page: one distinct failure per field.
func validateHeader(path string, b []byte, logID [16]byte) error {
	if len(b) < hdrLen {
		return corrupt(path, 0, "header truncated")
	}
	if string(b[hdrMagicOff:hdrMagicOff+8]) != Magic {
		return corrupt(path, hdrMagicOff, "bad magic")
	}
	if crc32.Checksum(b[:hdrCRCOff], castagnoli) != binary.LittleEndian.Uint32(b[hdrCRCOff:]) {
		return corrupt(path, hdrCRCOff, "header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[hdrVersionOff:]); v != Version {
		return &CorruptError{Path: path, Offset: hdrVersionOff, What: "version " + itoa(uint64(v)), Err: ErrVersion}
	}
	if binary.LittleEndian.Uint32(b[hdrEntrySzOff:]) != EntrySize || binary.LittleEndian.Uint32(b[hdrCapacityOff:]) != Capacity || binary.LittleEndian.Uint32(b[hdrEntryOff:]) != HeaderSize {
		return corrupt(path, hdrEntrySzOff, "geometry (entry size, capacity, entry offset) differs from the format")
	}
	if [16]byte(b[hdrLogIDOff:hdrLogIDOff+16]) != logID {
		return corrupt(path, hdrLogIDOff, "logID belongs to another log")
	}
	return nil
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
