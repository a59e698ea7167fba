//go:build linux

package mmaplog

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// preallocate reserves size bytes for f so that later stores through a mapping cannot hit
// a full disk (which would raise SIGBUS).
func preallocate(f *os.File, size int64) error {
	for {
		err := unix.Fallocate(int(f.Fd()), 0, 0, size)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EOPNOTSUPP {
			return f.Truncate(size)
		}
		if err != nil {
			return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// renameNoReplace renames from to to, failing with an error wrapping fs.ErrExist when to
// exists.
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		return linkRename(from, to)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// prefault populates the page tables of a writable mapping (MADV_POPULATE_WRITE, Linux
// 5.14+), so first stores into it take no page fault. Best effort.
func prefault(b []byte) {
	if len(b) == 0 {
		return
	}
	if err := unix.Madvise(b, unix.MADV_POPULATE_WRITE); err != nil && !errors.Is(err, unix.EINVAL) {
		_ = unix.Madvise(b, unix.MADV_WILLNEED)
	}
}

// adviseRandom turns off read-ahead for the page faults of mapping b (MADV_RANDOM), so
// that each fault brings a single 4 KiB page into the page cache. Best effort.
func adviseRandom(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_RANDOM)
	}
}

// syncHead makes the first n bytes of f (n at most a page) durable without writing back
// the rest of the file: an msync of a mapping of that page alone is a data sync of that
// range (vfs_fsync_range), where fsync and fdatasync write back every dirty page of the
// file first.
func syncHead(f *os.File, n int) error {
	page := os.Getpagesize()
	if n > page {
		return f.Sync()
	}
	m, err := unix.Mmap(int(f.Fd()), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	err = unix.Msync(m, unix.MS_SYNC)
	if uerr := unix.Munmap(m); err == nil {
		err = uerr
	}
	if err != nil {
		return &os.PathError{Op: "msync", Path: f.Name(), Err: err}
	}
	return nil
}

// msync flushes b (page-aligned start) to the file.
func msync(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.Msync(b, unix.MS_SYNC)
}

// recyclingSupported reports whether segment files may be recycled here: on Linux a
// flock belongs to the open file, which a mapping keeps alive, so the shared lock a
// handle takes before it maps a segment lasts exactly as long as the mapping
// (docs/FORMAT.md sections 9 and 14).
const recyclingSupported = true

// lockMapping takes the shared lock that a mapping of segment file f holds. An exclusive
// lock is only ever held briefly: by a recycler while it rewrites a pool file's header and
// syncs that page (the file then carries another seq, which the caller's header check
// catches), or by a child process forked meanwhile by any goroutine, whose inherited copy of
// the recycler's descriptor keeps the lock until the child execs. So it waits for the lock
// up to mappingLockWait, then fails: a writer mapping the segment it is about to append to
// took this failure for a missing segment (a spurious ErrCorrupt from Append).
func lockMapping(f *os.File) error {
	deadline := time.Now().Add(mappingLockWait)
	pause := 20 * time.Microsecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EWOULDBLOCK && time.Now().Before(deadline) {
			time.Sleep(pause)
			pause = min(2*pause, 5*time.Millisecond)
			continue
		}
		if err != nil {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// mappingLockWait bounds lockMapping's wait for an exclusive holder.
const mappingLockWait = 200 * time.Millisecond

// lockRecycle takes the exclusive lock of a pool file that is about to become a new
// segment. It reports false, without blocking, when some process still maps the file.
func lockRecycle(f *os.File) bool {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err == nil
		}
	}
}
