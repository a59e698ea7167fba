//go:build !amd64

package record

import "hash/crc32"

// castagnoli returns crc32.Update(crc, castagnoli table, p).
func castagnoli(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoliTable, p) }
