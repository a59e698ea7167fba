package cursortable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

var testID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func openT(t testing.TB, dir string) *Table {
	t.Helper()
	tb, err := Open(dir, testID, false, true, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

func lookup(t testing.TB, tb *Table, name string) *Entry {
	t.Helper()
	e, err := tb.Lookup(name, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustPos(t testing.TB, e *Entry) uint64 {
	t.Helper()
	p, err := e.Position()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNames(t *testing.T) {
	tb := openT(t, t.TempDir())
	good := []string{"a", "consumer-1", "A.b_c-9", strings.Repeat("x", MaxNameLen)}
	for _, n := range good {
		e := lookup(t, tb, n)
		if e.Name() != n || mustPos(t, e) != 1 {
			t.Fatalf("%q: name %q position %d", n, e.Name(), mustPos(t, e))
		}
	}
	bad := []string{"", strings.Repeat("x", MaxNameLen+1), "a b", "a/b", "é", "a\x00", "x:y"}
	for _, n := range bad {
		if _, err := tb.Lookup(n, true, 1); !errors.Is(err, ErrBadName) {
			t.Fatalf("%q: %v, want ErrBadName", n, err)
		}
		if err := tb.Delete(n); !errors.Is(err, ErrBadName) {
			t.Fatalf("delete %q: %v", n, err)
		}
	}
	l, err := tb.List()
	if err != nil || len(l) != len(good) {
		t.Fatalf("list after bad names: %v %v", l, err)
	}
	for i, in := range l {
		if in.Name != good[i] || in.Position != 1 {
			t.Fatalf("list[%d] = %+v", i, in)
		}
	}
}

func TestCommitMonotonic(t *testing.T) {
	dir := t.TempDir()
	tb := openT(t, dir)
	e := lookup(t, tb, "c")
	for _, p := range []uint64{5, 5, 6, 100} {
		if err := e.Commit(p); err != nil {
			t.Fatal(err)
		}
		if got := mustPos(t, e); got != p {
			t.Fatalf("position %d after commit %d", got, p)
		}
	}
	err := e.Commit(99)
	var be *BackwardError
	if !errors.Is(err, ErrBackward) || !errors.As(err, &be) || be.Committed != 100 || be.Got != 99 {
		t.Fatalf("commit 99 after 100: %v", err)
	}
	if got := mustPos(t, e); got != 100 {
		t.Fatalf("position %d after a refused commit", got)
	}
	// A second Table (another open file description, as another process) sees one entry.
	tb2 := openT(t, dir)
	e2 := lookup(t, tb2, "c")
	if got := mustPos(t, e2); got != 100 {
		t.Fatalf("second table sees %d", got)
	}
	if err := e2.Commit(101); err != nil || mustPos(t, e) != 101 {
		t.Fatalf("commit through second table: %v, first sees %d", err, mustPos(t, e))
	}
	if err := tb.Sync(); err != nil {
		t.Fatal(err)
	}
	// Read-only tables read but do not write.
	ro, err := Open(dir, testID, true, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	er, err := ro.Lookup("c", false, 0)
	if err != nil || mustPos(t, er) != 101 {
		t.Fatalf("read-only lookup: %v", err)
	}
	if err := er.Commit(200); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only commit: %v", err)
	}
	if _, err := ro.Lookup("new", true, 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only create: %v", err)
	}
	if _, err := ro.Lookup("new", false, 0); !errors.Is(err, ErrNoCursor) {
		t.Fatalf("read-only lookup of a missing name: %v", err)
	}
}

func TestFullAndDeleteReuse(t *testing.T) {
	tb := openT(t, t.TempDir())
	es := make([]*Entry, Capacity)
	for i := range Capacity {
		es[i] = lookup(t, tb, fmt.Sprintf("c%d", i))
		if err := es[i].Commit(uint64(i + 10)); err != nil {
			t.Fatal(err)
		}
	}
	before := bytes.Clone(tb.m)
	if _, err := tb.Lookup("one-more", true, 1); !errors.Is(err, ErrFull) {
		t.Fatalf("create in a full table: %v", err)
	}
	if !bytes.Equal(before, tb.m) {
		t.Fatal("a refused create changed the table")
	}
	if err := tb.Delete("c7"); err != nil {
		t.Fatal(err)
	}
	if err := tb.Delete("c7"); !errors.Is(err, ErrNoCursor) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := es[7].Position(); !errors.Is(err, ErrNoCursor) {
		t.Fatalf("position of a deleted cursor: %v", err)
	}
	if err := es[7].Commit(1000); !errors.Is(err, ErrNoCursor) {
		t.Fatalf("commit of a deleted cursor: %v", err)
	}
	n := lookup(t, tb, "c7") // reuses the slot with a new epoch
	if n.slot != 7 || mustPos(t, n) != 1 {
		t.Fatalf("recreated: slot %d position %d", n.slot, mustPos(t, n))
	}
	if err := es[7].Commit(1000); !errors.Is(err, ErrNoCursor) || mustPos(t, n) != 1 {
		t.Fatalf("stale entry committed into its successor: %v, %d", err, mustPos(t, n))
	}
	l, err := tb.List()
	if err != nil || len(l) != Capacity {
		t.Fatalf("list: %d %v", len(l), err)
	}
}

func TestOpenValidation(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir).Close()
	path := filepath.Join(dir, FileName)
	orig, _ := os.ReadFile(path)
	cases := []struct {
		name    string
		corrupt func(b []byte) []byte
		want    error
		off     int64
	}{
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, ErrCorrupt, hdrMagicOff},
		{"crc", func(b []byte) []byte { b[hdrCRCOff]++; return b }, ErrCorrupt, hdrCRCOff},
		{"version", func(b []byte) []byte { reCRC(b, hdrVersionOff, 2); return b }, ErrVersion, hdrVersionOff},
		{"capacity", func(b []byte) []byte { reCRC(b, hdrCapacityOff, 9); return b }, ErrCorrupt, hdrEntrySzOff},
		{"size", func(b []byte) []byte { return b[:FileSize-1] }, ErrCorrupt, FileSize - 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path, c.corrupt(bytes.Clone(orig)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, testID, false, true, 0o644)
			var ce *CorruptError
			if !errors.Is(err, c.want) || !errors.As(err, &ce) || ce.Offset != c.off || ce.Path != path {
				t.Fatalf("%v, want %v at %d", err, c.want, c.off)
			}
		})
	}
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	other := testID
	other[0]++
	if _, err := Open(dir, other, false, true, 0o644); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("foreign logID: %v", err)
	}
	if _, err := Open(t.TempDir(), testID, true, false, 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func reCRC(b []byte, off int, v uint32) {
	binary.LittleEndian.PutUint32(b[off:], v)
	binary.LittleEndian.PutUint32(b[hdrCRCOff:], crcOf(b[:hdrCRCOff]))
}

// TestDamage: a damaged copy falls back to the other one (the power-loss case); both
// damaged, or a damaged name, is a CorruptError at the entry, never a zero position.
func TestDamage(t *testing.T) {
	dir := t.TempDir()
	tb := openT(t, dir)
	e := lookup(t, tb, "victim")
	lookup(t, tb, "other")
	for p := uint64(2); p <= 9; p++ { // gen ends at 8: copy 0 holds 9, copy 1 holds 8
		if err := e.Commit(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Sync(); err != nil {
		t.Fatal(err)
	}
	tb.Close()
	path := filepath.Join(dir, FileName)
	orig, _ := os.ReadFile(path)
	off := int(entryOffset(0))
	cases := []struct {
		name    string
		corrupt func(b []byte)
		want    uint64 // 0: a CorruptError
	}{
		{"intact", func(b []byte) {}, 9},
		{"current copy torn", func(b []byte) { b[off+entCopy0Off+8] ^= 0xff }, 8},
		{"current crc torn", func(b []byte) { b[off+entCopy0Off+4] ^= 1 }, 8},
		{"gen lost (older sector)", func(b []byte) { binary.LittleEndian.PutUint32(b[off+entCtlOff+4:], 7) }, 8},
		{"gen ahead of a torn copy", func(b []byte) {
			binary.LittleEndian.PutUint32(b[off+entCtlOff+4:], 9)
			b[off+entCopy1Off] ^= 0xff
		}, 9},
		{"other copy torn", func(b []byte) { b[off+entCopy1Off+8] ^= 0xff }, 9},
		{"both copies torn", func(b []byte) { b[off+entCopy0Off+8] ^= 1; b[off+entCopy1Off+8] ^= 1 }, 0},
		{"name damaged", func(b []byte) { b[off+entNameOff+1] ^= 1 }, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			c.corrupt(b)
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, FileName), b, 0o644); err != nil {
				t.Fatal(err)
			}
			tb, err := Open(d, testID, false, false, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer tb.Close()
			e, err := tb.Lookup("victim", false, 0)
			if c.want == 0 {
				var ce *CorruptError
				if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) || ce.Offset < int64(off) || ce.Offset >= int64(off+EntrySize) {
					t.Fatalf("lookup: %v, want a CorruptError in entry 0", err)
				}
				if _, err := tb.List(); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("list: %v", err)
				}
				_, err = tb.Lookup("newname", true, 1)
				if nameDamaged := strings.HasPrefix(c.name, "name"); nameDamaged != errors.Is(err, ErrCorrupt) {
					t.Fatalf("create beside a damaged entry: %v (a damaged name may be the new one's)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := mustPos(t, e); got != c.want {
				t.Fatalf("position %d, want %d", got, c.want)
			}
			// The next commit repairs: it goes on from the surviving copy.
			if err := e.Commit(c.want - 1); !errors.Is(err, ErrBackward) {
				t.Fatalf("commit below the surviving position: %v", err)
			}
			if err := e.Commit(50); err != nil || mustPos(t, e) != 50 {
				t.Fatalf("commit after damage: %v %d", err, mustPos(t, e))
			}
			if err := e.Commit(51); err != nil || mustPos(t, e) != 51 {
				t.Fatalf("second commit after damage: %v %d", err, mustPos(t, e))
			}
		})
	}
}

// TestDeadOwner: a ctl owner token left by a process that no longer exists (a committer
// SIGKILLed between taking the lock and releasing it) is taken over by the next commit.
func TestDeadOwner(t *testing.T) {
	tb := openT(t, t.TempDir())
	e := lookup(t, tb, "c")
	if err := e.Commit(5); err != nil {
		t.Fatal(err)
	}
	// The token of a process that has exited, as a committer SIGKILLed mid-commit.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := uint64(cmd.Process.Pid)
	if tokenAlive(dead) {
		t.Fatalf("exited pid %d counted alive", dead)
	}
	g := atomic.LoadUint64(&e.r.ctl)
	e.r.ctl = g | dead
	// The half-written next copy it left behind (seq 2 in copy 0, no valid CRC).
	e.r.copies[0].word, e.r.copies[0].pos = 2, 999
	if got := mustPos(t, e); got != 5 {
		t.Fatalf("position with a dead owner: %d", got)
	}
	if err := e.Commit(6); err != nil || mustPos(t, e) != 6 || e.r.ctl&ownerMask != 0 {
		t.Fatalf("commit after a dead owner: %v pos %d ctl %#x", err, mustPos(t, e), e.r.ctl)
	}
	if !tokenAlive(ownerToken) {
		t.Fatal("own token counted dead")
	}
	if tokenAlive(ownerToken ^ 1<<22) {
		t.Fatal("own pid with another start time counted alive (pid reuse)")
	}
}

func TestConcurrentCommit(t *testing.T) {
	dir := t.TempDir()
	tb := openT(t, dir)
	tb2 := openT(t, dir)
	e1, e2 := lookup(t, tb, "c"), lookup(t, tb2, "c")
	var wg sync.WaitGroup
	const n = 20000
	errs := make(chan error, 4)
	for g := range 4 {
		e := e1
		if g%2 == 1 {
			e = e2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for i := range n {
				if err := e.Commit(uint64(i*4 + g + 2)); err != nil && !errors.Is(err, ErrBackward) {
					errs <- err
					return
				}
				p, err := e.Position()
				if err != nil || p < last {
					errs <- fmt.Errorf("position %d after %d: %v", p, last, err)
					return
				}
				last = p
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if p := mustPos(t, e1); p != (n-1)*4+3+2 {
		t.Fatalf("final position %d", p)
	}
}

func BenchmarkCommit(b *testing.B) {
	tb := openT(b, b.TempDir())
	e := lookup(b, tb, "bench")
	b.ReportAllocs()
	pos := uint64(1)
	for b.Loop() {
		pos++
		if err := e.Commit(pos); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPosition(b *testing.B) {
	tb := openT(b, b.TempDir())
	e := lookup(b, tb, "bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Position(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCopyCRC(t *testing.T) {
	for _, v := range [][3]uint64{{0, 0, 0}, {1, 2, 3}, {1 << 31, 12345678901234, 0xdeadbeef}, {1<<32 - 1, ^uint64(0), 0xffffffff}} {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], v[1])
		binary.LittleEndian.PutUint32(b[8:], uint32(v[0]))
		binary.LittleEndian.PutUint32(b[12:], uint32(v[2]))
		if got, want := copyCRC(uint32(v[0]), v[1], uint32(v[2])), crcOf(b[:]); got != want {
			t.Fatalf("copyCRC%v = %#x, crc32c = %#x", v, got, want)
		}
	}
}

// WriteFile makes a table that Open accepts, holding exactly the given cursors at their
// positions, whose entries then commit, delete and create as any other; bad lists write
// nothing.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	list := []Info{{"b", 7}, {"a", 1 << 40}, {strings.Repeat("z", MaxNameLen), 0}}
	if err := WriteFile(dir, testID, 0o644, list); err != nil {
		t.Fatal(err)
	}
	tb := openT(t, dir)
	got, err := tb.List()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(list) {
		t.Fatalf("List of the written table: %v, want %v", got, list)
	}
	e := lookup(t, tb, "b")
	if err := e.Commit(6); !errors.Is(err, ErrBackward) {
		t.Fatalf("Commit below the written position: %v, want ErrBackward", err)
	}
	if err := e.Commit(9); err != nil || mustPos(t, e) != 9 {
		t.Fatalf("Commit(9): %v, position %d", err, mustPos(t, e))
	}
	if err := tb.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if e := lookup(t, tb, "c"); mustPos(t, e) != 1 || e.slot != 1 {
		t.Fatalf("new cursor in the freed slot: slot %d position %d", e.slot, mustPos(t, e))
	}
	t.Logf("written table of %d cursors: %v; after commit, delete and create: fine", len(list), got)

	if err := WriteFile(dir, testID, 0o644, nil); !errors.Is(err, os.ErrExist) {
		t.Fatalf("WriteFile over an existing table: %v, want ErrExist", err)
	}
	full := make([]Info, Capacity+1)
	for i := range full {
		full[i] = Info{Name: fmt.Sprintf("c%d", i)}
	}
	for _, c := range []struct {
		list []Info
		want error
	}{
		{[]Info{{"a", 1}, {"a", 2}}, ErrBadName},
		{[]Info{{"a b", 1}}, ErrBadName},
		{full, ErrFull},
	} {
		d := t.TempDir()
		if err := WriteFile(d, testID, 0o644, c.list); !errors.Is(err, c.want) {
			t.Fatalf("WriteFile(%d cursors): %v, want %v", len(c.list), err, c.want)
		}
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Fatalf("a refused WriteFile left %v", ents)
		}
	}
}
