package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkDurableAppend appends one 128 B event per call from 1 and 8 goroutines on one
// handle, each event durable when its call returns: ringlog Append + Sync (mmaplog has
// no per-append sync option: Sync after each call is its per-call durability),
// tidwall/wal with sync (an fsync per Write), raft-wal (an fsync per StoreLog), and the
// limit: pwrite of the payload + fdatasync. ns/op is per event across all goroutines;
// events/s is the aggregate throughput.
//
// tidwall/wal and raft-wal take only the next index, so their goroutines allocate it
// under a mutex held across the call; ringlog's Append allocates ids under its own lock.
func BenchmarkDurableAppend(b *testing.B) {
	const size = 128
	ev := payload(size)
	for _, goroutines := range []int{1, 8} {
		for _, impl := range []string{"ringlog-sync", "tidwall-sync", "raft-wal", "limit-fdatasync"} {
			b.Run(fmt.Sprintf("impl=%s/goroutines=%d/size=%d", impl, goroutines, size), func(b *testing.B) {
				var op func() error // one durable append
				switch impl {
				case "ringlog-sync":
					l := openRinglog(b, nil)
					op = func() error {
						if _, err := l.Append(ev); err != nil {
							return err
						}
						return l.Sync()
					}
				case "tidwall-sync":
					l := openTidwall(b, "", tidwallOptions(false))
					var mu sync.Mutex
					next := uint64(1)
					op = func() error {
						mu.Lock()
						defer mu.Unlock()
						if err := l.Write(next, ev); err != nil {
							return err
						}
						next++
						return nil
					}
				case "raft-wal":
					w, closeFn, err := openRaftWAL(b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { closeFn() })
					var mu sync.Mutex
					rl := raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: ev}
					op = func() error {
						mu.Lock()
						defer mu.Unlock()
						if err := w.StoreLog(&rl); err != nil {
							return err
						}
						rl.Index++
						return nil
					}
				case "limit-fdatasync":
					f := syncFile(b)
					var off atomic.Int64
					op = func() error {
						return pwriteSync(f, off.Add(size)-size, ev)
					}
				}
				b.ReportAllocs()
				b.SetBytes(size)
				b.ResetTimer()
				// b.N operations shared by the goroutines (b.Loop drives one goroutine only).
				var next atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, goroutines)
				for range goroutines {
					wg.Go(func() {
						for next.Add(1) <= int64(b.N) {
							if err := op(); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				close(errs)
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
