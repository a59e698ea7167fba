//go:build unix

package ringindex

import (
	"os"

	"golang.org/x/sys/unix"
)

// msync flushes data[lo:hi] (lo page aligned) with MS_SYNC.
func msync(data []byte, lo, hi uint64) error {
	if lo >= hi {
		return nil
	}
	return unix.Msync(data[lo:hi], unix.MS_SYNC)
}

// syncDir fsyncs a directory so a rename or link in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
