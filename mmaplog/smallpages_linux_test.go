package mmaplog

import "testing"

// largeFolioPages counts the pages of mapping b that the page cache holds in large folios
// (compound pages), and the pages it could check.
func largeFolioPages(t *testing.T, b []byte) (large, checked int) {
	t.Helper()
	return countPageFlags(t, b, kpfCompoundHead|kpfCompoundTail)
}

// TestFlushingHandleKeepsSmallPages: the segments a flushing handle writes fault in
// single pages (docs/FORMAT.md section 10), so its msyncs write back only the pages its
// records dirtied; a handle that never flushes keeps the kernel's read-ahead, whose
// large folios (up to 2 MiB) an msync would write whole.
func TestFlushingHandleKeepsSmallPages(t *testing.T) {
	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = make([]byte, 128)
	}
	large := map[bool]int{}
	for _, flushing := range []bool{false, true} {
		l, err := Open(t.TempDir(), &Options{NoPrefault: true})
		if err != nil {
			t.Fatal(err)
		}
		if flushing {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		for range 3000 { // about 44 MiB: read-ahead ramps up to its largest folios
			if _, err := l.AppendBatch(batch); err != nil {
				t.Fatal(err)
			}
		}
		s, err := l.acquireSegment(l.loadView().activeSeq)
		if err != nil {
			t.Fatal(err)
		}
		n, checked := largeFolioPages(t, s.data[:40<<20])
		l.releaseSegment(s.seq)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if checked == 0 {
			t.Skip("no page frame could be read")
		}
		t.Logf("flushing=%v: %d of %d resident pages of the active segment in large folios", flushing, n, checked)
		large[flushing] = n
	}
	if large[false] == 0 {
		t.Skip("the kernel made no large folio for a handle that never flushes: nothing to compare")
	}
	if large[true] != 0 {
		t.Fatalf("a flushing handle's segment has %d pages in large folios, want none", large[true])
	}
}
