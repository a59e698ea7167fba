package mmaplog_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// Retention (docs/FORMAT.md section 5.7): whole sealed segments leave the front of the
// log at segment turnover, as a prefix delete, under the policy stored in the log.

const rtSeg = mmaplog.MinSegmentSize

// rtEvent is the event of id: mpPayload of a fixed writer with seq id, 12..511 bytes. It
// encodes the id, so a reader can tell any other bytes.
func rtEvent(id uint64) []byte { return mpPayload(7000, int(id)) }

// rtCheckID checks that b is exactly the event of id.
func rtCheckID(b []byte, id uint64) error {
	w, seq, err := mpDecode(b)
	if err != nil {
		return err
	}
	if w != 7000 || uint64(seq) != id {
		return errors.New("payload of another event")
	}
	return nil
}

func rtOpen(t *testing.T, dir string, r mmaplog.Retention) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: rtSeg, IndexCapacity: 1024, Retention: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// rtAppendTurnovers appends events with their own ids until the log has turned over to a
// new segment n times, calling each after every append.
func rtAppendTurnovers(t *testing.T, l *mmaplog.Log, n int, each func(st mmaplog.Stats)) {
	t.Helper()
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	active, turns := st.ActiveSegment, 0
	for turns < n {
		id, err := l.NextEventID()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.AppendWithID(id, rtEvent(id)); err != nil {
			t.Fatal(err)
		}
		st, err := l.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.ActiveSegment != active {
			active, turns = st.ActiveSegment, turns+1
		}
		if each != nil {
			each(st)
		}
	}
}

// rtCheckLive checks that exactly [oldest, next) is readable with its own bytes, that
// the ids below are ErrNotFound, and that an iterator from 0 starts at oldest.
func rtCheckLive(t *testing.T, l *mmaplog.Log) mmaplog.Stats {
	t.Helper()
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for id := uint64(0); id < st.NextEventID; id++ {
		b, err := l.Get(id)
		if id < st.OldestEventID {
			if !errors.Is(err, mmaplog.ErrNotFound) {
				t.Fatalf("Get(%d) below oldest %d: %d bytes, %v", id, st.OldestEventID, len(b), err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Get(%d): %v", id, err)
		}
		if err := rtCheckID(b, id); err != nil {
			t.Fatalf("Get(%d): %v", id, err)
		}
	}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	want := st.OldestEventID
	for id, v := range it.All() {
		if id != want {
			t.Fatalf("iteration: id %d, want %d", id, want)
		}
		if err := rtCheckID(v, id); err != nil {
			t.Fatalf("iteration: %d: %v", id, err)
		}
		want++
	}
	if err := it.Err(); err != nil || want != st.NextEventID {
		t.Fatalf("iteration ended at %d (next %d): %v", want, st.NextEventID, err)
	}
	return st
}

// segFiles counts the segment files in dir, the recycling pool's included (temporary ones
// left out).
func segFiles(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*"))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := filepath.Glob(filepath.Join(dir, "free-*")) // the recycling pool's files take space too
	if err != nil {
		t.Fatal(err)
	}
	m = append(m, pool...)
	n := 0
	for _, p := range m {
		if !strings.Contains(filepath.Base(p), ".tmp-") {
			n++
		}
	}
	return n
}

func TestRetentionMaxBytes(t *testing.T) {
	const keep = 4
	dir := t.TempDir()
	l := rtOpen(t, dir, mmaplog.Retention{MaxBytes: keep * rtSeg})
	// An iterator that retention overtakes skips the removed events, as after DeleteRange.
	rtAppendTurnovers(t, l, 2, nil)
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() || it.ID() != 0 || rtCheckID(it.Value(), 0) != nil {
		t.Fatalf("first event: %d, %v", it.ID(), it.Err())
	}
	maxSegs, maxFiles := uint64(0), 0
	rtAppendTurnovers(t, l, 30, func(st mmaplog.Stats) {
		maxSegs = max(maxSegs, st.SegmentCount)
		maxFiles = max(maxFiles, segFiles(t, dir))
	})
	st := rtCheckLive(t, l)
	t.Logf("30 turnovers, MaxBytes %d segments: at most %d segments in the log, %d segment files; oldest %d of next %d; removed %d segments, %d events, %d bytes",
		keep, maxSegs, maxFiles, st.OldestEventID, st.NextEventID, st.RetentionRemovedSegments, st.RetentionRemovedEvents, st.RetentionReclaimedBytes)
	if maxSegs > keep {
		t.Fatalf("the log held %d segments, MaxBytes allows %d: retention not enforced", maxSegs, keep)
	}
	if maxFiles > keep+2 {
		t.Fatalf("%d segment files, MaxBytes allows %d + the prepared one", maxFiles, keep)
	}
	if st.SegmentCount < keep-1 || st.OldestEventID == 0 {
		t.Fatalf("stats %+v: retention removed too much or nothing", st)
	}
	if st.Retention != (mmaplog.Retention{MaxBytes: keep * rtSeg}) {
		t.Fatalf("Stats.Retention %+v", st.Retention)
	}
	if st.RetentionRemovedEvents != st.OldestEventID || st.RetentionRemovedSegments != st.ActiveSegment-st.SegmentCount+1 ||
		st.RetentionReclaimedBytes != st.RetentionRemovedSegments*rtSeg {
		t.Fatalf("retention counters %+v disagree with the log", st)
	}
	for it.Next() {
		if it.ID() < st.OldestEventID {
			t.Fatalf("iterator returned %d, removed by retention (oldest %d)", it.ID(), st.OldestEventID)
		}
		if err := rtCheckID(it.Value(), it.ID()); err != nil {
			t.Fatalf("iterator: %d: %v", it.ID(), err)
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}

	rtCheckCrashImage(t, dir, st)
}

// rtCheckCrashImage checks that a power-loss image of the log in dir, whose Stats were
// st, opens, checks clean and recovers the same live range (the end may be shorter) and
// policy, every event with its own bytes.
func rtCheckCrashImage(t *testing.T, dir string, st mmaplog.Stats) {
	t.Helper()
	img := mmaplog.CrashImage(t, dir)
	r, err := mmaplog.Open(img, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := r.Check()
	if err != nil || !rep.OK() {
		t.Fatalf("check of the power-loss image: %v %+v", err, rep)
	}
	rst := rtCheckLive(t, r)
	if rst.OldestEventID != st.OldestEventID || rst.NextEventID > st.NextEventID || rst.Retention != st.Retention {
		t.Fatalf("power-loss image: %+v, before %+v", rst, st)
	}
}

func TestRetentionMaxEvents(t *testing.T) {
	const limit = 400
	dir := t.TempDir()
	l := rtOpen(t, dir, mmaplog.Retention{MaxEvents: limit})
	var perSeg, lastActive, lastNext, maxLive uint64
	rtAppendTurnovers(t, l, 25, func(st mmaplog.Stats) {
		if st.ActiveSegment != lastActive {
			perSeg = max(perSeg, st.NextEventID-lastNext)
			lastActive, lastNext = st.ActiveSegment, st.NextEventID
		}
		maxLive = max(maxLive, st.EventCount)
	})
	st := rtCheckLive(t, l)
	t.Logf("MaxEvents %d: at most %d live events (segments hold up to %d); now %d live, removed %d in %d segments",
		limit, maxLive, perSeg, st.EventCount, st.RetentionRemovedEvents, st.RetentionRemovedSegments)
	if maxLive > limit+perSeg+1 {
		t.Fatalf("%d live events, MaxEvents %d + one segment (%d): retention not enforced", maxLive, limit, perSeg)
	}
	if st.EventCount+perSeg+1 < limit || st.RetentionRemovedEvents != st.OldestEventID {
		t.Fatalf("stats %+v: retention removed too much", st)
	}
}

func TestRetentionMaxAge(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	defer mmaplog.SetRetentionClock(now.Load)()
	dir := t.TempDir()
	l := rtOpen(t, dir, mmaplog.Retention{MaxAge: 5 * time.Second})
	// One second per segment: a segment sealed more than 5 s ago goes at the next turnover.
	var last uint64
	rtAppendTurnovers(t, l, 20, func(st mmaplog.Stats) {
		if st.ActiveSegment != last {
			last = st.ActiveSegment
			now.Add(int64(time.Second))
		}
	})
	st := rtCheckLive(t, l)
	t.Logf("MaxAge 5 s, a segment a second: %d segments kept, removed %d", st.SegmentCount, st.RetentionRemovedSegments)
	if st.SegmentCount > 7 || st.SegmentCount < 5 || st.RetentionRemovedSegments == 0 {
		t.Fatalf("stats %+v: want the segments of the last 5-6 seconds", st)
	}
	// The seal time is in each sealed segment's header.
	hdr, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("seg-%016x", st.ActiveSegment-1)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mmaplog.SegmentSealTime(hdr), now.Load()-int64(time.Second); got != want {
		t.Fatalf("seal time of segment %d: %d, want %d", st.ActiveSegment-1, got, want)
	}
	// An hour later, a Rotate removes every sealed segment but the newest event's.
	now.Add(int64(time.Hour))
	if _, err := l.Rotate(); err != nil {
		t.Fatal(err)
	}
	st = rtCheckLive(t, l)
	if st.SegmentCount != 2 || st.EventCount == 0 {
		t.Fatalf("after an hour and a Rotate: %+v, want the newest event's segment and the active one", st)
	}
}

// TestRetentionStoredPolicy: the policy is the log's, not the handle's. A handle opened
// without one enforces the stored one; an explicit one replaces it for every handle; a
// read-only handle sees it and may not set one; SetRetention with the zero value stops it.
func TestRetentionStoredPolicy(t *testing.T) {
	dir := t.TempDir()
	a := rtOpen(t, dir, mmaplog.Retention{MaxEvents: 300})
	b := rtOpen(t, dir, mmaplog.Retention{})
	ro, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	for name, l := range map[string]*mmaplog.Log{"second": b, "read-only": ro} {
		st, err := l.Stats()
		if err != nil || st.Retention != (mmaplog.Retention{MaxEvents: 300}) {
			t.Fatalf("%s handle: Retention %+v, %v", name, st.Retention, err)
		}
	}
	// The second handle, opened without a policy, enforces the stored one.
	maxLive := uint64(0)
	rtAppendTurnovers(t, b, 15, func(st mmaplog.Stats) { maxLive = max(maxLive, st.EventCount) })
	if maxLive > 300+100 {
		t.Fatalf("handle without a policy kept %d events, stored MaxEvents 300", maxLive)
	}
	// A third opener's explicit policy replaces the stored one, for a as well.
	c := rtOpen(t, dir, mmaplog.Retention{MaxEvents: 900})
	_ = c
	maxLive = 0
	rtAppendTurnovers(t, a, 15, func(st mmaplog.Stats) { maxLive = max(maxLive, st.EventCount) })
	st, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the third opener: policy %+v, up to %d live events", st.Retention, maxLive)
	if st.Retention != (mmaplog.Retention{MaxEvents: 900}) || maxLive < 600 || maxLive > 900+100 {
		t.Fatalf("policy %+v, up to %d live events: the stored MaxEvents 900 is not the one in force", st.Retention, maxLive)
	}
	if _, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true, Retention: mmaplog.Retention{MaxEvents: 5}}); !errors.Is(err, mmaplog.ErrInvalidOptions) {
		t.Fatalf("read-only open with a policy: %v, want ErrInvalidOptions", err)
	}
	// The zero policy through SetRetention: nothing is removed any more.
	if err := a.SetRetention(mmaplog.Retention{}); err != nil {
		t.Fatal(err)
	}
	before, _ := a.Stats()
	rtAppendTurnovers(t, b, 10, nil)
	after, _ := a.Stats()
	if after.OldestEventID != before.OldestEventID || after.Retention != (mmaplog.Retention{}) || after.RetentionRemovedEvents != before.RetentionRemovedEvents {
		t.Fatalf("after SetRetention(zero): %+v, before %+v", after, before)
	}
	// SetRetention enforces at once.
	if err := b.SetRetention(mmaplog.Retention{MaxEvents: 100}); err != nil {
		t.Fatal(err)
	}
	st = rtCheckLive(t, ro)
	if st.EventCount > 100+100 || st.RetentionRemovedEvents <= after.RetentionRemovedEvents {
		t.Fatalf("after SetRetention(MaxEvents 100): %+v", st)
	}
}

// TestRetentionBadOptions: an invalid policy is ErrInvalidOptions and changes nothing:
// no log is created, and an existing log's stored policy stays.
func TestRetentionBadOptions(t *testing.T) {
	bad := []mmaplog.Retention{
		{MaxAge: -time.Second},
		{MaxBytes: rtSeg},
		{MaxBytes: 2*rtSeg - 1, MaxEvents: 10},
	}
	for _, r := range bad {
		dir := filepath.Join(t.TempDir(), "log")
		if _, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: rtSeg, Retention: r}); !errors.Is(err, mmaplog.ErrInvalidOptions) {
			t.Fatalf("new log with %+v: %v, want ErrInvalidOptions", r, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "meta")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("new log with %+v: meta exists (%v)", r, err)
		}
	}
	dir := t.TempDir()
	good := mmaplog.Retention{MaxBytes: 3 * rtSeg}
	l := rtOpen(t, dir, good)
	meta := func() []byte {
		b, err := os.ReadFile(filepath.Join(dir, "meta"))
		if err != nil {
			t.Fatal(err)
		}
		return b[mmaplog.MetaRetentionOff:mmaplog.MetaRetentionEnd]
	}
	rec := meta()
	if bytes.Equal(rec, make([]byte, len(rec))) {
		t.Fatal("no retention record in meta after an Open with a policy")
	}
	for _, r := range bad {
		if _, err := mmaplog.Open(dir, &mmaplog.Options{Retention: r}); !errors.Is(err, mmaplog.ErrInvalidOptions) {
			t.Fatalf("existing log with %+v: %v, want ErrInvalidOptions", r, err)
		}
		if err := l.SetRetention(r); !errors.Is(err, mmaplog.ErrInvalidOptions) {
			t.Fatalf("SetRetention(%+v): %v, want ErrInvalidOptions", r, err)
		}
		if !bytes.Equal(meta(), rec) {
			t.Fatalf("rejected %+v changed the retention record", r)
		}
	}
	if st, err := l.Stats(); err != nil || st.Retention != good {
		t.Fatalf("policy %+v after rejected ones, want %+v (%v)", st.Retention, good, err)
	}
	// A damaged record: Check reports it, Stats shows no policy, nothing is removed.
	mmaplog.PatchFile(t, filepath.Join(dir, "meta"), mmaplog.MetaRetentionOff+8, []byte{0xff})
	rep, err := l.Check()
	if err != nil || rep.OK() {
		t.Fatalf("check of a damaged retention record: %v %+v", err, rep)
	}
	if st, err := l.Stats(); err != nil || !st.Retention.IsZero() {
		t.Fatalf("Stats with a damaged record: %+v %v", st.Retention, err)
	}
}

// TestRetentionUnknownSealTimeNeverExpires: a segment whose seal time is unknown (its CRC
// does not match: a seal that never reached the disk whole) is never removed by MaxAge.
func TestRetentionUnknownSealTimeNeverExpires(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	defer mmaplog.SetRetentionClock(now.Load)()
	dir := t.TempDir()
	l := rtOpen(t, dir, mmaplog.Retention{MaxAge: time.Minute})
	rtAppendTurnovers(t, l, 4, nil)
	before, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for seq := before.ActiveSegment - before.SegmentCount + 1; seq < before.ActiveSegment; seq++ {
		mmaplog.PatchFile(t, filepath.Join(dir, fmt.Sprintf("seg-%016x", seq)), 52, []byte{0xde, 0xad, 0xbe, 0xef})
	}
	now.Add(int64(time.Hour))
	if _, err := l.Rotate(); err != nil {
		t.Fatal(err)
	}
	after := rtCheckLive(t, l)
	if after.OldestEventID != 0 || after.RetentionRemovedSegments != 0 {
		t.Fatalf("segments of unknown seal time removed: %+v", after)
	}
	// With the seal times intact the same step removes them (the test above can fail).
	l2 := rtOpen(t, t.TempDir(), mmaplog.Retention{MaxAge: time.Minute})
	rtAppendTurnovers(t, l2, 4, nil)
	now.Add(int64(time.Hour))
	if _, err := l2.Rotate(); err != nil {
		t.Fatal(err)
	}
	if st := rtCheckLive(t, l2); st.RetentionRemovedSegments == 0 {
		t.Fatalf("expired segments kept: %+v", st)
	}
}

// TestRetentionHoldLock: a HoldLock handle, whose appends take the fast path inside a
// segment, enforces retention at every turnover (the turnover leaves the fast path).
func TestRetentionHoldLock(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: rtSeg, HoldLock: true, Retention: mmaplog.Retention{MaxBytes: 3 * rtSeg}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	maxSegs := uint64(0)
	rtAppendTurnovers(t, l, 20, func(st mmaplog.Stats) { maxSegs = max(maxSegs, st.SegmentCount) })
	st := rtCheckLive(t, l)
	t.Logf("HoldLock, MaxBytes 3 segments, 20 turnovers: at most %d segments, removed %d", maxSegs, st.RetentionRemovedSegments)
	if maxSegs > 3 || st.RetentionRemovedSegments < 17 {
		t.Fatalf("HoldLock handle: %d segments at most, stats %+v", maxSegs, st)
	}
}
