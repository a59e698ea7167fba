package mmaplog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// Several writers, in one process through two handles or in several processes, append to
// one log while readers read it. Every payload says who wrote it and carries its own
// checksum, so readers can tell a torn or stale record, and the parent can check that
// ids are dense, each writer's events are in its own order, and nothing is duplicated.

// Environment of the child roles.
const (
	envDir    = "RINGLOG_TEST_DIR"     // log directory
	envSeed   = "RINGLOG_TEST_SEED"    // seed of the child's choices
	envCount  = "RINGLOG_TEST_COUNT"   // events each writer appends
	envTotal  = "RINGLOG_TEST_TOTAL"   // events the reader waits for
	envBase   = "RINGLOG_TEST_WRITER"  // writer number of child index 0
	envStart  = "RINGLOG_TEST_STARTAT" // unix nanoseconds at which to start
	mpSegSize = 64 << 10
)

var mpOpts = mmaplog.Options{SegmentSize: mpSegSize, IndexCapacity: 1024}

func init() {
	childRoles["append"] = childAppend
	childRoles["read"] = childRead
	childRoles["cas"] = childCompareAndAppend
	childRoles["create"] = childCreate
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// mpPayload is event seq of writer w: [w u32][seq u32][fill][crc32c of the rest u32],
// 12..511 bytes, a function of (w, seq) only.
func mpPayload(w, seq int) []byte {
	h := splitmix64(uint64(w)<<32 | uint64(seq))
	n := 12 + int(h%500)
	b := make([]byte, n+8)
	binary.LittleEndian.PutUint32(b[0:], uint32(w))
	binary.LittleEndian.PutUint32(b[4:], uint32(seq))
	x := h
	for i := 8; i < n-4; i += 8 {
		x = splitmix64(x)
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	b = b[:n]
	binary.LittleEndian.PutUint32(b[n-4:], crc32.Checksum(b[:n-4], castagnoli))
	return b
}

// mpDecode checks a payload's own checksum and that it is exactly what mpPayload makes.
func mpDecode(b []byte) (w, seq int, err error) {
	if len(b) < 12 {
		return 0, 0, fmt.Errorf("payload of %d bytes", len(b))
	}
	n := len(b)
	if got, want := binary.LittleEndian.Uint32(b[n-4:]), crc32.Checksum(b[:n-4], castagnoli); got != want {
		return 0, 0, fmt.Errorf("torn payload: checksum %08x, want %08x", got, want)
	}
	w, seq = int(binary.LittleEndian.Uint32(b)), int(binary.LittleEndian.Uint32(b[4:]))
	if !bytes.Equal(b, mpPayload(w, seq)) {
		return w, seq, fmt.Errorf("payload of writer %d seq %d differs from what it wrote", w, seq)
	}
	return w, seq, nil
}

// verifyLog reads every event of l, by iteration and by Get, and checks that the ids are
// exactly 0..writers*count-1 and that writer w's events carry seqs 0..count-1 in id order.
func verifyLog(l *mmaplog.Log, writers []int, count int) error {
	total := len(writers) * count
	st, err := l.Stats()
	if err != nil {
		return err
	}
	if st.EventCount != uint64(total) || st.NextEventID != uint64(total) || st.OldestEventID != 0 || st.NewestEventID != uint64(total-1) {
		return fmt.Errorf("stats %+v, want %d events 0..%d", st, total, total-1)
	}
	nextSeq := map[int]int{}
	for _, w := range writers {
		nextSeq[w] = 0
	}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		return err
	}
	want := uint64(0)
	for id, v := range it.All() {
		if id != want {
			return fmt.Errorf("iteration: id %d, want %d (ids not dense)", id, want)
		}
		want++
		w, seq, err := mpDecode(v)
		if err != nil {
			return fmt.Errorf("iteration: event %d: %v", id, err)
		}
		exp, ok := nextSeq[w]
		if !ok || seq != exp {
			return fmt.Errorf("event %d: writer %d seq %d, want seq %d (known writer: %v): duplicate, lost or reordered", id, w, seq, exp, ok)
		}
		nextSeq[w]++
		g, err := l.Get(id)
		if err != nil || !bytes.Equal(g, v) {
			return fmt.Errorf("Get(%d) = %d bytes, %v; iteration saw %d bytes", id, len(g), err, len(v))
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("iteration: %w", err)
	}
	if want != uint64(total) {
		return fmt.Errorf("iteration ended at %d, want %d", want, total)
	}
	for w, n := range nextSeq {
		if n != count {
			return fmt.Errorf("writer %d: %d events, want %d", w, n, count)
		}
	}
	return nil
}

// readOnce checks one random Get and one short iteration against the published state:
// every id below a NextEventID observed before the read must be readable and intact, and
// nothing at or beyond the NextEventID observed after it may appear.
func readOnce(l *mmaplog.Log, rng *rand.Rand) (int, error) {
	next0, err := l.NextEventID()
	if err != nil || next0 == 0 {
		return 0, err
	}
	id := rng.Uint64N(next0)
	b, err := l.Get(id)
	if err != nil {
		return 0, fmt.Errorf("Get(%d) with next=%d: %w", id, next0, err)
	}
	if _, _, err := mpDecode(b); err != nil {
		return 0, fmt.Errorf("Get(%d): %w", id, err)
	}
	start := rng.Uint64N(next0)
	end := mmaplog.Latest
	if rng.IntN(2) == 0 {
		end = start + uint64(rng.IntN(300))
	}
	it, err := l.IterRange(start, end)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	want, n := start, 0
	for it.Next() && n < 300 {
		if it.ID() != want {
			return n, fmt.Errorf("IterRange(%d, %d): id %d, want %d", start, end, it.ID(), want)
		}
		if _, _, err := mpDecode(it.Value()); err != nil {
			return n, fmt.Errorf("IterRange: event %d: %w", it.ID(), err)
		}
		next1, err := l.NextEventID()
		if err != nil {
			return n, err
		}
		if it.ID() >= next1 {
			return n, fmt.Errorf("IterRange: event %d at or beyond NextEventID %d", it.ID(), next1)
		}
		want++
		n++
	}
	if err := it.Err(); err != nil {
		return n, fmt.Errorf("IterRange(%d, %d): %w", start, end, err)
	}
	if n < 300 && want < min(next0, end) {
		return n, fmt.Errorf("IterRange(%d, %d) stopped at %d, below NextEventID %d seen before it", start, end, want, next0)
	}
	return n, nil
}

func TestTwoHandlesConcurrent(t *testing.T) {
	const writers, perWriter, readers = 4, 1500, 2
	s := seed(t)
	dir := t.TempDir()
	var ls [2]*mmaplog.Log
	for i := range ls {
		l, err := mmaplog.Open(dir, &mpOpts)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ls[i] = l
	}
	start := time.Now()
	var wg, rwg sync.WaitGroup
	var done atomic.Bool
	errs := make(chan error, writers+readers)
	ids := make([][]uint64, writers)
	for w := range writers {
		wg.Go(func() {
			l := ls[w%2]
			for seq := range perWriter {
				id, err := l.Append(mpPayload(w, seq))
				if err != nil {
					errs <- fmt.Errorf("writer %d seq %d: %w", w, seq, err)
					return
				}
				if n := len(ids[w]); n > 0 && id <= ids[w][n-1] {
					errs <- fmt.Errorf("writer %d: id %d after %d", w, id, ids[w][n-1])
					return
				}
				ids[w] = append(ids[w], id)
			}
		})
	}
	var reads, iterated atomic.Int64
	for r := range readers {
		rwg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(s), uint64(r)))
			for !done.Load() {
				n, err := readOnce(ls[r%2], rng)
				if err != nil {
					errs <- fmt.Errorf("reader %d: %w", r, err)
					return
				}
				reads.Add(1)
				iterated.Add(int64(n))
			}
		})
	}
	wg.Wait()
	done.Store(true)
	rwg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	total := writers * perWriter
	t.Logf("%d appends in %v (%.0f events/s) by %d goroutines on 2 handles; %d reads and %d iterated events by %d readers",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), writers, reads.Load(), iterated.Load(), readers)
	for w := range writers {
		for seq, id := range ids[w] {
			for h, l := range ls {
				b, err := l.Get(id)
				if err != nil || !bytes.Equal(b, mpPayload(w, seq)) {
					t.Fatalf("handle %d: Get(%d) (writer %d seq %d) = %d bytes, %v", h, id, w, seq, len(b), err)
				}
			}
		}
	}
	all := []int{0, 1, 2, 3}
	for h, l := range ls {
		if err := verifyLog(l, all, perWriter); err != nil {
			t.Fatalf("handle %d: %v", h, err)
		}
	}
}

// childAppend appends COUNT events as writer BASE+index with Append and AppendBatch,
// checking each returned id and reading its own writes back.
func childAppend() int {
	w := envInt(envBase) + childIndex()
	count := envInt(envCount)
	rng := rand.New(rand.NewPCG(uint64(envInt(envSeed)), uint64(w)))
	l, err := mmaplog.Open(os.Getenv(envDir), nil) // the parent created it
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	last, batches := int64(-1), 0
	for seq := 0; seq < count; {
		n := 1
		if rng.IntN(3) == 0 {
			n = min(1+rng.IntN(20), count-seq)
		}
		evs := make([][]byte, n)
		for i := range evs {
			evs[i] = mpPayload(w, seq+i)
		}
		var id uint64
		if n == 1 && rng.IntN(2) == 0 {
			id, err = l.Append(evs[0])
		} else {
			id, err = l.AppendBatch(evs)
			batches++
		}
		if err != nil {
			return childFail("seq %d: %v", seq, err)
		}
		if int64(id) <= last {
			return childFail("seq %d: id %d after %d", seq, id, last)
		}
		for i, e := range evs {
			b, err := l.Get(id + uint64(i))
			if errors.Is(err, mmaplog.ErrNotFound) {
				// Only a concurrent prefix delete may have taken it.
				if o, oerr := l.OldestEventID(); oerr == nil && o <= id+uint64(i) {
					return childFail("read back %d: %v, but oldest is %d", id+uint64(i), err, o)
				}
				continue
			}
			if err != nil || !bytes.Equal(b, e) {
				return childFail("read back %d: %d bytes, %v", id+uint64(i), len(b), err)
			}
		}
		last = int64(id) + int64(n) - 1
		seq += n
	}
	fmt.Printf("writer %d: %d events, %d batches\n", w, count, batches)
	return 0
}

// childRead reads concurrently until TOTAL events exist, then verifies them all.
func childRead() int {
	total := uint64(envInt(envTotal))
	rng := rand.New(rand.NewPCG(uint64(envInt(envSeed)), 99))
	l, err := mmaplog.Open(os.Getenv(envDir), nil) // the parent created it
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	reads, iterated, err := readUntilTotal(l, total, func() (int, error) { return readOnce(l, rng) })
	if err != nil {
		return childFail("%v", err)
	}
	writers := make([]int, envInt("RINGLOG_TEST_WRITERS"))
	for i := range writers {
		writers[i] = envInt(envBase) + i
	}
	if err := verifyLog(l, writers, envInt(envCount)); err != nil {
		return childFail("final check: %v", err)
	}
	fmt.Printf("reader: %d reads, %d iterated events while writers ran; all %d events verified\n", reads, iterated, total)
	return 0
}

func TestMultiProcessAppendAndRead(t *testing.T) {
	const writers, count = 3, 2000
	s := seed(t)
	dir := t.TempDir()
	// Create the log first so that the reader does not race the creation.
	l, err := mmaplog.Open(dir, &mpOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	env := []string{
		envDir + "=" + dir,
		envSeed + "=" + strconv.FormatInt(s&0x7fffffff, 10),
		envCount + "=" + strconv.Itoa(count),
		envTotal + "=" + strconv.Itoa(writers*count),
		envBase + "=0",
		"RINGLOG_TEST_WRITERS=" + strconv.Itoa(writers),
	}
	start := time.Now()
	rd := startChildren(t, "read", 1, env...)
	wr := startChildren(t, "append", writers, env...)
	// The parent reads too while the children write.
	rng := rand.New(rand.NewPCG(uint64(s), 7))
	parentReads := 0
	for {
		next, err := l.NextEventID()
		if err != nil {
			t.Fatal(err)
		}
		if next >= writers*count || anyFailed(rd, wr) {
			break
		}
		if _, err := readOnce(l, rng); err != nil {
			t.Errorf("parent reader: %v", err)
			break
		}
		parentReads++
		if time.Since(start) > 2*time.Minute {
			t.Errorf("only %d events after 2 minutes", next)
			break
		}
		if next == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	waitChildren(t, wr)
	elapsed := time.Since(start)
	waitChildren(t, rd)
	t.Logf("%d events appended by %d processes in %v (%.0f events/s, process start-up included); parent made %d reads meanwhile",
		writers*count, writers, elapsed.Round(time.Millisecond), float64(writers*count)/elapsed.Seconds(), parentReads)
	all := []int{0, 1, 2}
	if err := verifyLog(l, all, count); err != nil {
		t.Fatal(err)
	}
	l2, err := mmaplog.Open(dir, nil) // a fresh handle of the parent
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := verifyLog(l2, all, count); err != nil {
		t.Fatalf("fresh handle: %v", err)
	}
}

// childCompareAndAppend appends COUNT events with AppendWithID, using it as a
// compare-and-append: on ErrOutOfOrder it retries with the id the log expects.
func childCompareAndAppend() int {
	w := envInt(envBase) + childIndex()
	count := envInt(envCount)
	l, err := mmaplog.Open(os.Getenv(envDir), nil) // the parent created it
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	id, err := l.NextEventID()
	if err != nil {
		return childFail("%v", err)
	}
	retries := 0
	for seq := 0; seq < count; {
		err := l.AppendWithID(id, mpPayload(w, seq))
		var ie *mmaplog.IDError
		switch {
		case err == nil:
			id++
			seq++
		case errors.As(err, &ie) && errors.Is(err, mmaplog.ErrOutOfOrder):
			if ie.Got != id || ie.Expected <= id || ie.Empty {
				return childFail("seq %d: IDError %+v for id %d", seq, *ie, id)
			}
			id = ie.Expected
			retries++
		default:
			return childFail("seq %d: AppendWithID(%d): %v", seq, id, err)
		}
	}
	fmt.Printf("writer %d: %d events, %d retries\n", w, count, retries)
	return 0
}

func TestMultiProcessCompareAndAppend(t *testing.T) {
	const writers, count = 2, 1000
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mpOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	runChildren(t, "cas", writers, envDir+"="+dir, envCount+"="+strconv.Itoa(count), envBase+"=10")
	elapsed := time.Since(start)
	t.Logf("%d compare-and-appends by %d processes in %v (%.0f events/s, process start-up included)",
		writers*count, writers, elapsed.Round(time.Millisecond), float64(writers*count)/elapsed.Seconds())
	if err := verifyLog(l, []int{10, 11}, count); err != nil {
		t.Fatal(err)
	}
}

// childCreate waits for the common start time, then opens (creating) the log, appends
// COUNT events and closes.
func childCreate() int {
	w := envInt(envBase) + childIndex()
	at, _ := strconv.ParseInt(os.Getenv(envStart), 10, 64)
	time.Sleep(time.Until(time.Unix(0, at)))
	l, err := mmaplog.Open(os.Getenv(envDir), &mpOpts)
	if err != nil {
		return childFail("open: %v", err)
	}
	for seq := range envInt(envCount) {
		if _, err := l.Append(mpPayload(w, seq)); err != nil {
			l.Close()
			return childFail("append %d: %v", seq, err)
		}
	}
	if err := l.Close(); err != nil {
		return childFail("close: %v", err)
	}
	return 0
}

func TestConcurrentCreate(t *testing.T) {
	const procs, count, rounds = 4, 100, 3
	for round := range rounds {
		dir := filepath.Join(t.TempDir(), "log") // does not exist yet: Open makes it
		at := time.Now().Add(700 * time.Millisecond).UnixNano()
		start := time.Now()
		runChildren(t, "create", procs, envDir+"="+dir, envCount+"="+strconv.Itoa(count),
			envBase+"=0", envStart+"="+strconv.FormatInt(at, 10))
		elapsed := time.Since(start)
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var metas, names []string
		for _, e := range ents {
			names = append(names, e.Name())
			if strings.HasPrefix(e.Name(), "meta") {
				metas = append(metas, e.Name())
			}
		}
		if len(metas) != 1 || metas[0] != "meta" {
			t.Fatalf("round %d: meta files %v, want exactly [meta]; directory: %v", round, metas, names)
		}
		l, err := mmaplog.Open(dir, nil)
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		err = verifyLog(l, []int{0, 1, 2, 3}, count)
		l.Close()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		t.Logf("round %d: %d processes created one log and appended %d events in %v; files: %v",
			round, procs, procs*count, elapsed.Round(time.Millisecond), names)
	}
}

// readOnceWhileDeleting is readOnce for a log whose prefix is being deleted: an id in
// [oldest, next) observed before the read may be missing only if the oldest id observed
// after the read has passed it.
func readOnceWhileDeleting(l *mmaplog.Log, rng *rand.Rand) (int, error) {
	return readOnceTrimmed(l, rng, func(b []byte, _ uint64) error {
		_, _, err := mpDecode(b)
		return err
	})
}

// readOnceTrimmed is readOnceWhileDeleting with check telling whether b is exactly the
// payload of id.
func readOnceTrimmed(l *mmaplog.Log, rng *rand.Rand, check func(b []byte, id uint64) error) (int, error) {
	o0, err := l.OldestEventID()
	if errors.Is(err, mmaplog.ErrEmpty) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n0, err := l.NextEventID()
	if err != nil {
		return 0, err
	}
	if n0 <= o0 {
		return 0, fmt.Errorf("oldest %d, then next %d", o0, n0)
	}
	explained := func(id uint64) error { // id was not returned: it must have been deleted
		o1, err := l.OldestEventID()
		if err != nil && !errors.Is(err, mmaplog.ErrEmpty) {
			return err
		}
		if err == nil && id >= o1 {
			return fmt.Errorf("event %d missing, but oldest is %d (before the read: [%d, %d))", id, o1, o0, n0)
		}
		return nil
	}
	id := o0 + rng.Uint64N(n0-o0)
	b, err := l.Get(id)
	switch {
	case errors.Is(err, mmaplog.ErrNotFound):
		if err := explained(id); err != nil {
			return 0, fmt.Errorf("Get: %w", err)
		}
	case err != nil:
		return 0, fmt.Errorf("Get(%d): %w", id, err)
	default:
		if err := check(b, id); err != nil {
			return 0, fmt.Errorf("Get(%d): %w", id, err)
		}
	}
	start := o0 + rng.Uint64N(n0-o0)
	it, err := l.IterRange(start, mmaplog.Latest)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	want, n := start, 0
	for it.Next() && n < 300 {
		if it.ID() < want {
			return n, fmt.Errorf("IterRange(%d): id %d after %d", start, it.ID(), want-1)
		}
		if it.ID() > want {
			if err := explained(it.ID() - 1); err != nil {
				return n, fmt.Errorf("IterRange(%d) skipped to %d: %w", start, it.ID(), err)
			}
		}
		if err := check(it.Value(), it.ID()); err != nil {
			return n, fmt.Errorf("IterRange: event %d: %w", it.ID(), err)
		}
		want = it.ID() + 1
		n++
	}
	if err := it.Err(); err != nil {
		return n, fmt.Errorf("IterRange(%d): %w", start, err)
	}
	if n < 300 && want < n0 {
		if err := explained(n0 - 1); err != nil {
			return n, fmt.Errorf("IterRange(%d) stopped at %d: %w", start, want, err)
		}
	}
	return n, nil
}

// readUntilTotal calls read (one round of reads, returning how many events it iterated)
// until total events exist, failing after 2 minutes. It returns the rounds and the events
// they iterated.
func readUntilTotal(l *mmaplog.Log, total uint64, read func() (int, error)) (reads, iterated int, err error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		next, err := l.NextEventID()
		if err != nil {
			return reads, iterated, err
		}
		if next >= total {
			return reads, iterated, nil
		}
		if time.Now().After(deadline) {
			return reads, iterated, fmt.Errorf("only %d of %d events after 2 minutes", next, total)
		}
		n, err := read()
		if err != nil {
			return reads, iterated, err
		}
		reads++
		iterated += n
	}
}

// childReadWhileDeleting reads while others append and delete the prefix, until TOTAL
// events were appended.
func childReadWhileDeleting() int {
	total := uint64(envInt(envTotal))
	rng := rand.New(rand.NewPCG(uint64(envInt(envSeed)), 98))
	l, err := mmaplog.Open(os.Getenv(envDir), nil) // the parent created it
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	reads, iterated, err := readUntilTotal(l, total, func() (int, error) { return readOnceWhileDeleting(l, rng) })
	if err != nil {
		return childFail("%v", err)
	}
	fmt.Printf("reader: %d reads, %d iterated events while writers and a deleter ran\n", reads, iterated)
	return 0
}

func init() { childRoles["read-deleting"] = childReadWhileDeleting }

// TestMultiProcessAppendWhileDeleting runs the log as a ring: two processes append, the
// parent keeps deleting the prefix (unlinking segments other processes have mapped) and a
// third process reads. No reader may see a torn record or miss an event that was not
// deleted; the survivors stay dense and in each writer's order; segment files are unlinked.
func TestMultiProcessAppendWhileDeleting(t *testing.T) {
	const writers, count, keep = 2, 3000, 150
	const segSize = mmaplog.MinSegmentSize // many segments to unlink
	s := seed(t)
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: segSize, IndexCapacity: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	total := writers * count
	env := []string{
		envDir + "=" + dir,
		envSeed + "=" + strconv.FormatInt(s&0x7fffffff, 10),
		envCount + "=" + strconv.Itoa(count),
		envTotal + "=" + strconv.Itoa(total),
		envBase + "=20",
	}
	start := time.Now()
	rd := startChildren(t, "read-deleting", 1, env...)
	wr := startChildren(t, "append", writers, env...)
	rng := rand.New(rand.NewPCG(uint64(s), 8))
	deleted, deletes, maxFiles := 0, 0, 0
	for {
		next, err := l.NextEventID()
		if err != nil {
			t.Fatal(err)
		}
		if next >= uint64(total) || anyFailed(rd, wr) {
			break
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("only %d events after 2 minutes", next)
		}
		oldest, err := l.OldestEventID()
		if errors.Is(err, mmaplog.ErrEmpty) || next-oldest < keep {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		e := oldest + uint64(rng.IntN(int(next-oldest-keep/2)))
		n, err := l.DeleteRange(0, e)
		if err != nil {
			t.Fatalf("DeleteRange(0, %d): %v", e, err)
		}
		if n != int(e-oldest+1) {
			t.Fatalf("DeleteRange(0, %d) with oldest %d removed %d", e, oldest, n)
		}
		deleted += n
		deletes++
		if _, err := readOnceWhileDeleting(l, rng); err != nil {
			t.Fatalf("parent: %v", err)
		}
		if st, err := l.Stats(); err == nil {
			maxFiles = max(maxFiles, st.FileCount)
		}
	}
	waitChildren(t, wr)
	elapsed := time.Since(start)
	waitChildren(t, rd)
	t.Logf("%d events appended by %d processes in %v (%.0f events/s) while %d prefix deletes removed %d; at most %d segment files",
		total, writers, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), deletes, deleted, maxFiles)

	// The survivors: dense, intact, in each writer's order.
	oldest, err := l.OldestEventID()
	if err != nil {
		t.Fatal(err)
	}
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.NextEventID != uint64(total) || st.EventCount != uint64(total)-oldest || uint64(deleted) != oldest {
		t.Fatalf("stats %+v after deleting %d", st, deleted)
	}
	lastSeq := map[int]int{20: -1, 21: -1}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	want := oldest
	for id, v := range it.All() {
		if id != want {
			t.Fatalf("id %d, want %d", id, want)
		}
		want++
		w, seq, err := mpDecode(v)
		if err != nil {
			t.Fatalf("event %d: %v", id, err)
		}
		if last, ok := lastSeq[w]; !ok || seq <= last {
			t.Fatalf("event %d: writer %d seq %d after seq %d", id, w, seq, last)
		}
		lastSeq[w] = seq
	}
	if err := it.Err(); err != nil || want != uint64(total) {
		t.Fatalf("iteration ended at %d: %v", want, err)
	}
	// Deleted segments are gone: what is left fits the live bytes.
	var liveBytes uint64
	for id := oldest; id < uint64(total); id++ {
		b, err := l.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		liveBytes += uint64(recordSize(len(b)))
	}
	if limit := liveBytes/uint64(segSize-64-recordSize(512)) + 4; uint64(st.FileCount) > limit {
		var names []string
		if ents, err := os.ReadDir(dir); err == nil {
			for _, e := range ents {
				names = append(names, e.Name())
			}
		}
		t.Fatalf("%d segment files for %d live bytes (at most %d expected): deleted segments not unlinked; stats %+v; files %v",
			st.FileCount, liveBytes, limit, st, names)
	}
}

// TestTwoHandlesRingUnlinksSegments uses the log as a ring from two handles: one appends
// small events from several goroutines (each append past the middle of a segment prepares
// the next one in the background), the other appends batches that fill several segments
// and deletes everything but the newest event. Segment files must not accumulate: no
// handle may create again a segment that was already filled and unlinked.
func TestTwoHandlesRingUnlinksSegments(t *testing.T) {
	const appenders, appends, rounds = 4, 400, 150
	dir := t.TempDir()
	opts := &mmaplog.Options{SegmentSize: mmaplog.MinSegmentSize}
	a, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	small := make([]byte, 2000)
	big := make([][]byte, 20)
	for i := range big {
		big[i] = make([]byte, 3000)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range appenders {
		wg.Go(func() {
			for range appends {
				if _, err := a.Append(small); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			if _, err := b.AppendBatch(big); err != nil {
				t.Error(err)
				return
			}
			n, err := b.NewestEventID()
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := b.DeleteRange(0, n-1); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	n, err := b.NewestEventID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteRange(0, n-1); err != nil {
		t.Fatal(err)
	}
	st, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events through a ring of %d-byte segments in %v; active segment %d; %d segment files at the end",
		st.NextEventID, st.SegmentSize, time.Since(start).Round(time.Millisecond), st.ActiveSegment, st.FileCount)
	var orphans []string
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "seg-") || strings.Contains(name, ".tmp") {
			continue
		}
		if seq, err := strconv.ParseUint(strings.TrimPrefix(name, "seg-"), 16, 64); err == nil && seq+1 < st.ActiveSegment {
			orphans = append(orphans, name)
		}
	}
	// One live event: the active segment (and the one before if the event sits there) and
	// a prepared next segment are all that may remain.
	if len(orphans) > 0 {
		t.Fatalf("one live event in segment %d, but %d segment files far below it remain: %v (created again after they were unlinked?)",
			st.ActiveSegment, len(orphans), orphans)
	}
}
