package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// benchCommand is "ringlog bench": a short self-measure beside the machine's limits.
func benchCommand() *command {
	c := newCommand("bench", "[--dir D] [--duration 10s]", "measure ringlog on this machine beside the limits that bound it", 0, 0)
	dir := c.flags.String("dir", "", "measure in a new directory inside `D` (the file system to measure; default $TMPDIR); it is removed at the end")
	dur := c.flags.Duration("duration", 10*time.Second, "about how long the whole measurement takes")
	c.detail = `
A short self-measure: appends (flock per call and HoldLock), a batch of 100, random Get
and iteration over 200,000 events, and a durable append (Append + Sync), all of 128-byte
events, each beside the machine limit it is bounded by, measured in the same run: a
flock(2) lock + unlock pair, a memcpy into a prefaulted shared mapping, a random read
from a mapping, a sequential read, pwrite 4 KiB + fdatasync. The ratio is ringlog's time
over the limit's. For figures to quote, use the Go benchmarks (make bench): this machine
may be shared and noisy.`
	c.example = `
$ ringlog bench --duration 5s
$ ringlog bench --dir /mnt/nvme --duration 20s`
	c.run = func(e *env, args []string) error {
		if *dur <= 0 {
			return usagef("--duration %v: want a positive duration", *dur)
		}
		parent := *dir
		if parent == "" {
			parent = os.TempDir()
		}
		work, err := os.MkdirTemp(parent, "ringlog-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		return runBench(e, work, *dur)
	}
	return c
}

// benchRow is one line of the bench table.
type benchRow struct {
	what, bound   string
	perOp, limit  time.Duration
	limitMeasured bool
}

// benchEventSize is the payload size of every bench event.
const benchEventSize = 128

// runBench measures in work for about dur and prints the table.
func runBench(e *env, work string, dur time.Duration) error {
	budget := dur / 12 // six ringlog figures and six limits
	fmt.Fprintf(e.stdout, "ringlog bench: %s/%s, %d CPUs, %s, in %s, about %v\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), work, dur)
	e.flush()
	ev := make([]byte, benchEventSize)
	for i := range ev {
		ev[i] = byte(i)
	}
	lim, limErr := newLimits(work)
	if limErr == nil {
		defer lim.close()
	}
	limit := func(f func(int) error) (time.Duration, bool) {
		if limErr != nil {
			return 0, false
		}
		d, err := measure(budget, 1<<20, f, nil)
		return d, err == nil
	}
	var rows []benchRow
	add := func(what, bound string, ours time.Duration, lf func(int) error) {
		l, ok := limit(lf)
		rows = append(rows, benchRow{what: what, bound: bound, perOp: ours, limit: l, limitMeasured: ok})
		fmt.Fprintf(e.stderr, "bench: %s: %s\n", what, duration(ours))
	}

	perCall, err := benchLog(filepath.Join(work, "percall"), nil)
	if err != nil {
		return err
	}
	defer perCall.Close()
	d, err := measure(budget, 100_000, func(n int) error { return appendN(perCall, ev, n) }, trim(perCall))
	if err != nil {
		return err
	}
	add("Append 128 B, flock per call", "flock(2) lock + unlock", d, lim.flockPair)

	held, err := benchLog(filepath.Join(work, "held"), &mmaplog.Options{HoldLock: true})
	if err != nil {
		return err
	}
	defer held.Close()
	d, err = measure(budget, 200_000, func(n int) error { return appendN(held, ev, n) }, trim(held))
	if err != nil {
		return err
	}
	add("Append 128 B, HoldLock", "memcpy 128 B into a shared mapping", d, lim.copyInto(benchEventSize))

	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = ev
	}
	d, err = measure(budget, 2_000, func(n int) error {
		for range n {
			if _, err := perCall.AppendBatch(batch); err != nil {
				return err
			}
		}
		return nil
	}, trim(perCall))
	if err != nil {
		return err
	}
	add("AppendBatch 100 x 128 B", "memcpy 12.8 KB into a shared mapping", d, lim.copyInto(100*benchEventSize))

	const readN = 200_000
	reads, err := benchLog(filepath.Join(work, "reads"), nil)
	if err != nil {
		return err
	}
	defer reads.Close()
	for i := 0; i < readN; i += len(batch) {
		if _, err := reads.AppendBatch(batch); err != nil {
			return err
		}
	}
	d, err = measure(budget, 1<<20, func(n int) error {
		for range n {
			if _, err := reads.Get(rand.Uint64N(readN)); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	add("Get 128 B, random of 200,000", "copy 128 B from a random place of a mapping", d, lim.randomRead(benchEventSize))

	d, err = measure(budget, 50, func(n int) error {
		for range n {
			it, err := reads.IterRange(0, mmaplog.Latest)
			if err != nil {
				return err
			}
			for range it.All() {
			}
			if err := it.Err(); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	add("iteration, per 128 B event", "sequential read of 144 B from a mapping", d/readN, lim.seqRead(benchEventSize+16))

	durable, err := benchLog(filepath.Join(work, "durable"), nil)
	if err != nil {
		return err
	}
	defer durable.Close()
	d, err = measure(budget, 500, func(n int) error {
		for range n {
			if _, err := durable.Append(ev); err != nil {
				return err
			}
			if err := durable.Sync(); err != nil {
				return err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	add("Append 128 B + Sync (durable)", "pwrite 4 KiB + fdatasync", d, lim.writeSync)

	tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "operation\tper op\trate\tbounded by\tlimit per op\tratio")
	for _, r := range rows {
		l, ratio := "-", "-"
		if r.limitMeasured && r.limit > 0 {
			l, ratio = duration(r.limit), fmt.Sprintf("%.2fx", float64(r.perOp)/float64(r.limit))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.what, duration(r.perOp), rate(1/r.perOp.Seconds()), r.bound, l, ratio)
	}
	if limErr != nil {
		fmt.Fprintf(tw, "(limits not measured: %v)\n", limErr)
	}
	return tw.Flush()
}

// benchLog opens a new log in dir.
func benchLog(dir string, opts *mmaplog.Options) (*mmaplog.Log, error) {
	return mmaplog.Open(dir, opts)
}

// appendN appends ev n times.
func appendN(l *mmaplog.Log, ev []byte, n int) error {
	for range n {
		if _, err := l.Append(ev); err != nil {
			return err
		}
	}
	return nil
}

// trim returns a function that deletes all but the newest event of l, between timed
// runs, so that the appends measured do not fill the disk.
func trim(l *mmaplog.Log) func() error {
	return func() error {
		newest, err := l.NewestEventID()
		if err != nil || newest == 0 {
			return err
		}
		oldest, err := l.OldestEventID()
		if err != nil || oldest >= newest {
			return err
		}
		_, err = l.DeleteRange(oldest, newest-1)
		return err
	}
}

// measure runs op in runs of growing size (at most chunk ops each), calling between
// (untimed) after each run, until the runs took budget in total; it returns the time per
// op over all of them.
func measure(budget time.Duration, chunk int, op func(n int) error, between func() error) (time.Duration, error) {
	n, ops := 1, 0
	var total time.Duration
	for total < budget {
		start := time.Now()
		if err := op(n); err != nil {
			return 0, err
		}
		total += time.Since(start)
		ops += n
		if between != nil {
			if err := between(); err != nil {
				return 0, err
			}
		}
		per := max(total/time.Duration(ops), 1)
		n = int(min(int64(chunk), max(int64(2*n), int64((budget-total)/per))))
		n = max(n, 1)
	}
	return total / time.Duration(ops), nil
}
