package mmaplog_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// The durable path (docs/FORMAT.md sections 5.6 and 6): a Sync after appends only
// flushes the new records and nothing else; after a reboot, Open finds them by scanning
// forward from the recovery position, even when the meta page on disk is older.

// durPayload is the event of id written with tag (about 120 bytes).
func durPayload(tag string, id uint64) string {
	return fmt.Sprintf("%s-%d-%s", tag, id, strings.Repeat("x", 100))
}

func durAppend(t *testing.T, l *mmaplog.Log, from, to uint64, tag string) {
	t.Helper()
	for id := from; id < to; id++ {
		if err := l.AppendWithID(id, []byte(durPayload(tag, id))); err != nil {
			t.Fatalf("AppendWithID(%d): %v", id, err)
		}
	}
}

func durExpect(t *testing.T, l *mmaplog.Log, from, to uint64, tag string) {
	t.Helper()
	for id := from; id < to; id++ {
		got, err := l.Get(id)
		if want := durPayload(tag, id); err != nil || string(got) != want {
			t.Fatalf("Get(%d) = %q, %v; want %q", id, got, err, want)
		}
	}
}

// durOpen opens the log in dir, closed when the test ends.
func durOpen(t *testing.T, dir string, opts *mmaplog.Options) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// durRecover opens a power-loss image of the log in dir in which every page reached the
// disk (mmaplog.CrashImage): Open after the reboot.
func durRecover(t *testing.T, dir string) *mmaplog.Log {
	t.Helper()
	return durOpen(t, mmaplog.CrashImage(t, dir), nil)
}

// countMsyncs counts the msyncs of each kind of file while f runs.
func countMsyncs(f func()) map[string]int {
	var mu sync.Mutex
	n := map[string]int{}
	mmaplog.SetMsyncHook(func(name string, off, size int64) {
		kind, _, _ := strings.Cut(name, "-")
		mu.Lock()
		n[kind]++
		mu.Unlock()
	})
	defer mmaplog.SetMsyncHook(nil)
	f()
	return n
}

// TestDurableAppendIsOneMsync: after the first Sync (a checkpoint), every AppendWithID +
// Sync pair flushes the active segment's new bytes once and touches neither the index nor
// the meta file; a Sync with nothing new flushes nothing.
func TestDurableAppendIsOneMsync(t *testing.T) {
	l := durOpen(t, t.TempDir(), &mmaplog.Options{SegmentSize: 1 << 20})
	durAppend(t, l, 0, 10, "a")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	const pairs = 200
	before := durFlushes(t, l)
	n := countMsyncs(func() {
		for id := uint64(10); id < 10+pairs; id++ {
			if err := l.AppendWithID(id, []byte("durable event")); err != nil {
				t.Fatal(err)
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Logf("%d AppendWithID+Sync pairs: %d segment msyncs, %d index, %d meta", pairs, n["seg"], n["index"], n["meta"])
	if n["seg"] != pairs || n["index"] != 0 || n["meta"] != 0 {
		t.Fatalf("msyncs per durable append: %v for %d pairs, want exactly one segment msync each", n, pairs)
	}
	if got := durFlushes(t, l) - before; got != pairs {
		t.Fatalf("Stats.Flushes moved by %d over %d durable pairs, want one each", got, pairs)
	}
	before = durFlushes(t, l)
	idle := countMsyncs(func() {
		for range 100 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(idle) != 0 {
		t.Fatalf("Sync with nothing new flushed %v", idle)
	}
	if got := durFlushes(t, l) - before; got != 0 {
		t.Fatalf("100 Syncs with nothing new counted %d flushes", got)
	}
	// A delete makes the next Sync a checkpoint (records, index, meta).
	if _, err := l.DeleteRange(0, 4); err != nil {
		t.Fatal(err)
	}
	cp := countMsyncs(func() {
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	})
	if cp["meta"] != 1 {
		t.Fatalf("Sync after a prefix delete flushed %v, want a checkpoint with one meta msync", cp)
	}
	t.Logf("Sync after a delete: %v", cp)
}

// durFlushes returns Stats.Flushes of l.
func durFlushes(t *testing.T, l *mmaplog.Log) uint64 {
	t.Helper()
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return st.Flushes
}

// TestGroupCommitCountsFlushes: 8 goroutines appending under SyncAlways share flushes;
// Stats.Flushes counts the ones the handle ran, one segment msync each.
func TestGroupCommitCountsFlushes(t *testing.T) {
	l := durOpen(t, t.TempDir(), &mmaplog.Options{Sync: mmaplog.SyncAlways})
	durAppend(t, l, 0, 1, "a") // the first flush is a checkpoint
	const writers, each = 8, 50
	before := durFlushes(t, l)
	n := countMsyncs(func() {
		var wg sync.WaitGroup
		for range writers {
			wg.Go(func() {
				for range each {
					if _, err := l.Append([]byte("group")); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
	flushes := durFlushes(t, l) - before
	t.Logf("%d goroutines x %d SyncAlways appends: %d flushes (%.1f events per flush), %d segment msyncs", writers, each, flushes, float64(writers*each)/float64(flushes), n["seg"])
	if flushes == 0 || flushes >= writers*each || uint64(n["seg"]) != flushes {
		t.Fatalf("%d appends: Stats.Flushes %d, segment msyncs %d: want fewer flushes than appends (group commit), one msync each", writers*each, flushes, n["seg"])
	}
}

// TestRecoveryScansPastTheOnDiskState: events made durable by data-only Syncs are
// recovered after a reboot although the meta page on disk still holds the state of the
// last checkpoint (and the index holds no slot for them).
func TestRecoveryScansPastTheOnDiskState(t *testing.T) {
	dir := t.TempDir()
	// Small segments, so the durable records span several of them (turnovers, a Rotate).
	l := durOpen(t, dir, &mmaplog.Options{SegmentSize: 16 << 10, Sync: mmaplog.SyncAlways})
	durAppend(t, l, 0, 100, "a") // the first append's Sync is a checkpoint, the others are not
	meta, err := os.ReadFile(filepath.Join(dir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := l.Stats()
	if st.SyncedNextEventID != 100 {
		t.Fatalf("durable point %d after 100 SyncAlways appends, want 100", st.SyncedNextEventID)
	}
	durAppend(t, l, 100, 400, "b")
	if _, err := l.Rotate(); err != nil {
		t.Fatal(err)
	}
	durAppend(t, l, 400, 450, "c")
	img := mmaplog.CrashImage(t, dir)
	// The meta page as the last checkpoint left it, boot id zeroed (a reboot).
	copy(meta[320:336], make([]byte, 16))
	if err := os.WriteFile(filepath.Join(img, "meta"), meta, 0o640); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(img, "seg-*"))
	r := durOpen(t, img, nil)
	next, _ := r.NextEventID()
	t.Logf("meta page on disk as of NextEventID 100 (recovery point of the first checkpoint); Open recovered NextEventID %d from %d segment files", next, len(segs))
	if next != 450 {
		t.Fatalf("NextEventID %d after recovery, want 450 (every durable event)", next)
	}
	durExpect(t, r, 0, 100, "a")
	durExpect(t, r, 100, 400, "b")
	durExpect(t, r, 400, 450, "c")
	if rep, err := r.Check(); err != nil || !rep.OK() {
		t.Fatalf("Check after recovery: %v %v", rep.Problems, err)
	}
	if st, _ := r.Stats(); st.LastRepair != nil {
		t.Fatalf("recovery past the on-disk state reported a repair: %+v", st.LastRepair)
	}
	if id, err := r.Append([]byte("after")); err != nil || id != 450 {
		t.Fatalf("Append after recovery: %d, %v", id, err)
	}
}

// TestRecoveryNeverReturnsRecordsRemovedBySuffixDelete is the crafted stale-record case:
// after a suffix delete, the active segment still holds CRC-valid records of the removed
// ids, and the very next ids are appended again after them. A scan that started from the
// end of the last kept record would find a valid record with the expected id there and
// return the old bytes; the recovery position committed by the delete starts it after
// every removed record. Open after a reboot must give the new bytes, and never an old one.
func TestRecoveryNeverReturnsRecordsRemovedBySuffixDelete(t *testing.T) {
	dir := t.TempDir()
	l := durOpen(t, dir, &mmaplog.Options{SegmentSize: 1 << 20})
	durAppend(t, l, 0, 100, "old")
	if err := l.Sync(); err != nil { // checkpoint at 100
		t.Fatal(err)
	}
	durAppend(t, l, 100, 150, "old")
	if err := l.Sync(); err != nil { // data-only: the records of 100..149 are durable
		t.Fatal(err)
	}
	if n, err := l.DeleteRange(120, 149); err != nil || n != 30 {
		t.Fatalf("DeleteRange(120, 149) = %d, %v", n, err)
	}
	durAppend(t, l, 120, 130, "new")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	r := durRecover(t, dir)
	next, _ := r.NextEventID()
	if next != 130 {
		t.Fatalf("NextEventID %d after recovery, want 130", next)
	}
	durExpect(t, r, 0, 120, "old")
	durExpect(t, r, 120, 130, "new")
	for id := uint64(130); id < 150; id++ {
		if got, err := r.Get(id); !errors.Is(err, mmaplog.ErrNotFound) {
			t.Fatalf("Get(%d) of a removed id = %q, %v; want ErrNotFound", id, got, err)
		}
	}
	it, err := r.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for id, b := range it.All() {
		if bytes.HasPrefix(b, []byte("old")) && id >= 120 {
			t.Fatalf("iteration returned the removed record of %d: %q", id, b)
		}
		n++
	}
	if err := it.Err(); err != nil || n != 130 {
		t.Fatalf("iteration: %d events, %v; want 130", n, err)
	}
}

// abandonBatch starts a batch of n events from id first (tag "dead") that stops,
// uncommitted, after k records: what a writer SIGKILLed mid-append leaves.
func abandonBatch(t *testing.T, l *mmaplog.Log, first uint64, n, k int) {
	t.Helper()
	evs := make([][]byte, n)
	for i := range evs {
		evs[i] = []byte(durPayload("dead", first+uint64(i)))
	}
	mmaplog.SetAppendAbortHook(func(written int) bool { return written == k })
	defer mmaplog.SetAppendAbortHook(nil)
	if err := l.AppendBatchWithIDs(first, evs); err == nil {
		t.Fatal("the aborted batch succeeded")
	}
}

// TestAbandonedBatchNeverRecovered: a batch whose writer died after writing some of its
// records, then a power loss before any writer touched the log again: the records are on
// disk, valid and in sequence after the last durable event, but their batch has no last
// record, so Open after the reboot drops them (the more bit).
func TestAbandonedBatchNeverRecovered(t *testing.T) {
	dir := t.TempDir()
	l := durOpen(t, dir, &mmaplog.Options{SegmentSize: 1 << 20})
	durAppend(t, l, 0, 50, "a")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	abandonBatch(t, l, 50, 20, 12)
	r := durRecover(t, dir) // every page on disk, the abandoned records too
	if next, _ := r.NextEventID(); next != 50 {
		t.Fatalf("NextEventID %d after recovery, want 50: records of an incomplete, never committed batch came back", next)
	}
	durExpect(t, r, 0, 50, "a")
	if got, err := r.Get(50); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("Get(50) = %q, %v; want ErrNotFound", got, err)
	}
}

// TestAbandonedRecordsClearedBeforeReuse: a batch written whole but never committed (its
// writer died just before the commit). The next writer appends one event of the same
// size over its first record; the abandoned records of the next ids then line up after
// the new one, whole batch and all. The next writer clears them (durably) before it
// writes, so a power loss after its Sync recovers exactly its event.
func TestAbandonedRecordsClearedBeforeReuse(t *testing.T) {
	dir := t.TempDir()
	l := durOpen(t, dir, &mmaplog.Options{SegmentSize: 1 << 20})
	durAppend(t, l, 0, 50, "a")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	abandonBatch(t, l, 50, 20, 20)
	n := countMsyncs(func() {
		if err := l.AppendWithID(50, []byte(durPayload("new", 50))); err != nil {
			t.Fatal(err)
		}
	})
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	r := durRecover(t, dir)
	if next, _ := r.NextEventID(); next != 51 {
		t.Fatalf("NextEventID %d after recovery, want 51: abandoned records were recovered after the new event", next)
	}
	durExpect(t, r, 0, 50, "a")
	durExpect(t, r, 50, 51, "new")
	if n["seg"] != 1 {
		t.Fatalf("the append after an abandoned batch made %v msyncs, want 1 (clearing it)", n)
	}
}

// TestBackgroundCheckpointBoundsTheScan: durable appends only ever flush records, so the
// recovery point would stay at the first checkpoint; once the records past it span two
// segments, a background checkpoint moves it, which bounds the scan after a reboot.
func TestBackgroundCheckpointBoundsTheScan(t *testing.T) {
	dir := t.TempDir()
	l := durOpen(t, dir, &mmaplog.Options{SegmentSize: 16 << 10, Sync: mmaplog.SyncAlways})
	durAppend(t, l, 0, 1000, "a") // ~130 KiB: 8 segments
	var point uint64
	for range 200 { // the checkpoint runs in the background: wait for it (up to 2 s)
		ro, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		st, _ := ro.Stats() // a handle that flushed nothing reports the recovery point itself
		ro.Close()
		if point = st.SyncedNextEventID; point >= 500 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, _ := l.Stats()
	t.Logf("after 1000 durable appends over %d segments: recovery point %d, durable point %d", st.ActiveSegment+1, point, st.SyncedNextEventID)
	if point < 500 {
		t.Fatalf("recovery point %d after 1000 durable appends in 16 KiB segments: no background checkpoint", point)
	}
}

func init() { childRoles["sync-append"] = childSyncAppend }

// childSyncAppend appends envCount events under SyncAlways to the log in envDir and prints
// how many of its flushes another process covered and how many segment msyncs it made.
func childSyncAppend() int {
	var msyncs atomic.Int64
	mmaplog.SetMsyncHook(func(name string, off, n int64) {
		if strings.HasPrefix(name, "seg-") {
			msyncs.Add(1)
		}
	})
	l, err := mmaplog.Open(os.Getenv(envDir), &mmaplog.Options{Sync: mmaplog.SyncAlways})
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	w := childIndex()
	for seq := range envInt(envCount) {
		if _, err := l.Append(mpPayload(w, seq)); err != nil {
			return childFail("append: %v", err)
		}
	}
	st, err := l.Stats()
	if err != nil {
		return childFail("stats: %v", err)
	}
	fmt.Printf("shared=%d msyncs=%d\n", st.SharedFlushes, msyncs.Load())
	return 0
}

// TestDurableAppendsShareFlushesAcrossProcesses: two processes append under SyncAlways at
// once; a flush of one covers the other's appends committed before it, and the other
// then waits for it instead of issuing an msync (and a device flush) of its own.
func TestDurableAppendsShareFlushesAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	const perChild = 400
	cs := startChildren(t, "sync-append", 2, envDir+"="+dir, envCount+"="+strconv.Itoa(perChild))
	outs := waitChildren(t, cs)
	var shared, msyncs int
	for _, out := range outs {
		var s, m int
		if _, err := fmt.Sscanf(strings.TrimSpace(out), "shared=%d msyncs=%d", &s, &m); err != nil {
			t.Fatalf("child output %q: %v", out, err)
		}
		shared, msyncs = shared+s, msyncs+m
	}
	t.Logf("2 processes x %d SyncAlways appends: %d segment msyncs, %d flushes covered by the other process", perChild, msyncs, shared)
	if shared == 0 || msyncs >= 2*perChild {
		t.Fatalf("no flush was shared between the processes: %d msyncs for %d appends, %d shared", msyncs, 2*perChild, shared)
	}
	r := durOpen(t, dir, nil)
	if err := verifyLog(r, []int{0, 1}, perChild); err != nil {
		t.Fatal(err)
	}
}

// TestSharedFlushWordsResetAfterReboot: the meta words of the group commit across handles
// hold commit words of the boot that wrote them; the recovered log's may be lower. Open
// after a reboot clears them, so a durable append still flushes even when the words on
// disk claim everything durable.
func TestSharedFlushWordsResetAfterReboot(t *testing.T) {
	dir := t.TempDir()
	l := durOpen(t, dir, &mmaplog.Options{Sync: mmaplog.SyncAlways})
	durAppend(t, l, 0, 10, "a")
	img := mmaplog.CrashImage(t, dir)
	mmaplog.PatchFile(t, filepath.Join(img, "meta"), 576, bytes.Repeat([]byte{0xff}, 8)) // durable: all ones
	r := durOpen(t, img, &mmaplog.Options{Sync: mmaplog.SyncAlways})
	n := countMsyncs(func() {
		if err := r.AppendWithID(10, []byte(durPayload("b", 10))); err != nil {
			t.Fatal(err)
		}
	})
	if n["seg"] == 0 {
		t.Fatalf("a SyncAlways append after a reboot made no msync (%v): stale shared-flush words were trusted", n)
	}
}
