package mmaplog_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

func TestSyncPolicyValidation(t *testing.T) {
	for _, o := range []mmaplog.Options{{Sync: mmaplog.SyncPolicy(7)}, {Sync: mmaplog.SyncInterval, SyncEvery: -time.Second}} {
		if _, err := mmaplog.Open(t.TempDir()+"/x", &o); !errors.Is(err, mmaplog.ErrInvalidOptions) {
			t.Fatalf("%+v: %v", o, err)
		}
	}
}

// Under SyncAlways and SyncInterval every appended event ends up covered by the recovery
// point; the appends of concurrent goroutines share flushes.
func TestSyncPolicies(t *testing.T) {
	for _, p := range []mmaplog.SyncPolicy{mmaplog.SyncAlways, mmaplog.SyncInterval, mmaplog.SyncNever} {
		t.Run(p.String(), func(t *testing.T) {
			dir := t.TempDir()
			l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10, Sync: p, SyncEvery: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 50; i++ {
						if _, err := l.Append([]byte(fmt.Sprintf("g%d-%d", g, i))); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if p == mmaplog.SyncNever {
				if err := l.Sync(); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l, err = mmaplog.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if st, _ := l.Stats(); st.EventCount != 200 || st.SyncedNextEventID != 200 {
				t.Fatalf("after reopen: %d events, recovery point %d, want 200/200", st.EventCount, st.SyncedNextEventID)
			}
		})
	}
}

func BenchmarkAppendSyncAlways(b *testing.B) {
	for _, goroutines := range []int{1, 8} {
		b.Run(fmt.Sprintf("goroutines=%d/size=128", goroutines), func(b *testing.B) {
			l, err := mmaplog.Open(b.TempDir(), &mmaplog.Options{Sync: mmaplog.SyncAlways})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ev := make([]byte, 128)
			b.SetBytes(128)
			b.ReportAllocs()
			b.SetParallelism((goroutines + 1) / 2) // GOMAXPROCS=2 here: 1 or 8 goroutines
			defer func() {
				if f := mmaplog.Flushes(l); f > 0 {
					b.ReportMetric(float64(b.N)/float64(f), "events/flush")
				}
			}()
			if goroutines == 1 {
				for b.Loop() {
					if _, err := l.Append(ev); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
