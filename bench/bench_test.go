package bench

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// Quick checks that the benchmarks measure what they claim: the fillers write ids
// 1..events that each peer reads back, the limits compute, the child roles answer.

func TestFillReadBack(t *testing.T) {
	const events, size = 10_000, 128 // more than one batch of fillBatch
	want := payload(size)
	for _, impl := range []string{"ringlog", "tidwall", "raft-wal"} {
		t.Run(impl, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			if err := fill(impl, dir, events, size); err != nil {
				t.Fatal(err)
			}
			var get func(id uint64) ([]byte, error)
			switch impl {
			case "ringlog":
				l := openRinglogAt(t, dir, nil)
				get = l.Get
				n, err := l.NextEventID()
				if err != nil || n != events+1 {
					t.Fatalf("NextEventID = %d, %v; want %d", n, err, events+1)
				}
			case "tidwall":
				l := openTidwall(t, dir, tidwallOptions(false))
				get = l.Read
				if last, err := l.LastIndex(); err != nil || last != events {
					t.Fatalf("LastIndex = %d, %v; want %d", last, err, events)
				}
			case "raft-wal":
				w, closeFn, err := openRaftWAL(dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { closeFn() })
				get = func(id uint64) ([]byte, error) {
					var rl raft.Log
					err := w.GetLog(id, &rl)
					return rl.Data, err
				}
			}
			for _, id := range []uint64{1, fillBatch, fillBatch + 1, events} {
				got, err := get(id)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("get(%d) = %q, %v", id, got, err)
				}
			}
		})
	}
}

func TestReopenRaftWAL(t *testing.T) {
	// The meta store openRaftWAL closes itself lets the same directory open again.
	dir := t.TempDir()
	for range 3 {
		_, closeFn, err := openRaftWAL(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := closeFn(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLimits(t *testing.T) {
	m := prefaultedMapping(t, 1<<16)
	ev := payload(100)
	off := 0
	for range 1000 {
		off = memcpyLimit(m, off, [][]byte{ev})
	}
	if want := 1000 * 100 % (len(m) / 100 * 100); off != want {
		t.Fatalf("memcpy offset %d, want %d", off, want)
	}
	if !bytes.Equal(m[:100], ev) {
		t.Fatal("memcpy did not copy")
	}
	if err := flockPair(lockFile(t)); err != nil {
		t.Fatal(err)
	}
	words := make([]byte, 64)
	for i := range 8 {
		words[i*8] = byte(i + 1)
	}
	if got := bulkRead(words); got != 36 {
		t.Fatalf("bulkRead = %d, want 36", got)
	}
	if err := pwriteSync(syncFile(t), 1<<30, ev); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryChild(t *testing.T) {
	for _, impl := range []string{"ringlog", "tidwall", "raft-wal"} {
		t.Run(impl, func(t *testing.T) {
			c, err := startChild("memory", envImpl+"="+impl, envDir+"="+filepath.Join(t.TempDir(), "log"),
				envEvents+"=5000", envSize+"=128")
			if err != nil {
				t.Fatal(err)
			}
			line, err := c.line()
			if err != nil {
				t.Fatal(err)
			}
			var rep memReport
			if err := json.Unmarshal([]byte(line), &rep); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if err := c.wait(); err != nil {
				t.Fatal(err)
			}
			if rep.HeapInuse == 0 || rep.RSS == 0 || rep.RSS < rep.RSSAnon {
				t.Fatalf("implausible report %+v", rep)
			}
		})
	}
}

func TestMultiProcessRound(t *testing.T) {
	dir := t.TempDir()
	const procs, events = 2, 500
	for _, hold := range []string{envHoldLock + "=0", envHoldLock + "=1"} {
		d, err := multiProcessRound(dir, procs, events, 64, hold)
		if err != nil {
			t.Fatal(err)
		}
		if d <= 0 {
			t.Fatalf("span %v", d)
		}
	}
	l := openRinglogAt(t, dir, nil)
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(2 * procs * events); st.EventCount != want {
		t.Fatalf("%d events, want %d", st.EventCount, want)
	}
}

func TestEventsName(t *testing.T) {
	for n, want := range map[int]string{events1M: "1M", events10M: "10M", 4096: "4K", 1000: "1000"} {
		if got := eventsName(n); got != want {
			t.Errorf("eventsName(%d) = %q, want %q", n, got, want)
		}
	}
}
