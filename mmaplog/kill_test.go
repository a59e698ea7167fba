package mmaplog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// The kill harness (invariants 1, 2, 5 and 7 across processes). Writer processes append
// with Append, AppendWithID and AppendBatch (half of them with HoldLock) and write every
// acknowledged id, a hash of its payload and the latency of the call that acknowledged it
// to a report file of their own, fsynced after every write. A supervisor SIGKILLs a random writer at a random moment,
// restarts it and repeats. Afterwards every acknowledged event must be readable with its
// exact bytes, the ids dense and unique, every batch visible whole or not at all, no record
// torn, and the directory must open and Check clean with no manual repair.

const (
	kwEnvReport = "RINGLOG_KW_REPORT" // report file of this incarnation
	kwEnvWriter = "RINGLOG_KW_WRITER" // writer number
	kwEnvInc    = "RINGLOG_KW_INC"    // incarnation of that writer (restarts so far)
	kwRecSize   = 24                  // report record: id u64, fnv64a(payload) u64, latency ns u64
	kwHuge      = 500                 // events of a huge batch, long enough for kills to land inside
	kwMaxLock   = time.Second         // a surviving writer must get the lock within this
)

var kwOpts = mmaplog.Options{SegmentSize: 64 << 10, IndexCapacity: 1024}

func init() { childRoles["kill-writer"] = kwChildWriter }

// kwEvent is what a kill-harness payload says about itself.
type kwEvent struct {
	w, inc, seq, bseq, bsize, idx uint32
}

// kwPayload is event seq (of batch bseq, bsize events, index idx) of writer w's
// incarnation inc: [w][inc][seq][bseq][bsize][idx] (u32 each), fill that is a function of
// (w, inc, seq), then the CRC-32C of everything before it. 28..427 bytes.
func kwPayload(e kwEvent) []byte {
	h := splitmix64(uint64(e.w)<<48 ^ uint64(e.inc)<<32 ^ uint64(e.seq))
	n := 28 + int(h%400)
	b := make([]byte, n+8)
	for i, v := range []uint32{e.w, e.inc, e.seq, e.bseq, e.bsize, e.idx} {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	x := h
	for i := 24; i < n-4; i += 8 {
		x = splitmix64(x)
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	b = b[:n]
	binary.LittleEndian.PutUint32(b[n-4:], crc32.Checksum(b[:n-4], castagnoli))
	return b
}

// kwDecode checks a payload's own checksum (a failure is a torn record) and that it is
// exactly what kwPayload makes of the fields it carries.
func kwDecode(b []byte) (kwEvent, error) {
	var e kwEvent
	if len(b) < 28 {
		return e, fmt.Errorf("torn payload: %d bytes", len(b))
	}
	n := len(b)
	if got, want := binary.LittleEndian.Uint32(b[n-4:]), crc32.Checksum(b[:n-4], castagnoli); got != want {
		return e, fmt.Errorf("torn payload: checksum %08x, want %08x", got, want)
	}
	f := []*uint32{&e.w, &e.inc, &e.seq, &e.bseq, &e.bsize, &e.idx}
	for i, p := range f {
		*p = binary.LittleEndian.Uint32(b[4*i:])
	}
	if !bytes.Equal(b, kwPayload(e)) {
		return e, fmt.Errorf("torn payload: %+v differs from what was written", e)
	}
	return e, nil
}

func kwHash(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// kwChildWriter appends until it is killed, reporting every acknowledged event.
func kwChildWriter() int {
	w, inc := uint32(envInt(kwEnvWriter)), uint32(envInt(kwEnvInc))
	rng := rand.New(rand.NewPCG(uint64(envInt(envSeed)), uint64(w)<<32|uint64(inc)))
	// Odd writers keep the lock between calls (HoldLock): their single appends take the
	// fast path that publishes by the commit word's tail count, killed like the others.
	opts := kwOpts
	opts.HoldLock = w%2 == 1
	l, err := mmaplog.Open(os.Getenv(envDir), &opts)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	f, err := os.OpenFile(os.Getenv(kwEnvReport), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return childFail("report: %v", err)
	}
	defer f.Close()
	var seq, bseq uint32
	var rec []byte
	for {
		var n int
		op := rng.IntN(100)
		switch {
		case op < 4:
			n = kwHuge
		case op < 60:
			n = 1
		default:
			n = 1 + rng.IntN(20)
		}
		evs := make([][]byte, n)
		for i := range evs {
			evs[i] = kwPayload(kwEvent{w: w, inc: inc, seq: seq + uint32(i), bseq: bseq, bsize: uint32(n), idx: uint32(i)})
		}
		var id uint64
		t0 := time.Now()
		switch {
		case n > 1:
			id, err = l.AppendBatch(evs)
		case op < 30:
			id, err = l.Append(evs[0])
		default:
			// Compare-and-append: retry with the id the log expects.
			id, err = l.NextEventID()
			for tries := 0; err == nil && tries < 10000; tries++ {
				err = l.AppendWithID(id, evs[0])
				var ie *mmaplog.IDError
				if !errors.As(err, &ie) {
					break
				}
				id, err = ie.Expected, nil
			}
		}
		lat := time.Since(t0)
		if err != nil {
			return childFail("append of %d events: %v", n, err)
		}
		rec = rec[:0]
		for i, e := range evs {
			rec = binary.LittleEndian.AppendUint64(rec, id+uint64(i))
			rec = binary.LittleEndian.AppendUint64(rec, kwHash(e))
			rec = binary.LittleEndian.AppendUint64(rec, uint64(lat))
		}
		if _, err := f.Write(rec); err != nil {
			return childFail("report: %v", err)
		}
		if err := f.Sync(); err != nil {
			return childFail("report sync: %v", err)
		}
		seq += uint32(n)
		bseq++
	}
}

// kwAck is one acknowledged event from a report.
type kwAck struct {
	hash   uint64
	lat    time.Duration
	report string
}

func TestKillWriters(t *testing.T) {
	writers, kills := 4, 50
	if os.Getenv("RINGLOG_LONG") != "" {
		kills = 1000
	}
	s := seed(t)
	rng := rand.New(rand.NewPCG(uint64(s), 0x6b696c6c))
	dir := filepath.Join(t.TempDir(), "log")
	reports := t.TempDir()
	l, err := mmaplog.Open(dir, &kwOpts) // created once, so that no child races the creation
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	reportPath := func(w, inc int) string {
		return filepath.Join(reports, fmt.Sprintf("report-%d-%04d", w, inc))
	}
	incs := make([]int, writers)
	cur := make([]*child, writers)
	start := func(w int) {
		cur[w] = startChildren(t, "kill-writer", 1,
			envDir+"="+dir,
			envSeed+"="+strconv.FormatInt(s&0x7fffffff, 10),
			kwEnvWriter+"="+strconv.Itoa(w),
			kwEnvInc+"="+strconv.Itoa(incs[w]),
			kwEnvReport+"="+reportPath(w, incs[w]),
		)[0]
	}
	// kill SIGKILLs a writer and reaps it; a writer that exited by itself is a failure.
	kill := func(w int) {
		c := cur[w]
		if c.exited() {
			c.waited = true
			t.Fatalf("writer %d (incarnation %d) exited by itself: %v\n%s", w, incs[w], c.err, c.out.String())
		}
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
		c.waited = true
		c.cancel()
		var ee *exec.ExitError
		if !errors.As(c.err, &ee) || !strings.Contains(c.err.Error(), "killed") {
			t.Fatalf("writer %d (incarnation %d): %v\n%s", w, incs[w], c.err, c.out.String())
		}
	}
	began := time.Now()
	for w := range writers {
		start(w)
	}
	for k := 0; k < kills; k++ {
		w := rng.IntN(writers)
		// Kill only a writer that has opened the log and acknowledged an event, so that the
		// kill lands in the append loop (possibly holding the lock, possibly inside a batch).
		deadline := time.Now().Add(30 * time.Second)
		for {
			if fi, err := os.Stat(reportPath(w, incs[w])); err == nil && fi.Size() >= kwRecSize {
				break
			}
			if cur[w].exited() || time.Now().After(deadline) {
				kill(w)
				t.Fatalf("writer %d (incarnation %d) acknowledged nothing in 30 s", w, incs[w])
			}
			time.Sleep(500 * time.Microsecond)
		}
		time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
		kill(w)
		incs[w]++
		start(w)
	}
	// Let the survivors run a little after the last kill, then stop everyone.
	time.Sleep(50 * time.Millisecond)
	for w := range writers {
		kill(w)
	}
	elapsed := time.Since(began)

	// Read the reports: every acknowledged id, its hash, and the latency of its append.
	acks := map[uint64]kwAck{}
	var maxLat time.Duration
	var maxLatAt string
	entries, err := os.ReadDir(reports)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(reports, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b = b[:len(b)/kwRecSize*kwRecSize] // a kill may cut the last record short
		last := int64(-1)
		for off := 0; off < len(b); off += kwRecSize {
			id := binary.LittleEndian.Uint64(b[off:])
			a := kwAck{hash: binary.LittleEndian.Uint64(b[off+8:]), lat: time.Duration(binary.LittleEndian.Uint64(b[off+16:])), report: e.Name()}
			if prev, dup := acks[id]; dup {
				t.Errorf("id %d acknowledged twice: to %s and %s", id, prev.report, a.report)
			}
			if int64(id) <= last {
				t.Errorf("%s: id %d acknowledged after %d: a writer's own events out of order", e.Name(), id, last)
			}
			last = int64(id)
			acks[id] = a
			if a.lat > maxLat {
				maxLat, maxLatAt = a.lat, e.Name()
			}
		}
	}

	// Check the directory as the killed writers left it, read-only, before anyone repairs it.
	rep, err := mmaplog.Check(dir)
	if err != nil {
		t.Fatalf("Check before reopening: %v", err)
	}
	if !rep.OK() {
		t.Errorf("Check before reopening found %d problems, first: %v", len(rep.Problems), rep.Problems[0])
	}
	l, err = mmaplog.Open(dir, &kwOpts)
	if err != nil {
		t.Fatalf("reopen after the kills needs manual repair: %v", err)
	}
	defer l.Close()
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.OldestEventID != 0 || st.EventCount != st.NextEventID {
		t.Errorf("stats %+v: want events 0..next-1", st)
	}
	type batchSeen struct {
		first, n uint64
		size     uint32
		bad      bool
	}
	batches := map[[3]uint32]*batchSeen{}
	seen := map[[3]uint32]uint64{}
	torn, lost, partial, dups := 0, 0, 0, 0
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(0)
	for id, v := range it.All() {
		if id != want {
			t.Fatalf("iteration: id %d, want %d: ids not dense", id, want)
		}
		want++
		g, err := l.Get(id)
		if err != nil || !bytes.Equal(g, v) {
			t.Errorf("Get(%d) = %d bytes, %v; iteration saw %d bytes", id, len(g), err, len(v))
		}
		e, err := kwDecode(v)
		if err != nil {
			torn++
			t.Errorf("event %d: %v", id, err)
			continue
		}
		if prev, dup := seen[[3]uint32{e.w, e.inc, e.seq}]; dup {
			dups++
			t.Errorf("event %d duplicates event %d (writer %d incarnation %d seq %d)", id, prev, e.w, e.inc, e.seq)
		}
		seen[[3]uint32{e.w, e.inc, e.seq}] = id
		k := [3]uint32{e.w, e.inc, e.bseq}
		bs := batches[k]
		if bs == nil {
			bs = &batchSeen{first: id - uint64(e.idx), size: e.bsize}
			batches[k] = bs
		}
		if id != bs.first+uint64(e.idx) || bs.size != e.bsize || bs.first+bs.n != id {
			bs.bad = true
		}
		bs.n++
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iteration: %v", err)
	}
	if want != st.NextEventID {
		t.Errorf("iteration ended at %d, NextEventID is %d", want, st.NextEventID)
	}
	for k, bs := range batches {
		if bs.bad || bs.n != uint64(bs.size) {
			partial++
			if partial <= 5 {
				t.Errorf("batch %d of writer %d incarnation %d: %d of %d events visible (at %d), out of place: %v", k[2], k[0], k[1], bs.n, bs.size, bs.first, bs.bad)
			}
		}
	}
	for id, a := range acks {
		b, err := l.Get(id)
		if err != nil || kwHash(b) != a.hash {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged event %d (%s) lost: %d bytes, %v", id, a.report, len(b), err)
			}
		}
	}
	rep, err = l.Check()
	if err != nil || !rep.OK() {
		t.Errorf("Check after reopening: %v %+v", err, rep)
	}
	// The log still takes appends.
	if _, err := l.Append(kwPayload(kwEvent{w: 99})); err != nil {
		t.Errorf("append after the kills: %v", err)
	}
	t.Logf("kills=%d writers=%d elapsed=%v acknowledged=%d events=%d batches=%d lost=%d torn=%d partial-batches=%d duplicates=%d max-lock-wait=%v (%s) segments=%d",
		kills, writers, elapsed.Round(time.Millisecond), len(acks), st.NextEventID, len(batches), lost, torn, partial, dups, maxLat, maxLatAt, st.ActiveSegment)
	if maxLat > kwMaxLock {
		t.Errorf("a writer waited %v for the lock (append latency), want < %v after a kill", maxLat, kwMaxLock)
	}
	if len(acks) == 0 {
		t.Error("no event was acknowledged")
	}
}
