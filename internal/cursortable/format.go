package cursortable

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sync/atomic"
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
//	0        8        16       24       32       40       44      48         64         128
//	+--------+--------+--------+--------+--------+--------+-------+----------+----------+
//	| ctl    | word0  | pos0   | word1  | pos1   | nameCRC| epoch | reserved | name (64)|
//	+--------+--------+--------+--------+--------+--------+-------+----------+----------+
//
//	ctl      bits 32..63: gen, the seq of the current copy (copy index gen & 1);
//	         bits 0..31: owner token of a commit, create or delete in progress (0: none),
//	         taken by CAS; Linux: pid (bits 0..21) | start time mod 1024 (bits 22..31)
//	wordN    copy N: bits 0..31 seqN (a valid copy N has seqN & 1 == N), bits 32..63 crcN
//	posN     copy N: the committed position, the next id to read
//	crcN     crc32c(posN u64 || seqN u32 || nameCRC u32), Castagnoli
//	nameCRC  crc32c(slot index u32 || epoch u32 || name 64 bytes)
//	epoch    incremented by every create in the slot (so a deleted cursor's copies fail
//	         the CRC of its successor)
//	reserved zero
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
	// FileSize is the size of a cursors file: 36,864 bytes (9 pages).
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

	entCtlOff   = 0
	entCopy0Off = 8  // word0, pos0
	entCopy1Off = 24 // word1, pos1
	entNameOff  = 64

	ownerMask = 1<<32 - 1 // the owner token bits of ctl
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rawEntry is the in-memory view of one mapped entry. Every field is read and written
// with sync/atomic only: other processes change it at any time.
type rawEntry struct {
	ctl      uint64
	copies   [2]struct{ word, pos uint64 }
	nameCRC  uint32
	epoch    uint32
	reserved [2]uint64
	name     [MaxNameLen / 8]uint64
}

// Compile-time checks that rawEntry matches the format.
var (
	_ [EntrySize - unsafe.Sizeof(rawEntry{})]struct{}
	_ [unsafe.Sizeof(rawEntry{}) - EntrySize]struct{}
	_ [entCopy0Off - unsafe.Offsetof(rawEntry{}.copies)]struct{}
	_ [unsafe.Offsetof(rawEntry{}.copies) - entCopy0Off]struct{}
	_ [entNameOff - unsafe.Offsetof(rawEntry{}.name)]struct{}
	_ [unsafe.Offsetof(rawEntry{}.name) - entNameOff]struct{}
)

// loadCopy returns copy i&1 as read with two atomic loads, and whether it is valid: its
// CRC matches and its seq sits in the slot it selects.
func (r *rawEntry) loadCopy(i uint32, nameCRC uint32) (seq uint32, pos uint64, ok bool) {
	c := &r.copies[i&1]
	w := atomic.LoadUint64(&c.word)
	pos = atomic.LoadUint64(&c.pos)
	seq = uint32(w)
	return seq, pos, seq&1 == i&1 && uint32(w>>32) == copyCRC(seq, pos, nameCRC)
}

// storeCopy writes copy seq&1: position first, then the word holding seq and CRC.
func (r *rawEntry) storeCopy(seq uint32, pos uint64, nameCRC uint32) {
	c := &r.copies[seq&1]
	atomic.StoreUint64(&c.pos, pos)
	atomic.StoreUint64(&c.word, uint64(seq)|uint64(copyCRC(seq, pos, nameCRC))<<32)
}

// copyCRC is the checksum of a copy: crc32c(pos u64 || seq u32 || nameCRC u32),
// little-endian, the same value as crc32.Checksum over those 16 bytes. It works on the
// words themselves (slicing-by-8): no byte buffer, no allocation, no dispatch on
// Commit's path.
func copyCRC(seq uint32, pos uint64, nameCRC uint32) uint32 {
	return ^crcWord(crcWord(^uint32(0), pos), uint64(seq)|uint64(nameCRC)<<32)
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

// CheckName returns nil for a valid cursor name, else an error wrapping ErrBadName that
// quotes it.
func CheckName(name string) error {
	if ValidName(name) {
		return nil
	}
	return fmt.Errorf("%w: %q (1..%d bytes of A-Z a-z 0-9 . _ -)", ErrBadName, name, MaxNameLen)
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
