package mmaplog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

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

func init() {
	childRoles["ir-writer"] = childInterestWriter
	childRoles["ir-consumer"] = childInterestConsumer
}

// childInterestWriter appends events 0..envCount-1 (payloads naming their ids) as fast as
// it can, under the stored retention policy.
func childInterestWriter() int {
	l, err := mmaplog.Open(os.Getenv(envDir), nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	for id := range uint64(envInt(envCount)) {
		if err := l.AppendWithID(id, irPayload(id)); err != nil {
			return childFail("append %d: %v", id, err)
		}
	}
	return 0
}

// childInterestConsumer follows cursor c<index> from its position to the last event,
// checking that every id comes, in order, with its bytes, committing each, and pausing
// now and then so that the writer runs ahead.
func childInterestConsumer() int {
	l, err := mmaplog.Open(os.Getenv(envDir), nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	c, err := l.Cursor(fmt.Sprintf("c%d", childIndex()))
	if err != nil {
		return childFail("cursor: %v", err)
	}
	n := uint64(envInt(envCount))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := c.Position()
	it := c.Follow(ctx)
	defer it.Close()
	for want < n && it.Next() {
		if it.ID() != want {
			return childFail("got event %d, want %d: an unconsumed event is gone", it.ID(), want)
		}
		if !bytes.Equal(it.Value(), irPayload(want)) {
			return childFail("event %d: wrong bytes", want)
		}
		want++
		if err := c.Commit(want); err != nil {
			return childFail("commit %d: %v", want, err)
		}
		if want%25 == 0 {
			time.Sleep(2 * time.Millisecond) // fall behind the writer
		}
	}
	if want < n {
		return childFail("stopped at %d of %d: %v", want, n, it.Err())
	}
	fmt.Printf("read=%d\n", want)
	return 0
}

// TestKeepUnconsumedAcrossProcesses: a writer process appends under MaxEvents 50 with
// interest retention while two consumer processes, slower than it, follow their cursors:
// each reads every event in order with its bytes (nothing they had not committed was
// removed), and retention still removed what both had consumed.
func TestKeepUnconsumedAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	l := durOpen(t, dir, &mmaplog.Options{SegmentSize: 16 << 10, Retention: mmaplog.Retention{MaxEvents: 50, KeepUnconsumed: true}})
	for _, name := range []string{"c0", "c1"} {
		if _, err := l.Cursor(name); err != nil {
			t.Fatal(err)
		}
	}
	const n = 1500 // 150 segments of 10 events
	cs := startChildren(t, "ir-consumer", 2, envDir+"="+dir, envCount+"="+strconv.Itoa(n))
	ws := startChildren(t, "ir-writer", 1, envDir+"="+dir, envCount+"="+strconv.Itoa(n))
	waitChildren(t, ws)
	waitChildren(t, cs)
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2 consumers read all %d events in order; retention removed %d events in %d segments, oldest now %d",
		n, st.RetentionRemovedEvents, st.RetentionRemovedSegments, st.OldestEventID)
	if st.RetentionRemovedEvents == 0 {
		t.Fatal("retention removed nothing: the test did not run it")
	}
}
