package mmaplog

import (
	"os"
	"sync/atomic"
	"testing"
	"time"
)

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

// loadStateCopy returns the state copy the commit word selects, without its tail count
// (for tests that run no writer meanwhile).
func (l *Log) loadStateCopy() state {
	return stateFromWords(l.states[copyIndex(atomic.LoadUint64(l.commit))])
}

// PatchFile overwrites len(b) bytes of the file at path at off (tests that damage a log).
func PatchFile(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
