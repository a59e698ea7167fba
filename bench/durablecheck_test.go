package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Quick checks of the durable workloads: each op appends what it claims, the children
// answer, the segment preparations leave the extents they are named after.

func TestDurableOps(t *testing.T) {
	ev := payload(durableSize)
	const ops = 20
	for _, d := range durableAppendImpls {
		for _, goroutines := range d.goroutines {
			t.Run(fmt.Sprintf("append/%s/goroutines=%d", d.impl, goroutines), func(t *testing.T) {
				w := durableAppendOp(t, d.impl, ev)
				if err := runShared(ops, goroutines, w.op); err != nil {
					t.Fatal(err)
				}
				checkCount(t, w, ops)
			})
		}
	}
	batch := makeBatch(10, durableSize)
	for _, impl := range durableBatchImpls {
		t.Run("batch/"+impl, func(t *testing.T) {
			w := durableBatchOp(t, impl, batch)
			for range 3 {
				if err := w.op(); err != nil {
					t.Fatal(err)
				}
			}
			checkCount(t, w, 3*len(batch))
		})
	}
}

// checkCount fails t unless w's log holds want events (nothing to check for a limit).
func checkCount(t *testing.T, w durable, want int) {
	t.Helper()
	if w.count == nil {
		return
	}
	n, err := w.count()
	if err != nil || n != uint64(want) {
		t.Fatalf("%d events, %v; want %d", n, err, want)
	}
}

func TestDurableMultiProcessRound(t *testing.T) {
	dir := t.TempDir()
	const procs, events = 2, 30
	d, err := multiProcessRound(dir, procs, events, durableSize, envSync+"=always")
	if err != nil {
		t.Fatal(err)
	}
	l := openRinglogAt(t, dir, nil)
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.EventCount != procs*events {
		t.Fatalf("%d events, want %d", st.EventCount, procs*events)
	}
	t.Logf("%d durable appends from %d processes in %v", procs*events, procs, d)
}

func TestDurablePairsChild(t *testing.T) {
	c, err := startChild("durable-pairs", envDir+"="+filepath.Join(t.TempDir(), "log"),
		envEvents+"=5", envSize+"="+strconv.Itoa(durableSize), envIdle+"=3")
	if err != nil {
		t.Fatal(err)
	}
	line, err := c.line()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	if want := "pairs 5 idle 3 next 6"; line != want {
		t.Fatalf("child said %q, want %q", line, want)
	}
}

func TestSegmentPrep(t *testing.T) {
	const size = 1 << 20
	dir := t.TempDir()
	for _, prep := range preps {
		t.Run(prep, func(t *testing.T) {
			f, err := prepareFile(filepath.Join(dir, prep), size, prep)
			if errors.Is(err, errPrepRefused) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			written, unwritten, err := extentBytes(f)
			if err != nil {
				t.Skipf("no extent map here: %v", err)
			}
			t.Logf("%s: %d bytes written, %d unwritten", prep, written, unwritten)
			wantUnwritten := int64(0)
			if prep == prepFallocate {
				wantUnwritten = size
			}
			if written+unwritten != size || unwritten != wantUnwritten {
				t.Fatalf("%d bytes written, %d unwritten; want %d unwritten of %d", written, unwritten, wantUnwritten, size)
			}
			// The file written through the page cache stays there unless dropped.
			if cached := residentPages(t, f, size); prep != prepFallocate && (prep == prepWrittenUncached) != (cached == 0) {
				t.Fatalf("%s: %d of %d pages in the page cache", prep, cached, size/4096)
			}
		})
	}
}

func TestPrepAppender(t *testing.T) {
	ev := payload(durableSize)
	for _, method := range []string{"pwrite", "msync"} {
		for _, stride := range []int64{128, 4096} {
			t.Run(fmt.Sprintf("%s/stride=%d", method, stride), func(t *testing.T) {
				const fileSize, appends = 16 << 10, 6
				p := &prepAppender{dir: t.TempDir(), prep: prepFallocate, method: method, stride: stride,
					fileSize: fileSize, stop: func() {}, start: func() {}}
				defer p.drop()
				for range appends {
					if err := p.append(ev); err != nil {
						t.Fatal(err)
					}
				}
				// The last append went to the offset before p.off, in the file p.f.
				got := make([]byte, len(ev))
				if _, err := p.f.ReadAt(got, p.off-stride); err != nil || !bytes.Equal(got, ev) {
					t.Fatalf("read back %q, %v", got, err)
				}
				perFile := int(fileSize / stride)
				if want := (appends + perFile - 1) / perFile; p.files != want {
					t.Fatalf("%d files prepared, want %d", p.files, want)
				}
				if _, err := os.Stat(filepath.Join(p.dir, "prep.0")); p.files > 1 && !os.IsNotExist(err) {
					t.Fatalf("the first file is still there after a move to the next: %v", err)
				}
			})
		}
	}
}

// residentPages returns how many of the first size bytes' pages of f are in the page
// cache (mincore of a read-only mapping).
func residentPages(t *testing.T, f *os.File, size int) int {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, size/4096)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
