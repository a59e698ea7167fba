package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Segment preparation limits (BenchmarkSegmentPrep): what one durable 128 B append at
// increasing offsets costs in a file prepared each way, written by pwrite + fdatasync or
// through a shared mapping by msync(MS_SYNC) of the page written.
//
// The preparations, each followed by an fsync of the file before the timer runs:
//   - fallocate: fallocate(2) mode 0, the blocks allocated as unwritten extents (what a
//     log that fallocates its segments has): the first write to each block makes the
//     next flush convert an extent, a metadata change the journal must commit;
//   - writezeroes: fallocate(FALLOC_FL_WRITE_ZEROES) (Linux 6.17+), written extents of
//     zeros made by the device without the data passing through the page cache; refused
//     (EOPNOTSUPP, EINVAL) where the file system or the device cannot;
//   - written: write(2) of zeros over the whole file in calls of 1 MiB (the PostgreSQL WAL
//     segment way). The page cache then holds the file in large folios (ext4 has them
//     since Linux 6.16): a write through a shared mapping dirties a whole folio, and its
//     msync writes all of it back (see dev-KiB/op);
//   - written4k: the same in calls of 4 KiB, which leaves 4 KiB folios in the page cache;
//   - written-uncached: written, then dropped from the page cache (fadvise DONTNEED), as a
//     recycled segment file is when its pages have been evicted: the mapping's faults
//     read the pages back.
const (
	prepFallocate       = "fallocate"
	prepWriteZeroes     = "writezeroes"
	prepWritten         = "written"
	prepWritten4K       = "written4k"
	prepWrittenUncached = "written-uncached"
)

// preps lists the preparations in report order.
var preps = []string{prepFallocate, prepWriteZeroes, prepWritten, prepWritten4K, prepWrittenUncached}

// prepFileSize is the size of each prepared file of BenchmarkSegmentPrep.
const prepFileSize = 64 << 20

// errPrepRefused is returned by prepareFile when the kernel refuses a preparation.
var errPrepRefused = errors.New("preparation refused by the kernel")

// prepareFile creates the file path of size bytes prepared by prep and fsyncs it.
func prepareFile(path string, size int64, prep string) (*os.File, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	fd := int(f.Fd())
	switch prep {
	case prepFallocate:
		err = unix.Fallocate(fd, 0, 0, size)
	case prepWriteZeroes:
		err = unix.Fallocate(fd, unix.FALLOC_FL_WRITE_ZEROES, 0, size)
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
			err = fmt.Errorf("%w: fallocate(FALLOC_FL_WRITE_ZEROES): %v", errPrepRefused, err)
		}
	case prepWritten, prepWritten4K, prepWrittenUncached:
		chunk := 1 << 20
		if prep == prepWritten4K {
			chunk = 4096
		}
		zero := make([]byte, chunk)
		for off := int64(0); off < size && err == nil; off += int64(len(zero)) {
			_, err = f.Write(zero[:min(int64(len(zero)), size-off)])
		}
	default:
		err = fmt.Errorf("unknown preparation %q", prep)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil && prep == prepWrittenUncached {
		err = unix.Fadvise(fd, 0, size, unix.FADV_DONTNEED)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// prepAppender appends at increasing offsets, stride bytes apart, to files prepared by
// prep of fileSize bytes each, moving to a new file (prepared with the timer stopped)
// when one is full. method is "pwrite" (pwrite + fdatasync) or "msync" (a copy into a
// shared mapping of the file, not prefaulted, + msync(MS_SYNC) of the pages written).
type prepAppender struct {
	dir, prep, method string
	stride, fileSize  int64
	stop, start       func() // the benchmark's StopTimer and StartTimer; no-ops in tests

	f     *os.File
	m     []byte
	off   int64
	files int // files prepared so far
	// prepSectors counts the sectors written to the device while files were prepared
	// after the first (devSectors), so that dev-KiB/op leaves them out.
	prepSectors int64
}

// append makes ev durable at the next offset.
func (p *prepAppender) append(ev []byte) error {
	if p.f == nil || p.off+p.stride > p.fileSize {
		p.stop()
		before := devSectors(p.f)
		err := p.next()
		if after := devSectors(p.f); before >= 0 && after >= 0 {
			p.prepSectors += after - before
		}
		p.start()
		if err != nil {
			return err
		}
	}
	off := p.off
	p.off += p.stride
	if p.method == "pwrite" {
		if _, err := unix.Pwrite(int(p.f.Fd()), ev, off); err != nil {
			return err
		}
		return unix.Fdatasync(int(p.f.Fd()))
	}
	copy(p.m[off:], ev)
	const page = 4096
	first, end := off&^(page-1), (off+int64(len(ev))+page-1)&^(page-1)
	return unix.Msync(p.m[first:end], unix.MS_SYNC)
}

// next drops the current file and prepares a new one.
func (p *prepAppender) next() error {
	p.drop()
	f, err := prepareFile(filepath.Join(p.dir, fmt.Sprintf("prep.%d", p.files)), p.fileSize, p.prep)
	if err != nil {
		return err
	}
	p.files++
	p.f, p.off = f, 0
	if p.method == "msync" {
		p.m, err = unix.Mmap(int(f.Fd()), 0, int(p.fileSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			p.drop()
			return err
		}
	}
	return nil
}

// drop unmaps, closes and removes the current file.
func (p *prepAppender) drop() {
	if p.m != nil {
		unix.Munmap(p.m)
		p.m = nil
	}
	if p.f != nil {
		p.f.Close()
		os.Remove(p.f.Name())
		p.f = nil
	}
}

// devSectors returns the sectors (512 B) written so far to the block device that holds
// f (field 7 of /sys/dev/block/MAJOR:MINOR/stat), or -1 when f is nil or that is not
// known (no block device: tmpfs, overlay). Every writer of the device counts.
func devSectors(f *os.File) int64 {
	if f == nil {
		return -1
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return -1
	}
	data, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/stat", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		return -1
	}
	fields := strings.Fields(string(data))
	if len(fields) < 7 {
		return -1
	}
	n, err := strconv.ParseInt(fields[6], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// prepNotes holds the notes printed once per process (see note).
var prepNotes sync.Map

// note prints "note: msg" on its own line of the benchmark output, once per process;
// cmd/report copies such lines into the report.
func note(msg string) {
	if _, dup := prepNotes.LoadOrStore(msg, true); !dup {
		fmt.Printf("\nnote: %s\n", msg)
	}
}

// BenchmarkSegmentPrep measures one durable 128 B append at increasing offsets (stride 128:
// packed like a log, one new block every 32 appends; stride 4096: a new block every
// append) into files prepared each way (see preps), written by pwrite + fdatasync
// (limit-pwrite-PREP) or by a copy into a shared mapping + msync(MS_SYNC) of its page
// (limit-msync-PREP). A preparation the kernel refuses is skipped with a note in the
// output. dev-KiB/op is what the device holding the files wrote per append (preparations
// left out; other writers of the device count too), files the files prepared.
func BenchmarkSegmentPrep(b *testing.B) {
	ev := payload(durableSize)
	for _, stride := range []int64{128, 4096} {
		for _, method := range []string{"pwrite", "msync"} {
			for _, prep := range preps {
				name := fmt.Sprintf("impl=limit-%s-%s/stride=%d/size=%d", method, prep, stride, durableSize)
				b.Run(name, func(b *testing.B) {
					p := &prepAppender{dir: b.TempDir(), prep: prep, method: method, stride: stride,
						fileSize: prepFileSize, stop: b.StopTimer, start: b.StartTimer}
					b.Cleanup(p.drop)
					if err := p.next(); errors.Is(err, errPrepRefused) {
						note(fmt.Sprintf("limit-*-%s skipped: %v", prep, err))
						b.Skip(err)
					} else if err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.SetBytes(durableSize)
					start, ops := devSectors(p.f), 0
					for b.Loop() {
						if err := p.append(ev); err != nil {
							b.Fatal(err)
						}
						ops++
					}
					if end := devSectors(p.f); start >= 0 && end >= 0 {
						b.ReportMetric(float64(end-start-p.prepSectors)*512/1024/float64(ops), "dev-KiB/op")
					}
					b.ReportMetric(float64(p.files), "files")
				})
			}
		}
	}
}

// FIEMAP (linux/fiemap.h), which x/sys/unix does not wrap.
const (
	fsIocFiemap           = 0xC020660B // _IOWR('f', 11, struct fiemap)
	fiemapFlagSync        = 0x1
	fiemapExtentLast      = 0x1
	fiemapExtentUnwritten = 0x800
	fiemapHeaderSize      = 32 // struct fiemap without its extents
	fiemapExtentSize      = 56 // struct fiemap_extent
)

// extentBytes returns how many bytes of f lie in written and in unwritten extents, from
// FS_IOC_FIEMAP (after a sync of the file's dirty data).
func extentBytes(f *os.File) (written, unwritten int64, err error) {
	const batch = 64
	words := make([]uint64, (fiemapHeaderSize+batch*fiemapExtentSize)/8)
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	ne := binary.NativeEndian
	for start := uint64(0); ; {
		clear(buf)
		ne.PutUint64(buf[0:], start)
		ne.PutUint64(buf[8:], ^uint64(0)-start)
		ne.PutUint32(buf[16:], fiemapFlagSync)
		ne.PutUint32(buf[24:], batch)
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0]))); e != 0 {
			return 0, 0, fmt.Errorf("FS_IOC_FIEMAP: %w", e)
		}
		mapped := int(ne.Uint32(buf[20:]))
		if mapped == 0 {
			return written, unwritten, nil
		}
		for i := range mapped {
			e := buf[fiemapHeaderSize+i*fiemapExtentSize:]
			logical, length, flags := ne.Uint64(e[0:]), ne.Uint64(e[16:]), ne.Uint32(e[40:])
			if flags&fiemapExtentUnwritten != 0 {
				unwritten += int64(length)
			} else {
				written += int64(length)
			}
			start = logical + length
			if flags&fiemapExtentLast != 0 {
				return written, unwritten, nil
			}
		}
	}
}
