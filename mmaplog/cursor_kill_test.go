package mmaplog_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

const cursorKillName = "shared-group"

func init() { childRoles["cursor-consumer"] = cursorConsumer }

// cursorConsumer follows the shared cursor from its committed position: for each event
// it prints "read ID", works a little (the window a SIGKILL lands in), commits ID+1 and
// prints "committed ID+1" once Commit has returned. Its first line is "start P", the
// position it resumed at; the first event it reads must not be below P. It checks on its own that
// the position never moves backward under it and that every event has its bytes.
func cursorConsumer() int {
	l, err := mmaplog.Open(os.Getenv("CURSOR_DIR"), nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	c, err := l.Cursor(cursorKillName)
	if err != nil {
		return childFail("cursor: %v", err)
	}
	start := c.Position()
	fmt.Printf("start %d\n", start)
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	it := c.Follow(context.Background())
	first, last := true, start
	for it.Next() {
		id := it.ID()
		if first && id < start { // the other consumer may have moved it on since
			return childFail("resumed at %d, first event read %d", start, id)
		}
		first = false
		if want := "ev-" + strconv.FormatUint(id, 10); string(it.Value()) != want {
			return childFail("event %d holds %q, want %q", id, it.Value(), want)
		}
		fmt.Printf("read %d\n", id)
		time.Sleep(time.Duration(rng.IntN(400)) * time.Microsecond)
		err := c.Commit(id + 1)
		if err != nil && !errors.Is(err, mmaplog.ErrCursorBackward) { // the other consumer may be ahead
			return childFail("commit %d: %v", id+1, err)
		}
		if err == nil {
			fmt.Printf("committed %d\n", id+1)
		}
		p, err := c.Load()
		if err != nil || p < last || p < id+1 {
			return childFail("position %d after committing %d (last seen %d): %v", p, id+1, last, err)
		}
		last = p
	}
	return childFail("follow ended: %v", it.Err())
}

// consumerProc is one running consumer and the lines it printed.
type consumerProc struct {
	cmd   *exec.Cmd
	lines chan string
	floor uint64 // the highest commit acknowledged before it started
}

func startConsumer(t *testing.T, dir string, floor uint64) *consumerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childRoleEnv+"=cursor-consumer", "CURSOR_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &consumerProc{cmd: cmd, lines: make(chan string, 1<<16), floor: floor}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			p.lines <- s.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

// TestCursorKill runs two consumer processes on one cursor name and SIGKILLs one of
// them at a random moment, again and again (20 times; RINGLOG_LONG=1: 200), restarting
// it. A consumer is killed mostly between reading an event and committing it. Checked
// against every line the consumers printed before they died: the position (read by the
// parent's own handle of the same name) never moves backward, never falls below a
// commit a consumer saw return (none lost), never exceeds the highest id read + 1 (never
// a later value than committed), and a restarted consumer resumes at the committed
// position, at or above every commit acknowledged before its start.
func TestCursorKill(t *testing.T) {
	kills := 20
	if os.Getenv("RINGLOG_LONG") != "" {
		kills = 200
	}
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 1))
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const events = 100000
	batch := make([][]byte, 0, 1000)
	for i := 0; i < events; i += cap(batch) {
		batch = batch[:0]
		for j := range cap(batch) {
			batch = append(batch, []byte("ev-"+strconv.Itoa(i+j)))
		}
		if _, err := l.AppendBatch(batch); err != nil {
			t.Fatal(err)
		}
	}
	c, err := l.Cursor(cursorKillName)
	if err != nil {
		t.Fatal(err)
	}
	var (
		acked    uint64 // highest commit a consumer printed as returned
		maxRead  uint64 // highest id a consumer printed as read
		lastSeen uint64 // the parent's last reading of the position
		starts   int
		commits  int
	)
	var procs []*consumerProc
	var drain func(p *consumerProc, all bool)
	check := func(when string) {
		t.Helper()
		ackedBefore := acked // acknowledged before the position is read: p must cover it
		p, err := c.Load()
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		// "read ID" is in the pipe before Commit(ID+1) starts, but this process may not
		// have scanned it yet: give the live consumers' lines time to arrive.
		for wait := time.Now().Add(5 * time.Second); p > maxRead+1 && time.Now().Before(wait); {
			for _, q := range procs {
				drain(q, false)
			}
			time.Sleep(100 * time.Microsecond)
		}
		if p < lastSeen || p < ackedBefore || p > maxRead+1 {
			t.Fatalf("%s: position %d (last seen %d, highest commit acknowledged before %d, highest id read %d)", when, p, lastSeen, ackedBefore, maxRead)
		}
		lastSeen = p
	}
	// drain takes in the lines a consumer printed; all is set once it has exited (its
	// pipe is closed), so that every commit it saw return is counted.
	drain = func(p *consumerProc, all bool) {
		t.Helper()
		for {
			var line string
			var ok bool
			if all {
				line, ok = <-p.lines
			} else {
				select {
				case line, ok = <-p.lines:
				default:
					return
				}
			}
			if !ok {
				return
			}
			f := strings.Fields(line)
			v, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
			switch f[0] {
			case "start":
				starts++
				if v < p.floor {
					t.Fatalf("a consumer resumed at %d below the commit %d acknowledged before it started", v, p.floor)
				}
			case "read":
				maxRead = max(maxRead, v)
			case "committed":
				commits++
				acked = max(acked, v)
			}
		}
	}
	procs = []*consumerProc{startConsumer(t, dir, 0), startConsumer(t, dir, 0)}
	for k := range kills {
		deadline := time.Now().Add(time.Duration(5+rng.IntN(40)) * time.Millisecond)
		for time.Now().Before(deadline) {
			for _, p := range procs {
				drain(p, false)
			}
			check("while consuming")
			time.Sleep(time.Millisecond)
		}
		i := rng.IntN(len(procs))
		if err := procs[i].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := procs[i].cmd.Wait()
		drain(procs[i], true)
		if ws, ok := procs[i].cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("kill %d: the consumer exited by itself: %v", k, err)
		}
		check(fmt.Sprintf("after kill %d", k))
		procs[i] = startConsumer(t, dir, acked)
	}
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		drain(p, true)
	}
	check("at the end")
	if commits == 0 || acked == 0 {
		t.Fatal("no consumer committed anything")
	}
	t.Logf("%d kills, %d consumer starts, %d acknowledged commits, final position %d (highest id read %d)", kills, starts, commits, lastSeen, maxRead)
}

func init() { childRoles["cursor-create"] = cursorCreate }

// cursorCreate opens the cursor "same" and one of its own on a log whose cursor table
// may not exist yet, and commits its index + 1 on "same".
func cursorCreate() int {
	l, err := mmaplog.Open(os.Getenv("CURSOR_DIR"), nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	c, err := l.Cursor("same")
	if err != nil {
		return childFail("cursor: %v", err)
	}
	if _, err := l.Cursor("own-" + strconv.Itoa(childIndex())); err != nil {
		return childFail("own cursor: %v", err)
	}
	if err := c.Commit(mmaplog.EventID(childIndex() + 1)); err != nil && !errors.Is(err, mmaplog.ErrCursorBackward) {
		return childFail("commit: %v", err)
	}
	return 0
}

// TestCursorCreateAcrossProcesses: 4 processes open the same cursor name at once on a log
// without a cursor table: one table file, one entry for the name, holding the highest
// commit.
func TestCursorCreateAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 4
	runChildren(t, "cursor-create", n, "CURSOR_DIR="+dir)
	list, err := l.Cursors()
	if err != nil {
		t.Fatal(err)
	}
	same := 0
	for _, ci := range list {
		if ci.Name == "same" {
			same++
			if ci.Position != n {
				t.Fatalf("same at %d, want %d (the highest commit)", ci.Position, n)
			}
		}
	}
	if same != 1 || len(list) != n+1 {
		t.Fatalf("%d entries named same among %+v", same, list)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "cursors.tmp") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}
