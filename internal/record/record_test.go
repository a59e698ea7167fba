package record_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/ringlog/ringlog/internal/record"
)

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 127, 128, 4096} {
		payload := bytes.Repeat([]byte{byte(n) | 1}, n)
		seg := make([]byte, 64+record.Size(n)+8)
		record.Put(seg[64:], record.CRCSeed, 42, payload, false)
		got, msg := record.Decode(seg, 64, 42, 64, 1<<20, record.CRCSeed)
		if msg != "" || !bytes.Equal(got, payload) {
			t.Fatalf("n=%d: %q %q", n, got, msg)
		}
		if _, msg := record.Decode(seg, 64, 43, 64, 1<<20, record.CRCSeed); msg == "" {
			t.Fatalf("n=%d: wrong id accepted", n)
		}
		if n > 0 {
			if _, msg := record.Decode(seg, 64, 42, 64, uint64(n-1), record.CRCSeed); msg == "" {
				t.Fatalf("n=%d: length over the limit accepted", n)
			}
		}
	}
}

func TestZeroHeaderNeverValidates(t *testing.T) {
	seg := make([]byte, 4096)
	for off := uint64(0); off < 4096; off += 8 {
		if _, msg := record.Decode(seg, off, 0, 0, 4096, record.CRCSeed); msg == "" {
			t.Fatalf("all-zero record at %d validated", off)
		}
	}
}

func TestEveryBitFlipDetected(t *testing.T) {
	payload := []byte("the quick brown fox jumps over the lazy dog")
	size := record.Size(len(payload))
	seg := make([]byte, size)
	record.Put(seg, record.CRCSeed, 7, payload, false)
	flips := 0
	for i := 0; i < record.HeaderSize+len(payload); i++ {
		for b := 0; b < 8; b++ {
			seg[i] ^= 1 << b
			if got, msg := record.Decode(seg, 0, 7, 0, 1<<20, record.CRCSeed); msg == "" {
				t.Fatalf("flip of byte %d bit %d accepted: %q", i, b, got)
			}
			seg[i] ^= 1 << b
			flips++
		}
	}
	t.Logf("%d single-bit flips, all detected", flips)
}

func TestOutOfBoundsNeverPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		seg := make([]byte, r.IntN(64))
		for j := range seg {
			seg[j] = byte(r.Uint32())
		}
		off := r.Uint64N(80)
		if r.IntN(4) == 0 {
			off = r.Uint64()
		}
		_, _ = record.Decode(seg, off, r.Uint64N(4), 0, r.Uint64(), record.CRCSeed)
		_, _ = record.Length(seg, off)
	}
}

func TestMoreFlag(t *testing.T) {
	payload := []byte("inside a batch")
	seg := make([]byte, record.Size(len(payload)))
	for _, more := range []bool{false, true} {
		record.Put(seg, record.CRCSeed, 9, payload, more)
		got, msg := record.Decode(seg, 0, 9, 0, 1<<20, record.CRCSeed)
		if msg != "" || !bytes.Equal(got, payload) {
			t.Fatalf("more=%v: Decode = %q, %q", more, got, msg)
		}
		if n, ok := record.Length(seg, 0); !ok || n != uint64(len(payload)) {
			t.Fatalf("more=%v: Length = %d, %v", more, n, ok)
		}
		if record.More(seg, 0) != more {
			t.Fatalf("More = %v, want %v", !more, more)
		}
	}
	seg[7] ^= 0x80 // clear the flag without fixing the CRC: a torn batch cannot pose as whole
	if _, msg := record.Decode(seg, 0, 9, 0, 1<<20, record.CRCSeed); msg == "" {
		t.Fatal("a record whose more bit changed still validates")
	}
}

// TestSeedBindsRecordToIncarnation: a record validates only under the seed it was written
// with (a recycled segment's new salt rejects the records of its earlier uses, whatever
// id they carry), and SeedUsable refuses CRCSeed and every seed under which an all-zero
// header would validate.
func TestSeedBindsRecordToIncarnation(t *testing.T) {
	seg := make([]byte, 256)
	const a, b = 0x1234_5678, 0x1234_5679
	record.Put(seg, a, 5, []byte("old incarnation"), false)
	if _, msg := record.Decode(seg, 0, 5, 0, 1<<20, a); msg != "" {
		t.Fatalf("record under its own seed: %s", msg)
	}
	if _, msg := record.Decode(seg, 0, 5, 0, 1<<20, b); msg != "record checksum mismatch" {
		t.Fatalf("record under the next salt: %q, want a checksum mismatch", msg)
	}
	if record.SeedUsable(record.CRCSeed) {
		t.Fatal("SeedUsable(CRCSeed) = true")
	}
	zero := make([]byte, record.HeaderSize)
	usable := 0
	for seed := uint32(0); seed < 1<<16; seed++ {
		if !record.SeedUsable(seed) {
			continue
		}
		usable++
		if _, msg := record.Decode(zero, 0, 0, 0, 1<<20, seed); msg == "" {
			t.Fatalf("an all-zero header validates under usable seed %#x", seed)
		}
	}
	if usable < 1<<16-4 {
		t.Fatalf("only %d of %d seeds usable", usable, 1<<16)
	}
	t.Logf("%d of %d seeds usable", usable, 1<<16)
}
