package raftlog

import (
	"encoding/binary"
	"time"

	"github.com/hashicorp/raft"
)

// The encoding of one raft.Log, the payload of one mmaplog record whose id is the entry's
// raft index (the record header carries the id and a CRC-32C of the payload, so neither is
// repeated here). Version 1, little-endian; docs/FORMAT.md section 12. Must not change:
//
//	offset size field
//	0      1    version      entryVersion (1)
//	1      1    type         raft.LogType
//	2      1    flags        bit 0: AppendedAt is set; the other bits are 0
//	3      1    reserved     0
//	4      4    dataLen      length of Data
//	8      8    term         Term
//	16     8    appendedSec  AppendedAt, seconds since the Unix epoch (0 when flag clear)
//	24     4    appendedNsec AppendedAt, nanoseconds [0, 1e9) (0 when flag clear)
//	28     n    data         Data (dataLen bytes)
//	28+n   m    extensions   Extensions: the rest of the payload
const (
	entryVersion    = 1  // must not change
	entryHeaderSize = 28 // must not change

	entryFlagAppendedAt = 1 << 0 // must not change
	entryKnownFlags     = entryFlagAppendedAt

	offVersion  = 0
	offType     = 1
	offFlags    = 2
	offReserved = 3
	offDataLen  = 4
	offTerm     = 8
	offSec      = 16
	offNsec     = 24
)

// encodedSize is the size of l's encoding.
func encodedSize(l *raft.Log) int {
	return entryHeaderSize + len(l.Data) + len(l.Extensions)
}

// encodeEntry writes l's encoding into b, which has exactly encodedSize(l) bytes.
func encodeEntry(b []byte, l *raft.Log) {
	var flags byte
	var sec int64
	var nsec uint32
	if !l.AppendedAt.IsZero() {
		flags |= entryFlagAppendedAt
		sec, nsec = l.AppendedAt.Unix(), uint32(l.AppendedAt.Nanosecond())
	}
	b[offVersion] = entryVersion
	b[offType] = byte(l.Type)
	b[offFlags] = flags
	b[offReserved] = 0
	binary.LittleEndian.PutUint32(b[offDataLen:], uint32(len(l.Data)))
	binary.LittleEndian.PutUint64(b[offTerm:], l.Term)
	binary.LittleEndian.PutUint64(b[offSec:], uint64(sec))
	binary.LittleEndian.PutUint32(b[offNsec:], nsec)
	n := copy(b[entryHeaderSize:], l.Data)
	copy(b[entryHeaderSize+n:], l.Extensions)
}

// decodeEntry fills out from the encoding b of entry index. Data and Extensions share one
// new allocation (none when both are empty), so out keeps nothing of b, which may be a
// view of the mapping. A malformed encoding is a *CorruptError naming index; out is then
// left unchanged.
func decodeEntry(path string, index uint64, b []byte, out *raft.Log) error {
	fail := func(off int64, what string, err error) error {
		return &CorruptError{Path: path, Index: index, HasIndex: true, Offset: off, What: what, Err: err}
	}
	if len(b) < entryHeaderSize {
		return fail(int64(len(b)), "entry shorter than its header", ErrCorrupt)
	}
	if b[offVersion] != entryVersion {
		return fail(offVersion, "entry version", ErrVersion)
	}
	flags := b[offFlags]
	if flags&^entryKnownFlags != 0 || b[offReserved] != 0 {
		return fail(offFlags, "entry flags", ErrCorrupt)
	}
	dataLen := uint64(binary.LittleEndian.Uint32(b[offDataLen:]))
	rest := uint64(len(b) - entryHeaderSize)
	if dataLen > rest {
		return fail(offDataLen, "entry data length", ErrCorrupt)
	}
	var at time.Time
	sec := int64(binary.LittleEndian.Uint64(b[offSec:]))
	nsec := binary.LittleEndian.Uint32(b[offNsec:])
	if flags&entryFlagAppendedAt != 0 {
		if nsec >= 1e9 {
			return fail(offNsec, "entry appended-at nanoseconds", ErrCorrupt)
		}
		at = time.Unix(sec, int64(nsec))
	} else if sec != 0 || nsec != 0 {
		return fail(offSec, "entry appended-at without its flag", ErrCorrupt)
	}
	out.Index = index
	out.Term = binary.LittleEndian.Uint64(b[offTerm:])
	out.Type = raft.LogType(b[offType])
	out.AppendedAt = at
	out.Data, out.Extensions = nil, nil
	if rest > 0 {
		buf := make([]byte, rest)
		copy(buf, b[entryHeaderSize:])
		if dataLen > 0 {
			out.Data = buf[:dataLen:dataLen]
		}
		if rest > dataLen {
			out.Extensions = buf[dataLen:]
		}
	}
	return nil
}
