package mmaplog_test

import (
	"bufio"
	"bytes"
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

// Environment of a cursor consumer (cursorConsumer).
const (
	cursorEnvDir  = "CURSOR_DIR"  // the log
	cursorEnvName = "CURSOR_NAME" // its cursor; cursorKillName when unset
	cursorEnvPad  = "CURSOR_PAD"  // the pad of every event's payload (cursorPayload); 0 when unset
)

// cursorPayload is the payload of event id in the cursor kill tests: "ev-<id>", then pad
// bytes 'x' (a larger pad makes fewer events fill a segment).
func cursorPayload(id uint64, pad int) []byte {
	return append(strconv.AppendUint([]byte("ev-"), id, 10), bytes.Repeat([]byte{'x'}, pad)...)
}

func init() { childRoles["cursor-consumer"] = cursorConsumer }

// cursorConsumer follows its cursor (cursorEnvName) from its committed position: for each
// event it prints "read ID", works a little (the window a SIGKILL lands in), commits ID+1
// and prints "committed ID+1" once Commit has returned. Its first line is "start P", the
// position it resumed at; the first event it reads must not be below P. It checks on its
// own that the position never moves backward under it and that every event has its bytes
// (cursorPayload with cursorEnvPad). Commit's ErrCursorBackward is allowed (another
// consumer of the same name may be ahead); it prints no "committed" line.
func cursorConsumer() int {
	l, err := mmaplog.Open(os.Getenv(cursorEnvDir), nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	name, pad := os.Getenv(cursorEnvName), envInt(cursorEnvPad)
	if name == "" {
		name = cursorKillName
	}
	c, err := l.Cursor(name)
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
		if want := cursorPayload(id, pad); !bytes.Equal(it.Value(), want) {
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
	cmd      *exec.Cmd
	lines    chan string
	floor    uint64 // the highest commit of its cursor acknowledged before it started
	at       uint64 // cursorLedger.own: the position of its cursor when it started
	next     uint64 // the id after the last one it printed as read (its start position first)
	inWindow bool   // its last line is "read": it has not printed the commit of that event
}

// startConsumer starts a cursorConsumer on the log in dir (env: cursorEnvName and
// cursorEnvPad) whose lines arrive on its lines channel, closed once it has exited.
func startConsumer(t *testing.T, dir string, floor uint64, env ...string) *consumerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childRoleEnv+"=cursor-consumer", cursorEnvDir+"="+dir)
	cmd.Env = append(cmd.Env, env...)
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

// cursorLedger is what the parent knows of one cursor name: the lines of the consumers on
// it, and the position read through its own handle.
type cursorLedger struct {
	c     *mmaplog.Cursor // the parent's handle of the name
	env   []string        // the environment of its consumers (startConsumer)
	own   bool            // one consumer at a time: its lines must be start P, read P, committed P+1, read P+1...
	procs []*consumerProc // the consumers running on it

	acked    uint64 // highest commit a consumer printed as returned
	maxRead  uint64 // highest id a consumer printed as read
	lastSeen uint64 // the parent's last reading of the position

	starts, reads, commits int
	killsInWindow          int // kills of a consumer whose last line was "read"
}

// start starts a consumer on the ledger's cursor (the caller puts it in procs). With own
// set, no other consumer runs on the cursor: the position it must resume at is read now.
func (g *cursorLedger) start(t *testing.T, dir string) *consumerProc {
	t.Helper()
	at, err := g.c.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := startConsumer(t, dir, g.acked, g.env...)
	p.at = at
	return p
}

// take records one line of consumer p.
func (g *cursorLedger) take(t *testing.T, p *consumerProc, line string) {
	t.Helper()
	f := strings.Fields(line)
	v, _ := strconv.ParseUint(f[len(f)-1], 10, 64)
	switch f[0] {
	case "start":
		g.starts++
		if v < p.floor {
			t.Fatalf("%s: a consumer resumed at %d below the commit %d acknowledged before it started", g.c.Name(), v, p.floor)
		}
		if g.own && v != p.at {
			t.Fatalf("%s: a consumer resumed at %d, its cursor was at %d when it started", g.c.Name(), v, p.at)
		}
		p.next = v
	case "read":
		g.reads++
		if g.own && (p.inWindow || v != p.next) {
			t.Fatalf("%s: read %d after %q, want read %d (a gap is an event removed before its cursor consumed it)", g.c.Name(), v, lastLine(p), p.next)
		}
		g.maxRead = max(g.maxRead, v)
		p.next, p.inWindow = v+1, true
	case "committed":
		g.commits++
		if g.own && (!p.inWindow || v != p.next) {
			t.Fatalf("%s: committed %d, want the commit of %d right after its read", g.c.Name(), v, p.next)
		}
		g.acked = max(g.acked, v)
		p.inWindow = false
	default:
		t.Fatalf("%s: a consumer printed %q", g.c.Name(), line)
	}
}

// lastLine describes what p printed last, for take's messages.
func lastLine(p *consumerProc) string {
	if p.inWindow {
		return "read " + strconv.FormatUint(p.next-1, 10)
	}
	return "start or committed " + strconv.FormatUint(p.next, 10)
}

// drain takes in the lines p printed; all is set once p was killed: it waits for the pipe
// to close, so that every commit p saw return is counted. It reports whether the pipe is
// still open (false: p has exited).
func (g *cursorLedger) drain(t *testing.T, p *consumerProc, all bool) bool {
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
				return true
			}
		}
		if !ok {
			return false
		}
		g.take(t, p, line)
	}
}

// drainLive drains the running consumers; one that has exited by itself (a failed check
// of its own, on stderr) fails the test.
func (g *cursorLedger) drainLive(t *testing.T) {
	t.Helper()
	for _, p := range g.procs {
		if !g.drain(t, p, false) {
			t.Fatalf("%s: a consumer exited by itself: %v", g.c.Name(), p.cmd.Wait())
		}
	}
}

// kill SIGKILLs consumer p, takes all its lines, then reaps it; one that had exited by
// itself fails the test.
func (g *cursorLedger) kill(t *testing.T, p *consumerProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g.drain(t, p, true) // before Wait, which closes the pipe
	err := p.cmd.Wait()
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("%s: the consumer exited by itself: %v", g.c.Name(), err)
	}
	if p.inWindow {
		g.killsInWindow++
	}
}

// check reads the position through the parent's handle: it never moves backward, never
// falls below a commit acknowledged before it was read (none lost), and never exceeds
// the highest id read + 1 (never a later value than committed).
func (g *cursorLedger) check(t *testing.T, when string) {
	t.Helper()
	ackedBefore := g.acked // acknowledged before the position is read: p must cover it
	p, err := g.c.Load()
	if err != nil {
		t.Fatalf("%s %s: %v", g.c.Name(), when, err)
	}
	// "read ID" is in the pipe before Commit(ID+1) starts, but this process may not
	// have scanned it yet: give the live consumers' lines time to arrive.
	for wait := time.Now().Add(5 * time.Second); p > g.maxRead+1 && time.Now().Before(wait); {
		for _, q := range g.procs {
			g.drain(t, q, false)
		}
		time.Sleep(100 * time.Microsecond)
	}
	if p < g.lastSeen || p < ackedBefore || p > g.maxRead+1 {
		t.Fatalf("%s %s: position %d (last seen %d, highest commit acknowledged before %d, highest id read %d)", g.c.Name(), when, p, g.lastSeen, ackedBefore, g.maxRead)
	}
	g.lastSeen = p
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
			batch = append(batch, cursorPayload(uint64(i+j), 0))
		}
		if _, err := l.AppendBatch(batch); err != nil {
			t.Fatal(err)
		}
	}
	c, err := l.Cursor(cursorKillName)
	if err != nil {
		t.Fatal(err)
	}
	g := &cursorLedger{c: c}
	g.procs = []*consumerProc{g.start(t, dir), g.start(t, dir)}
	for k := range kills {
		deadline := time.Now().Add(time.Duration(5+rng.IntN(40)) * time.Millisecond)
		for time.Now().Before(deadline) {
			g.drainLive(t)
			g.check(t, "while consuming")
			time.Sleep(time.Millisecond)
		}
		i := rng.IntN(len(g.procs))
		g.kill(t, g.procs[i])
		g.check(t, fmt.Sprintf("after kill %d", k))
		g.procs[i] = g.start(t, dir)
	}
	for _, p := range g.procs {
		g.kill(t, p)
	}
	g.check(t, "at the end")
	if g.commits == 0 || g.acked == 0 {
		t.Fatal("no consumer committed anything")
	}
	t.Logf("%d kills (%d between a read and its commit's line), %d consumer starts, %d acknowledged commits, final position %d (highest id read %d)",
		kills, g.killsInWindow, g.starts, g.commits, g.lastSeen, g.maxRead)
}

func init() { childRoles["cursor-create"] = cursorCreate }

// cursorCreate opens the cursor "same" and one of its own on a log whose cursor table
// may not exist yet, and commits its index + 1 on "same".
func cursorCreate() int {
	l, err := mmaplog.Open(os.Getenv(cursorEnvDir), nil)
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
	runChildren(t, "cursor-create", n, cursorEnvDir+"="+dir)
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
