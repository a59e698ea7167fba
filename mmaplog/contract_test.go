package mmaplog_test

// Contract tests: every method of *Log and every error of the EventLog contract
// (BRIEF.md, issue 2). Errors are checked with errors.Is / errors.As only.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

const ctSegSize = 16 << 10

// ctOpts returns small-segment options; NoPrefault keeps the directory listing
// deterministic (no background segment preparation).
func ctOpts() *mmaplog.Options {
	return &mmaplog.Options{SegmentSize: ctSegSize, IndexCapacity: 1024, NoPrefault: true}
}

// ctOpen opens dir and closes the handle at the end of the test.
func ctOpen(t *testing.T, dir string, opts *mmaplog.Options) *mmaplog.Log {
	t.Helper()
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// ctPayload is the deterministic, unique content of event id (size >= 16 pads it).
func ctPayload(id uint64, size int) []byte {
	b := fmt.Appendf(nil, "ev-%010d|", id)
	for len(b) < size {
		b = append(b, byte('a'+(id+uint64(len(b)))%26))
	}
	return b
}

// ctAppendN appends n events of the given size with AppendBatchWithIDs in batches.
func ctAppendN(t *testing.T, l *mmaplog.Log, n, size int) (first uint64) {
	t.Helper()
	first = ctNext(t, l)
	const batch = 500
	for done := 0; done < n; {
		k := min(batch, n-done)
		evs := make([][]byte, k)
		for i := range evs {
			evs[i] = ctPayload(first+uint64(done+i), size)
		}
		if err := l.AppendBatchWithIDs(first+uint64(done), evs); err != nil {
			t.Fatalf("AppendBatchWithIDs(%d, %d events): %v", first+uint64(done), k, err)
		}
		done += k
	}
	return first
}

func ctNext(t *testing.T, l *mmaplog.Log) uint64 {
	t.Helper()
	n, err := l.NextEventID()
	if err != nil {
		t.Fatalf("NextEventID: %v", err)
	}
	return n
}

func ctStats(t *testing.T, l *mmaplog.Log) mmaplog.Stats {
	t.Helper()
	s, err := l.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return s
}

func ctGet(t *testing.T, l *mmaplog.Log, id uint64, want []byte) {
	t.Helper()
	got, err := l.Get(id)
	if err != nil {
		t.Fatalf("Get(%d): %v", id, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%d) = %q, want %q", id, got, want)
	}
}

func ctGetErr(t *testing.T, l *mmaplog.Log, id uint64, want error) {
	t.Helper()
	got, err := l.Get(id)
	if !errors.Is(err, want) {
		t.Fatalf("Get(%d) = (%q, %v), want error %v", id, got, err, want)
	}
}

// ctCollect drains an iterator with Next/ID/Value, copying the values.
func ctCollect(t *testing.T, it *mmaplog.Iterator) (ids []uint64, vals [][]byte, err error) {
	t.Helper()
	for it.Next() {
		ids = append(ids, it.ID())
		vals = append(vals, bytes.Clone(it.Value()))
	}
	err = it.Err()
	if cerr := it.Close(); cerr != nil {
		t.Fatalf("Iterator.Close: %v", cerr)
	}
	return ids, vals, err
}

func ctIter(t *testing.T, l *mmaplog.Log, start, end uint64) ([]uint64, [][]byte) {
	t.Helper()
	it, err := l.IterRange(start, end)
	if err != nil {
		t.Fatalf("IterRange(%d, %d): %v", start, end, err)
	}
	ids, vals, err := ctCollect(t, it)
	if err != nil {
		t.Fatalf("IterRange(%d, %d): Err() = %v", start, end, err)
	}
	return ids, vals
}

// ctFiles snapshots the directory: name -> size.
func ctFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]int64, len(entries))
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue // unlinked meanwhile (an index retired by growth, in the background)
		}
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = info.Size()
	}
	return m
}

// ctSegFiles counts the seg-* files in dir.
func ctSegFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for name := range ctFiles(t, dir) {
		if strings.HasPrefix(name, "seg-") && !strings.Contains(name, ".tmp-") {
			n++
		}
	}
	return n
}

// ctSnap is what a rejected call must leave unchanged.
type ctSnap struct {
	next  uint64
	stats mmaplog.Stats
	files map[string]int64
}

func ctSnapshot(t *testing.T, l *mmaplog.Log) ctSnap {
	t.Helper()
	return ctSnap{next: ctNext(t, l), stats: ctStats(t, l), files: ctFiles(t, l.Dir())}
}

func ctUnchanged(t *testing.T, l *mmaplog.Log, before ctSnap, what string) {
	t.Helper()
	after := ctSnapshot(t, l)
	if after.next != before.next {
		t.Errorf("%s: NextEventID %d -> %d", what, before.next, after.next)
	}
	if after.stats != before.stats {
		t.Errorf("%s: Stats changed:\n before %+v\n after  %+v", what, before.stats, after.stats)
	}
	if !maps.Equal(before.files, after.files) {
		t.Errorf("%s: files changed:\n before %v\n after  %v", what, before.files, after.files)
	}
}

// ctModel is the expected content of a log: live ids and their bytes.
type ctModel struct {
	live       map[uint64][]byte
	next       uint64
	lo, hi     uint64 // ids ever used, for probing
	everything bool
}

func newCtModel() *ctModel { return &ctModel{live: map[uint64][]byte{}} }

func (m *ctModel) add(id uint64, b []byte) {
	if len(m.live) == 0 && !m.everything {
		m.lo = id
		m.everything = true
	}
	m.live[id] = bytes.Clone(b)
	m.next = id + 1
	m.lo, m.hi = min(m.lo, id), max(m.hi, id+1)
}

func (m *ctModel) del(s, e uint64) int {
	n := 0
	for id := range m.live {
		if id >= s && id <= e {
			delete(m.live, id)
			n++
		}
	}
	return n
}

func (m *ctModel) sorted() []uint64 {
	ids := make([]uint64, 0, len(m.live))
	for id := range m.live {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ctCheck compares the log with the model: counts, bounds, every Get, a full iteration.
func ctCheck(t *testing.T, l *mmaplog.Log, m *ctModel) {
	t.Helper()
	ids := m.sorted()
	st := ctStats(t, l)
	if st.EventCount != uint64(len(ids)) {
		t.Fatalf("EventCount = %d, want %d", st.EventCount, len(ids))
	}
	if got := ctNext(t, l); got != m.next {
		t.Fatalf("NextEventID = %d, want %d", got, m.next)
	}
	oldest, oerr := l.OldestEventID()
	newest, nerr := l.NewestEventID()
	if len(ids) == 0 {
		if !errors.Is(oerr, mmaplog.ErrEmpty) || !errors.Is(nerr, mmaplog.ErrEmpty) {
			t.Fatalf("empty log: OldestEventID err %v, NewestEventID err %v, want ErrEmpty", oerr, nerr)
		}
	} else {
		if oerr != nil || nerr != nil || oldest != ids[0] || newest != ids[len(ids)-1] {
			t.Fatalf("Oldest/Newest = %d,%v / %d,%v, want %d / %d", oldest, oerr, newest, nerr, ids[0], ids[len(ids)-1])
		}
		if st.OldestEventID != oldest || st.NewestEventID != newest {
			t.Fatalf("Stats Oldest/Newest = %d/%d, want %d/%d", st.OldestEventID, st.NewestEventID, oldest, newest)
		}
	}
	for id := m.lo; id < m.hi+2; id++ {
		if want, ok := m.live[id]; ok {
			ctGet(t, l, id, want)
		} else {
			ctGetErr(t, l, id, mmaplog.ErrNotFound)
		}
	}
	gotIDs, vals := ctIter(t, l, 0, mmaplog.Latest)
	if !slices.Equal(gotIDs, ids) {
		t.Fatalf("iteration ids (%d) differ from model (%d)", len(gotIDs), len(ids))
	}
	for i, id := range gotIDs {
		if !bytes.Equal(vals[i], m.live[id]) {
			t.Fatalf("iteration: id %d = %q, want %q", id, vals[i], m.live[id])
		}
	}
}

func TestContractOpenFreshAndClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b") // Open creates missing parents
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", l.Dir(), dir)
	}
	if n := ctNext(t, l); n != 0 {
		t.Errorf("fresh NextEventID = %d, want 0", n)
	}
	if _, err := l.OldestEventID(); !errors.Is(err, mmaplog.ErrEmpty) {
		t.Errorf("OldestEventID on empty log: %v, want ErrEmpty", err)
	}
	if _, err := l.NewestEventID(); !errors.Is(err, mmaplog.ErrEmpty) {
		t.Errorf("NewestEventID on empty log: %v, want ErrEmpty", err)
	}
	st := ctStats(t, l)
	if st.EventCount != 0 || st.OldestEventID != 0 || st.NewestEventID != 0 || st.NextEventID != 0 {
		t.Errorf("fresh Stats = %+v", st)
	}
	if st.SegmentSize != mmaplog.DefaultSegmentSize || st.IndexCapacity != mmaplog.DefaultIndexCapacity ||
		st.MaxEventSize != mmaplog.DefaultMaxEventSize || st.MaxBatchBytes != mmaplog.DefaultMaxBatchBytes {
		t.Errorf("defaults not applied: %+v", st)
	}
	ctGetErr(t, l, 0, mmaplog.ErrNotFound)
	if ids, _ := ctIter(t, l, 0, mmaplog.Latest); len(ids) != 0 {
		t.Errorf("empty log iterates %v", ids)
	}
	if n, err := l.DeleteRange(0, mmaplog.Latest); n != 0 || err != nil {
		t.Errorf("DeleteRange on empty log = %d, %v", n, err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v, want nil", err)
	}
}

func TestContractClosed(t *testing.T) {
	l, err := mmaplog.Open(t.TempDir(), ctOpts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]byte("x")); err != nil {
		t.Fatal(err)
	}
	it, err := l.IterRange(0, mmaplog.Latest) // opened before Close, used after
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"AppendWithID":       func() error { return l.AppendWithID(1, []byte("y")) },
		"AppendBatchWithIDs": func() error { return l.AppendBatchWithIDs(1, [][]byte{[]byte("y")}) },
		"Append":             func() error { _, err := l.Append([]byte("y")); return err },
		"AppendBatch":        func() error { _, err := l.AppendBatch([][]byte{[]byte("y")}); return err },
		"NextEventID":        func() error { _, err := l.NextEventID(); return err },
		"IterRange":          func() error { _, err := l.IterRange(0, mmaplog.Latest); return err },
		"Get":                func() error { _, err := l.Get(0); return err },
		"View":               func() error { return l.View(0, func([]byte) error { return nil }) },
		"DeleteRange":        func() error { _, err := l.DeleteRange(0, 10); return err },
		"Rotate":             func() error { _, err := l.Rotate(); return err },
		"OldestEventID":      func() error { _, err := l.OldestEventID(); return err },
		"NewestEventID":      func() error { _, err := l.NewestEventID(); return err },
		"Sync":               l.Sync,
		"Stats":              func() error { _, err := l.Stats(); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, mmaplog.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if it.Next() {
		t.Errorf("iterator Next after Close returned true")
	}
	if !errors.Is(it.Err(), mmaplog.ErrClosed) {
		t.Errorf("iterator Err after Close: %v, want ErrClosed", it.Err())
	}
	if err := it.Close(); err != nil {
		t.Errorf("Iterator.Close after Log.Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestContractAppendIDs(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())

	// Empty log: any id >= NextEventID (0) is accepted.
	if err := l.AppendWithID(100, []byte("a100")); err != nil {
		t.Fatalf("first AppendWithID(100): %v", err)
	}
	if n := ctNext(t, l); n != 101 {
		t.Fatalf("NextEventID = %d, want 101", n)
	}
	if o, err := l.OldestEventID(); err != nil || o != 100 {
		t.Fatalf("OldestEventID = %d, %v, want 100", o, err)
	}
	ctGetErr(t, l, 99, mmaplog.ErrNotFound)
	ctGetErr(t, l, 0, mmaplog.ErrNotFound)

	// Non-empty log: exactly NextEventID.
	for _, bad := range []uint64{0, 99, 100, 102, 1 << 40} {
		err := l.AppendWithID(bad, []byte("bad"))
		if !errors.Is(err, mmaplog.ErrOutOfOrder) {
			t.Fatalf("AppendWithID(%d): %v, want ErrOutOfOrder", bad, err)
		}
		var ie *mmaplog.IDError
		if !errors.As(err, &ie) {
			t.Fatalf("AppendWithID(%d): %T is not *IDError", bad, err)
		}
		if ie.Expected != 101 || ie.Got != bad || ie.Empty {
			t.Fatalf("AppendWithID(%d): IDError %+v, want Expected 101 Got %d Empty false", bad, *ie, bad)
		}
		err = l.AppendBatchWithIDs(bad, [][]byte{[]byte("x"), []byte("y")})
		if !errors.As(err, &ie) || !errors.Is(err, mmaplog.ErrOutOfOrder) || ie.Expected != 101 || ie.Got != bad {
			t.Fatalf("AppendBatchWithIDs(%d): %v", bad, err)
		}
	}
	if err := l.AppendWithID(101, []byte("a101")); err != nil {
		t.Fatal(err)
	}
	if err := l.AppendBatchWithIDs(102, [][]byte{[]byte("a102"), []byte("a103")}); err != nil {
		t.Fatal(err)
	}
	// Append / AppendBatch allocate and return ids.
	if id, err := l.Append([]byte("a104")); err != nil || id != 104 {
		t.Fatalf("Append = %d, %v, want 104", id, err)
	}
	if id, err := l.AppendBatch([][]byte{[]byte("a105"), []byte("a106"), []byte("a107")}); err != nil || id != 105 {
		t.Fatalf("AppendBatch = %d, %v, want 105", id, err)
	}
	for id := uint64(100); id <= 107; id++ {
		ctGet(t, l, id, fmt.Appendf(nil, "a%d", id))
	}
	if n := ctNext(t, l); n != 108 {
		t.Fatalf("NextEventID = %d, want 108", n)
	}

	// Whole-log delete: NextEventID = old oldest; the empty-log rule applies again.
	if n, err := l.DeleteRange(0, mmaplog.Latest); err != nil || n != 8 {
		t.Fatalf("DeleteRange(all) = %d, %v, want 8", n, err)
	}
	if n := ctNext(t, l); n != 100 {
		t.Fatalf("NextEventID after whole delete = %d, want 100", n)
	}
	err := l.AppendWithID(99, []byte("low"))
	var ie *mmaplog.IDError
	if !errors.Is(err, mmaplog.ErrOutOfOrder) || !errors.As(err, &ie) || ie.Expected != 100 || ie.Got != 99 || !ie.Empty {
		t.Fatalf("AppendWithID(99) on emptied log: %v (%+v)", err, ie)
	}
	if err := l.AppendWithID(5000, []byte("a5000")); err != nil {
		t.Fatalf("AppendWithID(5000) on emptied log: %v", err)
	}
	ctGet(t, l, 5000, []byte("a5000"))
	ctGetErr(t, l, 100, mmaplog.ErrNotFound)
	ctGetErr(t, l, 4999, mmaplog.ErrNotFound)
	if o, err := l.OldestEventID(); err != nil || o != 5000 {
		t.Fatalf("OldestEventID = %d, %v, want 5000", o, err)
	}
	if id, err := l.Append([]byte("a5001")); err != nil || id != 5001 {
		t.Fatalf("Append = %d, %v, want 5001", id, err)
	}
	if ids, _ := ctIter(t, l, 0, mmaplog.Latest); !slices.Equal(ids, []uint64{5000, 5001}) {
		t.Fatalf("iteration = %v", ids)
	}
}

func TestContractRejectedCallsChangeNothing(t *testing.T) {
	opts := ctOpts()
	opts.MaxEventSize = 1000
	opts.MaxBatchBytes = 4000
	l := ctOpen(t, t.TempDir(), opts)
	for id := range uint64(300) { // several segments
		if err := l.AppendWithID(id, ctPayload(id, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.DeleteRange(100, 109); err != nil { // some tombstones too
		t.Fatal(err)
	}
	big := make([]byte, 1001)
	ev := make([]byte, 1000)
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"AppendWithID wrong id", func() error { return l.AppendWithID(299, []byte("x")) }, mmaplog.ErrOutOfOrder},
		{"AppendWithID future id", func() error { return l.AppendWithID(301, []byte("x")) }, mmaplog.ErrOutOfOrder},
		{"AppendBatchWithIDs wrong id", func() error { return l.AppendBatchWithIDs(0, [][]byte{ev}) }, mmaplog.ErrOutOfOrder},
		{"AppendWithID too large", func() error { return l.AppendWithID(300, big) }, mmaplog.ErrTooLarge},
		{"Append too large", func() error { _, err := l.Append(big); return err }, mmaplog.ErrTooLarge},
		{"AppendBatchWithIDs one too large", func() error { return l.AppendBatchWithIDs(300, [][]byte{ev, big}) }, mmaplog.ErrTooLarge},
		{"AppendBatchWithIDs sum too large", func() error { return l.AppendBatchWithIDs(300, [][]byte{ev, ev, ev, ev, {1}}) }, mmaplog.ErrTooLarge},
		{"AppendBatch sum too large", func() error { _, err := l.AppendBatch([][]byte{ev, ev, ev, ev, {1}}); return err }, mmaplog.ErrTooLarge},
		{"AppendBatchWithIDs empty", func() error { return l.AppendBatchWithIDs(300, [][]byte{}) }, mmaplog.ErrEmptyBatch},
		{"AppendBatchWithIDs nil", func() error { return l.AppendBatchWithIDs(300, nil) }, mmaplog.ErrEmptyBatch},
		{"AppendBatch empty", func() error { _, err := l.AppendBatch(nil); return err }, mmaplog.ErrEmptyBatch},
		{"IterRange start > end", func() error { _, err := l.IterRange(10, 9); return err }, mmaplog.ErrInvalidRange},
		{"IterRange Latest > end", func() error { _, err := l.IterRange(mmaplog.Latest, 0); return err }, mmaplog.ErrInvalidRange},
		{"DeleteRange start > end", func() error { _, err := l.DeleteRange(200, 50); return err }, mmaplog.ErrInvalidRange},
		{"DeleteRange Latest > end", func() error { _, err := l.DeleteRange(mmaplog.Latest, 0); return err }, mmaplog.ErrInvalidRange},
		{"DeleteRange all tombstones", nil, nil},
		{"DeleteRange past the end", nil, nil},
		{"DeleteRange before the start", nil, nil},
	}
	for _, c := range cases {
		before := ctSnapshot(t, l)
		switch c.name {
		case "DeleteRange all tombstones":
			if n, err := l.DeleteRange(100, 109); n != 0 || err != nil {
				t.Errorf("%s = %d, %v, want 0, nil", c.name, n, err)
			}
		case "DeleteRange past the end":
			if n, err := l.DeleteRange(300, mmaplog.Latest); n != 0 || err != nil {
				t.Errorf("%s = %d, %v, want 0, nil", c.name, n, err)
			}
		case "DeleteRange before the start":
			if _, err := l.DeleteRange(0, 9); err != nil {
				t.Fatal(err)
			}
			before = ctSnapshot(t, l)
			if n, err := l.DeleteRange(0, 9); n != 0 || err != nil {
				t.Errorf("%s = %d, %v, want 0, nil", c.name, n, err)
			}
		default:
			if err := c.call(); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.name, err, c.want)
			}
		}
		ctUnchanged(t, l, before, c.name)
	}
	// Still usable and intact.
	if err := l.AppendWithID(300, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	ctGet(t, l, 299, ctPayload(299, 100))
}

func TestContractRejectedOnEmptyLog(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	if err := l.AppendWithID(10, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteRange(10, 10); err != nil {
		t.Fatal(err)
	}
	before := ctSnapshot(t, l)
	err := l.AppendWithID(9, []byte("y"))
	var ie *mmaplog.IDError
	if !errors.As(err, &ie) || !ie.Empty || ie.Expected != 10 || ie.Got != 9 {
		t.Fatalf("AppendWithID(9) on empty log with next 10: %v", err)
	}
	ctUnchanged(t, l, before, "AppendWithID below next on empty log")
	// Latest is the open end of ranges; an append that would make it an id must fail.
	if err := l.AppendWithID(mmaplog.Latest, []byte("z")); err == nil {
		t.Fatalf("AppendWithID(Latest) succeeded")
	} else {
		t.Logf("AppendWithID(Latest): %v", err)
	}
	ctUnchanged(t, l, before, "AppendWithID(Latest)")
}

func TestContractOptionsValidation(t *testing.T) {
	cases := []struct {
		name string
		opts mmaplog.Options
	}{
		{"SegmentSize not a multiple of 4096", mmaplog.Options{SegmentSize: ctSegSize + 100}},
		{"SegmentSize below minimum", mmaplog.Options{SegmentSize: 8192}},
		{"SegmentSize negative", mmaplog.Options{SegmentSize: -4096}},
		{"SegmentSize above maximum", mmaplog.Options{SegmentSize: mmaplog.MaxSegmentSize + 4096}},
		{"MaxEventSize negative", mmaplog.Options{MaxEventSize: -1}},
		{"MaxEventSize equal to segment", mmaplog.Options{SegmentSize: ctSegSize, MaxEventSize: ctSegSize}},
		{"MaxEventSize over default segment", mmaplog.Options{MaxEventSize: mmaplog.DefaultSegmentSize}},
		{"MaxBatchBytes negative", mmaplog.Options{MaxBatchBytes: -1}},
		{"IndexCapacity not power of two", mmaplog.Options{IndexCapacity: 3000}},
		{"IndexCapacity below 1024", mmaplog.Options{IndexCapacity: 512}},
		{"FileMode with non-perm bits", mmaplog.Options{FileMode: fs.ModeDir | 0o644}},
		{"FileMode setuid", mmaplog.Options{FileMode: fs.ModeSetuid | 0o644}},
		{"DirMode with non-perm bits", mmaplog.Options{DirMode: fs.ModeSymlink | 0o755}},
	}
	root := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, strings.ReplaceAll(c.name, " ", "_"), "log")
			opts := c.opts
			l, err := mmaplog.Open(dir, &opts)
			if !errors.Is(err, mmaplog.ErrInvalidOptions) {
				if l != nil {
					l.Close()
				}
				t.Fatalf("Open: %v, want ErrInvalidOptions", err)
			}
			if l != nil {
				t.Fatalf("Open returned a handle with an error")
			}
			if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("directory created by a rejected Open: %v", err)
			}
		})
	}
}

func TestContractMaxEventSizeDefaultFitsSegment(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	st := ctStats(t, l)
	t.Logf("MaxEventSize with %d-byte segments: %d", ctSegSize, st.MaxEventSize)
	if st.MaxEventSize >= ctSegSize || st.MaxEventSize == 0 {
		t.Fatalf("MaxEventSize %d not lowered below the segment size %d", st.MaxEventSize, ctSegSize)
	}
	max := bytes.Repeat([]byte{0xA5}, int(st.MaxEventSize))
	max[0] = 1
	before := ctSnapshot(t, l)
	if _, err := l.Append(append(bytes.Clone(max), 0)); !errors.Is(err, mmaplog.ErrTooLarge) {
		t.Fatalf("Append(MaxEventSize+1): %v, want ErrTooLarge", err)
	}
	ctUnchanged(t, l, before, "Append(MaxEventSize+1)")
	for i := range 3 { // several, so each takes a whole segment
		if id, err := l.Append(max); err != nil || id != uint64(i) {
			t.Fatalf("Append(MaxEventSize) #%d = %d, %v", i, id, err)
		}
	}
	for i := range 3 {
		ctGet(t, l, uint64(i), max)
	}
	// An explicit MaxEventSize that fits is kept.
	opts := ctOpts()
	opts.MaxEventSize = 1234
	l2 := ctOpen(t, t.TempDir(), opts)
	if st := ctStats(t, l2); st.MaxEventSize != 1234 {
		t.Fatalf("explicit MaxEventSize = %d, want 1234", st.MaxEventSize)
	}
	if _, err := l2.Append(make([]byte, 1235)); !errors.Is(err, mmaplog.ErrTooLarge) {
		t.Fatalf("Append(1235) with MaxEventSize 1234: %v", err)
	}
}

func TestContractReopenOptions(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, ctOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AppendWithID(0, []byte("zero")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := ctFiles(t, dir)
	for _, o := range []mmaplog.Options{
		{SegmentSize: 2 * ctSegSize},
		{SegmentSize: mmaplog.DefaultSegmentSize},
		{MaxEventSize: 2 * ctSegSize}, // fits the default segment but not the log's
	} {
		l, err := mmaplog.Open(dir, &o)
		if !errors.Is(err, mmaplog.ErrInvalidOptions) {
			if l != nil {
				l.Close()
			}
			t.Fatalf("reopen with %+v: %v, want ErrInvalidOptions", o, err)
		}
		if got := ctFiles(t, dir); !maps.Equal(got, files) {
			t.Fatalf("rejected reopen changed files: %v -> %v", files, got)
		}
	}
	for _, o := range []*mmaplog.Options{nil, {}, {SegmentSize: ctSegSize}} {
		l := ctOpen(t, dir, o)
		st := ctStats(t, l)
		if st.SegmentSize != ctSegSize {
			t.Fatalf("reopen with %+v: SegmentSize %d, want %d", o, st.SegmentSize, ctSegSize)
		}
		if st.MaxEventSize >= ctSegSize {
			t.Fatalf("reopen with %+v: MaxEventSize %d not lowered", o, st.MaxEventSize)
		}
		ctGet(t, l, 0, []byte("zero"))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestContractFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	opts := ctOpts()
	opts.FileMode = 0o600
	opts.DirMode = 0o700
	l := ctOpen(t, dir, opts)
	if _, err := l.Append([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, %v, want 0700", fi.Mode(), err)
	}
	for name := range ctFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
}

func TestContractZeroLengthEvent(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	if err := l.AppendWithID(0, nil); err != nil {
		t.Fatalf("AppendWithID(nil): %v", err)
	}
	if err := l.AppendWithID(1, []byte{}); err != nil {
		t.Fatalf("AppendWithID(empty): %v", err)
	}
	if err := l.AppendBatchWithIDs(2, [][]byte{{}, []byte("x"), nil}); err != nil {
		t.Fatalf("batch with empty events: %v", err)
	}
	for _, id := range []uint64{0, 1, 2, 4} {
		b, err := l.Get(id)
		if err != nil || len(b) != 0 {
			t.Fatalf("Get(%d) = %q, %v, want empty", id, b, err)
		}
		called := false
		err = l.View(id, func(p []byte) error {
			called = true
			if len(p) != 0 {
				return fmt.Errorf("View(%d) got %d bytes", id, len(p))
			}
			return nil
		})
		if err != nil || !called {
			t.Fatalf("View(%d): %v (called %v)", id, err, called)
		}
	}
	ctGet(t, l, 3, []byte("x"))
	ids, vals := ctIter(t, l, 0, mmaplog.Latest)
	if !slices.Equal(ids, []uint64{0, 1, 2, 3, 4}) || len(vals[0]) != 0 || string(vals[3]) != "x" {
		t.Fatalf("iteration = %v %q", ids, vals)
	}
}

func TestContractGet(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	ctAppendN(t, l, 1000, 64)

	g, err := l.Get(5)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(g)
	for i := range g {
		g[i] ^= 0xFF
	}
	ctGet(t, l, 5, want) // Get returned a copy

	for _, id := range []uint64{1000, 1001, 1 << 32, mmaplog.Latest - 1, mmaplog.Latest} {
		ctGetErr(t, l, id, mmaplog.ErrNotFound)
	}
	mustDel := func(s, e uint64, n int) {
		t.Helper()
		if got, err := l.DeleteRange(s, e); err != nil || got != n {
			t.Fatalf("DeleteRange(%d, %d) = %d, %v, want %d", s, e, got, err, n)
		}
	}
	mustDel(0, 99, 100)    // prefix
	mustDel(900, 999, 100) // suffix
	mustDel(500, 509, 10)  // interior
	for _, id := range []uint64{0, 50, 99, 900, 950, 999, 500, 505, 509} {
		ctGetErr(t, l, id, mmaplog.ErrNotFound)
		if err := l.View(id, func([]byte) error { t.Fatalf("View(%d) called fn", id); return nil }); !errors.Is(err, mmaplog.ErrNotFound) {
			t.Fatalf("View(%d) of a deleted id: %v", id, err)
		}
	}
	for _, id := range []uint64{100, 499, 510, 899} {
		ctGet(t, l, id, ctPayload(id, 64))
	}
}

func TestContractView(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	ctAppendN(t, l, 500, 200)
	for _, id := range []uint64{0, 123, 499} {
		var got []byte
		if err := l.View(id, func(p []byte) error { got = bytes.Clone(p); return nil }); err != nil {
			t.Fatalf("View(%d): %v", id, err)
		}
		if !bytes.Equal(got, ctPayload(id, 200)) {
			t.Fatalf("View(%d) = %q", id, got)
		}
	}
	errMine := errors.New("the callback's own error")
	err := l.View(7, func([]byte) error { return errMine })
	if !errors.Is(err, errMine) || err != errMine {
		t.Fatalf("View returned %v, want the callback's error as is", err)
	}
	wrapped := fmt.Errorf("ctx: %w", errMine)
	if err := l.View(7, func([]byte) error { return wrapped }); err != wrapped {
		t.Fatalf("View returned %v, want %v", err, wrapped)
	}
	ctGetErr(t, l, 500, mmaplog.ErrNotFound)
	if err := l.View(500, func([]byte) error { return errMine }); !errors.Is(err, mmaplog.ErrNotFound) {
		t.Fatalf("View(500): %v, want ErrNotFound", err)
	}
}

func TestContractIterRange(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	const n = 1000
	ctAppendN(t, l, n, 100) // ~136 records per segment: crosses several boundaries
	st := ctStats(t, l)
	if st.ActiveSegment < 5 {
		t.Fatalf("expected several segments, ActiveSegment %d", st.ActiveSegment)
	}
	seq := func(a, b uint64) []uint64 {
		var s []uint64
		for i := a; i < b; i++ {
			s = append(s, i)
		}
		return s
	}
	for _, c := range []struct{ start, end uint64 }{
		{0, mmaplog.Latest}, {0, n}, {10, 20}, {5, 5}, {130, 145}, {n - 1, mmaplog.Latest},
		{n, mmaplog.Latest}, {n + 5, n + 10}, {n - 3, n + 100}, {mmaplog.Latest, mmaplog.Latest},
	} {
		ids, vals := ctIter(t, l, c.start, c.end)
		want := seq(min(c.start, n), min(c.end, n))
		if !slices.Equal(ids, want) {
			t.Fatalf("IterRange(%d, %d) = %d ids [%v...], want %d", c.start, c.end, len(ids), ids[:min(3, len(ids))], len(want))
		}
		for i, id := range ids {
			if !bytes.Equal(vals[i], ctPayload(id, 100)) {
				t.Fatalf("IterRange: id %d = %q", id, vals[i])
			}
		}
	}

	// Tombstones are skipped.
	if k, err := l.DeleteRange(200, 349); err != nil || k != 150 {
		t.Fatalf("DeleteRange = %d, %v", k, err)
	}
	ids, _ := ctIter(t, l, 190, 360)
	if !slices.Equal(ids, append(seq(190, 200), seq(350, 360)...)) {
		t.Fatalf("iteration over tombstones = %v", ids)
	}
	if ids, _ := ctIter(t, l, 200, 350); len(ids) != 0 {
		t.Fatalf("iteration of a deleted range = %v", ids)
	}

	// Latest is fixed at the call; an explicit end includes later appends.
	itLatest, err := l.IterRange(995, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	itOpen, err := l.IterRange(995, n+10)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.AppendWithID(n, ctPayload(n, 100)); err != nil {
		t.Fatal(err)
	}
	if ids, _, err := ctCollect(t, itLatest); err != nil || !slices.Equal(ids, seq(995, n)) {
		t.Fatalf("IterRange(995, Latest) after an append = %v, %v", ids, err)
	}
	if ids, _, err := ctCollect(t, itOpen); err != nil || !slices.Equal(ids, seq(995, n+1)) {
		t.Fatalf("IterRange(995, n+10) after an append = %v, %v", ids, err)
	}

	// All with range-over-func, and an early break.
	it, err := l.IterRange(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for id, v := range it.All() {
		if !bytes.Equal(v, ctPayload(id, 100)) {
			t.Fatalf("All: id %d = %q", id, v)
		}
		got = append(got, id)
	}
	if it.Err() != nil || !slices.Equal(got, seq(0, 10)) {
		t.Fatalf("All = %v, %v", got, it.Err())
	}
	it, err = l.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for id := range it.All() {
		got = append(got, id)
		if len(got) == 3 {
			break
		}
	}
	if !slices.Equal(got, seq(0, 3)) || it.Err() != nil {
		t.Fatalf("All with break = %v, %v", got, it.Err())
	}
	if it.Next() {
		t.Fatalf("Next after All ended returned true (All must close the iterator)")
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := it.Close(); err != nil {
		t.Fatalf("second Iterator.Close: %v", err)
	}

	// Next / ID / Value, Close mid-way, Close idempotent.
	it, err = l.IterRange(140, 150)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || it.ID() != 140 || !bytes.Equal(it.Value(), ctPayload(140, 100)) {
		t.Fatalf("first Next: id %d value %q err %v", it.ID(), it.Value(), it.Err())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if it.Next() {
		t.Fatalf("Next after Close returned true")
	}
	if err := it.Close(); err != nil || it.Err() != nil {
		t.Fatalf("Close twice: %v, Err %v", err, it.Err())
	}
}

func TestContractBatchSpanningSegments(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	evs := make([][]byte, 200)
	for i := range evs {
		evs[i] = ctPayload(uint64(i), 1024)
	}
	start := time.Now()
	if err := l.AppendBatchWithIDs(0, evs); err != nil {
		t.Fatalf("batch of 200 x 1 KiB: %v", err)
	}
	st := ctStats(t, l)
	t.Logf("200 x 1 KiB batch: %v, ActiveSegment %d, FileCount %d", time.Since(start), st.ActiveSegment, st.FileCount)
	if st.ActiveSegment < 12 {
		t.Fatalf("batch of 200 KiB ended in segment %d, want >= 12", st.ActiveSegment)
	}
	for i := range evs {
		ctGet(t, l, uint64(i), evs[i])
	}

	// A batch of exactly MaxBatchBytes fits however small the segments are.
	opts := ctOpts()
	opts.MaxBatchBytes = 1 << 20
	l2 := ctOpen(t, t.TempDir(), opts)
	evs = make([][]byte, 1024)
	for i := range evs {
		evs[i] = ctPayload(uint64(i), 1024)
	}
	before := ctSnapshot(t, l2)
	over := append(slices.Clone(evs), []byte{1})
	if err := l2.AppendBatchWithIDs(0, over); !errors.Is(err, mmaplog.ErrTooLarge) {
		t.Fatalf("batch of MaxBatchBytes+1: %v, want ErrTooLarge", err)
	}
	ctUnchanged(t, l2, before, "batch of MaxBatchBytes+1")
	start = time.Now()
	if err := l2.AppendBatchWithIDs(0, evs); err != nil {
		t.Fatalf("batch of exactly MaxBatchBytes (1 MiB) in 16 KiB segments: %v", err)
	}
	st = ctStats(t, l2)
	t.Logf("1 MiB batch in 16 KiB segments: %v, ActiveSegment %d", time.Since(start), st.ActiveSegment)
	if id, err := l2.AppendBatch([][]byte{[]byte("after")}); err != nil || id != 1024 {
		t.Fatalf("AppendBatch after the big batch = %d, %v", id, err)
	}
	ids, vals := ctIter(t, l2, 0, mmaplog.Latest)
	if len(ids) != 1025 {
		t.Fatalf("iterated %d events, want 1025", len(ids))
	}
	for i := range evs {
		if ids[i] != uint64(i) || !bytes.Equal(vals[i], evs[i]) {
			t.Fatalf("event %d differs", i)
		}
		ctGet(t, l2, uint64(i), evs[i])
	}
}

func TestContractDeleteRange(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	m := newCtModel()
	first := ctAppendN(t, l, 2000, 100)
	for id := first; id < first+2000; id++ {
		m.add(id, ctPayload(id, 100))
	}
	ctCheck(t, l, m)
	del := func(s, e uint64, want int) {
		t.Helper()
		got, err := l.DeleteRange(s, e)
		if err != nil || got != want {
			t.Fatalf("DeleteRange(%d, %d) = %d, %v, want %d", s, e, got, err, want)
		}
		if mn := m.del(s, e); mn != want {
			t.Fatalf("test bug: model removed %d, want %d", mn, want)
		}
	}
	files0 := ctSegFiles(t, dir)

	// Prefix: oldest advances, segments unlinked.
	del(0, 499, 500)
	ctCheck(t, l, m)
	files1 := ctSegFiles(t, dir)
	t.Logf("prefix delete of 500/2000 events: seg files %d -> %d", files0, files1)
	if files1 >= files0 {
		t.Fatalf("prefix delete unlinked no segment: %d -> %d files", files0, files1)
	}
	if st := ctStats(t, l); st.FileCount != files1 {
		t.Fatalf("Stats.FileCount = %d, %d seg files in dir", st.FileCount, files1)
	}
	// Clipped below oldest.
	del(400, 509, 10)
	ctCheck(t, l, m)

	// Ranges that clip to nothing.
	for _, r := range [][2]uint64{{0, 509}, {0, 0}, {2000, mmaplog.Latest}, {5000, 6000}, {mmaplog.Latest, mmaplog.Latest}} {
		before := ctSnapshot(t, l)
		if n, err := l.DeleteRange(r[0], r[1]); n != 0 || err != nil {
			t.Fatalf("DeleteRange(%d, %d) = %d, %v, want 0, nil", r[0], r[1], n, err)
		}
		ctUnchanged(t, l, before, fmt.Sprintf("DeleteRange(%d, %d)", r[0], r[1]))
	}

	// Suffix: NextEventID becomes the start; ids can be appended again with new contents.
	del(1900, mmaplog.Latest, 100)
	m.next = 1900
	ctCheck(t, l, m)
	if err := l.AppendWithID(1950, []byte("x")); !errors.Is(err, mmaplog.ErrOutOfOrder) {
		t.Fatalf("AppendWithID(1950) after suffix delete to 1900: %v", err)
	}
	for id := uint64(1900); id < 1910; id++ {
		b := fmt.Appendf(nil, "new-%d", id)
		if err := l.AppendWithID(id, b); err != nil {
			t.Fatalf("re-append %d: %v", id, err)
		}
		m.add(id, b)
	}
	ctCheck(t, l, m)

	// Interior: tombstones; oldest/newest unchanged, count decreases.
	stBefore := ctStats(t, l)
	del(1000, 1099, 100)
	stAfter := ctStats(t, l)
	if stAfter.EventCount != stBefore.EventCount-100 || stAfter.OldestEventID != stBefore.OldestEventID ||
		stAfter.NewestEventID != stBefore.NewestEventID || stAfter.NextEventID != stBefore.NextEventID {
		t.Fatalf("interior delete: stats %+v -> %+v", stBefore, stAfter)
	}
	ctCheck(t, l, m)
	// Overlapping deletes count only live events.
	del(1050, 1149, 50)
	before := ctSnapshot(t, l)
	if n, err := l.DeleteRange(1000, 1149); n != 0 || err != nil {
		t.Fatalf("DeleteRange over tombstones only = %d, %v", n, err)
	}
	ctUnchanged(t, l, before, "DeleteRange over tombstones only")
	// Tombstones and live ids.
	del(990, 1160, 10+11)
	ctCheck(t, l, m)

	// Prefix delete whose new oldest would be tombstoned: oldest skips to the next live id.
	del(0, 989, 480)
	if o, err := l.OldestEventID(); err != nil || o != 1161 {
		t.Fatalf("OldestEventID after prefix delete up to tombstones = %d, %v, want 1161", o, err)
	}
	ctCheck(t, l, m)

	// Suffix delete whose new newest would be tombstoned.
	del(1800, 1850, 51)
	del(1851, mmaplog.Latest, 49+10)
	m.next = 1851
	if nw, err := l.NewestEventID(); err != nil || nw != 1799 {
		t.Fatalf("NewestEventID = %d, %v, want 1799", nw, err)
	}
	if nx := ctNext(t, l); nx != 1851 {
		t.Fatalf("NextEventID = %d, want 1851", nx)
	}
	ctCheck(t, l, m)
	if id, err := l.Append([]byte("after-gap")); err != nil || id != 1851 {
		t.Fatalf("Append after suffix delete = %d, %v, want 1851", id, err)
	}
	m.add(1851, []byte("after-gap"))
	ctCheck(t, l, m)
	for id := uint64(1800); id <= 1850; id++ {
		ctGetErr(t, l, id, mmaplog.ErrNotFound)
	}

	// Reopen sees the same log, tombstones included.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = ctOpen(t, dir, nil)
	ctCheck(t, l, m)

	// Whole log: NextEventID = oldest, empty, next append may carry any id >= it.
	oldest, _ := l.OldestEventID()
	count := ctStats(t, l).EventCount
	del(0, mmaplog.Latest, int(count))
	m.next = oldest
	ctCheck(t, l, m)
	if st := ctStats(t, l); st.FileCount != ctSegFiles(t, dir) || st.FileCount > 2 {
		t.Fatalf("after whole-log delete: FileCount %d, %d seg files in dir", st.FileCount, ctSegFiles(t, dir))
	}
	if err := l.AppendWithID(oldest-1, []byte("x")); !errors.Is(err, mmaplog.ErrOutOfOrder) {
		t.Fatalf("AppendWithID(oldest-1) on emptied log: %v", err)
	}
	if err := l.AppendWithID(oldest+7777, []byte("restart")); err != nil {
		t.Fatal(err)
	}
	m.add(oldest+7777, []byte("restart"))
	ctCheck(t, l, m)
}

func TestContractRotate(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, 10, 50)
	st0 := ctStats(t, l)
	p, err := l.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(p) != dir {
		t.Fatalf("Rotate path %q not in %q", p, dir)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("Rotate path: %v", err)
	}
	st1 := ctStats(t, l)
	if st1.ActiveSegment != st0.ActiveSegment+1 {
		t.Fatalf("ActiveSegment %d -> %d after Rotate", st0.ActiveSegment, st1.ActiveSegment)
	}
	// Seal an empty segment.
	p2, err := l.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if p2 == p {
		t.Fatalf("second Rotate returned the same path %q", p)
	}
	if _, err := os.Stat(p2); err != nil {
		t.Fatalf("Rotate path of the sealed empty segment: %v", err)
	}
	st2 := ctStats(t, l)
	if st2.ActiveSegment != st0.ActiveSegment+2 || st2.EventCount != 10 {
		t.Fatalf("after two Rotates: %+v", st2)
	}
	marker := []byte("unique-marker-after-rotate")
	id, err := l.Append(marker)
	if err != nil || id != 10 {
		t.Fatalf("Append after Rotate = %d, %v", id, err)
	}
	// The record lies in the new active segment, not in the sealed ones.
	active := filepath.Join(dir, fmt.Sprintf("seg-%016x", st2.ActiveSegment))
	for _, f := range []string{p, p2, active} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if has := bytes.Contains(b, marker); has != (f == active) {
			t.Fatalf("marker in %s: %v", filepath.Base(f), has)
		}
	}
	for i := range uint64(10) {
		ctGet(t, l, i, ctPayload(i, 50))
	}
	ctGet(t, l, 10, marker)
	if ids, _ := ctIter(t, l, 0, mmaplog.Latest); len(ids) != 11 {
		t.Fatalf("iterated %d events", len(ids))
	}
	// Rotate on a fresh empty log.
	l2 := ctOpen(t, t.TempDir(), ctOpts())
	if p, err := l2.Rotate(); err != nil || filepath.Base(p) != fmt.Sprintf("seg-%016x", 0) {
		t.Fatalf("Rotate of fresh log = %q, %v", p, err)
	}
	if id, err := l2.Append([]byte("a")); err != nil || id != 0 {
		t.Fatalf("Append = %d, %v", id, err)
	}
	ctGet(t, l2, 0, []byte("a"))
}

func TestContractSyncAndStats(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync on empty log: %v", err)
	}
	ctAppendN(t, l, 700, 100)
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if _, err := l.DeleteRange(0, 99); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteRange(300, 309); err != nil {
		t.Fatal(err)
	}
	st := ctStats(t, l)
	t.Logf("Stats: %+v", st)
	segs := ctSegFiles(t, dir)
	switch {
	case st.EventCount != 590:
		t.Errorf("EventCount = %d, want 590", st.EventCount)
	case st.OldestEventID != 100 || st.NewestEventID != 699 || st.NextEventID != 700:
		t.Errorf("Oldest/Newest/Next = %d/%d/%d", st.OldestEventID, st.NewestEventID, st.NextEventID)
	case st.FileCount != segs:
		t.Errorf("FileCount = %d, seg files in dir = %d", st.FileCount, segs)
	case st.TotalBytes != uint64(segs)*ctSegSize:
		t.Errorf("TotalBytes = %d, want %d", st.TotalBytes, segs*ctSegSize)
	case st.SegmentSize != ctSegSize || st.IndexCapacity < 1024 || st.IndexCapacity&(st.IndexCapacity-1) != 0:
		t.Errorf("SegmentSize %d IndexCapacity %d", st.SegmentSize, st.IndexCapacity)
	case st.BytesUsed == 0 || st.BytesUsed > st.BytesAllocated || st.BytesAllocated < st.TotalBytes:
		t.Errorf("BytesUsed %d BytesAllocated %d TotalBytes %d", st.BytesUsed, st.BytesAllocated, st.TotalBytes)
	case st.SegmentCount == 0 || st.SegmentCount > uint64(segs):
		t.Errorf("SegmentCount %d with %d files", st.SegmentCount, segs)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync after deletes: %v", err)
	}
}

func TestContractIndexGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	const n = 100_000
	start := time.Now()
	ctAppendN(t, l, n, 16)
	st := ctStats(t, l)
	t.Logf("appended %d events in %v: IndexCapacity %d, growing %v, %d segments", n, time.Since(start), st.IndexCapacity, st.IndexGrowing, st.FileCount)
	if st.IndexCapacity <= 1024 || st.IndexCapacity < n {
		t.Fatalf("IndexCapacity %d after %d events", st.IndexCapacity, n)
	}
	check := func(lo, hi uint64) {
		t.Helper()
		for id := lo; id < hi; id++ {
			ctGet(t, l, id, ctPayload(id, 16))
		}
		ids, vals := ctIter(t, l, 0, mmaplog.Latest)
		if len(ids) != int(hi-lo) || ids[0] != lo || ids[len(ids)-1] != hi-1 {
			t.Fatalf("iterated %d ids", len(ids))
		}
		for i, id := range ids {
			if !bytes.Equal(vals[i], ctPayload(id, 16)) {
				t.Fatalf("id %d = %q", id, vals[i])
			}
		}
	}
	check(0, n)
	if k, err := l.DeleteRange(0, n/2-1); err != nil || k != n/2 {
		t.Fatalf("DeleteRange = %d, %v", k, err)
	}
	ctAppendN(t, l, n/2, 16)
	check(n/2, n+n/2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = ctOpen(t, dir, nil)
	st = ctStats(t, l)
	t.Logf("after reopen: %+v (total %v)", st, time.Since(start))
	check(n/2, n+n/2)
	indexes := 0
	for name := range ctFiles(t, dir) {
		if strings.HasPrefix(name, "index-") {
			indexes++
		}
	}
	if indexes > 2 {
		t.Errorf("%d index files left after growth", indexes)
	}
}

func TestContractReopen(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, ctOpts())
	if err != nil {
		t.Fatal(err)
	}
	m := newCtModel()
	for id := uint64(0); id < 1500; id++ {
		b := ctPayload(id, int(id%300))
		if err := l.AppendWithID(id, b); err != nil {
			t.Fatal(err)
		}
		m.add(id, b)
	}
	for _, r := range [][2]uint64{{0, 199}, {700, 799}, {1400, mmaplog.Latest}} {
		n, err := l.DeleteRange(r[0], r[1])
		if err != nil || n != m.del(r[0], r[1]) {
			t.Fatalf("DeleteRange(%v) = %d, %v", r, n, err)
		}
	}
	m.next = 1400
	ctCheck(t, l, m)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = ctOpen(t, dir, nil)
	ctCheck(t, l, m)
	if id, err := l.Append([]byte("after reopen")); err != nil || id != 1400 {
		t.Fatalf("Append after reopen = %d, %v", id, err)
	}
	m.add(1400, []byte("after reopen"))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = ctOpen(t, dir, ctOpts())
	ctCheck(t, l, m)
}

func TestContractTwoHandles(t *testing.T) {
	dir := t.TempDir()
	opts := ctOpts()
	opts.NoPrefault = false // exercise background preparation too
	a := ctOpen(t, dir, opts)
	b := ctOpen(t, dir, nil)
	const perWorker = 300
	type rec struct {
		id   uint64
		data []byte
	}
	var mu sync.Mutex
	var got []rec
	var wg sync.WaitGroup
	for w, l := range []*mmaplog.Log{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				data := fmt.Appendf(nil, "worker-%d-event-%d-%s", w, i, strings.Repeat("p", i%200))
				id, err := l.Append(data)
				if err != nil {
					t.Errorf("worker %d Append: %v", w, err)
					return
				}
				mu.Lock()
				got = append(got, rec{id, data})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.SortFunc(got, func(x, y rec) int { return int(x.id) - int(y.id) })
	for i, r := range got {
		if r.id != uint64(i) {
			t.Fatalf("ids not dense: position %d has id %d", i, r.id)
		}
	}
	for _, l := range []*mmaplog.Log{a, b} {
		if n := ctNext(t, l); n != uint64(len(got)) {
			t.Fatalf("NextEventID = %d, want %d", n, len(got))
		}
		for _, r := range got {
			ctGet(t, l, r.id, r.data)
		}
		ids, vals := ctIter(t, l, 0, mmaplog.Latest)
		if len(ids) != len(got) {
			t.Fatalf("iterated %d, want %d", len(ids), len(got))
		}
		for i := range ids {
			if !bytes.Equal(vals[i], got[i].data) {
				t.Fatalf("iteration id %d differs", ids[i])
			}
		}
	}
	// AppendWithID is a compare-and-append across handles.
	next := ctNext(t, a)
	if err := b.AppendWithID(next, []byte("b wins")); err != nil {
		t.Fatal(err)
	}
	var ie *mmaplog.IDError
	if err := a.AppendWithID(next, []byte("a loses")); !errors.As(err, &ie) || ie.Expected != next+1 {
		t.Fatalf("second AppendWithID(%d) from the other handle: %v", next, err)
	}
	ctGet(t, a, next, []byte("b wins"))
	// Deletes through one handle are seen by the other.
	if n, err := a.DeleteRange(0, 99); err != nil || n != 100 {
		t.Fatalf("DeleteRange = %d, %v", n, err)
	}
	ctGetErr(t, b, 50, mmaplog.ErrNotFound)
	if o, err := b.OldestEventID(); err != nil || o != 100 {
		t.Fatalf("other handle OldestEventID = %d, %v", o, err)
	}
}

// ctFindPayload returns the segment file and offset holding the unique bytes p.
func ctFindPayload(t *testing.T, dir string, p []byte) (string, int) {
	t.Helper()
	var path string
	off := -1
	for name := range ctFiles(t, dir) {
		if !strings.HasPrefix(name, "seg-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, p); i >= 0 {
			if off >= 0 {
				t.Fatalf("payload %q found twice", p)
			}
			path, off = filepath.Join(dir, name), i
		}
	}
	if off < 0 {
		t.Fatalf("payload %q not found", p)
	}
	return path, off
}

func TestContractCorruptMeta(t *testing.T) {
	for _, c := range []struct {
		name  string
		off   int64
		bytes []byte
		want  error
	}{
		{"magic", 0, []byte("XXXXXXXX"), mmaplog.ErrCorrupt},
		{"version 3", 8, binary.LittleEndian.AppendUint32(nil, 3), mmaplog.ErrVersion},
		{"version 1 (160-byte states)", 8, binary.LittleEndian.AppendUint32(nil, 1), mmaplog.ErrVersion},
		{"header crc", 40, []byte{0xde, 0xad, 0xbe, 0xef}, mmaplog.ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := mmaplog.Open(dir, ctOpts())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Append([]byte("x")); err != nil {
				t.Fatal(err)
			}
			l.Close()
			meta := filepath.Join(dir, "meta")
			mmaplog.PatchFile(t, meta, c.off, c.bytes)
			before, _ := os.ReadFile(meta)
			files := ctFiles(t, dir)
			l, err = mmaplog.Open(dir, nil)
			if err == nil {
				l.Close()
				t.Fatalf("Open of a log with a damaged meta %s succeeded", c.name)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Open: %v, want %v", err, c.want)
			}
			var ce *mmaplog.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open: %T is not a *CorruptError", err)
			}
			if ce.Path != meta {
				t.Fatalf("CorruptError.Path = %q, want %q", ce.Path, meta)
			}
			if ce.Offset != c.off {
				t.Errorf("CorruptError.Offset = %d, want %d", ce.Offset, c.off)
			}
			after, _ := os.ReadFile(meta)
			if !bytes.Equal(before, after) || !maps.Equal(files, ctFiles(t, dir)) {
				t.Fatalf("failed Open changed the directory")
			}
		})
	}
}

func TestContractCorruptRecord(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, ctOpts())
	if err != nil {
		t.Fatal(err)
	}
	const n, size = 6000, 32
	ctAppendN(t, l, n, size)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	const bad = 100 // below the committed NextEventID: Open never cuts it
	path, off := ctFindPayload(t, dir, ctPayload(bad, size))
	mmaplog.PatchFile(t, path, int64(off+size-1), []byte{'#'})

	l = ctOpen(t, dir, nil)
	if nx := ctNext(t, l); nx != n {
		t.Fatalf("NextEventID after reopen = %d, want %d", nx, n)
	}
	_, err = l.Get(bad)
	if !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("Get(%d) of a damaged record: %v, want ErrCorrupt", bad, err)
	}
	var ce *mmaplog.CorruptError
	if !errors.As(err, &ce) || ce.Path != path {
		t.Fatalf("Get(%d): CorruptError %+v, want path %s", bad, ce, path)
	}
	if err := l.View(bad, func([]byte) error { t.Fatal("View called fn on a damaged record"); return nil }); !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("View(%d): %v, want ErrCorrupt", bad, err)
	}
	for id := uint64(0); id < n; id++ {
		if id != bad {
			ctGet(t, l, id, ctPayload(id, size))
		}
	}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := ctCollect(t, it)
	if !errors.Is(err, mmaplog.ErrCorrupt) || len(ids) != bad || ids[len(ids)-1] != bad-1 {
		t.Fatalf("iteration over a damaged record: %d ids, Err %v", len(ids), err)
	}
	if ids, _ := ctIter(t, l, bad+1, mmaplog.Latest); len(ids) != n-bad-1 {
		t.Fatalf("iteration after the damaged record: %d ids", len(ids))
	}
	if st := ctStats(t, l); st.EventCount != n {
		t.Fatalf("EventCount = %d, want %d", st.EventCount, n)
	}
	// Deleting the damaged record makes the log whole again.
	if k, err := l.DeleteRange(bad, bad); err != nil || k != 1 {
		t.Fatalf("DeleteRange(bad) = %d, %v", k, err)
	}
	if ids, _ := ctIter(t, l, 0, mmaplog.Latest); len(ids) != n-1 {
		t.Fatalf("iterated %d after deleting the damaged record", len(ids))
	}
}

// A power loss after appends that were never synced: the image Open finds after the
// reboot holds the tail past the recovery point, and a record there that fails validation
// is a torn write. Its batch is then incomplete: Open cuts the log at the start of that
// batch (batches are whole after a power loss too) and says what it removed.
func TestContractCorruptUnsyncedTailIsCut(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, ctOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n, size = 1000, 32
	ctAppendN(t, l, n, size) // never synced: after a reboot the whole tail is validated
	img := mmaplog.CrashImage(t, dir)
	const bad, batchStart = 990, 500 // ctAppendN appends batches of 500
	path, off := ctFindPayload(t, img, ctPayload(bad, size))
	mmaplog.PatchFile(t, path, int64(off), []byte{'#'})
	bpath, boff := ctFindPayload(t, img, ctPayload(batchStart, size))
	l2 := ctOpen(t, img, nil)
	if nx := ctNext(t, l2); nx != batchStart {
		t.Fatalf("NextEventID after reopen = %d, want the log cut at %d, the start of the torn batch", nx, batchStart)
	}
	ctGetErr(t, l2, bad, mmaplog.ErrNotFound)
	ctGetErr(t, l2, bad-1, mmaplog.ErrNotFound)
	ctGet(t, l2, batchStart-1, ctPayload(batchStart-1, size))
	r := ctStats(t, l2).LastRepair
	if r == nil || r.Count != 1 || r.From != batchStart || r.To != n || r.Path != bpath || r.Offset != int64(boff)-16 ||
		!strings.Contains(r.Reason, "batch") {
		t.Fatalf("Stats.LastRepair = %+v, want 1 repair removing [%d, %d) at %s offset %d, its batch incomplete", r, batchStart, n, bpath, boff-16)
	}
	t.Logf("repair record: %v", r)
	if err := l2.AppendWithID(batchStart, []byte("rewritten")); err != nil {
		t.Fatal(err)
	}
	ctGet(t, l2, batchStart, []byte("rewritten"))
}

// After Sync, a suffix delete and re-appended ids are not durable: the recovery point
// must not claim them. After a reboot Open validates the unsynced tail, so a damaged
// re-appended record is cut (as it is without the earlier Sync), not served as ErrCorrupt.
func TestContractSyncedNextAfterSuffixDelete(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, ctOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n, size = 200, 32
	ctAppendN(t, l, n, size)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if k, err := l.DeleteRange(100, mmaplog.Latest); err != nil || k != 100 {
		t.Fatalf("DeleteRange = %d, %v", k, err)
	}
	for id := uint64(100); id < n; id++ {
		if err := l.AppendWithID(id, ctPayload(id+1_000_000, size)); err != nil {
			t.Fatal(err)
		}
	}
	img := mmaplog.CrashImage(t, dir) // no Sync since the delete: ids 100..199 are not durable
	const bad = 150
	path, off := ctFindPayload(t, img, ctPayload(bad+1_000_000, size))
	mmaplog.PatchFile(t, path, int64(off), []byte{'#'})
	l2 := ctOpen(t, img, nil)
	if nx := ctNext(t, l2); nx != bad {
		_, gerr := l2.Get(bad)
		t.Fatalf("unsynced re-appended tail not validated by Open: NextEventID %d, want %d (Get(%d): %v)", nx, bad, bad, gerr)
	}
}

func TestContractFirstIDFarAhead(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	const first = 1 << 40
	if err := l.AppendWithID(first, []byte("far")); err != nil {
		t.Fatalf("AppendWithID(1<<40) on a fresh log: %v", err)
	}
	if id, err := l.AppendBatch([][]byte{[]byte("b1"), []byte("b2")}); err != nil || id != first+1 {
		t.Fatalf("AppendBatch = %d, %v, want %d", id, err, first+1)
	}
	ctGet(t, l, first, []byte("far"))
	ctGet(t, l, first+2, []byte("b2"))
	ctGetErr(t, l, 0, mmaplog.ErrNotFound)
	ctGetErr(t, l, first-1, mmaplog.ErrNotFound)
	if ids, _ := ctIter(t, l, first-10, mmaplog.Latest); !slices.Equal(ids, []uint64{first, first + 1, first + 2}) {
		t.Fatalf("iteration = %v", ids)
	}
	if st := ctStats(t, l); st.EventCount != 3 || st.OldestEventID != first || st.IndexCapacity != 1024 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestContractInteriorDeleteFreesSegments(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, 3000, 100) // ~136 per segment: ~22 segments
	before := ctSegFiles(t, dir)
	if n, err := l.DeleteRange(500, 2499); err != nil || n != 2000 {
		t.Fatalf("DeleteRange(500, 2499) = %d, %v", n, err)
	}
	after := ctSegFiles(t, dir)
	t.Logf("interior delete of 2000/3000 events: seg files %d -> %d", before, after)
	if after > before-10 {
		t.Fatalf("interior delete of whole segments unlinked too little: %d -> %d", before, after)
	}
	for _, id := range []uint64{0, 499, 2500, 2999} {
		ctGet(t, l, id, ctPayload(id, 100))
	}
	ids, _ := ctIter(t, l, 0, mmaplog.Latest)
	if len(ids) != 1000 || ids[499] != 499 || ids[500] != 2500 {
		t.Fatalf("iteration: %d ids", len(ids))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = ctOpen(t, dir, nil)
	if ids, _ := ctIter(t, l, 0, mmaplog.Latest); len(ids) != 1000 {
		t.Fatalf("after reopen: %d ids", len(ids))
	}
	ctGetErr(t, l, 1000, mmaplog.ErrNotFound)
}
