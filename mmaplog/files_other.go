//go:build !linux

package mmaplog

import (
	"os"

	"github.com/edsrzf/mmap-go"
)

// preallocate reserves size bytes for f. Without fallocate(2) this only sets the size, so
// a full disk may surface later.
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }

// renameNoReplace renames from to to, failing when to exists (link, then unlink).
func renameNoReplace(from, to string) error { return linkRename(from, to) }

// prefault is a no-op where MADV_POPULATE_WRITE does not exist.
func prefault(b []byte) {}

// adviseRandom does nothing here.
func adviseRandom(b []byte) {}

// syncHead makes the first n bytes of f durable: here with fsync of the whole file.
func syncHead(f *os.File, n int) error { return f.Sync() }

// msync flushes the whole mapping holding b.
func msync(b []byte) error { return mmap.MMap(b).Flush() }

// recyclingSupported is false here: a flock is not known to last as long as a mapping
// of its file, which recycling relies on (docs/FORMAT.md section 14).
const recyclingSupported = false

// lockMapping does nothing here: no process recycles segment files.
func lockMapping(f *os.File) error { return nil }

// lockRecycle is never called here (recycling is off); it refuses.
func lockRecycle(f *os.File) bool { return false }

// firstUnwritten reports every block as written here: the file system is not asked.
func firstUnwritten(path string, from, to uint64) (uint64, error) { return to, nil }
