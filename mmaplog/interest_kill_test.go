package mmaplog_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// TestKeepUnconsumedCursorKill: the parent appends continuously under interest retention
// (MaxEvents 30, KeepUnconsumed, 16 KiB segments of about 10 events, so retention runs
// at every tenth append) while three consumer processes, each on its own cursor, follow
// it; one of them is SIGKILLed at a random moment, mostly between reading an event and
// committing it, again and again (20 times; RINGLOG_LONG=1: 200), and restarted on the
// same cursor. Checked against every line each consumer printed (cursorLedger, own):
//
//   - a consumer reads exactly its resume position, then every following id, each with
//     its bytes: no gap, so retention never removed an event its cursor had not
//     committed, and no ErrCursorBehind (a consumer that stops on one exits by itself and
//     fails the test);
//   - each position, read through the parent's handle, never moves backward, never falls
//     below a commit acknowledged before, never exceeds the highest id read + 1; a
//     restarted consumer resumes exactly there, at or above every commit acknowledged
//     before;
//   - the oldest event is never above the lowest cursor position, and the log stays
//     bounded by the slowest consumer: once a segment turnover has run after the
//     parent read the lowest position m with next id n, oldest >= min(m, n-30) minus one
//     segment;
//   - retention did remove events (its counter and the oldest id moved), so none of
//     this holds vacuously.
func TestKeepUnconsumedCursorKill(t *testing.T) {
	kills := 20
	if os.Getenv("RINGLOG_LONG") != "" {
		kills = 200
	}
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 2))
	const (
		segSize   = 16 << 10
		pad       = 1500
		perSeg    = segSize / pad // at least the events a segment holds
		maxEvents = 30
		lead      = 300 // the parent appends while the slowest cursor is less than this behind
	)
	dir := t.TempDir()
	l := durOpen(t, dir, &mmaplog.Options{SegmentSize: segSize,
		Retention: mmaplog.Retention{MaxEvents: maxEvents, KeepUnconsumed: true}})
	gs := make([]*cursorLedger, 3)
	for i := range gs {
		name := "k" + strconv.Itoa(i)
		c, err := l.Cursor(name)
		if err != nil {
			t.Fatal(err)
		}
		gs[i] = &cursorLedger{c: c, own: true, env: []string{cursorEnvName + "=" + name, cursorEnvPad + "=" + strconv.Itoa(pad)}}
	}
	for _, g := range gs {
		g.procs = []*consumerProc{g.start(t, dir)}
	}
	lowest := func() uint64 {
		t.Helper()
		low := ^uint64(0)
		for _, g := range gs {
			p, err := g.c.Load()
			if err != nil {
				t.Fatal(err)
			}
			low = min(low, p)
		}
		return low
	}
	var (
		next               uint64 // the next id the parent appends
		markNext, markLow  uint64 // next and the lowest position when the bound was last armed
		appendedSinceArmed uint64 // perSeg+1 appends cross a segment boundary: a turnover
		bounds             int    // bound checks made
		oldestSeen         uint64
		maxLive, lagThen   uint64 // the most events held, and the slowest cursor's lag then
		maxLag             uint64 // the slowest cursor's largest lag
	)
	step := func(when string) {
		t.Helper()
		for n, low := 0, lowest(); n < 16 && next < low+lead; n++ {
			if err := l.AppendWithID(next, cursorPayload(next, pad)); err != nil {
				t.Fatalf("append %d: %v", next, err)
			}
			next++
			appendedSinceArmed++
		}
		for _, g := range gs {
			g.drainLive(t)
			g.check(t, when)
		}
		oldest, err := l.OldestEventID()
		if err != nil {
			t.Fatal(err)
		}
		low := lowest() // read after oldest: retention had read a position <= low
		if oldest > low {
			t.Fatalf("%s: oldest event %d above the lowest cursor position %d: retention removed unconsumed events", when, oldest, low)
		}
		if oldest < oldestSeen {
			t.Fatalf("%s: oldest moved back from %d to %d", when, oldestSeen, oldest)
		}
		oldestSeen = oldest
		if appendedSinceArmed > perSeg {
			// A turnover ran after markLow was read: it removed every segment below the
			// one holding min(its lowest position, its next - maxEvents).
			floor := min(markLow, max(markNext, maxEvents)-maxEvents)
			if floor > perSeg+1 && oldest < floor-perSeg-1 {
				t.Fatalf("%s: oldest %d, next %d: retention kept more than one segment below min(lowest position %d, next %d - MaxEvents)",
					when, oldest, next, markLow, markNext)
			}
			bounds++
			markNext, markLow, appendedSinceArmed = next, low, 0
		}
		if next-oldest > maxLive {
			maxLive, lagThen = next-oldest, next-low
		}
		maxLag = max(maxLag, next-low)
	}
	for k := range kills {
		for deadline := time.Now().Add(time.Duration(30+rng.IntN(90)) * time.Millisecond); time.Now().Before(deadline); {
			step("while consuming")
			time.Sleep(time.Millisecond)
		}
		g := gs[rng.IntN(len(gs))]
		g.kill(t, g.procs[0])
		g.check(t, fmt.Sprintf("after kill %d", k))
		g.procs[0] = g.start(t, dir)
	}
	for _, g := range gs {
		g.kill(t, g.procs[0])
		g.check(t, "at the end")
	}
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	inWindow, reads := 0, 0
	for _, g := range gs {
		t.Logf("cursor %s: %d starts, %d reads, %d acknowledged commits, position %d", g.c.Name(), g.starts, g.reads, g.commits, g.lastSeen)
		if g.commits == 0 {
			t.Fatalf("cursor %s: no consumer committed anything", g.c.Name())
		}
		inWindow += g.killsInWindow
		reads += g.reads
	}
	t.Logf("%d kills (%d between a read and its commit's line), %d events appended, %d read; retention removed %d events in %d segments, oldest %d; most events held %d (slowest cursor %d behind then), largest lag %d; %d bound checks",
		kills+len(gs), inWindow, next, reads, st.RetentionRemovedEvents, st.RetentionRemovedSegments, st.OldestEventID, maxLive, lagThen, maxLag, bounds)
	if st.RetentionRemovedEvents == 0 || st.OldestEventID == 0 {
		t.Fatalf("retention removed nothing (oldest %d): the test did not exercise it", st.OldestEventID)
	}
	if bounds == 0 {
		t.Fatal("the bound was never checked")
	}
}
