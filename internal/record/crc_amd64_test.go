package record

// castagnoli3 is castagnoli with three interleaved chains of CRC32 instructions
// (castagnoliTriple) at every length, where the CPU has PCLMULQDQ.
func castagnoli3(crc uint32, p []byte) uint32 {
	if !haveTriple {
		return castagnoliSerial(crc, p)
	}
	return castagnoliTriple(crc, p)
}
