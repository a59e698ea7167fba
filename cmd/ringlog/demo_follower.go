package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// followerReport is how often the follower tells its parent how far it got.
const followerReport = 100 * time.Millisecond

// runDemoFollower is the demo-follower role: args are DIR. It follows the log from id 0
// with Follow, checks every event (ids dense, each event valid, each writer's seqs in
// order), and measures for each event the time from its writer's Append returning to the
// follower having it. It reports on stdout: "ready", then "seen N LAG P50 P99 MAX" lines, then
// after "stop NEXT" on stdin and every id below NEXT seen, "problem ..." lines and
// "done N P50 P99 MAX SAMPLES".
func runDemoFollower(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("want DIR, got %q", args)
	}
	l, err := mmaplog.Open(args[0], &mmaplog.Options{NoPrefault: true})
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopAt, seenNext atomic.Uint64 // stopAt 0: not yet told
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "stop "); ok {
				v, _ := strconv.ParseUint(n, 10, 64)
				stopAt.Store(v + 1) // +1: "stop 0" is a valid stop
				if seenNext.Load() >= v {
					cancel()
				}
			}
		}
		cancel() // the parent went away
	}()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	f := follower{streams: map[streamKey]*streamPos{}}
	// A reporter goroutine tells the parent, every followerReport, how far the follower
	// is and how far behind the log's next id (its own load of it: the parent's would add
	// the delay of the report). The loop below publishes its figures in atomics.
	var p50, p99, maxNs atomic.Int64
	reporting := make(chan struct{})
	reported := make(chan struct{})
	go func() {
		defer close(reported)
		t := time.NewTicker(followerReport)
		defer t.Stop()
		for {
			select {
			case <-reporting:
				return
			case <-t.C:
			}
			seen := seenNext.Load()
			next, _ := l.NextEventID()
			fmt.Fprintf(out, "seen %d %d %d %d %d\n", seen, next-min(next, seen), p50.Load(), p99.Load(), maxNs.Load())
			out.Flush()
		}
	}()
	it := l.Follow(ctx, 0)
	for it.Next() {
		f.take(it.ID(), it.Value(), monoNow())
		seenNext.Store(f.next)
		if s := stopAt.Load(); s != 0 && f.next >= s-1 {
			break
		}
		if f.seen%4096 == 0 {
			p50.Store(int64(f.lat.quantile(0.5)))
			p99.Store(int64(f.lat.quantile(0.99)))
			maxNs.Store(f.lat.max)
		}
	}
	it.Close()
	close(reporting)
	<-reported
	if s := stopAt.Load(); s == 0 || f.next < s-1 {
		f.problem("stopped at id %d before the end (%v)", f.next, it.Err())
	}
	for _, p := range f.problems {
		fmt.Fprintf(out, "problem %s\n", p)
	}
	fmt.Fprintf(out, "done %d %d %d %d %d\n", f.seen, f.lat.quantile(0.5), f.lat.quantile(0.99), f.lat.max, f.lat.n)
	return out.Flush()
}

// follower is the follower's view of the log: the next id it expects, each stream's last
// event, and the latencies.
type follower struct {
	next     uint64
	seen     uint64
	streams  map[streamKey]*streamPos
	lat      histogram
	problems []string
}

// streamPos is the last event of a stream the follower saw and when.
type streamPos struct {
	seq  uint64
	when int64
}

// take checks one event seen at now (CLOCK_MONOTONIC ns).
func (f *follower) take(id uint64, b []byte, now int64) {
	if id != f.next {
		f.problem("ids not dense: event %d after %d", id, f.next-1)
	}
	f.next = id + 1
	f.seen++
	d, err := parseDemoEvent(b)
	if err != nil {
		f.problem("event %d: %v", id, err)
		return
	}
	p := f.streams[d.stream()]
	switch {
	case p == nil && d.seq != 0:
		f.problem("event %d: writer %d/%d starts at seq %d", id, d.writer, d.inc, d.seq)
	case p != nil && d.seq != p.seq+1:
		f.problem("event %d: writer %d/%d seq %d after %d", id, d.writer, d.inc, d.seq, p.seq)
	case p != nil:
		// This event carries the time the previous one's Append returned.
		f.lat.add(p.when - d.prevReturn)
	}
	if p == nil {
		p = &streamPos{}
		f.streams[d.stream()] = p
	}
	p.seq, p.when = d.seq, now
}

// problem records what is wrong (the first 20).
func (f *follower) problem(format string, args ...any) {
	if len(f.problems) < 20 {
		f.problems = append(f.problems, fmt.Sprintf(format, args...))
	}
}
