package mmaplog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/internal/modelcheck"
	"github.com/ringlog/ringlog/mmaplog"
)

// The model test runs thousands of random operations against a log with small segments and
// against an in-memory model of the contract, comparing every result, every error and the
// log's counters after every operation. Cursors and retention policies are part of it
// (internal/modelcheck holds their model and the retention constraints, shared with the
// fuzz targets).

const (
	modelSegSize  = 16 << 10
	modelMaxEvent = 3000
)

var modelOpts = mmaplog.Options{SegmentSize: modelSegSize, IndexCapacity: 1024}

// model is the contract of mmaplog.Log in memory.
type model struct {
	ev     map[uint64][]byte // live events
	next   uint64            // NextEventID
	oldest uint64            // smallest live id (valid when ev is not empty)
	newest uint64            // largest live id (valid when ev is not empty)
	// gaps are ids r such that a segment without live records may lie between the
	// records of r-1 and r (a Rotate, or a suffix delete followed by appends). Only used to
	// bound the number of segment files.
	gaps []uint64
}

func newModel() *model { return &model{ev: map[uint64][]byte{}} }

func (m *model) empty() bool { return len(m.ev) == 0 }

// lowID is the smallest id worth probing: oldest, or next on an empty log.
func (m *model) lowID() uint64 {
	if m.empty() {
		return m.next
	}
	return m.oldest
}

// checkAppend applies the id rule: nil when first is acceptable, else the expected IDError.
func (m *model) checkAppend(first uint64) *mmaplog.IDError {
	if m.empty() {
		if first < m.next {
			return &mmaplog.IDError{Expected: m.next, Got: first, Empty: true}
		}
		return nil
	}
	if first != m.next {
		return &mmaplog.IDError{Expected: m.next, Got: first}
	}
	return nil
}

func (m *model) append(first uint64, events [][]byte) {
	if m.empty() {
		m.oldest = first
		m.gaps = m.gaps[:0]
	}
	for i, e := range events {
		m.ev[first+uint64(i)] = e
	}
	m.next = first + uint64(len(events))
	m.newest = m.next - 1
}

// liveIDs returns the live ids in [s, e) in order.
func (m *model) liveIDs(s, e uint64) []uint64 {
	if m.empty() {
		return nil
	}
	s, e = max(s, m.oldest), min(e, m.newest+1)
	var ids []uint64
	for id := s; id < e; id++ {
		if _, ok := m.ev[id]; ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// deleteRange is DeleteRange as the contract defines it.
func (m *model) deleteRange(start, end uint64) (int, error) {
	if start > end {
		return 0, mmaplog.ErrInvalidRange
	}
	if m.empty() || end < m.oldest || start > m.newest {
		return 0, nil
	}
	s, e := max(start, m.oldest), min(end, m.newest)
	ids := m.liveIDs(s, e+1)
	if len(ids) == 0 {
		return 0, nil
	}
	// Neighbours of the range (for the gap bookkeeping of interior deletes).
	a, b := s, e
	for a > m.oldest {
		a--
		if _, ok := m.ev[a]; ok {
			break
		}
	}
	for b < m.newest {
		b++
		if _, ok := m.ev[b]; ok {
			break
		}
	}
	for _, id := range ids {
		delete(m.ev, id)
	}
	switch {
	case e == m.newest: // suffix (or the whole log)
		m.next = s
		if m.empty() {
			m.oldest = s
			m.gaps = m.gaps[:0]
			break
		}
		n := s - 1
		for {
			if _, ok := m.ev[n]; ok {
				break
			}
			n--
		}
		m.newest = n
		m.gaps = slices.DeleteFunc(m.gaps, func(r uint64) bool { return r > s })
		m.gaps = append(m.gaps, s)
	case s == m.oldest: // prefix
		o := e + 1
		for {
			if _, ok := m.ev[o]; ok {
				break
			}
			o++
		}
		m.oldest = o
		m.gaps = slices.DeleteFunc(m.gaps, func(r uint64) bool { return r <= o })
	default: // interior: segments strictly between the neighbours' segments are unlinked
		m.gaps = slices.DeleteFunc(m.gaps, func(r uint64) bool { return a < r && r <= b })
	}
	return len(ids), nil
}

func recordSize(n int) int { return 16 + (n+7)&^7 }

// maxSegmentFiles bounds the number of segment files the log may keep for the model's
// live events: every run of consecutive live ids fills segments densely (a segment that is
// not the run's last holds at least segSize - header - largest record of it), plus the
// segments a gap may leave in the span, the active segment and prepared ones.
func (m *model) maxSegmentFiles() int {
	per := modelSegSize - 64 - recordSize(modelMaxEvent)
	bound := 4
	if m.empty() {
		return bound
	}
	run := -1
	for id := m.oldest; id <= m.newest; id++ {
		e, ok := m.ev[id]
		switch {
		case ok && run < 0:
			run = recordSize(len(e))
		case ok:
			run += recordSize(len(e))
		case run >= 0:
			bound += run/per + 2
			run = -1
		}
	}
	bound += run/per + 2
	for _, r := range m.gaps {
		if m.oldest < r && r <= m.newest {
			bound++
		}
	}
	return bound
}

// modelPayload is the deterministic content of an event: a function of its id, the nonce
// of the append that wrote it, and its size.
func modelPayload(id, nonce uint64, size int) []byte {
	b := make([]byte, size+8)
	x := id*0x9E3779B97F4A7C15 ^ (nonce+1)*0xBF58476D1CE4E5B9
	for i := 0; i < size; i += 8 {
		x = splitmix64(x)
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	return b[:size:size]
}

func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// modelRun is one run of the randomized test.
type modelRun struct {
	t      *testing.T
	rng    *rand.Rand
	dir    string
	l      *mmaplog.Log
	obs    *mmaplog.Log // a second handle on the directory that only reads
	m      *model
	nonce  uint64
	op     int
	what   string
	counts map[string]int
	// maxFiles and maxLive are the most segment files and live events seen.
	maxFiles, maxLive int
	cur               *modelcheck.Cursors
	held              [4]*modelcheck.Held // cursors kept across operations (of r.l)
	ret               modelcheck.Retention
	retRemoved        int    // events retention removed
	recycled          uint64 // segment files made from the recycling pool by closed handles
}

func (r *modelRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("op %d (%s): %s", r.op, r.what, fmt.Sprintf(format, args...))
}

func (r *modelRun) size() int {
	switch r.rng.IntN(10) {
	case 0:
		return 0
	case 1, 2, 3, 4:
		return r.rng.IntN(64)
	case 5, 6, 7:
		return r.rng.IntN(600)
	default:
		return r.rng.IntN(modelMaxEvent + 1)
	}
}

func (r *modelRun) payload(id uint64) []byte {
	r.nonce++
	return modelPayload(id, r.nonce, r.size())
}

func (r *modelRun) batch(first uint64, n int) [][]byte {
	evs := make([][]byte, n)
	r.nonce++
	for i := range evs {
		evs[i] = modelPayload(first+uint64(i), r.nonce, r.rng.IntN(modelMaxEvent+1))
	}
	return evs
}

// firstID picks the id of a correct append: next, or on an empty log sometimes beyond it.
func (r *modelRun) firstID() uint64 {
	id := r.m.next
	if r.m.empty() {
		switch r.rng.IntN(8) {
		case 0, 1, 2:
			id += uint64(r.rng.IntN(10))
		case 3:
			id += 100_000 + uint64(r.rng.IntN(1000))
		}
	}
	return id
}

// wrongID picks an id the log must refuse, or false if there is none (empty log at 0).
func (r *modelRun) wrongID() (uint64, bool) {
	next := r.m.next
	if r.m.empty() {
		if next == 0 {
			return 0, false
		}
		return next - 1 - r.rng.Uint64N(min(next, 20)), true
	}
	switch r.rng.IntN(4) {
	case 0:
		return next + 1 + uint64(r.rng.IntN(5)), true
	case 1:
		if next > 0 {
			return next - 1, true
		}
		return next + 1, true
	case 2:
		return r.m.oldest, r.m.oldest != next
	default:
		return 0, next != 0
	}
}

func (r *modelRun) wantIDError(err error, want *mmaplog.IDError) {
	r.t.Helper()
	if !errors.Is(err, mmaplog.ErrOutOfOrder) {
		r.fatalf("err = %v, want ErrOutOfOrder", err)
	}
	var ie *mmaplog.IDError
	if !errors.As(err, &ie) {
		r.fatalf("err = %v (%T), want an *IDError", err, err)
	}
	if ie.Expected != want.Expected || ie.Got != want.Got || ie.Empty != want.Empty {
		r.fatalf("IDError = %+v, want %+v", *ie, *want)
	}
}

// probeID picks an id to read: mostly in [low-5, next+5], sometimes far away.
func (r *modelRun) probeID() uint64 {
	if r.rng.IntN(50) == 0 {
		return []uint64{0, mmaplog.Latest, mmaplog.Latest - 1, r.m.next + 1<<20}[r.rng.IntN(4)]
	}
	lo := r.m.lowID()
	lo -= min(lo, 5)
	return lo + r.rng.Uint64N(r.m.next+5-lo+1)
}

func (r *modelRun) doAppendWithID() {
	if r.rng.IntN(4) == 0 {
		if id, ok := r.wrongID(); ok {
			r.what = fmt.Sprintf("AppendWithID(%d) wrong id, next=%d empty=%v", id, r.m.next, r.m.empty())
			want := r.m.checkAppend(id)
			if want == nil {
				r.fatalf("test bug: id %d is acceptable", id)
			}
			r.wantIDError(r.l.AppendWithID(id, r.payload(id)), want)
			return
		}
	}
	id := r.firstID()
	p := r.payload(id)
	r.what = fmt.Sprintf("AppendWithID(%d, %d bytes)", id, len(p))
	if err := r.l.AppendWithID(id, p); err != nil {
		r.fatalf("%v", err)
	}
	r.appended(id, [][]byte{p})
}

func (r *modelRun) doAppendBatchWithIDs() {
	switch r.rng.IntN(10) {
	case 0:
		r.what = "AppendBatchWithIDs(next, empty)"
		if err := r.l.AppendBatchWithIDs(r.m.next, nil); !errors.Is(err, mmaplog.ErrEmptyBatch) {
			r.fatalf("err = %v, want ErrEmptyBatch", err)
		}
		return
	case 1:
		if id, ok := r.wrongID(); ok {
			r.what = fmt.Sprintf("AppendBatchWithIDs(%d) wrong id, next=%d", id, r.m.next)
			r.wantIDError(r.l.AppendBatchWithIDs(id, r.batch(id, 1+r.rng.IntN(5))), r.m.checkAppend(id))
			return
		}
	}
	first := r.firstID()
	evs := r.batch(first, 1+r.rng.IntN(50))
	r.what = fmt.Sprintf("AppendBatchWithIDs(%d, %d events)", first, len(evs))
	if err := r.l.AppendBatchWithIDs(first, evs); err != nil {
		r.fatalf("%v", err)
	}
	r.appended(first, evs)
}

func (r *modelRun) doAppend() {
	p := r.payload(r.m.next)
	r.what = fmt.Sprintf("Append(%d bytes), next=%d", len(p), r.m.next)
	id, err := r.l.Append(p)
	if err != nil || id != r.m.next {
		r.fatalf("= %d, %v; want %d, nil", id, err, r.m.next)
	}
	r.appended(id, [][]byte{p})
}

func (r *modelRun) doAppendBatch() {
	if r.rng.IntN(10) == 0 {
		r.what = "AppendBatch(empty)"
		if _, err := r.l.AppendBatch([][]byte{}); !errors.Is(err, mmaplog.ErrEmptyBatch) {
			r.fatalf("err = %v, want ErrEmptyBatch", err)
		}
		return
	}
	evs := r.batch(r.m.next, 1+r.rng.IntN(50))
	r.what = fmt.Sprintf("AppendBatch(%d events), next=%d", len(evs), r.m.next)
	first, err := r.l.AppendBatch(evs)
	if err != nil || first != r.m.next {
		r.fatalf("= %d, %v; want %d, nil", first, err, r.m.next)
	}
	r.appended(first, evs)
}

func (r *modelRun) doGet() {
	id := r.probeID()
	r.what = fmt.Sprintf("Get(%d)", id)
	l := r.l
	if r.rng.IntN(3) == 0 {
		l = r.obs
		r.what += " through the second handle"
	}
	got, err := l.Get(id)
	want, ok := r.m.ev[id]
	if !ok {
		if !errors.Is(err, mmaplog.ErrNotFound) {
			r.fatalf("= %d bytes, %v; want ErrNotFound", len(got), err)
		}
		return
	}
	if err != nil || !bytes.Equal(got, want) || got == nil {
		r.fatalf("= %d bytes, %v; want %d bytes (equal=%v)", len(got), err, len(want), bytes.Equal(got, want))
	}
}

var errModelView = errors.New("model: view callback error")

func (r *modelRun) doView() {
	id := r.probeID()
	r.what = fmt.Sprintf("View(%d)", id)
	want, ok := r.m.ev[id]
	if ok && r.rng.IntN(5) == 0 {
		err := r.l.View(id, func([]byte) error { return errModelView })
		if err != errModelView {
			r.fatalf("callback error came back as %v", err)
		}
		return
	}
	var got []byte
	called := false
	err := r.l.View(id, func(b []byte) error {
		called = true
		got = append([]byte{}, b...)
		return nil
	})
	if !ok {
		if !errors.Is(err, mmaplog.ErrNotFound) || called {
			r.fatalf("= %v (callback called: %v); want ErrNotFound", err, called)
		}
		return
	}
	if err != nil || !called || !bytes.Equal(got, want) {
		r.fatalf("= %v, called %v, %d bytes; want %d bytes", err, called, len(got), len(want))
	}
}

func (r *modelRun) doIterRange() {
	start := r.probeID()
	if start == mmaplog.Latest {
		start = r.m.next
	}
	var end uint64
	switch r.rng.IntN(6) {
	case 0, 1:
		end = mmaplog.Latest
	case 2:
		if start == 0 {
			end = start
		} else {
			end = start - 1 - r.rng.Uint64N(min(start, 3)) // start > end
		}
	default:
		end = start + r.rng.Uint64N(80)
	}
	r.what = fmt.Sprintf("IterRange(%d, %d)", start, end)
	it, err := r.l.IterRange(start, end)
	if start > end {
		if !errors.Is(err, mmaplog.ErrInvalidRange) {
			r.fatalf("err = %v, want ErrInvalidRange", err)
		}
		return
	}
	if err != nil {
		r.fatalf("%v", err)
	}
	lim := end
	if end == mmaplog.Latest {
		lim = r.m.next
	}
	want := r.m.liveIDs(start, lim)
	var got []uint64
	check := func(id uint64, v []byte) {
		if len(got) < len(want) && id == want[len(got)] && !bytes.Equal(v, r.m.ev[id]) {
			r.fatalf("event %d: %d bytes differ from the model's %d", id, len(v), len(r.m.ev[id]))
		}
		got = append(got, id)
	}
	if r.rng.IntN(2) == 0 {
		for id, v := range it.All() {
			check(id, v)
		}
	} else {
		for it.Next() {
			check(it.ID(), it.Value())
			if r.rng.IntN(200) == 0 { // stop early
				it.Close()
				if it.Next() {
					r.fatalf("Next after Close returned true")
				}
				want = want[:len(got)]
				break
			}
		}
		it.Close()
	}
	if err := it.Err(); err != nil {
		r.fatalf("Err() = %v", err)
	}
	if !slices.Equal(got, want) {
		r.fatalf("ids %s, want %s", idList(got), idList(want))
	}
}

func idList(ids []uint64) string {
	if len(ids) > 12 {
		return fmt.Sprintf("%v ... %v (%d ids)", ids[:6], ids[len(ids)-6:], len(ids))
	}
	return fmt.Sprint(ids)
}

func (r *modelRun) doDeleteRange() {
	m := r.m
	lo, next := m.lowID(), m.next
	pick := func(a, b uint64) uint64 { // uniform in [a, b]
		if b < a {
			return a
		}
		return a + r.rng.Uint64N(b-a+1)
	}
	var s, e uint64
	kind := r.rng.IntN(9)
	if len(m.ev) > 4000 {
		kind = 0
	}
	switch kind {
	case 0, 1: // prefix
		s, e = lo-min(lo, uint64(r.rng.IntN(3))), pick(lo, lo+(next-lo)/3)
	case 2, 3: // suffix
		s, e = pick(lo+(next-lo)/2, next), next-1+uint64(r.rng.IntN(3))
		if r.rng.IntN(3) == 0 {
			e = mmaplog.Latest
		}
	case 4, 5: // interior
		s = pick(lo+1, next)
		e = pick(s, min(next, s+uint64(r.rng.IntN(100))))
	case 6: // whole
		s, e = 0, mmaplog.Latest
		if r.rng.IntN(2) == 0 {
			s, e = lo, next
		}
		if r.rng.IntN(3) != 0 && len(m.ev) < 200 { // keep the log from staying tiny
			s, e = lo+(next-lo)/2, next
		}
	case 7: // out of range
		if r.rng.IntN(2) == 0 || lo == 0 {
			s = next + uint64(r.rng.IntN(5))
			e = s + uint64(r.rng.IntN(10))
		} else {
			e = lo - 1
			s = e - min(e, uint64(r.rng.IntN(10)))
		}
	default: // start > end
		s = pick(lo, next) + 1
		e = s - 1 - uint64(r.rng.IntN(int(min(s, 5))))
	}
	r.what = fmt.Sprintf("DeleteRange(%d, %d) kind %d; oldest=%d newest=%d next=%d live=%d",
		s, e, kind, m.oldest, m.newest, m.next, len(m.ev))
	n, err := r.l.DeleteRange(s, e)
	wn, werr := m.deleteRange(s, e)
	if n != wn || !errors.Is(err, werr) || (werr == nil && err != nil) {
		r.fatalf("= %d, %v; want %d, %v", n, err, wn, werr)
	}
}

func (r *modelRun) doRotate() {
	r.what = "Rotate"
	p, err := r.l.Rotate()
	if err != nil {
		r.fatalf("%v", err)
	}
	if filepath.Dir(p) != filepath.Clean(r.dir) || !strings.HasPrefix(filepath.Base(p), "seg-") {
		r.fatalf("path %q is not a segment of %s", p, r.dir)
	}
	if _, err := os.Stat(p); err != nil {
		r.fatalf("sealed segment: %v", err)
	}
	r.m.gaps = append(r.m.gaps, r.m.next)
}

func (r *modelRun) doSync() {
	r.what = "Sync"
	if err := r.l.Sync(); err != nil {
		r.fatalf("%v", err)
	}
	// Sync msyncs the table after commits of r.l's cursors, and every cursor commits
	// through r.l.
	if err := r.cur.Durable(r.dir); err != nil {
		r.fatalf("%v", err)
	}
}

func (r *modelRun) doReopen() {
	r.what = "Close+Open"
	l := r.l
	r.noteRecycled()
	if err := l.Close(); err != nil {
		r.fatalf("Close: %v", err)
	}
	// Close flushed the commits of r.l's cursors, and every cursor commits through r.l.
	if err := r.cur.Durable(r.dir); err != nil {
		r.fatalf("%v", err)
	}
	r.closeHeld()
	if err := l.Close(); err != nil {
		r.fatalf("second Close: %v", err)
	}
	if _, err := l.Get(r.m.lowID()); !errors.Is(err, mmaplog.ErrClosed) {
		r.fatalf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Append(nil); !errors.Is(err, mmaplog.ErrClosed) {
		r.fatalf("Append after Close: %v, want ErrClosed", err)
	}
	opts := &modelOpts
	if r.rng.IntN(3) == 0 {
		opts = nil // an existing log keeps its segment size
	}
	var err error
	if r.l, err = mmaplog.Open(r.dir, opts); err != nil {
		r.fatalf("Open: %v", err)
	}
}

// noteRecycled adds the recycled segments of the writer handle about to be closed.
func (r *modelRun) noteRecycled() {
	if st, err := r.l.Stats(); err == nil {
		r.recycled += st.RecycledSegments
	}
}

// doCrashReboot stands for a power loss that lost no page, then a reboot: the handles
// stay open on the old directory while its image is taken (mmaplog.CrashImage), and both
// handles move to the image. Open rebuilds the end of the log from the records past the
// recovery point (docs/FORMAT.md section 6): with every page there, it must find exactly
// the committed log, tombstones included. The cursor table alone may lose pages: each page
// written since the last Sync, Close, create or delete may be its durable version, and
// every cursor must then be at its durable position or at a later committed one
// (section 13; modelcheck.Cursors.AfterCrash).
func (r *modelRun) doCrashReboot() {
	r.what = "power loss (every log page on disk, cursor table pages maybe not) + reboot + Open"
	img := mmaplog.CrashImage(r.t, r.dir)
	// Pages of the cursor table written since the last durable point may be lost.
	if err := r.cur.CrashImage(img, r.rng.Uint64()); err != nil {
		r.fatalf("%v", err)
	}
	r.noteRecycled()
	r.l.Close()
	r.obs.Close()
	r.closeHeld()
	r.dir = img
	var err error
	if r.l, err = mmaplog.Open(r.dir, &modelOpts); err != nil {
		r.fatalf("Open of the image: %v", err)
	}
	if r.obs, err = mmaplog.Open(r.dir, nil); err != nil {
		r.fatalf("Open of the image (second handle): %v", err)
	}
	if st, err := r.l.Stats(); err != nil || st.LastRepair != nil {
		r.fatalf("Open of a whole image repaired something: %+v, %v", st.LastRepair, err)
	}
	if err := r.cur.AfterCrash(r.l, r.dir); err != nil {
		r.fatalf("%v", err)
	}
}

// checkState compares the log's counters with the model.
func (r *modelRun) checkState() {
	r.t.Helper()
	l, m := r.l, r.m
	next, err := l.NextEventID()
	if err != nil || next != m.next {
		r.fatalf("after: NextEventID = %d, %v; want %d", next, err, m.next)
	}
	o, oerr := l.OldestEventID()
	n, nerr := l.NewestEventID()
	if m.empty() {
		if !errors.Is(oerr, mmaplog.ErrEmpty) || !errors.Is(nerr, mmaplog.ErrEmpty) {
			r.fatalf("after: empty log: Oldest = %d, %v; Newest = %d, %v; want ErrEmpty", o, oerr, n, nerr)
		}
	} else if oerr != nil || nerr != nil || o != m.oldest || n != m.newest {
		r.fatalf("after: Oldest = %d, %v; Newest = %d, %v; want %d, %d", o, oerr, n, nerr, m.oldest, m.newest)
	}
	if next, err := r.obs.NextEventID(); err != nil || next != m.next {
		r.fatalf("after: second handle: NextEventID = %d, %v; want %d", next, err, m.next)
	}
	st, err := l.Stats()
	if err != nil {
		r.fatalf("after: Stats: %v", err)
	}
	wo, wn := m.oldest, m.newest
	if m.empty() {
		wo, wn = 0, 0
	}
	if st.EventCount != uint64(len(m.ev)) || st.NextEventID != m.next || st.OldestEventID != wo || st.NewestEventID != wn {
		r.fatalf("after: Stats = {EventCount %d Oldest %d Newest %d Next %d}; want {%d %d %d %d}",
			st.EventCount, st.OldestEventID, st.NewestEventID, st.NextEventID, len(m.ev), wo, wn, m.next)
	}
	if err := r.ret.CheckStats(st); err != nil {
		r.fatalf("after: %v", err)
	}
}

// checkSegmentFiles fails when the directory holds more segment files than the live
// events can need: segments that are never unlinked.
func (r *modelRun) checkSegmentFiles() {
	r.t.Helper()
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		r.fatalf("%v", err)
	}
	files := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "seg-") && !strings.Contains(e.Name(), ".tmp") {
			files++
		}
	}
	bound := r.m.maxSegmentFiles()
	r.maxFiles, r.maxLive = max(r.maxFiles, files), max(r.maxLive, len(r.m.ev))
	if files > bound {
		r.fatalf("%d segment files for %d live events (oldest %d newest %d next %d), at most %d expected: segments are not unlinked",
			files, len(r.m.ev), r.m.oldest, r.m.newest, r.m.next, bound)
	}
}

// checkAll reads the whole log by iteration through both handles and compares it with
// the model.
func (r *modelRun) checkAll() {
	r.t.Helper()
	r.what = "full check"
	r.checkAllWith(r.l)
	r.what = "full check through the second handle"
	r.checkAllWith(r.obs)
}

func (r *modelRun) checkAllWith(l *mmaplog.Log) {
	r.t.Helper()
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		r.fatalf("%v", err)
	}
	var got []uint64
	for id, v := range it.All() {
		if !bytes.Equal(v, r.m.ev[id]) {
			r.fatalf("event %d: bytes differ", id)
		}
		got = append(got, id)
	}
	if err := it.Err(); err != nil {
		r.fatalf("%v", err)
	}
	if want := r.m.liveIDs(0, r.m.next); !slices.Equal(got, want) {
		r.fatalf("ids %s, want %s", idList(got), idList(want))
	}
}

func TestModelRandomized(t *testing.T) {
	ops := 3000
	if os.Getenv("RINGLOG_LONG") == "1" {
		ops = 20000
	}
	s := seed(t)
	r := &modelRun{
		t:      t,
		rng:    rand.New(rand.NewPCG(uint64(s), 0x5eed)),
		dir:    t.TempDir(),
		m:      newModel(),
		counts: map[string]int{},
		cur:    modelcheck.NewCursors(),
	}
	var err error
	if r.l, err = mmaplog.Open(r.dir, &modelOpts); err != nil {
		t.Fatal(err)
	}
	defer func() { r.l.Close() }()
	if r.obs, err = mmaplog.Open(r.dir, nil); err != nil {
		t.Fatal(err)
	}
	defer func() { r.obs.Close() }()

	type op struct {
		name   string
		weight int
		fn     func()
	}
	ret := func(fn func()) func() { return func() { r.retentionOp(fn) } } // may enforce retention
	table := []op{
		{"AppendWithID", 12, ret(r.doAppendWithID)},
		{"AppendBatchWithIDs", 7, ret(r.doAppendBatchWithIDs)},
		{"Append", 10, ret(r.doAppend)},
		{"AppendBatch", 4, ret(r.doAppendBatch)},
		{"Get", 15, r.doGet},
		{"View", 6, r.doView},
		{"IterRange", 6, r.doIterRange},
		{"DeleteRange", 11, r.doDeleteRange},
		{"Rotate", 3, ret(r.doRotate)},
		{"Sync", 1, r.doSync},
		{"Reopen", 1, r.doReopen},
		{"CrashReboot", 1, r.doCrashReboot},
		{"SetRetention", 1, r.doSetRetention},
		{"CursorOpen", 2, r.doCursorOpen},
		{"CursorCommit", 3, r.doCursorCommit},
		{"CursorLoad", 1, r.doCursorLoad},
		{"CursorList", 1, r.doCursorList},
		{"CursorDelete", 1, r.doCursorDelete},
		{"CursorRead", 3, r.doCursorRead},
		{"CursorCatchUp", 2, r.doCursorCatchUp},
	}
	total := 0
	for _, o := range table {
		total += o.weight
	}
	for r.op = 0; r.op < ops; r.op++ {
		k := r.rng.IntN(total)
		for _, o := range table {
			if k < o.weight {
				// Alternate phases of 400 ops where the log mostly grows (few deletes:
				// the index grows, many segments) with phases where it mostly shrinks.
				if o.name == "DeleteRange" && (r.op/400)%2 == 0 && r.rng.IntN(5) != 0 {
					o = table[1]
				}
				r.counts[o.name]++
				o.fn()
				break
			}
			k -= o.weight
		}
		if r.op == ops/2 {
			r.counts["CursorFill"]++
			r.doCursorFill()
		}
		r.checkState()
		if r.op%100 == 99 {
			r.checkSegmentFiles()
		}
		if r.op%500 == 499 {
			r.checkAll()
		}
	}
	r.checkAll()
	r.checkSegmentFiles()
	st, _ := r.l.Stats()
	r.noteRecycled()
	t.Logf("%d ops %v; at most %d live events and %d segment files; final: live=%d oldest=%d next=%d segment files=%d index capacity=%d; %d segments made from the recycling pool",
		ops, r.counts, r.maxLive, r.maxFiles, len(r.m.ev), r.m.oldest, r.m.next, st.FileCount, st.IndexCapacity, r.recycled)
	if r.recycled == 0 {
		t.Fatalf("no segment was recycled: the run did not exercise segment recycling")
	}
	t.Logf("retention removed %d events in %d segments (a cursor lowered the cut %d times, the newest event's segment stopped it %d times); policy at the end %+v; %d cursors",
		r.retRemoved, st.RetentionRemovedSegments, r.ret.Limited, r.ret.Capped, st.Retention, r.cur.Len())
}
