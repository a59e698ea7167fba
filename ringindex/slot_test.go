package ringindex_test

import (
	"math/rand"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

func TestSlotRoundTrip(t *testing.T) {
	seqs := []uint64{0, 1, 2, 7, 1<<31 - 2, 1<<31 - 1, 1 << 31, 1<<31 + 1, 1<<32 + 5, 1<<63 - 1, 1 << 63, ^uint64(0)}
	offs := []uint64{0, 8, 16, 4096, 1 << 20, 1<<32 - 8, 1 << 32, 1 << 34, ringindex.MaxOffset - 8, ringindex.MaxOffset}
	rng := rand.New(rand.NewSource(*seed))
	for range 1000 {
		seqs = append(seqs, rng.Uint64())
		offs = append(offs, rng.Uint64()%(ringindex.MaxOffset/8+1)*8)
	}
	n := 0
	for _, seq := range seqs {
		for _, off := range offs {
			s := ringindex.MakeSlot(seq, off)
			if got := s.SeqLow(); got != seq&ringindex.SeqMask {
				t.Fatalf("MakeSlot(%d, %d).SeqLow() = %d, want %d", seq, off, got, seq&ringindex.SeqMask)
			}
			if got := s.Offset(); got != off {
				t.Fatalf("MakeSlot(%d, %d).Offset() = %d", seq, off, got)
			}
			if s.Tombstoned() {
				t.Fatalf("MakeSlot(%d, %d) is tombstoned", seq, off)
			}
			if s.IsZero() != (seq&ringindex.SeqMask == 0 && off == 0) {
				t.Fatalf("MakeSlot(%d, %d).IsZero() = %v", seq, off, s.IsZero())
			}
			ts := s.WithTombstone()
			if !ts.Tombstoned() || ts.IsZero() || ts.SeqLow() != s.SeqLow() || ts.Offset() != s.Offset() {
				t.Fatalf("WithTombstone of %v = %v: fields changed or bit missing", s, ts)
			}
			if ts.WithTombstone() != ts {
				t.Fatalf("WithTombstone not idempotent on %v", ts)
			}
			n++
		}
	}
	if !ringindex.Slot(0).IsZero() {
		t.Fatal("Slot(0) not zero")
	}
	t.Logf("checked %d (seq, offset) pairs", n)
}

func TestSlotBitLayout(t *testing.T) {
	// The wire layout: bit 63 tombstone, bits 32..62 seq low, bits 0..31 offset/8.
	s := ringindex.MakeSlot(0x7fffffff, ringindex.MaxOffset)
	if uint64(s) != 0x7fffffff_ffffffff {
		t.Fatalf("max slot = %#x", uint64(s))
	}
	if got := uint64(ringindex.MakeSlot(3, 40)); got != 3<<32|5 {
		t.Fatalf("MakeSlot(3, 40) = %#x, want %#x", got, uint64(3<<32|5))
	}
	if got := uint64(ringindex.Slot(0).WithTombstone()); got != 1<<63 {
		t.Fatalf("tombstone bit = %#x", got)
	}
}

func TestMakeSlotPanics(t *testing.T) {
	for _, off := range []uint64{1, 7, 9, ringindex.MaxOffset + 8, ^uint64(0)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("MakeSlot(1, %d) did not panic", off)
				}
			}()
			ringindex.MakeSlot(1, off)
		}()
	}
}

func TestSlotFullSeq(t *testing.T) {
	const w = uint64(1) << 31
	cases := []struct{ real, ref uint64 }{
		{0, 0}, {5, 5}, {5, 6}, {0, w - 1}, {1, w}, // ref crosses 2^31, real below it
		{w - 1, w}, {w - 1, w + 5}, {w, w}, {w + 3, 2*w - 1}, {w + 3, 2*w + 2},
		{3*w - 1, 3*w + 7}, {1<<40 + 17, 1<<40 + 17 + w - 1},
		{^uint64(0) - w + 1, ^uint64(0)}, {^uint64(0), ^uint64(0)},
	}
	rng := rand.New(rand.NewSource(*seed))
	for range 10000 {
		real := rng.Uint64()
		d := rng.Uint64() % w
		if real > ^uint64(0)-d {
			continue
		}
		cases = append(cases, struct{ real, ref uint64 }{real, real + d})
	}
	for _, c := range cases {
		s := ringindex.MakeSlot(c.real, 8)
		if got := s.FullSeq(c.ref); got != c.real {
			t.Fatalf("FullSeq(ref=%d) of seq %d = %d", c.ref, c.real, got)
		}
		if got := s.WithTombstone().FullSeq(c.ref); got != c.real {
			t.Fatalf("tombstoned FullSeq(ref=%d) of seq %d = %d", c.ref, c.real, got)
		}
	}
	t.Logf("checked %d FullSeq cases", len(cases))
}

func TestFileName(t *testing.T) {
	for _, gen := range []uint64{0, 1, 0xabc, 1<<63 + 9, ^uint64(0)} {
		name := ringindex.FileName(gen)
		got, ok := ringindex.ParseFileName(name)
		if !ok || got != gen {
			t.Fatalf("ParseFileName(%q) = %d, %v; want %d", name, got, ok, gen)
		}
	}
	if got := ringindex.FileName(0x1f); got != "index-000000000000001f" {
		t.Fatalf("FileName(0x1f) = %q", got)
	}
	for _, bad := range []string{"", "index-", "index-1f", "index-000000000000001F", "index-000000000000001g",
		"segment-000000000000001f", "index-000000000000001f.tmp-00", "index-+00000000000001f", "xindex-000000000000001f"} {
		if gen, ok := ringindex.ParseFileName(bad); ok {
			t.Errorf("ParseFileName(%q) = %d, true; want false", bad, gen)
		}
	}
}
