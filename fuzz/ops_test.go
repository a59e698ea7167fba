package fuzz

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/internal/modelcheck"
	"github.com/ringlog/ringlog/mmaplog"
)

// FuzzOps decodes its input as a program of log operations (see opKind), runs it against a
// log in a temporary directory and against the in-memory model, and fails on the first
// difference in a returned value, an error (compared with errors.Is), NextEventID,
// OldestEventID/NewestEventID (ErrEmpty included) or Stats.
func FuzzOps(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		runProgram(t, data, 1)
	})
}

// FuzzMultiHandle is FuzzOps with two handles on one directory: the top bit of each
// operation byte chooses the handle, and both must agree with one model after every
// operation.
func FuzzMultiHandle(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		runProgram(t, data, 2)
	})
}

// Log options of the operation targets: the smallest segments, so that payloads of up to
// 3000 bytes rotate every few events and batches span segments, and the smallest index,
// so that it grows and wraps.
const (
	opsSegmentSize   = mmaplog.MinSegmentSize
	opsIndexCapacity = 1024
	maxOps           = 300  // operations decoded per input
	maxBulk          = 1024 // events of one bulk batch
	maxScan          = 4096 // ids probed one by one by checkAll
)

// opKind is an operation of a program. An operation byte b selects handle b>>7 (in
// FuzzMultiHandle) and the operation opTable[b&63]; the arguments that follow are
// described at each run method.
type opKind byte

const (
	opAppendWithID       opKind = iota // AppendWithID(NextEventID (+gap on an empty log))
	opAppendWithIDAny                  // AppendWithID(any id): mostly wrong ids
	opAppendBatchWithIDs               // AppendBatchWithIDs, right or any id, 0..8 events
	opAppend                           // Append
	opAppendBatch                      // AppendBatch, 0..8 events
	opBulk                             // one batch of up to 1024 small events (index growth, ring wrap)
	opGet                              // Get
	opView                             // View, optionally returning an error from fn
	opIterRange                        // IterRange and a full or partial walk
	opIterOpen                         // open an iterator kept across operations
	opIterStep                         // advance a kept iterator
	opDelete                           // DeleteRange: prefix, suffix, interior, all, out of range, start > end
	opRotate                           // Rotate
	opSync                             // Sync
	opReopen                           // Close, calls on the closed handle, Open
	opInvalid                          // empty batches and oversized events
	opCheckAll                         // Get every id around the live range, iterate everything
	// The operations below are reached only with flagExtOps (extTable).
	opCursorOpen    // Log.Cursor: valid and invalid names, create or open, into a held slot
	opCursorCommit  // Cursor.Commit: same, ahead, backward, NextEventID, beyond, oldest, any id
	opCursorLoad    // Cursor.Load and Position
	opCursorList    // Log.Cursors
	opCursorDelete  // Log.DeleteCursor: existing, missing, invalid names
	opCursorRead    // Cursor.Follow without blocking, and a commit of what was read
	opCursorCatchUp // every cursor below an id of the live range commits up to it
	opSetRetention  // Log.SetRetention: MaxEvents, MaxBytes, KeepUnconsumed, none, invalid
	numOpKinds
)

// opTable maps the low 6 bits of an operation byte to an operation; the number of entries
// of a kind is its weight (Sync and Reopen are rare).
var opTable = weighted([numOpKinds]int{
	opAppendWithID: 8, opAppendWithIDAny: 3, opAppendBatchWithIDs: 5, opAppend: 6,
	opAppendBatch: 5, opBulk: 2, opGet: 6, opView: 3, opIterRange: 4, opIterOpen: 2,
	opIterStep: 4, opDelete: 9, opRotate: 2, opSync: 1, opReopen: 1, opInvalid: 1,
	opCheckAll: 2,
})

// extTable maps the low 7 bits of an operation byte of a program with flagExtOps: opTable,
// then 64 entries of cursor and retention operations and of the appends and rotations
// that make retention run (a segment turnover).
var extTable = func() (t [128]opKind) {
	copy(t[:64], opTable[:])
	ext := weighted([numOpKinds]int{
		opCursorOpen: 6, opCursorCommit: 8, opCursorLoad: 3, opCursorList: 3, opCursorDelete: 3,
		opCursorRead: 8, opCursorCatchUp: 3, opSetRetention: 6,
		opAppend: 6, opAppendBatch: 6, opBulk: 4, opRotate: 4, opAppendWithID: 4,
	})
	copy(t[64:], ext[:])
	return t
}()

// weighted returns a table of 64 operations holding weights[k] entries of kind k.
func weighted(weights [numOpKinds]int) (t [64]opKind) {
	i := 0
	for k, w := range weights {
		for range w {
			t[i] = opKind(k)
			i++
		}
	}
	if i != len(t) {
		panic(fmt.Sprintf("op table weights sum to %d", i))
	}
	return t
}

// opByte returns the operation byte of kind on handle h (the inverse of extTable; a kind
// past opCheckAll needs flagExtOps).
func opByte(kind opKind, h int) byte {
	for i, k := range extTable {
		if k == kind {
			return byte(i) | byte(h)<<7
		}
	}
	panic("no such op")
}

// Program header flags (the first byte of an input).
const (
	flagNoPrefault = 1 << 0 // open with Options.NoPrefault (no background segment preparation)
	// flagExtOps makes operation bytes select from extTable by their low 7 bits, which
	// adds the cursor and retention operations; without it, opTable by the low 6 (the
	// programs written before those operations keep their meaning).
	flagExtOps = 1 << 1
)

type handle struct {
	l    *mmaplog.Log
	its  [2]*heldIter
	curs [2]*modelcheck.Held // cursors kept across operations
}

// heldIter is an iterator kept open across operations, with its model.
type heldIter struct {
	it       *mmaplog.Iterator
	pos, end uint64 // next id to consider; exclusive end (Latest resolved at IterRange)
	finished bool
	val      []byte // the expected Value of the current event (nil: none)
}

type runner struct {
	t       *testing.T
	dir     string
	opts    mmaplog.Options
	hs      []*handle
	m       *model
	d       *decoder
	counter uint64 // payload counter
	maxEv   int
	big     []byte // maxEv+1 bytes
	trace   []string
	cur     *modelcheck.Cursors
	ret     modelcheck.Retention
}

func runProgram(t *testing.T, data []byte, handles int) {
	defer watchdog(t)()
	d := &decoder{b: data}
	flags := d.u8()
	r := &runner{
		t:    t,
		dir:  t.TempDir(),
		opts: mmaplog.Options{SegmentSize: opsSegmentSize, IndexCapacity: opsIndexCapacity, NoPrefault: flags&flagNoPrefault != 0},
		m:    newModel(),
		d:    d,
		cur:  modelcheck.NewCursors(),
	}
	for range handles {
		l, err := mmaplog.Open(r.dir, &r.opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		r.hs = append(r.hs, &handle{l: l})
	}
	t.Cleanup(func() {
		for _, h := range r.hs {
			h.closeIters()
			_ = h.l.Close()
		}
	})
	st, err := r.hs[0].l.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	r.maxEv = int(st.MaxEventSize)
	r.big = make([]byte, r.maxEv+1)
	r.checkObservers()
	for i := 0; i < maxOps && d.more(); i++ {
		b := d.u8()
		h := r.hs[int(b>>7)%len(r.hs)]
		op := opTable[b&63]
		if flags&flagExtOps != 0 {
			op = extTable[b&127]
		}
		r.step(h, int(b>>7)%len(r.hs), op)
		r.checkObservers()
	}
	r.checkAll()
}

func (r *runner) tracef(format string, args ...any) {
	if len(r.trace) == 64 {
		copy(r.trace, r.trace[1:])
		r.trace = r.trace[:63]
	}
	r.trace = append(r.trace, fmt.Sprintf(format, args...))
}

func (r *runner) fatalf(format string, args ...any) {
	r.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if tolerated(msg) {
		r.t.Skipf("tolerated (RINGLOG_FUZZ_TOLERATE): %s", msg)
	}
	r.t.Fatalf("%s\nmodel: next=%d oldest=%d newest=%d live=%d\nlast operations:\n  %s",
		msg, r.m.next, r.m.oldest, r.m.newest, len(r.m.live),
		strings.Join(r.trace, "\n  "))
}

// wantErr fails unless got matches want (nil, or a sentinel matched with errors.Is).
func (r *runner) wantErr(what string, got, want error) {
	r.t.Helper()
	if want == nil {
		if got != nil {
			r.fatalf("%s: unexpected error %v", what, got)
		}
		return
	}
	if !errors.Is(got, want) {
		r.fatalf("%s: error %v, want %v", what, got, want)
	}
}

func (r *runner) payload() []byte {
	n := r.d.payloadSize()
	r.counter++
	return fillPayload(n, r.d.u8(), r.counter)
}

func (r *runner) payloads(n int) [][]byte {
	ev := make([][]byte, n)
	for i := range ev {
		ev[i] = r.payload()
	}
	return ev
}

// Id selectors (pickID): one byte chooses among ids that matter.
const (
	idNext = iota
	idNextPlus1
	idNextMinus1
	idOldest
	idNewest
	idOldestMinus1
	idNewestPlus1
	idInRange // oldest + k*span/256 (k: one more byte)
	idRaw     // 8 more bytes
	idNearMax // MaxUint64 - k (k: one more byte)
	idGap     // next + k (k: one more byte)
	idZero
	numIDSel
)

func (r *runner) pickID() uint64 {
	m := r.m
	lo, hi := m.next, m.next-1 // empty: oldest reads as next, newest as next-1
	if !m.empty() {
		lo, hi = m.oldest, m.newest
	}
	switch r.d.u8() % numIDSel {
	case idNext:
		return m.next
	case idNextPlus1:
		return m.next + 1
	case idNextMinus1:
		return m.next - 1
	case idOldest:
		return lo
	case idNewest:
		return hi
	case idOldestMinus1:
		return lo - 1
	case idNewestPlus1:
		return hi + 1
	case idInRange:
		return lo + uint64(r.d.u8())*m.span()/256
	case idRaw:
		return r.d.u64()
	case idNearMax:
		return math.MaxUint64 - uint64(r.d.u8())
	case idGap:
		return m.next + uint64(r.d.u8())
	default:
		return 0
	}
}

func (r *runner) step(h *handle, hi int, op opKind) {
	switch op {
	case opAppendWithID, opAppendWithIDAny, opAppendBatchWithIDs, opAppend, opAppendBatch, opBulk, opInvalid, opRotate:
		// An append that moves to a new segment, and Rotate, enforce retention.
		if err := r.ret.Before(h.l, r.ret.Policy); err != nil {
			r.fatalf("%v", err)
		}
		defer r.retAfter(h, false)
	}
	switch op {
	case opAppendWithID:
		// gap byte (used only on an empty log), payload
		id := r.m.next
		gap := uint64(r.d.u8())
		if r.m.empty() {
			id += gap
		}
		r.append(h, hi, id, r.payloads(1), true, false)
	case opAppendWithIDAny:
		// id selector, payload
		id := r.pickID()
		r.append(h, hi, id, r.payloads(1), true, false)
	case opAppendBatchWithIDs:
		// mode (bit 0: id selector follows; else NextEventID + gap byte on an empty log), count%9, payloads
		mode := r.d.u8()
		var id uint64
		if mode&1 != 0 {
			id = r.pickID()
		} else {
			id = r.m.next
			gap := uint64(r.d.u8())
			if r.m.empty() {
				id += gap
			}
		}
		n := int(r.d.u8() % 9)
		r.append(h, hi, id, r.payloads(n), true, true)
	case opAppend:
		r.append(h, hi, 0, r.payloads(1), false, false)
	case opAppendBatch:
		// count%9, payloads
		n := int(r.d.u8() % 9)
		r.append(h, hi, 0, r.payloads(n), false, true)
	case opBulk:
		r.bulk(h, hi)
	case opGet:
		r.get(h, hi, r.pickID())
	case opView:
		r.view(h, hi)
	case opIterRange:
		r.iterRange(h, hi)
	case opIterOpen:
		r.iterOpen(h, hi)
	case opIterStep:
		r.iterStep(h, hi)
	case opDelete:
		r.deleteRange(h, hi)
	case opRotate:
		r.tracef("h%d Rotate", hi)
		path, err := h.l.Rotate()
		r.wantErr("Rotate", err, nil)
		if filepath.Dir(path) != filepath.Clean(r.dir) {
			r.fatalf("Rotate returned %q, not a file of %s", path, r.dir)
		}
	case opSync:
		r.tracef("h%d Sync", hi)
		r.wantErr("Sync", h.l.Sync(), nil)
	case opReopen:
		r.reopen(h, hi)
	case opInvalid:
		r.invalid(h, hi)
	case opCheckAll:
		r.tracef("h%d CheckAll", hi)
		r.checkAll()
	default:
		r.cursorStep(h, hi, op)
	}
}

// append runs one of the four append calls and compares it with the model.
func (r *runner) append(h *handle, hi int, first uint64, events [][]byte, withID, batch bool) {
	r.t.Helper()
	var wantErr error
	total := 0
	for _, e := range events {
		total += len(e)
		if len(e) > r.maxEv && wantErr == nil {
			wantErr = mmaplog.ErrTooLarge
		}
	}
	var sizes any // the sizes of a short batch, else count and bytes
	if len(events) <= 8 {
		s := make([]int, len(events))
		for i, e := range events {
			s[i] = len(e)
		}
		sizes = s
	} else {
		sizes = fmt.Sprintf("%d events, %d bytes", len(events), total)
	}
	if len(events) == 0 {
		wantErr = mmaplog.ErrEmptyBatch
	}
	var wantID *mmaplog.IDError
	wantFirst := first
	if wantErr == nil {
		wantFirst, wantID = r.m.appendResult(first, len(events), withID)
	}
	var (
		got uint64
		err error
	)
	switch {
	case withID && !batch:
		r.tracef("h%d AppendWithID(%d, size %v)", hi, first, sizes)
		err = h.l.AppendWithID(first, events[0])
		got = first
	case withID:
		r.tracef("h%d AppendBatchWithIDs(%d, sizes %v)", hi, first, sizes)
		err = h.l.AppendBatchWithIDs(first, events)
		got = first
	case !batch:
		r.tracef("h%d Append(size %v)", hi, sizes)
		got, err = h.l.Append(events[0])
	default:
		r.tracef("h%d AppendBatch(sizes %v)", hi, sizes)
		got, err = h.l.AppendBatch(events)
	}
	switch {
	case wantErr != nil:
		r.wantErr("append", err, wantErr)
	case wantID != nil:
		var ie *mmaplog.IDError
		if !errors.As(err, &ie) || !errors.Is(err, mmaplog.ErrOutOfOrder) {
			r.fatalf("append id %d: error %v, want %v", first, err, wantID)
		}
		if ie.Expected != wantID.Expected || ie.Got != wantID.Got || ie.Empty != wantID.Empty {
			r.fatalf("append id %d: IDError %+v, want %+v", first, *ie, *wantID)
		}
	default:
		r.wantErr("append", err, nil)
		if got != wantFirst {
			r.fatalf("append returned id %d, want %d", got, wantFirst)
		}
		r.m.append(wantFirst, events)
		sizes := make([]int, len(events))
		for i, e := range events {
			sizes[i] = len(e)
		}
		r.ret.Appended(wantFirst, sizes, opsSegmentSize)
	}
}

// bulk: count (u16 % 1024 + 1), flags (bit 0: AppendBatchWithIDs with NextEventID), max
// size byte (sizes 0..b%32), fill byte.
func (r *runner) bulk(h *handle, hi int) {
	n := int(r.d.u16())%maxBulk + 1
	flags := r.d.u8()
	maxSize := int(r.d.u8() % 32)
	fill := r.d.u8()
	events := make([][]byte, n)
	for i := range events {
		r.counter++
		events[i] = fillPayload((i*7+int(fill))%(maxSize+1), fill, r.counter)
	}
	r.append(h, hi, r.m.next, events, flags&1 != 0, true)
}

func (r *runner) get(h *handle, hi int, id uint64) {
	r.tracef("h%d Get(%d)", hi, id)
	b, err := h.l.Get(id)
	want, ok := r.m.live[id]
	if !ok {
		r.wantErr(fmt.Sprintf("Get(%d)", id), err, mmaplog.ErrNotFound)
		return
	}
	r.wantErr(fmt.Sprintf("Get(%d)", id), err, nil)
	if !bytes.Equal(b, want) {
		r.fatalf("Get(%d) = %d bytes %.16x, want %d bytes %.16x", id, len(b), b, len(want), want)
	}
	if len(b) > 0 { // Get returns a copy: scribbling on it changes nothing
		b[0] ^= 0xff
		if b2, err := h.l.Get(id); err != nil || !bytes.Equal(b2, want) {
			r.fatalf("Get(%d) after modifying the previous copy: %.16x, %v", id, b2, err)
		}
	}
}

var errFromView = errors.New("fuzz: error returned by the View callback")

// view: id selector, flags (bit 0: fn returns errFromView).
func (r *runner) view(h *handle, hi int) {
	id := r.pickID()
	fail := r.d.u8()&1 != 0
	r.tracef("h%d View(%d, fail=%v)", hi, id, fail)
	want, ok := r.m.live[id]
	called := false
	err := h.l.View(id, func(b []byte) error {
		called = true
		if !bytes.Equal(b, want) {
			r.fatalf("View(%d) = %d bytes %.16x, want %d bytes %.16x", id, len(b), b, len(want), want)
		}
		if fail {
			return errFromView
		}
		return nil
	})
	switch {
	case !ok:
		r.wantErr(fmt.Sprintf("View(%d)", id), err, mmaplog.ErrNotFound)
		if called {
			r.fatalf("View(%d) called fn for an absent event", id)
		}
	case fail:
		if err != errFromView {
			r.fatalf("View(%d) returned %v, want fn's error as is", id, err)
		}
	default:
		r.wantErr(fmt.Sprintf("View(%d)", id), err, nil)
		if !called {
			r.fatalf("View(%d) did not call fn", id)
		}
	}
}

// pickRange: start id selector, end kind (0 Latest, 1 id selector, 2 start+byte, 3 start,
// 4 start-1).
func (r *runner) pickRange() (uint64, uint64) {
	s := r.pickID()
	switch r.d.u8() % 5 {
	case 0:
		return s, mmaplog.Latest
	case 1:
		return s, r.pickID()
	case 2:
		return s, s + uint64(r.d.u8())
	case 3:
		return s, s
	default:
		return s, s - 1
	}
}

// iterRange: range, stop byte (0: walk to the end with Next; 1: walk with All; k: stop
// after k-1 events and Close).
func (r *runner) iterRange(h *handle, hi int) {
	s, e := r.pickRange()
	stop := int(r.d.u8())
	r.tracef("h%d IterRange(%d, %d) stop=%d", hi, s, e, stop)
	it, err := h.l.IterRange(s, e)
	if s > e {
		r.wantErr("IterRange", err, mmaplog.ErrInvalidRange)
		if it != nil {
			r.fatalf("IterRange(%d, %d) returned an iterator with ErrInvalidRange", s, e)
		}
		return
	}
	r.wantErr("IterRange", err, nil)
	want := r.m.liveIn(s, e)
	check := func(i int, id uint64, v []byte) {
		if i >= len(want) {
			r.fatalf("IterRange(%d, %d): event %d beyond the %d expected", s, e, id, len(want))
		}
		if id != want[i] || !bytes.Equal(v, r.m.live[id]) {
			r.fatalf("IterRange(%d, %d)[%d] = id %d %d bytes, want id %d %d bytes", s, e, i, id, len(v), want[i], len(r.m.live[want[i]]))
		}
	}
	n := 0
	switch {
	case stop == 1:
		for id, v := range it.All() {
			check(n, id, v)
			n++
		}
	default:
		for (stop == 0 || n < stop-1) && it.Next() {
			check(n, it.ID(), it.Value())
			n++
		}
		if stop > 1 && n == stop-1 && n < len(want) {
			r.wantErr("Iterator.Close", it.Close(), nil)
			if it.Next() {
				r.fatalf("IterRange: Next after Close returned true")
			}
			r.wantErr("Iterator.Err after Close", it.Err(), nil)
			return
		}
	}
	if n != len(want) {
		r.fatalf("IterRange(%d, %d) returned %d events, want %d", s, e, n, len(want))
	}
	r.wantErr("Iterator.Err", it.Err(), nil)
	if it.Next() {
		r.fatalf("IterRange: Next after the end returned true")
	}
	r.wantErr("Iterator.Close", it.Close(), nil)
}

// iterOpen: slot byte, range.
func (r *runner) iterOpen(h *handle, hi int) {
	slot := int(r.d.u8() % 2)
	s, e := r.pickRange()
	r.tracef("h%d IterOpen[%d](%d, %d)", hi, slot, s, e)
	if old := h.its[slot]; old != nil {
		r.wantErr("Iterator.Close", old.it.Close(), nil)
		h.its[slot] = nil
	}
	it, err := h.l.IterRange(s, e)
	if s > e {
		r.wantErr("IterRange", err, mmaplog.ErrInvalidRange)
		return
	}
	r.wantErr("IterRange", err, nil)
	end := e
	if e == mmaplog.Latest {
		end = r.m.next
	}
	h.its[slot] = &heldIter{it: it, pos: s, end: end}
}

// iterStep: slot byte, steps byte (1..8). Before each Next the Value of the previous event
// must still hold its bytes, whatever ran in between (the mapping is pinned and published
// bytes are never rewritten).
func (r *runner) iterStep(h *handle, hi int) {
	slot := int(r.d.u8() % 2)
	steps := int(r.d.u8()%8) + 1
	hit := h.its[slot]
	r.tracef("h%d IterStep[%d] x%d (open=%v)", hi, slot, steps, hit != nil)
	if hit == nil {
		return
	}
	for range steps {
		if hit.val != nil && !bytes.Equal(hit.it.Value(), hit.val) {
			r.fatalf("held iterator: Value of event %d changed to %.16x, want %.16x", hit.it.ID(), hit.it.Value(), hit.val)
		}
		ok := hit.it.Next()
		var want uint64
		found := false
		if !hit.finished {
			want, found = r.m.firstLiveFrom(hit.pos, hit.end)
			if !found {
				hit.finished = true
			}
		}
		if ok != found {
			r.fatalf("held iterator (pos %d end %d): Next = %v, want %v (id %d)", hit.pos, hit.end, ok, found, want)
		}
		if !ok {
			r.wantErr("held iterator Err", hit.it.Err(), nil)
			hit.val = nil
			return
		}
		if hit.it.ID() != want || !bytes.Equal(hit.it.Value(), r.m.live[want]) {
			r.fatalf("held iterator: id %d (%d bytes), want id %d (%d bytes)", hit.it.ID(), len(hit.it.Value()), want, len(r.m.live[want]))
		}
		hit.pos = want + 1
		hit.val = r.m.live[want]
		if hit.val == nil {
			hit.val = []byte{}
		}
	}
}

// Delete range kinds.
const (
	delPrefix   = iota // [oldest-k, oldest+x]
	delSuffix          // [oldest+x, newest+k] or [.., Latest]
	delInterior        // [a, a+k]
	delAll             // [0, Latest] or [oldest, newest]
	delOutside         // entirely above newest, or below oldest
	delReversed        // start > end
	delRaw             // two id selectors
	delOne             // [x, x]
	numDelKinds
)

// deleteRange: kind byte, then the kind's bytes.
func (r *runner) deleteRange(h *handle, hi int) {
	m := r.m
	lo := m.next
	if !m.empty() {
		lo = m.oldest
	}
	at := func() uint64 { return lo + uint64(r.d.u8())*m.span()/256 }
	var s, e uint64
	switch r.d.u8() % numDelKinds {
	case delPrefix:
		k := uint64(r.d.u8() % 3)
		s, e = lo-min(k, lo), at()
	case delSuffix:
		s = at()
		if k := r.d.u8(); k == 0 {
			e = mmaplog.Latest
		} else {
			e = m.newest + uint64(k%3)
		}
	case delInterior:
		s = lo + 1 + uint64(r.d.u8())*m.span()/256
		e = s + uint64(r.d.u8()%32)
	case delAll:
		if r.d.u8()&1 == 0 {
			s, e = 0, mmaplog.Latest
		} else {
			s, e = lo, m.newest
		}
	case delOutside:
		if k := r.d.u8(); k&1 == 0 || lo == 0 {
			s = m.next + uint64(k>>1)
			e = s + uint64(r.d.u8())
		} else {
			s, e = 0, lo-1
		}
	case delReversed:
		e = r.pickID()
		s = e + 1 + uint64(r.d.u8())
		if s <= e { // wrapped
			s, e = math.MaxUint64, e-1
		}
	case delRaw:
		s, e = r.pickID(), r.pickID()
	default:
		s = r.pickID()
		e = s
	}
	r.tracef("h%d DeleteRange(%d, %d)", hi, s, e)
	want, wantErr := m.deleteRange(s, e)
	got, err := h.l.DeleteRange(s, e)
	r.wantErr(fmt.Sprintf("DeleteRange(%d, %d)", s, e), err, wantErr)
	if got != want {
		r.fatalf("DeleteRange(%d, %d) = %d, want %d", s, e, got, want)
	}
}

// invalid: kind byte. Every call is rejected and changes nothing.
func (r *runner) invalid(h *handle, hi int) {
	small := []byte("x")
	switch k := r.d.u8() % 6; k {
	case 0:
		r.append(h, hi, 0, nil, false, true)
	case 1:
		r.append(h, hi, r.m.next, [][]byte{}, true, true)
	case 2:
		r.append(h, hi, r.m.next, [][]byte{r.big}, true, false)
	case 3:
		r.append(h, hi, 0, [][]byte{small, r.big}, false, true)
	case 4:
		r.append(h, hi, 0, [][]byte{r.big}, false, false)
	default:
		r.append(h, hi, r.m.next+1, [][]byte{r.big}, true, true) // too large wins over a wrong id
	}
}

// reopen: flags byte (bit 0: leave held iterators open across Close). The closed handle
// must answer ErrClosed everywhere, a second Close nil; the reopened handle must hold the
// same log.
func (r *runner) reopen(h *handle, hi int) {
	keep := r.d.u8()&1 != 0
	r.tracef("h%d Close+Open (keep iterators %v)", hi, keep)
	if !keep {
		h.closeIters()
	}
	r.wantErr("Close", h.l.Close(), nil)
	for _, c := range h.curs {
		if c != nil {
			c.Closed = true // until an operation replaces it: ErrClosed everywhere
		}
	}
	r.wantErr("second Close", h.l.Close(), nil)
	for i, hit := range h.its {
		if hit == nil {
			continue
		}
		if hit.it.Next() {
			r.fatalf("held iterator %d: Next on a closed log returned true", i)
		}
		if !hit.finished { // a finished iterator stays finished, without an error
			r.wantErr("held iterator on a closed log", hit.it.Err(), mmaplog.ErrClosed)
		}
		r.wantErr("Iterator.Close", hit.it.Close(), nil)
		h.its[i] = nil
	}
	l := h.l
	_, err := l.Get(r.m.oldest)
	r.wantErr("Get on a closed log", err, mmaplog.ErrClosed)
	r.wantErr("View on a closed log", l.View(r.m.oldest, func([]byte) error { return nil }), mmaplog.ErrClosed)
	_, err = l.NextEventID()
	r.wantErr("NextEventID on a closed log", err, mmaplog.ErrClosed)
	_, err = l.OldestEventID()
	r.wantErr("OldestEventID on a closed log", err, mmaplog.ErrClosed)
	_, err = l.NewestEventID()
	r.wantErr("NewestEventID on a closed log", err, mmaplog.ErrClosed)
	_, err = l.Stats()
	r.wantErr("Stats on a closed log", err, mmaplog.ErrClosed)
	_, err = l.Append([]byte("x"))
	r.wantErr("Append on a closed log", err, mmaplog.ErrClosed)
	r.wantErr("AppendWithID on a closed log", l.AppendWithID(r.m.next, []byte("x")), mmaplog.ErrClosed)
	_, err = l.DeleteRange(0, mmaplog.Latest)
	r.wantErr("DeleteRange on a closed log", err, mmaplog.ErrClosed)
	_, err = l.IterRange(0, mmaplog.Latest)
	r.wantErr("IterRange on a closed log", err, mmaplog.ErrClosed)
	_, err = l.Rotate()
	r.wantErr("Rotate on a closed log", err, mmaplog.ErrClosed)
	r.wantErr("Sync on a closed log", l.Sync(), mmaplog.ErrClosed)
	_, err = l.Cursor("c0")
	r.wantErr("Cursor on a closed log", err, mmaplog.ErrClosed)
	_, err = l.Cursors()
	r.wantErr("Cursors on a closed log", err, mmaplog.ErrClosed)
	r.wantErr("DeleteCursor on a closed log", l.DeleteCursor("c0"), mmaplog.ErrClosed)
	r.wantErr("SetRetention on a closed log", l.SetRetention(mmaplog.Retention{}), mmaplog.ErrClosed)

	nl, err := mmaplog.Open(r.dir, &r.opts)
	if err != nil {
		r.fatalf("reopen: %v", err)
	}
	h.l = nl
	r.checkObservers()
	r.checkAll()
}

func (h *handle) closeIters() {
	for i, hit := range h.its {
		if hit != nil {
			_ = hit.it.Close()
			h.its[i] = nil
		}
	}
}

// checkObservers compares NextEventID, OldestEventID, NewestEventID and Stats of every
// handle with the model.
func (r *runner) checkObservers() {
	r.t.Helper()
	m := r.m
	for i, h := range r.hs {
		next, err := h.l.NextEventID()
		r.wantErr("NextEventID", err, nil)
		if next != m.next {
			r.fatalf("h%d NextEventID = %d, want %d", i, next, m.next)
		}
		o, err := h.l.OldestEventID()
		n, err2 := h.l.NewestEventID()
		if m.empty() {
			r.wantErr("OldestEventID", err, mmaplog.ErrEmpty)
			r.wantErr("NewestEventID", err2, mmaplog.ErrEmpty)
		} else {
			r.wantErr("OldestEventID", err, nil)
			r.wantErr("NewestEventID", err2, nil)
			if o != m.oldest || n != m.newest {
				r.fatalf("h%d Oldest/NewestEventID = %d/%d, want %d/%d", i, o, n, m.oldest, m.newest)
			}
		}
		st, err := h.l.Stats()
		r.wantErr("Stats", err, nil)
		wo, wn := m.oldest, m.newest
		if m.empty() {
			wo, wn = 0, 0
		}
		if st.EventCount != uint64(len(m.live)) || st.NextEventID != m.next || st.OldestEventID != wo || st.NewestEventID != wn {
			r.fatalf("h%d Stats count=%d next=%d oldest=%d newest=%d, want %d %d %d %d", i,
				st.EventCount, st.NextEventID, st.OldestEventID, st.NewestEventID, len(m.live), m.next, wo, wn)
		}
		if m.span() > st.IndexCapacity {
			r.fatalf("h%d Stats.IndexCapacity %d below the live span %d", i, st.IndexCapacity, m.span())
		}
		if err := r.ret.CheckStats(st); err != nil {
			r.fatalf("h%d %v", i, err)
		}
	}
}

// checkAll gets every id around the live range (at most maxScan of them) and iterates the
// whole log, on every handle.
func (r *runner) checkAll() {
	r.t.Helper()
	m := r.m
	lo := m.next
	if !m.empty() {
		lo = m.oldest
	}
	lo -= min(lo, 2)
	hi := m.next + 2
	if hi < m.next || hi-lo > maxScan {
		hi = lo + maxScan
	}
	for i, h := range r.hs {
		for id := lo; id != hi; id++ {
			b, err := h.l.Get(id)
			want, ok := m.live[id]
			if !ok {
				if !errors.Is(err, mmaplog.ErrNotFound) {
					r.fatalf("h%d checkAll: Get(%d) = %v, want ErrNotFound", i, id, err)
				}
				continue
			}
			if err != nil || !bytes.Equal(b, want) {
				r.fatalf("h%d checkAll: Get(%d) = %d bytes, %v; want %d bytes", i, id, len(b), err, len(want))
			}
		}
		it, err := h.l.IterRange(0, mmaplog.Latest)
		r.wantErr("IterRange", err, nil)
		want := m.liveIn(0, mmaplog.Latest)
		n := 0
		for id, v := range it.All() {
			if n >= len(want) || id != want[n] || !bytes.Equal(v, m.live[id]) {
				r.fatalf("h%d checkAll: iteration[%d] = id %d (%d bytes), want %d live ids", i, n, id, len(v), len(want))
			}
			n++
		}
		r.wantErr("iteration", it.Err(), nil)
		if n != len(want) {
			r.fatalf("h%d checkAll: iteration returned %d events, want %d", i, n, len(want))
		}
	}
}
