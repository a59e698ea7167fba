package flock

import "errors"

// Sentinel errors returned by this package. Errors from the operating system
// are returned wrapped with %w and with the lock file's path as context, so
// callers test for both kinds with errors.Is.
var (
	// ErrClosed is returned by Lock, TryLock and Unlock once Close has been
	// called on the Lock.
	ErrClosed = errors.New("flock: lock is closed")

	// ErrNotLocked is returned by Unlock when the Lock is not held. A plain
	// sync.Mutex would crash the program in that case; a Lock reports it.
	ErrNotLocked = errors.New("flock: unlock of unlocked lock")

	// ErrEmptyPath is returned by New when the path is empty.
	ErrEmptyPath = errors.New("flock: empty lock file path")
)
