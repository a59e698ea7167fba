// Package flock serializes ringlog writers across goroutines and across
// processes on one host.
//
// # Basics
//
// A Lock pairs an in-process sync.Mutex with an exclusive OS lock on one lock
// file. New opens (and if needed creates) the lock file and keeps its file
// descriptor open for the lifetime of the Lock; Lock and Unlock then cost a
// mutex operation plus one flock(2) system call each, with no open or close on
// the hot path (gofrs/flock opens and closes the file on every Lock/Unlock,
// which costs several times more):
//
//	l, err := flock.New(filepath.Join(dir, "LOCK"), 0o644)
//	if err != nil {
//		return err
//	}
//	defer l.Close()
//
//	if err := l.Lock(); err != nil {
//		return err
//	}
//	// ... append ...
//	if err := l.Unlock(); err != nil {
//		return err
//	}
//
// TryLock takes the lock only if no goroutine and no process holds it.
//
// On Linux, the BSDs, macOS and illumos the package calls flock(2) through
// golang.org/x/sys/unix on the held descriptor. On other platforms (Windows,
// AIX, Solaris, ...) it falls back to github.com/gofrs/flock, which uses
// LockFileEx or fcntl and reopens the file on every Lock.
//
// # Caveats
//
// flock(2) locks belong to the open file description, not to the process or
// to the path. Hence:
//
//   - Opening and closing the same lock file elsewhere in the process (os.Open,
//     os.ReadFile, another Lock's Close) does NOT release this lock. POSIX
//     fcntl locks, in contrast, are all dropped by the first close of any
//     descriptor of the file; that is why this package does not use them.
//   - Two *Lock on the same path in one process exclude each other, exactly as
//     two processes do. Share one *Lock between goroutines when you can: the
//     in-process mutex is much cheaper than contending on the OS lock.
//   - A process that dies, even by SIGKILL, releases its lock: the kernel
//     closes its descriptors. The lock says nothing about what the dead holder
//     left half written; callers must make their on-disk state crash-atomic.
//   - flock(2) is not reliable on network file systems (NFS, SMB, some FUSE
//     mounts): keep the lock file on a local file system.
//   - Do not use a Lock in a child after fork without exec: the child shares
//     the open file description, so both would "hold" the same lock. Go
//     programs only fork via os/exec, which execs and does not inherit the
//     descriptor (it is opened close-on-exec).
//   - The lock file is never deleted, by New, Close or anything else. Deleting
//     it while others hold or wait for it would let a new process lock a new
//     file of the same name and break mutual exclusion.
//   - Close releases the OS lock even while a goroutine holds the Lock; that
//     goroutine's Unlock then returns ErrClosed.
//
// # Concurrency
//
// All methods are safe for concurrent use. Lock blocks first on the in-process
// mutex, so at most one goroutine per *Lock waits in flock(2) at a time.
// As with sync.Mutex, a Lock is not reentrant (a goroutine that calls Lock
// twice deadlocks), it may be unlocked by a different goroutine than the one
// that locked it, and it must not be copied after first use. A goroutine
// blocked in Lock while another calls Close keeps waiting until the OS lock
// is free, then returns ErrClosed.
package flock
