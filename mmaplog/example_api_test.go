package mmaplog_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ringlog/ringlog/mmaplog"
)

// tempLog opens a fresh log in a new temporary directory for an example; cleanup closes
// it and removes the directory.
func tempLog(opts *mmaplog.Options) (l *mmaplog.Log, dir string, cleanup func()) {
	dir, err := os.MkdirTemp("", "ringlog-example-")
	if err != nil {
		log.Fatal(err)
	}
	l, err = mmaplog.Open(dir, opts)
	if err != nil {
		log.Fatal(err)
	}
	return l, dir, func() { l.Close(); os.RemoveAll(dir) }
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "ringlog-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A new log: segments of 1 MiB instead of the default 64 MiB. Zero fields are defaults.
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := l.Append([]byte("hello")); err != nil {
		log.Fatal(err)
	}
	l.Close()

	// Any process may open it again; an existing log keeps its segment size.
	l, err = mmaplog.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	s, err := l.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d event, next id %d, segments of %d bytes\n", s.EventCount, s.NextEventID, s.SegmentSize)
	// Output:
	// 1 event, next id 1, segments of 1048576 bytes
}

// Two writers that allocate ids themselves share a log: AppendWithID is a
// compare-and-append, and the loser of a race retries with the id the log expects.
func ExampleLog_AppendWithID() {
	a, dir, cleanup := tempLog(nil)
	defer cleanup()
	b, err := mmaplog.Open(dir, nil) // the other writer (in real use, another process)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// appendNext appends ev at the id w believes is next, retrying on ErrOutOfOrder.
	appendNext := func(w *mmaplog.Log, guess mmaplog.EventID, ev string) mmaplog.EventID {
		for {
			err := w.AppendWithID(guess, []byte(ev))
			var idErr *mmaplog.IDError
			if errors.As(err, &idErr) {
				fmt.Printf("%s: id %d is taken, retrying with %d\n", ev, guess, idErr.Expected)
				guess = idErr.Expected
				continue
			}
			if err != nil {
				log.Fatal(err)
			}
			return guess
		}
	}
	fmt.Println("a appended", appendNext(a, 0, "a-first"))
	fmt.Println("b appended", appendNext(b, 0, "b-first")) // b did not see a's append
	// Output:
	// a appended 0
	// b-first: id 0 is taken, retrying with 1
	// b appended 1
}

func ExampleLog_AppendBatch() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()

	// All or none: after a crash either every event of the batch is there or none is,
	// and readers see them appear at once.
	first, err := l.AppendBatch([][]byte{[]byte("debit"), []byte("credit"), []byte("fee")})
	if err != nil {
		log.Fatal(err)
	}
	next, _ := l.NextEventID()
	fmt.Printf("ids %d..%d, next %d\n", first, next-1, next)

	// A batch with caller-allocated ids carries the first one.
	if err := l.AppendBatchWithIDs(next, [][]byte{[]byte("refund")}); err != nil {
		log.Fatal(err)
	}
	ev, _ := l.Get(next)
	fmt.Printf("%d: %s\n", next, ev)
	// Output:
	// ids 0..2, next 3
	// 3: refund
}

func ExampleLog_Get() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()
	id, err := l.Append([]byte("order #17 shipped"))
	if err != nil {
		log.Fatal(err)
	}

	ev, err := l.Get(id) // O(1): one index slot, one record, checked by id and CRC
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d: %s\n", id, ev)

	if _, err := l.Get(id + 1); errors.Is(err, mmaplog.ErrNotFound) {
		fmt.Printf("%d: not found\n", id+1)
	}
	// Output:
	// 0: order #17 shipped
	// 1: not found
}

func ExampleLog_View() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()
	id, err := l.Append([]byte(`{"temp":21.5}`))
	if err != nil {
		log.Fatal(err)
	}

	// Zero-copy: b aliases the shared mapping and is valid only inside the callback.
	var size int
	err = l.View(id, func(b []byte) error {
		size = len(b)
		fmt.Printf("viewed %s\n", b)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(size, "bytes, nothing copied")
	// Output:
	// viewed {"temp":21.5}
	// 13 bytes, nothing copied
}

func ExampleLog_IterRange() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		if _, err := l.Append([]byte(s)); err != nil {
			log.Fatal(err)
		}
	}

	// [1, 4): ids 1, 2 and 3. All closes the iterator when the loop ends.
	it, err := l.IterRange(1, 4)
	if err != nil {
		log.Fatal(err)
	}
	for id, ev := range it.All() { // ev aliases the mapping: copy what you keep
		fmt.Printf("%d=%s\n", id, ev)
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}

	// Latest: up to the newest event; Next, ID and Value make the same walk by hand.
	it, err = l.IterRange(3, mmaplog.Latest)
	if err != nil {
		log.Fatal(err)
	}
	defer it.Close()
	for it.Next() {
		fmt.Printf("%d=%s\n", it.ID(), it.Value())
	}
	fmt.Println("err:", it.Err())
	// Output:
	// 1=b
	// 2=c
	// 3=d
	// 3=d
	// 4=e
	// err: <nil>
}

func ExampleLog_Follow() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()

	// A writer (here a goroutine; in real use any process) appends while we follow.
	go func() {
		for _, s := range []string{"tick", "tock", "done"} {
			if _, err := l.Append([]byte(s)); err != nil {
				log.Print(err)
				return
			}
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	it := l.Follow(ctx, 0) // Next blocks at the tail until an event is appended
	defer it.Close()
	for it.Next() {
		fmt.Printf("%d: %s\n", it.ID(), it.Value())
		if string(it.Value()) == "done" {
			cancel() // Next returns false, Err is context.Canceled
		}
	}
	fmt.Println(errors.Is(it.Err(), context.Canceled))
	// Output:
	// 0: tick
	// 1: tock
	// 2: done
	// true
}

// A prefix delete frees space: ids before the new oldest are gone and whole segment files
// are unlinked; the next id does not change.
func ExampleLog_DeleteRange() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()
	for i := 0; i < 10; i++ {
		if _, err := l.Append([]byte(fmt.Sprint("event ", i))); err != nil {
			log.Fatal(err)
		}
	}

	removed, err := l.DeleteRange(0, 5) // inclusive
	if err != nil {
		log.Fatal(err)
	}
	oldest, _ := l.OldestEventID()
	next, _ := l.NextEventID()
	fmt.Printf("removed %d, oldest %d, next %d\n", removed, oldest, next)
	// Output:
	// removed 6, oldest 6, next 10
}

// A suffix delete is a raft log truncation: a follower drops the entries that conflict
// with its leader's and appends the leader's entries with the same ids.
func ExampleLog_DeleteRange_suffix() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()
	for _, e := range []string{"t1:set x", "t1:set y", "t2:stale", "t2:stale"} {
		if _, err := l.Append([]byte(e)); err != nil {
			log.Fatal(err)
		}
	}

	removed, err := l.DeleteRange(2, mmaplog.Latest) // clipped to the newest event
	if err != nil {
		log.Fatal(err)
	}
	next, _ := l.NextEventID()
	fmt.Printf("removed %d, next %d\n", removed, next)

	if err := l.AppendBatchWithIDs(2, [][]byte{[]byte("t3:set z")}); err != nil {
		log.Fatal(err)
	}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		log.Fatal(err)
	}
	for id, ev := range it.All() {
		fmt.Printf("%d: %s\n", id, ev)
	}
	// Output:
	// removed 2, next 2
	// 0: t1:set x
	// 1: t1:set y
	// 2: t3:set z
}

// With SyncAlways every append returns only once it would survive a power loss;
// concurrent appenders of a handle share one flush. Without it, call Sync.
func ExampleLog_Sync() {
	l, _, cleanup := tempLog(&mmaplog.Options{Sync: mmaplog.SyncAlways})
	defer cleanup()
	if _, err := l.Append([]byte("must not be lost")); err != nil {
		log.Fatal(err)
	}
	s, _ := l.Stats()
	fmt.Println("durable below id", s.SyncedNextEventID)

	// Sync with the default policy (SyncNever): everything appended before it is durable
	// once it returns.
	other, err := mmaplog.Open(l.Dir(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close()
	if _, err := other.AppendBatch([][]byte{[]byte("a"), []byte("b")}); err != nil {
		log.Fatal(err)
	}
	if err := other.Sync(); err != nil {
		log.Fatal(err)
	}
	s, _ = other.Stats()
	fmt.Println("durable below id", s.SyncedNextEventID)
	// Output:
	// durable below id 1
	// durable below id 3
}

func ExampleCheck() {
	l, dir, cleanup := tempLog(nil)
	defer cleanup()
	for i := 0; i < 100; i++ {
		if _, err := l.Append([]byte("some event")); err != nil {
			log.Fatal(err)
		}
	}

	rep, err := mmaplog.Check(dir) // opens the log read-only: no lock, no repair
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ok=%v: %d events, %d bytes verified\n", rep.OK(), rep.Events, rep.Bytes)

	// Bit rot in one record: Check names the file and the offset.
	seg := filepath.Join(dir, "seg-0000000000000000")
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		log.Fatal(err)
	}
	f.WriteAt([]byte("S"), 64+16) // the first payload byte of event 0
	f.Close()
	rep, err = mmaplog.Check(dir)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range rep.Problems {
		fmt.Printf("%s at offset %d (event %d): %s\n", filepath.Base(p.Path), p.Offset, p.ID, p.What)
	}
	// Output:
	// ok=true: 100 events, 1000 bytes verified
	// seg-0000000000000000 at offset 64 (event 0): record checksum mismatch
}

// The archival flow: rotate, archive the sealed file, delete the prefix to free the space,
// and read the archive back on its own.
func ExampleReadSegment() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()
	for _, s := range []string{"jan", "feb", "mar"} {
		if _, err := l.Append([]byte(s)); err != nil {
			log.Fatal(err)
		}
	}
	sealed, err := l.Rotate()
	if err != nil {
		log.Fatal(err)
	}
	archiveDir, err := os.MkdirTemp("", "ringlog-archive-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(archiveDir)
	archived := filepath.Join(archiveDir, filepath.Base(sealed))
	b, err := os.ReadFile(sealed)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(archived, b, 0o640); err != nil {
		log.Fatal(err)
	}
	if _, err := l.DeleteRange(0, 2); err != nil { // unlinks the sealed segment
		log.Fatal(err)
	}

	for rec, err := range mmaplog.ReadSegment(archived) {
		if err != nil {
			log.Fatal(err) // a damaged record (the loop goes on) or a damaged or foreign file
		}
		fmt.Printf("%d at offset %d: %s\n", rec.ID, rec.Offset, rec.Data)
	}
	// Output:
	// 0 at offset 64: jan
	// 1 at offset 88: feb
	// 2 at offset 112: mar
}

// An online backup: writers may keep appending meanwhile; the copy holds the events of
// one commit point, is fsynced, and opens and checks clean.
func ExampleLog_Backup() {
	l, _, cleanup := tempLog(nil)
	defer cleanup()
	if _, err := l.AppendBatch([][]byte{[]byte("one"), []byte("two")}); err != nil {
		log.Fatal(err)
	}
	dest, err := os.MkdirTemp("", "ringlog-backup-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dest)

	info, err := l.Backup(dest, nil) // dest: a new or empty directory
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d events, ids [%d, %d), check clean: %v\n", info.Events, info.OldestEventID, info.NextEventID, info.Report.OK())
	// Output:
	// 2 events, ids [0, 2), check clean: true
}
