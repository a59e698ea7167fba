package mmaplog_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringlog/ringlog/flock"
	"github.com/ringlog/ringlog/mmaplog"
)

// Contention across processes (invariants 2, 4, 5), readers while segments are unlinked
// under them (invariant 3), and the lock-waiter counter surviving a killed waiter.

const (
	cnEnvHold  = "RINGLOG_CN_HOLD"  // "1": writers use Options.HoldLock
	cnEnvLat   = "RINGLOG_CN_LAT"   // file of the writer's append latencies (u64 ns each)
	cnEnvStop  = "RINGLOG_CN_STOP"  // file whose existence tells a child to stop
	cnEnvReady = "RINGLOG_CN_READY" // file a child creates when it is ready
)

func init() {
	childRoles["cn-writer"] = cnChildWriter
	childRoles["cn-reader"] = cnChildReader
	childRoles["sg-reader"] = sgChildReader
	childRoles["kill-lock-waiter"] = cnChildLockWaiter
}

// cnChildWriter appends COUNT events mpPayload(index, seq) with Append from STARTAT on,
// recording each call's latency, and prints its start and end times.
func cnChildWriter() int {
	w, count := childIndex(), envInt(envCount)
	l, err := mmaplog.Open(os.Getenv(envDir), &mmaplog.Options{HoldLock: os.Getenv(cnEnvHold) == "1"})
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	evs := make([][]byte, count)
	for i := range evs {
		evs[i] = mpPayload(w, i)
	}
	lat := make([]byte, 0, 8*count)
	time.Sleep(time.Until(time.Unix(0, int64(envInt(envStart)))))
	start := time.Now()
	last := int64(-1)
	for _, e := range evs {
		t0 := time.Now()
		id, err := l.Append(e)
		d := time.Since(t0)
		if err != nil {
			return childFail("append: %v", err)
		}
		if int64(id) <= last {
			return childFail("id %d after %d", id, last)
		}
		last = int64(id)
		lat = binary.LittleEndian.AppendUint64(lat, uint64(d))
	}
	end := time.Now()
	if err := os.WriteFile(os.Getenv(cnEnvLat), lat, 0o644); err != nil {
		return childFail("%v", err)
	}
	fmt.Printf("cn-writer start=%d end=%d\n", start.UnixNano(), end.UnixNano())
	return 0
}

// cnChildReader reads (readOnce, plus Gets just past the tail) until TOTAL events exist.
func cnChildReader() int {
	total := uint64(envInt(envTotal))
	rng := rand.New(rand.NewPCG(uint64(envInt(envSeed)), uint64(100+childIndex())))
	l, err := mmaplog.Open(os.Getenv(envDir), nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	deadline := time.Now().Add(2 * time.Minute)
	reads, iterated, beyond := 0, 0, 0
	for {
		next0, err := l.NextEventID()
		if err != nil {
			return childFail("%v", err)
		}
		if next0 >= total {
			break
		}
		if time.Now().After(deadline) {
			return childFail("only %d of %d events after 2 minutes", next0, total)
		}
		// Just past the tail: absent, or present only once NextEventID says so.
		id := next0 + uint64(rng.IntN(3))
		b, err := l.Get(id)
		if err == nil {
			next1, _ := l.NextEventID()
			if id >= next1 {
				return childFail("Get(%d) found an event at or past NextEventID %d", id, next1)
			}
			if _, _, err := mpDecode(b); err != nil {
				return childFail("Get(%d): %v", id, err)
			}
			beyond++
		} else if !errors.Is(err, mmaplog.ErrNotFound) {
			return childFail("Get(%d) past the tail: %v", id, err)
		}
		n, err := readOnce(l, rng)
		if err != nil {
			return childFail("%v", err)
		}
		reads++
		iterated += n
	}
	fmt.Printf("cn-reader: %d reads, %d iterated events, %d events caught just as they were published\n", reads, iterated, beyond)
	return 0
}

// cnPercentile returns the p-th percentile of sorted durations.
func cnPercentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func TestContention8Writers(t *testing.T) {
	const writers, readers = 8, 4
	count := 1000
	if os.Getenv("RINGLOG_LONG") != "" {
		count = 10000
	}
	s := seed(t)
	for _, hold := range []bool{false, true} {
		name := "flock=per-call"
		if hold {
			name = "flock=held"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := mmaplog.Open(dir, &mpOpts)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			tmp := t.TempDir()
			holdEnv := "0"
			if hold {
				holdEnv = "1"
			}
			env := []string{
				envDir + "=" + dir,
				envSeed + "=" + strconv.FormatInt(s&0x7fffffff, 10),
				envCount + "=" + strconv.Itoa(count),
				envTotal + "=" + strconv.Itoa(writers*count),
				cnEnvHold + "=" + holdEnv,
				envStart + "=" + strconv.FormatInt(time.Now().Add(1500*time.Millisecond).UnixNano(), 10),
			}
			rd := startChildren(t, "cn-reader", readers, env...)
			wr := make([]*child, writers)
			for w := range writers {
				wr[w] = startChildren(t, "cn-writer", 1, append(env, childIndexEnv+"="+strconv.Itoa(w), cnEnvLat+"="+filepath.Join(tmp, fmt.Sprint("lat-", w)))...)[0]
			}
			outs := waitChildren(t, wr)
			waitChildren(t, rd)
			var lats []time.Duration
			var first, last int64
			for w, out := range outs {
				var st, en int64
				if _, err := fmt.Sscanf(strings.TrimSpace(out), "cn-writer start=%d end=%d", &st, &en); err != nil {
					t.Fatalf("writer %d output %q: %v", w, out, err)
				}
				if first == 0 || st < first {
					first = st
				}
				last = max(last, en)
				b, err := os.ReadFile(filepath.Join(tmp, fmt.Sprint("lat-", w)))
				if err != nil {
					t.Fatal(err)
				}
				for off := 0; off+8 <= len(b); off += 8 {
					lats = append(lats, time.Duration(binary.LittleEndian.Uint64(b[off:])))
				}
			}
			all := make([]int, writers)
			for i := range all {
				all[i] = i
			}
			if err := verifyLog(l, all, count); err != nil {
				t.Fatal(err)
			}
			slices.Sort(lats)
			wall := time.Duration(last - first)
			t.Logf("%s: %d writer processes x %d appends, %d reader processes: %d events exact; append latency (lock wait) p50=%v p99=%v max=%v; %.0f appends/s aggregate over %v",
				name, writers, count, readers, writers*count, cnPercentile(lats, 0.5), cnPercentile(lats, 0.99), lats[len(lats)-1],
				float64(writers*count)/wall.Seconds(), wall.Round(time.Millisecond))
		})
	}
}

// sgExpect is the payload of event id in TestReadersWhileSegmentsGoAway.
func sgExpect(id uint64) []byte { return mpPayload(7, int(id)) }

// sgReadLoop reads l until stop is set: Get, View holding the bytes across a sleep, and
// an iterator holding Value across a sleep. Every read must give the exact bytes or
// ErrNotFound. It returns the number of reads and of ErrNotFound.
func sgReadLoop(l *mmaplog.Log, rng *rand.Rand, stop *atomic.Bool) (reads, gone int, err error) {
	for !stop.Load() {
		st, err := l.Stats()
		if err != nil {
			return reads, gone, err
		}
		if st.NextEventID == 0 {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		// Aim a little below the oldest too, at ids being deleted right now.
		lo := st.OldestEventID - min(st.OldestEventID, 20)
		id := lo + rng.Uint64N(st.NextEventID-lo)
		switch rng.IntN(3) {
		case 0:
			b, err := l.Get(id)
			if errors.Is(err, mmaplog.ErrNotFound) {
				gone++
			} else if err != nil {
				return reads, gone, fmt.Errorf("Get(%d): %w", id, err)
			} else if !bytes.Equal(b, sgExpect(id)) {
				return reads, gone, fmt.Errorf("Get(%d): wrong bytes", id)
			}
		case 1:
			err := l.View(id, func(b []byte) error {
				held := bytes.Clone(b)
				if !bytes.Equal(held, sgExpect(id)) {
					return fmt.Errorf("View(%d): wrong bytes", id)
				}
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				if !bytes.Equal(b, held) {
					return fmt.Errorf("View(%d): the bytes changed while the callback held them", id)
				}
				return nil
			})
			if errors.Is(err, mmaplog.ErrNotFound) {
				gone++
			} else if err != nil {
				return reads, gone, err
			}
		case 2:
			it, err := l.IterRange(id, mmaplog.Latest)
			if err != nil {
				return reads, gone, err
			}
			for n := 0; n < 5 && it.Next(); n++ {
				v, vid := it.Value(), it.ID()
				if !bytes.Equal(v, sgExpect(vid)) {
					it.Close()
					return reads, gone, fmt.Errorf("iterator at %d: wrong bytes", vid)
				}
				if n == 0 {
					held := bytes.Clone(v)
					time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
					if !bytes.Equal(v, held) {
						it.Close()
						return reads, gone, fmt.Errorf("iterator at %d: Value changed while held across deletes", vid)
					}
				}
			}
			if err := it.Err(); err != nil {
				return reads, gone, fmt.Errorf("iterator from %d: %w", id, err)
			}
			it.Close()
		}
		reads++
	}
	return reads, gone, nil
}

// sgDeletedMappings counts the mappings of unlinked segment files of dir in a process's
// maps file: each one keeps a deleted segment's disk space in use.
func sgDeletedMappings(mapsPath, dir string) (int, error) {
	f, err := os.Open(mapsPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, dir+"/seg-") && strings.HasSuffix(line, "(deleted)") {
			n++
		}
	}
	return n, sc.Err()
}

// sgChildReader runs sgReadLoop in two goroutines until the stop file exists, then reads
// once more (after the last delete) and reports how many deleted segments it still maps.
func sgChildReader() int {
	dir := os.Getenv(envDir)
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, gone atomic.Int64
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Go(func() {
			r, n, err := sgReadLoop(l, rand.New(rand.NewPCG(uint64(envInt(envSeed)), uint64(g))), &stop)
			reads.Add(int64(r))
			gone.Add(int64(n))
			if err != nil {
				errs <- err
				stop.Store(true)
			}
		})
	}
	for !stop.Load() {
		if _, err := os.Stat(os.Getenv(cnEnvStop)); err == nil {
			stop.Store(true)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	select {
	case err := <-errs:
		return childFail("%v", err)
	default:
	}
	if o, err := l.OldestEventID(); err == nil {
		_, _ = l.Get(o)
	}
	maps, err := sgDeletedMappings("/proc/self/maps", dir)
	if err != nil {
		return childFail("%v", err)
	}
	fmt.Printf("sg-reader: reads=%d notfound=%d deleted-segments-still-mapped=%d\n", reads.Load(), gone.Load(), maps)
	return 0
}

func TestReadersWhileSegmentsGoAway(t *testing.T) {
	turnovers := uint64(200)
	if os.Getenv("RINGLOG_LONG") != "" {
		turnovers = 1000
	}
	const keep = 60 // live events after each prefix delete: about two segments
	s := seed(t)
	dir := t.TempDir()
	opts := &mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize, IndexCapacity: 1024}
	w, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	other, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	stopFile := filepath.Join(t.TempDir(), "stop")
	rd := startChildren(t, "sg-reader", 1, envDir+"="+dir, cnEnvStop+"="+stopFile, envSeed+"="+strconv.FormatInt(s&0x7fffffff, 10))

	var stop atomic.Bool
	var wg sync.WaitGroup
	var reads, gone atomic.Int64
	for g, l := range []*mmaplog.Log{w, w, other, other} {
		wg.Go(func() {
			r, n, err := sgReadLoop(l, rand.New(rand.NewPCG(uint64(s), uint64(g))), &stop)
			reads.Add(int64(r))
			gone.Add(int64(n))
			if err != nil {
				t.Errorf("reader %d: %v", g, err)
				stop.Store(true)
			}
		})
	}
	rng := rand.New(rand.NewPCG(uint64(s), 99))
	st0, err := w.Stats()
	if err != nil {
		t.Fatal(err)
	}
	next, deletes := uint64(0), 0
	began := time.Now()
	var st mmaplog.Stats
	for !stop.Load() {
		n := 1 + rng.IntN(20)
		evs := make([][]byte, n)
		for i := range evs {
			evs[i] = sgExpect(next + uint64(i))
		}
		if err := w.AppendBatchWithIDs(next, evs); err != nil {
			t.Fatal(err)
		}
		next += uint64(n)
		if next > keep {
			if _, err := w.DeleteRange(0, next-keep-1); err != nil {
				t.Fatal(err)
			}
			deletes++
		}
		if st, err = w.Stats(); err != nil {
			t.Fatal(err)
		}
		if st.ActiveSegment-st0.ActiveSegment >= turnovers || anyFailed(rd) || time.Since(began) > 90*time.Second {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if err := os.WriteFile(stopFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	outs := waitChildren(t, rd)
	elapsed := time.Since(began)

	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	segFiles := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "seg-") {
			segFiles++
		}
	}
	for _, l := range []*mmaplog.Log{w, other} {
		if o, err := l.OldestEventID(); err == nil {
			_, _ = l.Get(o)
		}
	}
	mapped, err := sgDeletedMappings("/proc/self/maps", dir)
	if err != nil {
		t.Fatal(err)
	}
	var childMapped int
	if _, err := fmt.Sscanf(outs[0][strings.Index(outs[0], "deleted-segments-still-mapped="):], "deleted-segments-still-mapped=%d", &childMapped); err != nil {
		t.Fatalf("reader output %q: %v", outs[0], err)
	}
	t.Logf("%d segment turnovers (16 KiB segments) in %v: %d events appended, %d prefix deletes; %d reads in this process (%d ErrNotFound), child: %s; %d seg-* files left; deleted segments still mapped: %d in this process (2 handles), %d in the reader process",
		st.ActiveSegment-st0.ActiveSegment, elapsed.Round(time.Millisecond), next, deletes, reads.Load(), gone.Load(), strings.TrimSpace(outs[0]), segFiles, mapped, childMapped)
	if got := st.ActiveSegment - st0.ActiveSegment; got < turnovers {
		t.Errorf("only %d segment turnovers, want %d", got, turnovers)
	}
	if segFiles > 6 {
		t.Errorf("%d seg-* files remain, want only the few that hold the last %d events", segFiles, keep)
	}
	// Space comes back only when every process has dropped its mapping of a deleted segment.
	// A handle that has read past a prefix delete (and pins nothing) must have dropped them.
	if mapped > 4 || childMapped > 4 {
		t.Errorf("deleted segments still mapped after the readers stopped: %d in this process, %d in the reader process: their disk space does not come back until Close", mapped, childMapped)
	}
}

// cnChildLockWaiter opens the log, creates the ready file, and once the stop file exists
// appends one event: the parent holds the lock then, so the append blocks, counted in the
// meta file's lock-waiter word, until the parent kills it.
func cnChildLockWaiter() int {
	l, err := mmaplog.Open(os.Getenv(envDir), nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	if err := os.WriteFile(os.Getenv(cnEnvReady), nil, 0o644); err != nil {
		return childFail("%v", err)
	}
	for {
		if _, err := os.Stat(os.Getenv(cnEnvStop)); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	_, err = l.Append([]byte("blocked"))
	return childFail("append returned %v while the parent held the lock", err)
}

// cnLockWaiters reads the lock-waiter word of the meta file (docs/FORMAT.md section 2).
func cnLockWaiters(t *testing.T, dir string) uint32 {
	b, err := os.ReadFile(filepath.Join(dir, "meta"))
	if err != nil || len(b) < 260 {
		t.Fatalf("read meta: %d bytes, %v", len(b), err)
	}
	return binary.LittleEndian.Uint32(b[256:])
}

// A writer SIGKILLed while it waits for the lock must not leave the lock-waiter count
// raised for ever: that would make every HoldLock handle hand the lock back after every
// append, silently turning HoldLock off for the life of the directory.
func TestHoldLockAfterKilledLockWaiter(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	tmp := t.TempDir()
	ready, stopFile := filepath.Join(tmp, "ready"), filepath.Join(tmp, "stop")
	c := startChildren(t, "kill-lock-waiter", 1, envDir+"="+dir, cnEnvReady+"="+ready, cnEnvStop+"="+stopFile)[0]
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if c.exited() || time.Now().After(deadline) {
			t.Fatalf("the waiter did not get ready: %v\n%s", c.err, c.out.String())
		}
	}
	lk, err := flock.New(filepath.Join(dir, "lock"), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Close()
	if err := lk.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stopFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); cnLockWaiters(t, dir) == 0; time.Sleep(time.Millisecond) {
		if c.exited() || time.Now().After(deadline) {
			t.Fatalf("the waiter never blocked on the lock: %v\n%s", c.err, c.out.String())
		}
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
	c.waited = true
	c.cancel()
	if err := lk.Unlock(); err != nil {
		t.Fatal(err)
	}
	leaked := cnLockWaiters(t, dir)

	// Alone now: a HoldLock handle must keep the lock after an append.
	h, err := mmaplog.Open(dir, &mmaplog.Options{HoldLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	retained := 0
	for range 20 {
		if _, err := h.Append([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if ok, err := lk.TryLock(); err != nil {
			t.Fatal(err)
		} else if ok {
			_ = lk.Unlock()
		} else {
			retained++
		}
	}
	t.Logf("lock-waiter word after the waiter was killed: %d (and %d after a reopen); a lone HoldLock handle retained the lock after %d of 20 appends",
		leaked, cnLockWaiters(t, dir), retained)
	if retained == 0 {
		t.Errorf("a writer killed while waiting for the lock left lockWaiters=%d in meta: HoldLock never retains the lock again (not even after reopening)", leaked)
	}
}
