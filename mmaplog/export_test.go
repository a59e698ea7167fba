package mmaplog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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

// SetHoldIdle sets how long an idle HoldLock handle keeps the lock and returns the
// previous value. Tests that need a lock held without idle gaps lengthen it.
func SetHoldIdle(d time.Duration) time.Duration {
	return time.Duration(holdIdle.Swap(int64(d)))
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

// SimulateReboot zeroes the boot id in the meta file of the log in dir, as if the machine
// had restarted since the last Open: the next Open validates every record after the
// recovery point (docs/FORMAT.md section 6).
func SimulateReboot(t testing.TB, dir string) {
	t.Helper()
	PatchFile(t, filepath.Join(dir, metaFileName), metaBootIDOff, make([]byte, 16))
}

// CrashImage copies the files of the log in dir (open or not) into a new directory, as a
// power loss that lost no page would leave them, marks the copy as seen before a reboot
// (SimulateReboot) and returns its path.
func CrashImage(t testing.TB, dir string) string {
	t.Helper()
	img := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || isTempName(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // unlinked since the listing (a retired index, a removed segment): gone
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(img, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	SimulateReboot(t, img)
	return img
}

// SetMsyncHook installs h, called after every successful msync of a log file with the
// file's name and the byte range flushed (nil removes it).
func SetMsyncHook(h func(name string, off, n int64)) {
	if h == nil {
		msyncHook.Store(nil)
		return
	}
	msyncHook.Store(&h)
}

// SetAppendAbortHook makes the batch appends of the test fail, uncommitted, once h says
// so (after each record written, with the count so far); nil removes it.
func SetAppendAbortHook(h func(written int) bool) { appendAbortHook = h }

// Prefault populates the page tables of a writable mapping as the log does for a new
// segment (benchmark baselines that copy into prefaulted memory).
func Prefault(b []byte) { prefault(b) }
