//go:build linux

package mmaplog_test

import (
	"encoding/binary"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/ringlog/ringlog/mmaplog"
	"golang.org/x/sys/unix"
)

// unwrittenBytes returns how many bytes of the file at path lie in unwritten extents
// (FIEMAP, FIEMAP_EXTENT_UNWRITTEN); ok is false where FIEMAP is not supported.
func unwrittenBytes(t *testing.T, path string) (n int64, ok bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const (
		iocFiemap      = 0xC020660B // FS_IOC_FIEMAP
		extentLast     = 0x1        // FIEMAP_EXTENT_LAST
		extentUnwrit   = 0x800      // FIEMAP_EXTENT_UNWRITTEN
		headerSize     = 32         // struct fiemap
		extentSize     = 56         // struct fiemap_extent
		extentsPerCall = 64
	)
	buf := make([]byte, headerSize+extentsPerCall*extentSize)
	for start := uint64(0); ; {
		clear(buf)
		binary.LittleEndian.PutUint64(buf[0:], start)
		binary.LittleEndian.PutUint64(buf[8:], ^uint64(0))
		// No FIEMAP_FLAG_SYNC: the prefault dirtied every page of the mapping, and a forced
		// write-back would convert the extents of a plain file too.
		binary.LittleEndian.PutUint32(buf[24:], extentsPerCall)
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), iocFiemap, uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
			return 0, false
		}
		mapped := binary.LittleEndian.Uint32(buf[20:])
		if mapped == 0 {
			return n, true
		}
		for i := range mapped {
			e := buf[headerSize+int(i)*extentSize:]
			logical, length, flags := binary.LittleEndian.Uint64(e[0:]), binary.LittleEndian.Uint64(e[16:]), binary.LittleEndian.Uint32(e[40:])
			if flags&extentUnwrit != 0 {
				n += int64(length)
			}
			if flags&extentLast != 0 {
				return n, true
			}
			start = logical + length
		}
	}
}

// TestDurableHandlePreparesWrittenSegments: a handle that flushes (here: it called Sync)
// prepares the next segment ahead with every block written (zero-filled), so a durable
// flush of records there converts no unwritten extent; a handle that never flushes
// prepares a plain preallocated file (unwritten extents on ext4), which is the control:
// where the filesystem keeps no unwritten extents the test has nothing to tell.
func TestDurableHandlePreparesWrittenSegments(t *testing.T) {
	unwritten := map[bool]int64{}
	for _, durable := range []bool{false, true} {
		dir := t.TempDir()
		l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if durable {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		// Batches take the general append path, which keeps preparation a segment ahead;
		// stay below the end of the first segment, where the writer would create the
		// next one itself.
		ev := [][]byte{make([]byte, 1000)}
		next := rcSegPath(dir, 1)
		for i := 0; ; i++ {
			if _, err := os.Stat(next); err == nil {
				break
			}
			if i == 900 {
				t.Fatal("segment 1 was not prepared ahead")
			}
			if _, err := l.AppendBatch(ev); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		n, ok := unwrittenBytes(t, next)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Skip("FIEMAP is not supported here")
		}
		unwritten[durable] = n
	}
	t.Logf("unwritten bytes of the segment prepared ahead: %d by a handle that never flushed, %d by one that called Sync", unwritten[false], unwritten[true])
	if unwritten[false] == 0 {
		t.Skip("this filesystem keeps no unwritten extents in a preallocated file")
	}
	if unwritten[true] != 0 {
		t.Fatalf("a flushing handle prepared a segment with %d bytes in unwritten extents", unwritten[true])
	}
}
