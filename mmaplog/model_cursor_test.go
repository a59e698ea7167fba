package mmaplog_test

import (
	"fmt"
	"time"

	"github.com/ringlog/ringlog/internal/modelcheck"
	"github.com/ringlog/ringlog/mmaplog"
)

// Cursor and retention operations of TestModelRandomized (model_test.go). The cursor
// table and the retention constraints are modelled by internal/modelcheck.

// appended applies a successful append to the model and tells the retention check.
func (r *modelRun) appended(first uint64, evs [][]byte) {
	r.m.append(first, evs)
	sizes := make([]int, len(evs))
	for i, e := range evs {
		sizes[i] = len(e)
	}
	r.ret.Appended(first, sizes, modelSegSize)
}

// view is the model as the cursor and retention checks see it.
func (r *modelRun) view() modelcheck.View {
	return modelcheck.View{
		Low: r.m.lowID(), Next: r.m.next, Live: r.m.liveIDs, Count: len(r.m.ev),
		Bytes:  func(id uint64) []byte { return r.m.ev[id] },
		IsLive: func(id uint64) bool { _, ok := r.m.ev[id]; return ok },
	}
}

// closeHeld marks the held cursors as belonging to a closed log: they answer ErrClosed
// until an operation replaces them.
func (r *modelRun) closeHeld() {
	for _, h := range r.held {
		if h != nil {
			h.Closed = true
		}
	}
}

// retentionOp runs fn, an operation that may enforce retention (an append, Rotate), between
// the retention check's Before and After; the model then drops what retention removed.
func (r *modelRun) retentionOp(fn func()) {
	if err := r.ret.Before(r.l, r.ret.Policy); err != nil {
		r.fatalf("%v", err)
	}
	fn()
	r.retAfter(false)
}

func (r *modelRun) retAfter(set bool) {
	before := len(r.m.ev)
	o, err := r.ret.After(r.l, r.view(), r.cur, set, modelSegSize)
	if err != nil {
		r.fatalf("%v", err)
	}
	if !r.m.empty() && o > r.m.oldest {
		r.m.deleteRange(r.m.oldest, o-1)
		r.retRemoved += before - len(r.m.ev)
	}
}

// doSetRetention sets a random policy: mostly MaxEvents and/or MaxBytes (two segments or
// more), with or without KeepUnconsumed, sometimes a MaxAge that never expires, sometimes
// none (retention stops: mostly so in the phases where the log grows, so that the index
// still grows large), sometimes an invalid one (ErrInvalidOptions, nothing changes).
func (r *modelRun) doSetRetention() {
	var p mmaplog.Retention
	stop := 3
	if (r.op/400)%2 == 0 {
		stop = 7
	}
	switch k := r.rng.IntN(10); {
	case k < stop:
	case k == 2:
		p.MaxBytes = modelSegSize * uint64(r.rng.IntN(2)) // 0 or one segment: invalid
		if p.MaxBytes == 0 {
			p.MaxAge = -time.Second
		}
	default:
		switch r.rng.IntN(6) {
		case 0, 1, 2:
			p.MaxEvents = uint64(10 + r.rng.IntN(400))
		case 3:
			p.MaxEvents = uint64(1 + r.rng.IntN(10)) // less than a segment holds
		}
		if r.rng.IntN(2) == 0 || p.MaxEvents == 0 {
			p.MaxBytes = modelSegSize * uint64(2+r.rng.IntN(12))
		}
		if r.rng.IntN(4) == 0 {
			p.MaxAge = 24 * time.Hour
		}
		p.KeepUnconsumed = r.rng.IntN(2) == 0
	}
	r.what = fmt.Sprintf("SetRetention(%+v), live=%d oldest=%d next=%d", p, len(r.m.ev), r.m.oldest, r.m.next)
	ok, err := r.ret.Set(r.l, p, modelSegSize)
	if err != nil {
		r.fatalf("%v", err)
	}
	r.retAfter(ok)
}

// cursorName picks a name: mostly valid ones.
func (r *modelRun) cursorName() string {
	if r.rng.IntN(6) == 0 {
		return modelcheck.Names[modelcheck.NamesValid+r.rng.IntN(len(modelcheck.Names)-modelcheck.NamesValid)]
	}
	return modelcheck.Names[r.rng.IntN(modelcheck.NamesValid)]
}

// heldCursor returns a random held cursor slot and its cursor (nil: none held there).
func (r *modelRun) heldCursor() (int, *modelcheck.Held) {
	k := r.rng.IntN(len(r.held))
	return k, r.held[k]
}

func (r *modelRun) doCursorOpen() {
	name := r.cursorName()
	k := r.rng.IntN(len(r.held))
	r.what = fmt.Sprintf("Cursor(%q) into slot %d, low=%d", name, k, r.m.lowID())
	h, err := r.cur.Open(r.l, r.dir, name, r.view())
	if err != nil {
		r.fatalf("%v", err)
	}
	if h != nil {
		r.held[k] = h
	}
}

// doCursorCommit commits an id chosen around the position: the same (a no-op), ahead,
// backward (a *CursorBackwardError), NextEventID, far beyond it, or the oldest id.
func (r *modelRun) doCursorCommit() {
	k, h := r.heldCursor()
	if h == nil {
		r.doCursorOpen()
		return
	}
	pos, _ := r.cur.Position(h.Name)
	var id uint64
	switch r.rng.IntN(10) {
	case 8, 9: // anywhere in the live range
		lo := r.m.lowID()
		id = lo + r.rng.Uint64N(r.m.next-lo+1)
	case 0:
		id = pos
	case 1, 2:
		id = pos + 1 + r.rng.Uint64N(50)
	case 3, 4:
		id = pos - min(pos, 1+r.rng.Uint64N(5))
	case 5:
		id = r.m.next
	case 6:
		id = r.m.next + 1 + r.rng.Uint64N(1000)
	default:
		id = r.m.lowID()
	}
	r.what = fmt.Sprintf("Commit(%d) of %q (slot %d) at %d, closed %v", id, h.Name, k, pos, h.Closed)
	if err := r.cur.Commit(h, id); err != nil {
		r.fatalf("%v", err)
	}
}

// doCursorCatchUp moves every cursor below a random id x of the live range to x or a
// little past it, as consumers that caught up part of the way: under KeepUnconsumed,
// retention may then remove what lies below the lowest of them, and no more.
func (r *modelRun) doCursorCatchUp() {
	lo := r.m.lowID()
	x := lo + r.rng.Uint64N(r.m.next-lo+1)
	r.what = fmt.Sprintf("cursors catch up to %d; low=%d next=%d", x, lo, r.m.next)
	hs, err := r.cur.CatchUp(r.l, r.dir, x, r.view(), func() uint64 { return r.rng.Uint64N(20) })
	if err != nil {
		r.fatalf("%v", err)
	}
	for _, h := range hs {
		r.held[r.rng.IntN(len(r.held))] = h
	}
}

func (r *modelRun) doCursorLoad() {
	k, h := r.heldCursor()
	if h == nil {
		return
	}
	r.what = fmt.Sprintf("Load/Position of %q (slot %d), closed %v", h.Name, k, h.Closed)
	if err := r.cur.Load(h); err != nil {
		r.fatalf("%v", err)
	}
}

func (r *modelRun) doCursorList() {
	l := r.l
	r.what = "Cursors"
	if r.rng.IntN(2) == 0 {
		l, r.what = r.obs, "Cursors through the second handle"
	}
	if err := r.cur.List(l, r.m.next); err != nil {
		r.fatalf("%v", err)
	}
}

func (r *modelRun) doCursorDelete() {
	name := r.cursorName()
	r.what = fmt.Sprintf("DeleteCursor(%q)", name)
	if err := r.cur.Delete(r.l, r.dir, name); err != nil {
		r.fatalf("%v", err)
	}
}

// doCursorRead follows a held cursor without blocking (all of it, or a few events) and
// mostly commits what it read.
func (r *modelRun) doCursorRead() {
	k, h := r.heldCursor()
	if h == nil {
		r.doCursorOpen()
		return
	}
	n := 0
	if r.rng.IntN(2) == 0 {
		n = 1 + r.rng.IntN(40)
	}
	commit := r.rng.IntN(4) != 0
	pos, _ := r.cur.Position(h.Name)
	if !h.Closed && pos < r.m.lowID() {
		r.counts["CursorRead(behind)"]++
	}
	r.what = fmt.Sprintf("Follow of %q (slot %d) from %d, %d events (0: all), commit %v; low=%d next=%d", h.Name, k, pos, n, commit, r.m.lowID(), r.m.next)
	if err := r.cur.Read(h, n, commit, r.view()); err != nil {
		r.fatalf("%v", err)
	}
}

// doCursorFill fills the table: the cursors missing up to 256 are created, one more is
// ErrCursorTableFull and changes nothing, then they are deleted again.
func (r *modelRun) doCursorFill() {
	r.what = "fill the cursor table"
	var names []string
	for i := 0; r.cur.Len() < modelcheck.Capacity; i++ {
		name := fmt.Sprintf("fill-%d", i)
		if _, err := r.cur.Open(r.l, r.dir, name, r.view()); err != nil {
			r.fatalf("%v", err)
		}
		names = append(names, name)
	}
	for _, name := range []string{"one-too-many", "c0"} { // c0 may exist: then it opens
		if _, err := r.cur.Open(r.l, r.dir, name, r.view()); err != nil {
			r.fatalf("%v", err)
		}
	}
	if err := r.cur.List(r.obs, r.m.next); err != nil {
		r.fatalf("%v", err)
	}
	for _, name := range names {
		if err := r.cur.Delete(r.l, r.dir, name); err != nil {
			r.fatalf("%v", err)
		}
	}
}
