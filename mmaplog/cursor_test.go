package mmaplog_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

func appendN(t testing.TB, l *mmaplog.Log, n int) {
	t.Helper()
	for i := range n {
		if _, err := l.Append(fmt.Appendf(nil, "event-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCursorAPI(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if list, err := l.Cursors(); err != nil || len(list) != 0 {
		t.Fatalf("cursors of a new log: %v %v", list, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cursors")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Cursors created the table: %v", err)
	}
	appendN(t, l, 10)
	c, err := l.Cursor("orders")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "orders" || c.Position() != 0 {
		t.Fatalf("new cursor %q at %d, want orders at 0 (the oldest)", c.Name(), c.Position())
	}
	if err := c.Commit(5); err != nil {
		t.Fatal(err)
	}
	err = c.Commit(4)
	var be *mmaplog.CursorBackwardError
	if !errors.Is(err, mmaplog.ErrCursorBackward) || !errors.As(err, &be) || be.Committed != 5 || be.Got != 4 || c.Position() != 5 {
		t.Fatalf("commit backward: %v, position %d", err, c.Position())
	}
	if err := c.Commit(5); err != nil {
		t.Fatalf("same position: %v", err)
	}
	// Follow yields from the position and blocks at the tail.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	it := c.Follow(ctx)
	var got []mmaplog.EventID
	for it.Next() {
		got = append(got, it.ID())
		if it.ID() == 9 {
			go func() { time.Sleep(20 * time.Millisecond); l.Append([]byte("late")) }()
		}
		if it.ID() == 10 {
			cancel()
		}
	}
	it.Close()
	if fmt.Sprint(got) != "[5 6 7 8 9 10]" || !errors.Is(it.Err(), context.Canceled) {
		t.Fatalf("follow from 5: %v, %v", got, it.Err())
	}
	// A second handle shares the position.
	l2, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	c2, err := l2.Cursor("orders")
	if err != nil || c2.Position() != 5 {
		t.Fatalf("second handle: %v %d", err, c2.Position())
	}
	if err := c2.Commit(8); err != nil || c.Position() != 8 {
		t.Fatalf("commit via second handle: %v, first sees %d", err, c.Position())
	}
	if _, err := l.Cursor("billing"); err != nil {
		t.Fatal(err)
	}
	list, err := l.Cursors()
	want := []mmaplog.CursorInfo{{Name: "orders", Position: 8, Lag: 3}, {Name: "billing", Position: 0, Lag: 11}}
	if err != nil || fmt.Sprint(list) != fmt.Sprint(want) {
		t.Fatalf("cursors: %+v %v, want %+v", list, err, want)
	}
	if err := c.Commit(100); err != nil {
		t.Fatal(err)
	}
	if list, _ := l.Cursors(); list[0].Lag != 0 {
		t.Fatalf("lag of a cursor ahead: %+v", list[0])
	}
	for _, bad := range []string{"", "a b", strings.Repeat("n", 65), "x/y"} {
		if _, err := l.Cursor(bad); !errors.Is(err, mmaplog.ErrCursorName) {
			t.Fatalf("cursor %q: %v", bad, err)
		}
		if err := l.DeleteCursor(bad); !errors.Is(err, mmaplog.ErrCursorName) {
			t.Fatalf("delete %q: %v", bad, err)
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// Read-only handles read positions but neither create nor commit.
	ro, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ro.Cursor("orders")
	if err != nil || rc.Position() != 100 {
		t.Fatalf("read-only cursor: %v", err)
	}
	if err := rc.Commit(101); !errors.Is(err, mmaplog.ErrReadOnly) {
		t.Fatalf("read-only commit: %v", err)
	}
	if _, err := ro.Cursor("fresh"); !errors.Is(err, mmaplog.ErrReadOnly) {
		t.Fatalf("read-only create: %v", err)
	}
	if err := ro.DeleteCursor("orders"); !errors.Is(err, mmaplog.ErrReadOnly) {
		t.Fatalf("read-only delete: %v", err)
	}
	if list, err := ro.Cursors(); err != nil || len(list) != 2 {
		t.Fatalf("read-only list: %v %v", list, err)
	}
	ro.Close()
	if _, err := rc.Load(); !errors.Is(err, mmaplog.ErrClosed) {
		t.Fatalf("load after close: %v", err)
	}
	// Delete: open cursors see ErrNoCursor, the name can be created again.
	if err := l.DeleteCursor("orders"); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteCursor("orders"); !errors.Is(err, mmaplog.ErrNoCursor) {
		t.Fatalf("second delete: %v", err)
	}
	if err := c2.Commit(200); !errors.Is(err, mmaplog.ErrNoCursor) {
		t.Fatalf("commit of a deleted cursor: %v", err)
	}
	if _, err := c2.Load(); !errors.Is(err, mmaplog.ErrNoCursor) || c2.Position() != 5 { // the last position c2 itself read
		t.Fatalf("load of a deleted cursor: %v, position %d", err, c2.Position())
	}
	if c3, err := l.Cursor("orders"); err != nil || c3.Position() != 0 {
		t.Fatalf("recreated: %v", err)
	}
	l2.Close()
	if err := c2.Commit(300); !errors.Is(err, mmaplog.ErrClosed) {
		t.Fatalf("commit after close: %v", err)
	}
}

func TestCursorTableFullAndDamage(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		if _, err := l.Cursor(fmt.Sprintf("c%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Cursor("c256"); !errors.Is(err, mmaplog.ErrCursorTableFull) {
		t.Fatalf("257th cursor: %v", err)
	}
	if list, err := l.Cursors(); err != nil || len(list) != 256 {
		t.Fatalf("list of a full table: %d %v", len(list), err)
	}
	c, _ := l.Cursor("c000")
	if err := c.Commit(7); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Damage both copies of c000's position (entry 0 at 4096, positions at +16 and +32).
	path := filepath.Join(dir, "cursors")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[4096+16] ^= 1
	b[4096+32] ^= 1
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	l, err = mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = l.Cursor("c000")
	var ce *mmaplog.CorruptError
	if !errors.Is(err, mmaplog.ErrCorrupt) || !errors.As(err, &ce) || ce.Path != path || ce.Offset != 4096+8 {
		t.Fatalf("damaged cursor: %v", err)
	}
	if _, err := l.Cursors(); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("list with a damaged cursor: %v", err)
	}
	if c1, err := l.Cursor("c001"); err != nil || c1.Position() != 0 {
		t.Fatalf("intact cursor beside a damaged one: %v", err)
	}
}

// benchCursor opens a log in a new directory and the cursor "bench" on it.
func benchCursor(b *testing.B) *mmaplog.Cursor {
	l, err := mmaplog.Open(b.TempDir(), &mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	c, err := l.Cursor("bench")
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkCursorCommit: one Commit of a new position (target: <= 100 ns, no allocation,
// no system call).
func BenchmarkCursorCommit(b *testing.B) {
	c := benchCursor(b)
	pos := c.Position()
	b.ReportAllocs()
	for b.Loop() {
		pos++
		if err := c.Commit(pos); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCursorPosition: one lock-free read of the committed position.
func BenchmarkCursorPosition(b *testing.B) {
	c := benchCursor(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Position()
	}
}
