package mmaplog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"unsafe"

	"github.com/ringlog/ringlog/internal/record"
	"github.com/ringlog/ringlog/ringindex"
)

// The on-disk format. docs/FORMAT.md is the full description; the diagrams are repeated
// here beside the constants they define. Everything marked "must not change" is wire
// format.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Meta file (4096 bytes):
//
//	offset  size  field
//	0       8     magic        "RLOGMETA"                       must not change
//	8       4     version      = 2                              must not change
//	12      4     stateSize    = 168
//	16      16    logID
//	32      8     segmentSize
//	40      4     headerCRC    CRC-32C of [0,40)
//	128     8     commit       commit word: generation << 16 | tail count (atomic word)
//	192     4     tailSeq      tail futex word (tail.go)
//	200     4     tailWaiters  sleepers on tailSeq
//	256     4     lockWaiters  writers blocked on the lock (holdlock.go)
//	320     16    bootID       boot id of the machine that last opened the log
//	384     64    waiterSlots  16 pids of writers blocked on the lock (holdlock.go)
//	512     60    repair       the repair record (repairrecord.go)
//	576     24    sharedFlush  group commit across handles (sharedflush.go)
//	640     60    retention    the retention record (retention.go)
//	1024    168   state[0]     copy for even generations
//	2048    168   state[1]     copy for odd generations
//
// The commit word (must not change): bits 16..63 are the generation of the current state
// copy, bits 0..15 the tail count, the number of events appended after that copy by fast
// appends (single events inside the active segment) that published themselves by adding 1
// to the word instead of writing a new copy. A copy's gen field holds the commit word it
// was published with (tail count 0).
const (
	tailBits = 16
	tailMask = 1<<tailBits - 1
)

// copyIndex returns which state copy (0 or 1) the commit word c selects.
func copyIndex(c uint64) uint64 { return c >> tailBits & 1 }

const (
	metaMagic         = "RLOGMETA" // must not change
	metaVersion       = 2          // must not change (1: 160-byte state copies)
	metaSize          = 4096
	metaHeaderLen     = 44
	metaCommitOff     = 128
	metaStateOff0     = 1024
	metaStateOff1     = 2048
	stateWords        = 21
	stateSize         = stateWords * 8
	stateCRCOff       = 160
	metaFileName      = "meta"
	lockFileName      = "lock"
	segmentFilePrefix = "seg-"
	tmpInfix          = ".tmp-"
)

// Segment header (64 bytes; records start at 64):
//
//	offset  size  field
//	0       8     magic        "RLOGSEG\x00"                    must not change
//	8       4     version      = 3                              must not change
//	12      4     salt         version 3: the record seed of this incarnation of the file
//	                           (docs/FORMAT.md section 14); version 2: headerSize = 64
//	16      8     seq
//	24      8     segmentSize
//	32      16    logID
//	48      4     headerCRC    CRC-32C of [0,48)
//	52      4     sealCRC      CRC-32C of [56,64)              must not change (retention.go)
//	56      8     sealedAt     Unix ns when the writer left the segment (0: unknown)
const (
	segMagic      = "RLOGSEG\x00" // must not change
	segVersion    = 3             // must not change (1: no more bit in records, 2: no salt)
	segVersionMin = 2             // the oldest version readers accept
	segHeaderSize = 64
	segHeaderLen  = 52
)

// Records are defined in internal/record (their diagram is there and in docs/FORMAT.md).
const (
	recordHeaderSize = record.HeaderSize
	recordAlign      = record.Align
)

// Limits and defaults.
const (
	// MinSegmentSize is the smallest Options.SegmentSize.
	MinSegmentSize = 16 << 10
	// MaxSegmentSize is the largest Options.SegmentSize (record offsets are stored /8 in 32 bits).
	MaxSegmentSize = 16 << 30
	// DefaultSegmentSize is the segment size of a new log when Options.SegmentSize is 0.
	DefaultSegmentSize = 64 << 20
	// DefaultMaxEventSize is Options.MaxEventSize when zero, lowered to what fits a segment.
	DefaultMaxEventSize = 4 << 20
	// DefaultMaxBatchBytes is Options.MaxBatchBytes when zero.
	DefaultMaxBatchBytes = 64 << 20
	// DefaultIndexCapacity is the initial number of index slots of a new log.
	DefaultIndexCapacity = 1 << 18
)

func recordSize(payload int) uint64 { return record.Size(payload) }

// putRecord writes the record of id under the segment's seed; more marks one that is
// not the last of its batch.
func putRecord(dst []byte, seed uint32, id EventID, payload []byte, more bool) {
	record.Put(dst, seed, id, payload, more)
}

// decodeRecord validates the record of id at seg[off:] under the segment's seed and
// returns its payload.
func decodeRecord(seg []byte, off uint64, want EventID, maxEvent uint64, seed uint32) ([]byte, string) {
	return record.Decode(seg, off, want, segHeaderSize, maxEvent, seed)
}

// metaHeader is the immutable part of the meta file.
type metaHeader struct {
	logID       [16]byte
	segmentSize uint64
}

func encodeMetaHeader(h metaHeader) []byte {
	b := make([]byte, metaSize)
	copy(b[0:8], metaMagic)
	binary.LittleEndian.PutUint32(b[8:12], metaVersion)
	binary.LittleEndian.PutUint32(b[12:16], stateSize)
	copy(b[16:32], h.logID[:])
	binary.LittleEndian.PutUint64(b[32:40], h.segmentSize)
	binary.LittleEndian.PutUint32(b[40:44], crc32.Checksum(b[0:40], castagnoli))
	return b
}

func decodeMetaHeader(path string, b []byte) (metaHeader, error) {
	var h metaHeader
	if len(b) < metaSize {
		return h, corruptf(path, int64(len(b)), "meta file is %d bytes, want %d", len(b), metaSize)
	}
	if string(b[0:8]) != metaMagic {
		return h, corruptf(path, 0, "bad magic %q", b[0:8])
	}
	if v := binary.LittleEndian.Uint32(b[8:12]); v != metaVersion {
		return h, &CorruptError{Path: path, Offset: 8, What: fmt.Sprintf("version %d, want %d", v, metaVersion), Err: ErrVersion}
	}
	if got, want := binary.LittleEndian.Uint32(b[40:44]), crc32.Checksum(b[0:40], castagnoli); got != want {
		return h, corruptf(path, 40, "header checksum %08x, want %08x", got, want)
	}
	if s := binary.LittleEndian.Uint32(b[12:16]); s != stateSize {
		return h, corruptf(path, 12, "state size %d, want %d", s, stateSize)
	}
	copy(h.logID[:], b[16:32])
	h.segmentSize = binary.LittleEndian.Uint64(b[32:40])
	if h.segmentSize < MinSegmentSize || h.segmentSize > MaxSegmentSize || h.segmentSize%4096 != 0 {
		return h, corruptf(path, 32, "segment size %d out of range", h.segmentSize)
	}
	return h, nil
}

// segHeader is a segment file's header.
type segHeader struct {
	seq         uint64
	segmentSize uint64
	logID       [16]byte
	salt        uint32 // the record seed (version 3); encodeSegHeader needs a usable one
}

// newSalt returns the salt of a segment file's next incarnation: prev+1 when the file had
// a salt (so no record of an earlier use validates again), else a random one; never a
// seed under which unwritten space validates, nor the seed of older segment versions.
func newSalt(prev uint32, hadSalt bool) uint32 {
	salt := prev + 1
	if !hadSalt {
		salt = rand.Uint32()
	}
	for !record.SeedUsable(salt) {
		salt++
	}
	return salt
}

// encodeSegHeader returns the 64-byte header of a version-3 segment file.
func encodeSegHeader(h segHeader) []byte {
	b := make([]byte, segHeaderSize)
	copy(b[0:8], segMagic)
	binary.LittleEndian.PutUint32(b[8:12], segVersion)
	binary.LittleEndian.PutUint32(b[12:16], h.salt)
	binary.LittleEndian.PutUint64(b[16:24], h.seq)
	binary.LittleEndian.PutUint64(b[24:32], h.segmentSize)
	copy(b[32:48], h.logID[:])
	binary.LittleEndian.PutUint32(b[48:52], crc32.Checksum(b[0:48], castagnoli))
	return b
}

// checkSegHeader validates b as the header of segment seq of the log with the given id and
// segment size, and returns the record seed of the file (docs/FORMAT.md section 3).
func checkSegHeader(path string, b []byte, want segHeader) (seed uint32, err error) {
	if len(b) < segHeaderLen {
		return 0, corruptf(path, int64(len(b)), "segment header truncated")
	}
	if string(b[0:8]) != segMagic {
		return 0, corruptf(path, 0, "bad magic %q", b[0:8])
	}
	v := binary.LittleEndian.Uint32(b[8:12])
	if v < segVersionMin || v > segVersion {
		return 0, &CorruptError{Path: path, Offset: 8, What: fmt.Sprintf("version %d, want %d to %d", v, segVersionMin, segVersion), Err: ErrVersion}
	}
	if got, want := binary.LittleEndian.Uint32(b[48:52]), crc32.Checksum(b[0:48], castagnoli); got != want {
		return 0, corruptf(path, 48, "header checksum %08x, want %08x", got, want)
	}
	seed = record.CRCSeed
	word := binary.LittleEndian.Uint32(b[12:16])
	switch {
	case v == 2 && word != segHeaderSize:
		return 0, corruptf(path, 12, "header size %d, want %d", word, segHeaderSize)
	case v >= 3 && !record.SeedUsable(word):
		return 0, corruptf(path, 12, "salt %#08x cannot seed records", word)
	case v >= 3:
		seed = word
	}
	if s := binary.LittleEndian.Uint64(b[16:24]); s != want.seq {
		return 0, corruptf(path, 16, "segment seq %d, want %d", s, want.seq)
	}
	if s := binary.LittleEndian.Uint64(b[24:32]); s != want.segmentSize {
		return 0, corruptf(path, 24, "segment size %d, want %d", s, want.segmentSize)
	}
	if string(b[32:48]) != string(want.logID[:]) {
		return 0, corruptf(path, 32, "segment belongs to another log")
	}
	return seed, nil
}

// state is one committed state of the log (a state copy in the meta file). See
// docs/FORMAT.md section 2 for the meaning of each field.
//
//	offset  field        offset  field
//	0       gen          80      indexCap
//	8       next         88      migGen
//	16      oldest       96      migCap
//	24      newest       104     migNext
//	32      live         112     delStart
//	40      dead         120     delEnd
//	48      firstSeq     128     syncedNext
//	56      activeSeq    136     truncs
//	64      writeOff     144     dirtyLow
//	72      indexGen     152     syncedPos (slot word: where the record of syncedNext goes)
//	                     160     crc (CRC-32C of [0,160))
type state struct {
	gen, next, oldest, newest, live, dead uint64
	firstSeq, activeSeq, writeOff         uint64
	indexGen, indexCap                    uint64
	migGen, migCap, migNext               uint64
	delStart, delEnd                      uint64
	syncedNext                            uint64
	truncs                                uint64
	dirtyLow                              uint64
	// syncedPos is where the record of syncedNext was to be written when the recovery
	// point was committed (a slot word: segment and offset). After a reboot Open scans
	// the records from there (docs/FORMAT.md section 6); records before it that carry ids
	// >= syncedNext (removed by a suffix delete) are never read.
	syncedPos ringindex.Slot
}

func stateFromWords(w *[stateWords]uint64) state {
	return state{gen: w[0], next: w[1], oldest: w[2], newest: w[3], live: w[4], dead: w[5],
		firstSeq: w[6], activeSeq: w[7], writeOff: w[8], indexGen: w[9], indexCap: w[10],
		migGen: w[11], migCap: w[12], migNext: w[13], delStart: w[14], delEnd: w[15], syncedNext: w[16], truncs: w[17], dirtyLow: w[18], syncedPos: ringindex.Slot(w[19])}
}

// applyTail extends s, the state copy that the commit word c selects, with the events that
// fast appends published after the copy (c's tail count): the ids [s.next, s.next+count),
// all live, all in the active segment. s.gen becomes c. s.writeOff stays the copy's, a
// lower bound of the real one until resolveWriteOff.
func (s *state) applyTail(c uint64) {
	s.gen = c
	extendByTail(c, &s.next, &s.newest, &s.live)
}

// extendByTail adds the tail count of the commit word c to a state's next, newest and
// live, loaded from the copy c selects (docs/FORMAT.md section 2).
func extendByTail(c uint64, next, newest, live *uint64) {
	if n := c & tailMask; n != 0 {
		*next += n
		*newest = *next - 1
		*live += n
	}
}

// tail returns the number of events fast appends published after s's state copy.
func (s *state) tail() uint64 { return s.gen & tailMask }

// putState writes the 168 bytes of a state copy, CRC included, into dst (8-byte aligned).
func putState(dst []byte, s *state) {
	_ = dst[stateSize-1]
	s.put((*[stateWords]uint64)(unsafe.Pointer(&dst[0])))
}

// put writes s, CRC included, into the state copy p with plain stores: the copy written is
// the one readers do not select (docs/FORMAT.md section 2), and the commit word's atomic
// store publishes it. The machine is little-endian (Open checks), so the words are the
// on-disk bytes.
func (s *state) put(p *[stateWords]uint64) {
	p[0], p[1], p[2], p[3], p[4], p[5] = s.gen, s.next, s.oldest, s.newest, s.live, s.dead
	p[6], p[7], p[8], p[9], p[10] = s.firstSeq, s.activeSeq, s.writeOff, s.indexGen, s.indexCap
	p[11], p[12], p[13], p[14], p[15] = s.migGen, s.migCap, s.migNext, s.delStart, s.delEnd
	p[16], p[17], p[18], p[19] = s.syncedNext, s.truncs, s.dirtyLow, uint64(s.syncedPos)
	p[20] = uint64(crc32.Checksum(unsafe.Slice((*byte)(unsafe.Pointer(p)), stateCRCOff), castagnoli))
}

// stateCRCValid reports whether the raw words of a copy carry a valid CRC.
func stateCRCValid(w *[stateWords]uint64) bool {
	var b [stateSize]byte
	for i := range w {
		binary.LittleEndian.PutUint64(b[i*8:], w[i])
	}
	return binary.LittleEndian.Uint32(b[stateCRCOff:]) == crc32.Checksum(b[:stateCRCOff], castagnoli) &&
		binary.LittleEndian.Uint32(b[stateCRCOff+4:]) == 0
}

// liveFloor is the lowest id that can be live in s: oldest, or next for an empty log.
func (s *state) liveFloor() EventID {
	if s.live == 0 {
		return s.next
	}
	return s.oldest
}

// pendingDelete reports whether an interior delete is committed but not yet applied.
func (s *state) pendingDelete() bool { return s.delEnd >= s.delStart }

// isLive reports whether id is live in s, ignoring tombstones (which live in the index).
func (s *state) isLive(id EventID) bool {
	if s.live == 0 || id < s.oldest || id > s.newest {
		return false
	}
	return !(s.pendingDelete() && id >= s.delStart && id <= s.delEnd)
}

// validate checks the invariants of a committed state. It returns a description of the
// first violation, or "".
func (s *state) validate(segSize uint64) string {
	switch {
	case s.live > 0 && !(s.oldest <= s.newest && s.newest < s.next):
		return fmt.Sprintf("ids out of order: oldest %d newest %d next %d", s.oldest, s.newest, s.next)
	case s.live > 0 && s.live+s.dead != s.next-s.oldest:
		return fmt.Sprintf("counts: live %d + dead %d != next %d - oldest %d", s.live, s.dead, s.next, s.oldest)
	case s.live == 0 && (s.dead != 0 || s.oldest != s.next):
		return fmt.Sprintf("empty log with dead %d oldest %d next %d", s.dead, s.oldest, s.next)
	case s.firstSeq > s.activeSeq:
		return fmt.Sprintf("first segment %d after active %d", s.firstSeq, s.activeSeq)
	case s.activeSeq-s.firstSeq >= 1<<31:
		return "too many segments"
	case s.writeOff < segHeaderSize || s.writeOff > segSize || s.writeOff%recordAlign != 0:
		return fmt.Sprintf("write offset %d out of range", s.writeOff)
	case s.indexCap == 0 || s.indexCap&(s.indexCap-1) != 0:
		return fmt.Sprintf("index capacity %d", s.indexCap)
	case s.live > 0 && s.next-s.oldest > s.indexCap:
		return fmt.Sprintf("span %d exceeds index capacity %d", s.next-s.oldest, s.indexCap)
	case s.pendingDelete() && !(s.live > 0 && s.oldest < s.delStart && s.delEnd < s.newest):
		return fmt.Sprintf("pending delete [%d, %d] outside the live interior (%d, %d)", s.delStart, s.delEnd, s.oldest, s.newest)
	case s.syncedNext > s.next && s.live > 0:
		return fmt.Sprintf("recovery point %d after next %d", s.syncedNext, s.next)
	case s.syncedPos.IsZero() || s.syncedPos.Tombstoned() || s.syncedPos.Offset() < segHeaderSize || s.syncedPos.Offset() > segSize ||
		s.activeSeq-s.syncedPos.FullSeq(s.activeSeq) >= 1<<31-1:
		return fmt.Sprintf("recovery position %v", s.syncedPos)
	case s.migGen != 0 && (s.migGen <= s.indexGen || s.migCap <= s.indexCap || s.migCap&(s.migCap-1) != 0):
		return fmt.Sprintf("index growth gen %d cap %d", s.migGen, s.migCap)
	}
	return ""
}

// segmentFileName is the name of segment seq in the log directory.
func segmentFileName(seq uint64) string { return fmt.Sprintf("%s%016x", segmentFilePrefix, seq) }

// parseSegmentFileName returns the seq of a segment file name.
func parseSegmentFileName(name string) (uint64, bool) {
	if len(name) != len(segmentFilePrefix)+16 || name[:len(segmentFilePrefix)] != segmentFilePrefix {
		return 0, false
	}
	var seq uint64
	for _, c := range name[len(segmentFilePrefix):] {
		switch {
		case c >= '0' && c <= '9':
			seq = seq<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			seq = seq<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return seq, true
}
