//go:build linux

package mmaplog

import (
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futexWait and futexWake without FUTEX_PRIVATE_FLAG: the word lies in a shared file
// mapping, so the kernel keys it by (inode, offset) and processes that map the meta file
// wait on and wake the same futex.
const (
	futexWait = 0
	futexWake = 1
)

// sleepOn blocks while *word == seen (or until a wake-up or a signal).
func sleepOn(word *uint32, seen uint32, _ int) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWait, uintptr(seen), 0, 0, 0)
}

// sleepOnFor blocks while *word == seen, for at most d.
func sleepOnFor(word *uint32, seen uint32, d time.Duration, _ int) {
	ts := unix.NsecToTimespec(int64(d))
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWait, uintptr(seen), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// wakeAll wakes every waiter on word.
func wakeAll(word *uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWake, uintptr(math.MaxInt32), 0, 0, 0)
}
