package mmaplog_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// An injected ENOSPC at segment preallocation fails the append with an error wrapping
// syscall.ENOSPC, changes nothing, and appends resume once "space" is back.
func TestInjectedENOSPCAtPreallocation(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 16 << 10, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var full atomic.Bool
	mmaplog.SetCreateFileHook(func(path string) error {
		if full.Load() && strings.Contains(path, "seg-") {
			return &fs.PathError{Op: "fallocate", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	})
	defer mmaplog.SetCreateFileHook(nil)
	full.Store(true)
	var acked int
	for ; ; acked++ {
		_, err := l.Append([]byte(fmt.Sprintf("%04d-%s", acked, strings.Repeat("z", 200))))
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("append %d: %v, want ENOSPC", acked, err)
		}
		break
	}
	next, _ := l.NextEventID()
	if next != uint64(acked) {
		t.Fatalf("NextEventID %d after %d acknowledged appends", next, acked)
	}
	for i := 0; i < acked; i++ {
		b, err := l.Get(uint64(i))
		if err != nil || !strings.HasPrefix(string(b), fmt.Sprintf("%04d-", i)) {
			t.Fatalf("event %d after ENOSPC: %q %v", i, b, err)
		}
	}
	full.Store(false)
	if _, err := l.Append([]byte("after")); err != nil {
		t.Fatalf("append after space came back: %v", err)
	}
	t.Logf("%d appends before the injected ENOSPC; appends resumed after", acked)
}
