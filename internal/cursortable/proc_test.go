package cursortable

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A re-executed test binary with childEnv set runs one of these roles instead of the
// tests, on the table in CURSORTABLE_DIR.
const childEnv = "CURSORTABLE_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "hold":
		os.Exit(childHold())
	case "commit-loop":
		os.Exit(childCommitLoop())
	default:
		fmt.Fprintln(os.Stderr, "unknown role")
		os.Exit(2)
	}
}

func childEntry() (*Entry, error) {
	tb, err := Open(os.Getenv("CURSORTABLE_DIR"), testID, false, false, 0)
	if err != nil {
		return nil, err
	}
	return tb.Lookup("c", false, 0)
}

// childHold takes the entry as a committer does, writes half of the next copy, says
// "held" and waits to be killed: a committer SIGKILLed in the middle of Commit.
func childHold() int {
	e, err := childEntry()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	g := acquire(e.r)
	atomic.StoreUint64(&e.r.copies[(g+1)&1].pos, 1<<40)
	fmt.Println("held")
	time.Sleep(time.Minute)
	return 1
}

// childCommitLoop commits position after position as fast as it can until killed.
func childCommitLoop() int {
	e, err := childEntry()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("running")
	for {
		p, err := e.Position()
		if err == nil {
			err = e.Commit(p + 1)
		}
		if err != nil { // the only committer: never ErrBackward either
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

func startChild(t *testing.T, dir, role string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "CURSORTABLE_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if !bufio.NewScanner(out).Scan() {
		t.Fatalf("child %s said nothing", role)
	}
	return cmd
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// TestKillHoldingEntry: a process SIGKILLed while it holds an entry, half-way through
// writing the next copy: readers still get the committed position, and the next
// commit, in another process, takes the entry over.
func TestKillHoldingEntry(t *testing.T) {
	dir := t.TempDir()
	tb := openT(t, dir)
	e := lookup(t, tb, "c")
	if err := e.Commit(42); err != nil {
		t.Fatal(err)
	}
	kill(t, startChild(t, dir, "hold"))
	if atomic.LoadUint64(&e.r.ctl)&ownerMask == 0 {
		t.Fatal("the killed child does not hold the entry")
	}
	if p := mustPos(t, e); p != 42 {
		t.Fatalf("position %d after a committer died mid-commit, want 42", p)
	}
	start := time.Now()
	if err := e.Commit(43); err != nil {
		t.Fatal(err)
	}
	if p := mustPos(t, e); p != 43 || atomic.LoadUint64(&e.r.ctl)&ownerMask != 0 {
		t.Fatalf("after the takeover: position %d ctl %#x", p, e.r.ctl)
	}
	t.Logf("takeover of a dead owner's entry took %v", time.Since(start))
}

// TestKillCommitLoop SIGKILLs a process committing in a tight loop, 20 times
// (RINGLOG_LONG=1: 200): after each kill the position is valid (never torn), never
// below the last one seen, and the next commit succeeds (taking the entry over when
// the child died holding it).
func TestKillCommitLoop(t *testing.T) {
	kills := 20
	if os.Getenv("RINGLOG_LONG") != "" {
		kills = 200
	}
	dir := t.TempDir()
	tb := openT(t, dir)
	e := lookup(t, tb, "c")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var last uint64
	held := 0
	for k := range kills {
		cmd := startChild(t, dir, "commit-loop")
		time.Sleep(time.Duration(1+rng.IntN(5)) * time.Millisecond)
		kill(t, cmd)
		if atomic.LoadUint64(&e.r.ctl)&ownerMask != 0 {
			held++
		}
		p, err := e.Position()
		if err != nil || p < last {
			t.Fatalf("kill %d: position %d (last %d): %v", k, p, last, err)
		}
		if err := e.Commit(p + 1); err != nil {
			t.Fatalf("kill %d: commit after the kill: %v", k, err)
		}
		last = p + 1
	}
	if last < uint64(kills)*2 {
		t.Fatalf("the children committed almost nothing: position %d", last)
	}
	t.Logf("%d kills, %d of them mid-commit (entry held), final position %d", kills, held, last)
}
