package mmaplog_test

import (
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

func TestCheckProgressCounts(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, &mmaplog.Options{SegmentSize: 1 << 20, NoPrefault: true})
	const n = 50_000
	ctAppendN(t, l, n, 16)
	if removed, err := l.DeleteRange(1000, 1999); err != nil || removed != 1000 {
		t.Fatalf("interior delete: %d, %v", removed, err)
	}
	var calls []uint64
	rep, err := mmaplog.CheckProgress(dir, func(verified, total uint64) {
		if total != n-1000 {
			t.Errorf("total %d, want %d", total, n-1000)
		}
		calls = append(calls, verified)
	})
	if err != nil || !rep.OK() {
		t.Fatalf("CheckProgress: %v %v", err, rep)
	}
	if len(calls) < 3 {
		t.Fatalf("progress called %d times over %d events: %v", len(calls), n, calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] < calls[i-1] {
			t.Fatalf("progress went back: %v", calls)
		}
	}
	if last := calls[len(calls)-1]; last != rep.Events || last != n-1000 {
		t.Fatalf("last progress %d, report %d events, want %d", last, rep.Events, n-1000)
	}
	// The method on a handle reports the same, and nil reports nothing.
	var viaHandle uint64
	if _, err := l.CheckProgress(func(v, _ uint64) { viaHandle = v }); err != nil || viaHandle != n-1000 {
		t.Fatalf("(*Log).CheckProgress: last %d, %v", viaHandle, err)
	}
	if _, err := l.CheckProgress(nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d progress calls for %d events: %v", len(calls), rep.Events, calls)
}
