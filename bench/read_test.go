package bench

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/mmaplog"
)

// readSize is the payload size of the read workloads' logs.
const readSize = 128

// openRinglogAt opens the ringlog in dir with opts, closed when b ends.
func openRinglogAt(b testing.TB, dir string, opts *mmaplog.Options) *mmaplog.Log {
	b.Helper()
	l, err := mmaplog.Open(dir, opts)
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

// baselineSink makes the slice baseline's copy escape to the heap like Get's result.
var baselineSink []byte

// BenchmarkGet reads random ids (uniform over 1M events of 128 B, the same 64K ids for
// every impl) from a warm log: ringlog Get (a copy) and View (zero-copy), tidwall/wal at
// its defaults (an LRU of 2 parsed segments) and with every segment cached, raft-wal, and
// the limit: a [][]byte index + a new copy.
func BenchmarkGet(b *testing.B) {
	events, size := events1M, readSize
	ids := randomIDs(events)
	mask := len(ids) - 1
	impls := []string{"ringlog-get", "ringlog-view", "tidwall", "tidwall-cached", "raft-wal", "limit-slice"}
	for _, impl := range impls {
		b.Run(fmt.Sprintf("impl=%s/events=%s/size=%d", impl, eventsName(events), size), func(b *testing.B) {
			n := 0
			var get func(id uint64) // reads id, adds its length to n
			switch impl {
			case "ringlog-get":
				l := openRinglogAt(b, builtLog(b, "ringlog", events, size), nil)
				get = func(id uint64) {
					ev, err := l.Get(id)
					if err != nil {
						b.Fatal(err)
					}
					n += len(ev)
				}
			case "ringlog-view":
				l := openRinglogAt(b, builtLog(b, "ringlog", events, size), nil)
				fn := func(ev []byte) error {
					n += len(ev)
					return nil
				}
				get = func(id uint64) {
					if err := l.View(id, fn); err != nil {
						b.Fatal(err)
					}
				}
			case "tidwall", "tidwall-cached":
				opts := tidwallOptions(false)
				if impl == "tidwall-cached" {
					opts.SegmentCacheSize = 1 << 20 // every segment
				}
				l := openTidwall(b, builtLog(b, "tidwall", events, size), opts)
				get = func(id uint64) {
					ev, err := l.Read(id)
					if err != nil {
						b.Fatal(err)
					}
					n += len(ev)
				}
				if impl == "tidwall-cached" {
					for id := uint64(1); id <= uint64(events); id++ {
						get(id) // loads and keeps every segment
					}
				}
			case "raft-wal":
				w, closeFn, err := openRaftWAL(builtLog(b, "raft-wal", events, size))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { closeFn() })
				var rl raft.Log
				get = func(id uint64) {
					if err := w.GetLog(id, &rl); err != nil {
						b.Fatal(err)
					}
					n += len(rl.Data)
				}
			case "limit-slice":
				backing := make([]byte, events*size)
				all := make([][]byte, events+1) // index = id
				ev := payload(size)
				for id := 1; id <= events; id++ {
					all[id] = backing[(id-1)*size : id*size : id*size]
					copy(all[id], ev)
				}
				get = func(id uint64) {
					src := all[id]
					ev := make([]byte, len(src))
					copy(ev, src)
					baselineSink = ev
					n += len(ev)
				}
			}
			if impl != "tidwall" { // warm: one pass over the ids (tidwall's LRU of 2 cannot hold them)
				for _, id := range ids {
					get(id)
				}
			}
			n = 0
			i := 0
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				get(ids[i&mask])
				i++
			}
			if n != i*size {
				b.Fatalf("read %d bytes in %d reads, want %d each", n, i, size)
			}
		})
	}
}

// BenchmarkIterate reads every event of a 1M x 128 B log in id order per op: ringlog
// IterRange + Next + Value (zero-copy, CRC-checked), tidwall/wal Read of each index,
// raft-wal GetLog of each index, and the limit: reading every byte of a prefaulted shared
// mapping of the same payload bytes.
func BenchmarkIterate(b *testing.B) {
	events, size := events1M, readSize
	for _, impl := range []string{"ringlog", "tidwall", "raft-wal", "limit-bulkread"} {
		b.Run(fmt.Sprintf("impl=%s/events=%s/size=%d", impl, eventsName(events), size), func(b *testing.B) {
			var pass func() (n, bytes int) // one pass over the log
			switch impl {
			case "ringlog":
				l := openRinglogAt(b, builtLog(b, "ringlog", events, size), nil)
				pass = func() (n, bytes int) {
					it, err := l.IterRange(1, mmaplog.Latest)
					if err != nil {
						b.Fatal(err)
					}
					for it.Next() {
						bytes += len(it.Value())
						n++
					}
					if err := it.Err(); err != nil {
						b.Fatal(err)
					}
					it.Close()
					return n, bytes
				}
			case "tidwall":
				l := openTidwall(b, builtLog(b, "tidwall", events, size), tidwallOptions(false))
				pass = func() (n, bytes int) {
					for id := uint64(1); id <= uint64(events); id++ {
						ev, err := l.Read(id)
						if err != nil {
							b.Fatal(err)
						}
						bytes += len(ev)
						n++
					}
					return n, bytes
				}
			case "raft-wal":
				w, closeFn, err := openRaftWAL(builtLog(b, "raft-wal", events, size))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { closeFn() })
				var rl raft.Log
				pass = func() (n, bytes int) {
					for id := uint64(1); id <= uint64(events); id++ {
						if err := w.GetLog(id, &rl); err != nil {
							b.Fatal(err)
						}
						bytes += len(rl.Data)
						n++
					}
					return n, bytes
				}
			case "limit-bulkread":
				m := prefaultedMapping(b, events*size)
				ev := payload(size)
				for off := 0; off < len(m); off += size {
					copy(m[off:], ev)
				}
				var sum uint64
				pass = func() (n, bytes int) {
					sum += bulkRead(m)
					return events, len(m)
				}
				b.Cleanup(func() { baselineSink = fmt.Appendf(nil, "%d", sum) })
			}
			if impl != "raft-wal" {
				// Warm: map and fault in (ringlog, limit), parse (tidwall). raft-wal preads
				// files the build left in the page cache, and one pass takes seconds.
				pass()
			}
			b.ReportAllocs()
			b.SetBytes(int64(events * size))
			for b.Loop() {
				if n, bytes := pass(); n != events || bytes != events*size {
					b.Fatalf("read %d events, %d bytes; want %d, %d", n, bytes, events, events*size)
				}
			}
		})
	}
}
