package mmaplog

import "time"

// SetCreateFileHook installs a hook consulted before every file creation (nil removes
// it). For tests that inject failures such as ENOSPC.
func SetCreateFileHook(h func(path string) error) {
	if h == nil {
		createFileHook.Store(nil)
		return
	}
	createFileHook.Store(&h)
}

// SetHoldPoll sets the HoldLock releaser's poll period and returns the previous one. Tests
// that need a lock held without idle gaps lengthen it.
func SetHoldPoll(d time.Duration) time.Duration {
	return time.Duration(holdPoll.Swap(int64(d)))
}
