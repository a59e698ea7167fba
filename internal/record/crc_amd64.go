package record

import (
	"hash/crc32"

	"golang.org/x/sys/cpu"
)

// castagnoliSSE42 is in crc_amd64.s.
//
//go:noescape
func castagnoliSSE42(crc uint32, p []byte) uint32

var haveSSE42 = cpu.X86.HasSSE42

// castagnoli returns crc32.Update(crc, castagnoli table, p). Records are short (a header
// and an event), so the standard library's dispatch costs about as many instructions as
// the checksum itself; with SSE4.2 this calls the CRC32 instruction loop directly.
func castagnoli(crc uint32, p []byte) uint32 {
	if haveSSE42 {
		return castagnoliSSE42(crc, p)
	}
	return castagnoliGeneric(crc, p)
}

// castagnoliGeneric is the fallback of castagnoli without SSE4.2.
//
//go:noinline
func castagnoliGeneric(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoliTable, p) }
