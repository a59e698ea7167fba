package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// demoLastLine is the form of the demo's last line.
var demoLastLine = regexp.MustCompile(`^demo: (\d+) events, 3 writers, 2 kills, 0 lost, ids dense, check clean$`)

// TestDemoShort runs the demo as a real process in a short mode and checks its last line,
// its exit status and what it showed on the way (plain status lines, the kills, the
// summary).
func TestDemoShort(t *testing.T) {
	start := time.Now()
	r := ringlogWith(t, runOpts{timeout: 2 * time.Minute}, "demo", "--duration", "2s", "--dir", t.TempDir()+"/log").want(t, 0, "demo --duration 2s")
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	m := demoLastLine.FindStringSubmatch(last)
	if m == nil || m[1] == "0" {
		t.Fatalf("last line %q\n%s", last, r.stdout)
	}
	for _, want := range []string{"kill 1 at ", "kill 2 at ", "SIGKILL of writer 1 (HoldLock", "SIGKILL of writer 3 (AppendWithID",
		"summary: ", "follower  ", "verified  ids dense 0..", ", 0 lost;", "Check: "} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("the demo's output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Fatalf("escape sequences without a terminal:\n%q", r.stdout)
	}
	if n := strings.Count(r.stdout, " s / 2s "); n < 2 {
		t.Fatalf("%d status lines in a 2 s demo:\n%s", n, r.stdout)
	}
	t.Logf("demo took %v; %s", time.Since(start), last)
}

// TestDemoVerifyFindsWhatIsWrong gives the verification a log and acknowledgements that
// disagree: an acknowledged event missing (lost), one whose bytes differ, a duplicate,
// and an event that is not a demo event.
func TestDemoVerifyFindsWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ev := func(seq uint64) []byte {
		return demoEvent{writer: 1, inc: 1, seq: seq, prevReturn: int64(seq) * 10}.appendTo(nil)
	}
	var acks []ack
	for seq := uint64(0); seq < 10; seq++ {
		id, err := l.Append(ev(seq))
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, ack{id: id, prevReturn: int64(seq) * 10})
	}
	clean := func() verdict {
		w := &writerProc{slot: 1, acks: map[uint8][]ack{1: acks}}
		d := &demo{l: l, writers: []*writerProc{w}, fol: &followerProc{final: followerFinal{seen: uint64(len(acks))}}}
		return d.verify()
	}
	if v := clean(); len(v.failures) != 0 || v.acked != 10 || v.lost != 0 {
		t.Fatalf("a consistent log: %+v", v)
	}
	cases := []struct {
		name    string
		acks    func() []ack
		append  [][]byte
		want    string
		lost    uint64
		follows uint64
	}{
		{"two acknowledged events missing", func() []ack {
			return append(append([]ack(nil), acks...), ack{id: 10, prevReturn: 100}, ack{id: 11, prevReturn: 110})
		}, nil, "2 events acknowledged by writer 1 run 1 are missing", 2, 10},
		{"bytes differ from the acknowledged ones", func() []ack {
			a := append([]ack(nil), acks...)
			a[4].prevReturn = 41
			return a
		}, nil, "event 4: bytes differ", 0, 10},
		{"acknowledged at another id", func() []ack {
			a := append([]ack(nil), acks...)
			a[2].id = 7
			return a
		}, nil, "seq 2 was acknowledged as id 7 but is at id 2", 0, 10},
		{"a duplicate", func() []ack { return acks }, [][]byte{ev(3)}, "seq 3 where seq 10 was due", 0, 11},
		{"not a demo event", func() []ack { return acks }, [][]byte{[]byte("stray")}, "event 10: not a valid demo event", 0, 11},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cdir := t.TempDir()
			if _, err := l.Backup(cdir+"/log", nil); err != nil {
				t.Fatal(err)
			}
			cl, err := mmaplog.Open(cdir+"/log", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			for _, b := range c.append {
				if _, err := cl.Append(b); err != nil {
					t.Fatal(err)
				}
			}
			w := &writerProc{slot: 1, acks: map[uint8][]ack{1: c.acks()}}
			d := &demo{l: cl, writers: []*writerProc{w}, fol: &followerProc{final: followerFinal{seen: c.follows}}}
			v := d.verify()
			if !strings.Contains(strings.Join(v.failures, "; "), c.want) || v.lost != c.lost {
				t.Fatalf("failures %q (lost %d), want one containing %q (lost %d)", v.failures, v.lost, c.want, c.lost)
			}
		})
	}
}

func TestBenchShort(t *testing.T) {
	r := ringlogWith(t, runOpts{timeout: 2 * time.Minute}, "bench", "--duration", "1s", "--dir", t.TempDir()).want(t, 0, "bench")
	rows := 0
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasSuffix(strings.TrimSpace(line), "x") && strings.Contains(line, "/s") {
			rows++
		}
	}
	if rows != 6 {
		t.Fatalf("bench printed %d rows with a ratio, want 6:\n%s", rows, r.stdout)
	}
	t.Logf("\n%s", r.stdout)
}

// TestDemoInterrupted: SIGINT stops the demo: exit status 1, a last line saying so, and
// no writer left appending to its log.
func TestDemoInterrupted(t *testing.T) {
	dir := t.TempDir() + "/log"
	cmd := exec.Command(ringlogBin, "demo", "--duration", "60s", "--dir", dir)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The first status line comes after a second of appends.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), " s / 1m0s "); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no status line:\n%s", out.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("interrupted demo: %v, want exit status 1\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-2], "demo: FAILED: interrupted") {
		t.Fatalf("interrupted demo's output:\n%s", out.String())
	}
	l, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before, _ := l.NextEventID()
	time.Sleep(300 * time.Millisecond)
	after, _ := l.NextEventID()
	if li, err := l.LockStatus(); err != nil || li.HolderPID != 0 || after != before {
		t.Fatalf("after the interrupted demo: lock %+v (%v), next id %d then %d", li, err, before, after)
	}
}

// syncBuffer is a bytes.Buffer that a test may read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
