package flock

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// Lock is an in-process sync.Mutex plus an exclusive OS lock on one lock
// file. It excludes goroutines sharing the *Lock, other *Lock values on the
// same path in this process, and other processes on the host.
//
// Create it with New. A Lock must not be copied after first use.
type Lock struct {
	mu   sync.Mutex // in-process exclusion; held from Lock to Unlock
	held bool       // true between a successful Lock/TryLock and Unlock; guarded by mu
	// retained: this *Lock keeps the OS lock across calls (UnlockRetain), until Release,
	// Unlock or Close. It changes only under mu and stays set while a call that found it
	// set holds mu, so a write call that keeps the lock costs no atomic store.
	retained atomic.Bool
	closed   atomic.Bool // set once by Close
	path     string
	sys      sysLock // platform part: flock_unix.go or flock_other.go
}

// New opens the lock file at path, creating it with permissions perm (before
// the umask) if it does not exist, and returns an unlocked Lock on it. The file
// stays open until Close. New never deletes or truncates the lock file.
func New(path string, perm os.FileMode) (*Lock, error) {
	if path == "" {
		return nil, ErrEmptyPath
	}
	l := &Lock{path: path}
	if err := l.sys.open(path, perm); err != nil {
		return nil, fmt.Errorf("flock: open %s: %w", path, err)
	}
	return l, nil
}

// Path returns the path of the lock file, as given to New.
func (l *Lock) Path() string { return l.path }

// Lock takes the in-process mutex, then the exclusive OS lock, blocking until
// both are held. On error it releases the mutex and returns the error (which
// is ErrClosed after Close).
func (l *Lock) Lock() error { return l.LockNotify(nil) }

// LockNotify is Lock with a hook for lock hand-over between processes: when the OS lock is
// held elsewhere, it calls onWait(true) before blocking on it and onWait(false) once it has
// it. A holder that retains the lock (UnlockRetain) can watch for such waiters, e.g.
// through a counter in shared memory, and release it. If this *Lock retained the OS lock,
// LockNotify takes only the mutex.
func (l *Lock) LockNotify(onWait func(waiting bool)) error {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.retained.Load() {
		return l.acquired()
	}
	if onWait != nil {
		ok, err := l.sys.lock(true)
		if err != nil {
			l.mu.Unlock()
			return l.wrap("lock", err)
		}
		if ok {
			return l.acquired()
		}
		onWait(true)
		_, err = l.sys.lock(false)
		onWait(false)
		if err != nil {
			l.mu.Unlock()
			return l.wrap("lock", err)
		}
		return l.acquired()
	}
	if _, err := l.sys.lock(false); err != nil {
		l.mu.Unlock()
		return l.wrap("lock", err)
	}
	return l.acquired()
}

// LockRetained is the fast form of Lock for a *Lock that retains the OS lock: if it does
// (and is open), LockRetained takes the in-process mutex and reports true, and the caller
// holds the lock as after Lock. Otherwise it takes nothing and reports false; Lock then
// does the rest.
func (l *Lock) LockRetained() bool {
	if !l.retained.Load() {
		return false
	}
	l.mu.Lock()
	if l.retained.Load() && !l.closed.Load() {
		l.held = true
		return true
	}
	l.mu.Unlock()
	return false
}

// UnlockRetain releases the in-process mutex but keeps the OS lock, so that the next Lock
// of this *Lock costs no system call. Other processes (and other *Lock values) stay
// excluded until Release, Unlock or Close.
func (l *Lock) UnlockRetain() error {
	if !l.held {
		return ErrNotLocked
	}
	l.held = false
	if l.closed.Load() {
		l.mu.Unlock()
		return ErrClosed
	}
	if !l.retained.Load() {
		l.retained.Store(true)
	}
	l.mu.Unlock()
	return nil
}

// Retained reports whether this *Lock keeps the OS lock between calls.
func (l *Lock) Retained() bool { return l.retained.Load() }

// Release drops a retained OS lock. It waits for the in-process mutex. It reports whether
// a retained lock was released.
func (l *Lock) Release() (bool, error) {
	if !l.retained.Load() {
		return false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.retained.Swap(false) || l.closed.Load() {
		return false, nil
	}
	if err := l.sys.unlock(); err != nil {
		return false, l.wrap("unlock", err)
	}
	return true, nil
}

// TryLock takes the lock without blocking. It returns false and a nil error
// if a goroutine of this process or another process holds the lock.
func (l *Lock) TryLock() (bool, error) {
	if !l.mu.TryLock() {
		if l.closed.Load() {
			return false, ErrClosed
		}
		return false, nil
	}
	if l.closed.Load() {
		l.mu.Unlock()
		return false, ErrClosed
	}
	if l.retained.Load() {
		return true, l.acquired()
	}
	ok, err := l.sys.lock(true)
	if err != nil || !ok {
		l.mu.Unlock()
		if err != nil {
			return false, l.wrap("trylock", err)
		}
		return false, nil
	}
	if err := l.acquired(); err != nil {
		return false, err
	}
	return true, nil
}

// acquired finishes Lock and TryLock once the OS lock is taken, with l.mu
// held. If Close ran meanwhile, the descriptor is (being) closed, which
// releases the OS lock; report ErrClosed rather than a lock not held.
func (l *Lock) acquired() error {
	if l.closed.Load() {
		_ = l.sys.unlock() // no-op on a closed descriptor
		l.mu.Unlock()
		return ErrClosed
	}
	l.held = true
	return nil
}

// Unlock releases the OS lock, then the in-process mutex. It returns
// ErrNotLocked if the Lock is not held. If Close ran while the lock was held,
// Unlock releases the mutex and returns ErrClosed: the OS lock was already
// released by Close.
func (l *Lock) Unlock() error {
	if !l.held {
		return ErrNotLocked
	}
	l.held = false
	if l.retained.Load() {
		l.retained.Store(false)
	}
	var err error
	if l.closed.Load() {
		err = ErrClosed
	} else if uerr := l.sys.unlock(); uerr != nil {
		err = l.wrap("unlock", uerr)
	}
	l.mu.Unlock()
	return err
}

// Close closes the lock file, which releases the OS lock if it is held. It is
// idempotent: calls after the first return nil. After Close, Lock and TryLock
// return ErrClosed. Close does not delete the lock file.
func (l *Lock) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	l.retained.Store(false) // closing the descriptor releases the OS lock
	if err := l.sys.close(); err != nil {
		return fmt.Errorf("flock: close %s: %w", l.path, err)
	}
	return nil
}

// wrap adds the operation and path to an error from the platform part,
// mapping a closed descriptor to ErrClosed.
func (l *Lock) wrap(op string, err error) error {
	if l.closed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("flock: %s %s: %w", op, l.path, err)
}
