package mmaplog_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// A ring that never Syncs deletes, at each turnover, the segment that holds its recovery
// position. Retention then moves the recovery point past the deleted prefix with one meta
// flush instead of a checkpoint that would flush every record written since (docs/FORMAT.md
// section 5.2).

// rrRing fills a never-synced ring through several retention turnovers and returns it
// with the payload of every id.
func rrRing(t *testing.T, dir string) (*mmaplog.Log, func(id uint64) []byte) {
	t.Helper()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10, Retention: mmaplog.Retention{MaxEvents: 300}})
	if err != nil {
		t.Fatal(err)
	}
	payload := func(id uint64) []byte { return []byte(fmt.Sprintf("rr-%06d-%s", id, strings.Repeat("p", int(id%300)))) }
	return l, payload
}

func TestRetentionTurnoversFlushNoRecords(t *testing.T) {
	l, payload := rrRing(t, t.TempDir())
	defer l.Close()
	var turnovers uint64
	n := countMsyncs(func() {
		st0, _ := l.Stats()
		for id := uint64(0); id < 6000; id++ {
			if err := l.AppendWithID(id, payload(id)); err != nil {
				t.Fatal(err)
			}
		}
		st1, _ := l.Stats()
		turnovers = st1.ActiveSegment - st0.ActiveSegment
	})
	st, _ := l.Stats()
	t.Logf("%d turnovers, retention removed %d segments: %d segment msyncs, %d index, %d meta", turnovers, st.RetentionRemovedSegments, n["seg"], n["index"], n["meta"])
	if st.RetentionRemovedSegments < 10 {
		t.Fatalf("retention removed only %d segments", st.RetentionRemovedSegments)
	}
	if n["seg"] != 0 || n["index"] != 0 {
		t.Fatalf("turnovers of a never-synced ring flushed records or slots (%v): retention checkpointed instead of moving the recovery point", n)
	}
	if n["meta"] == 0 {
		t.Fatal("no meta flush: the recovery point was not moved durably before the unlinks")
	}
}

// TestRetentionRecoveryPointAfterReboot: after turnovers that moved the recovery point
// without a flush, a reboot with every page on disk recovers every event retention kept,
// and one with no record on disk recovers an empty log from the first kept id, with the
// cut recorded: never an error, never a deleted event.
func TestRetentionRecoveryPointAfterReboot(t *testing.T) {
	dir := t.TempDir()
	l, payload := rrRing(t, dir)
	for id := uint64(0); id < 6000; id++ {
		if err := l.AppendWithID(id, payload(id)); err != nil {
			t.Fatal(err)
		}
	}
	oldest, err := l.OldestEventID()
	if err != nil {
		t.Fatal(err)
	}
	whole := mmaplog.CrashImage(t, dir)
	bare := mmaplog.CrashImage(t, dir)
	l.Close()

	r, err := mmaplog.Open(whole, nil)
	if err != nil {
		t.Fatalf("reboot with every page on disk: %v", err)
	}
	next, _ := r.NextEventID()
	first, _ := r.OldestEventID()
	if next != 6000 || first != oldest {
		t.Fatalf("reboot with every page: ids [%d, %d), want [%d, 6000)", first, next, oldest)
	}
	for id := first; id < next; id += 37 {
		if v, err := r.Get(id); err != nil || !bytes.Equal(v, payload(id)) {
			t.Fatalf("Get(%d) after reboot: %q, %v", id, v, err)
		}
	}
	r.Close()

	// No record reached the disk: every segment file is zero past its header.
	segs, _ := filepath.Glob(filepath.Join(bare, "seg-*"))
	for _, path := range segs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		clear(b[64:])
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err = mmaplog.Open(bare, nil)
	if err != nil {
		t.Fatalf("reboot with no record on disk: %v", err)
	}
	defer r.Close()
	next, _ = r.NextEventID()
	st, _ := r.Stats()
	t.Logf("reboot with no record on disk: next %d (first kept id was %d), events %d, repair %+v", next, oldest, st.EventCount, st.LastRepair)
	if next < oldest || st.EventCount != 0 {
		t.Fatalf("reboot with no record: next %d, %d events; want next >= %d and no event", next, st.EventCount, oldest)
	}
	if st.LastRepair == nil || st.LastRepair.From != next {
		t.Fatalf("the cut was not recorded: %+v", st.LastRepair)
	}
	if _, err := r.Get(oldest - 1); err == nil {
		t.Fatal("an event retention deleted came back")
	}
}
