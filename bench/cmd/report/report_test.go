package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sample is benchmark output as go test prints it: header, results with the -GOMAXPROCS
// suffix, three runs of each, custom metrics, and noise lines.
const sample = `goos: linux
goarch: amd64
pkg: github.com/ringlog/ringlog/bench
cpu: Test CPU @ 3.0GHz
BenchmarkAppend/impl=ringlog/size=128-2         	  100000	       400.0 ns/op	 320.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkAppend/impl=ringlog-holdlock/size=128-2	 1000000	       100.0 ns/op	1280.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkAppend/impl=tidwall-nosync/size=128-2  	   50000	      1000 ns/op	 128.00 MB/s	     803 B/op	       0 allocs/op
BenchmarkAppend/impl=limit-memcpy/size=128-2    	 5000000	        20.00 ns/op	6400.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkAppend/impl=ringlog/size=128-2         	  100000	       500.0 ns/op	 256.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkAppend/impl=ringlog-holdlock/size=128-2	 1000000	       110.0 ns/op	1163.64 MB/s	       0 B/op	       0 allocs/op
BenchmarkAppend/impl=tidwall-nosync/size=128-2  	   50000	      1200 ns/op	 106.67 MB/s	     803 B/op	       0 allocs/op
BenchmarkAppend/impl=limit-memcpy/size=128-2    	 5000000	        18.00 ns/op	7111.11 MB/s	       0 B/op	       0 allocs/op
BenchmarkAppend/impl=ringlog/size=128-2         	  100000	       450.0 ns/op	 284.44 MB/s	       0 B/op	       0 allocs/op
BenchmarkAppend/impl=ringlog-holdlock/size=128-2	 1000000	        90.0 ns/op	1422.22 MB/s	       0 B/op	       0 allocs/op
BenchmarkAppend/impl=tidwall-nosync/size=128-2  	   50000	       900 ns/op	 142.22 MB/s	     803 B/op	       0 allocs/op
BenchmarkAppend/impl=limit-memcpy/size=128-2    	 5000000	        22.00 ns/op	5818.18 MB/s	       0 B/op	       0 allocs/op
BenchmarkMemory/impl=ringlog/events=1M/size=128-2	       1	 754462360 ns/op	         0.7422 heap-MiB	       170.8 rss-MiB
BenchmarkMultiProcess/impl=ringlog/procs=2/size=128-2	       1	 139056537 ns/op	    333805 events/s	      2996 ns/event
--- BENCH: BenchmarkSomething
    x_test.go:1: a log line
BenchmarkIterate/impl=ringlog/events=1M/size=128
PASS
ok  	github.com/ringlog/ringlog/bench	29.526s
`

func TestParse(t *testing.T) {
	run, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Header["cpu"]; got != "Test CPU @ 3.0GHz" {
		t.Errorf("cpu header %q", got)
	}
	if len(run.Results) != 6 {
		t.Fatalf("%d results, want 6", len(run.Results))
	}
	r := run.Find("Append", "ringlog-holdlock", "size=128")
	if r == nil {
		t.Fatal("ringlog-holdlock not found")
	}
	if r.Name != "BenchmarkAppend/impl=ringlog-holdlock/size=128" || r.Runs() != 3 {
		t.Errorf("name %q, %d runs", r.Name, r.Runs())
	}
	if m, _ := r.Median("ns/op"); m != 100 {
		t.Errorf("median ns/op %v, want 100", m)
	}
	mp := run.Find("MultiProcess", "ringlog", "procs=2/size=128")
	if mp == nil {
		t.Fatal("multiprocess result not found")
	}
	if v, ok := mp.Median("events/s"); !ok || v != 333805 {
		t.Errorf("events/s %v %v", v, ok)
	}
	if got := strings.Join(mp.Units, ","); got != "ns/op,events/s,ns/event" {
		t.Errorf("units %s", got)
	}
	if RoleOf("ringlog-view") != RoleRinglog || RoleOf("raft-wal") != RolePeer || RoleOf("limit-flock") != RoleLimit {
		t.Error("RoleOf")
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got, _ := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if _, ok := median(nil); ok {
		t.Error("median of nothing")
	}
}

func TestRatiosAndTargets(t *testing.T) {
	run, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	ringlog := run.Find("Append", "ringlog", "size=128")
	tidwall := run.Find("Append", "tidwall-nosync", "size=128")
	// Medians 450 ns and 1000 ns: ringlog ÷ tidwall = 0.45.
	if got := ratioText(ringlog, tidwall, "ns/op"); got != "0.450" {
		t.Errorf("ratio %q, want 0.450", got)
	}
	if got := ratioText(ringlog, ringlog, "ns/op"); got != "—" {
		t.Errorf("self ratio %q", got)
	}
	byText := map[string]Outcome{}
	for _, tg := range targets {
		byText[tg.Text] = tg.Evaluate(run)
	}
	o := byText[targets[0].Text] // per-call flock: 1000/450 = 2.22x >= 2
	if !o.Measured || !o.Met || math.Abs(o.Value-1000.0/450) > 1e-9 {
		t.Errorf("flock target %+v", o)
	}
	o = byText[targets[1].Text] // HoldLock: 1000/100 = 10x >= 8
	if !o.Met || o.Value != 10 {
		t.Errorf("holdlock target %+v", o)
	}
	if o := byText[targets[2].Text]; o.Measured {
		t.Errorf("batch target measured without batch results: %+v", o)
	}
	heap := targets[len(targets)-1]
	if o := heap.Evaluate(run); !o.Measured || !o.Fallback || !o.Met || o.Value != 0.7422 {
		t.Errorf("heap target %+v", o)
	}
	// A time-ratio target is a minimum speed-up of 1/goal.
	if s := (Target{Kind: TimeRatio, Goal: 1.5}).MinSpeedup(); math.Abs(s-1/1.5) > 1e-12 {
		t.Errorf("MinSpeedup %v", s)
	}
}

func TestMarkdownAndChart(t *testing.T) {
	run, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, run, Info{Mode: "quick", CPU: "Test CPU", NProc: 2}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| size=128 | **ringlog** | ringlog | 450 ns |",
		"| Append 128 B, non-durable, flock per call: ≥ 2× faster than tidwall/wal NoSync | 2.22× faster (450 ns vs 1 µs) | met |",
		"| tidwall-nosync | peer | 1 µs | 128 | 803 | 0 | 0.450 | 0.100 |",
		"### Appends from 1, 2 and 4 processes at once",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	cmps := Comparisons(run)
	if len(cmps) != 4 { // 2 ringlog variants x (tidwall-nosync, limit-memcpy)
		t.Fatalf("%d comparisons: %+v", len(cmps), cmps)
	}
	if c := cmps[0]; c.Other != "tidwall-nosync" || math.Abs(c.Speedup-1000.0/450) > 1e-9 || c.Target != 2 {
		t.Errorf("first comparison %+v", c)
	}
	p, err := NewChart(cmps, Info{Mode: "quick", CPU: "Test CPU"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chart.svg")
	w, h := ChartSize(len(cmps))
	if err := p.Save(w, h, path); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("ringlog-holdlock vs tidwall-nosync")) {
		t.Errorf("chart is not an SVG with the comparisons: %.200s", svg)
	}
}

func TestUpdateReadme(t *testing.T) {
	run, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	text := "# x\n\n## Benchmarks\n\nintro\n\n" + readmeBegin + " old -->\nold table\n" + readmeEnd + "\n\nafter\n"
	block := ReadmeBlock(run, Info{Mode: "full", CPU: "Test CPU"}, "bench/results/latest.md", "bench/results/latest.svg")
	got, err := UpdateReadme(text, block)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "old table") || !strings.HasPrefix(got, "# x\n\n## Benchmarks\n\nintro\n\n") ||
		!strings.HasSuffix(got, readmeEnd+"\n\nafter\n") || !strings.Contains(got, "](bench/results/latest.svg)") ||
		!strings.Contains(got, "2.22× faster") {
		t.Errorf("updated README:\n%s", got)
	}
	// Idempotent: the new block keeps the markers.
	if again, err := UpdateReadme(got, block); err != nil || again != got {
		t.Errorf("second update: %v", err)
	}
	if _, err := UpdateReadme("no markers", block); err == nil {
		t.Error("no error without markers")
	}
	if got := relTo("../README.md", "results/latest.svg"); !strings.HasSuffix(got, "/results/latest.svg") || strings.HasPrefix(got, "/") {
		t.Errorf("relTo = %q", got)
	}
}

// durableSample is output of the durable workloads (issue 13), one run each, with a note.
const durableSample = `goos: linux
BenchmarkDurableAppend/impl=ringlog-syncid/goroutines=1/size=128-2         	    1000	    300000 ns/op	         3333 events/s
BenchmarkDurableAppend/impl=raft-wal/goroutines=1/size=128-2               	    1000	    250000 ns/op	         4000 events/s
BenchmarkDurableAppend/impl=limit-fdatasync/goroutines=1/size=128-2        	    1000	    200000 ns/op	         5000 events/s
BenchmarkDurableAppend/impl=ringlog-syncalways/goroutines=8/size=128-2     	    1000	     40000 ns/op	        25000 events/s
BenchmarkDurableAppend/impl=raft-wal/goroutines=8/size=128-2               	    1000	    250000 ns/op	         4000 events/s
BenchmarkDurableBatch/impl=ringlog-syncid/n=100/size=128-2                 	    1000	    330000 ns/op	      3300 ns/event

note: limit-*-writezeroes skipped: fallocate(FALLOC_FL_WRITE_ZEROES): operation not supported
BenchmarkDurableMultiProcess/impl=ringlog-syncalways/procs=1/size=128-2    	       1	 900000000 ns/op	      4000 events/s	    250000 ns/event
BenchmarkDurableMultiProcess/impl=ringlog-syncalways/procs=2/size=128-2    	       1	 900000000 ns/op	      6000 events/s	    166667 ns/event
BenchmarkSyncIdle/impl=ringlog/size=128-2                                  	 1000000	       500.0 ns/op
note: limit-*-writezeroes skipped: fallocate(FALLOC_FL_WRITE_ZEROES): operation not supported
`

func TestDurableTargets(t *testing.T) {
	run, err := Parse(strings.NewReader(durableSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Notes) != 1 || !strings.Contains(run.Notes[0], "FALLOC_FL_WRITE_ZEROES") {
		t.Fatalf("notes %q", run.Notes)
	}
	got := map[string]Outcome{}
	for _, tg := range durableTargets {
		got[tg.Text] = tg.Evaluate(run)
	}
	check := func(prefix string, measured, met bool, value float64) {
		t.Helper()
		for text, o := range got {
			if strings.HasPrefix(text, prefix) {
				if o.Measured != measured || o.Met != met || math.Abs(o.Value-value) > 1e-9 {
					t.Errorf("%s: %+v, want measured %v met %v value %v", text, o, measured, met, value)
				}
				return
			}
		}
		t.Errorf("no target %q", prefix)
	}
	check("AppendWithID + Sync, one writer: ≤ 1.2×", true, false, 200000.0/300000) // 1.5× the limit
	check("AppendWithID + Sync, one writer: at least", true, false, 250000.0/300000)
	check("SyncAlways Append, one goroutine", false, false, 0) // not in the sample
	// Across workloads: batch 330 µs over the single append's 300 µs = 1.1 ≤ 1.3.
	check("Batch of 100", true, true, 300000.0/330000)
	check("SyncAlways, 8 goroutines: ≥ 4×", true, true, 250000.0/40000)
	check("SyncAlways, 8 goroutines: ≥ 6×", true, true, 300000.0/40000)
	check("SyncAlways, 2 processes", true, false, 6000)
	check("Sync with nothing new", true, true, 500)
	for text, o := range got {
		if strings.HasPrefix(text, "SyncAlways, 2 processes") {
			if o.StatusText() != "stated" || !strings.Contains(o.MeasuredText(), "1.50× the 4000 of procs=1/size=128") {
				t.Errorf("figure: %q %q", o.MeasuredText(), o.StatusText())
			}
		}
	}

	var md bytes.Buffer
	if err := WriteMarkdown(&md, run, Info{Mode: "durable", Source: "durable.txt", Command: "`make bench-durable`"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"from `durable.txt` (raw `go test -bench` output); `make bench-durable` remakes it.",
		"## Notes of the run\n\n- limit-*-writezeroes skipped: fallocate(FALLOC_FL_WRITE_ZEROES): operation not supported\n\n",
		// DurableAppend: 300 µs over the 200 µs limit = 1.50 in the ÷ limit-fdatasync column.
		"| goroutines=1/size=128 | **ringlog-syncid** | ringlog | 300 µs | 3333 | — | — | 1.50 |",
		// DurableMultiProcess compares ns/event: 166667 / 200000.
		"| procs=2/size=128 | **ringlog-syncalways** | ringlog | 6000 | 900 ms | 167 µs | — | 0.833 |",
		"| Sync with nothing new to flush: ≤ 1 µs | 500 ns per call | met |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
	// Targets of workloads that did not run are left out.
	if strings.Contains(md.String(), "Random Get") {
		t.Error("the report lists a target of a workload that did not run")
	}
}
