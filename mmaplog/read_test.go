package mmaplog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// versioned returns the payload of event id written in round ver: id and ver, then filler
// whose length depends on both, so a stale record of an earlier round never matches.
func versioned(id uint64, ver byte) []byte {
	p := make([]byte, 16+int(id%7)+int(ver)*3)
	binary.LittleEndian.PutUint64(p[0:8], id)
	p[8] = ver
	for i := 9; i < len(p); i++ {
		p[i] = byte(id) ^ ver ^ byte(i)
	}
	return p
}

// An iterator validates events ahead of the caller. Deletes and re-appends committed
// between two calls of Next must still be seen: deleted ids are skipped, and an id that a
// suffix delete removed and an append wrote again is read from its new record.
func TestIteratorRunSeesStateChanges(t *testing.T) {
	l, err := mmaplog.Open(t.TempDir(), &mmaplog.Options{NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 200
	for id := uint64(0); id < n; id++ {
		if err := l.AppendWithID(id, versioned(id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	it, err := l.IterRange(0, n)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	want := map[uint64]byte{} // id -> round of the payload the iterator must return
	for id := uint64(0); id < n; id++ {
		want[id] = 1
	}
	next := func() (uint64, []byte) {
		t.Helper()
		if !it.Next() {
			t.Fatalf("Next: false (err %v)", it.Err())
		}
		return it.ID(), it.Value()
	}
	check := func(id uint64, got []byte) {
		t.Helper()
		ver, ok := want[id]
		if !ok {
			t.Fatalf("iterator returned id %d, which is deleted", id)
		}
		if !bytes.Equal(got, versioned(id, ver)) {
			t.Fatalf("id %d: got a payload of %d bytes (round %d), want round %d", id, len(got), got[8], ver)
		}
	}
	// Read id 0, so the ids after it are validated ahead; then delete some of them.
	id, p := next()
	check(id, p)
	if _, err := l.DeleteRange(5, 10); err != nil {
		t.Fatal(err)
	}
	for i := uint64(5); i <= 10; i++ {
		delete(want, i)
	}
	// Reading up to 130 leaves 131.. validated ahead (runs are at most 64 events).
	for id < 130 {
		id, p = next()
		check(id, p)
	}
	// Suffix delete from 150 and append those ids again, with new payloads.
	if _, err := l.DeleteRange(150, n-1); err != nil {
		t.Fatal(err)
	}
	for i := uint64(150); i < n; i++ {
		if err := l.AppendWithID(i, versioned(i, 2)); err != nil {
			t.Fatal(err)
		}
		want[i] = 2
	}
	// A prefix delete that passes the iterator's position.
	id, p = next()
	check(id, p)
	if _, err := l.DeleteRange(0, 140); err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i <= 140; i++ {
		delete(want, i)
	}
	seen := 0
	for it.Next() {
		check(it.ID(), it.Value())
		if it.ID() <= id {
			t.Fatalf("iterator went back from %d to %d", id, it.ID())
		}
		id = it.ID()
		seen++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if id != n-1 || seen != n-141 {
		t.Fatalf("iterator ended at %d after %d events, want %d after %d", id, seen, n-1, n-141)
	}
}

// Readers of several handles (Get, View, iterators) run while a writer fills small
// segments, deletes prefixes (so segments are unlinked and unmapped) and suffixes, and the
// handles are closed under them. Every event a reader gets must carry the bytes of its id
// and round; the only errors allowed are ErrNotFound and ErrClosed. This exercises the
// per-process segment cache (handles share its slots) and iterator runs across segment
// turnovers.
func TestReadersRaceTurnoverAndClose(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 7))
	dir := t.TempDir()
	opts := &mmaplog.Options{SegmentSize: 64 << 10, NoPrefault: true}
	w, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	const handles = 3
	readers := make([]*mmaplog.Log, handles)
	for i := range readers {
		if readers[i], err = mmaplog.Open(dir, opts); err != nil {
			t.Fatal(err)
		}
	}
	// round[id] is the payload round of id; an id is only ever rewritten after a suffix
	// delete, in the next round. Readers accept any round up to the current one for an id.
	var mu sync.Mutex
	rounds := map[uint64]byte{}
	ok := func(id uint64, got []byte) bool {
		if len(got) < 9 {
			return false
		}
		mu.Lock()
		maxVer := rounds[id]
		mu.Unlock()
		ver := got[8]
		return ver >= 1 && ver <= maxVer && bytes.Equal(got, versioned(id, ver))
	}
	errc := make(chan error, 64)
	fail := func(format string, args ...any) {
		select {
		case errc <- fmt.Errorf(format, args...):
		default:
		}
	}
	// Kind 0 runs Get, which may race Close; kind 1 runs View and iterators that read
	// Values (which Close invalidates), stopped before Close; kind 2 runs iterators that
	// only call Next, which may race Close.
	stop := [3]chan struct{}{make(chan struct{}), make(chan struct{}), make(chan struct{})}
	var wgs [3]sync.WaitGroup
	for h, r := range readers {
		for kind := 0; kind < 3; kind++ {
			wgs[kind].Add(1)
			go func(r *mmaplog.Log, kind int, seed uint64) {
				defer wgs[kind].Done()
				rr := rand.New(rand.NewPCG(seed, 1))
				for n := 0; ; n++ {
					select {
					case <-stop[kind]:
						return
					default:
					}
					next, err := r.NextEventID()
					if errors.Is(err, mmaplog.ErrClosed) {
						return
					}
					if next == 0 {
						continue
					}
					id := rr.Uint64N(next)
					switch {
					case kind == 0:
						p, err := r.Get(id)
						if err == nil && !ok(id, p) {
							fail("Get(%d): wrong bytes", id)
						} else if err != nil && !errors.Is(err, mmaplog.ErrNotFound) && !errors.Is(err, mmaplog.ErrClosed) {
							fail("Get(%d): %v", id, err)
						}
					case kind == 1 && n%2 == 0:
						err := r.View(id, func(p []byte) error {
							if !ok(id, p) {
								fail("View(%d): wrong bytes", id)
							}
							return nil
						})
						if err != nil && !errors.Is(err, mmaplog.ErrNotFound) {
							fail("View(%d): %v", id, err)
						}
					default:
						it, err := r.IterRange(id, id+300)
						if err != nil {
							if !errors.Is(err, mmaplog.ErrClosed) {
								fail("IterRange: %v", err)
							}
							continue
						}
						last := uint64(0)
						for j := 0; it.Next(); j++ {
							if j > 0 && it.ID() <= last {
								fail("iterator went back from %d to %d", last, it.ID())
							}
							last = it.ID()
							if kind == 1 && !ok(it.ID(), it.Value()) {
								fail("iterator at %d: wrong bytes", it.ID())
							}
						}
						if err := it.Err(); err != nil && !errors.Is(err, mmaplog.ErrClosed) {
							fail("iterator: %v", err)
						}
						it.Close()
					}
				}
			}(r, kind, uint64(h*3+kind)+rng.Uint64())
		}
	}
	// The writer: batches of appends into 64 KiB segments, prefix and suffix deletes.
	ver := byte(1)
	next := uint64(0)
	for step := 0; step < 300; step++ {
		n := 1 + rng.IntN(60)
		batch := make([][]byte, n)
		mu.Lock()
		for i := range batch {
			id := next + uint64(i)
			if rounds[id] < ver {
				rounds[id] = ver
			}
			batch[i] = versioned(id, ver)
		}
		mu.Unlock()
		if err := w.AppendBatchWithIDs(next, batch); err != nil {
			t.Fatal(err)
		}
		next += uint64(n)
		switch rng.IntN(10) {
		case 0, 1:
			oldest, err := w.OldestEventID()
			if err == nil && next-oldest > 200 {
				if _, err := w.DeleteRange(oldest, oldest+uint64(rng.IntN(int(next-oldest-100)))); err != nil {
					t.Fatal(err)
				}
			}
		case 2:
			oldest, err := w.OldestEventID()
			if err == nil && next-oldest > 100 {
				from := next - uint64(1+rng.IntN(50))
				if _, err := w.DeleteRange(from, next-1); err != nil {
					t.Fatal(err)
				}
				next = from
				ver++
			}
		}
	}
	// Close the reading handles under their Gets and Nexts, then stop them.
	close(stop[1])
	wgs[1].Wait()
	for _, r := range readers {
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop[0])
	close(stop[2])
	wgs[0].Wait()
	wgs[2].Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
