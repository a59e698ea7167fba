// Package record encodes and validates the records of ringlog segments. It is internal:
// package mmaplog writes and reads records through it, and the fuzz targets reach it
// directly.
//
// A record (8-byte aligned; never crosses a segment boundary):
//
//	offset  size  field
//	0       4     crc      CRC-32C seeded with the segment's seed over [4, 16+length):
//	                       the rest of the header and the payload, one contiguous run
//	4       4     length   bits 0..30: payload bytes (0 is a valid, empty event);
//	                       bit 31: more records of the same batch follow this one
//	8       8     id
//	16      len   payload
//	16+len  pad   zero to the next multiple of 8
//
// The seed is CRCSeed in segments of versions 1 and 2 and the salt of the segment's
// header in version 3, which changes each time the file is recycled, so a record written
// in an earlier use of the file never validates again (docs/FORMAT.md sections 3 and 14).
// The layout and CRCSeed must not change. Bit 31 of the length field ("more") came with
// segment version 2: in version 1 it is always clear, so version 1 records read the same.
package record

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	// HeaderSize is the size of a record header.
	HeaderSize = 16
	// CRCSeed seeds the record CRCs of segments of versions 1 and 2; it makes the CRC of
	// an all-zero header non-zero, so unwritten space never validates. Must not change.
	CRCSeed = 0x52494E47 // "RING"
	// Align is the alignment of every record.
	Align = 8
	// MaxLength is the largest payload a record can carry (the length field's 31 bits).
	MaxLength = 1<<31 - 1
	// moreFlag is bit 31 of the length field: the record is not the last of its batch.
	moreFlag = 1 << 31
)

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

// Size returns the bytes a record with a payload of n bytes occupies, padding included.
func Size(n int) uint64 {
	return uint64(HeaderSize + (n+Align-1)&^(Align-1))
}

// CRC returns the checksum of the record rec under seed: its header and payload,
// HeaderSize+length bytes (the crc field itself, rec[0:4], is not read). One contiguous
// run keeps it to a single pass of the CRC instruction.
func CRC(seed uint32, rec []byte) uint32 {
	return castagnoli(seed, rec[4:])
}

// SeedUsable reports whether seed may seed the records of a segment: it is not CRCSeed
// (the seed of version 1 and 2 segments) and an all-zero record header does not validate
// under it, so unwritten space never reads as a record.
func SeedUsable(seed uint32) bool {
	var zero [HeaderSize]byte
	return seed != CRCSeed && CRC(seed, zero[:]) != 0
}

// Put writes a record for id and payload at dst[0:] under seed, payload first and header last. more
// marks a record that is not the last of its batch (recovery after a power loss keeps
// only whole batches). dst must hold Size(len(payload)) bytes; padding bytes are left as
// they are (never read). len(payload) must be at most MaxLength.
func Put(dst []byte, seed uint32, id uint64, payload []byte, more bool) {
	end := HeaderSize + len(payload)
	copy(dst[HeaderSize:end], payload)
	n := uint32(len(payload))
	if more {
		n |= moreFlag
	}
	binary.LittleEndian.PutUint32(dst[4:8], n)
	binary.LittleEndian.PutUint64(dst[8:16], id)
	binary.LittleEndian.PutUint32(dst[0:4], CRC(seed, dst[:end]))
}

// Decode validates the record at seg[off:] and returns its payload, aliasing seg. It checks
// that the record lies in seg past minOff, that the length is at most maxLen, that the id
// is want and that the CRC under seed matches. On failure it returns a description of the first
// check that failed. It never panics and never allocates on success.
func Decode(seg []byte, off uint64, want uint64, minOff, maxLen uint64, seed uint32) ([]byte, string) {
	if off < minOff || off%Align != 0 || off > uint64(len(seg)) || uint64(len(seg))-off < HeaderSize {
		return nil, "record offset out of bounds"
	}
	hdr := seg[off : off+HeaderSize]
	n := uint64(binary.LittleEndian.Uint32(hdr[4:8]) &^ moreFlag)
	if n > maxLen || n > uint64(len(seg))-off-HeaderSize {
		return nil, "record length out of bounds"
	}
	if id := binary.LittleEndian.Uint64(hdr[8:16]); id != want {
		return nil, fmt.Sprintf("record id %d, want %d", id, want)
	}
	rec := seg[off : off+HeaderSize+n]
	if binary.LittleEndian.Uint32(rec[0:4]) != CRC(seed, rec) {
		return nil, "record checksum mismatch"
	}
	return rec[HeaderSize:], ""
}

// Length returns the payload length of the record header at seg[off:] (the length
// field without its more bit), or false if the header does not lie inside seg.
func Length(seg []byte, off uint64) (uint64, bool) {
	if off > uint64(len(seg)) || uint64(len(seg))-off < HeaderSize {
		return 0, false
	}
	return uint64(binary.LittleEndian.Uint32(seg[off+4:]) &^ moreFlag), true
}

// More reports whether the record header at seg[off:] says that more records of its
// batch follow (false if the header does not lie inside seg).
func More(seg []byte, off uint64) bool {
	if off > uint64(len(seg)) || uint64(len(seg))-off < HeaderSize {
		return false
	}
	return binary.LittleEndian.Uint32(seg[off+4:])&moreFlag != 0
}
