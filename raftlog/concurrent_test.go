package raftlog_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/raftlog"
)

// TestConcurrentReadersAndWriter (raft-wal's test): one writer appends, truncates and
// rewrites its tail and compacts its head, while readers read random indexes and the
// bounds. A reader gets an exact entry (index and term consistent with its content) or
// raft.ErrLogNotFound, nothing else.
func TestConcurrentReadersAndWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 3))
	s := mustOpen(t, t.TempDir(), nil)
	dur := 1500 * time.Millisecond
	if testing.Short() {
		dur = 500 * time.Millisecond
	}
	stop := make(chan struct{})
	var reads, misses, tailRewrites, compactions atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	if err := s.StoreLogs(entries(1000, 100, 1)); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		next, term := uint64(1100), uint64(1)
		for round := 1; ; round++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.StoreLogs(entries(next, 1+int(next%5), term)); err != nil {
				errc <- fmt.Errorf("append at %d: %w", next, err)
				return
			}
			next += 1 + next%5
			if round%7 == 0 { // truncate the tail and rewrite it with a new term
				if err := s.DeleteRange(next-3, next-1); err != nil {
					errc <- err
					return
				}
				if last, _ := s.LastIndex(); last != next-4 {
					errc <- fmt.Errorf("tail truncation left last=%d, want %d", last, next-4)
					return
				}
				term++
				if err := s.StoreLogs(entries(next-3, 3, term)); err != nil {
					errc <- err
					return
				}
				tailRewrites.Add(1)
			}
			if round%11 == 0 {
				first, _ := s.FirstIndex()
				if err := s.DeleteRange(first, first+10); err != nil {
					errc <- err
					return
				}
				compactions.Add(1)
			}
		}
	})
	for r := range 3 {
		rr := rand.New(rand.NewPCG(rng.Uint64(), uint64(r)))
		wg.Go(func() {
			var l raft.Log
			for {
				select {
				case <-stop:
					return
				default:
				}
				first, _ := s.FirstIndex()
				last, _ := s.LastIndex()
				if last < first {
					errc <- fmt.Errorf("LastIndex %d < FirstIndex %d", last, first)
					return
				}
				if last == 0 {
					continue
				}
				idx := first + rr.Uint64N(last-first+1)
				err := s.GetLog(idx, &l)
				if err == raft.ErrLogNotFound {
					misses.Add(1)
					continue
				}
				if err != nil {
					errc <- fmt.Errorf("GetLog(%d): %w", idx, err)
					return
				}
				if want := entry(idx, l.Term); !sameLog(&l, want) {
					errc <- fmt.Errorf("GetLog(%d) = %+v, want %+v", idx, l, *want)
					return
				}
				reads.Add(1)
			}
		})
	}
	// Run for dur, and on a slow machine until the writer has done each thing a few times.
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) || (tailRewrites.Load() < 3 || compactions.Load() < 3) && time.Since(deadline) < 20*time.Second {
		select {
		case err := <-errc:
			close(stop)
			wg.Wait()
			t.Fatal(err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	t.Logf("%d reads, %d misses (deleted meanwhile), %d tail rewrites, %d compactions", reads.Load(), misses.Load(), tailRewrites.Load(), compactions.Load())
	if reads.Load() == 0 || tailRewrites.Load() == 0 || compactions.Load() == 0 {
		t.Fatal("the test did not exercise reads, tail rewrites and compactions")
	}
}

// TestKillWriter: a process storing batches is SIGKILLed at random moments; after each
// kill the store opens, every acknowledged entry is there and exact, and the log goes on
// from LastIndex+1 (with a suffix truncation and a compaction now and then, as raft does).
func TestKillWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 4))
	dir := t.TempDir()
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	if os.Getenv("RINGLOG_LONG") != "" { // make crash
		rounds = 100
	}
	var acked uint64
	for round := range rounds {
		// "acked N": StoreLogs up to N returned; "truncate N": a suffix delete down to N
		// begins, so only N stays promised.
		runUntilKilled(t, childCmd("log-writer", dir), time.Duration(50+rng.IntN(200))*time.Millisecond, func(l string) {
			f := strings.Fields(l)
			if len(f) != 2 {
				return
			}
			if n, err := strconv.ParseUint(f[1], 10, 64); err == nil && (f[0] == "acked" || f[0] == "truncate") {
				acked = n
			}
		})
		s, err := raftlog.Open(dir, nil)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if last < acked {
			t.Fatalf("round %d: acknowledged up to %d, LastIndex %d", round, acked, last)
		}
		var l raft.Log
		for i := first; last > 0 && i <= last; i++ {
			if err := s.GetLog(i, &l); err != nil || !sameLog(&l, entry(i, l.Term)) {
				t.Fatalf("round %d: GetLog(%d) = %v, %+v", round, i, err, l)
			}
		}
		s.Close()
		t.Logf("round %d: acknowledged %d, found [%d, %d]", round, acked, first, last)
	}
}

func init() {
	childRoles["log-writer"] = func(args []string) int {
		s, err := raftlog.Open(args[0], nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		last, _ := s.LastIndex()
		var term uint64 = 1
		if last > 0 {
			var l raft.Log
			if err := s.GetLog(last, &l); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			term = l.Term + 1
		}
		for next := last + 1; ; {
			n := 1 + int(next%16)
			if err := s.StoreLogs(entries(next, n, term)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			next += uint64(n)
			fmt.Printf("acked %d\n", next-1)
			if next%7 == 0 { // a follower's conflict: drop the last two entries
				// Announced first: once the delete has started, only next-3 is promised.
				fmt.Printf("truncate %d\n", next-3)
				if err := s.DeleteRange(next-2, next-1); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
				next -= 2
				term++
			}
			if first, _ := s.FirstIndex(); next%50 < 3 && next > first+40 { // compaction, never the whole log
				if err := s.DeleteRange(first, first+20); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
		}
	}
}
