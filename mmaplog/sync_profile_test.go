package mmaplog

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkSyncPhases appends under SyncAlways from 1 and 8 goroutines and reports the
// median duration of each phase of a flush, from syncTraceHook timestamps: data (segment
// and index msyncs, from the snapshot until both returned), meta (from then until the
// meta msync returned, including the recovery-point commit) and gap (from one flush's end
// to the next one's snapshot). Noise from other processes shifts all phases alike.
func BenchmarkSyncPhases(b *testing.B) {
	for _, goroutines := range []int{1, 8} {
		b.Run(fmt.Sprintf("goroutines=%d/size=128", goroutines), func(b *testing.B) {
			var mu sync.Mutex
			at := map[uint64]*[5]time.Time{}
			syncTraceHook = func(f uint64, s syncStep) {
				now := time.Now()
				mu.Lock()
				if at[f] == nil {
					at[f] = new([5]time.Time)
				}
				at[f][s] = now
				mu.Unlock()
			}
			defer func() { syncTraceHook = nil }()
			l, err := Open(b.TempDir(), &Options{Sync: SyncAlways})
			if err != nil {
				b.Fatal(err)
			}
			ev := make([]byte, 128)
			b.SetBytes(128)
			b.SetParallelism((goroutines + 1) / 2) // GOMAXPROCS=2 here: 1 or 8 goroutines
			if goroutines == 1 {
				for b.Loop() {
					if _, err := l.Append(ev); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := l.Append(ev); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			var data, meta, gap []float64
			for f := uint64(1); at[f] != nil; f++ {
				t := at[f]
				dataEnd := t[syncSegmentsDone]
				if t[syncIndexDone].After(dataEnd) {
					dataEnd = t[syncIndexDone]
				}
				data = append(data, float64(dataEnd.Sub(t[syncDataStart]).Microseconds()))
				meta = append(meta, float64(t[syncMetaDone].Sub(dataEnd).Microseconds()))
				if n := at[f+1]; n != nil {
					gap = append(gap, float64(n[syncDataStart].Sub(t[syncMetaDone]).Microseconds()))
				}
			}
			med := func(v []float64) float64 {
				if len(v) == 0 {
					return 0
				}
				slices.Sort(v)
				return v[len(v)/2]
			}
			b.ReportMetric(med(data), "data-µs")
			b.ReportMetric(med(meta), "meta-µs")
			b.ReportMetric(med(gap), "gap-µs")
			b.ReportMetric(float64(b.N)/float64(len(data)), "events/flush")
		})
	}
}
