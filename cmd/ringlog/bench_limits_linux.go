//go:build linux

package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// limitMapSize is the size of the mapping the memory limits copy into and read from.
const limitMapSize = 64 << 20

// limits measures what bounds ringlog's operations on this machine, in the same run.
type limits struct {
	lockFile *os.File
	dataFile *os.File
	m        []byte // a prefaulted shared mapping of limitMapSize bytes
	syncFile *os.File
	buf      []byte
	off      int
}

// newLimits prepares the files and the mapping in dir.
func newLimits(dir string) (*limits, error) {
	l := &limits{buf: make([]byte, 1<<20)}
	var err error
	if l.lockFile, err = os.Create(filepath.Join(dir, "limit-lock")); err != nil {
		return nil, err
	}
	if l.dataFile, err = os.Create(filepath.Join(dir, "limit-data")); err != nil {
		return nil, err
	}
	if err := unix.Fallocate(int(l.dataFile.Fd()), 0, 0, limitMapSize); err != nil {
		return nil, err
	}
	if l.m, err = unix.Mmap(int(l.dataFile.Fd()), 0, limitMapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return nil, err
	}
	for i := 0; i < len(l.m); i += 4096 {
		l.m[i] = 1 // fault every page in
	}
	if l.syncFile, err = os.Create(filepath.Join(dir, "limit-sync")); err != nil {
		return nil, err
	}
	// Written once and synced, so the measured writes overwrite allocated blocks.
	if _, err := l.syncFile.Write(make([]byte, 1<<20)); err != nil {
		return nil, err
	}
	return l, l.syncFile.Sync()
}

// close releases the mapping and the files.
func (l *limits) close() {
	_ = unix.Munmap(l.m)
	l.lockFile.Close()
	l.dataFile.Close()
	l.syncFile.Close()
}

// flockPair takes and releases flock(2) n times.
func (l *limits) flockPair(n int) error {
	fd := int(l.lockFile.Fd())
	for range n {
		if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
			return err
		}
		if err := unix.Flock(fd, unix.LOCK_UN); err != nil {
			return err
		}
	}
	return nil
}

// copyInto returns a limit that copies size bytes into the mapping, sequentially.
func (l *limits) copyInto(size int) func(int) error {
	src := make([]byte, size)
	return func(n int) error {
		for range n {
			if l.off+size > len(l.m) {
				l.off = 0
			}
			copy(l.m[l.off:], src)
			l.off += size
		}
		return nil
	}
}

// randomRead returns a limit that copies size bytes from a random place of the mapping
// into a new slice (what a copying Get does after its two lookups).
func (l *limits) randomRead(size int) func(int) error {
	return func(n int) error {
		for range n {
			off := rand.IntN(len(l.m)-size) &^ 7
			out := make([]byte, size)
			copy(out, l.m[off:])
		}
		return nil
	}
}

// seqRead returns a limit that reads size bytes at a time through the mapping.
func (l *limits) seqRead(size int) func(int) error {
	return func(n int) error {
		var sum byte
		for range n {
			if l.off+size > len(l.m) {
				l.off = 0
			}
			copy(l.buf[:size], l.m[l.off:])
			sum += l.buf[size-1]
			l.off += size
		}
		l.buf[0] = sum
		return nil
	}
}

// writeSync writes 4 KiB and fdatasyncs, n times.
func (l *limits) writeSync(n int) error {
	page := l.buf[:4096]
	for i := range n {
		if _, err := l.syncFile.WriteAt(page, int64(i%256)*4096); err != nil {
			return err
		}
		if err := unix.Fdatasync(int(l.syncFile.Fd())); err != nil {
			return err
		}
	}
	return nil
}
