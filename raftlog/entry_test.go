package raftlog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/mmaplog"
	"github.com/ringlog/ringlog/raftlog"
)

// TestEntryRoundTrip stores random entries (every field, sizes from 0 to 64 KiB, times
// far from now) and reads each back equal, after a reopen too.
func TestEntryRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 1))
	dir := t.TempDir()
	s, err := raftlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	randBytes := func() []byte {
		if rng.IntN(4) == 0 {
			return nil
		}
		b := make([]byte, rng.IntN(1<<uint(rng.IntN(17))))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	m := model{}
	next := uint64(1 + rng.IntN(1000))
	for range 60 {
		batch := make([]*raft.Log, 1+rng.IntN(20))
		for i := range batch {
			l := &raft.Log{Index: next, Term: rng.Uint64(), Type: raft.LogType(rng.IntN(256)),
				Data: randBytes(), Extensions: randBytes()}
			switch rng.IntN(4) {
			case 0: // zero time
			case 1:
				l.AppendedAt = time.Now()
			case 2:
				l.AppendedAt = time.Unix(-rng.Int64N(1<<40), rng.Int64N(1e9)) // long before 1970
			case 3:
				l.AppendedAt = time.Unix(rng.Int64N(1<<40), rng.Int64N(1e9)).In(time.FixedZone("x", 3600))
			}
			batch[i] = l
			next++
		}
		if err := s.StoreLogs(batch); err != nil {
			t.Fatal(err)
		}
		m.store(batch)
	}
	verify(t, s, m)
	s.Close()
	s = mustOpen(t, dir, nil)
	verify(t, s, m)
}

// TestGetLogAllocs: GetLog allocates only what the caller keeps: one allocation shared by
// Data and Extensions, none for an entry with neither.
func TestGetLogAllocs(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	withData := entry(1, 1)
	withData.Extensions = []byte("ext")
	bare := &raft.Log{Index: 2, Term: 1, Type: raft.LogNoop, AppendedAt: time.Now()}
	if err := s.StoreLogs([]*raft.Log{withData, bare}); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	for _, tc := range []struct {
		index uint64
		want  float64
	}{{1, 1}, {2, 0}} {
		got := testing.AllocsPerRun(200, func() {
			if err := s.GetLog(tc.index, &l); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("GetLog(%d): %.0f allocations", tc.index, got)
		if got != tc.want {
			t.Fatalf("GetLog(%d): %.1f allocations, want %.0f", tc.index, got, tc.want)
		}
	}
	// Data and Extensions must not alias the mapping: a later read of other entries
	// cannot change them, and they are distinct from each other.
	if err := s.GetLog(1, &l); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Data, withData.Data) || string(l.Extensions) != "ext" || cap(l.Data) != len(l.Data) {
		t.Fatalf("GetLog(1) = %q / %q (cap %d)", l.Data, l.Extensions, cap(l.Data))
	}
	for _, f := range []func() (uint64, error){s.FirstIndex, s.LastIndex} {
		if n := testing.AllocsPerRun(200, func() { f() }); n != 0 {
			t.Fatalf("FirstIndex/LastIndex: %.1f allocations, want 0", n)
		}
	}
}

// TestEntryDamage: a record whose bytes were damaged on disk, or whose encoding is not
// one this package writes, is a *CorruptError naming its index (ErrCorrupt, or
// ErrVersion for a newer encoding), never a panic or a wrong entry; the other entries read
// fine.
func TestEntryDamage(t *testing.T) {
	header := func(version, typ, flags, reserved byte, dataLen uint32, sec int64, nsec uint32) []byte {
		b := make([]byte, raftlog.EntryHeaderSize)
		b[0], b[1], b[2], b[3] = version, typ, flags, reserved
		binary.LittleEndian.PutUint32(b[4:], dataLen)
		binary.LittleEndian.PutUint64(b[8:], 3)
		binary.LittleEndian.PutUint64(b[16:], uint64(sec))
		binary.LittleEndian.PutUint32(b[24:], nsec)
		return b
	}
	cases := []struct {
		name    string
		payload []byte
		want    error
		what    string
	}{
		{"shorter than the header", []byte{1, 0, 0}, raftlog.ErrCorrupt, "shorter"},
		{"empty record", []byte{}, raftlog.ErrCorrupt, "shorter"},
		{"newer version", header(2, 0, 0, 0, 0, 0, 0), raftlog.ErrVersion, "version"},
		{"version 0", header(0, 0, 0, 0, 0, 0, 0), raftlog.ErrVersion, "version"},
		{"unknown flag", header(1, 0, 0x02, 0, 0, 0, 0), raftlog.ErrCorrupt, "flags"},
		{"reserved byte set", header(1, 0, 0, 1, 0, 0, 0), raftlog.ErrCorrupt, "flags"},
		{"data length past the end", append(header(1, 0, 0, 0, 10, 0, 0), "short"...), raftlog.ErrCorrupt, "data length"},
		{"nanoseconds out of range", header(1, 0, 1, 0, 0, 5, 1e9), raftlog.ErrCorrupt, "nanoseconds"},
		{"time without its flag", header(1, 0, 0, 0, 0, 5, 0), raftlog.ErrCorrupt, "without its flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := raftlog.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(entries(1, 5, 1)); err != nil {
				t.Fatal(err)
			}
			// A valid record (id, CRC) whose payload is not a valid entry encoding.
			if err := raftlog.Log(s).AppendWithID(6, tc.payload); err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(entries(7, 2, 1)); err != nil {
				t.Fatal(err)
			}
			l := raft.Log{Index: 99, Data: []byte("untouched")}
			err = s.GetLog(6, &l)
			var ce *raftlog.CorruptError
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) || !ce.HasIndex || ce.Index != 6 || !strings.Contains(ce.What, tc.what) {
				t.Fatalf("GetLog(6) = %v (%+v), want a *CorruptError for index 6 (%v, %q)", err, ce, tc.want, tc.what)
			}
			if l.Index != 99 || string(l.Data) != "untouched" {
				t.Fatalf("GetLog of a damaged entry changed the output: %+v", l)
			}
			t.Logf("%v", err)
			for _, i := range []uint64{5, 7} {
				if err := s.GetLog(i, &l); err != nil || !sameLog(&l, entry(i, 1)) {
					t.Fatalf("GetLog(%d) next to the damage: %v", i, err)
				}
			}
			s.Close()
		})
	}
}

// TestRecordDamage: bytes of a stored entry flipped in the segment file are found by the
// record's CRC: GetLog returns a *CorruptError for that index that also unwraps to
// mmaplog.ErrCorrupt, while the store stays open and the other entries read.
func TestRecordDamage(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, nil)
	marked := entry(50, 1)
	marked.Data = []byte("the entry that will be damaged")
	logs := entries(1, 100, 1)
	logs[49] = marked
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "seg-*"))
	damaged := false
	for _, p := range segs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, marked.Data); i >= 0 {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte{b[i+4] ^ 0x10}, int64(i+4)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			damaged = true
		}
	}
	if !damaged {
		t.Fatal("entry 50 not found in the segment files")
	}
	var l raft.Log
	err := s.GetLog(50, &l)
	var ce *raftlog.CorruptError
	if !errors.As(err, &ce) || ce.Index != 50 || !errors.Is(err, raftlog.ErrCorrupt) || !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("GetLog(50) of a damaged record = %v, want a *CorruptError for index 50", err)
	}
	t.Logf("%v", err)
	for _, i := range []uint64{49, 51} {
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
	}
}
