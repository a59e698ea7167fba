package mmaplog

import (
	"sync/atomic"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

func warmLog(b *testing.B, n int) *Log {
	l, err := Open(b.TempDir(), &Options{HoldLock: true, IndexCapacity: warmIndexCap})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	segs := uint64(n)*144/l.opts.segmentSize + 2
	for s := uint64(0); s < segs; s++ {
		if err := l.ensureSegmentFile(s); err != nil {
			b.Fatal(err)
		}
		sg, err := l.acquireSegment(s)
		if err != nil {
			b.Fatal(err)
		}
		prefault(sg.data)
	}
	l.preparedSeq.Store(segs)
	return l
}

func BenchmarkAppendHoldLockWarm(b *testing.B) {
	l := warmLog(b, b.N)
	ev := make([]byte, 128)
	b.SetBytes(128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHoldLockWarmBigIndex(b *testing.B) {
	warmIndexCap = 1 << 24
	defer func() { warmIndexCap = 0 }()
	l := warmLog(b, b.N)
	ev := make([]byte, 128)
	b.SetBytes(128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFloorWarm(b *testing.B) {
	l := warmLog(b, b.N)
	ev := make([]byte, 128)
	x, err := ringindex.Create(b.TempDir()+"/idx", 1<<25, l.logID, 1, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	x.PrefaultRange(0, uint64(b.N))
	var word uint64
	b.SetBytes(128)
	b.ReportAllocs()
	b.ResetTimer()
	seq, off := uint64(0), uint64(64)
	sg, _ := l.acquireSegment(0)
	for i := 0; i < b.N; i++ {
		if off+144 > l.opts.segmentSize {
			seq++
			off = 64
			sg, _ = l.acquireSegment(seq)
		}
		putRecord(sg.data[off:off+144], uint64(i), ev)
		x.Store(uint64(i), ringindex.MakeSlot(seq, off))
		off += 144
		atomic.StoreUint64(&word, uint64(i))
	}
}

var warmIndexCap uint64
