package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// Child processes: the test binary re-executed with envRole set (see TestMain). Their
// parameters come in these variables; they answer on stdout.
const (
	envImpl     = "RINGLOG_BENCH_IMPL"     // memory: "ringlog", "tidwall", "raft-wal"
	envDir      = "RINGLOG_BENCH_DIR"      // log directory
	envEvents   = "RINGLOG_BENCH_EVENTS"   // events to write (memory) or append (appender)
	envSize     = "RINGLOG_BENCH_SIZE"     // payload size
	envHoldLock = "RINGLOG_BENCH_HOLDLOCK" // appender: "1" to open with Options.HoldLock
	envSync     = "RINGLOG_BENCH_SYNC"     // appender: "always" to open with Sync: SyncAlways
	envIdle     = "RINGLOG_BENCH_IDLE"     // durable-pairs: calls of Sync with nothing new
)

// runRole runs the child role named by envRole.
func runRole(role string) error {
	events, err := strconv.Atoi(os.Getenv(envEvents))
	if err != nil {
		return fmt.Errorf("%s: %w", envEvents, err)
	}
	size, err := strconv.Atoi(os.Getenv(envSize))
	if err != nil {
		return fmt.Errorf("%s: %w", envSize, err)
	}
	dir := os.Getenv(envDir)
	switch role {
	case "memory":
		return memoryChild(os.Getenv(envImpl), dir, events, size)
	case "appender":
		opts := &mmaplog.Options{HoldLock: os.Getenv(envHoldLock) == "1"}
		if os.Getenv(envSync) == "always" {
			opts.Sync = mmaplog.SyncAlways
		}
		return appenderChild(dir, events, size, opts)
	case "durable-pairs":
		return durablePairsChild(dir, events, size)
	}
	return fmt.Errorf("unknown role %q", role)
}

// memReport is what the memory child prints: bytes after writing, the log still open.
type memReport struct {
	HeapInuse uint64 // runtime.MemStats.HeapInuse after a GC
	RSS       uint64 // VmRSS
	RSSAnon   uint64 // RssAnon
	RSSFile   uint64 // RssFile + RssShmem: mapped file pages
}

// memoryChild writes events events of size bytes to a new log of impl in dir, then
// prints a memReport as JSON.
func memoryChild(impl, dir string, events, size int) error {
	f, err := openFiller(impl, dir)
	if err != nil {
		return err
	}
	if err := writeEvents(f, events, size); err != nil {
		f.close()
		return err
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st, err := procStatus()
	if err != nil {
		f.close()
		return err
	}
	rep := memReport{HeapInuse: ms.HeapInuse, RSS: st["VmRSS"], RSSAnon: st["RssAnon"],
		RSSFile: st["RssFile"] + st["RssShmem"]}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		f.close()
		return err
	}
	return f.close()
}

// procStatus returns the "kB" fields of /proc/self/status, in bytes.
func procStatus() (map[string]uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	m := map[string]uint64{}
	for line := range strings.Lines(string(data)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 2 && f[1] == "kB" {
			if n, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				m[k] = n << 10
			}
		}
	}
	return m, nil
}

// appenderChild opens the log in dir with opts, prints "ready", waits for a line on
// stdin, appends events events of size bytes with Append, and prints "done START END"
// (unix ns).
func appenderChild(dir string, events, size int, opts *mmaplog.Options) error {
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	ev := payload(size)
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return err
	}
	start := time.Now()
	for range events {
		if _, err := l.Append(ev); err != nil {
			return err
		}
	}
	end := time.Now()
	fmt.Printf("done %d %d\n", start.UnixNano(), end.UnixNano())
	return l.Close()
}

// child is a started child process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr bytes.Buffer
}

// startChild starts the test binary in role with the extra environment env.
func startChild(role string, env ...string) (*child, error) {
	c := &child{cmd: exec.Command(os.Args[0])}
	c.cmd.Env = append(os.Environ(), append([]string{envRole + "=" + role}, env...)...)
	c.cmd.Stderr = &c.stderr
	in, err := c.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.stdin, c.stdout = in, bufio.NewReader(out)
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// line reads the child's next line of output.
func (c *child) line() (string, error) {
	s, err := c.stdout.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("child: %w; stderr: %s", err, c.stderr.String())
	}
	return strings.TrimSpace(s), nil
}

// wait waits for the child to exit.
func (c *child) wait() error {
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("child: %w; stderr: %s", err, c.stderr.String())
	}
	return nil
}

// BenchmarkMemory writes 10M events of 128 B (1M with -short) in calls of 4096 events to
// a new log in a fresh process, and reports that process's heap in use (after a GC) and
// its RSS (all, anonymous, and mapped file pages) with the log still open: ringlog,
// tidwall/wal (NoSync) and raft-wal. ns/op is the whole child run.
func BenchmarkMemory(b *testing.B) {
	const size = 128
	events := events10M
	if testing.Short() {
		events = events1M
	}
	for _, impl := range []string{"ringlog", "tidwall", "raft-wal"} {
		b.Run(fmt.Sprintf("impl=%s/events=%s/size=%d", impl, eventsName(events), size), func(b *testing.B) {
			var rep memReport
			root := b.TempDir()
			run := 0
			for b.Loop() {
				run++
				dir := filepath.Join(root, strconv.Itoa(run))
				c, err := startChild("memory", envImpl+"="+impl, envDir+"="+dir,
					envEvents+"="+strconv.Itoa(events), envSize+"="+strconv.Itoa(size))
				if err != nil {
					b.Fatal(err)
				}
				line, err := c.line()
				if err != nil {
					b.Fatal(err)
				}
				if err := json.Unmarshal([]byte(line), &rep); err != nil {
					b.Fatalf("child said %q: %v", line, err)
				}
				if err := c.wait(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
			const mib = 1 << 20
			b.ReportMetric(float64(rep.HeapInuse)/mib, "heap-MiB")
			b.ReportMetric(float64(rep.RSS)/mib, "rss-MiB")
			b.ReportMetric(float64(rep.RSSAnon)/mib, "rss-anon-MiB")
			b.ReportMetric(float64(rep.RSSFile)/mib, "rss-file-MiB")
		})
	}
}

// multiProcessEvents returns the events each appending process appends per op.
func multiProcessEvents() int {
	if testing.Short() {
		return 20_000
	}
	return 200_000
}

// BenchmarkMultiProcess appends 128 B events with Append (non-durable) from 1, 2 and 4
// processes at once to one ringlog: each process opens the log, then all start together
// and append multiProcessEvents() events each. events/s is the aggregate rate over the
// append phase (first start to last end); ns/op is one whole round, process start
// included. ringlog-holdlock opens each handle with Options.HoldLock.
func BenchmarkMultiProcess(b *testing.B) {
	const size = 128
	events := multiProcessEvents()
	for _, procs := range []int{1, 2, 4} {
		for _, impl := range []string{"ringlog", "ringlog-holdlock"} {
			b.Run(fmt.Sprintf("impl=%s/procs=%d/size=%d", impl, procs, size), func(b *testing.B) {
				dir := b.TempDir()
				hold := envHoldLock + "=0"
				if impl == "ringlog-holdlock" {
					hold = envHoldLock + "=1"
				}
				benchRounds(b, dir, procs, events, size, hold)
			})
		}
	}
}

// benchRounds runs rounds of procs appender children on the log in dir (see
// multiProcessRound) for b, and reports the aggregate events/s and ns/event of their
// append phases.
func benchRounds(b *testing.B, dir string, procs, events, size int, env ...string) {
	var total int
	var span time.Duration
	for b.Loop() {
		d, err := multiProcessRound(dir, procs, events, size, env...)
		if err != nil {
			b.Fatal(err)
		}
		total += procs * events
		span += d
	}
	b.ReportMetric(float64(total)/span.Seconds(), "events/s")
	b.ReportMetric(float64(span.Nanoseconds())/float64(total), "ns/event")
}

// multiProcessRound runs one round of BenchmarkMultiProcess or BenchmarkDurableMultiProcess
// (procs appender children, each with the extra environment env) and returns the span of
// the append phase.
func multiProcessRound(dir string, procs, events, size int, env ...string) (time.Duration, error) {
	cs := make([]*child, 0, procs)
	defer func() {
		for _, c := range cs {
			c.stdin.Close()
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	}()
	for range procs {
		c, err := startChild("appender", append([]string{envDir + "=" + dir, envEvents + "=" + strconv.Itoa(events),
			envSize + "=" + strconv.Itoa(size)}, env...)...)
		if err != nil {
			return 0, err
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		if s, err := c.line(); err != nil || s != "ready" {
			return 0, fmt.Errorf("child not ready: %q %v", s, err)
		}
	}
	for _, c := range cs {
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			return 0, err
		}
	}
	var first, last int64
	for i, c := range cs {
		s, err := c.line()
		if err != nil {
			return 0, err
		}
		var start, end int64
		if _, err := fmt.Sscanf(s, "done %d %d", &start, &end); err != nil {
			return 0, fmt.Errorf("child said %q: %v", s, err)
		}
		if i == 0 || start < first {
			first = start
		}
		if i == 0 || end > last {
			last = end
		}
		if err := c.wait(); err != nil {
			return 0, err
		}
	}
	cs = nil
	return time.Duration(last - first), nil
}
