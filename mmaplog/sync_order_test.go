package mmaplog

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// syncRecorder records the steps of every flush, in the order they happen.
type syncRecorder struct {
	mu    sync.Mutex
	steps []syncRecord
}

// syncRecord is one recorded step.
type syncRecord struct {
	flush uint64
	step  syncStep
}

// hook records a step. It lingers after a data sync completes, so that a flush that did not
// wait for both data syncs would issue its meta msync inside the pause and be caught.
func (r *syncRecorder) hook(flush uint64, step syncStep) {
	if step == syncIndexDone || step == syncSegmentsDone {
		if flush%2 == uint64(step)%2 { // delay the index in some flushes, segments in others
			time.Sleep(time.Millisecond)
		}
	}
	r.mu.Lock()
	r.steps = append(r.steps, syncRecord{flush, step})
	r.mu.Unlock()
}

// TestSyncOrder checks the write-back order of every flush under concurrent SyncAlways
// appends: the meta msync is issued only after both the segment and the index msyncs of
// its flush returned, and meta msyncs of successive flushes do not overlap or reorder (a
// caller of flush k returns once k's meta page is durable, which must not precede the
// meta page of an earlier flush).
func TestSyncOrder(t *testing.T) {
	rec := &syncRecorder{}
	syncTraceHook = rec.hook
	defer func() { syncTraceHook = nil }()
	l, err := Open(t.TempDir(), &Options{SegmentSize: 64 << 10, Sync: SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 40 {
				if _, err := l.Append(fmt.Appendf(nil, "g%d-%d", g, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	type flushSteps struct{ segs, idx, metaStart, metaDone int }
	flushes := map[uint64]*flushSteps{}
	get := func(f uint64) *flushSteps {
		if flushes[f] == nil {
			flushes[f] = &flushSteps{-1, -1, -1, -1}
		}
		return flushes[f]
	}
	lastMetaDone := uint64(0)
	metaOpen := uint64(0) // flush whose meta msync is in flight, 0: none
	for i, r := range rec.steps {
		f := get(r.flush)
		switch r.step {
		case syncSegmentsDone:
			f.segs = i
		case syncIndexDone:
			f.idx = i
		case syncMetaStart:
			f.metaStart = i
			if f.segs < 0 || f.idx < 0 {
				t.Errorf("flush %d: meta msync issued before its data syncs completed (segments at %d, index at %d, meta at %d)", r.flush, f.segs, f.idx, i)
			}
			if metaOpen != 0 {
				t.Errorf("flush %d: meta msync issued while flush %d's is in flight", r.flush, metaOpen)
			}
			if r.flush < lastMetaDone {
				t.Errorf("flush %d: meta msync after flush %d's", r.flush, lastMetaDone)
			}
			metaOpen = r.flush
		case syncMetaDone:
			f.metaDone = i
			metaOpen, lastMetaDone = 0, r.flush
		}
	}
	if len(flushes) < 2 {
		t.Fatalf("only %d flushes recorded", len(flushes))
	}
	for n, f := range flushes {
		if f.metaDone < 0 {
			t.Errorf("flush %d never completed its meta msync: %+v", n, *f)
		}
	}
	t.Logf("%d flushes, %d steps", len(flushes), len(rec.steps))
}
