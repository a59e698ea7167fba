package mmaplog

// Flushes returns how many flushes l started, so benchmarks can report events per flush
// (the group-commit batch size).
func Flushes(l *Log) uint64 { return l.sy.flushes.Load() }
