package mmaplog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// Interest retention (Retention.KeepUnconsumed): MaxEvents never removes what a cursor has
// not committed; MaxBytes still does, and the cursor left behind is told so.

// irPayload fills about a tenth of a 16 KiB segment, so a segment holds 10 events.
func irPayload(id uint64) []byte {
	p := fmt.Appendf(nil, "event %d|", id)
	return append(p, bytes.Repeat([]byte{'x'}, 1500-len(p))...)
}

func irAppend(t *testing.T, l *mmaplog.Log, n int) {
	t.Helper()
	for range n {
		if _, err := l.Append(irPayload(0)); err != nil {
			t.Fatal(err)
		}
	}
}

func irOldest(t *testing.T, l *mmaplog.Log) uint64 {
	t.Helper()
	o, err := l.OldestEventID()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestKeepUnconsumedHoldsEventsForACursor(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepUnconsumed=%v", keep), func(t *testing.T) {
			l := durOpen(t, t.TempDir(), &mmaplog.Options{SegmentSize: 16 << 10,
				Retention: mmaplog.Retention{MaxEvents: 25, KeepUnconsumed: keep}})
			c, err := l.Cursor("billing")
			if err != nil {
				t.Fatal(err)
			}
			irAppend(t, l, 100) // 10 segments; MaxEvents alone would keep ~25
			o := irOldest(t, l)
			t.Logf("cursor at %d, 100 events appended: oldest %d", c.Position(), o)
			if !keep {
				if o < 60 {
					t.Fatalf("without interest retention oldest is %d, want the log cut to about 25 events", o)
				}
				return
			}
			if o != 0 {
				t.Fatalf("oldest %d: retention removed events the cursor at 0 had not consumed", o)
			}
			if err := c.Commit(55); err != nil {
				t.Fatal(err)
			}
			irAppend(t, l, 10) // a turnover: retention runs again
			o = irOldest(t, l)
			t.Logf("cursor at 55, 10 more: oldest %d", o)
			if o == 0 || o > 55 {
				t.Fatalf("oldest %d after the cursor consumed [0, 55): want it raised, never past 55", o)
			}
			it := c.Follow(context.Background())
			if !it.Next() || it.ID() != 55 {
				t.Fatalf("Follow from the cursor: id %d, %v", it.ID(), it.Err())
			}
			it.Close()
		})
	}
}

func TestMaxBytesOverridesKeepUnconsumedAndTellsTheCursor(t *testing.T) {
	l := durOpen(t, t.TempDir(), &mmaplog.Options{SegmentSize: 16 << 10,
		Retention: mmaplog.Retention{MaxBytes: 4 * 16 << 10, MaxEvents: 25, KeepUnconsumed: true}})
	c, err := l.Cursor("slow")
	if err != nil {
		t.Fatal(err)
	}
	irAppend(t, l, 100)
	o := irOldest(t, l)
	t.Logf("MaxBytes of 4 segments, a cursor at 0, 100 events: oldest %d", o)
	if o == 0 {
		t.Fatal("MaxBytes was reached but nothing was removed")
	}
	it := c.Follow(context.Background())
	if it.Next() {
		t.Fatalf("Follow of a cursor left behind yielded %d", it.ID())
	}
	var be *mmaplog.CursorBehindError
	if err := it.Err(); !errors.Is(err, mmaplog.ErrCursorBehind) || !errors.As(err, &be) || be.Oldest != o || be.Position != 0 || be.Name != "slow" {
		t.Fatalf("Follow of a cursor left behind: %v, want a CursorBehindError with oldest %d", err, o)
	}
	t.Logf("%v", it.Err())
	if err := c.Commit(be.Oldest); err != nil { // move on, knowingly
		t.Fatal(err)
	}
	it = c.Follow(context.Background())
	if !it.Next() || it.ID() != o {
		t.Fatalf("Follow after Commit(oldest): id %d, %v", it.ID(), it.Err())
	}
	it.Close()
}

func TestKeepUnconsumedIsStored(t *testing.T) {
	dir := t.TempDir()
	l := durOpen(t, dir, &mmaplog.Options{SegmentSize: 16 << 10, Retention: mmaplog.Retention{MaxEvents: 25, KeepUnconsumed: true}})
	l.Close()
	r := durOpen(t, dir, nil)
	st, err := r.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Retention.KeepUnconsumed || st.Retention.MaxEvents != 25 {
		t.Fatalf("stored policy %+v, want MaxEvents 25 with KeepUnconsumed", st.Retention)
	}
}
