package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Result is every run of one sub-benchmark, e.g. BenchmarkAppend/impl=ringlog/size=128.
type Result struct {
	// Name is the full name without the -GOMAXPROCS suffix.
	Name string
	// Workload is the benchmark function's name without "Benchmark": "Append".
	Workload string
	// Impl is the value of the impl= element: "ringlog", "tidwall-nosync", ...
	Impl string
	// Case is the other elements, in order, joined by "/": "size=128".
	Case string
	// Values holds every run's value of each unit ("ns/op", "MB/s", ...), in run order.
	Values map[string][]float64
	// Units lists the units in the order the output first showed them.
	Units []string
}

// Median returns the median of unit's values and whether there are any.
func (r *Result) Median(unit string) (float64, bool) {
	return median(r.Values[unit])
}

// Runs returns the number of runs of the result (of its first unit).
func (r *Result) Runs() int {
	if len(r.Units) == 0 {
		return 0
	}
	return len(r.Values[r.Units[0]])
}

// Run is a parsed `go test -bench` output.
type Run struct {
	// Header holds the "key: value" lines before the results: goos, goarch, pkg, cpu.
	Header map[string]string
	// Results in the order of their first appearance.
	Results []*Result
	// Notes are the texts of the "note: " lines the benchmarks printed (a skipped
	// measurement and why), in order, without duplicates.
	Notes  []string
	byName map[string]*Result
}

// Find returns the result of workload, impl and case, or nil.
func (r *Run) Find(workload, impl, cas string) *Result {
	return r.byName[key(workload, impl, cas)]
}

func key(workload, impl, cas string) string { return workload + "\x00" + impl + "\x00" + cas }

// procsSuffix is the -GOMAXPROCS suffix go test adds to names when GOMAXPROCS > 1.
var procsSuffix = regexp.MustCompile(`-\d+$`)

// Parse reads benchmark output (any other lines are skipped) and groups the runs of
// each sub-benchmark.
func Parse(in io.Reader) (*Run, error) {
	run := &Run{Header: map[string]string{}, byName: map[string]*Result{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "note: "); ok {
			if !slices.Contains(run.Notes, n) {
				run.Notes = append(run.Notes, n)
			}
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			if k, v, ok := strings.Cut(line, ": "); ok && !strings.ContainsAny(k, " \t") && len(run.Results) == 0 {
				run.Header[k] = strings.TrimSpace(v)
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a name alone (output followed), or not a result line
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		res := newResult(name)
		if prev := run.byName[key(res.Workload, res.Impl, res.Case)]; prev != nil {
			res = prev
		} else {
			run.byName[key(res.Workload, res.Impl, res.Case)] = res
			run.Results = append(run.Results, res)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %v", name, f[i], err)
			}
			unit := f[i+1]
			if _, ok := res.Values[unit]; !ok {
				res.Units = append(res.Units, unit)
			}
			res.Values[unit] = append(res.Values[unit], v)
		}
	}
	return run, sc.Err()
}

// newResult splits a benchmark name into workload, impl and case.
func newResult(name string) *Result {
	parts := strings.Split(name, "/")
	r := &Result{Name: name, Workload: strings.TrimPrefix(parts[0], "Benchmark"), Values: map[string][]float64{}}
	var rest []string
	for _, p := range parts[1:] {
		if v, ok := strings.CutPrefix(p, "impl="); ok {
			r.Impl = v
			continue
		}
		rest = append(rest, p)
	}
	r.Case = strings.Join(rest, "/")
	return r
}

// median returns the median of vs (the mean of the middle two for an even count).
func median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// Role is what an impl is in a comparison.
type Role int

const (
	RoleRinglog Role = iota // ringlog or one of its variants
	RolePeer                // another log
	RoleLimit               // a physical limit
)

func (r Role) String() string {
	return [...]string{"ringlog", "peer", "limit"}[r]
}

// RoleOf classifies an impl by its name: "ringlog..." is ringlog, "limit-..." a limit,
// anything else a peer.
func RoleOf(impl string) Role {
	switch {
	case strings.HasPrefix(impl, "ringlog"):
		return RoleRinglog
	case strings.HasPrefix(impl, "limit-"):
		return RoleLimit
	}
	return RolePeer
}
