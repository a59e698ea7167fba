package record

import (
	"hash/crc32"

	"golang.org/x/sys/cpu"
)

// castagnoliSSE42 is in crc_amd64.s: a single chain of CRC32 instructions.
//
//go:noescape
func castagnoliSSE42(crc uint32, p []byte) uint32

// castagnoliTriple is in crc_amd64.s: three interleaved chains of CRC32 instructions,
// combined with PCLMULQDQ and castagnoliK.
//
//go:noescape
func castagnoliTriple(crc uint32, p []byte) uint32

var (
	haveSSE42  = cpu.X86.HasSSE42
	haveTriple = cpu.X86.HasSSE42 && cpu.X86.HasPCLMULQDQ
)

const (
	// maxSegWords is the longest run of 8-byte words castagnoliTriple splits into three
	// chains before combining them; castagnoliK has an entry for each shift up to it.
	maxSegWords = 384
	// tripleExtraWords is about how many more words castagnoliTriple's last chain takes
	// than the other two, so that combining those overlaps its last instructions.
	tripleExtraWords = 2
	// tripleMinWords is the fewest words castagnoliTriple splits; fewer go in one chain.
	tripleMinWords = tripleExtraWords + 3
)

// castagnoliK[n] is x^(64n-33) mod P, bit-reflected like a CRC register (bit 31 is x^0),
// for P the Castagnoli polynomial: PCLMULQDQ of a raw CRC state with it, reduced by a
// CRC32Q, shifts the state past n zero words. castagnoliK[0] is unused.
var castagnoliK = makeCastagnoliK()

func makeCastagnoliK() (k [maxSegWords + 1]uint64) {
	r := uint32(1 << 31) // x^0
	for range 31 {       // x^31
		if r&1 != 0 {
			r = r>>1 ^ crc32.Castagnoli
		} else {
			r >>= 1
		}
	}
	for n := 1; n <= maxSegWords; n++ {
		k[n] = uint64(r)
		for range 8 { // times x^8: a zero byte into the raw register
			r = castagnoliTable[byte(r)] ^ r>>8
		}
	}
	return k
}

// tripleMinLen is the shortest input castagnoli gives to castagnoliTriple: below it the
// three chains measured no faster than one (BenchmarkCastagnoli: 17.1 against 18.5 ns at
// 140 bytes, slower from 44 to 100 bytes), from 524 bytes up about twice as fast.
const tripleMinLen = 512

// castagnoli returns crc32.Update(crc, castagnoli table, p). Records are short (a header
// and an event), so the standard library's dispatch costs about as many instructions as
// the checksum itself: this calls a CRC32 instruction loop directly, one chain for short
// inputs, three interleaved chains from tripleMinLen bytes.
func castagnoli(crc uint32, p []byte) uint32 {
	if len(p) < tripleMinLen && haveSSE42 {
		return castagnoliSSE42(crc, p) // the common case: one call to the loop
	}
	if haveTriple {
		return castagnoliTriple(crc, p)
	}
	return castagnoliSerial(crc, p)
}

// castagnoliSerial is castagnoli's single chain of CRC32 instructions.
func castagnoliSerial(crc uint32, p []byte) uint32 {
	if haveSSE42 {
		return castagnoliSSE42(crc, p)
	}
	return castagnoliGeneric(crc, p)
}

// castagnoliGeneric is the fallback of castagnoli without SSE4.2.
//
//go:noinline
func castagnoliGeneric(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoliTable, p) }
