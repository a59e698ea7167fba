package mmaplog

// SetRetentionClock replaces the clock of seal times and MaxAge (Unix nanoseconds) and
// returns a function that restores the real one.
func SetRetentionClock(now func() int64) (restore func()) {
	old := retentionNow
	retentionNow = now
	return func() { retentionNow = old }
}

// SegmentSealTime returns the seal time recorded in a segment file's header (0: unknown).
func SegmentSealTime(hdr []byte) int64 { return sealTime(hdr) }

// Retention record offsets, for tests that damage or compare it.
const (
	MetaRetentionOff = metaRetentionOff
	MetaRetentionEnd = retentionRecordRoom
)
