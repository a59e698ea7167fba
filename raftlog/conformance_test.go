package raftlog_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/mmaplog"
	"github.com/ringlog/ringlog/raftlog"
)

// step is one call on the store and what raft expects of it: the error (nil: success,
// and then the model changes as apply says; otherwise nothing changes).
type step struct {
	name  string
	do    func(s *raftlog.Store) error
	apply func(m model)
	want  error
}

func storeStep(logs []*raft.Log, want error) step {
	name := fmt.Sprintf("StoreLogs(%d entries)", len(logs))
	if len(logs) > 0 && logs[0] != nil && logs[len(logs)-1] != nil {
		name = fmt.Sprintf("StoreLogs(%d..%d)", logs[0].Index, logs[len(logs)-1].Index)
	}
	return step{name: name, do: func(s *raftlog.Store) error { return s.StoreLogs(logs) },
		apply: func(m model) { m.store(logs) }, want: want}
}

func deleteStep(lo, hi uint64, want error) step {
	return step{name: fmt.Sprintf("DeleteRange(%d, %d)", lo, hi),
		do:    func(s *raftlog.Store) error { return s.DeleteRange(lo, hi) },
		apply: func(m model) { m.delete(lo, hi) }, want: want}
}

// TestConformance runs raft's expectations of a LogStore (and the cases raft-wal tests)
// as a table: after every step the store must hold exactly the model, and again after a
// reopen.
func TestConformance(t *testing.T) {
	large := entry(7, 1)
	large.Data = make([]byte, 100<<10)
	for i := range large.Data {
		large.Data[i] = byte(i * 31)
	}
	large.Extensions = make([]byte, 3000)
	cases := []struct {
		name  string
		opts  *raftlog.Options
		steps []step
	}{
		{name: "empty store: FirstIndex and LastIndex 0, GetLog ErrLogNotFound"},
		{name: "append from 1", steps: []step{storeStep(entries(1, 5, 1), nil)}},
		{name: "empty log append from a non-zero index", steps: []step{storeStep(entries(10000, 5, 1), nil)}},
		{name: "append continues the log", steps: []step{
			storeStep(entries(1, 5, 1), nil), storeStep(entries(6, 5, 1), nil), storeStep(entries(11, 1, 2), nil)}},
		{name: "every field round-trips (types, extensions, zero AppendedAt, 100 KiB data)", steps: []step{
			storeStep(entries(1, 6, 3), nil), storeStep([]*raft.Log{large}, nil)}},
		{name: "empty batch is a no-op", steps: []step{storeStep(entries(1, 3, 1), nil), storeStep(nil, nil)}},
		{name: "out of order: a gap after the last index", steps: []step{
			storeStep(entries(1, 10, 1), nil), storeStep(entries(100, 5, 1), raftlog.ErrOutOfSequence)}},
		{name: "out of sequence: a gap inside the batch", steps: []step{
			storeStep(entries(1, 10, 1), nil),
			storeStep([]*raft.Log{entry(11, 1), entry(12, 1), entry(14, 1), entry(15, 1)}, raftlog.ErrOutOfSequence)}},
		{name: "out of sequence: indexes going back inside the batch", steps: []step{
			storeStep([]*raft.Log{entry(1, 1), entry(2, 1), entry(1, 1)}, raftlog.ErrOutOfSequence)}},
		{name: "below the first index", steps: []step{
			storeStep(entries(1, 10, 1), nil), deleteStep(1, 5, nil), storeStep(entries(3, 2, 1), raftlog.ErrOutOfSequence)}},
		{name: "index 0 is refused", steps: []step{storeStep([]*raft.Log{entry(0, 1)}, raftlog.ErrInvalidEntry)}},
		{name: "nil entry is refused", steps: []step{storeStep([]*raft.Log{entry(1, 1), nil}, raftlog.ErrInvalidEntry)}},
		{name: "entry too large: nothing written", opts: &raftlog.Options{MaxEntrySize: 1024}, steps: []step{
			storeStep(entries(1, 3, 1), nil), storeStep([]*raft.Log{entry(4, 1), withIndex(large, 5)}, raftlog.ErrTooLarge),
			storeStep(entries(4, 2, 1), nil)}},
		{name: "head truncation (compaction)", steps: []step{storeStep(entries(1, 100, 1), nil), deleteStep(1, 50, nil)}},
		{name: "head truncations one after another", steps: []step{
			storeStep(entries(1, 100, 1), nil), deleteStep(1, 10, nil), deleteStep(11, 11, nil), deleteStep(5, 40, nil),
			storeStep(entries(101, 5, 2), nil)}},
		{name: "tail truncation, then StoreLogs from min", steps: []step{
			storeStep(entries(1, 100, 1), nil), deleteStep(60, 100, nil), storeStep(entries(60, 10, 2), nil)}},
		{name: "tail truncation with max past the end", steps: []step{
			storeStep(entries(1, 100, 1), nil), deleteStep(95, 1<<62, nil), storeStep(entries(95, 1, 3), nil)}},
		{name: "tail truncation of the last entry, rewritten", steps: []step{
			storeStep(entries(1, 10, 1), nil), deleteStep(10, 10, nil), storeStep(entries(10, 1, 2), nil)}},
		{name: "head and tail truncations", steps: []step{
			storeStep(entries(1, 100, 1), nil), deleteStep(1, 30, nil), deleteStep(80, 100, nil),
			storeStep(entries(80, 5, 2), nil), deleteStep(31, 50, nil)}},
		{name: "whole log (snapshot restore), then a higher index", steps: []step{
			storeStep(entries(1, 100, 1), nil), deleteStep(1, 100, nil), storeStep(entries(1001, 5, 4), nil)}},
		{name: "whole log by a range wider than the log, then a higher index", steps: []step{
			storeStep(entries(10, 20, 1), nil), deleteStep(1, 1<<62, nil), storeStep(entries(500, 3, 2), nil)}},
		{name: "whole log, then the same first index", steps: []step{
			storeStep(entries(1, 10, 1), nil), deleteStep(1, 10, nil), storeStep(entries(1, 2, 2), nil)}},
		{name: "whole log, then an index below it", steps: []step{
			storeStep(entries(10, 5, 1), nil), deleteStep(10, 14, nil), storeStep(entries(5, 1, 2), raftlog.ErrOutOfSequence)}},
		{name: "range before the log is a no-op", steps: []step{storeStep(entries(100, 10, 1), nil), deleteStep(1, 99, nil)}},
		{name: "range after the log is a no-op", steps: []step{storeStep(entries(100, 10, 1), nil), deleteStep(110, 300, nil)}},
		{name: "min > max is a no-op", steps: []step{storeStep(entries(100, 10, 1), nil),
			{name: "DeleteRange(105, 101)", do: func(s *raftlog.Store) error { return s.DeleteRange(105, 101) }, apply: func(model) {}}}},
		{name: "delete on an empty store is a no-op", steps: []step{deleteStep(1, 10, nil)}},
		{name: "interior range is refused", steps: []step{
			storeStep(entries(100, 10, 1), nil), deleteStep(103, 105, raftlog.ErrInteriorDelete)}},
		{name: "re-sent identical batch is accepted", steps: []step{
			storeStep(entries(1, 10, 1), nil), storeStep(entries(5, 6, 1), nil)}},
		{name: "re-sent batch reaching past the end appends the rest", steps: []step{
			storeStep(entries(1, 10, 1), nil), storeStep(entries(8, 5, 1), nil)}},
		{name: "different entry at an acknowledged index is a conflict", steps: []step{
			storeStep(entries(1, 10, 1), nil), storeStep(entries(8, 3, 2), raftlog.ErrConflict),
			deleteStep(8, 10, nil), storeStep(entries(8, 3, 2), nil)}},
		{name: "segments: batches across 16 KiB segments, compaction unlinks them",
			opts: &raftlog.Options{SegmentSize: mmaplog.MinSegmentSize},
			steps: []step{storeStep(entries(1, 300, 1), nil), storeStep(entries(301, 300, 1), nil),
				deleteStep(1, 450, nil), deleteStep(590, 600, nil), storeStep(entries(590, 200, 2), nil)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := raftlog.Open(dir, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { s.Close() }()
			m := model{}
			verify(t, s, m)
			for i, st := range tc.steps {
				err := st.do(s)
				if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
					t.Fatalf("step %d %s: err = %v, want %v", i, st.name, err, st.want)
				}
				if err == nil {
					st.apply(m)
				}
				verify(t, s, m)
				// Reopen after each step: the same state must come back.
				if err := s.Close(); err != nil {
					t.Fatalf("step %d: Close: %v", i, err)
				}
				if s, err = raftlog.Open(dir, tc.opts); err != nil {
					t.Fatalf("step %d %s: reopen: %v", i, st.name, err)
				}
				verify(t, s, m)
			}
		})
	}
}

// withIndex returns a copy of l with another index.
func withIndex(l *raft.Log, index uint64) *raft.Log {
	c := *l
	c.Index = index
	return &c
}

// TestIndexErrors checks the fields of the *IndexError that StoreLogs returns.
func TestIndexErrors(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	if err := s.StoreLogs(entries(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	var ie *raftlog.IndexError
	err := s.StoreLogs(entries(100, 1, 1))
	if !errors.As(err, &ie) || ie.Expected != 11 || ie.Got != 100 || !errors.Is(err, raftlog.ErrOutOfSequence) {
		t.Fatalf("gap: err = %v (%+v), want IndexError{Expected: 11, Got: 100}", err, ie)
	}
	err = s.StoreLogs([]*raft.Log{entry(11, 1), entry(13, 1)})
	if !errors.As(err, &ie) || ie.Expected != 12 || ie.Got != 13 {
		t.Fatalf("inside the batch: err = %v (%+v), want IndexError{Expected: 12, Got: 13}", err, ie)
	}
	err = s.StoreLogs(entries(9, 3, 2))
	if !errors.As(err, &ie) || ie.Got != 9 || !errors.Is(err, raftlog.ErrConflict) {
		t.Fatalf("conflict: err = %v (%+v), want IndexError{Got: 9, ErrConflict}", err, ie)
	}
	t.Logf("errors: %v", err)
}

// TestClosed checks that every method fails with ErrClosed after Close, and that a
// second Close is nil.
func TestClosed(t *testing.T) {
	s, err := raftlog.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(entries(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var l raft.Log
	_, e1 := s.FirstIndex()
	_, e2 := s.LastIndex()
	_, e3 := s.Get([]byte("k"))
	_, e4 := s.GetUint64([]byte("k"))
	for name, err := range map[string]error{
		"FirstIndex": e1, "LastIndex": e2, "Get": e3, "GetUint64": e4,
		"GetLog":      s.GetLog(1, &l),
		"StoreLogs":   s.StoreLogs(entries(4, 1, 1)),
		"StoreLog":    s.StoreLog(entry(4, 1)),
		"DeleteRange": s.DeleteRange(1, 2),
		"Set":         s.Set([]byte("k"), []byte("v")),
		"SetUint64":   s.SetUint64([]byte("k"), 1),
	} {
		wantErr(t, name+" after Close", err, raftlog.ErrClosed)
	}
}

// TestIsMonotonic: raft deletes the whole log after a restore only on a monotonic store.
func TestIsMonotonic(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	var ls raft.LogStore = s
	m, ok := ls.(raft.MonotonicLogStore)
	if !ok || !m.IsMonotonic() {
		t.Fatal("Store is not a raft.MonotonicLogStore reporting true")
	}
}

// TestOpenLocked: one Store per directory, in this process and in another one.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, nil)
	if _, err := raftlog.Open(dir, nil); !errors.Is(err, raftlog.ErrLocked) {
		t.Fatalf("second Open in this process: %v, want ErrLocked", err)
	}
	out, err := childCmd("open", dir).CombinedOutput()
	if err == nil || !containsLine(string(out), "locked") {
		t.Fatalf("Open in another process: err=%v out=%q, want exit 1 and \"locked\"", err, out)
	}
	s.Close()
	if out, err := childCmd("open", dir).CombinedOutput(); err != nil {
		t.Fatalf("Open in another process after Close: %v %s", err, out)
	}
}

func init() {
	childRoles["open"] = func(args []string) int {
		s, err := raftlog.Open(args[0], nil)
		if errors.Is(err, raftlog.ErrLocked) {
			fmt.Println("locked")
			return 1
		}
		if err != nil {
			fmt.Println(err)
			return 2
		}
		s.Close()
		return 0
	}
}

func containsLine(out, line string) bool {
	for _, l := range splitLines(out) {
		if l == line {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// TestInvalidOptions: a bad option is ErrInvalidOptions and creates nothing.
func TestInvalidOptions(t *testing.T) {
	for name, o := range map[string]*raftlog.Options{
		"negative segment size":     {SegmentSize: -1},
		"segment size not 4096-ish": {SegmentSize: 5000},
		"segment size too small":    {SegmentSize: 4096},
		"negative max entry":        {MaxEntrySize: -1},
		"max entry below header":    {MaxEntrySize: raftlog.EntryHeaderSize},
		"negative batch":            {MaxBatchBytes: -5},
		"file mode with type bits":  {FileMode: 0o1000000000 | 0o600},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir() + "/store"
			_, err := raftlog.Open(dir, o)
			wantErr(t, "Open", err, raftlog.ErrInvalidOptions)
			if _, serr := osStat(dir); serr == nil {
				t.Fatalf("Open with bad options created %s", dir)
			}
		})
	}
}
