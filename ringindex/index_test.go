package ringindex_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringlog/ringlog/ringindex"
)

// seed drives every randomized test; 0 picks one from the clock. Each test
// logs the seed it used, so a failure can be replayed with -seed.
var seed = flag.Int64("seed", 0, "seed for randomized tests (0: time based)")

var testLogID = [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

func TestMain(m *testing.M) {
	flag.Parse()
	if *seed == 0 {
		*seed = time.Now().UnixNano()
	}
	os.Exit(m.Run())
}

func create(t testing.TB, capacity uint64) (*ringindex.Index, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), ringindex.FileName(7))
	x, err := ringindex.Create(path, capacity, testLogID, 7, 0o644)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { x.Close() })
	return x, path
}

func TestCreateOpenRoundTrip(t *testing.T) {
	t.Logf("seed %d", *seed)
	const capacity = 4096
	x, path := create(t, capacity)
	if x.Capacity() != capacity || x.Generation() != 7 || x.Path() != path {
		t.Fatalf("Capacity %d Generation %d Path %q", x.Capacity(), x.Generation(), x.Path())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(ringindex.HeaderSize + ringindex.SlotSize*capacity); fi.Size() != want {
		t.Fatalf("file size %d, want %d", fi.Size(), want)
	}
	if m, _ := filepath.Glob(path + ".tmp-*"); len(m) != 0 {
		t.Fatalf("temporary files left behind: %v", m)
	}
	// Fresh slots are unwritten.
	for id := uint64(0); id < capacity; id++ {
		if s := x.Load(id); !s.IsZero() {
			t.Fatalf("fresh slot %d = %v", id, s)
		}
	}

	r, err := ringindex.Open(path, testLogID, false)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	if r.Capacity() != capacity || r.Generation() != 7 {
		t.Fatalf("reopened Capacity %d Generation %d", r.Capacity(), r.Generation())
	}

	// Store in one handle, Load in the other; ids past Capacity wrap.
	for id := uint64(0); id < 3*capacity; id += 3 {
		s := ringindex.MakeSlot(id/capacity+1, id%capacity*8+8)
		x.Store(id, s)
		if got := r.Load(id); got != s {
			t.Fatalf("id %d: reader sees %v, want %v", id, got, s)
		}
		if got := r.Load(id + capacity); got != s {
			t.Fatalf("id %d+capacity: reader sees %v, want %v", id, got, s)
		}
	}
	if err := x.Sync(); err != nil {
		t.Fatal(err)
	}

	// The header on disk decodes to what Create was given.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ringindex.DecodeHeader(raw[:ringindex.HeaderSize])
	if err != nil {
		t.Fatal(err)
	}
	want := ringindex.Header{Version: ringindex.Version, HeaderSize: ringindex.HeaderSize, Capacity: capacity, LogID: testLogID, Generation: 7}
	if h != want {
		t.Fatalf("header %+v, want %+v", h, want)
	}
	if !bytes.Equal(raw[52:ringindex.HeaderSize], make([]byte, ringindex.HeaderSize-52)) {
		t.Fatal("reserved header bytes not zero")
	}
}

func TestStoreReadOnlyPanics(t *testing.T) {
	_, path := create(t, ringindex.MinCapacity)
	r, err := ringindex.Open(path, testLogID, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer func() {
		if recover() == nil {
			t.Fatal("Store on a read-only index did not panic")
		}
	}()
	r.Store(1, ringindex.MakeSlot(1, 8))
}

// TestCrossProcess stores slots here, lets a child process (this test binary
// re-executed) verify them through its own read-only mapping and store more
// through a writable one, then checks the child's stores from here.
func TestCrossProcess(t *testing.T) {
	const capacity = 1 << 12
	x, path := create(t, capacity)
	for id := uint64(0); id < capacity; id += 2 {
		x.Store(id, ringindex.MakeSlot(id, id*8+8))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "RINGINDEX_HELPER_PATH="+path, "RINGINDEX_HELPER_CAP="+strconv.FormatUint(capacity, 10))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "helper ok") {
		t.Fatalf("child did not run the helper:\n%s", out)
	}
	t.Logf("child process round trip took %v", time.Since(start))
	for id := uint64(1); id < capacity; id += 2 {
		want := ringindex.MakeSlot(id+100, id*8+16).WithTombstone()
		if got := x.Load(id); got != want {
			t.Fatalf("id %d: parent sees %v after child stored %v", id, got, want)
		}
	}
}

func TestHelperProcess(t *testing.T) {
	path := os.Getenv("RINGINDEX_HELPER_PATH")
	if path == "" {
		t.Skip("helper for TestCrossProcess")
	}
	capacity, _ := strconv.ParseUint(os.Getenv("RINGINDEX_HELPER_CAP"), 10, 64)
	r, err := ringindex.Open(path, testLogID, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for id := uint64(0); id < capacity; id++ {
		want := ringindex.Slot(0)
		if id%2 == 0 {
			want = ringindex.MakeSlot(id, id*8+8)
		}
		if got := r.Load(id); got != want {
			t.Fatalf("child: id %d = %v, want %v", id, got, want)
		}
	}
	w, err := ringindex.Open(path, testLogID, true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for id := uint64(1); id < capacity; id += 2 {
		w.Store(id, ringindex.MakeSlot(id+100, id*8+16).WithTombstone())
	}
	fmt.Println("helper ok")
}

func TestCreateExisting(t *testing.T) {
	x, path := create(t, ringindex.MinCapacity)
	x.Store(5, ringindex.MakeSlot(1, 64))
	if err := x.Sync(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, capacity := range []uint64{ringindex.MinCapacity, 4 * ringindex.MinCapacity} {
		y, err := ringindex.Create(path, capacity, [16]byte{9}, 8, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			if y != nil {
				y.Close()
			}
			t.Fatalf("Create on existing path: err = %v, want fs.ErrExist", err)
		}
		t.Logf("Create on existing path: %v", err)
	}
	// A plain non-index file in the way is left alone too.
	other := filepath.Join(filepath.Dir(path), "other")
	if err := os.WriteFile(other, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ringindex.Create(other, ringindex.MinCapacity, testLogID, 1, 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over a plain file: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("existing index changed by a failed Create")
	}
	if b, _ := os.ReadFile(other); string(b) != "hello" {
		t.Fatalf("plain file changed: %q", b)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp-*")); len(m) != 0 {
		t.Fatalf("temporary files left behind: %v", m)
	}
}

func TestCreateInvalidCapacity(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []uint64{0, 1, 512, ringindex.MinCapacity - 1, ringindex.MinCapacity + 1, 3000, ringindex.MaxCapacity << 1, ^uint64(0)} {
		path := filepath.Join(dir, ringindex.FileName(c))
		x, err := ringindex.Create(path, c, testLogID, 1, 0o644)
		if !errors.Is(err, ringindex.ErrInvalidCapacity) {
			if x != nil {
				x.Close()
			}
			t.Fatalf("Create(capacity %d): err = %v, want ErrInvalidCapacity", c, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Create(capacity %d) left a file: %v", c, err)
		}
	}
}

func TestSyncRangeAndClose(t *testing.T) {
	const capacity = 1 << 14 // 128 KiB of slots: several pages
	x, _ := create(t, capacity)
	for id := uint64(0); id < 2*capacity; id += 97 {
		x.Store(id, ringindex.MakeSlot(1, 8))
	}
	ranges := [][2]uint64{
		{0, 0}, {5, 5}, {9, 3}, // empty
		{0, 1}, {0, capacity}, {0, 10 * capacity}, {1, capacity + 1},
		{capacity - 1, capacity + 1}, // wraps by one slot each side
		{capacity - 600, capacity + 600},
		{3*capacity - 5, 3*capacity + 5},
		{capacity/2 + 7, capacity/2 + capacity - 1},
		{^uint64(0) - 10, ^uint64(0)},
	}
	for _, r := range ranges {
		start := time.Now()
		if err := x.SyncRange(r[0], r[1]); err != nil {
			t.Fatalf("SyncRange(%d, %d): %v", r[0], r[1], err)
		}
		t.Logf("SyncRange(%d, %d) took %v", r[0], r[1], time.Since(start))
	}
	if err := x.Sync(); err != nil {
		t.Fatal(err)
	}
	for _, populate := range []bool{false, true} {
		if err := x.Advise(populate); err != nil {
			t.Fatalf("Advise(%v): %v", populate, err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := x.Sync(); !errors.Is(err, ringindex.ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	if err := x.SyncRange(0, 10); !errors.Is(err, ringindex.ErrClosed) {
		t.Fatalf("SyncRange after Close: %v", err)
	}
	if err := x.Advise(true); !errors.Is(err, ringindex.ErrClosed) {
		t.Fatalf("Advise after Close: %v", err)
	}
}

func TestAdviseReadOnly(t *testing.T) {
	_, path := create(t, ringindex.MinCapacity)
	r, err := ringindex.Open(path, testLogID, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, populate := range []bool{false, true} {
		if err := r.Advise(populate); err != nil {
			t.Fatalf("Advise(%v) read-only: %v", populate, err)
		}
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := ringindex.Open(filepath.Join(t.TempDir(), "nope"), testLogID, false)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open missing file: %v", err)
	}
}

// CopyFrom copies exactly the slots of the ids asked for, across the wrap-around of
// either ring, and leaves every other slot alone.
func TestCopyFrom(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(*seed), 2))
	t.Logf("seed %d", *seed)
	src, _ := create(t, 1024)
	for _, dstCap := range []uint64{1024, 2048, 8192} {
		for range 50 {
			dst, _ := create(t, dstCap)
			from := rng.Uint64N(1 << 20)
			to := from + rng.Uint64N(1025)
			for id := from; id < from+1024; id++ {
				src.Store(id, ringindex.MakeSlot(id>>10, 64+8*(id&0x3ff)))
			}
			const marker = ringindex.Slot(0x5a5a5a5a)
			for id := from - min(from, 64); id < from+dstCap; id++ {
				dst.Store(id, marker)
			}
			dst.CopyFrom(src, from, to)
			for id := from; id < from+dstCap; id++ {
				want := marker
				if id < to {
					want = src.Load(id)
				}
				if got := dst.Load(id); got != want {
					t.Fatalf("capacity %d, CopyFrom [%d, %d): slot of %d = %#x, want %#x", dstCap, from, to, id, got, want)
				}
			}
			dst.Close()
		}
	}
}
