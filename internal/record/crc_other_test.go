//go:build !amd64

package record

// castagnoliSerial is castagnoli; on amd64 it is the single-chain CRC32 loop.
func castagnoliSerial(crc uint32, p []byte) uint32 { return castagnoli(crc, p) }

// castagnoli3 is castagnoli; on amd64 it interleaves three chains of CRC32 instructions.
func castagnoli3(crc uint32, p []byte) uint32 { return castagnoli(crc, p) }

// maxSegWords is the segment length, in words, of amd64's interleaved CRC loop; the
// tests check lengths around its multiples on every platform.
const maxSegWords = 384
