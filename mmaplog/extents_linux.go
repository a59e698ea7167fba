//go:build linux

package mmaplog

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FS_IOC_FIEMAP (linux/fiemap.h), which x/sys/unix does not wrap.
const (
	fsIocFiemap       = 0xC020660B // _IOWR('f', 11, struct fiemap)
	fiemapHeaderSize  = 32         // struct fiemap without its extents
	fiemapExtentSize  = 56         // struct fiemap_extent
	fiemapExtentBatch = 32         // extents asked for per ioctl
	fiemapExtentLast  = 0x1
	// An extent with any of these flags is not written data on disk yet: unknown
	// location, delayed allocation, or allocated but unwritten (fallocate).
	fiemapNotWritten = 0x2 | 0x4 | 0x800
)

// firstUnwritten returns the offset of the first byte in [from, to) of the file at path
// that does not lie in a written extent (an unwritten, delayed or unknown extent, or a
// hole), or to when every block there is written. It fails where the file system does not
// support FIEMAP.
func firstUnwritten(path string, from, to uint64) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var words [(fiemapHeaderSize + fiemapExtentBatch*fiemapExtentSize) / 8]uint64
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
	ne := binary.NativeEndian
	pos := from // every block in [from, pos) is written
	for pos < to {
		clear(buf)
		ne.PutUint64(buf[0:], pos)
		ne.PutUint64(buf[8:], to-pos)
		ne.PutUint32(buf[24:], fiemapExtentBatch)
		for {
			_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&buf[0])))
			if e == unix.EINTR {
				continue
			}
			if e != 0 {
				return 0, fmt.Errorf("FS_IOC_FIEMAP %s: %w", path, e)
			}
			break
		}
		mapped := int(ne.Uint32(buf[20:]))
		if mapped == 0 {
			return pos, nil // a hole up to the end of the range
		}
		for i := range mapped {
			e := buf[fiemapHeaderSize+i*fiemapExtentSize:]
			logical, length, flags := ne.Uint64(e[0:]), ne.Uint64(e[16:]), ne.Uint32(e[40:])
			if logical > pos || flags&fiemapNotWritten != 0 {
				return pos, nil // a hole before it, or not written data at pos
			}
			pos = max(pos, logical+length)
			if pos >= to {
				return to, nil
			}
			if flags&fiemapExtentLast != 0 {
				return pos, nil // a hole after the last extent
			}
		}
	}
	return to, nil
}
