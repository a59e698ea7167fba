package bench

import (
	"fmt"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
	tidwal "github.com/tidwall/wal"
)

// appendSizes are the payload sizes of the append workloads.
var appendSizes = []int{16, 128, 4096}

// openRinglog opens a new ringlog in b's temporary directory, closed when b ends.
func openRinglog(b testing.TB, opts *mmaplog.Options) *mmaplog.Log {
	b.Helper()
	return openRinglogAt(b, b.TempDir(), opts)
}

// openTidwall opens a tidwall/wal in dir (b's temporary directory when empty), closed
// when b ends.
func openTidwall(b testing.TB, dir string, opts *tidwal.Options) *tidwal.Log {
	b.Helper()
	if dir == "" {
		dir = b.TempDir()
	}
	l, err := tidwal.Open(dir, opts)
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

// BenchmarkAppend appends one event per call, non-durable: ringlog with the writer lock
// taken per call (flock) and held across calls (HoldLock), tidwall/wal with NoSync, and
// the limits: a memcpy into a prefaulted shared mapping and a flock(2) pair.
func BenchmarkAppend(b *testing.B) {
	for _, size := range appendSizes {
		ev := payload(size)
		for _, impl := range []string{"ringlog", "ringlog-holdlock", "tidwall-nosync", "limit-memcpy", "limit-flock"} {
			b.Run(fmt.Sprintf("impl=%s/size=%d", impl, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				switch impl {
				case "ringlog", "ringlog-holdlock":
					l := openRinglog(b, &mmaplog.Options{HoldLock: impl == "ringlog-holdlock"})
					id := uint64(1)
					for b.Loop() {
						if err := l.AppendWithID(id, ev); err != nil {
							b.Fatal(err)
						}
						id++
					}
				case "tidwall-nosync":
					l := openTidwall(b, "", tidwallOptions(true))
					id := uint64(1)
					for b.Loop() {
						if err := l.Write(id, ev); err != nil {
							b.Fatal(err)
						}
						id++
					}
				case "limit-memcpy":
					m := prefaultedMapping(b, limitMapSize)
					one := [][]byte{ev}
					off := 0
					for b.Loop() {
						off = memcpyLimit(m, off, one)
					}
				case "limit-flock":
					fd := lockFile(b)
					for b.Loop() {
						if err := flockPair(fd); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

// BenchmarkAppendBatch appends n events per call, non-durable: ringlog
// (AppendBatchWithIDs), tidwall/wal with NoSync (Batch + WriteBatch), the memcpy
// limit (n copies into a prefaulted shared mapping) and the new-pages limit (the same
// copies into pages never touched before). It reports ns/event beside ns/op.
func BenchmarkAppendBatch(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, size := range appendSizes {
			batch := makeBatch(n, size)
			for _, impl := range []string{"ringlog", "tidwall-nosync", "limit-memcpy", "limit-newpages"} {
				b.Run(fmt.Sprintf("impl=%s/n=%d/size=%d", impl, n, size), func(b *testing.B) {
					b.ReportAllocs()
					b.SetBytes(int64(n * size))
					ops := 0
					switch impl {
					case "ringlog":
						l := openRinglog(b, nil)
						id := uint64(1)
						for b.Loop() {
							if err := l.AppendBatchWithIDs(id, batch); err != nil {
								b.Fatal(err)
							}
							id += uint64(n)
							ops++
						}
					case "tidwall-nosync":
						l := openTidwall(b, "", tidwallOptions(true))
						var tb tidwal.Batch
						id := uint64(1)
						for b.Loop() {
							for _, ev := range batch {
								tb.Write(id, ev)
								id++
							}
							if err := l.WriteBatch(&tb); err != nil {
								b.Fatal(err)
							}
							ops++
						}
					case "limit-memcpy":
						m := prefaultedMapping(b, limitMapSize)
						off := 0
						for b.Loop() {
							off = memcpyLimit(m, off, batch)
							ops++
						}
					case "limit-newpages":
						p := newPagesLimit(b)
						for b.Loop() {
							p.copy(batch)
							ops++
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops*n), "ns/event")
				})
			}
		}
	}
}
