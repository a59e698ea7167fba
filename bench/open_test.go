package bench

import (
	"fmt"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
	tidwal "github.com/tidwall/wal"
)

// openEvents returns the event counts of the open and memory workloads: 1M and 10M, or
// 1M only with -short.
func openEvents() []int {
	if testing.Short() {
		return []int{events1M}
	}
	return []int{events1M, events10M}
}

// BenchmarkOpen opens a closed, cleanly written log of 1M and 10M 128 B events (files in
// the page cache): ringlog, tidwall/wal (which reads and parses its last segment) and
// raft-wal (which opens its bbolt meta store and recovers its tail segment). Only Open is
// timed, not Close.
func BenchmarkOpen(b *testing.B) {
	const size = 128
	for _, events := range openEvents() {
		for _, impl := range []string{"ringlog", "tidwall", "raft-wal"} {
			b.Run(fmt.Sprintf("impl=%s/events=%s/size=%d", impl, eventsName(events), size), func(b *testing.B) {
				dir := builtLog(b, impl, events, size)
				var open func() (closeFn func() error, err error)
				switch impl {
				case "ringlog":
					open = func() (func() error, error) {
						l, err := mmaplog.Open(dir, nil)
						if err != nil {
							return nil, err
						}
						return l.Close, nil
					}
				case "tidwall":
					open = func() (func() error, error) {
						l, err := tidwal.Open(dir, nil)
						if err != nil {
							return nil, err
						}
						return l.Close, nil
					}
				case "raft-wal":
					open = func() (func() error, error) {
						_, closeFn, err := openRaftWAL(dir)
						return closeFn, err
					}
				}
				openClose := func() {
					closeFn, err := open()
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := closeFn(); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				openClose() // warm the page cache
				b.ReportAllocs()
				for b.Loop() {
					openClose()
				}
			})
		}
	}
}
