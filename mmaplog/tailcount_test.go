package mmaplog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

// Tests of the commit word's tail count (docs/FORMAT.md section 2): single appends inside
// the active segment publish by adding 1 to the commit word instead of writing a state
// copy, and every reader and writer derives the same state from copy + count.

func tailEvent(id EventID) []byte { return []byte(fmt.Sprintf("event %d of the tail-count tests", id)) }

// appendTail appends n events (each naming its id) and fails the test on any error.
func appendTail(t *testing.T, l *Log, n int) {
	t.Helper()
	for range n {
		next, err := l.NextEventID()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.AppendWithID(next, tailEvent(next)); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTail reads [0, next) back through l and runs Check.
func checkTail(t *testing.T, l *Log, next EventID) {
	t.Helper()
	if got, err := l.NextEventID(); err != nil || got != next {
		t.Fatalf("NextEventID = %d, %v; want %d", got, err, next)
	}
	for id := EventID(0); id < next; id++ {
		if b, err := l.Get(id); err != nil || !bytes.Equal(b, tailEvent(id)) {
			t.Fatalf("Get(%d) = %q, %v; want %q", id, b, err, tailEvent(id))
		}
	}
	rep, err := l.Check()
	if err != nil || !rep.OK() {
		t.Fatalf("Check: %v %+v", err, rep)
	}
}

// Fast appends leave the state copies alone and count in the commit word; another handle
// sees them, appends after them (it finds the write offset from the newest record), and
// the first handle then appends after that handle's records.
func TestTailCountSharedBetweenHandles(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{NoPrefault: true}
	a, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	appendTail(t, a, 1) // the first append of an empty log commits a copy
	copyNext := a.loadStateCopy().next
	appendTail(t, a, 99)
	c := atomic.LoadUint64(a.commit)
	if c&tailMask != 99 || a.loadStateCopy().next != copyNext {
		t.Fatalf("after 99 single appends: commit word %#x (tail count %d), copy next %d (was %d); want tail count 99 and the copy unchanged",
			c, c&tailMask, a.loadStateCopy().next, copyNext)
	}
	b, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkTail(t, b, 100)
	st, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := a.wbuf.st.writeOff - segHeaderSize; st.BytesUsed != want {
		t.Fatalf("Stats.BytesUsed = %d through a second handle, want %d (the write offset derived from the tail)", st.BytesUsed, want)
	}
	appendTail(t, b, 50)
	appendTail(t, a, 50)
	checkTail(t, a, 200)
	checkTail(t, b, 200)
}

// The tail count has 16 bits: the append that finds it full commits a state copy instead
// of carrying into the generation.
func TestTailCountFoldsWhenFull(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, &Options{NoPrefault: true, IndexCapacity: 1 << 18})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ev := []byte("x")
	const extra = 10
	n := 1 + tailMask + 1 + extra // empty-log append, a full count, the fold, then extra
	for range n {
		if _, err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	c := atomic.LoadUint64(l.commit)
	cp := l.loadStateCopy()
	if c&tailMask != extra || cp.gen != c&^tailMask || cp.next+extra != uint64(n) {
		t.Fatalf("after %d appends: commit word %#x, selected copy gen %#x next %d; want tail count %d on a copy with next %d",
			n, c, cp.gen, cp.next, extra, n-extra)
	}
	if next, err := l.NextEventID(); err != nil || next != uint64(n) {
		t.Fatalf("NextEventID = %d, %v; want %d", next, err, n)
	}
}

// A tail whose newest record is unreadable (here: its slot zeroed, or its record damaged)
// leaves the write offset underivable: another handle opening the log (as after the
// writer was killed) keeps every event, reports the damaged one as ErrCorrupt, and gives
// up the rest of the active segment instead of writing over the records before it.
func TestTailWithBadNewestMovesToNextSegment(t *testing.T) {
	for _, damage := range []string{"slot zeroed", "record checksum"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			opts := &Options{NoPrefault: true}
			first, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			appendTail(t, first, 40)
			st := first.loadState()
			if st.tail() == 0 {
				t.Fatalf("no tail count after 40 single appends (commit word %#x)", st.gen)
			}
			slot := first.wbuf.idx.Load(st.newest)
			switch damage {
			case "slot zeroed":
				path := filepath.Join(dir, ringindex.FileName(st.indexGen))
				PatchFile(t, path, ringindex.HeaderSize+int64(ringindex.SlotSize*(st.newest&(st.indexCap-1))), make([]byte, 8))
			case "record checksum":
				path := filepath.Join(dir, segmentFileName(st.activeSeq))
				var crc [4]byte
				binary.LittleEndian.PutUint32(crc[:], 0xdeadbeef)
				PatchFile(t, path, int64(slot.Offset()), crc[:])
			}
			l, err := Open(dir, opts) // a second writer: the first one's tail is all it knows
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if next, err := l.NextEventID(); err != nil || next != 40 {
				t.Fatalf("NextEventID = %d, %v after Open of a tail with a damaged newest event; want 40 (nothing cut)", next, err)
			}
			if _, err := l.Get(39); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get(39) of the damaged newest event = %v, want ErrCorrupt", err)
			}
			appendTail(t, l, 5)
			for id := EventID(0); id < 45; id++ {
				if b, err := l.Get(id); id != 39 && (err != nil || !bytes.Equal(b, tailEvent(id))) {
					t.Fatalf("Get(%d) = %q, %v; want %q", id, b, err, tailEvent(id))
				}
			}
			if got := l.loadState().activeSeq; got != st.activeSeq+1 {
				t.Fatalf("active segment %d after appending to a tail with an unreadable newest record, want %d", got, st.activeSeq+1)
			}
			rep, err := l.Check()
			if err != nil || len(rep.Problems) != 1 || rep.Problems[0].ID != 39 {
				t.Fatalf("Check = %v, %+v; want one problem, event 39", err, rep)
			}
		})
	}
}

// An index growth copies nothing until the handle's background prefault of the copy range
// is done, and single appends keep the fast path meanwhile (their slots go to both
// indexes); once the span passes 3/4 of the old capacity the copy runs regardless, and the
// growth completes before the span reaches that capacity.
func TestGrowthCopyWaitsForPrefault(t *testing.T) {
	for _, release := range []string{"early", "never"} {
		t.Run("prefault="+release, func(t *testing.T) {
			gate := make(chan struct{})
			open := sync.OnceFunc(func() { close(gate) })
			indexPrefaultHook = func() { <-gate }
			defer func() { indexPrefaultHook = nil }()
			const capacity = 1024
			l, err := Open(t.TempDir(), &Options{IndexCapacity: capacity})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			defer open() // runs before Close
			// The last of these appends starts the growth.
			appendTail(t, l, capacity/2+1)
			st := l.loadState()
			if st.migGen == 0 {
				t.Fatalf("no growth after %d appends to a %d-slot index", capacity/2+1, capacity)
			}
			base := st.migNext
			appendTail(t, l, capacity/8)
			st = l.loadState()
			if st.migNext != base || st.tail() == 0 {
				t.Fatalf("while the prefault runs: growth frontier %d (was %d), commit word %#x; want no copy and fast appends (a tail count)", st.migNext, base, st.gen)
			}
			if release == "early" {
				open()
				for l.growPrefault.Load() != 0 {
					runtime.Gosched() // the copy range of a 2048-slot index takes microseconds
				}
				appendTail(t, l, 1)
				if st = l.loadState(); st.migGen != 0 && st.migNext == base {
					t.Fatalf("prefault done, then an append: growth frontier still %d", st.migNext)
				}
			}
			for l.loadState().next-l.loadState().oldest <= capacity/4*3 {
				appendTail(t, l, 1)
			}
			appendTail(t, l, 8) // at 256 copies per append, the rest of the copy
			st = l.loadState()
			if st.migGen != 0 || st.indexCap != 2*capacity {
				t.Fatalf("span %d of a %d-slot index: growth still running (gen %d, frontier %d) or wrong capacity %d",
					st.next-st.oldest, capacity, st.migGen, st.migNext, st.indexCap)
			}
			checkTail(t, l, st.next)
		})
	}
}

// The writer that completes an index growth deletes the file of the old generation itself
// (in the background, after the meta page naming the new one is on disk; Close waits for
// it): once the handle is closed, only the generations the state names are left, without
// the orphan collection of a later Open.
func TestRetiredIndexFilesDeletedByTheWriter(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, &Options{IndexCapacity: 1024, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	appendTail(t, l, 5000) // growths to 2048, 4096, 8192 and 16384 slots
	st := l.loadState()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "index-*"))
	if err != nil {
		t.Fatal(err)
	}
	want := 1
	if st.migGen != 0 {
		want = 2
	}
	t.Logf("index generation %d (capacity %d, growth gen %d) after 5000 appends; index files: %d", st.indexGen, st.indexCap, st.migGen, len(names))
	if st.indexGen < 4 || len(names) != want {
		t.Fatalf("index generation %d, files %v: want generation >= 4 and only the %d the state names", st.indexGen, names, want)
	}
}
