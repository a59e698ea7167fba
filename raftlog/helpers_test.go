package raftlog_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/raftlog"
)

// entry returns the deterministic entry of (index, term): its fields are a function of
// both, so a reader can check any entry it gets and a retry can rebuild identical ones.
func entry(index, term uint64) *raft.Log {
	l := &raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogCommand,
		Data:       fmt.Appendf(nil, "entry %d term %d %s", index, term, bytes.Repeat([]byte{'x'}, int(index%7)*9)),
		AppendedAt: time.Unix(1_700_000_000+int64(index), int64(index*7919%1_000_000_000)),
	}
	switch index % 5 {
	case 1:
		l.Extensions = fmt.Appendf(nil, "ext %d", index)
	case 2:
		l.Type = raft.LogConfiguration
	case 3:
		l.AppendedAt = time.Time{}
	case 4:
		l.Type, l.Data = raft.LogNoop, nil
	}
	return l
}

// entries returns entry(first+i, term) for i in [0, n).
func entries(first uint64, n int, term uint64) []*raft.Log {
	out := make([]*raft.Log, n)
	for i := range out {
		out[i] = entry(first+uint64(i), term)
	}
	return out
}

// sameLog reports whether two entries carry the same fields.
func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt) && a.AppendedAt.IsZero() == b.AppendedAt.IsZero()
}

// model is what a raft log store must hold: index -> entry.
type model map[uint64]*raft.Log

func (m model) bounds() (first, last uint64) {
	if len(m) == 0 {
		return 0, 0
	}
	keys := slices.Sorted(maps.Keys(m))
	return keys[0], keys[len(keys)-1]
}

func (m model) store(logs []*raft.Log) {
	for _, l := range logs {
		m[l.Index] = l
	}
}

func (m model) delete(lo, hi uint64) {
	for k := range m {
		if k >= lo && k <= hi {
			delete(m, k)
		}
	}
}

// verify checks that s holds exactly m: the bounds, every entry, and raft.ErrLogNotFound
// (itself, compared with ==, as raft does) just outside them.
func verify(t testing.TB, s *raftlog.Store, m model) {
	t.Helper()
	first, last := m.bounds()
	gotFirst, err := s.FirstIndex()
	if err != nil || gotFirst != first {
		t.Fatalf("FirstIndex = %d, %v; want %d", gotFirst, err, first)
	}
	gotLast, err := s.LastIndex()
	if err != nil || gotLast != last {
		t.Fatalf("LastIndex = %d, %v; want %d", gotLast, err, last)
	}
	for idx, want := range m {
		var got raft.Log
		if err := s.GetLog(idx, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", idx, err)
		}
		if !sameLog(&got, want) {
			t.Fatalf("GetLog(%d) = %+v, want %+v", idx, got, *want)
		}
	}
	missing := []uint64{0, last + 1, last + 1000}
	if first > 1 {
		missing = append(missing, first-1, 1)
	}
	for _, idx := range missing {
		var got raft.Log
		if err := s.GetLog(idx, &got); err != raft.ErrLogNotFound {
			t.Fatalf("GetLog(%d) of a missing index = %v, want raft.ErrLogNotFound itself", idx, err)
		}
	}
}

// mustOpen opens a store and closes it at the end of the test.
func mustOpen(t testing.TB, dir string, opts *raftlog.Options) *raftlog.Store {
	t.Helper()
	s, err := raftlog.Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// wantErr fails unless errors.Is(err, want) (want nil: err must be nil).
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}
