package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/ringlog/ringlog/mmaplog"
)

// dumpCommand is "ringlog dump": events in id order, past damage.
func dumpCommand() *command {
	c := newCommand("dump", "DIR|FILE [--from ID] [--to ID] [--format text|hex|json|raw]", "print events in id order", 1, 1)
	from := c.flags.Uint64("from", 0, "first `id` to print")
	to := c.flags.Uint64("to", math.MaxUint64, "last `id` to print (inclusive; default: the newest)")
	format := c.flags.String("format", "text", formatHelp)
	c.detail = `
Prints the live events of the log in DIR with ids in [--from, --to], in id order. A
damaged record is reported on stderr with its file and offset, and the dump goes on with
the next readable event; the exit status is then 1.

FILE may be a single segment file, e.g. a sealed segment archived out of its log
(mmaplog.ReadSegment): its records are printed in the order they were written.
Opens the log read-only.`
	c.example = `
$ ringlog dump /var/lib/app/events --from 100 --to 102
100	5	"hello"
101	5	"world"
102	0	""
$ ringlog dump /archive/seg-0000000000000003 --format json`
	c.run = func(e *env, args []string) error {
		if *from > *to {
			return usagef("--from %d is after --to %d", *from, *to)
		}
		ew, err := newEventWriter(e.stdout, *format)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(args[0]); err == nil && fi.Mode().IsRegular() {
			return dumpSegmentFile(e, ew, args[0], *from, *to)
		}
		return dumpLog(e, ew, args[0], *from, *to)
	}
	return c
}

// dumpLog prints the live events of [from, to] of the log in dir, reporting damaged
// records on stderr and going on after each.
func dumpLog(e *env, ew *eventWriter, dir string, from, to uint64) (err error) {
	l, err := openRead(dir)
	if err != nil {
		return err
	}
	defer closeLog(l, &err)
	end := mmaplog.Latest
	if to < mmaplog.Latest-1 {
		end = to + 1
	}
	var dr damageReporter
	next := from
	for {
		it, err := l.IterRange(next, end)
		if err != nil {
			return err
		}
		for id, v := range it.All() {
			if err := ew.write(id, v); err != nil {
				return err
			}
			next = id + 1
		}
		iterErr := it.Err()
		if iterErr == nil {
			break
		}
		if !errors.Is(iterErr, mmaplog.ErrCorrupt) {
			return iterErr
		}
		bad, badErr, found := firstUnreadable(l, next, min(end, nextID(l)))
		if !found {
			dr.report(e, "", iterErr)
			break
		}
		what := fmt.Sprintf("event %d: ", bad)
		if strings.Contains(badErr.Error(), what) {
			what = "" // the error names the event already
		}
		dr.report(e, what, badErr)
		next = bad + 1
	}
	dr.done(e)
	return dr.result()
}

// nextID is the log's NextEventID (0 on error).
func nextID(l *mmaplog.Log) uint64 {
	n, _ := l.NextEventID()
	return n
}

// firstUnreadable finds the first id in [from, end) whose event exists but cannot be read
// (ErrCorrupt), after an iterator stopped with ErrCorrupt.
func firstUnreadable(l *mmaplog.Log, from, end uint64) (uint64, error, bool) {
	for id := from; id < end; id++ {
		err := l.View(id, func([]byte) error { return nil })
		if errors.Is(err, mmaplog.ErrCorrupt) {
			return id, err, true
		}
	}
	return 0, nil, false
}

// dumpSegmentFile prints the records of one segment file whose ids are in [from, to].
// ReadSegment yields the damage of a record just before the next valid record, and an
// error about the file as a whole as its only item: so an error followed by a record is
// reported and skipped, one at the end is the command's error.
func dumpSegmentFile(e *env, ew *eventWriter, path string, from, to uint64) error {
	var dr damageReporter
	var pending error
	for rec, err := range mmaplog.ReadSegment(path) {
		if err != nil {
			pending = err
			continue
		}
		if pending != nil {
			dr.report(e, "", pending)
			pending = nil
		}
		if rec.ID >= from && rec.ID <= to {
			if err := ew.write(rec.ID, rec.Data); err != nil {
				return err
			}
		}
	}
	if pending != nil {
		return pending
	}
	dr.done(e)
	return dr.result()
}

// damageReporter prints each damaged record on stderr, folding a run of identical
// messages (every event of a segment whose header is damaged) into one line and a count.
type damageReporter struct {
	n        int    // damaged records found
	last     string // the last message printed
	repeated int    // times last repeated since it was printed
}

// any reports whether a damaged record was reported.
func (d *damageReporter) any() bool { return d.n > 0 }

// report prints the damage err of one record, prefixed with what names the record; an
// error identical to the previous one is only counted.
func (d *damageReporter) report(e *env, what string, err error) {
	d.n++
	msg := err.Error()
	if msg == d.last {
		d.repeated++
		return
	}
	d.done(e)
	e.flush() // keep stdout and stderr in order on a terminal
	fmt.Fprintf(e.stderr, "ringlog dump: damaged: %s%s\n", what, oneLine(err))
	d.last = msg
}

// done prints the count of folded repetitions, if any.
func (d *damageReporter) done(e *env) {
	if d.repeated > 0 {
		fmt.Fprintf(e.stderr, "ringlog dump: damaged: %d more events for the same reason\n", d.repeated)
		d.repeated = 0
	}
}

// result is the command's error: a damageError when anything was damaged.
func (d *damageReporter) result() error {
	if d.n == 0 {
		return nil
	}
	return &damageError{fmt.Sprintf("%s skipped (listed above)", plural(uint64(d.n), "damaged record"))}
}
