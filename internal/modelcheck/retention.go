package modelcheck

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ringlog/ringlog/internal/record"
	"github.com/ringlog/ringlog/mmaplog"
)

// segHeader is the size of a segment header: the first record of a segment starts there.
const segHeader = 64

// NeverExpires is the smallest MaxAge the checks accept: a bound no segment reaches
// during a test.
const NeverExpires = time.Hour

// Retention is the model of a log's retention policy and counters.
type Retention struct {
	Policy mmaplog.Retention
	// Events, Segments and Bytes are the counters retention must show (Stats).
	Events, Segments, Bytes uint64

	// Limited and Capped count the enforcements in which a cursor (KeepUnconsumed) lowered
	// the cut, and in which the newest event's segment stopped it: coverage, for the log.
	Limited, Capped int

	armed  bool
	before mmaplog.Stats
	segs   []segRange // live ids by segment, before the operation, then the predicted appends
	seq    uint64     // where the next appended record goes
	off    uint64
}

// segRange is the live ids [first, last] whose records lie in segment seq.
type segRange struct{ seq, first, last uint64 }

// Before runs before an operation that may enforce retention, with the policy that will
// be in force (the new one for SetRetention). With a policy it takes the layout of the
// live events (Log.Inspect) and Stats.
func (r *Retention) Before(l *mmaplog.Log, p mmaplog.Retention) error {
	r.armed = false
	if p.MaxAge > 0 && p.MaxAge < NeverExpires {
		return fmt.Errorf("modelcheck: MaxAge %v would expire during the test", p.MaxAge)
	}
	if p.IsZero() {
		return nil
	}
	in, err := l.Inspect()
	if err != nil {
		return fmt.Errorf("Inspect: %v", err)
	}
	if r.before, err = l.Stats(); err != nil {
		return fmt.Errorf("Stats: %v", err)
	}
	r.segs = r.segs[:0]
	for _, s := range in.Segments {
		if s.Events > 0 {
			r.segs = append(r.segs, segRange{s.Seq, s.FirstID, s.LastID})
		}
	}
	r.seq, r.off = in.Meta.ActiveSegment, in.Meta.WriteOffset
	r.armed = true
	return nil
}

// Appended tells r that events first.. with these payload sizes were appended (one
// successful append call), so that it predicts their segments: each record goes at the
// write offset, or at the start of the next segment when it does not fit.
func (r *Retention) Appended(first uint64, sizes []int, segSize uint64) {
	if !r.armed {
		return
	}
	for i, n := range sizes {
		size := record.Size(n)
		if r.off+size > segSize {
			r.seq, r.off = r.seq+1, segHeader
		}
		r.off += size
		id := first + uint64(i)
		if k := len(r.segs) - 1; k >= 0 && r.segs[k].seq == r.seq {
			r.segs[k].last = id
		} else {
			r.segs = append(r.segs, segRange{r.seq, id, id})
		}
	}
}

// segOf returns the segments an id in the live span may lie in: exact for an id between
// the first and last live ids of a segment, else those of its live neighbours.
func (r *Retention) segOf(id uint64) (lo, hi uint64) {
	i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].last >= id })
	switch {
	case i == len(r.segs): // a tombstone after the newest event (a suffix delete left it)
		return r.segs[len(r.segs)-1].seq, max(r.segs[len(r.segs)-1].seq, r.seq)
	case r.segs[i].first <= id || i == 0:
		return r.segs[i].seq, r.segs[i].seq
	}
	return r.segs[i-1].seq, r.segs[i].seq
}

// After checks what the operation removed. v is the model after the operation's own
// effect (the appends applied), cursors the model's cursor table, setRetention whether
// the operation was SetRetention. It returns the oldest id the log keeps: the model
// drops the live ids below it (a prefix delete), which After has counted into the
// expected counters.
func (r *Retention) After(l *mmaplog.Log, v View, cursors *Cursors, setRetention bool, segSize uint64) (uint64, error) {
	st, err := l.Stats()
	if err != nil {
		return 0, fmt.Errorf("Stats: %v", err)
	}
	if v.Count == 0 {
		return v.Low, r.checkLayout(l) // nothing to remove; the caller compares the rest
	}
	o := st.OldestEventID
	if st.EventCount == 0 || o < v.Low || !v.IsLive(o) {
		return 0, fmt.Errorf("retention: oldest is %d (%d events), want a live id of the model from %d on: the log must keep a suffix of the model's events",
			o, st.EventCount, v.Low)
	}
	enforced := r.armed && (setRetention || st.ActiveSegment != r.before.ActiveSegment)
	if !enforced {
		if o != v.Low {
			return 0, fmt.Errorf("retention removed [%d, %d) without a turnover (policy %+v announced %v, active segment %d before, %d after)",
				v.Low, o, r.Policy, r.armed, r.before.ActiveSegment, st.ActiveSegment)
		}
		return o, r.checkLayout(l)
	}
	if len(r.segs) == 0 {
		return 0, fmt.Errorf("Inspect showed no segment with live events for %d live events", v.Count)
	}
	p := r.Policy
	newest := v.Next - 1
	for !v.IsLive(newest) {
		newest--
	}
	first, _ := r.segOf(v.Low)
	last, _ := r.segOf(newest)
	segO, _ := r.segOf(o)
	// The cut the policy asks for, as a range [cutLo, cutHi] of the last segment to go
	// (below first: nothing), computed as docs/FORMAT.md section 5.7 says.
	none := int64(first) - 1
	bytesCut := none
	if n := st.ActiveSegment - first + 1; p.MaxBytes != 0 && n*segSize > p.MaxBytes {
		bytesCut = int64(first + n - p.MaxBytes/segSize - 1)
	}
	evLo, evHi := none, none
	if p.MaxEvents != 0 && uint64(v.Count) > p.MaxEvents {
		lo, hi := r.segOf(v.Next - 1 - p.MaxEvents)
		evLo, evHi = int64(lo), int64(hi)
	}
	low, any := cursors.Lowest()
	if p.KeepUnconsumed && any && low < v.Next && evHi > none {
		if low <= v.Low {
			evLo, evHi = none, none
		} else {
			// The last segment before the one of low; before first: nothing.
			lo, hi := r.segOf(low)
			kLo, kHi := max(int64(lo)-1, none), max(int64(hi)-1, none)
			if kHi < evHi {
				r.Limited++
			}
			evLo, evHi = min(evLo, kLo), min(evHi, kHi)
		}
	}
	if max(bytesCut, evLo) >= int64(last) {
		r.Capped++
	}
	cutLo := min(max(bytesCut, evLo), int64(last)-1)
	cutHi := min(max(bytesCut, evHi), int64(last)-1)
	segTop := int64(first) - 1 // the segment of the largest live id removed
	removedTop := o            // that id (o: none)
	if o > v.Low {
		for removedTop = o - 1; !v.IsLive(removedTop); removedTop-- {
		}
		s, _ := r.segOf(removedTop)
		segTop = int64(s)
	}
	what := fmt.Sprintf("retention removed [%d, %d) (through segment %d, kept from segment %d) under %+v; the policy asks for a cut through segment %d..%d (first %d, active %d, newest's %d, %d live, next %d, lowest cursor %d/%v)",
		v.Low, o, segTop, segO, p, cutLo, cutHi, first, st.ActiveSegment, last, v.Count, v.Next, low, any)
	switch {
	case segTop >= int64(segO):
		return 0, fmt.Errorf("%s: event %d and the kept %d share a segment: not whole segments", what, removedTop, o)
	case segTop >= int64(last):
		return 0, fmt.Errorf("%s: the newest event's segment went", what)
	case segTop > cutHi:
		return 0, fmt.Errorf("%s: too much", what)
	case int64(segO) <= cutLo:
		return 0, fmt.Errorf("%s: too little", what)
	case p.KeepUnconsumed && any && o > v.Low && removedTop >= low && segTop > bytesCut:
		return 0, fmt.Errorf("%s: event %d was past the cursor and MaxBytes did not ask for it", what, removedTop)
	}
	if o > v.Low {
		events := 0
		for id := v.Low; id < o; id++ {
			if v.IsLive(id) {
				events++
			}
		}
		r.Events += uint64(events)
		r.Segments += segO - first
		r.Bytes += (segO - first) * segSize
	}
	if st.SegmentCount != st.ActiveSegment-segO+1 {
		return 0, fmt.Errorf("after retention: SegmentCount %d, want active %d - first live segment %d + 1", st.SegmentCount, st.ActiveSegment, segO)
	}
	return o, r.checkLayout(l)
}

// checkLayout compares the segments Inspect shows for the live events with the layout
// taken before and the predicted appends (records never move: invariant 3).
func (r *Retention) checkLayout(l *mmaplog.Log) error {
	if !r.armed {
		return nil
	}
	r.armed = false
	in, err := l.Inspect()
	if err != nil {
		return fmt.Errorf("Inspect: %v", err)
	}
	for _, s := range in.Segments {
		if s.Events == 0 {
			continue
		}
		for _, id := range []uint64{s.FirstID, s.LastID} {
			if lo, hi := r.segOf(id); lo != s.Seq || hi != s.Seq {
				return fmt.Errorf("Inspect: event %d in segment %d, the model put it in %d..%d (layout %v)", id, s.Seq, lo, hi, r.segs)
			}
		}
	}
	return nil
}

// Set runs l.SetRetention(p) after Before; the caller then calls After with
// setRetention = valid. An invalid policy (MaxBytes below two segments, a negative
// MaxAge) is ErrInvalidOptions and changes nothing: After then accepts no removal.
func (r *Retention) Set(l *mmaplog.Log, p mmaplog.Retention, segSize uint64) (valid bool, err error) {
	if err := r.Before(l, p); err != nil {
		return false, err
	}
	got := l.SetRetention(p)
	if p.MaxAge < 0 || (p.MaxBytes != 0 && p.MaxBytes < 2*segSize) {
		r.armed = false
		if !errors.Is(got, mmaplog.ErrInvalidOptions) {
			return false, fmt.Errorf("SetRetention(%+v) = %v, want ErrInvalidOptions", p, got)
		}
		return false, nil
	}
	if got != nil {
		return false, fmt.Errorf("SetRetention(%+v): %v", p, got)
	}
	r.Policy = p
	return true, nil
}

// CheckStats compares the policy and counters of Stats with the model.
func (r *Retention) CheckStats(st mmaplog.Stats) error {
	if st.Retention != r.Policy || st.RetentionRemovedEvents != r.Events || st.RetentionRemovedSegments != r.Segments || st.RetentionReclaimedBytes != r.Bytes {
		return fmt.Errorf("Stats retention %+v removed events %d segments %d bytes %d; want %+v %d %d %d",
			st.Retention, st.RetentionRemovedEvents, st.RetentionRemovedSegments, st.RetentionReclaimedBytes, r.Policy, r.Events, r.Segments, r.Bytes)
	}
	return nil
}
