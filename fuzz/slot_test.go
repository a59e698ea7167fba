package fuzz

import (
	"errors"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

// FuzzIndexSlot checks package ringindex's codecs on arbitrary values:
//
//   - the Slot accessors decode the documented bit layout, WithTombstone sets only bit 63,
//     String never panics;
//   - MakeSlot round-trips a seq and a valid offset, and panics on an invalid offset;
//   - FullSeq returns the seq when ref is at most 2^31-1 above it, and in any case a value
//     with the slot's low seq bits at most 2^31-1 below ref (mod 2^64);
//   - DecodeHeader never panics, allocates at most its error, returns a *FormatError with a
//     documented sentinel on failure, and a header it accepts re-encodes to the same bytes;
//     EncodeHeader of a valid Header decodes back to it;
//   - ParseFileName never panics and inverts FileName.
func FuzzIndexSlot(f *testing.F) {
	f.Fuzz(func(t *testing.T, v, seq, off, ref uint64, hdr []byte) {
		checkSlotWord(t, v)
		checkMakeSlot(t, seq, off, ref)
		checkHeader(t, hdr, v, seq, off)
		checkFileName(t, v, string(hdr))
	})
}

func checkSlotWord(t *testing.T, v uint64) {
	s := ringindex.Slot(v)
	if s.SeqLow() != v>>32&ringindex.SeqMask || s.Offset() != (v&(1<<32-1))<<3 || s.Tombstoned() != (v>>63 == 1) || s.IsZero() != (v == 0) {
		t.Fatalf("Slot(%#x): seqLow %d offset %d tombstoned %v zero %v", v, s.SeqLow(), s.Offset(), s.Tombstoned(), s.IsZero())
	}
	ts := s.WithTombstone()
	if uint64(ts) != v|1<<63 || !ts.Tombstoned() || ts.SeqLow() != s.SeqLow() || ts.Offset() != s.Offset() || ts.WithTombstone() != ts {
		t.Fatalf("Slot(%#x).WithTombstone() = %#x", v, uint64(ts))
	}
	if s.String() == "" || ts.String() == "" {
		t.Fatalf("Slot(%#x).String() is empty", v)
	}
}

func checkMakeSlot(t *testing.T, seq, off, ref uint64) {
	valid := (off &^ 7) % (ringindex.MaxOffset + 8)
	s := ringindex.MakeSlot(seq, valid)
	if s.SeqLow() != seq&ringindex.SeqMask || s.Offset() != valid || s.Tombstoned() {
		t.Fatalf("MakeSlot(%d, %d) = %v", seq, valid, s)
	}
	if valid != 0 && s.IsZero() {
		t.Fatalf("MakeSlot(%d, %d) is the unwritten slot", seq, valid)
	}
	// FullSeq with a reference within 2^31-1 above seq recovers seq exactly.
	if near := seq + ref%(ringindex.SeqMask+1); near >= seq {
		if got := s.FullSeq(near); got != seq {
			t.Fatalf("MakeSlot(%d, _).FullSeq(%d) = %d", seq, near, got)
		}
		if got := s.WithTombstone().FullSeq(near); got != seq {
			t.Fatalf("tombstoned MakeSlot(%d, _).FullSeq(%d) = %d", seq, near, got)
		}
	}
	// Any reference: the low bits match and the result lies less than 2^31 below ref.
	if got := s.FullSeq(ref); got&ringindex.SeqMask != s.SeqLow() || ref-got > ringindex.SeqMask {
		t.Fatalf("Slot(seqLow %d).FullSeq(%d) = %d", s.SeqLow(), ref, got)
	}
	if off&7 != 0 || off > ringindex.MaxOffset {
		defer func() {
			if recover() == nil {
				t.Fatalf("MakeSlot(%d, %d) did not panic on an invalid offset", seq, off)
			}
		}()
		ringindex.MakeSlot(seq, off)
	}
}

func checkHeader(t *testing.T, b []byte, capSel, gen, id uint64) {
	h, err := ringindex.DecodeHeader(b)
	// AllocsPerRun is slow (it changes GOMAXPROCS): measure one input in 16.
	if capSel%16 == 0 && testing.AllocsPerRun(1, func() { _, _ = ringindex.DecodeHeader(b) }) > 1 {
		t.Fatalf("DecodeHeader of %d bytes allocated more than its error", len(b))
	}
	if err != nil {
		var fe *ringindex.FormatError
		if !errors.As(err, &fe) || !(errors.Is(err, ringindex.ErrCorrupt) || errors.Is(err, ringindex.ErrVersion)) {
			t.Fatalf("DecodeHeader error %v is not a *FormatError with ErrCorrupt/ErrVersion", err)
		}
	} else {
		if len(b) < 52 {
			t.Fatalf("DecodeHeader accepted %d bytes", len(b))
		}
		enc := ringindex.EncodeHeader(h)
		if len(enc) != ringindex.HeaderSize || string(enc[:52]) != string(b[:52]) {
			t.Fatalf("EncodeHeader(DecodeHeader(b)) differs from b in the first 52 bytes")
		}
		if h2, err := ringindex.DecodeHeader(enc); err != nil || h2 != h {
			t.Fatalf("re-decoded header %+v, %v; want %+v", h2, err, h)
		}
	}
	// A header built from the inputs: valid capacities round-trip, others fail on capacity.
	hh := ringindex.Header{Capacity: 1 << (capSel % 64), Generation: gen}
	for i := range hh.LogID {
		hh.LogID[i] = byte(id >> (8 * (i % 8)))
	}
	if capSel&(1<<63) != 0 {
		hh.Capacity = capSel &^ (1 << 63)
	}
	got, err := ringindex.DecodeHeader(ringindex.EncodeHeader(hh))
	validCap := hh.Capacity >= ringindex.MinCapacity && hh.Capacity <= ringindex.MaxCapacity && hh.Capacity&(hh.Capacity-1) == 0
	want := hh
	want.Version, want.HeaderSize = ringindex.Version, ringindex.HeaderSize
	switch {
	case validCap && (err != nil || got != want):
		t.Fatalf("DecodeHeader(EncodeHeader(%+v)) = %+v, %v", hh, got, err)
	case !validCap && !errors.Is(err, ringindex.ErrCorrupt):
		t.Fatalf("capacity %d accepted: %+v, %v", hh.Capacity, got, err)
	}
}

func checkFileName(t *testing.T, gen uint64, s string) {
	name := ringindex.FileName(gen)
	if g, ok := ringindex.ParseFileName(name); !ok || g != gen {
		t.Fatalf("ParseFileName(FileName(%d)) = %d, %v", gen, g, ok)
	}
	if g, ok := ringindex.ParseFileName(s); ok && ringindex.FileName(g) != s {
		t.Fatalf("ParseFileName(%q) = %d, but FileName(%d) = %q", s, g, g, ringindex.FileName(g))
	}
}
