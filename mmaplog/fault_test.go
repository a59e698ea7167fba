package mmaplog_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// A segment truncated underneath a mapping (by another process) makes reads and appends
// fail with ErrCorrupt instead of killing the process with SIGBUS.
func TestTruncatedMappedSegmentIsAnError(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 100; i++ {
		if _, err := l.Append(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Get(99); err != nil { // maps the segment
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "seg-0000000000000000"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Get(99); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("Get after truncation: %v, want ErrCorrupt", err)
	} else {
		t.Logf("Get: %v", err)
	}
	if err := l.View(5, func([]byte) error { return nil }); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("View after truncation: %v", err)
	}
	it, _ := l.IterRange(0, mmaplog.Latest)
	for it.Next() {
		t.Fatal("iterator yielded an event from a truncated segment")
	}
	if !errors.Is(it.Err(), mmaplog.ErrCorrupt) {
		t.Fatalf("iterator error %v", it.Err())
	}
	next, _ := l.NextEventID()
	if _, err := l.Append(make([]byte, 100)); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("Append into a truncated segment: %v", err)
	}
	if n, _ := l.NextEventID(); n != next {
		t.Fatalf("a failed append moved NextEventID %d -> %d", next, n)
	}
}
