package ringindex_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

const headerLen = 52 // meaningful header bytes; the rest of the block is reserved

// fixCRC recomputes the header checksum after a deliberate field change, so
// the test reaches the check it is aimed at.
func fixCRC(b []byte) {
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], crc32.MakeTable(crc32.Castagnoli)))
}

// TestOpenCorrupt is the recovery table: each case damages a freshly created
// index file on disk and checks the typed error Open returns.
func TestOpenCorrupt(t *testing.T) {
	type tc struct {
		name    string
		corrupt func(path string, b []byte) []byte // returns the new file contents
		logID   [16]byte
		want    error
		field   string
	}
	cases := []tc{
		{name: "wrong magic", corrupt: func(_ string, b []byte) []byte { copy(b, "RLOGIDY\x00"); return b }, want: ringindex.ErrCorrupt, field: "magic"},
		{name: "zeroed header", corrupt: func(_ string, b []byte) []byte { clear(b[:ringindex.HeaderSize]); return b }, want: ringindex.ErrCorrupt, field: "magic"},
		{name: "empty file", corrupt: func(_ string, b []byte) []byte { return b[:0] }, want: ringindex.ErrCorrupt, field: "header"},
		{name: "version 2", corrupt: func(_ string, b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); fixCRC(b); return b }, want: ringindex.ErrVersion, field: "version"},
		{name: "version 0", corrupt: func(_ string, b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 0); fixCRC(b); return b }, want: ringindex.ErrVersion, field: "version"},
		{name: "crc flipped", corrupt: func(_ string, b []byte) []byte { b[50] ^= 0x10; return b }, want: ringindex.ErrCorrupt, field: "crc"},
		{name: "generation changed without crc", corrupt: func(_ string, b []byte) []byte { b[40]++; return b }, want: ringindex.ErrCorrupt, field: "crc"},
		{name: "header size 8192", corrupt: func(_ string, b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 8192); fixCRC(b); return b }, want: ringindex.ErrCorrupt, field: "headerSize"},
		{name: "capacity not power of two", corrupt: func(_ string, b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1536); fixCRC(b); return b }, want: ringindex.ErrCorrupt, field: "capacity"},
		{name: "capacity below min", corrupt: func(_ string, b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 512); fixCRC(b); return b }, want: ringindex.ErrCorrupt, field: "capacity"},
		{name: "capacity zero", corrupt: func(_ string, b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 0); fixCRC(b); return b }, want: ringindex.ErrCorrupt, field: "capacity"},
		{name: "capacity above max", corrupt: func(_ string, b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1<<41); fixCRC(b); return b }, want: ringindex.ErrCorrupt, field: "capacity"},
		{name: "capacity max but file short", corrupt: func(_ string, b []byte) []byte { binary.LittleEndian.PutUint64(b[16:], 1<<40); fixCRC(b); return b }, want: ringindex.ErrCorrupt, field: "size"},
		{name: "capacity doubled but file short", corrupt: func(_ string, b []byte) []byte {
			binary.LittleEndian.PutUint64(b[16:], 2*ringindex.MinCapacity)
			fixCRC(b)
			return b
		}, want: ringindex.ErrCorrupt, field: "size"},
		{name: "file shorter than slots by 8", corrupt: func(_ string, b []byte) []byte { return b[:len(b)-8] }, want: ringindex.ErrCorrupt, field: "size"},
		{name: "file shorter than slots by 1", corrupt: func(_ string, b []byte) []byte { return b[:len(b)-1] }, want: ringindex.ErrCorrupt, field: "size"},
		{name: "header block only", corrupt: func(_ string, b []byte) []byte { return b[:ringindex.HeaderSize] }, want: ringindex.ErrCorrupt, field: "size"},
		{name: "foreign logID", corrupt: func(_ string, b []byte) []byte { return b }, logID: [16]byte{1}, want: ringindex.ErrForeign, field: "logID"},
		{name: "foreign logID in file", corrupt: func(_ string, b []byte) []byte { b[24] ^= 0xff; fixCRC(b); return b }, want: ringindex.ErrForeign, field: "logID"},
	}
	for off := 0; off < headerLen; off++ {
		cases = append(cases, tc{
			name:    "truncated at " + strconv.Itoa(off),
			corrupt: func(_ string, b []byte) []byte { return b[:off] },
			want:    ringindex.ErrCorrupt, field: "header",
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, path := create(t, ringindex.MinCapacity)
			x.Store(3, ringindex.MakeSlot(1, 8))
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, c.corrupt(path, b), 0o644); err != nil {
				t.Fatal(err)
			}
			logID := testLogID
			if c.logID != ([16]byte{}) {
				logID = c.logID
			}
			for _, writable := range []bool{false, true} {
				y, err := ringindex.Open(path, logID, writable)
				if err == nil {
					y.Close()
					t.Fatalf("Open(writable=%v) succeeded on a damaged file", writable)
				}
				if !errors.Is(err, c.want) {
					t.Fatalf("Open: %v, want %v", err, c.want)
				}
				var fe *ringindex.FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("Open: %v is not a *FormatError", err)
				}
				if fe.Field != c.field || fe.Path != path {
					t.Fatalf("FormatError field %q path %q, want %q %q (%v)", fe.Field, fe.Path, c.field, path, err)
				}
			}
		})
	}
}

// TestDecodeHeaderBitFlips flips every bit of the meaningful header bytes:
// each must be caught (ErrCorrupt, or ErrVersion for the version field).
func TestDecodeHeaderBitFlips(t *testing.T) {
	good := ringindex.EncodeHeader(ringindex.Header{Capacity: 1 << 20, LogID: testLogID, Generation: 42})
	if len(good) != ringindex.HeaderSize {
		t.Fatalf("EncodeHeader returned %d bytes", len(good))
	}
	if _, err := ringindex.DecodeHeader(good); err != nil {
		t.Fatalf("good header: %v", err)
	}
	if _, err := ringindex.DecodeHeader(good[:headerLen]); err != nil {
		t.Fatalf("good header, first 52 bytes only: %v", err)
	}
	n := 0
	for i := 0; i < headerLen; i++ {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte(nil), good...)
			b[i] ^= 1 << bit
			_, err := ringindex.DecodeHeader(b)
			var fe *ringindex.FormatError
			switch {
			case err == nil:
				t.Fatalf("flip of byte %d bit %d not detected", i, bit)
			case !errors.As(err, &fe):
				t.Fatalf("flip of byte %d bit %d: %v is not a *FormatError", i, bit, err)
			case 8 <= i && i < 12:
				if !errors.Is(err, ringindex.ErrVersion) {
					t.Fatalf("flip of version byte %d bit %d: %v", i, bit, err)
				}
			case !errors.Is(err, ringindex.ErrCorrupt):
				t.Fatalf("flip of byte %d bit %d: %v, want ErrCorrupt", i, bit, err)
			}
			n++
		}
	}
	// Reserved bytes are not checked.
	b := append([]byte(nil), good...)
	b[100] = 0xff
	if _, err := ringindex.DecodeHeader(b); err != nil {
		t.Fatalf("reserved byte set: %v", err)
	}
	t.Logf("%d single-bit flips all detected", n)
}

func TestFormatErrorMessage(t *testing.T) {
	e := &ringindex.FormatError{Path: "/x/index-0000000000000001", Offset: 16, Field: "capacity", Err: ringindex.ErrCorrupt}
	const want = "ringindex: /x/index-0000000000000001: bad header field capacity at offset 16: corrupt index file"
	if e.Error() != want {
		t.Fatalf("Error() = %q, want %q", e.Error(), want)
	}
	if !errors.Is(e, ringindex.ErrCorrupt) || errors.Is(e, ringindex.ErrVersion) {
		t.Fatal("Unwrap does not give the sentinel")
	}
}

// TestDecodeHeaderRandom feeds random bytes of random length (and random
// damage to a good header) to DecodeHeader: it must never panic and must
// reject anything but a valid header.
func TestDecodeHeaderRandom(t *testing.T) {
	t.Logf("seed %d (rerun with -seed=%d)", *seed, *seed)
	rng := rand.New(rand.NewSource(*seed))
	good := ringindex.EncodeHeader(ringindex.Header{Capacity: 1 << 16, LogID: testLogID, Generation: 3})
	const rounds = 100000
	accepted := 0
	for i := range rounds {
		var b []byte
		if i%2 == 0 {
			n := rng.Intn(2 * headerLen) // mostly around the header length
			if rng.Intn(16) == 0 {
				n = rng.Intn(2 * ringindex.HeaderSize)
			}
			b = make([]byte, n)
			rng.Read(b)
			if len(b) >= 8 && rng.Intn(2) == 0 {
				copy(b, ringindex.Magic) // get past the magic check sometimes
			}
		} else {
			b = append([]byte(nil), good[:rng.Intn(len(good)+1)]...)
			for range 1 + rng.Intn(4) {
				if len(b) > 0 {
					b[rng.Intn(min(len(b), headerLen))] = byte(rng.Intn(256))
				}
			}
		}
		h, err := ringindex.DecodeHeader(b)
		if err == nil {
			// Only a header identical in its meaningful bytes may pass.
			if len(b) < headerLen || string(b[:headerLen]) != string(good[:headerLen]) {
				t.Fatalf("round %d: random header accepted: %+v", i, h)
			}
			accepted++
			continue
		}
		var fe *ringindex.FormatError
		if !errors.As(err, &fe) || !(errors.Is(err, ringindex.ErrCorrupt) || errors.Is(err, ringindex.ErrVersion)) {
			t.Fatalf("round %d: unexpected error %v", i, err)
		}
	}
	t.Logf("%d random inputs, %d accepted (unchanged good headers)", rounds, accepted)
}

func TestCreateOpenGenerationsAndNames(t *testing.T) {
	dir := t.TempDir()
	for _, gen := range []uint64{0, 1, 1 << 40} {
		path := filepath.Join(dir, ringindex.FileName(gen))
		x, err := ringindex.Create(path, ringindex.MinCapacity, testLogID, gen, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		x.Close()
		y, err := ringindex.Open(path, testLogID, false)
		if err != nil {
			t.Fatal(err)
		}
		if y.Generation() != gen {
			t.Fatalf("generation %d, want %d", y.Generation(), gen)
		}
		y.Close()
		if g, ok := ringindex.ParseFileName(filepath.Base(path)); !ok || g != gen {
			t.Fatalf("ParseFileName(%q) = %d, %v", filepath.Base(path), g, ok)
		}
	}
}
