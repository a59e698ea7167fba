package fuzz

import (
	"fmt"
	"time"

	"github.com/ringlog/ringlog/internal/modelcheck"
	"github.com/ringlog/ringlog/mmaplog"
)

// The cursor and retention operations of FuzzOps and FuzzMultiHandle (flagExtOps). The
// cursor table is one model for every handle (it is one file); each handle keeps two
// cursors across operations. internal/modelcheck holds the model and the retention
// constraints, shared with mmaplog's model test.

// mview is the model as the cursor and retention checks see it.
func (r *runner) mview() modelcheck.View {
	m := r.m
	low := m.next
	if !m.empty() {
		low = m.oldest
	}
	return modelcheck.View{
		Low: low, Next: m.next, Live: m.liveIn, Count: len(m.live),
		Bytes:  func(id uint64) []byte { return m.live[id] },
		IsLive: func(id uint64) bool { _, ok := m.live[id]; return ok },
	}
}

// retAfter checks what retention removed around an operation of h and drops it from the
// model.
func (r *runner) retAfter(h *handle, set bool) {
	o, err := r.ret.After(h.l, r.mview(), r.cur, set, opsSegmentSize)
	if err != nil {
		r.fatalf("%v", err)
	}
	if !r.m.empty() && o > r.m.oldest {
		r.tracef("   retention removed [%d, %d)", r.m.oldest, o)
		r.m.deleteRange(r.m.oldest, o-1)
	}
}

// cursorName: name byte, an index into modelcheck.Names.
func (r *runner) cursorName() string {
	return modelcheck.Names[int(r.d.u8())%len(modelcheck.Names)]
}

// Commit id kinds.
const (
	commitSame     = iota // the position: a no-op
	commitAhead           // position + 1 + k
	commitBackward        // position - 1 - k: a *CursorBackwardError (when the position is above 0)
	commitNext            // NextEventID
	commitBeyond          // NextEventID + 1 + k: allowed
	commitOldest          // the oldest id (NextEventID when empty)
	commitAny             // an id selector
	numCommitKinds
)

func (r *runner) cursorStep(h *handle, hi int, op opKind) {
	switch op {
	case opCursorOpen:
		// slot byte, name byte
		slot := int(r.d.u8() % 2)
		name := r.cursorName()
		r.tracef("h%d Cursor(%q) into slot %d", hi, name, slot)
		c, err := r.cur.Open(h.l, r.dir, name, r.mview())
		if err != nil {
			r.fatalf("%v", err)
		}
		if c != nil {
			h.curs[slot] = c
		}
	case opCursorCommit:
		// slot byte, kind byte, k byte (an id selector for commitAny)
		c := h.curs[r.d.u8()%2]
		kind := r.d.u8() % numCommitKinds
		var k, any uint64
		if kind == commitAny {
			any = r.pickID()
		} else {
			k = uint64(r.d.u8())
		}
		if c == nil {
			r.tracef("h%d Commit: no cursor held", hi)
			return
		}
		pos, _ := r.cur.Position(c.Name)
		v := r.mview()
		var id uint64
		switch kind {
		case commitSame:
			id = pos
		case commitAhead:
			id = pos + 1 + k
		case commitBackward:
			id = pos - min(pos, 1+k)
		case commitNext:
			id = v.Next
		case commitBeyond:
			id = v.Next + 1 + k
		case commitOldest:
			id = v.Low
		default:
			id = any
		}
		r.tracef("h%d Commit(%d) of %q at %d (closed %v)", hi, id, c.Name, pos, c.Closed)
		if err := r.cur.Commit(c, id); err != nil {
			r.fatalf("%v", err)
		}
	case opCursorLoad:
		// slot byte
		c := h.curs[r.d.u8()%2]
		r.tracef("h%d Load (held %v)", hi, c != nil)
		if c != nil {
			if err := r.cur.Load(c); err != nil {
				r.fatalf("%v", err)
			}
		}
	case opCursorList:
		r.tracef("h%d Cursors", hi)
		if err := r.cur.List(h.l, r.m.next); err != nil {
			r.fatalf("%v", err)
		}
	case opCursorDelete:
		// name byte
		name := r.cursorName()
		r.tracef("h%d DeleteCursor(%q)", hi, name)
		if err := r.cur.Delete(h.l, r.dir, name); err != nil {
			r.fatalf("%v", err)
		}
	case opCursorRead:
		// slot byte, max byte (0: to the tail), flags byte (bit 0: commit what was read)
		c := h.curs[r.d.u8()%2]
		n, commit := int(r.d.u8()), r.d.u8()&1 != 0
		r.tracef("h%d Follow (held %v) max %d commit %v", hi, c != nil, n, commit)
		if c != nil {
			if err := r.cur.Read(c, n, commit, r.mview()); err != nil {
				r.fatalf("%v", err)
			}
		}
	case opCursorCatchUp:
		// x byte (oldest + x*span/256), jitter byte
		v := r.mview()
		x := v.Low + uint64(r.d.u8())*r.m.span()/256
		jitter := uint64(r.d.u8() % 16)
		r.tracef("h%d cursors catch up to %d (+%d)", hi, x, jitter)
		hs, err := r.cur.CatchUp(h.l, r.dir, x, v, func() uint64 { return jitter })
		if err != nil {
			r.fatalf("%v", err)
		}
		for i, c := range hs {
			h.curs[i%2] = c
		}
	case opSetRetention:
		r.setRetention(h, hi)
	}
}

// Retention policy bits of opSetRetention's kind byte.
const (
	retMaxEvents = 1 << 0 // MaxEvents = a + 1
	retMaxBytes  = 1 << 1 // MaxBytes = (2 + b%8) segments
	retKeep      = 1 << 2 // KeepUnconsumed
	retMaxAge    = 1 << 3 // MaxAge 24h (never expires during an input)
	retInvalid   = 1 << 4 // MaxBytes of one segment, or a negative MaxAge: ErrInvalidOptions
)

// setRetention: kind byte (ret* bits; none of the first two: no retention), a byte, b byte.
func (r *runner) setRetention(h *handle, hi int) {
	kind, a, b := r.d.u8(), r.d.u8(), r.d.u8()
	var p mmaplog.Retention
	if kind&retMaxEvents != 0 {
		p.MaxEvents = uint64(a) + 1
	}
	if kind&retMaxBytes != 0 {
		p.MaxBytes = uint64(2+b%8) * opsSegmentSize
	}
	p.KeepUnconsumed = kind&retKeep != 0
	if kind&retMaxAge != 0 {
		p.MaxAge = 24 * time.Hour
	}
	if kind&retInvalid != 0 {
		if b&1 == 0 {
			p.MaxBytes = opsSegmentSize
		} else {
			p.MaxAge = -time.Duration(a) - 1
		}
	}
	r.tracef("h%d SetRetention(%s)", hi, fmt.Sprintf("%+v", p))
	ok, err := r.ret.Set(h.l, p, opsSegmentSize)
	if err != nil {
		r.fatalf("%v", err)
	}
	r.retAfter(h, ok)
}
