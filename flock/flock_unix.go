//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

// This file covers the unix systems where golang.org/x/sys/unix has Flock
// with flock(2) semantics (android and ios are included through linux and
// darwin). AIX, Solaris and z/OS lack it and use flock_other.go.

package flock

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysLock holds the lock file open and calls flock(2) on its descriptor.
//
// The calls go through syscall.RawConn.Control, which holds a reference on
// the descriptor for the duration of the call: a concurrent Close cannot make
// flock(2) run on a closed, or worse reused, descriptor number. The closures
// are built once in open so that Lock and Unlock do not allocate; they write
// their result to err, which only the holder of Lock.mu reads or writes.
type sysLock struct {
	f   *os.File
	rc  syscall.RawConn
	err error

	lockEx func(fd uintptr) // flock(LOCK_EX), retried on EINTR
	lockNB func(fd uintptr) // flock(LOCK_EX|LOCK_NB)
	unlk   func(fd uintptr) // flock(LOCK_UN)
}

func (s *sysLock) open(path string, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, perm)
	if err != nil {
		return err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return err
	}
	s.f, s.rc = f, rc
	s.lockEx = func(fd uintptr) { s.err = flock(fd, unix.LOCK_EX) }
	s.lockNB = func(fd uintptr) { s.err = flock(fd, unix.LOCK_EX|unix.LOCK_NB) }
	s.unlk = func(fd uintptr) { s.err = flock(fd, unix.LOCK_UN) }
	return nil
}

// flock calls flock(2), retrying on EINTR.
func flock(fd uintptr, how int) error {
	for {
		err := unix.Flock(int(fd), how)
		if err != unix.EINTR {
			return err
		}
	}
}

// lock takes the OS lock. With nonBlocking, it returns false and a nil error
// if the lock is held elsewhere.
func (s *sysLock) lock(nonBlocking bool) (bool, error) {
	fn := s.lockEx
	if nonBlocking {
		fn = s.lockNB
	}
	if err := s.call(fn); err != nil {
		if nonBlocking && errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (s *sysLock) unlock() error { return s.call(s.unlk) }

func (s *sysLock) close() error { return s.f.Close() }

// call runs fn on the descriptor and returns its flock(2) error, or the
// error of Control (os.ErrClosed after close).
func (s *sysLock) call(fn func(fd uintptr)) error {
	s.err = nil
	if err := s.rc.Control(fn); err != nil {
		return err
	}
	if s.err != nil {
		return os.NewSyscallError("flock", s.err)
	}
	return nil
}
