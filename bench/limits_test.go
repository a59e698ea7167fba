package bench

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The physical limits, measured in the same process as the logs:
//   - limit-memcpy: copying the payload into a prefaulted shared file mapping;
//   - limit-newpages: the same copy into new file pages, never touched before: what a log
//     that grows (rather than reusing its space) pays per page for the kernel to allocate
//     and zero it, whether at first touch or ahead of it (ringlog prefaults ahead, on
//     another core);
//   - limit-flock: a flock(2) LOCK_EX + LOCK_UN pair on an open file;
//   - limit-slice: a slice index + a fresh copy (the Get baseline, in slice_test.go);
//   - limit-bulkread: reading every byte of a prefaulted shared mapping;
//   - limit-fdatasync: pwrite of the payload into a written file + fdatasync.

// limitMapSize is the size of the mapping the memcpy limit writes into, round robin.
const limitMapSize = 64 << 20

// prefaultedMapping returns a shared read-write mapping of a new file of size bytes
// (a multiple of the page size) in b's temporary directory, every page faulted in for
// writing. It is unmapped when b ends.
func prefaultedMapping(b testing.TB, size int) []byte {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "limit.map"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, int64(size)); err != nil {
		b.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Munmap(m) })
	if err := unix.Madvise(m, unix.MADV_POPULATE_WRITE); err != nil {
		// Kernels before 5.14: touch every page.
		for off := 0; off < len(m); off += os.Getpagesize() {
			m[off] = 0
		}
	}
	return m
}

// memcpyLimit copies each event of batch (one call per op) to the next free place of
// the mapping m, wrapping to the start when the rest does not fit. off is the current
// place; it returns the next one.
func memcpyLimit(m []byte, off int, batch [][]byte) int {
	for _, ev := range batch {
		if off+len(ev) > len(m) {
			off = 0
		}
		off += copy(m[off:], ev)
	}
	return off
}

// newPages copies into fresh fallocated files mapped shared, limitMapSize bytes each,
// never prefaulted: every page is allocated and zeroed at its first touch.
type newPages struct {
	b   testing.TB
	dir string
	f   *os.File
	m   []byte
	off int
}

func newPagesLimit(b testing.TB) *newPages {
	p := &newPages{b: b, dir: b.TempDir()}
	b.Cleanup(p.drop)
	return p
}

// copy appends each event of batch to the current file, moving to a new one when full.
func (p *newPages) copy(batch [][]byte) {
	for _, ev := range batch {
		if p.m == nil || p.off+len(ev) > len(p.m) {
			p.next()
		}
		p.off += copy(p.m[p.off:], ev)
	}
}

// next drops the current file and maps a new one.
func (p *newPages) next() {
	p.drop()
	f, err := os.Create(filepath.Join(p.dir, "limit.new"))
	if err != nil {
		p.b.Fatal(err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, limitMapSize); err != nil {
		p.b.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, limitMapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		p.b.Fatal(err)
	}
	p.f, p.m, p.off = f, m, 0
}

func (p *newPages) drop() {
	if p.m != nil {
		unix.Munmap(p.m)
		p.f.Close()
		os.Remove(p.f.Name())
		p.m = nil
	}
}

// lockFile returns the descriptor of a new lock file in b's temporary directory,
// closed when b ends.
func lockFile(b testing.TB) int {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "limit.lock"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// flockPair takes and releases an exclusive flock(2) on fd.
func flockPair(fd int) error {
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		return err
	}
	return unix.Flock(fd, unix.LOCK_UN)
}

// bulkRead reads every 8-byte word of m (len(m) a multiple of 32) and returns their sum,
// so the compiler cannot drop the reads.
func bulkRead(m []byte) uint64 {
	w := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(m))), len(m)/8)
	var s0, s1, s2, s3 uint64
	for i := 0; i+4 <= len(w); i += 4 {
		s0 += w[i]
		s1 += w[i+1]
		s2 += w[i+2]
		s3 += w[i+3]
	}
	return s0 + s1 + s2 + s3
}

// syncFile returns a file of limitMapSize bytes in b's temporary directory, written
// (not merely allocated) and fsynced once, so that an overwrite + fdatasync flushes data
// only. It is closed when b ends.
func syncFile(b testing.TB) *os.File {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "limit.sync"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	zero := make([]byte, 1<<20)
	for off := 0; off < limitMapSize; off += len(zero) {
		if _, err := f.Write(zero); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return f
}

// pwriteSync writes ev at off (wrapped into the file) and fdatasyncs the file.
func pwriteSync(f *os.File, off int64, ev []byte) error {
	off %= limitMapSize - int64(len(ev))
	if _, err := unix.Pwrite(int(f.Fd()), ev, off); err != nil {
		return err
	}
	return unix.Fdatasync(int(f.Fd()))
}
