package main

import (
	"bytes"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// verdict is the outcome of the demo's verification.
type verdict struct {
	events      uint64 // in the log
	acked       uint64 // acknowledged to the parent, all present with their exact bytes
	unacked     uint64 // in the log, appended by writers killed before they reported them
	lost        uint64 // acknowledged but not in the log
	perSlot     map[uint8]uint64
	bytesOnDisk uint64
	segments    int
	checked     uint64
	checkOK     bool
	failures    []string // the first ones
	nFailed     int      // all of them
}

// fail records one failure (the first ten are kept, all are counted).
func (v *verdict) fail(format string, args ...any) {
	v.nFailed++
	if len(v.failures) < 10 {
		v.failures = append(v.failures, fmt.Sprintf(format, args...))
	}
}

// failureLine renders the failures on one line: the first three and how many more.
func (v *verdict) failureLine() string {
	line := strings.Join(v.failures[:min(3, len(v.failures))], "; ")
	if v.nFailed > 3 {
		line += fmt.Sprintf("; and %d more", v.nFailed-3)
	}
	return line
}

// verify reads the whole log back and checks, against what the writers acknowledged:
// ids dense from 0 to the last; each writer incarnation's events in seq order, each
// once; every acknowledged event at the id it was acknowledged with and with exactly the
// bytes it was built with; the follower's own checks; and Check.
func (d *demo) verify() verdict {
	v := verdict{perSlot: map[uint8]uint64{}}
	acks := map[streamKey][]ack{}
	for _, w := range d.writers {
		w.mu.Lock()
		for inc, a := range w.acks {
			acks[streamKey{w.slot, inc}] = a
		}
		w.mu.Unlock()
	}
	st, err := d.l.Stats()
	if err != nil {
		v.fail("stats: %v", err)
		return v
	}
	it, err := d.l.IterRange(0, mmaplog.Latest)
	if err != nil {
		v.fail("iterate: %v", err)
		return v
	}
	next := map[streamKey]uint64{}
	var expect uint64
	var buf []byte
	for id, b := range it.All() {
		if id != expect {
			v.fail("ids not dense: event %d follows %d", id, int64(expect)-1)
		}
		expect = id + 1
		v.events++
		ev, err := parseDemoEvent(b)
		if err != nil {
			v.fail("event %d: %v", id, err)
			continue
		}
		k := ev.stream()
		if ev.seq != next[k] {
			v.fail("event %d: writer %d run %d seq %d where seq %d was due (a duplicate or a gap)", id, k.writer, k.inc, ev.seq, next[k])
		}
		next[k] = max(next[k], ev.seq+1)
		v.perSlot[k.writer]++
		as := acks[k]
		if ev.seq >= uint64(len(as)) {
			v.unacked++
			continue
		}
		a := as[ev.seq]
		buf = demoEvent{writer: k.writer, inc: k.inc, seq: ev.seq, prevReturn: a.prevReturn}.appendTo(buf[:0])
		switch {
		case a.id != id:
			v.fail("writer %d run %d seq %d was acknowledged as id %d but is at id %d", k.writer, k.inc, ev.seq, a.id, id)
		case !bytes.Equal(b, buf):
			v.fail("event %d: bytes differ from what writer %d run %d appended as seq %d", id, k.writer, k.inc, ev.seq)
		default:
			v.acked++
		}
	}
	if err := it.Err(); err != nil {
		v.fail("reading the log back: %v", err)
	}
	if expect != st.NextEventID || st.EventCount != v.events || st.OldestEventID != 0 {
		v.fail("ids not dense: %d events read, ids up to %d, but the log says %d events, oldest %d, next %d", v.events, int64(expect)-1, st.EventCount, st.OldestEventID, st.NextEventID)
	}
	for k, as := range acks {
		if n := uint64(len(as)); next[k] < n {
			v.lost += n - next[k]
			v.fail("%d events acknowledged by writer %d run %d are missing", n-next[k], k.writer, k.inc)
		}
	}
	v.bytesOnDisk, v.segments = st.TotalBytes, st.FileCount
	rep, err := d.l.Check()
	switch {
	case err != nil:
		v.fail("check: %v", err)
	case !rep.OK():
		v.fail("check: %d problems, the first: %s", len(rep.Problems), rep.Problems[0])
	default:
		v.checked, v.checkOK = rep.Events, true
	}
	f := d.fol.final
	for _, p := range f.problems {
		v.fail("follower: %s", p)
	}
	if f.seen != v.events {
		v.fail("the follower saw %d events, the log holds %d", f.seen, v.events)
	}
	return v
}

// summary prints the table of the run.
func (d *demo) summary(v verdict) {
	out := d.e.stdout
	secs := d.elapsed.Seconds()
	fmt.Fprintf(out, "summary: %.1f s of appends by 3 writer processes, %d SIGKILLs\n", secs, len(d.kills))
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  writer\tmode\truns\tacknowledged\tin the log\tevents/s\tIDError retries\t")
	var acked uint64
	for _, w := range d.writers {
		n := w.acked.Load()
		acked += n
		fmt.Fprintf(tw, "  %d\t%s\t%d\t%s\t%s\t%s\t%s\t\n", w.slot, w.mode, w.inc, count(n), count(v.perSlot[w.slot]), rate(float64(v.perSlot[w.slot])/secs), count(w.retries.Load()))
	}
	fmt.Fprintf(tw, "  total\t\t\t%s\t%s\t%s\t\t\n", count(acked), count(v.events), rate(float64(v.events)/secs))
	tw.Flush()
	for i, k := range d.kills {
		held := "not holding the lock"
		if k.heldLock {
			held = "holding the lock"
		}
		fmt.Fprintf(out, "kill %d    writer %d (%s) at %v, %s; writer %d appended the next event %s later; restart's Open %s\n",
			i+1, k.slot, k.mode, k.at, held, k.takeover, duration(k.takeoverIn), duration(k.reopen))
	}
	f := d.fol.final
	fmt.Fprintf(out, "follower  %s events; Append return -> follower wake-up: p50 %s, p99 %s, max %s (%s samples)\n",
		count(f.seen), duration(time.Duration(f.p50)), duration(time.Duration(f.p99)), duration(time.Duration(f.maxNs)), count(f.samples))
	fmt.Fprintf(out, "disk      %s in %d segment files of %s\n", size(v.bytesOnDisk), v.segments, size(demoSegmentSize))
	fmt.Fprintf(out, "verified  ids dense 0..%d; %s acknowledged events present once with their exact bytes, %d lost;\n",
		int64(v.events)-1, count(v.acked), v.lost)
	fmt.Fprintf(out, "          %s more that the killed writers appended but had not reported, intact; Check: %s events, %s\n",
		count(v.unacked), count(v.checked), map[bool]string{true: "clean", false: "PROBLEMS"}[v.checkOK])
}
