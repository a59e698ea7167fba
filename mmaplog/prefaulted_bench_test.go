package mmaplog

import (
	"sync/atomic"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

// prefaultedChunk is how many events BenchmarkAppendHoldLockPrefaulted appends between
// pauses of its timer (about 144 MiB of 128-byte records).
const prefaultedChunk = 1 << 20

// BenchmarkAppendHoldLockPrefaulted measures what the append path itself costs, apart from
// providing new pages: every prefaultedChunk events the timer stops while the segments the
// next chunk will fill are created and prefaulted, and the events before are deleted (what
// the handle's background preparation and a retention policy do when they keep ahead of
// the writer; the deletes also keep the dirty page cache small, so that write-back does
// not write-protect the pages ahead). On this VM a never-touched page costs 2–8 µs to
// provide, 100–300 ns per 128-byte record, which BenchmarkAppendHoldLock (fresh pages)
// pays and this one does not. The baseline beside it does only the unavoidable work of an
// append into the same kind of memory: copy the record, checksum it, store its index slot
// and one atomic word.
func BenchmarkAppendHoldLockPrefaulted(b *testing.B) {
	ev := make([]byte, 128)
	size := recordSize(len(ev))
	b.Run("log/size=128", func(b *testing.B) {
		l, err := Open(b.TempDir(), &Options{HoldLock: true})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		b.SetBytes(128)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if i%prefaultedChunk == 0 {
				b.StopTimer()
				prefaultNextChunk(b, l, size)
				b.StartTimer()
			}
			if _, err := l.Append(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=record+slot+word/size=128", func(b *testing.B) {
		l, err := Open(b.TempDir(), &Options{NoPrefault: true})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		segs := prefaultedChunk*size/l.opts.segmentSize + 2
		mapped := make([]*segment, segs)
		for seq := range segs {
			if mapped[seq], err = prefaultSegment(l, seq); err != nil {
				b.Fatal(err)
			}
		}
		x, err := ringindex.Create(b.TempDir()+"/index", 2*prefaultedChunk, l.logID, 1, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Close()
		_ = x.PrefaultRange(0, 2*prefaultedChunk)
		var word uint64
		seq, off := uint64(0), uint64(segHeaderSize)
		b.SetBytes(128)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if off+size > l.opts.segmentSize {
				seq, off = (seq+1)%segs, segHeaderSize
			}
			putRecord(mapped[seq].data[off:off+size], mapped[seq].seed, uint64(i), ev, false)
			x.Store(uint64(i), ringindex.MakeSlot(seq, off))
			off += size
			atomic.StoreUint64(&word, uint64(i))
		}
	})
}

// prefaultNextChunk deletes every event of l but the newest, then creates and prefaults
// the segments that the next prefaultedChunk appends of records of size bytes fill.
func prefaultNextChunk(b *testing.B, l *Log, size uint64) {
	b.Helper()
	if next, err := l.NextEventID(); err == nil && next > 1 {
		if _, err := l.DeleteRange(0, next-2); err != nil {
			b.Fatal(err)
		}
	}
	active := l.loadState().activeSeq
	last := active + prefaultedChunk*size/l.opts.segmentSize + 1
	for seq := active; seq <= last; seq++ {
		if _, err := prefaultSegment(l, seq); err != nil {
			b.Fatal(err)
		}
		l.releaseSegment(seq)
	}
	l.preparedSeq.Store(last + 1) // nothing left for the background preparation
}

// prefaultSegment creates segment seq of l if needed, maps it and prefaults the mapping;
// the mapping stays pinned once.
func prefaultSegment(l *Log, seq uint64) (*segment, error) {
	if err := l.ensureSegmentFile(seq); err != nil {
		return nil, err
	}
	s, err := l.acquireSegment(seq)
	if err != nil {
		return nil, err
	}
	prefault(s.data)
	return s, nil
}
