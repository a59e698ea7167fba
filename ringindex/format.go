package ringindex

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/bits"
	"strconv"
	"strings"
)

// On-disk layout of an index file. All of it must not change: readers in
// other processes and older binaries depend on it. Integers are little-endian.
//
//	offset  size      field
//	0       8         magic        "RLOGIDX\x00"
//	8       4         version      uint32, = 1
//	12      4         headerSize   uint32, = 4096 (slots start here)
//	16      8         capacity     uint64, number of slots, power of two, in [MinCapacity, MaxCapacity]
//	24      16        logID        [16]byte, the owning log's random id (a foreign index is rejected)
//	40      8         generation   uint64, which index file of the log this is (the file name carries it too)
//	48      4         crc          uint32, CRC32C (Castagnoli) of bytes [0,48)
//	52      4044      reserved     zero on create, not checked on open
//	4096    8*cap     slots        slot i at 4096 + 8*i, uint64 (accessed atomically)
//
// Slot word (uint64), the slot of event id is id & (capacity-1):
//
//	bit 63      tombstone (the event was deleted)
//	bits 32-62  low 31 bits of the segment sequence number
//	bits 0-31   record offset within the segment / 8 (records are 8-byte aligned)
//
// The all-zero word means "unwritten": offset 0 lies inside the segment
// header and is never a record.
const (
	// Magic opens every index file. Must not change.
	Magic = "RLOGIDX\x00"
	// Version is the format version written and read. Must not change
	// without a new value.
	Version uint32 = 1
	// HeaderSize is the size of the header block; slots start here. Must not change.
	HeaderSize = 4096
	// SlotSize is the size of one slot word. Must not change.
	SlotSize = 8
	// MinCapacity is the smallest number of slots an index may have.
	MinCapacity uint64 = 1024
	// MaxCapacity is the largest number of slots an index may have.
	MaxCapacity uint64 = 1 << 40
	// MaxOffset is the largest encodable record offset within a segment.
	MaxOffset uint64 = (1<<32 - 1) * 8
	// SeqMask selects the segment sequence bits a slot keeps.
	SeqMask uint64 = 1<<31 - 1
)

// Header field offsets. Must not change.
const (
	offMagic      = 0
	offVersion    = 8
	offHeaderSize = 12
	offCapacity   = 16
	offLogID      = 24
	offGeneration = 40
	offCRC        = 48
	headerLen     = 52 // bytes of meaningful header; the rest of HeaderSize is reserved zero
)

const (
	tombstoneBit = 1 << 63
	seqShift     = 32
	offsetMask   = 1<<32 - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Slot is one index slot word: a tombstone bit, the low 31 bits of a segment
// sequence number and a record offset within that segment. The zero Slot means
// "unwritten".
type Slot uint64

// MakeSlot encodes a record location. Only seq&SeqMask is kept. offset must
// be 8-byte aligned and <= MaxOffset; anything else is a caller bug and panics.
func MakeSlot(seq uint64, offset uint64) Slot {
	if offset&7 != 0 || offset > MaxOffset {
		badOffset(offset)
	}
	return Slot((seq&SeqMask)<<seqShift | offset>>3)
}

// badOffset panics; out of line so MakeSlot stays inlinable.
//
//go:noinline
func badOffset(offset uint64) {
	panic("ringindex: MakeSlot: offset " + strconv.FormatUint(offset, 10) + " not 8-aligned or above MaxOffset")
}

// SeqLow returns the 31 low bits of the segment sequence number.
func (s Slot) SeqLow() uint64 { return uint64(s) >> seqShift & SeqMask }

// Offset returns the record's byte offset within its segment.
func (s Slot) Offset() uint64 { return (uint64(s) & offsetMask) << 3 }

// Tombstoned reports whether the tombstone bit is set.
func (s Slot) Tombstoned() bool { return uint64(s)&tombstoneBit != 0 }

// WithTombstone returns s with the tombstone bit set.
func (s Slot) WithTombstone() Slot { return s | tombstoneBit }

// IsZero reports whether the slot is unwritten.
func (s Slot) IsZero() bool { return s == 0 }

// FullSeq reconstructs the full segment sequence number from the low 31 bits
// kept in the slot. ref must be >= the real sequence number and less than 2^31
// above it (the log's active segment seq qualifies, since a log never holds
// 2^31 segments); otherwise the result is meaningless, and the caller's
// validation of the record it points to will reject it.
func (s Slot) FullSeq(ref uint64) uint64 {
	return ref - (ref-s.SeqLow())&SeqMask
}

// String formats the slot for debugging.
func (s Slot) String() string {
	if s.IsZero() {
		return "slot(unwritten)"
	}
	t := ""
	if s.Tombstoned() {
		t = ",tombstone"
	}
	return fmt.Sprintf("slot(seq&mask=%d,off=%d%s)", s.SeqLow(), s.Offset(), t)
}

// Header is the decoded header of an index file.
type Header struct {
	Version    uint32   // format version; 0 means Version when encoding
	HeaderSize uint32   // 0 means HeaderSize when encoding
	Capacity   uint64   // number of slots
	LogID      [16]byte // the owning log's id
	Generation uint64   // which index file of the log this is
}

// EncodeHeader returns the HeaderSize-byte header block for h, checksum
// included and reserved bytes zero. Zero Version and HeaderSize fields are
// written as the current constants. It does not validate h.
func EncodeHeader(h Header) []byte {
	if h.Version == 0 {
		h.Version = Version
	}
	if h.HeaderSize == 0 {
		h.HeaderSize = HeaderSize
	}
	b := make([]byte, HeaderSize)
	copy(b[offMagic:], Magic)
	binary.LittleEndian.PutUint32(b[offVersion:], h.Version)
	binary.LittleEndian.PutUint32(b[offHeaderSize:], h.HeaderSize)
	binary.LittleEndian.PutUint64(b[offCapacity:], h.Capacity)
	copy(b[offLogID:offLogID+16], h.LogID[:])
	binary.LittleEndian.PutUint64(b[offGeneration:], h.Generation)
	binary.LittleEndian.PutUint32(b[offCRC:], crc32.Checksum(b[:offCRC], castagnoli))
	return b
}

// DecodeHeader parses and validates an index header. It checks, in order:
// length >= 52, magic, version (ErrVersion), checksum, header size and
// capacity; every other failure is ErrCorrupt. Errors are *FormatError. It
// never panics and allocates nothing driven by the input.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < headerLen {
		return Header{}, &FormatError{Offset: int64(len(b)), Field: "header", Err: ErrCorrupt}
	}
	if string(b[offMagic:offMagic+len(Magic)]) != Magic {
		return Header{}, &FormatError{Offset: offMagic, Field: "magic", Err: ErrCorrupt}
	}
	h := Header{
		Version:    binary.LittleEndian.Uint32(b[offVersion:]),
		HeaderSize: binary.LittleEndian.Uint32(b[offHeaderSize:]),
		Capacity:   binary.LittleEndian.Uint64(b[offCapacity:]),
		Generation: binary.LittleEndian.Uint64(b[offGeneration:]),
	}
	copy(h.LogID[:], b[offLogID:offLogID+16])
	if h.Version != Version {
		return Header{}, &FormatError{Offset: offVersion, Field: "version", Err: ErrVersion}
	}
	if crc32.Checksum(b[:offCRC], castagnoli) != binary.LittleEndian.Uint32(b[offCRC:]) {
		return Header{}, &FormatError{Offset: offCRC, Field: "crc", Err: ErrCorrupt}
	}
	if h.HeaderSize != HeaderSize {
		return Header{}, &FormatError{Offset: offHeaderSize, Field: "headerSize", Err: ErrCorrupt}
	}
	if !validCapacity(h.Capacity) {
		return Header{}, &FormatError{Offset: offCapacity, Field: "capacity", Err: ErrCorrupt}
	}
	return h, nil
}

func validCapacity(c uint64) bool {
	return c >= MinCapacity && c <= MaxCapacity && bits.OnesCount64(c) == 1
}

// FileName returns the file name of the index file of generation gen:
// "index-" followed by 16 lower-case hex digits.
func FileName(gen uint64) string {
	return fmt.Sprintf("index-%016x", gen)
}

// ParseFileName is the inverse of FileName. It accepts only names FileName
// produces (exactly 16 lower-case hex digits).
func ParseFileName(name string) (gen uint64, ok bool) {
	hex, found := strings.CutPrefix(name, "index-")
	if !found || len(hex) != 16 {
		return 0, false
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return 0, false
		}
	}
	gen, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, false
	}
	return gen, true
}
