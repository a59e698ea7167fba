// Command benchreport turns the raw output of raftlog's benchmarks (go test -bench, any
// -count) into bench/results/raft.md: per workload the median of each store and limit,
// the ratios to ringlog, and the targets.
//
//	go run ./internal/benchreport -in raw.txt -cmd "the command that produced it" > raft.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// sample is one benchmark line's figures.
type sample struct {
	ns, allocs, commits float64
	hasAllocs           bool
}

// series holds every sample of one workload, per impl.
type series struct {
	workload string
	impls    []string // in order of appearance
	samples  map[string][]sample
}

var lineRe = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)

func parse(r io.Reader) (order []string, all map[string]*series, header []string) {
	all = map[string]*series{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, p := range []string{"goos:", "goarch:", "cpu:"} {
			if strings.HasPrefix(line, p) && !slices.Contains(header, line) {
				header = append(header, line)
			}
		}
		m := lineRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		parts := strings.Split(m[1], "/")
		impl := ""
		var rest []string
		for _, p := range parts {
			if v, ok := strings.CutPrefix(p, "impl="); ok {
				impl = v
			} else {
				rest = append(rest, p)
			}
		}
		if impl == "" {
			continue
		}
		w := strings.Join(rest, "/")
		s := all[w]
		if s == nil {
			s = &series{workload: w, samples: map[string][]sample{}}
			all[w] = s
			order = append(order, w)
		}
		if _, ok := s.samples[impl]; !ok {
			s.impls = append(s.impls, impl)
		}
		var smp sample
		smp.ns, _ = strconv.ParseFloat(m[2], 64)
		f := strings.Fields(m[3])
		for i := 1; i < len(f); i++ {
			v, err := strconv.ParseFloat(f[i-1], 64)
			if err != nil {
				continue
			}
			switch f[i] {
			case "allocs/op":
				smp.allocs, smp.hasAllocs = v, true
			case "commits/s":
				smp.commits = v
			}
		}
		s.samples[impl] = append(s.samples[impl], smp)
	}
	return order, all, header
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (s *series) med(impl string, f func(sample) float64) float64 {
	var xs []float64
	for _, smp := range s.samples[impl] {
		xs = append(xs, f(smp))
	}
	return median(xs)
}

func ns(s sample) float64      { return s.ns }
func allocs(s sample) float64  { return s.allocs }
func commits(s sample) float64 { return s.commits }

func dur(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.1f ns", ns)
}

func main() {
	in := flag.String("in", "", "raw benchmark output")
	cmd := flag.String("cmd", "", "the command that produced it")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchreport: %v\n", err)
		os.Exit(1)
	}
	defer f.Close()
	order, all, header := parse(f)
	if len(order) == 0 {
		fmt.Fprintln(os.Stderr, "benchreport: no benchmark lines with impl= in the input")
		os.Exit(1)
	}
	w := os.Stdout
	fmt.Fprintf(w, "# raftlog vs raft-wal vs raft-boltdb\n\n")
	fmt.Fprintf(w, "Produced by `%s` (medians of every run of each benchmark; %s).\n", *cmd, strings.Join(header, ", "))
	fmt.Fprintf(w, "Ratios are the peer's time ÷ ringlog's (above 1: ringlog is faster); limits are the machine's floor, measured in the same run.\n\n")
	targets(w, all)
	fmt.Fprintf(w, "\n## Every workload\n\n")
	for _, wl := range order {
		s := all[wl]
		base := s.med("ringlog", ns)
		fmt.Fprintf(w, "### %s\n\n| impl | runs | time/op | allocs/op | ringlog speed-up |", wl)
		cluster := strings.HasPrefix(wl, "Cluster/")
		if cluster {
			fmt.Fprintf(w, " commits/s |")
		}
		fmt.Fprintf(w, "\n|---|---|---|---|---|%s\n", map[bool]string{true: "---|", false: ""}[cluster])
		for _, impl := range s.impls {
			t := s.med(impl, ns)
			ratio := "—"
			if base > 0 && impl != "ringlog" {
				ratio = fmt.Sprintf("%.2f×", t/base)
			}
			al := "—"
			if s.samples[impl][0].hasAllocs {
				al = strconv.FormatFloat(s.med(impl, allocs), 'f', -1, 64)
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s |", impl, len(s.samples[impl]), dur(t), al, ratio)
			if cluster {
				fmt.Fprintf(w, " %.0f |", s.med(impl, commits))
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
}

// targets prints the targets with what was measured.
func targets(w io.Writer, all map[string]*series) {
	fmt.Fprintf(w, "## Targets\n\n| target | measured | status |\n|---|---|---|\n")
	row := func(target, measured string, met bool) {
		st := "met"
		if !met {
			st = "**MISSED**"
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", target, measured, st)
	}
	for _, n := range []string{"1", "64"} {
		if s := all["StoreLogs/entries="+n]; s != nil {
			r, wal, bolt, lim := s.med("ringlog", ns), s.med("raft-wal", ns), s.med("raft-boltdb", ns), s.med("limit-fdatasync", ns)
			measured := fmt.Sprintf("ringlog %s, raft-wal %s (%.2f×), raft-boltdb %s (%.2f×); ringlog = %.2f× limit-fdatasync (%s)",
				dur(r), dur(wal), wal/r, dur(bolt), bolt/r, r/lim, dur(lim))
			if mlim := s.med("limit-msync", ns); mlim > 0 {
				measured += fmt.Sprintf(", %.2f× limit-msync (%s: the same write through a shared mapping)", r/mlim, dur(mlim))
			}
			row(fmt.Sprintf("StoreLogs of %s × 128 B, durable: faster than raft-wal and raft-boltdb", n), measured, r < wal && r < bolt)
		}
	}
	for wl, s := range all {
		if strings.HasPrefix(wl, "GetLogRandom/") {
			r, wal := s.med("ringlog", ns), s.med("raft-wal", ns)
			row("GetLog of a random index over "+strings.TrimPrefix(wl, "GetLogRandom/entries=")+": ≥ 10× raft-wal",
				fmt.Sprintf("%.1f× (%s vs %s)", wal/r, dur(r), dur(wal)), wal/r >= 10)
		}
	}
	for wl, s := range all {
		if strings.HasPrefix(wl, "FirstLastIndex/") {
			r := s.med("ringlog", ns) / 2
			a := s.med("ringlog", allocs)
			row("FirstIndex, LastIndex: ≤ 100 ns, 0 allocs", fmt.Sprintf("%s per call, %.0f allocs", dur(r), a), r <= 100 && a == 0)
		}
	}
	for wl, s := range all {
		if strings.HasPrefix(wl, "Open/") {
			r, wal := s.med("ringlog", ns), s.med("raft-wal", ns)
			row("Open of a "+strings.TrimPrefix(wl, "Open/entries=")+"-entry store: ≥ 10× raft-wal",
				fmt.Sprintf("%.0f× (%s vs %s)", wal/r, dur(r), dur(wal)), wal/r >= 10)
		}
	}
	for _, c := range []string{"1", "16"} {
		if s := all["Cluster/clients="+c]; s != nil {
			r, wal, bolt := s.med("ringlog", commits), s.med("raft-wal", commits), s.med("raft-boltdb", commits)
			row(fmt.Sprintf("3-node cluster on loopback, %s client(s): ringlog highest commits/s", c),
				fmt.Sprintf("ringlog %.0f/s, raft-wal %.0f/s, raft-boltdb %.0f/s", r, wal, bolt), r > wal && r > bolt)
		}
	}
}
