// Command report turns the output of the bench module's benchmarks into a Markdown report
// (per workload: ringlog, each peer and each limit, their medians and the ratios ringlog
// ÷ peer and ringlog ÷ limit; the targets of issue 6) and a chart drawn with gonum/plot.
//
//	go run ./cmd/report -in results/latest.txt -md results/latest.md -svg results/latest.svg
//
// bench/run.sh runs it after the benchmarks.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	in := flag.String("in", "results/latest.txt", "benchmark output to read")
	md := flag.String("md", "results/latest.md", "Markdown report to write")
	chart := flag.String("svg", "results/latest.svg", "chart to write (.svg, .png, .pdf); empty: none")
	mode := flag.String("mode", "full", "run mode named in the report: full or quick")
	count := flag.String("count", "?", "-count of the run, for the report")
	rounds := flag.String("rounds", "", "number of -count 1 rounds the run was made of, if it was (for the report)")
	benchtime := flag.String("benchtime", "1s", "-benchtime of the run, for the report")
	benchstat := flag.String("benchstat", "", "benchstat output to link from the report, if any")
	readme := flag.String("readme", "", "README whose results block to refresh, if any")
	command := flag.String("cmd", "`make bench-peers` (full) or `make bench-quick`", "what remakes the report, named in it (Markdown)")
	flag.Parse()
	if err := run(*in, *md, *chart, *mode, *count, *rounds, *benchtime, *benchstat, *readme, *command); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(in, md, chart, mode, count, rounds, benchtime, benchstat, readme, command string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := Parse(f)
	if err != nil {
		return err
	}
	if len(res.Results) == 0 {
		return fmt.Errorf("%s: no benchmark results", in)
	}
	info := machine(res)
	info.Mode, info.Count, info.Rounds, info.Benchtime = mode, count, rounds, benchtime
	info.Source, info.Command = filepath.Base(in), command
	info.Date = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	if benchstat != "" {
		info.Benchstat = relTo(md, benchstat)
	}
	if chart != "" {
		cmps := Comparisons(res)
		p, err := NewChart(cmps, info)
		if err != nil {
			return err
		}
		w, h := ChartSize(len(cmps))
		if err := p.Save(w, h, chart); err != nil {
			return err
		}
		info.Chart = relTo(md, chart)
	}
	out, err := os.Create(md)
	if err != nil {
		return err
	}
	if err := WriteMarkdown(out, res, info); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if readme == "" {
		return nil
	}
	text, err := os.ReadFile(readme)
	if err != nil {
		return err
	}
	chartLink := ""
	if chart != "" {
		chartLink = relTo(readme, chart)
	}
	updated, err := UpdateReadme(string(text), ReadmeBlock(res, info, relTo(readme, md), chartLink))
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	return os.WriteFile(readme, []byte(updated), 0o644)
}

// relTo returns path relative to the directory of file, for a link in file.
func relTo(file, path string) string {
	dir, err1 := filepath.Abs(filepath.Dir(file))
	abs, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return path
	}
	if rel, err := filepath.Rel(dir, abs); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}

// machine describes this machine: the CPU model (from /proc/cpuinfo, else the benchmark
// header's cpu line), nproc, the kernel release (uname -r), memory and the Go version.
func machine(res *Run) Info {
	info := Info{NProc: runtime.NumCPU(), GoVersion: runtime.Version(), CPU: res.Header["cpu"]}
	if model := procField("/proc/cpuinfo", "model name"); model != "" {
		info.CPU = model
	}
	if info.CPU == "" {
		info.CPU = "unknown CPU"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		info.Kernel = strings.TrimSpace(string(b))
	}
	info.MemTotal = "?"
	if kb := strings.Fields(procField("/proc/meminfo", "MemTotal")); len(kb) > 0 {
		if n, err := strconv.ParseFloat(kb[0], 64); err == nil {
			info.MemTotal = fmt.Sprintf("%.0f GiB", n/(1<<20))
		}
	}
	if v := os.Getenv("BENCH_GO_VERSION"); v != "" {
		info.GoVersion = v // the toolchain that ran the benchmarks, from run.sh
	}
	return info
}

// procField returns the value of the first "name: value" line of a /proc file, or "".
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
