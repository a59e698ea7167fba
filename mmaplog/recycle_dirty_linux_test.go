package mmaplog

import (
	"encoding/binary"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirtyPagesSink keeps the reads of dirtyPages.
var dirtyPagesSink byte

// dirtyPages counts the pages of file path in [from, to) that the page cache holds dirty
// (read through a mapping of its own, which dirties nothing; flags from /proc/kpageflags),
// and the pages it could check. It skips t where page frames cannot be read (not root).
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
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("pagemap: %v", err)
	}
	defer pagemap.Close()
	flags, err := os.Open("/proc/kpageflags")
	if err != nil {
		t.Skipf("kpageflags: %v", err)
	}
	defer flags.Close()
	const kpfDirty = 1 << 4
	base := uintptr(unsafe.Pointer(&m[0]))
	var entry, word [8]byte
	for off := from; off < to; off += page {
		if _, err := pagemap.ReadAt(entry[:], int64((base+uintptr(off))/page*8)); err != nil {
			t.Skipf("pagemap: %v", err)
		}
		e := binary.LittleEndian.Uint64(entry[:])
		pfn := e & (1<<55 - 1)
		if e&(1<<63) == 0 || pfn == 0 {
			continue
		}
		if _, err := flags.ReadAt(word[:], int64(pfn*8)); err != nil {
			t.Skipf("kpageflags: %v", err)
		}
		checked++
		if binary.LittleEndian.Uint64(word[:])&kpfDirty != 0 {
			dirty++
		}
	}
	return dirty, checked
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
