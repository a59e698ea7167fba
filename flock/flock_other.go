//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

// On platforms without flock(2) in golang.org/x/sys/unix (Windows, AIX,
// Solaris, z/OS, ...), the OS lock is github.com/gofrs/flock, which uses
// LockFileEx or fcntl and opens the file on every Lock.

package flock

import (
	"os"

	gofrs "github.com/gofrs/flock"
)

// sysLock wraps a gofrs/flock Flock. gofrs/flock treats a second Lock on the
// same Flock as a no-op, so it does not exclude goroutines by itself; Lock.mu
// provides that.
type sysLock struct {
	f *gofrs.Flock
}

func (s *sysLock) open(path string, perm os.FileMode) error {
	// Create the file now so that a bad path fails in New, not in Lock.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, perm)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	s.f = gofrs.New(path, gofrs.SetPermissions(perm))
	return nil
}

// lock takes the OS lock. With nonBlocking, it returns false and a nil error
// if the lock is held elsewhere.
func (s *sysLock) lock(nonBlocking bool) (bool, error) {
	if nonBlocking {
		return s.f.TryLock()
	}
	if err := s.f.Lock(); err != nil {
		return false, err
	}
	return true, nil
}

func (s *sysLock) unlock() error { return s.f.Unlock() }

func (s *sysLock) close() error { return s.f.Close() }
