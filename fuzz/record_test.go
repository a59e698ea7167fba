package fuzz

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/ringlog/ringlog/internal/record"
)

// FuzzRecordDecode checks internal/record on arbitrary bytes and on damaged valid records:
//
//   - Decode(seg, off, want, minOff, maxLen) never panics; when it succeeds every check it
//     promises holds (alignment, bounds, length limit, id, CRC), the payload aliases seg
//     right after the header, and the call allocated nothing; Length agrees with the
//     header;
//   - a record written by Put with id want and the payload round-trips, and fails with
//     another id, a lower length limit or a higher minimum offset;
//   - after changing one byte of that record (header, payload or padding), Decode either
//     fails or returns the identical payload for the same id: never other bytes, never for
//     another id.
func FuzzRecordDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, seg []byte, off, want, minOff, maxLen uint64, payload []byte, pos, flip uint32) {
		decodeArbitrary(t, seg, off, want, minOff, maxLen)
		roundTrip(t, want, payload, int(off%64)&^7, pos, flip)
	})
}

// maxRecordPayload bounds the payload of the round-trip part (the input may be longer).
const maxRecordPayload = 1 << 16

func decodeArbitrary(t *testing.T, seg []byte, off, want, minOff, maxLen uint64) {
	n, ok := record.Length(seg, off)
	inside := off <= uint64(len(seg)) && uint64(len(seg))-off >= record.HeaderSize
	if ok != inside {
		t.Fatalf("Length(len %d, off %d) ok=%v, want %v", len(seg), off, ok, inside)
	}
	if ok && n != uint64(binary.LittleEndian.Uint32(seg[off+4:])&(1<<31-1)) {
		t.Fatalf("Length = %d, header says %d (bit 31 is the more bit)", n, binary.LittleEndian.Uint32(seg[off+4:]))
	}
	p, msg := record.Decode(seg, off, want, minOff, maxLen, record.CRCSeed)
	if msg != "" {
		if p != nil {
			t.Fatalf("Decode failed (%s) but returned %d bytes", msg, len(p))
		}
		// A failure may format a message, but nothing it allocates may depend on a length
		// read from the input (measured where that length is large: AllocsPerRun is slow).
		if !ok || n < 1<<12 {
			return
		}
		if a := testing.AllocsPerRun(1, func() { record.Decode(seg, off, want, minOff, maxLen, record.CRCSeed) }); a > 3 {
			t.Fatalf("failing Decode allocated %v times", a)
		}
		return
	}
	switch {
	case !ok:
		t.Fatalf("Decode succeeded at %d in %d bytes, where Length sees no header", off, len(seg))
	case off%record.Align != 0 || off < minOff:
		t.Fatalf("Decode succeeded at offset %d (align %d, minOff %d)", off, record.Align, minOff)
	case n > maxLen || uint64(len(p)) != n:
		t.Fatalf("Decode returned %d bytes, header length %d, limit %d", len(p), n, maxLen)
	case binary.LittleEndian.Uint64(seg[off+8:]) != want:
		t.Fatalf("Decode accepted id %d for %d", binary.LittleEndian.Uint64(seg[off+8:]), want)
	case record.CRC(record.CRCSeed, seg[off:off+record.HeaderSize+n]) != binary.LittleEndian.Uint32(seg[off:]):
		t.Fatalf("Decode accepted a bad CRC")
	case n > 0 && unsafe.SliceData(p) != &seg[off+record.HeaderSize]:
		t.Fatalf("Decode's payload does not alias the segment after the header")
	}
	if a := testing.AllocsPerRun(1, func() { record.Decode(seg, off, want, minOff, maxLen, record.CRCSeed) }); a != 0 {
		t.Fatalf("successful Decode of %d bytes allocated %v times", n, a)
	}
}

func roundTrip(t *testing.T, id uint64, payload []byte, pad int, pos, flip uint32) {
	if len(payload) > maxRecordPayload {
		payload = payload[:maxRecordPayload]
	}
	n := len(payload)
	size := int(record.Size(n))
	if size%record.Align != 0 || size < record.HeaderSize+n || size >= record.HeaderSize+n+record.Align {
		t.Fatalf("Size(%d) = %d", n, size)
	}
	buf := bytes.Repeat([]byte{0xEE}, pad+size+int(flip%16)) // padding is never read
	more := flip&1 != 0                                      // a record inside a batch, or the last of one
	record.Put(buf[pad:], record.CRCSeed, id, payload, more)
	off := uint64(pad)
	got, msg := record.Decode(buf, off, id, off, uint64(n), record.CRCSeed)
	if msg != "" || !bytes.Equal(got, payload) {
		t.Fatalf("round trip of %d bytes at %d: %q, %d bytes back", n, pad, msg, len(got))
	}
	if l, ok := record.Length(buf, off); !ok || l != uint64(n) {
		t.Fatalf("Length after Put = %d, %v; want %d", l, ok, n)
	}
	if record.More(buf, off) != more {
		t.Fatalf("More after Put(more=%v) = %v", more, !more)
	}
	if _, msg := record.Decode(buf, off, id+1, off, uint64(n), record.CRCSeed); msg == "" {
		t.Fatalf("Decode accepted id %d for a record of %d", id+1, id)
	}
	if _, msg := record.Decode(buf, off, id, off+1, uint64(n), record.CRCSeed); msg == "" {
		t.Fatalf("Decode accepted a record below minOff")
	}
	if n > 0 {
		if _, msg := record.Decode(buf, off, id, off, uint64(n-1), record.CRCSeed); msg == "" {
			t.Fatalf("Decode accepted a length over the limit")
		}
	}

	// One byte changed.
	i := pad + int(pos%uint32(size))
	x := byte(flip >> 8)
	if x == 0 {
		x = 1
	}
	buf[i] ^= x
	for _, w := range []uint64{id, binary.LittleEndian.Uint64(buf[pad+8:])} {
		got, msg := record.Decode(buf, off, w, 0, 1<<32-1, record.CRCSeed)
		if msg == "" && (w != id || !bytes.Equal(got, payload)) {
			t.Fatalf("record of id %d (%d bytes) with byte %d ^= %#x decodes as id %d, %d bytes", id, n, i-pad, x, w, len(got))
		}
		if msg == "" && i-pad < record.HeaderSize+n {
			t.Fatalf("record of id %d (%d bytes): damage at byte %d ^= %#x not detected", id, n, i-pad, x)
		}
	}
}
