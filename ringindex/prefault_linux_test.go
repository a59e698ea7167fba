package ringindex_test

import (
	"errors"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringlog/ringlog/ringindex"
)

// TestPrefaultRange checks, with mincore on a second mapping of the file, that
// PrefaultRange brings the pages of exactly the requested slots into the page cache: both
// ends of a range that wraps around the ring, and not a page far from it.
func TestPrefaultRange(t *testing.T) {
	// 64 MiB of slots: far more than the kernel's read-around (read_ahead_kb, 8 MiB on the
	// test machine), which faults in the neighbours of every page touched.
	const capacity = 1 << 23
	x, path := create(t, capacity)
	const from, to = capacity - 4096, capacity + 4096 // 32 KiB at each end of the ring
	if err := x.PrefaultRange(from, to); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := ringindex.HeaderSize + 8*capacity
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, size/4096)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	resident := func(slot int) bool { return vec[(ringindex.HeaderSize+8*slot)/4096]&1 != 0 }
	n := 0
	for _, b := range vec {
		n += int(b & 1)
	}
	t.Logf("%d of %d pages resident after PrefaultRange(%d, %d)", n, len(vec), uint64(from), uint64(to))
	for _, slot := range []int{0, 2048, 4095, capacity - 4096, capacity - 1} {
		if !resident(slot) {
			t.Errorf("page of slot %d not resident", slot)
		}
	}
	if resident(capacity / 2) {
		t.Errorf("page of slot %d, far from the range, was faulted in too", capacity/2)
	}
	if err := x.PrefaultRange(5, 5); err != nil {
		t.Fatalf("empty range: %v", err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.PrefaultRange(0, 10); !errors.Is(err, ringindex.ErrClosed) {
		t.Fatalf("PrefaultRange after Close: %v", err)
	}
}
