package raftlog_test

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
	"testing"
	"time"

	"github.com/ringlog/ringlog/raftlog"
)

// The keys raft keeps in its StableStore.
var (
	keyCurrentTerm  = []byte("CurrentTerm")
	keyLastVoteTerm = []byte("LastVoteTerm")
	keyLastVoteCand = []byte("LastVoteCand")
)

// TestStableMissingKey: raft reads an unset key as an empty value and an unset uint64 as 0.
func TestStableMissingKey(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	v, err := s.Get(keyLastVoteCand)
	if err != nil || len(v) != 0 {
		t.Fatalf("Get of a missing key = %q, %v; want empty, nil", v, err)
	}
	n, err := s.GetUint64(keyCurrentTerm)
	if err != nil || n != 0 {
		t.Fatalf("GetUint64 of a missing key = %d, %v; want 0, nil", n, err)
	}
}

// TestStableSetGet: values round-trip, survive a reopen, are copies both ways.
func TestStableSetGet(t *testing.T) {
	dir := t.TempDir()
	s, err := raftlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	set := func(k string, v []byte) {
		t.Helper()
		if err := s.Set([]byte(k), v); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
		want[k] = bytes.Clone(v)
	}
	check := func(s *raftlog.Store) {
		t.Helper()
		for k, v := range want {
			got, err := s.Get([]byte(k))
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Get(%q) = %q, %v; want %q", k, got, err, v)
			}
		}
	}
	set("LastVoteCand", []byte("node-1"))
	set("LastVoteCand", []byte("node-2")) // overwrite
	set("", []byte("empty key"))
	set("empty value", []byte{})
	set("binary\x00key", bytes.Repeat([]byte{0, 0xff}, 5000))
	for i := range 50 {
		set(fmt.Sprintf("k%02d", i), []byte(strconv.Itoa(i*i)))
	}
	if err := s.SetUint64(keyCurrentTerm, 1<<40+7); err != nil {
		t.Fatal(err)
	}
	check(s)
	// Get returns a copy; Set keeps a copy.
	buf := []byte("mutable")
	set("copy", buf)
	buf[0] = 'X'
	got, _ := s.Get([]byte("copy"))
	got[1] = 'Y'
	if again, _ := s.Get([]byte("copy")); string(again) != "mutable" {
		t.Fatalf("stored value changed through a caller's slice: %q", again)
	}
	s.Close()
	s = mustOpen(t, dir, nil)
	check(s)
	if n, err := s.GetUint64(keyCurrentTerm); err != nil || n != 1<<40+7 {
		t.Fatalf("GetUint64 after reopen = %d, %v", n, err)
	}
	if _, err := s.GetUint64([]byte("LastVoteCand")); !errors.Is(err, raftlog.ErrNotUint64) {
		t.Fatalf("GetUint64 of a 6-byte value: %v, want ErrNotUint64", err)
	}
}

// TestStableTooLarge: a value that would make the stable file exceed MaxStableSize is
// ErrTooLarge and changes nothing.
func TestStableTooLarge(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	if err := s.Set([]byte("k"), []byte("small")); err != nil {
		t.Fatal(err)
	}
	err := s.Set([]byte("k"), make([]byte, raftlog.MaxStableSize))
	wantErr(t, "Set of a huge value", err, raftlog.ErrTooLarge)
	if v, _ := s.Get([]byte("k")); string(v) != "small" {
		t.Fatalf("value after a refused Set = %q", v)
	}
}

// stableFile builds a stable file image by hand, as docs/FORMAT.md describes it, so the
// damage table can make precise damage (and the test checks the documented format).
func stableFile(version uint32, pairs ...[2]string) []byte {
	b := make([]byte, 24)
	copy(b, "RLRAFTST")
	binary.LittleEndian.PutUint32(b[8:], version)
	for _, p := range pairs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[1])))
		b = append(b, p[0]...)
		b = append(b, p[1]...)
	}
	binary.LittleEndian.PutUint32(b[16:], uint32(len(b)-24))
	binary.LittleEndian.PutUint32(b[20:], uint32(len(pairs)))
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[16:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestStableFormat: a file written by hand from the documented format is read back, and
// the store writes byte for byte that format.
func TestStableFormat(t *testing.T) {
	dir := t.TempDir()
	s, err := raftlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("b"), []byte("2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("a"), []byte("one")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got, err := os.ReadFile(filepath.Join(dir, "stable"))
	if err != nil {
		t.Fatal(err)
	}
	if want := stableFile(1, [2]string{"a", "one"}, [2]string{"b", "2"}); !bytes.Equal(got, want) {
		t.Fatalf("stable file\n got %x\nwant %x", got, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "stable"), stableFile(1, [2]string{"CurrentTerm", "\x07\x00\x00\x00\x00\x00\x00\x00"}), 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, nil)
	if n, err := s.GetUint64(keyCurrentTerm); err != nil || n != 7 {
		t.Fatalf("GetUint64 from a hand-made file = %d, %v", n, err)
	}
}

// TestStableDamage: a torn or damaged stable file is a *CorruptError (ErrCorrupt or
// ErrVersion) naming the file and the field; never a silent zero term.
func TestStableDamage(t *testing.T) {
	good := stableFile(1, [2]string{"CurrentTerm", "\x05\x00\x00\x00\x00\x00\x00\x00"}, [2]string{"LastVoteCand", "node-2"})
	patch := func(off int, v byte) func(string) error {
		return func(p string) error {
			b := bytes.Clone(good)
			b[off] ^= v
			return os.WriteFile(p, b, 0o600)
		}
	}
	write := func(b []byte) func(string) error { return func(p string) error { return os.WriteFile(p, b, 0o600) } }
	// recrc rewrites the checksum after f changed the body, so that a structural check
	// (not the checksum) must find the damage.
	recrc := func(f func([]byte) []byte) func(string) error {
		return func(p string) error {
			b := f(bytes.Clone(good))
			binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[16:], crc32.MakeTable(crc32.Castagnoli)))
			return os.WriteFile(p, b, 0o600)
		}
	}
	cases := []struct {
		name    string
		corrupt func(path string) error
		want    error
		what    string
	}{
		{"empty file (torn before the first byte)", write(nil), raftlog.ErrCorrupt, "truncated"},
		{"torn header", write(good[:10]), raftlog.ErrCorrupt, "truncated"},
		{"torn body", write(good[:len(good)-3]), raftlog.ErrCorrupt, "body length"},
		{"trailing bytes", write(append(bytes.Clone(good), 0)), raftlog.ErrCorrupt, "body length"},
		{"bad magic", patch(0, 0x20), raftlog.ErrCorrupt, "magic"},
		{"newer version", recrc(func(b []byte) []byte { b[8] = 2; return b }), raftlog.ErrVersion, "version"},
		{"bit flip in the checksum", patch(13, 0x01), raftlog.ErrCorrupt, "checksum"},
		{"bit flip in a key", patch(33, 0x04), raftlog.ErrCorrupt, "checksum"},
		{"bit flip in a value (the term)", patch(43, 0x80), raftlog.ErrCorrupt, "checksum"},
		{"pair count too high", recrc(func(b []byte) []byte { b[20]++; return b }), raftlog.ErrCorrupt, "past the end"},
		{"pair count too low", recrc(func(b []byte) []byte { b[20]--; return b }), raftlog.ErrCorrupt, "after the last pair"},
		{"key length past the end", recrc(func(b []byte) []byte { b[24] = 200; return b }), raftlog.ErrCorrupt, "past the end"},
		{"keys out of order", write(stableFile(1, [2]string{"b", "1"}, [2]string{"a", "2"})), raftlog.ErrCorrupt, "out of order"},
		{"duplicate key", write(stableFile(1, [2]string{"a", "1"}, [2]string{"a", "2"})), raftlog.ErrCorrupt, "out of order"},
		{"stable file missing beside the log", os.Remove, raftlog.ErrCorrupt, "missing"},
		{"stable file is a directory", func(p string) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o700)
		}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := raftlog.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(entries(1, 3, 5)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			path := filepath.Join(dir, "stable")
			if err := tc.corrupt(path); err != nil {
				t.Fatal(err)
			}
			s, err = raftlog.Open(dir, nil)
			if err == nil {
				n, _ := s.GetUint64(keyCurrentTerm)
				s.Close()
				t.Fatalf("Open of a damaged stable file succeeded (CurrentTerm reads %d)", n)
			}
			t.Logf("%v", err)
			if tc.want == nil { // not a format error: the file system's, with the path
				if !strings.Contains(err.Error(), "stable") {
					t.Fatalf("error does not name the stable file: %v", err)
				}
				return
			}
			var ce *raftlog.CorruptError
			if !errors.Is(err, tc.want) || !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *CorruptError wrapping %v", err, tc.want)
			}
			if ce.Path != path || !strings.Contains(ce.What, tc.what) {
				t.Fatalf("CorruptError{Path: %q, What: %q}, want path %q and %q", ce.Path, ce.What, path, tc.what)
			}
		})
	}
}

// TestStableTornTmp: a stable.tmp torn by a crash in the middle of a Set is ignored (the
// rename never happened) and removed.
func TestStableTornTmp(t *testing.T) {
	dir := t.TempDir()
	s, err := raftlog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64(keyCurrentTerm, 9); err != nil {
		t.Fatal(err)
	}
	s.Close()
	tmp := filepath.Join(dir, "stable.tmp")
	if err := os.WriteFile(tmp, stableFile(1, [2]string{"CurrentTerm", "\x0a\x00"})[:30], 0o600); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, nil)
	if n, err := s.GetUint64(keyCurrentTerm); err != nil || n != 9 {
		t.Fatalf("CurrentTerm = %d, %v; want 9 (the value before the torn Set)", n, err)
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stable.tmp still there: %v", err)
	}
}

// TestStableKill: a process that sets the term and vote in a loop is SIGKILLed at random
// moments; every value whose Set returned is there after the restart, and the file is
// always valid (crash-atomic).
func TestStableKill(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(seed(t)), 2))
	dir := t.TempDir()
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	if os.Getenv("RINGLOG_LONG") != "" { // make crash
		rounds = 200
	}
	acked := uint64(0)
	for round := range rounds {
		runUntilKilled(t, childCmd("stable-writer", dir, strconv.FormatUint(acked+1, 10)),
			time.Duration(30+rng.IntN(120))*time.Millisecond, func(l string) {
				if n, err := strconv.ParseUint(strings.TrimPrefix(l, "acked "), 10, 64); err == nil {
					acked = n
				}
			})
		s, err := raftlog.Open(dir, nil)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		term, err := s.GetUint64(keyCurrentTerm)
		if err != nil {
			t.Fatal(err)
		}
		voteTerm, _ := s.GetUint64(keyLastVoteTerm)
		cand, _ := s.Get(keyLastVoteCand)
		s.Close()
		// The writer sets CurrentTerm=i, LastVoteTerm=i, LastVoteCand="node-i", then
		// prints "acked i".
		if term < acked || term > acked+1 || voteTerm < acked || voteTerm > term {
			t.Fatalf("round %d: acked %d, found CurrentTerm %d LastVoteTerm %d", round, acked, term, voteTerm)
		}
		if acked > 0 && string(cand) != fmt.Sprintf("node-%d", voteTerm) && string(cand) != fmt.Sprintf("node-%d", voteTerm-1) {
			t.Fatalf("round %d: LastVoteCand %q does not match LastVoteTerm %d", round, cand, voteTerm)
		}
		t.Logf("round %d: killed after %d acknowledged term changes; found term %d, vote term %d", round, acked, term, voteTerm)
		// The next writer starts after the last change whose every key is in place: a kill
		// between CurrentTerm and LastVoteTerm leaves the vote one behind the term.
		acked = voteTerm
	}
}

func init() {
	childRoles["stable-writer"] = func(args []string) int {
		s, err := raftlog.Open(args[0], nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		from, _ := strconv.ParseUint(args[1], 10, 64)
		for i := from; ; i++ {
			if err := s.SetUint64(keyCurrentTerm, i); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if err := s.SetUint64(keyLastVoteTerm, i); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if err := s.Set(keyLastVoteCand, fmt.Appendf(nil, "node-%d", i)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Printf("acked %d\n", i)
		}
	}
}

// TestStableConcurrent: readers never block on a Set and never see a term go back.
func TestStableConcurrent(t *testing.T) {
	s := mustOpen(t, t.TempDir(), nil)
	done := make(chan struct{})
	errc := make(chan error, 4)
	for range 3 {
		go func() {
			var last uint64
			for {
				select {
				case <-done:
					errc <- nil
					return
				default:
				}
				n, err := s.GetUint64(keyCurrentTerm)
				if err != nil || n < last {
					errc <- fmt.Errorf("GetUint64 = %d, %v after %d", n, err, last)
					return
				}
				last = n
			}
		}()
	}
	for i := uint64(1); i <= 30; i++ {
		if err := s.SetUint64(keyCurrentTerm, i); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 3 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
