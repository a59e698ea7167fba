package mmaplog_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// Benchmarks of the log, with an in-memory [][]byte baseline beside them.
//
// The O(1) claims of issue 2 are read off these figures, all from one run:
//   - Get and View over "hot" ids (a fixed set of 1024 ids spread over the log): ns/op
//     within 1.5x between events=1K and events=10M;
//   - Get over "random" ids (uniform over the log): ns/op within 3x of
//     BenchmarkGetSliceBaseline with the same events, size and ids.
//
// Read logs are built once per top-level benchmark (BenchmarkGet, BenchmarkView, ...)
// with AppendBatch in chunks of 1000, shared by its sub-benchmarks and -count runs, and
// removed when that top-level benchmark ends. -short skips the 10M-event logs, and the
// 1M-event logs of the Get/View/baseline benchmarks.

// benchBatch is the chunk size used to fill read logs.
const benchBatch = 1000

// payload returns an event of size bytes with a recognizable pattern.
func payload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{16, 128, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			l := openBench(b)
			ev := payload(size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := l.Append(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendWithID(b *testing.B) {
	for _, size := range []int{128} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			l := openBench(b)
			ev := payload(size)
			id, err := l.NextEventID()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := l.AppendWithID(id, ev); err != nil {
					b.Fatal(err)
				}
				id++
			}
		})
	}
}

func BenchmarkAppendBatch(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, size := range []int{16, 128} {
			b.Run(fmt.Sprintf("n=%d/size=%d", n, size), func(b *testing.B) {
				l := openBench(b)
				batch := makeBatch(n, size)
				ops := 0
				b.ReportAllocs()
				b.SetBytes(int64(n * size))
				for b.Loop() {
					if _, err := l.AppendBatch(batch); err != nil {
						b.Fatal(err)
					}
					ops++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops*n), "ns/event")
			})
		}
	}
}

// openBench opens a log with default options in b.TempDir, closed when b ends.
func openBench(b *testing.B) *mmaplog.Log {
	b.Helper()
	l, err := mmaplog.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := l.Close(); err != nil {
			b.Error(err)
		}
	})
	return l
}

func makeBatch(n, size int) [][]byte {
	ev := payload(size)
	batch := make([][]byte, n)
	for i := range batch {
		batch[i] = ev
	}
	return batch
}

// readCase is one log shape of the read benchmarks.
type readCase struct {
	name   string // "1K", "1M", "10M"
	events int
	size   int
}

func readCases() []readCase {
	cases := []readCase{
		{"1K", 1 << 10, 16},
		{"1K", 1 << 10, 128},
		{"1K", 1 << 10, 4096},
	}
	if !testing.Short() {
		cases = append(cases, readCase{"1M", 1 << 20, 128}, readCase{"10M", 10 << 20, 128})
	}
	return cases
}

func (c readCase) subName() string { return fmt.Sprintf("events=%s/size=%d", c.name, c.size) }

// idPattern names an id sequence that a read benchmark cycles through.
type idPattern struct {
	name string
	ids  func(events int) []uint64
}

var idPatterns = []idPattern{
	{"hot", hotIDs},
	{"random", randomIDs},
}

// hotIDs returns 1024 ids spread evenly over [0, events).
func hotIDs(events int) []uint64 {
	const n = 1024
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i * events / n)
	}
	return ids
}

// randomIDs returns 1<<16 ids drawn uniformly from [0, events), with a fixed seed.
func randomIDs(events int) []uint64 {
	r := rand.New(rand.NewPCG(1, uint64(events)))
	ids := make([]uint64, 1<<16)
	for i := range ids {
		ids[i] = r.Uint64N(uint64(events))
	}
	return ids
}

// logCache holds the read logs of one top-level benchmark, built lazily by its
// sub-benchmarks and closed and removed when the top-level benchmark ends.
type logCache struct {
	parent *testing.B
	mu     sync.Mutex
	logs   map[[2]int]*mmaplog.Log
}

func newLogCache(parent *testing.B) *logCache {
	return &logCache{parent: parent, logs: map[[2]int]*mmaplog.Log{}}
}

// get returns the cached log of c, building it on first use. Ids run from 0 to
// c.events-1.
func (lc *logCache) get(b *testing.B, c readCase) *mmaplog.Log {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	key := [2]int{c.events, c.size}
	if l := lc.logs[key]; l != nil {
		return l
	}
	// The directory and the handle belong to the parent, so they outlive the
	// sub-benchmark and its -count runs; cleanups run LIFO: Close, then RemoveAll.
	dir := lc.parent.TempDir()
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	lc.parent.Cleanup(func() { l.Close() })
	start := time.Now()
	batch := makeBatch(benchBatch, c.size)
	for done := 0; done < c.events; done += len(batch) {
		if rest := c.events - done; rest < len(batch) {
			batch = batch[:rest]
		}
		if _, err := l.AppendBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	st, err := l.Stats()
	if err != nil {
		b.Fatal(err)
	}
	if st.EventCount != uint64(c.events) || st.OldestEventID != 0 {
		b.Fatalf("built log: %+v, want %d events from 0", st, c.events)
	}
	b.Logf("built %d x %d B log in %v: %d segments, index capacity %d, growing %v",
		c.events, c.size, time.Since(start).Round(time.Millisecond), st.FileCount,
		st.IndexCapacity, st.IndexGrowing)
	lc.logs[key] = l
	return l
}

// BenchmarkGet measures Get (lookup + copy out, 1 alloc) over hot and random ids.
func BenchmarkGet(b *testing.B) {
	lc := newLogCache(b)
	for _, c := range readCases() {
		for _, p := range idPatterns {
			b.Run(c.subName()+"/ids="+p.name, func(b *testing.B) {
				l := lc.get(b, c)
				ids := p.ids(c.events)
				mask := len(ids) - 1
				i, n := 0, 0
				b.ReportAllocs()
				b.SetBytes(int64(c.size))
				for b.Loop() {
					ev, err := l.Get(ids[i&mask])
					if err != nil {
						b.Fatal(err)
					}
					n += len(ev)
					i++
				}
				if n != i*c.size {
					b.Fatalf("read %d bytes in %d Gets, want %d each", n, i, c.size)
				}
			})
		}
	}
}

// BenchmarkView measures View (zero-copy lookup, 0 allocs) over hot and random ids.
func BenchmarkView(b *testing.B) {
	lc := newLogCache(b)
	for _, c := range readCases() {
		for _, p := range idPatterns {
			b.Run(c.subName()+"/ids="+p.name, func(b *testing.B) {
				l := lc.get(b, c)
				ids := p.ids(c.events)
				mask := len(ids) - 1
				i, n := 0, 0
				fn := func(ev []byte) error {
					n += len(ev)
					return nil
				}
				b.ReportAllocs()
				b.SetBytes(int64(c.size))
				for b.Loop() {
					if err := l.View(ids[i&mask], fn); err != nil {
						b.Fatal(err)
					}
					i++
				}
				if n != i*c.size {
					b.Fatalf("read %d bytes in %d Views, want %d each", n, i, c.size)
				}
			})
		}
	}
}

// baselineSink makes the baseline's copy escape to the heap like Get's result.
var baselineSink []byte

// BenchmarkGetSliceBaseline is the in-memory baseline of BenchmarkGet: a [][]byte of
// the same events (one backing array, as the log's segments), read the same way:
// lookup, make and copy.
func BenchmarkGetSliceBaseline(b *testing.B) {
	var cache map[[2]int][][]byte
	b.Cleanup(func() { cache = nil })
	cache = map[[2]int][][]byte{}
	for _, c := range readCases() {
		for _, p := range idPatterns {
			b.Run(c.subName()+"/ids="+p.name, func(b *testing.B) {
				key := [2]int{c.events, c.size}
				events := cache[key]
				if events == nil {
					backing := make([]byte, c.events*c.size)
					ev := payload(c.size)
					events = make([][]byte, c.events)
					for j := range events {
						events[j] = backing[j*c.size : (j+1)*c.size : (j+1)*c.size]
						copy(events[j], ev)
					}
					cache[key] = events
				}
				ids := p.ids(c.events)
				mask := len(ids) - 1
				i, n := 0, 0
				b.ReportAllocs()
				b.SetBytes(int64(c.size))
				for b.Loop() {
					id := ids[i&mask]
					if id >= uint64(len(events)) {
						b.Fatal("not found")
					}
					src := events[id]
					ev := make([]byte, len(src))
					copy(ev, src)
					baselineSink = ev // escape, as Get's result does
					n += len(ev)
					i++
				}
				if n != i*c.size {
					b.Fatalf("read %d bytes in %d lookups, want %d each", n, i, c.size)
				}
			})
		}
	}
}

// BenchmarkIterate reads every event of a 1M x 128 B log per op (64K events in -short
// mode) with IterRange(0, Latest), Next and Value.
func BenchmarkIterate(b *testing.B) {
	c := readCase{"1M", 1 << 20, 128}
	if testing.Short() {
		c = readCase{"64K", 1 << 16, 128}
	}
	lc := newLogCache(b)
	b.Run(c.subName(), func(b *testing.B) {
		l := lc.get(b, c)
		b.ReportAllocs()
		b.SetBytes(int64(c.events * c.size))
		for b.Loop() {
			it, err := l.IterRange(0, mmaplog.Latest)
			if err != nil {
				b.Fatal(err)
			}
			n, bytes := 0, 0
			for it.Next() {
				bytes += len(it.Value())
				n++
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
			it.Close()
			if n != c.events || bytes != c.events*c.size {
				b.Fatalf("iterated %d events, %d bytes; want %d, %d", n, bytes, c.events, c.events*c.size)
			}
		}
	})
}
