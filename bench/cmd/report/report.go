package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Workload describes one benchmark function for the report.
type Workload struct {
	Name  string // the benchmark function without "Benchmark"
	Title string
	Desc  string
	// Primary is the unit the ratios compare; HigherBetter tells which way is better.
	Primary      string
	HigherBetter bool
	// FlushUnit, when set, adds a column: the row's median FlushUnit over the median ns/op
	// of flushRef (one 128 B pwrite + fdatasync) of the same run.
	FlushUnit string
}

// flushRef is the result every durable row is compared with: limit-fdatasync, one
// goroutine, 128 B (BenchmarkDurableAppend).
var flushRef = struct{ Workload, Impl, Case string }{"DurableAppend", "limit-fdatasync", "goroutines=1/size=128"}

// workloads in report order. A workload of the output that is not listed is reported
// after them with ns/op as its primary unit.
var workloads = []Workload{
	{Name: "Append", Title: "Single append, non-durable", Primary: "ns/op",
		Desc: "One event per call. `ringlog` takes the writer lock (flock) per call; `ringlog-holdlock` keeps it between calls (Options.HoldLock). " +
			"Peer: tidwall/wal with NoSync. Limits: memcpy of the payload into a prefaulted shared mapping; a flock(2) lock + unlock pair."},
	{Name: "AppendBatch", Title: "Batch append, non-durable", Primary: "ns/op",
		Desc: "n events per call (ringlog AppendBatchWithIDs, tidwall/wal Batch + WriteBatch with NoSync). " +
			"Limit: n copies of the payload into a prefaulted shared mapping. ns/event = ns/op ÷ n."},
	{Name: "Get", Title: "Random Get over 1M events (warm)", Primary: "ns/op",
		Desc: "The same 64K uniformly random ids over 1M events of 128 B for every impl. `ringlog-get` copies (Get), `ringlog-view` is zero-copy (View). " +
			"Peers: tidwall/wal at its defaults (an LRU of 2 parsed segments), `tidwall-cached` with every segment cached, raft-wal GetLog. " +
			"Limit: a [][]byte index + a new copy."},
	{Name: "Iterate", Title: "Sequential iteration of 1M events", Primary: "ns/op",
		Desc: "One op reads all 1M events of 128 B in id order: ringlog IterRange (zero-copy, CRC-checked), tidwall/wal Read and raft-wal GetLog of each index. " +
			"Limit: reading every byte of a prefaulted shared mapping of the same payload bytes (its MB/s is the mapping's bulk read bandwidth)."},
	{Name: "DurableAppend", Title: "Durable appends, 1 and 8 goroutines", Primary: "ns/op", FlushUnit: "ns/op",
		Desc: "One 128 B event per call, durable when the call returns: `ringlog-sync` is Append + Sync, `ringlog-syncid` AppendWithID + Sync (one writer), " +
			"`ringlog-syncalways` Append on a handle opened with SyncAlways (group commit across the goroutines); tidwall/wal with sync (fsync per Write), raft-wal (fsync per StoreLog, serialized by its writeMu). " +
			"Limit: pwrite of the payload into a written file + fdatasync. ns/op is per event across all goroutines; events/s is the aggregate; " +
			"dev-KiB/op: what the device wrote per event (journal included; other writers of the device count too); " +
			"events/flush and µs/flush (ringlog): the events one flush of the handle carried (Stats.Flushes) and the time from one flush to the next."},
	{Name: "DurableBatch", Title: "Durable batches of 100 events", Primary: "ns/op", FlushUnit: "ns/op",
		Desc: "100 events of 128 B per call, durable when the call returns: `ringlog-sync` AppendBatch + Sync, `ringlog-syncid` AppendBatchWithIDs + Sync, `ringlog-syncalways` AppendBatch under SyncAlways; " +
			"tidwall/wal Batch + WriteBatch with sync (one fsync per batch), raft-wal StoreLogs of 100 (one fsync per call). Limit: one pwrite of the 100 payloads (12.5 KiB) + fdatasync. ns/event = ns/op ÷ 100; " +
			"dev-KiB/op: what the device wrote per batch (journal included; other writers of the device count too)."},
	{Name: "DurableMultiProcess", Title: "Durable appends from 1 and 2 processes at once", Primary: "events/s", HigherBetter: true, FlushUnit: "ns/event",
		Desc: "Each process opens the log with SyncAlways, then all append 128 B events with Append together, each durable when it returns. events/s is the aggregate over the append phase, " +
			"ns/event its inverse; ns/op is a whole round, process start included."},
	{Name: "SyncIdle", Title: "Sync with nothing new to flush", Primary: "ns/op", FlushUnit: "ns/op",
		Desc: "Sync on a log whose one event is already durable (`ringlog`: default options; `ringlog-syncalways`: a SyncAlways handle). Limit: one cheap system call (getppid), the least a Sync that enters the kernel pays."},
	{Name: "SegmentPrep", Title: "Segment preparation: one durable 128 B append per file preparation", Primary: "ns/op", FlushUnit: "ns/op",
		Desc: "128 B appends at increasing offsets (stride 128: packed, a new 4 KiB block every 32 appends; stride 4096: a new block every append) into 64 MiB files prepared and fsynced beforehand: " +
			"`fallocate` (unwritten extents), `writezeroes` (fallocate FALLOC_FL_WRITE_ZEROES, Linux 6.17+: written zeroed extents), `written` (write(2) of zeros in calls of 1 MiB: large folios in the page cache), " +
			"`written4k` (the same in calls of 4 KiB: 4 KiB folios), `written-uncached` (written, then dropped from the page cache with fadvise DONTNEED). " +
			"`limit-pwrite-*`: pwrite + fdatasync; `limit-msync-*`: a copy into a shared mapping of the file (not prefaulted) + msync(MS_SYNC) of its 4 KiB page. " +
			"dev-KiB/op: what the device wrote per append (a mapped write dirties its whole folio, and msync writes all of it back); files: files prepared in the run."},
	{Name: "Open", Title: "Open of a 1M- and a 10M-event log", Primary: "ns/op",
		Desc: "Open of a cleanly closed log of 128 B events, its files in the page cache; Close is not timed."},
	{Name: "Memory", Title: "Memory after writing 10M events (1M in a quick run)", Primary: "heap-MiB",
		Desc: "A fresh process writes the events (calls of 4096) and reports, with the log still open, the Go heap in use after a GC and its RSS " +
			"(rss-file-MiB: mapped file pages, shared with the page cache). ns/op is the whole child process run."},
	{Name: "MultiProcess", Title: "Appends from 1, 2 and 4 processes at once", Primary: "events/s", HigherBetter: true,
		Desc: "Each process opens the log, then all append 128 B events with Append (non-durable) together. events/s is the aggregate over the append phase; " +
			"ns/op is a whole round, process start included. `ringlog-holdlock` opens every handle with Options.HoldLock."},
}

// workloadOf returns the description of a workload name.
func workloadOf(name string) Workload {
	for _, w := range workloads {
		if w.Name == name {
			return w
		}
	}
	return Workload{Name: name, Title: name, Primary: "ns/op"}
}

// Target kinds.
const (
	Speedup   = "speedup"   // other's ns/op ÷ ringlog's >= Goal
	Fraction  = "fraction"  // limit's ns/op ÷ ringlog's (ringlog's share of the limit's bandwidth) >= Goal
	TimeRatio = "timeratio" // ringlog's ns/op ÷ other's <= Goal
	Absolute  = "absolute"  // ringlog's Unit <= Goal
	Figure    = "figure"    // ringlog's Unit, stated (and over Other's when set); no goal
)

// Target is one target of issue 6 or 13, measured as a ratio in the same run.
type Target struct {
	Text           string
	Workload, Case string
	Ringlog, Other string
	// OtherWorkload and OtherCase locate Other when it is not in Workload and Case.
	OtherWorkload, OtherCase string
	Kind                     string
	Unit                     string // Absolute and Figure only
	Goal                     float64
	FallbackCase             string // Absolute only: the case to report when Case was not run
	FallbackComment          string
}

// targets are those of issue 6.
var targets = []Target{
	{Text: "Append 128 B, non-durable, flock per call: ≥ 2× faster than tidwall/wal NoSync",
		Workload: "Append", Case: "size=128", Ringlog: "ringlog", Other: "tidwall-nosync", Kind: Speedup, Goal: 2},
	{Text: "Append 128 B, non-durable, HoldLock: ≥ 8× faster than tidwall/wal NoSync",
		Workload: "Append", Case: "size=128", Ringlog: "ringlog-holdlock", Other: "tidwall-nosync", Kind: Speedup, Goal: 8},
	{Text: "Batch append 1000 × 128 B: ≥ 40% of the memcpy limit's bandwidth",
		Workload: "AppendBatch", Case: "n=1000/size=128", Ringlog: "ringlog", Other: "limit-memcpy", Kind: Fraction, Goal: 0.4},
	{Text: "Random Get over 1M: ≥ 10× faster than tidwall/wal at its defaults",
		Workload: "Get", Case: "events=1M/size=128", Ringlog: "ringlog-get", Other: "tidwall", Kind: Speedup, Goal: 10},
	{Text: "Random Get over 1M: ≥ 10× faster than raft-wal",
		Workload: "Get", Case: "events=1M/size=128", Ringlog: "ringlog-get", Other: "raft-wal", Kind: Speedup, Goal: 10},
	{Text: "Copying Get: ≤ 1.5× the time of the slice + new copy baseline",
		Workload: "Get", Case: "events=1M/size=128", Ringlog: "ringlog-get", Other: "limit-slice", Kind: TimeRatio, Goal: 1.5},
	{Text: "View: ≥ 5× faster than tidwall/wal with every segment cached",
		Workload: "Get", Case: "events=1M/size=128", Ringlog: "ringlog-view", Other: "tidwall-cached", Kind: Speedup, Goal: 5},
	{Text: "Iteration of 1M: ≥ 50% of the mapping's bulk read bandwidth",
		Workload: "Iterate", Case: "events=1M/size=128", Ringlog: "ringlog", Other: "limit-bulkread", Kind: Fraction, Goal: 0.5},
	{Text: "Open of a 10M-event log: ≥ 10× faster than tidwall/wal",
		Workload: "Open", Case: "events=10M/size=128", Ringlog: "ringlog", Other: "tidwall", Kind: Speedup, Goal: 10},
	{Text: "Open of a 10M-event log: ≥ 10× faster than raft-wal",
		Workload: "Open", Case: "events=10M/size=128", Ringlog: "ringlog", Other: "raft-wal", Kind: Speedup, Goal: 10},
	{Text: "Open of a 1M-event log: ≥ 5× faster than tidwall/wal",
		Workload: "Open", Case: "events=1M/size=128", Ringlog: "ringlog", Other: "tidwall", Kind: Speedup, Goal: 5},
	{Text: "Open of a 1M-event log: ≥ 5× faster than raft-wal",
		Workload: "Open", Case: "events=1M/size=128", Ringlog: "ringlog", Other: "raft-wal", Kind: Speedup, Goal: 5},
	{Text: "Durable appends, 8 goroutines: ≥ 4× raft-wal's throughput",
		Workload: "DurableAppend", Case: "goroutines=8/size=128", Ringlog: "ringlog-sync", Other: "raft-wal", Kind: Speedup, Goal: 4},
	{Text: "Heap in use after writing 10M events: < 4 MiB",
		Workload: "Memory", Case: "events=10M/size=128", Ringlog: "ringlog", Kind: Absolute, Unit: "heap-MiB", Goal: 4,
		FallbackCase: "events=1M/size=128", FallbackComment: "at 1M events: the quick run skips 10M"},
}

// durableTargets are those of issue 13 (durable appends at the disk's flush limit).
var durableTargets = []Target{
	{Text: "AppendWithID + Sync, one writer: ≤ 1.2× limit-fdatasync",
		Workload: "DurableAppend", Case: "goroutines=1/size=128", Ringlog: "ringlog-syncid", Other: "limit-fdatasync", Kind: TimeRatio, Goal: 1.2},
	{Text: "AppendWithID + Sync, one writer: at least as fast as raft-wal StoreLog",
		Workload: "DurableAppend", Case: "goroutines=1/size=128", Ringlog: "ringlog-syncid", Other: "raft-wal", Kind: TimeRatio, Goal: 1},
	{Text: "SyncAlways Append, one goroutine: ≤ 1.2× limit-fdatasync",
		Workload: "DurableAppend", Case: "goroutines=1/size=128", Ringlog: "ringlog-syncalways", Other: "limit-fdatasync", Kind: TimeRatio, Goal: 1.2},
	{Text: "SyncAlways Append, one goroutine: at least as fast as raft-wal StoreLog",
		Workload: "DurableAppend", Case: "goroutines=1/size=128", Ringlog: "ringlog-syncalways", Other: "raft-wal", Kind: TimeRatio, Goal: 1},
	{Text: "Batch of 100 (AppendBatchWithIDs) + Sync: ≤ 1.3× one durable single append (AppendWithID + Sync)",
		Workload: "DurableBatch", Case: "n=100/size=128", Ringlog: "ringlog-syncid", Other: "ringlog-syncid",
		OtherWorkload: "DurableAppend", OtherCase: "goroutines=1/size=128", Kind: TimeRatio, Goal: 1.3},
	{Text: "SyncAlways, 8 goroutines: ≥ 4× raft-wal's throughput (8 goroutines)",
		Workload: "DurableAppend", Case: "goroutines=8/size=128", Ringlog: "ringlog-syncalways", Other: "raft-wal", Kind: Speedup, Goal: 4},
	{Text: "SyncAlways, 8 goroutines: ≥ 6× ringlog's own one-writer durable throughput (AppendWithID + Sync)",
		Workload: "DurableAppend", Case: "goroutines=8/size=128", Ringlog: "ringlog-syncalways", Other: "ringlog-syncid",
		OtherCase: "goroutines=1/size=128", Kind: Speedup, Goal: 6},
	{Text: "SyncAlways, 2 processes appending: the figure (over 1 process)",
		Workload: "DurableMultiProcess", Case: "procs=2/size=128", Ringlog: "ringlog-syncalways", Other: "ringlog-syncalways",
		OtherCase: "procs=1/size=128", Kind: Figure, Unit: "events/s"},
	{Text: "Sync with nothing new to flush: ≤ 1 µs",
		Workload: "SyncIdle", Case: "size=128", Ringlog: "ringlog", Kind: Absolute, Unit: "ns/op", Goal: 1000},
}

// Outcome is a target evaluated on a run.
type Outcome struct {
	Target
	Measured bool
	Met      bool
	// Value is the speed-up (other ÷ ringlog, ns/op) for ratio kinds, the value for Absolute.
	Value    float64
	Ringlog  float64 // ringlog's median (ns/op, or Unit)
	Other    float64 // the other's median ns/op (or Unit for Figure)
	Fallback bool    // measured on FallbackCase
}

// MinSpeedup returns the target as a minimum speed-up (other ÷ ringlog), for ratio kinds.
func (t Target) MinSpeedup() float64 {
	if t.Kind == TimeRatio {
		return 1 / t.Goal
	}
	return t.Goal
}

// other returns the result t compares with on run, or nil.
func (t Target) other(run *Run) *Result {
	w, c := t.Workload, t.Case
	if t.OtherWorkload != "" {
		w = t.OtherWorkload
	}
	if t.OtherCase != "" {
		c = t.OtherCase
	}
	return run.Find(w, t.Other, c)
}

// Evaluate measures t on run.
func (t Target) Evaluate(run *Run) Outcome {
	o := Outcome{Target: t}
	if t.Kind == Absolute || t.Kind == Figure {
		r := run.Find(t.Workload, t.Ringlog, t.Case)
		if r == nil && t.FallbackCase != "" {
			r = run.Find(t.Workload, t.Ringlog, t.FallbackCase)
			o.Fallback = r != nil
		}
		if r == nil {
			return o
		}
		v, ok := r.Median(t.Unit)
		o.Measured, o.Value, o.Ringlog = ok, v, v
		if t.Kind == Figure {
			if p := t.other(run); p != nil {
				o.Other, _ = p.Median(t.Unit)
			}
			return o
		}
		o.Met = ok && v < t.Goal
		return o
	}
	r, p := run.Find(t.Workload, t.Ringlog, t.Case), t.other(run)
	if r == nil || p == nil {
		return o
	}
	rv, ok1 := r.Median("ns/op")
	pv, ok2 := p.Median("ns/op")
	if !ok1 || !ok2 || rv <= 0 {
		return o
	}
	o.Measured, o.Ringlog, o.Other, o.Value = true, rv, pv, pv/rv
	o.Met = o.Value >= t.MinSpeedup()
	return o
}

// MeasuredText says what was measured, in the target's own terms.
func (o Outcome) MeasuredText() string {
	if !o.Measured {
		return "not measured in this run"
	}
	switch o.Kind {
	case Figure:
		s := fmt.Sprintf("%s %s", num(o.Value), o.Unit)
		if o.Other > 0 {
			s += fmt.Sprintf(" (%s× the %s of %s)", num(o.Value/o.Other), num(o.Other), o.OtherCase)
		}
		return s
	case Absolute:
		if o.Unit == "ns/op" {
			return dur(o.Value) + " per call"
		}
		s := fmt.Sprintf("%s %s", num(o.Value), strings.TrimPrefix(o.Unit, "heap-"))
		if o.Fallback {
			s += " (" + o.FallbackComment + ")"
		}
		return s
	case Fraction:
		return fmt.Sprintf("%.0f%% of the limit (%s vs %s per op)", 100*o.Value, dur(o.Ringlog), dur(o.Other))
	case TimeRatio:
		return fmt.Sprintf("%s× its time (%s vs %s)", num(1/o.Value), dur(o.Ringlog), dur(o.Other))
	}
	return fmt.Sprintf("%s (%s vs %s)", speedText(o.Value), dur(o.Ringlog), dur(o.Other))
}

// StatusText is "met", "MISSED" or "—".
func (o Outcome) StatusText() string {
	switch {
	case !o.Measured:
		return "—"
	case o.Kind == Figure:
		return "stated"
	case o.Met && o.Fallback:
		return "met (at 1M)"
	case o.Met:
		return "met"
	}
	return "**MISSED**"
}

// speedText says "2.31× faster" or "1.52× slower" for a speed-up.
func speedText(s float64) string {
	if s >= 1 {
		return num(s) + "× faster"
	}
	return num(1/s) + "× slower"
}

// num formats v with about 3 significant digits, without an exponent.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case v == math.Trunc(v) && a < 1e15:
		return fmt.Sprintf("%.0f", v)
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.2f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2g", v)
}

// dur formats nanoseconds as a duration with about 3 significant digits.
func dur(ns float64) string {
	switch {
	case ns >= 1e9:
		return num(ns/1e9) + " s"
	case ns >= 1e6:
		return num(ns/1e6) + " ms"
	case ns >= 1e3:
		return num(ns/1e3) + " µs"
	}
	return num(ns) + " ns"
}

// value formats a median of unit.
func value(unit string, v float64) string {
	if unit == "ns/op" || unit == "ns/event" {
		return dur(v)
	}
	return num(v)
}

// Info describes the run and the machine for the report's header.
type Info struct {
	Mode, Count, Benchtime, Date string
	// Rounds, when not empty, is the number of test binary runs of -count 1 each, one
	// after the other (every impl measured once per round).
	Rounds                 string
	CPU, Kernel, GoVersion string
	NProc                  int
	MemTotal               string
	Benchstat              string // file name of benchstat's output, if any
	Chart                  string // file name of the chart, if any
	Source                 string // file name of the raw output
	Command                string // what remakes the report, Markdown
}

// WriteMarkdown writes the report of run.
func WriteMarkdown(w io.Writer, run *Run, info Info) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "# ringlog against its peers and the machine's limits\n\n")
	fmt.Fprintf(b, "Generated by `bench/cmd/report` from `%s` (raw `go test -bench` output); %s remakes it.\n\n", info.Source, info.Command)
	fmt.Fprintf(b, "| run | machine |\n|---|---|\n")
	fmt.Fprintf(b, "| %s run: %s, medians of the runs; %s | %s, %d CPUs (nproc), %s RAM; Linux %s; %s |\n\n",
		info.Mode, runFlags(info), info.Date, info.CPU, info.NProc, info.MemTotal, info.Kernel, info.GoVersion)
	fmt.Fprintf(b, "Peers: github.com/tidwall/wal v1.2.1, github.com/hashicorp/raft-wal v0.4.0. Compare ratios within one run: the absolute figures of a shared machine move between runs.")
	if info.Benchstat != "" {
		fmt.Fprintf(b, " Confidence intervals: [%s](%s) (benchstat).", info.Benchstat, info.Benchstat)
	}
	fmt.Fprintf(b, "\n\n")
	if info.Chart != "" {
		fmt.Fprintf(b, "![ringlog speed-up over each peer and limit](%s)\n\n", info.Chart)
	}

	fmt.Fprintf(b, "## Targets\n\n")
	writeTargets(b, run)
	fmt.Fprintf(b, "\n")
	if len(run.Notes) > 0 {
		fmt.Fprintf(b, "## Notes of the run\n\n")
		for _, n := range run.Notes {
			fmt.Fprintf(b, "- %s\n", n)
		}
		fmt.Fprintf(b, "\n")
	}

	// Workloads: the known ones in order, then any others in output order.
	var names []string
	for _, wl := range workloads {
		names = append(names, wl.Name)
	}
	for _, r := range run.Results {
		if !slices.Contains(names, r.Workload) {
			names = append(names, r.Workload)
		}
	}
	fmt.Fprintf(b, "## Workloads\n\n")
	for _, name := range names {
		writeWorkload(b, run, workloadOf(name))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWorkload writes one workload's table: a row per case and impl with the medians
// of every unit, and a ratio column per ringlog variant.
func writeWorkload(b *strings.Builder, run *Run, wl Workload) {
	var rs []*Result
	for _, r := range run.Results {
		if r.Workload == wl.Name {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return
	}
	// Units: primary first, then in order of appearance.
	units := []string{wl.Primary}
	var variants, cases []string
	for _, r := range rs {
		for _, u := range r.Units {
			if !slices.Contains(units, u) {
				units = append(units, u)
			}
		}
		if RoleOf(r.Impl) == RoleRinglog && !slices.Contains(variants, r.Impl) {
			variants = append(variants, r.Impl)
		}
		if !slices.Contains(cases, r.Case) {
			cases = append(cases, r.Case)
		}
	}
	runs := rs[0].Runs()
	fmt.Fprintf(b, "### %s\n\n%s\n\n", wl.Title, wl.Desc)
	fmt.Fprintf(b, "| case | impl | role |")
	for _, u := range units {
		if u == wl.Primary {
			fmt.Fprintf(b, " **%s** |", u)
		} else {
			fmt.Fprintf(b, " %s |", u)
		}
	}
	for _, v := range variants {
		fmt.Fprintf(b, " %s ÷ impl |", v)
	}
	var ref float64 // limit-fdatasync's median ns/op, when the workload has the column
	if wl.FlushUnit != "" {
		if r := run.Find(flushRef.Workload, flushRef.Impl, flushRef.Case); r != nil {
			ref, _ = r.Median("ns/op")
		}
	}
	extra := len(variants)
	if ref > 0 {
		fmt.Fprintf(b, " ÷ limit-fdatasync |")
		extra++
	}
	fmt.Fprintf(b, "\n|---|---|---|%s%s\n", strings.Repeat("---:|", len(units)), strings.Repeat("---:|", extra))
	for _, c := range cases {
		first := true
		for _, r := range rs {
			if r.Case != c {
				continue
			}
			cs := ""
			if first {
				cs = c
				first = false
			}
			role := RoleOf(r.Impl)
			impl := r.Impl
			if role == RoleRinglog {
				impl = "**" + impl + "**"
			}
			fmt.Fprintf(b, "| %s | %s | %s |", cs, impl, role)
			for _, u := range units {
				if v, ok := r.Median(u); ok {
					fmt.Fprintf(b, " %s |", value(u, v))
				} else {
					fmt.Fprintf(b, " |")
				}
			}
			for _, v := range variants {
				fmt.Fprintf(b, " %s |", ratioText(run.Find(wl.Name, v, c), r, wl.Primary))
			}
			if ref > 0 {
				if v, ok := r.Median(wl.FlushUnit); ok {
					fmt.Fprintf(b, " %s |", num(v/ref))
				} else {
					fmt.Fprintf(b, " — |")
				}
			}
			fmt.Fprintf(b, "\n")
		}
	}
	better := "below 1, ringlog is faster (0.25: 4× faster)"
	switch {
	case wl.HigherBetter:
		better = "above 1, the ringlog variant does more"
	case wl.Primary != "ns/op":
		better = "below 1, the ringlog variant uses less"
	}
	fmt.Fprintf(b, "\n*variant ÷ impl*: the ringlog variant's median %s over the row's; %s. Medians of %d run(s).", wl.Primary, better, runs)
	if ref > 0 {
		fmt.Fprintf(b, " *÷ limit-fdatasync*: the row's median %s over the median ns/op of one 128 B pwrite + fdatasync (%s, one goroutine) of the same run, %s: how many device flushes' time the row costs.",
			wl.FlushUnit, flushRef.Workload, dur(ref))
	}
	fmt.Fprintf(b, "\n\n")
}

// ratioText formats ringlog's median of unit over other's, "—" for the same result or
// when either is missing.
func ratioText(ringlog, other *Result, unit string) string {
	if ringlog == nil || other == nil || ringlog == other {
		return "—"
	}
	rv, ok1 := ringlog.Median(unit)
	ov, ok2 := other.Median(unit)
	if !ok1 || !ok2 || ov == 0 {
		return "—"
	}
	return num(rv / ov)
}

// writeTargets writes the table of the targets (issue 6, then issue 13) whose workload
// is in run.
func writeTargets(b *strings.Builder, run *Run) {
	ran := map[string]bool{}
	for _, r := range run.Results {
		ran[r.Workload] = true
	}
	fmt.Fprintf(b, "| target | measured | status |\n|---|---|---|\n")
	for _, t := range append(slices.Clip(targets), durableTargets...) {
		if !ran[t.Workload] {
			continue
		}
		o := t.Evaluate(run)
		fmt.Fprintf(b, "| %s | %s | %s |\n", t.Text, o.MeasuredText(), o.StatusText())
	}
}

// machineLine describes the run and the machine in one line.
func machineLine(info Info) string {
	return fmt.Sprintf("%s run (%s, medians), %s: %s, %d CPUs, %s RAM, Linux %s, %s",
		info.Mode, runFlags(info), info.Date, info.CPU, info.NProc, info.MemTotal, info.Kernel, info.GoVersion)
}

// runFlags describes how the benchmarks were run: the go test flags, and the rounds when
// the run was made of several.
func runFlags(info Info) string {
	if info.Rounds != "" {
		return fmt.Sprintf("`-count 1 -benchtime %s` in %s interleaved rounds", info.Benchtime, info.Rounds)
	}
	return fmt.Sprintf("`-count %s -benchtime %s`", info.Count, info.Benchtime)
}

// README block markers: UpdateReadme replaces what lies between them.
const (
	readmeBegin = "<!-- bench-results:begin"
	readmeEnd   = "<!-- bench-results:end -->"
)

// ReadmeBlock returns the results block of the README: the machine, the chart and the
// targets, with links (relative to the README) to the full report.
func ReadmeBlock(run *Run, info Info, mdLink, chartLink string) string {
	b := &strings.Builder{}
	fmt.Fprintf(b, "%s (written by bench/cmd/report on a full run: make bench-peers) -->\n", readmeBegin)
	fmt.Fprintf(b, "Measured on: %s.\n\n", machineLine(info))
	if chartLink != "" {
		fmt.Fprintf(b, "![ringlog speed-up over each peer and limit](%s)\n\n", chartLink)
	}
	writeTargets(b, run)
	fmt.Fprintf(b, "\nEvery workload's table (ringlog, each peer, each limit, medians and ratios): [%s](%s).\n", mdLink, mdLink)
	b.WriteString(readmeEnd)
	return b.String()
}

// UpdateReadme replaces the results block of the README text with block. The markers
// must be there already.
func UpdateReadme(text, block string) (string, error) {
	i := strings.Index(text, readmeBegin)
	j := strings.Index(text, readmeEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %q ... %q block", readmeBegin, readmeEnd)
	}
	return text[:i] + block + text[j+len(readmeEnd):], nil
}
