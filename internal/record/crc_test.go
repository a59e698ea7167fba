package record

import (
	"flag"
	"hash/crc32"
	"math/rand/v2"
	"testing"
	"time"
)

// seedFlag seeds the randomized CRC tests; 0 picks a time-based seed. The seed is logged
// so that a failure can be replayed with -seed.
var seedFlag = flag.Int64("seed", 0, "random seed (0: time-based); logged")

// newRand returns the random source of a randomized test and logs its seed.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Logf("seed=%d (rerun with -seed=%d)", s, s)
	return rand.New(rand.NewPCG(uint64(s), uint64(s)>>32))
}

// checkCastagnoli fails t unless castagnoli, castagnoli3 and hash/crc32 agree on p from
// crc.
func checkCastagnoli(t *testing.T, table *crc32.Table, crc uint32, p []byte, align int) {
	t.Helper()
	want := crc32.Update(crc, table, p)
	if got := castagnoli(crc, p); got != want {
		t.Fatalf("castagnoli(%#x, %d bytes at alignment %d) = %#x, want %#x", crc, len(p), align, got, want)
	}
	if got := castagnoli3(crc, p); got != want {
		t.Fatalf("castagnoli3(%#x, %d bytes at alignment %d) = %#x, want %#x", crc, len(p), align, got, want)
	}
}

// The record CRC's own loop agrees with hash/crc32 for every length up to 600 bytes at
// every alignment, from any starting value.
func TestCastagnoliMatchesHashCRC32(t *testing.T) {
	table := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, 608)
	for i := range buf {
		buf[i] = byte(i*7 + i>>3)
	}
	for align := 0; align < 8; align++ {
		for n := 0; n+align <= 600; n++ {
			p := buf[align : align+n]
			for _, seed := range []uint32{0, CRCSeed, 0xffffffff, uint32(n) * 2654435761} {
				checkCastagnoli(t, table, seed, p, align)
			}
		}
	}
}

// Random lengths up to 64 KiB, random contents, alignments and starting values.
func TestCastagnoliRandom(t *testing.T) {
	r := newRand(t)
	table := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, 64<<10+8)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	iters := 2000
	if testing.Short() {
		iters = 200
	}
	for range iters {
		var n int
		switch r.IntN(3) {
		case 0:
			n = r.IntN(1 << 10)
		case 1:
			n = r.IntN(8 << 10)
		default:
			n = r.IntN(64<<10 + 1)
		}
		align := r.IntN(8)
		checkCastagnoli(t, table, r.Uint32(), buf[align:align+n], align)
	}
}

// Lengths around every multiple of 8 bytes up to 3 times the longest segment the
// interleaved loop handles at once and around multiples of that segment, so that every
// split of a length into streams, and every chunk boundary, is checked.
func TestCastagnoliBoundaries(t *testing.T) {
	table := crc32.MakeTable(crc32.Castagnoli)
	const seg = 8 * maxSegWords // bytes in the longest segment
	buf := make([]byte, 8*seg+16)
	for i := range buf {
		buf[i] = byte(i*31 + i>>7 + 1)
	}
	var lengths []int
	for n := 0; n <= 3*seg+8; n += 8 {
		lengths = append(lengths, n)
	}
	for k := 4; k <= 8; k++ {
		lengths = append(lengths, k*seg)
	}
	for L := 8; L <= 256; L += 8 { // chunks of 3 blocks of L bytes
		lengths = append(lengths, 3*L, 6*L, 9*L)
	}
	for _, m := range lengths {
		for d := -9; d <= 9; d++ {
			n := m + d
			if n < 0 || n+8 > len(buf) {
				continue
			}
			for _, align := range []int{0, 3, 4} {
				checkCastagnoli(t, table, CRCSeed, buf[align:align+n], align)
				checkCastagnoli(t, table, 0, buf[align:align+n], align)
			}
		}
	}
}
