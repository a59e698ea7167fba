package mmaplog_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// The damage test runs a table of {name, corrupt func} cases against copies of a freshly
// built, synced log (with an unsynced tail after the Sync): truncations, bit flips,
// garbage, missing, extra and foreign files. For each, Open must either fail with
// ErrCorrupt or ErrVersion naming the file and an offset, or open; an opened log must
// never panic or return bytes other than the ones written (ErrCorrupt and ErrNotFound are
// allowed for damaged events), and Check must report the damage that reads run into.

const (
	dmgSegSize   = 16 << 10
	dmgSynced    = 400 // events appended (ids 0..399), then a prefix delete of [0, 49]
	dmgUnsynced  = 30  // events appended after the Sync
	dmgDeletedTo = 49
)

func dmgOptions() *mmaplog.Options {
	return &mmaplog.Options{SegmentSize: dmgSegSize, IndexCapacity: 1024, NoPrefault: true}
}

// dmgTemplate is a built log: its files and the events written.
type dmgTemplate struct {
	files      map[string][]byte
	written    map[uint64][]byte
	syncedNext uint64
	active     string // name of the active segment
	segs       []string
	index      string
}

func dmgBuild(t testing.TB, tag string) *dmgTemplate {
	t.Helper()
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, dmgOptions())
	if err != nil {
		t.Fatal(err)
	}
	tp := &dmgTemplate{written: map[uint64][]byte{}}
	add := func(n int) {
		for range n {
			next, _ := l.NextEventID()
			p := fmt.Appendf(nil, "%s event %d %s", tag, next, strings.Repeat("z", int(next%97)))
			if _, err := l.Append(p); err != nil {
				t.Fatal(err)
			}
			tp.written[next] = p
		}
	}
	add(dmgSynced)
	if _, err := l.DeleteRange(0, dmgDeletedTo); err != nil {
		t.Fatal(err)
	}
	for id := uint64(0); id <= dmgDeletedTo; id++ {
		delete(tp.written, id)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	tp.syncedNext = dmgSynced
	add(dmgUnsynced)
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	tp.files = plReadDir(t, dir)
	for n := range tp.files {
		switch {
		case strings.HasPrefix(n, "seg-"):
			tp.segs = append(tp.segs, n)
		case strings.HasPrefix(n, "index-"):
			tp.index = n
		}
	}
	slices.Sort(tp.segs)
	tp.active = fmt.Sprintf("seg-%016x", st.ActiveSegment)
	if len(tp.segs) < 3 || tp.index == "" || tp.files[tp.active] == nil {
		t.Fatalf("template: segments %v, index %q, active %s", tp.segs, tp.index, tp.active)
	}
	return tp
}

type dmgCase struct {
	name    string
	corrupt func(files map[string][]byte)
	// intactBelow: Open must succeed and every event below this id stays readable
	// (damage only after it). 0: no such requirement.
	intactBelow uint64
}

func dmgTruncate(name string, n int) func(map[string][]byte) {
	return func(f map[string][]byte) { f[name] = f[name][:min(n, len(f[name]))] }
}

func dmgFlip(name string, bit int) func(map[string][]byte) {
	return func(f map[string][]byte) {
		b := bytes.Clone(f[name])
		b[bit/8] ^= 1 << (bit % 8)
		f[name] = b
	}
}

func dmgPut(name string, off int, v []byte) func(map[string][]byte) {
	return func(f map[string][]byte) {
		b := bytes.Clone(f[name])
		copy(b[off:], v)
		f[name] = b
	}
}

// dmgCases lists every case against tp (other is a second log with the same shape).
func dmgCases(tp, other *dmgTemplate, rng *rand.Rand) []dmgCase {
	var cs []dmgCase
	add := func(name string, f func(map[string][]byte)) { cs = append(cs, dmgCase{name: name, corrupt: f}) }
	// Truncations.
	for n := 0; n < 4096; {
		add(fmt.Sprintf("truncate meta to %d", n), dmgTruncate("meta", n))
		if n < 400 {
			n++
		} else {
			n += 64
		}
	}
	for n := 0; n <= 4096; n += 8 {
		add(fmt.Sprintf("truncate %s to %d", tp.index, n), dmgTruncate(tp.index, n))
	}
	for n := 0; n <= 64; n++ {
		add(fmt.Sprintf("truncate %s to %d", tp.active, n), dmgTruncate(tp.active, n))
		add(fmt.Sprintf("truncate %s to %d", tp.segs[0], n), dmgTruncate(tp.segs[0], n))
	}
	// Inside the last records: the active segment cut at an offset (the rest of the
	// preallocated file zeroed, as a lost tail leaves it), and really truncated.
	act := tp.files[tp.active]
	end := len(bytes.TrimRight(act, "\x00"))
	for off := max(64, end-1200); off < end; off += 1 + rng.IntN(40) {
		cs = append(cs, dmgCase{
			name: fmt.Sprintf("zero %s from %d (last records)", tp.active, off),
			corrupt: func(f map[string][]byte) {
				b := bytes.Clone(f[tp.active])
				clear(b[off:])
				f[tp.active] = b
			},
			intactBelow: dmgFirstIDAt(tp, off),
		})
		add(fmt.Sprintf("truncate %s to %d (last records)", tp.active, off), dmgTruncate(tp.active, off))
	}
	// Bit flips: meta header, the current state copy, index header, segment header.
	meta := tp.files["meta"]
	commit := binary.LittleEndian.Uint64(meta[128:])
	stateOff := 1024 + 1024*int(commit>>16&1) // the commit word is generation<<16 | tail count
	for bit := 0; bit < 44*8; bit++ {
		add(fmt.Sprintf("flip meta bit %d", bit), dmgFlip("meta", bit))
	}
	for bit := 0; bit < 160*8; bit++ {
		add(fmt.Sprintf("flip meta state bit %d (offset %d)", bit, stateOff+bit/8), dmgFlip("meta", stateOff*8+bit))
	}
	for bit := 0; bit < 8*8; bit++ {
		add(fmt.Sprintf("flip meta commit bit %d", bit), dmgFlip("meta", 128*8+bit))
	}
	for bit := 0; bit < 52*8; bit++ {
		add(fmt.Sprintf("flip %s bit %d", tp.index, bit), dmgFlip(tp.index, bit))
		add(fmt.Sprintf("flip %s bit %d", tp.active, bit), dmgFlip(tp.active, bit))
		add(fmt.Sprintf("flip %s bit %d", tp.segs[0], bit), dmgFlip(tp.segs[0], bit))
	}
	// Garbage files of sizes 0 to 2x the segment size.
	for _, name := range []string{"meta", tp.index, tp.active, tp.segs[0], tp.segs[len(tp.segs)/2]} {
		for _, size := range []int{0, 1, 44, 64, 4095, 4096, 4097, 8192, dmgSegSize - 1, dmgSegSize, dmgSegSize + 1, 2 * dmgSegSize, rng.IntN(2*dmgSegSize + 1)} {
			g := make([]byte, size)
			for i := range g {
				g[i] = byte(rng.Uint32())
			}
			add(fmt.Sprintf("garbage %s of %d bytes", name, size), func(f map[string][]byte) { f[name] = g })
		}
	}
	// Missing, extra and foreign files.
	add("missing active segment", func(f map[string][]byte) { delete(f, tp.active) })
	add("missing first segment", func(f map[string][]byte) { delete(f, tp.segs[0]) })
	add("missing middle segment", func(f map[string][]byte) { delete(f, tp.segs[len(tp.segs)/2]) })
	add("missing index", func(f map[string][]byte) { delete(f, tp.index) })
	add("extra segment after the active one (copy, wrong seq)", func(f map[string][]byte) {
		f[dmgNextSeg(tp.active, 1)] = bytes.Clone(f[tp.active])
	})
	add("extra segment far after the active one (copy, wrong seq)", func(f map[string][]byte) {
		f[dmgNextSeg(tp.active, 5)] = bytes.Clone(f[tp.segs[0]])
	})
	add("extra segment below the first (copy)", func(f map[string][]byte) {
		f[dmgNextSeg(tp.segs[0], -1)] = bytes.Clone(f[tp.segs[0]])
	})
	add("middle segment replaced by another segment (copy, wrong seq)", func(f map[string][]byte) {
		f[tp.segs[len(tp.segs)/2]] = bytes.Clone(f[tp.segs[0]])
	})
	for _, name := range []string{tp.active, tp.segs[0], tp.segs[len(tp.segs)/2], tp.index, "meta"} {
		if b, ok := other.files[name]; ok {
			add(fmt.Sprintf("%s from another log", name), func(f map[string][]byte) { f[name] = bytes.Clone(b) })
		}
	}
	// Wrong magic, version 2.
	for _, name := range []string{"meta", tp.index, tp.active, tp.segs[0]} {
		add(fmt.Sprintf("wrong magic %s", name), dmgPut(name, 0, []byte("NOTALOG!")))
		add(fmt.Sprintf("version 2 %s", name), dmgPut(name, 8, []byte{2, 0, 0, 0}))
		add(fmt.Sprintf("version 2 with a valid header CRC %s", name), dmgVersion2(name))
	}
	return cs
}

// dmgVersion2 sets the version to 2 and fixes the header CRC, as a newer writer would.
func dmgVersion2(name string) func(map[string][]byte) {
	return func(f map[string][]byte) {
		b := bytes.Clone(f[name])
		binary.LittleEndian.PutUint32(b[8:], 2)
		crcEnd := 48 // segment and index headers: CRC of [0,48) at 48
		if name == "meta" {
			crcEnd = 40
		}
		binary.LittleEndian.PutUint32(b[crcEnd:], dmgCRC(b[:crcEnd]))
		f[name] = b
	}
}

func dmgNextSeg(name string, d int) string {
	var seq uint64
	fmt.Sscanf(strings.TrimPrefix(name, "seg-"), "%x", &seq)
	return fmt.Sprintf("seg-%016x", uint64(int64(seq)+int64(d)))
}

// dmgFirstIDAt returns the first event whose record starts at or after off in the active
// segment (the first id a cut at off damages).
func dmgFirstIDAt(tp *dmgTemplate, off int) uint64 {
	b := tp.files[tp.active]
	p := 64
	var last uint64
	for p+16 <= len(b) {
		n := int(binary.LittleEndian.Uint32(b[p+4:]))
		id := binary.LittleEndian.Uint64(b[p+8:])
		if id == 0 && n == 0 && binary.LittleEndian.Uint32(b[p:]) == 0 {
			return last + 1
		}
		if p+16+n > off {
			return id
		}
		last = id
		p += 16 + (n+7)&^7
	}
	return last + 1
}

// dmgRun applies one case to a copy of tp and checks the outcome; it returns the outcome
// class.
func dmgRun(tt *testing.T, tp *dmgTemplate, c dmgCase) (outcome string) {
	t := &dmgT{T: tt}
	defer func() {
		if t.n > 0 {
			outcome = "FAILED"
		}
	}()
	files := maps.Clone(tp.files)
	c.corrupt(files)
	dir := plWriteImage(tt, files)
	defer os.RemoveAll(dir)
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: panic: %v\n%s", c.name, r, debug.Stack())
			outcome = "panic"
		}
	}()
	l, err := mmaplog.Open(dir, dmgOptions())
	if err != nil {
		if !errors.Is(err, mmaplog.ErrCorrupt) && !errors.Is(err, mmaplog.ErrVersion) {
			t.Errorf("%s: Open: %v, want ErrCorrupt or ErrVersion", c.name, err)
			return "bad error"
		}
		msg := err.Error()
		var ce *mmaplog.CorruptError
		if errors.As(err, &ce) {
			if !strings.HasPrefix(ce.Path, dir) {
				t.Errorf("%s: CorruptError.Path %q is not in the log directory", c.name, ce.Path)
			}
		} else if !strings.Contains(msg, dir+"/") || (!strings.Contains(msg, "offset") && !errors.Is(err, os.ErrNotExist)) {
			// A missing file has no offset to name; every other failure names one.
			t.Errorf("%s: Open error names no file and offset: %v", c.name, err)
		}
		if c.intactBelow != 0 {
			t.Errorf("%s: Open: %v; damage only after event %d must open", c.name, err, c.intactBelow)
		}
		if errors.Is(err, mmaplog.ErrVersion) {
			return "Open: ErrVersion"
		}
		if ce != nil {
			return "Open: ErrCorrupt (*CorruptError)"
		}
		return "Open: ErrCorrupt (wrapped)"
	}
	defer l.Close()
	damaged := 0
	for id, want := range tp.written {
		got, err := l.Get(id)
		switch {
		case err == nil:
			if !bytes.Equal(got, want) {
				t.Errorf("%s: Get(%d) = %q, want %q", c.name, id, plShort(got), plShort(want))
			}
		case errors.Is(err, mmaplog.ErrCorrupt), errors.Is(err, mmaplog.ErrVersion), errors.Is(err, mmaplog.ErrNotFound):
			if c.intactBelow != 0 && id < c.intactBelow {
				t.Errorf("%s: Get(%d): %v; only events from %d on were damaged", c.name, id, err, c.intactBelow)
			}
			if !errors.Is(err, mmaplog.ErrNotFound) || id < tp.syncedNext {
				damaged++
			}
		default:
			t.Errorf("%s: Get(%d): %v", c.name, id, err)
		}
	}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Errorf("%s: IterRange: %v", c.name, err)
	} else {
		for id, b := range it.All() {
			if want, ok := tp.written[id]; !ok || !bytes.Equal(b, want) {
				t.Errorf("%s: IterRange yields %d = %q, want %q", c.name, id, plShort(b), plShort(want))
			}
		}
		if err := it.Err(); err != nil {
			if !errors.Is(err, mmaplog.ErrCorrupt) && !errors.Is(err, mmaplog.ErrVersion) {
				t.Errorf("%s: IterRange: %v", c.name, err)
			}
			damaged++
		}
	}
	rep, err := l.Check()
	if err != nil {
		t.Errorf("%s: Check: %v", c.name, err)
		return "opened"
	}
	if damaged > 0 && rep.OK() {
		t.Errorf("%s: reads found %d damaged or lost synced events, Check reports nothing", c.name, damaged)
	}
	// Writing on goes on or fails with ErrCorrupt.
	if _, err := l.Rotate(); err != nil && !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Errorf("%s: Rotate: %v", c.name, err)
	}
	if _, err := l.Append([]byte("after")); err != nil && !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Errorf("%s: Append: %v", c.name, err)
	}
	switch {
	case damaged > 0:
		return "opened: damage reported by reads and Check"
	case !rep.OK():
		return "opened: all events intact, Check reports a problem"
	}
	return "opened: all events intact"
}

func TestDamagedFiles(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(uint64(s), 0x44414d41))
	start := time.Now()
	tp := dmgBuild(t, "main")
	other := dmgBuild(t, "other")
	cases := dmgCases(tp, other, rng)
	outcomes := map[string]int{}
	kinds := map[string]map[string]int{} // outcome -> kind of case -> count
	for _, c := range cases {
		o := dmgRun(t, tp, c)
		outcomes[o]++
		k := strings.Join(strings.Fields(c.name)[:2], " ")
		if kinds[o] == nil {
			kinds[o] = map[string]int{}
		}
		kinds[o][k]++
	}
	if testing.Verbose() {
		for _, o := range slices.Sorted(maps.Keys(kinds)) {
			t.Logf("%s: %v", o, kinds[o])
		}
	}
	t.Logf("%d cases in %v", len(cases), time.Since(start).Round(time.Millisecond))
	for _, o := range slices.Sorted(maps.Keys(outcomes)) {
		t.Logf("  %-55s %d", o, outcomes[o])
	}
}

var dmgTable = crc32.MakeTable(crc32.Castagnoli)

func dmgCRC(b []byte) uint32 { return crc32.Checksum(b, dmgTable) }

// dmgT reports at most 3 errors per case.
type dmgT struct {
	*testing.T
	n int
}

func (t *dmgT) Errorf(format string, args ...any) {
	t.T.Helper()
	t.n++
	if t.n <= 3 {
		t.T.Errorf(format, args...)
	}
}
