package mmaplog

import (
	"sync/atomic"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

// BenchmarkAppendHoldLockPrefaulted measures what the append path itself costs, apart from
// providing new pages: the segments the run will fill are created and prefaulted before the
// timer starts (what the handle's background preparation does when it keeps ahead of the
// writer). On this VM a never-touched page costs 2–6 µs to provide, about 100–200 ns per
// 128-byte record, which BenchmarkAppendHoldLock (fresh pages) pays and this one does not.
// The baseline beside it does only the unavoidable work of an append into the same kind of
// memory: copy the record, checksum it, store its index slot and one atomic word.
func BenchmarkAppendHoldLockPrefaulted(b *testing.B) {
	b.Run("log/size=128", func(b *testing.B) {
		l := prefaultedLog(b, b.N)
		ev := make([]byte, 128)
		b.SetBytes(128)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := l.Append(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=record+slot+word/size=128", func(b *testing.B) {
		l := prefaultedLog(b, b.N)
		x, err := ringindex.Create(b.TempDir()+"/index", 1<<25, l.logID, 1, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Close()
		_ = x.PrefaultRange(0, uint64(b.N))
		ev := make([]byte, 128)
		size := recordSize(len(ev))
		var word uint64
		seq, off := uint64(0), uint64(segHeaderSize)
		seg, err := l.acquireSegment(seq)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(128)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if off+size > l.opts.segmentSize {
				seq, off = seq+1, segHeaderSize
				if seg, err = l.acquireSegment(seq); err != nil {
					b.Fatal(err)
				}
			}
			putRecord(seg.data[off:off+size], uint64(i), ev)
			x.Store(uint64(i), ringindex.MakeSlot(seq, off))
			off += size
			atomic.StoreUint64(&word, uint64(i))
		}
	})
}

// prefaultedLog opens a HoldLock log in b.TempDir whose first segments, enough for n
// 128-byte events, exist and are prefaulted.
func prefaultedLog(b *testing.B, n int) *Log {
	b.Helper()
	l, err := Open(b.TempDir(), &Options{HoldLock: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	segs := uint64(n)*recordSize(128)/l.opts.segmentSize + 2
	for seq := range segs {
		if err := l.ensureSegmentFile(seq); err != nil {
			b.Fatal(err)
		}
		s, err := l.acquireSegment(seq) // pinned until Close
		if err != nil {
			b.Fatal(err)
		}
		prefault(s.data)
	}
	l.preparedSeq.Store(segs) // nothing left for the background preparation
	return l
}
