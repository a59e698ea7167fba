package mmaplog_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edsrzf/mmap-go"
	"github.com/ringlog/ringlog/mmaplog"
)

// A ring in steady state (issue 15, Targets): a HoldLock log with Retention{MaxEvents:
// 1M} of 128-byte events, filled until retention has already removed segments before any
// timer starts, so that every figure below is one of a log that runs forever in bounded
// space. The targets, read off one run (make bench-ring):
//   - append/size=128 within 1.15x BenchmarkAppendHoldLockPrefaulted/log/size=128;
//   - batch/n=1000/size=128 at >= 40% of the memcpy limit: its %-of-memcpy metric, the
//     same batches copied into a prefaulted shared mapping of one segment's size in the
//     same sub-benchmark (baseline=memcpy beside it shows that baseline on its own);
//   - flat/events=...: heap in use and RSS at the start and the end of the events, and
//     the highest RSS sampled in between, as growths in MiB (flat: near zero). 4M events,
//     or 100M with RINGLOG_LONG=1.
//
// The ring is built once per run of BenchmarkRingSteadyState and shared by its
// sub-benchmarks and their -count runs: it stays in steady state as they append.

const (
	ringMaxEvents = 1 << 20
	ringSize      = 128
	ringBatch     = 1000
	// ringFillSegments is how many segments retention must have removed before a timer
	// starts.
	ringFillSegments = 2
)

// ringLog is the steady-state ring of one BenchmarkRingSteadyState run.
type ringLog struct {
	parent *testing.B
	once   sync.Once
	l      *mmaplog.Log
	err    error
}

// get returns the ring, filling it on first use until retention has removed
// ringFillSegments segments.
func (r *ringLog) get(b *testing.B) *mmaplog.Log {
	r.once.Do(func() {
		dir := r.parent.TempDir()
		l, err := mmaplog.Open(dir, &mmaplog.Options{HoldLock: true, Retention: mmaplog.Retention{MaxEvents: ringMaxEvents}})
		if err != nil {
			r.err = err
			return
		}
		r.parent.Cleanup(func() { l.Close() })
		start := time.Now()
		batch := makeBatch(ringBatch, ringSize)
		var st mmaplog.Stats
		for st.RetentionRemovedSegments < ringFillSegments {
			for range 256 {
				if _, err := l.AppendBatch(batch); err != nil {
					r.err = err
					return
				}
			}
			if st, err = l.Stats(); err != nil {
				r.err = err
				return
			}
		}
		b.Logf("ring filled in %v: next id %d, %d live events in %d segments, retention removed %d segments (%d events)",
			time.Since(start).Round(time.Millisecond), st.NextEventID, st.EventCount, st.SegmentCount,
			st.RetentionRemovedSegments, st.RetentionRemovedEvents)
		r.l = l
	})
	if r.err != nil {
		b.Fatal(r.err)
	}
	return r.l
}

// ringCheck fails b unless the ring is still bounded: no more live events than
// MaxEvents plus what two segments hold beyond it (retention removes whole segments, at
// turnover). It reports the segments retention removed since before (a steady state that
// moved: > 0 over a long enough run).
func ringCheck(b *testing.B, l *mmaplog.Log, before mmaplog.Stats) {
	b.Helper()
	st, err := l.Stats()
	if err != nil {
		b.Fatal(err)
	}
	perSeg := uint64(mmaplog.DefaultSegmentSize) / ringSize
	if st.EventCount > ringMaxEvents+2*perSeg {
		b.Fatalf("the ring holds %d live events, want at most MaxEvents %d + two segments", st.EventCount, ringMaxEvents)
	}
	b.ReportMetric(float64(st.RetentionRemovedSegments-before.RetentionRemovedSegments), "segs-removed")
}

func ringStats(b *testing.B, l *mmaplog.Log) mmaplog.Stats {
	b.Helper()
	st, err := l.Stats()
	if err != nil {
		b.Fatal(err)
	}
	return st
}

func BenchmarkRingSteadyState(b *testing.B) {
	ring := &ringLog{parent: b}
	ev := payload(ringSize)
	batch := makeBatch(ringBatch, ringSize)
	b.Run(fmt.Sprintf("append/size=%d", ringSize), func(b *testing.B) {
		l := ring.get(b)
		before := ringStats(b, l)
		b.SetBytes(ringSize)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Append(ev); err != nil {
				b.Fatal(err)
			}
		}
		ringCheck(b, l, before)
	})
	b.Run(fmt.Sprintf("batch/n=%d/size=%d", ringBatch, ringSize), func(b *testing.B) {
		l := ring.get(b)
		m := memcpyMapping(b)
		before := ringStats(b, l)
		ops := 0
		b.SetBytes(ringBatch * ringSize)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.AppendBatch(batch); err != nil {
				b.Fatal(err)
			}
			ops++
		}
		logNs := float64(b.Elapsed().Nanoseconds()) / float64(ops)
		ringCheck(b, l, before)
		// The memcpy limit, in the same run: the same batches copied into the mapping,
		// at least 2000 times (256 MB) so that a short ramp-up run measures it too.
		n := max(ops, 2000)
		off := 0
		t0 := time.Now()
		for range n {
			off = memcpyBatch(m, off, batch)
		}
		cpNs := float64(time.Since(t0).Nanoseconds()) / float64(n)
		b.ReportMetric(float64(ringBatch*ringSize)/cpNs*1e3, "memcpy-MB/s")
		b.ReportMetric(cpNs/logNs*100, "%-of-memcpy")
		b.ReportMetric(logNs/ringBatch, "ns/event")
	})
	b.Run(fmt.Sprintf("baseline=memcpy/n=%d/size=%d", ringBatch, ringSize), func(b *testing.B) {
		m := memcpyMapping(b)
		off := 0
		b.SetBytes(ringBatch * ringSize)
		b.ReportAllocs()
		for b.Loop() {
			off = memcpyBatch(m, off, batch)
		}
	})
	events := 4 << 20
	if os.Getenv("RINGLOG_LONG") != "" {
		events = 100 << 20
	}
	b.Run(fmt.Sprintf("flat/events=%dM/size=%d", events>>20, ringSize), func(b *testing.B) {
		l := ring.get(b)
		before := ringStats(b, l)
		heap0, rss0 := heapInUse(), residentBytes(b)
		peak := rss0
		total := 0
		b.ReportAllocs()
		for b.Loop() {
			for i := range events {
				if _, err := l.Append(ev); err != nil {
					b.Fatal(err)
				}
				if i&(1<<20-1) == 0 {
					peak = max(peak, residentBytes(b))
				}
			}
			total += events
		}
		b.StopTimer()
		heap1, rss1 := heapInUse(), residentBytes(b)
		peak = max(peak, rss1)
		ringCheck(b, l, before)
		const mib = 1 << 20
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/event")
		b.ReportMetric((float64(heap1)-float64(heap0))/mib, "heap-growth-MiB")
		b.ReportMetric((float64(rss1)-float64(rss0))/mib, "rss-growth-MiB")
		b.ReportMetric((float64(peak)-float64(rss0))/mib, "rss-peak-growth-MiB")
		b.Logf("%d events: heap in use %.1f -> %.1f MiB, RSS %.1f -> %.1f MiB (peak sampled %.1f MiB)",
			total, float64(heap0)/mib, float64(heap1)/mib, float64(rss0)/mib, float64(rss1)/mib, float64(peak)/mib)
	})
}

// memcpyMapping returns a shared read-write mapping of a new file of one segment's size
// in b's temporary directory, prefaulted as the log prefaults its segments: the memory
// the memcpy limit copies into (bench/limits_test.go measures the same limit against the
// peers). It is unmapped when b ends.
func memcpyMapping(b *testing.B) []byte {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "memcpy.map"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(mmaplog.DefaultSegmentSize); err != nil {
		b.Fatal(err)
	}
	m, err := mmap.MapRegion(f, mmaplog.DefaultSegmentSize, mmap.RDWR, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Unmap() })
	mmaplog.Prefault(m)
	return m
}

// memcpyBatch copies each event of batch to the next free place of m, wrapping to the
// start when the rest does not fit; off is the current place, it returns the next one.
func memcpyBatch(m []byte, off int, batch [][]byte) int {
	for _, ev := range batch {
		if off+len(ev) > len(m) {
			off = 0
		}
		off += copy(m[off:], ev)
	}
	return off
}

// heapInUse is the heap in use after a garbage collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// residentBytes is the resident set size of this process, from /proc/self/statm (its
// second field, in pages): anonymous memory and the mapped file pages resident.
func residentBytes(b *testing.B) uint64 {
	buf, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(bytes.TrimSpace(buf)))
	if len(f) < 2 {
		b.Fatalf("/proc/self/statm: %q", buf)
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		b.Fatalf("/proc/self/statm: %v", err)
	}
	return pages * uint64(os.Getpagesize())
}
