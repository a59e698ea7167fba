package record

import (
	"hash/crc32"
	"testing"
)

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
				if got, want := castagnoli(seed, p), crc32.Update(seed, table, p); got != want {
					t.Fatalf("castagnoli(%#x, %d bytes at alignment %d) = %#x, want %#x", seed, n, align, got, want)
				}
			}
		}
	}
}
