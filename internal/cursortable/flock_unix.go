//go:build unix

package cursortable

import (
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes flock(2) on f, exclusive or shared. Per open file description: two
// Tables in one process exclude each other as two processes do.
func lockFile(f *os.File, excl bool) error {
	how := unix.LOCK_SH
	if excl {
		how = unix.LOCK_EX
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			return err
		}
	}
}

func unlockFile(f *os.File) { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }
