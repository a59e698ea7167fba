//go:build linux

package mmaplog

import (
	"errors"
	"os"

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

// msync flushes b (page-aligned start) to the file.
func msync(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.Msync(b, unix.MS_SYNC)
}
