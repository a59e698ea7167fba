package record

import (
	"fmt"
	"hash/crc32"
	"testing"
)

// BenchmarkCastagnoli compares the record CRC (impl=record) with the single-chain CRC32
// loop (impl=serial), three interleaved chains (impl=triple) and hash/crc32
// (impl=stdlib) at record sizes: HeaderSize-4 plus a
// payload of 16, 128, 512 and 4096 bytes, and 64 KiB.
func BenchmarkCastagnoli(b *testing.B) {
	table := crc32.MakeTable(crc32.Castagnoli)
	impls := []struct {
		name string
		f    func(uint32, []byte) uint32
	}{
		{"serial", castagnoliSerial},
		{"record", castagnoli},
		{"triple", castagnoli3},
		{"stdlib", func(crc uint32, p []byte) uint32 { return crc32.Update(crc, table, p) }},
	}
	for _, size := range []int{28, 140, 524, 4108, 65536} {
		buf := make([]byte, size+4)
		for i := range buf {
			buf[i] = byte(i*13 + 7)
		}
		p := buf[4:] // a record's CRC starts 4 bytes into it
		for _, impl := range impls {
			b.Run(fmt.Sprintf("size=%d/impl=%s", size, impl.name), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				// Each call continues from the last one's result, so this measures the
				// latency of a checksum, not the throughput of overlapping ones.
				crc := uint32(CRCSeed)
				for b.Loop() {
					crc = impl.f(crc, p)
				}
				sink = crc
			})
		}
	}
}

var sink uint32
