package mmaplog_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// Flushing ahead of the tail (docs/FORMAT.md section 5.6): a durable flush that reaches
// blocks not yet written writes them up to the next flushAheadChunk boundary once, so the
// flushes between convert no unwritten extent.

// faFirstUnwritten returns where the first block not written on disk lies in the active
// segment of l, and the segment's path.
func faFirstUnwritten(t *testing.T, l *mmaplog.Log, dir string, size uint64) (uint64, string) {
	t.Helper()
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fmt.Sprintf("seg-%016x", st.ActiveSegment))
	u, err := mmaplog.FirstUnwritten(path, 0, size)
	if err != nil {
		t.Skipf("FIEMAP is not supported here: %v", err)
	}
	return u, path
}

func TestDurableFlushWritesBlocksAhead(t *testing.T) {
	const size = 8 << 20
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: size})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before, _ := faFirstUnwritten(t, l, dir, size)
	if before >= mmaplog.FlushAheadChunk {
		t.Skipf("this file system keeps no unwritten extents in a preallocated file (first unwritten byte at %d)", before)
	}
	// Five records reach the second block: their flush writes the first chunk.
	payload := bytes.Repeat([]byte("d"), 1000)
	for id := uint64(0); id < 5; id++ {
		if err := l.AppendWithID(id, payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	after, _ := faFirstUnwritten(t, l, dir, size)
	t.Logf("fresh segment: first unwritten byte at %d before the first Sync, %d after it", before, after)
	if after < mmaplog.FlushAheadChunk {
		t.Fatalf("the first Sync left the blocks from %d unwritten, want the first %d bytes written", after, mmaplog.FlushAheadChunk)
	}
	// About 2.5 MiB of durable appends: the flushes cross two more chunk boundaries, and
	// only the flush that crosses one writes ahead.
	const pairs = 2500
	for id := uint64(5); id < pairs; id++ {
		if err := l.AppendWithID(id, payload); err != nil {
			t.Fatal(err)
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	end, _ := faFirstUnwritten(t, l, dir, size)
	ahead := mmaplog.FlushesAhead(l)
	t.Logf("%d AppendWithID+Sync pairs of 1000 B: %d flushes wrote ahead; first unwritten byte at %d", pairs, ahead, end)
	if end < 3*mmaplog.FlushAheadChunk {
		t.Fatalf("first unwritten byte at %d after %d KiB of durable appends, want at least %d", end, pairs*1000>>10, 3*mmaplog.FlushAheadChunk)
	}
	if ahead < 3 || ahead > 4 {
		t.Fatalf("%d flushes wrote ahead over 2.5 MiB of records, want one per 1 MiB chunk (3)", ahead)
	}
	for id := uint64(0); id < pairs; id += 499 {
		if v, err := l.Get(id); err != nil || !bytes.Equal(v, payload) {
			t.Fatalf("Get(%d) = %d bytes, %v", id, len(v), err)
		}
	}
}

// TestWrittenBlocksAreNotFlushedAgain: a handle asks the file system which blocks are
// written and never writes those ahead again: a second handle appending into a segment
// the first one wrote ahead (as into a recycled segment, written throughout in its
// earlier use) flushes only its records.
func TestWrittenBlocksAreNotFlushedAgain(t *testing.T) {
	const size = 8 << 20
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("w"), 1000)
	durable := func(l *mmaplog.Log, from, to uint64) {
		t.Helper()
		for id := from; id < to; id++ {
			if err := l.AppendWithID(id, payload); err != nil {
				t.Fatal(err)
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	first, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: size})
	if err != nil {
		t.Fatal(err)
	}
	if before, _ := faFirstUnwritten(t, first, dir, size); before >= mmaplog.FlushAheadChunk {
		t.Skip("this file system keeps no unwritten extents in a preallocated file")
	}
	durable(first, 0, 10)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: size})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	durable(second, 10, 500) // about 500 KiB: within the first chunk
	if n := mmaplog.FlushesAhead(second); n != 0 {
		t.Fatalf("the second handle wrote ahead %d times within blocks the file system reports written", n)
	}
	durable(second, 500, 1200) // past the first chunk
	u, _ := faFirstUnwritten(t, second, dir, size)
	t.Logf("second handle: %d flushes wrote ahead, first unwritten byte at %d", mmaplog.FlushesAhead(second), u)
	if n := mmaplog.FlushesAhead(second); n != 1 || u < 2*mmaplog.FlushAheadChunk {
		t.Fatalf("past the first chunk: %d flushes wrote ahead, first unwritten byte at %d; want 1 and at least %d", n, u, 2*mmaplog.FlushAheadChunk)
	}
}
