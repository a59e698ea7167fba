package ringindex

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves size bytes of disk for f so that writes through a
// mapping cannot hit a full disk (SIGBUS). Filesystems without fallocate
// (EOPNOTSUPP) get a sparse file instead.
func preallocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return f.Truncate(size)
	}
	return err
}

// renameNoReplace renames oldpath to newpath, failing with an error that
// wraps fs.ErrExist if newpath exists. It uses renameat2(RENAME_NOREPLACE)
// and falls back to link + unlink where that is unsupported.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return linkRename(oldpath, newpath)
	default:
		return &os.LinkError{Op: "renameat2", Old: oldpath, New: newpath, Err: err}
	}
}

func advise(b []byte, populate, writable bool) error {
	if len(b) == 0 {
		return nil
	}
	if populate {
		adv := unix.MADV_POPULATE_READ
		if writable {
			adv = unix.MADV_POPULATE_WRITE
		}
		err := unix.Madvise(b, adv)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
		// Kernel older than 5.14: fall through to a hint.
	}
	err := unix.Madvise(b, unix.MADV_WILLNEED)
	if errors.Is(err, unix.EINVAL) {
		return nil
	}
	return err
}
