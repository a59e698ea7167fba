package mmaplog

// Flushes returns how many flushes l started, so benchmarks can report events per flush
// (the group-commit batch size).
func Flushes(l *Log) uint64 { return l.sy.flushes.Load() }

// FlushesAhead counts the flushes of l that wrote blocks ahead of the records (flushEnd).
func FlushesAhead(l *Log) uint64 { return l.sy.ahead.Load() }

// FirstUnwritten is firstUnwritten: the first offset in [from, to) of the file at path
// not in a written extent.
func FirstUnwritten(path string, from, to uint64) (uint64, error) {
	return firstUnwritten(path, from, to)
}

// FlushAheadChunk is flushAheadChunk.
const FlushAheadChunk = flushAheadChunk
