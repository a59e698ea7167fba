package mmaplog_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// dirtyKiB returns the dirty KiB (Shared_Dirty + Private_Dirty in /proc/self/smaps) of
// this process's mappings of path, and how many mappings it found.
func dirtyKiB(t *testing.T, path string) (kib, maps int) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no smaps: %v", err)
	}
	defer f.Close()
	in := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = fields[len(fields)-1] == path
			if in {
				maps++
			}
			continue
		}
		if in && len(fields) == 3 && (fields[0] == "Shared_Dirty:" || fields[0] == "Private_Dirty:") {
			v, _ := strconv.Atoi(fields[1])
			kib += v
		}
	}
	return kib, maps
}

// TestSyncFlushesCursors: Log.Sync writes the cursor table back (msync): the page a
// Commit dirtied is clean once Sync returns, so the commit survives a power loss.
func TestSyncFlushesCursors(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := l.Cursor("durable")
	if err != nil {
		t.Fatal(err)
	}
	path, _ := filepath.EvalSymlinks(filepath.Join(dir, "cursors"))
	if err := c.Commit(10); err != nil {
		t.Fatal(err)
	}
	before, maps := dirtyKiB(t, path)
	if maps != 1 || before == 0 {
		t.Fatalf("after a commit: %d dirty KiB in %d mappings of %s, want a dirty page in one", before, maps, path)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	after, _ := dirtyKiB(t, path)
	if after != 0 {
		t.Fatalf("after Sync: %d dirty KiB of the cursor table", after)
	}
	t.Logf("cursor table dirty: %d KiB after a commit, %d KiB after Sync", before, after)
}
