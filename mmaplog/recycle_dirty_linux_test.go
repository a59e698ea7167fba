package mmaplog

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// dirtyPagesSink keeps the reads of dirtyPages.
var dirtyPagesSink byte

// dirtyPages counts the pages of file path in [from, to) that the page cache holds dirty
// (read through a mapping of its own, which dirties nothing; flags from /proc/kpageflags),
// and the pages it could check (countPageFlags).
func dirtyPages(t *testing.T, path string, from, to int) (dirty, checked int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, to, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	const page = 4096
	for off := from; off < to; off += page {
		dirtyPagesSink += m[off] // map the cached page into this mapping
	}
	return countPageFlags(t, m[from:to], kpfDirty)
}

// TestRecyclingSyncsOnlyTheHeader: taking a file from the pool makes its new header
// durable without writing back the stale pages its earlier use left dirty (an fsync
// there made a never-synced ring write a whole segment at every turnover): right after a
// turnover into a recycled segment, the pages past the new records are still dirty.
func TestRecyclingSyncsOnlyTheHeader(t *testing.T) {
	const size = 1 << 20
	l, err := Open(t.TempDir(), &Options{SegmentSize: size, NoPrefault: true, Retention: Retention{MaxEvents: 8000}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ev := make([]byte, 200)
	for i := 0; ; i++ {
		if i > 200000 {
			t.Fatal("no segment was recycled")
		}
		before := l.recycled.Load()
		if _, err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
		if l.recycled.Load() > before && before > 0 {
			break // the append just moved into a segment made from the pool
		}
	}
	path := l.segmentPath(l.loadView().activeSeq)
	dirty, checked := dirtyPages(t, path, size/2, size)
	t.Logf("recycled active segment, second half: %d of %d resident pages still dirty from the earlier use", dirty, checked)
	if checked == 0 {
		t.Skip("no page of the segment is resident")
	}
	if dirty == 0 {
		t.Fatal("taking the file from the pool wrote back its stale pages (an fsync instead of a sync of the header)")
	}
}
