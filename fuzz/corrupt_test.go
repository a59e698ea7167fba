package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
	"github.com/ringlog/ringlog/ringindex"
)

// FuzzCorruptFiles damages a valid, synced log and checks that it fails safely: Open,
// Get, View, IterRange, Stats and (when the input asks) appends, deletes, Rotate, Sync and
// a second Open never panic or fault, return only typed errors, and never return bytes
// other than those written under the id asked for.
//
// Input: a header byte (template%3, then the corrupt* flags), two bytes placing the
// DeleteRange of the write phase in the live range, then up to maxCorruptOps damage
// operations (dm*).
func FuzzCorruptFiles(f *testing.F) {
	tpls := buildTemplates(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(t)()
		d := &decoder{b: data}
		hdr := d.u8()
		delA, delB := d.u8(), d.u8() // the DeleteRange of the write phase
		tpl := tpls[int(hdr&3)%len(tpls)]
		c := &corrupter{t: t, d: d, tpl: tpl, other: tpls[(int(hdr&3)+1)%len(tpls)], files: tpl.clone(), harmless: true}
		for i := 0; i < maxCorruptOps && d.more(); i++ {
			c.damage()
		}
		if tolerated("pending delete") && c.oddPendingDelete() {
			t.Skip("tolerated (RINGLOG_FUZZ_TOLERATE): a state copy with a pending delete outside (oldest, newest)")
		}
		if tolerated("gen parity") && c.oddGen() {
			t.Skip("tolerated (RINGLOG_FUZZ_TOLERATE): a valid state copy whose gen selects the other copy")
		}
		dir := t.TempDir()
		c.write(dir)
		v := &verifier{t: t, dir: dir, written: tpl.writtenCopy(), trace: c.trace, forged: c.forged}
		opts := &mmaplog.Options{SegmentSize: opsSegmentSize, IndexCapacity: opsIndexCapacity, NoPrefault: hdr&corruptPrefault == 0}
		if hdr&corruptNilOptions != 0 {
			opts = nil
		}
		l := v.open(opts)
		if c.harmless && l == nil {
			v.fatalf("Open failed on a log whose files were only extended")
		}
		if l == nil {
			return
		}
		if c.harmless {
			v.intact(l, tpl)
		}
		v.keeps(l, tpl, c.files)
		v.readAll(l)
		if hdr&corruptWrite != 0 {
			v.writes(l, delA, delB)
			v.readAll(l)
		}
		_ = l.Close()
		if l = v.open(opts); l != nil {
			v.readAll(l)
			_ = l.Close()
		}
	})
}

// Header flags of FuzzCorruptFiles (above the template bits).
const (
	corruptPrefault   = 1 << 2 // open without Options.NoPrefault
	corruptNilOptions = 1 << 3 // open with nil options (the segment size comes from the meta file)
	corruptWrite      = 1 << 4 // after the reads, append, delete, rotate and sync, then read again
	maxCorruptOps     = 24
)

// template is a valid log kept in memory: its files and every payload written under each
// id (each template writes an id once).
type template struct {
	name    string
	files   map[string][]byte
	written map[uint64][]byte
	live    []uint64 // the live ids, in order
}

func (tp *template) clone() map[string][]byte {
	m := make(map[string][]byte, len(tp.files))
	for k, v := range tp.files {
		m[k] = slices.Clone(v)
	}
	return m
}

func (tp *template) writtenCopy() map[uint64][][]byte {
	m := make(map[uint64][][]byte, len(tp.written))
	for k, v := range tp.written {
		m[k] = [][]byte{v}
	}
	return m
}

// buildTemplates makes the valid logs that the inputs damage, once per process:
//
//	0 "basic"    300 events of 0..699 bytes over several segments (single appends and
//	             batches across segment boundaries), a Rotate, an interior delete and a
//	             prefix delete, Sync
//	1 "growing"  520 small single appends: the index is growing into a second file when
//	             the log is closed; an interior delete, Sync
//	2 "wrapped"  1100 events, a prefix delete of the first 800 (the ring has wrapped past
//	             the deleted ids), an interior delete, Sync
func buildTemplates(f testing.TB) []*template {
	build := func(name string, fill func(l *mmaplog.Log, put func(id uint64, p []byte))) *template {
		dir := filepath.Join(f.TempDir(), name)
		l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: opsSegmentSize, IndexCapacity: opsIndexCapacity, NoPrefault: true})
		if err != nil {
			f.Fatalf("template %s: %v", name, err)
		}
		tp := &template{name: name, files: map[string][]byte{}, written: map[uint64][]byte{}}
		fill(l, func(id uint64, p []byte) { tp.written[id] = p })
		it, err := l.IterRange(0, mmaplog.Latest)
		if err != nil {
			f.Fatalf("template %s: %v", name, err)
		}
		for id := range it.All() {
			tp.live = append(tp.live, id)
		}
		if err := l.Sync(); err != nil {
			f.Fatalf("template %s: Sync: %v", name, err)
		}
		if err := l.Close(); err != nil {
			f.Fatalf("template %s: Close: %v", name, err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() == "lock" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			tp.files[e.Name()] = b
		}
		return tp
	}
	must := func(err error) {
		if err != nil {
			f.Fatalf("template: %v", err)
		}
	}
	appendOne := func(l *mmaplog.Log, put func(uint64, []byte), size int) {
		id, err := l.NextEventID()
		must(err)
		p := fillPayload(size, byte(id), id)
		must(l.AppendWithID(id, p))
		put(id, p)
	}
	appendBatch := func(l *mmaplog.Log, put func(uint64, []byte), sizes ...int) {
		ev := make([][]byte, len(sizes))
		next, err := l.NextEventID()
		must(err)
		for i, n := range sizes {
			ev[i] = fillPayload(n, byte(next), next+uint64(i))
		}
		first, err := l.AppendBatch(ev)
		must(err)
		for i, p := range ev {
			put(first+uint64(i), p)
		}
	}
	del := func(l *mmaplog.Log, s, e uint64) {
		_, err := l.DeleteRange(s, e)
		must(err)
	}
	return []*template{
		build("basic", func(l *mmaplog.Log, put func(uint64, []byte)) {
			for i := range 150 {
				appendOne(l, put, i*37%700)
			}
			_, err := l.Rotate()
			must(err)
			for i := range 15 {
				appendBatch(l, put, i*101%700, 2900, i*13%64, (i*53)%500, 3, 0, 17, 250, 600, 1200)
			}
			del(l, 120, 139)
			del(l, 0, 9)
		}),
		build("growing", func(l *mmaplog.Log, put func(uint64, []byte)) {
			for i := range 520 {
				appendOne(l, put, i%40)
			}
			del(l, 200, 219)
		}),
		build("wrapped", func(l *mmaplog.Log, put func(uint64, []byte)) {
			for i := range 11 {
				sizes := make([]int, 100)
				for j := range sizes {
					sizes[j] = (i*100 + j) % 90
				}
				appendBatch(l, put, sizes...)
			}
			del(l, 0, 799)
			del(l, 900, 949)
		}),
	}
}

// corrupter applies the damage operations of an input to a copy of a template's files.
type corrupter struct {
	harmless bool // only dmExtend so far: the log must open and read back intact
	forged   bool // a state word was rewritten with a valid CRC: its counts may lie
	t        *testing.T
	d        *decoder
	tpl      *template
	other    *template // a different log: source of foreign files
	files    map[string][]byte
	trace    []string
}

// Damage operations. Each starts with its kind byte; "file" is one byte choosing among the
// files present, sorted by name (meta, index-*, seg-*).
const (
	dmWrite      = iota // file, offset u32 % (size+64), count%8+1, bytes: overwrite raw bytes
	dmTruncate          // file, mode: cut the file (to 0, size-1, half, header-1, size-4096, or u32 % size)
	dmExtend            // file, n: add (n%4+1)*4096 bytes, or 1..127 bytes when n >= 0x80
	dmRemove            // file: delete it
	dmCommit            // delta int8 (0: a raw u64 follows): move the commit word of meta
	dmState             // copy, field, mode, value: rewrite a state word and fix its CRC
	dmSlot              // id selector, mode, value: damage the index slot of an id
	dmRecord            // id selector, position u16, xor: damage one byte of an id's record
	dmSegHeader         // file, field, value: rewrite a segment header field and fix its CRC
	dmIdxHeader         // file, field, value: rewrite an index header field and fix its CRC
	dmMetaHeader        // field, value: rewrite a meta header field and fix its CRC
	dmForeign           // file: replace it by the same-kind file of another log
	numDamage
)

func (c *corrupter) names() []string {
	ns := make([]string, 0, len(c.files))
	for n := range c.files {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

func (c *corrupter) pickFile() string {
	ns := c.names()
	b := c.d.u8()
	if len(ns) == 0 {
		return ""
	}
	return ns[int(b)%len(ns)]
}

// pickFileOf picks among the files whose name starts with prefix.
func (c *corrupter) pickFileOf(prefix string) string {
	var ns []string
	for _, n := range c.names() {
		if strings.HasPrefix(n, prefix) {
			ns = append(ns, n)
		}
	}
	b := c.d.u8()
	if len(ns) == 0 {
		return ""
	}
	return ns[int(b)%len(ns)]
}

func (c *corrupter) tracef(format string, args ...any) {
	c.trace = append(c.trace, fmt.Sprintf(format, args...))
}

// value reads a mode byte and returns a new value for a field holding cur: cur+delta,
// raw, zero, all ones or a bit flip.
func (c *corrupter) value(cur uint64) uint64 {
	switch c.d.u8() % 5 {
	case 0:
		return cur + uint64(int64(int8(c.d.u8())))
	case 1:
		return c.d.u64()
	case 2:
		return 0
	case 3:
		return math.MaxUint64
	default:
		return cur ^ 1<<(c.d.u8()%64)
	}
}

func (c *corrupter) damage() {
	kind := c.d.u8() % numDamage
	if kind != dmExtend {
		c.harmless = false
	}
	switch kind {
	case dmWrite:
		name := c.pickFile()
		b := c.files[name]
		off := int(c.d.u32() % uint32(len(b)+64))
		n := int(c.d.u8()%8) + 1
		p := make([]byte, n)
		for i := range p {
			p[i] = c.d.u8()
		}
		if name == "" {
			return
		}
		if off+n > len(b) {
			b = append(b, make([]byte, off+n-len(b))...)
		}
		copy(b[off:], p)
		c.files[name] = b
		c.tracef("write %s[%d:%d] = %x", name, off, off+n, p)
	case dmTruncate:
		name := c.pickFile()
		mode := c.d.u8() % 6
		raw := c.d.u32()
		b := c.files[name]
		if name == "" || len(b) == 0 {
			return
		}
		var n int
		switch mode {
		case 0:
			n = 0
		case 1:
			n = len(b) - 1
		case 2:
			n = len(b) / 2
		case 3:
			n = 63 // one short of a segment header; inside the meta and index headers
			if !strings.HasPrefix(name, "seg-") {
				n = 4095
			}
		case 4:
			n = max(len(b)-4096, 0)
		default:
			n = int(raw % uint32(len(b)))
		}
		n = min(n, len(b))
		c.files[name] = b[:n]
		c.tracef("truncate %s to %d (was %d)", name, n, len(b))
	case dmExtend:
		name := c.pickFile()
		k := c.d.u8()
		if name == "" {
			return
		}
		n := (int(k%4) + 1) * 4096
		if k >= 0x80 {
			n = int(k & 0x7f)
		}
		c.files[name] = append(c.files[name], make([]byte, n)...)
		c.tracef("extend %s by %d", name, n)
	case dmRemove:
		name := c.pickFile()
		if name == "" {
			return
		}
		delete(c.files, name)
		c.tracef("remove %s", name)
	case dmCommit:
		delta := int8(c.d.u8())
		m := c.files["meta"]
		var g uint64
		if delta == 0 {
			g = c.d.u64()
		}
		if len(m) < 136 {
			return
		}
		if delta != 0 {
			g = binary.LittleEndian.Uint64(m[128:]) + uint64(int64(delta))
		}
		binary.LittleEndian.PutUint64(m[128:], g)
		c.tracef("commit = %d", g)
	case dmState:
		which := c.d.u8()
		field := int(c.d.u8() % 17)
		m := c.files["meta"]
		var cur uint64
		off := 0
		if len(m) >= 4096 {
			g := binary.LittleEndian.Uint64(m[128:])
			off = 1024 + 1024*int((g>>16+uint64(which&1))&1)
			cur = binary.LittleEndian.Uint64(m[off+8*field:])
		}
		v := c.value(cur)
		if off == 0 {
			return
		}
		c.forged = true
		binary.LittleEndian.PutUint64(m[off+8*field:], v)
		binary.LittleEndian.PutUint32(m[off+152:], crc32.Checksum(m[off:off+152], crc32.MakeTable(crc32.Castagnoli)))
		binary.LittleEndian.PutUint32(m[off+156:], 0)
		c.tracef("state@%d word %d = %d (was %d), crc fixed", off, field, v, cur)
	case dmSlot:
		id := c.pickID()
		mode := c.d.u8() % 6
		raw := c.d.u64()
		name, pos, ok := c.slotPos(id)
		if !ok {
			return
		}
		b := c.files[name]
		s := binary.LittleEndian.Uint64(b[pos:])
		switch mode {
		case 0:
			s ^= 1 << 63
		case 1:
			s = 0
		case 2:
			s ^= raw
		case 3:
			s = s&^0xffffffff | uint64(uint32(s)+uint32(int32(int8(raw))))
		case 4:
			s += uint64(int64(int8(raw))) << 32
		default:
			if _, p2, ok := c.slotPos(id + 1 + raw%64); ok {
				s = binary.LittleEndian.Uint64(b[p2:])
			}
		}
		binary.LittleEndian.PutUint64(b[pos:], s)
		c.tracef("slot of %d in %s = %v", id, name, ringindex.Slot(s))
	case dmRecord:
		id := c.pickID()
		at := int(c.d.u16())
		x := c.d.u8() | 1
		name, off, ok := c.recordPos(id)
		if !ok {
			return
		}
		b := c.files[name]
		n := 16
		if off+8 <= len(b) {
			n += int(binary.LittleEndian.Uint32(b[off+4:]))
		}
		p := off + at%n
		if p >= len(b) {
			return
		}
		b[p] ^= x
		c.tracef("record of %d: %s[%d] ^= %#x", id, name, p, x)
	case dmSegHeader:
		name := c.pickFileOf("seg-")
		c.header(name, []int{8, 12, 16, 24, 32}, []int{4, 4, 8, 8, 8}, 48)
	case dmIdxHeader:
		name := c.pickFileOf("index-")
		c.header(name, []int{8, 12, 16, 24, 40}, []int{4, 4, 8, 8, 8}, 48)
	case dmMetaHeader:
		c.header("meta", []int{8, 12, 16, 32}, []int{4, 4, 8, 8}, 40)
	case dmForeign:
		name := c.pickFile()
		if name == "" {
			return
		}
		kind := strings.TrimRight(name, "0123456789abcdef")
		src, ok := c.other.files[name]
		if !ok {
			for n, b := range c.other.files {
				if strings.HasPrefix(n, kind) && (!ok || n < name) {
					src, ok = b, true
				}
			}
		}
		if !ok {
			return
		}
		c.files[name] = slices.Clone(src)
		c.tracef("replace %s by %s's", name, c.other.name)
	}
}

// header rewrites one field (offsets/sizes) of a file header and recomputes the header
// CRC stored at crcOff over [0, crcOff).
func (c *corrupter) header(name string, offs, sizes []int, crcOff int) {
	i := int(c.d.u8()) % len(offs)
	b := c.files[name]
	var cur uint64
	if len(b) >= crcOff+4 {
		if sizes[i] == 4 {
			cur = uint64(binary.LittleEndian.Uint32(b[offs[i]:]))
		} else {
			cur = binary.LittleEndian.Uint64(b[offs[i]:])
		}
	}
	v := c.value(cur)
	if name == "" || len(b) < crcOff+4 {
		return
	}
	if sizes[i] == 4 {
		binary.LittleEndian.PutUint32(b[offs[i]:], uint32(v))
	} else {
		binary.LittleEndian.PutUint64(b[offs[i]:], v)
	}
	binary.LittleEndian.PutUint32(b[crcOff:], crc32.Checksum(b[:crcOff], crc32.MakeTable(crc32.Castagnoli)))
	c.tracef("header %s@%d = %d (was %d), crc fixed", name, offs[i], v, cur)
}

// pickID: a byte k; k < 0xf0 picks the written ids in order (k*len/0xf0), else a raw u64.
func (c *corrupter) pickID() uint64 {
	k := c.d.u8()
	if k >= 0xf0 {
		return c.d.u64()
	}
	ids := make([]uint64, 0, len(c.tpl.written))
	for id := range c.tpl.written {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[int(k)*len(ids)/0xf0]
}

// tolerated reports whether msg contains one of the comma-separated substrings of
// $RINGLOG_FUZZ_TOLERATE: failures of a known, reported bug that a fuzzing session should
// skip so as to find others.
func tolerated(msg string) bool {
	for _, s := range strings.Split(os.Getenv("RINGLOG_FUZZ_TOLERATE"), ",") {
		if s != "" && strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// oddPendingDelete reports whether a state copy holds a pending delete that is not
// strictly inside (oldest, newest) or not shorter than the index capacity.
func (c *corrupter) oddPendingDelete() bool {
	m := c.files["meta"]
	if len(m) < 4096 {
		return false
	}
	for _, off := range []int{1024, 2048} {
		w := func(i int) uint64 { return binary.LittleEndian.Uint64(m[off+8*i:]) }
		start, end, oldest, newest, capacity := w(14), w(15), w(2), w(3), w(10)
		if end >= start && !(oldest < start && end < newest && end-start < capacity) {
			return true
		}
	}
	return false
}

// oddGen reports whether a state copy with a valid CRC holds a generation whose parity
// names the other copy.
func (c *corrupter) oddGen() bool {
	m := c.files["meta"]
	if len(m) < 4096 {
		return false
	}
	for i, off := range []int{1024, 2048} {
		crc := crc32.Checksum(m[off:off+152], crc32.MakeTable(crc32.Castagnoli))
		valid := binary.LittleEndian.Uint32(m[off+152:]) == crc && binary.LittleEndian.Uint32(m[off+156:]) == 0
		if valid && int(binary.LittleEndian.Uint64(m[off:])>>16&1) != i {
			return true
		}
	}
	return false
}

// state returns the words of the state copy the commit word selects (as found now).
func (c *corrupter) state() ([20]uint64, bool) {
	var w [20]uint64
	m := c.files["meta"]
	if len(m) < 4096 {
		return w, false
	}
	g := binary.LittleEndian.Uint64(m[128:])
	off := 1024 + 1024*int(g>>16&1) // the commit word is generation<<16 | tail count
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(m[off+8*i:])
	}
	return w, true
}

// slotPos locates the slot of id in the current index file.
func (c *corrupter) slotPos(id uint64) (string, int, bool) {
	st, ok := c.state()
	if !ok {
		return "", 0, false
	}
	name := ringindex.FileName(st[9])
	b := c.files[name]
	if len(b) < ringindex.HeaderSize {
		return "", 0, false
	}
	capacity := binary.LittleEndian.Uint64(b[16:])
	if capacity == 0 || capacity&(capacity-1) != 0 {
		return "", 0, false
	}
	pos := uint64(ringindex.HeaderSize) + 8*(id&(capacity-1))
	if pos+8 > uint64(len(b)) {
		return "", 0, false
	}
	return name, int(pos), true
}

// recordPos locates the record of id through its slot.
func (c *corrupter) recordPos(id uint64) (string, int, bool) {
	st, ok := c.state()
	name, pos, ok2 := c.slotPos(id)
	if !ok || !ok2 {
		return "", 0, false
	}
	s := ringindex.Slot(binary.LittleEndian.Uint64(c.files[name][pos:]))
	seg := fmt.Sprintf("seg-%016x", s.FullSeq(st[7]))
	off := s.Offset()
	if b := c.files[seg]; s.IsZero() || off >= uint64(len(b)) {
		return "", 0, false
	}
	return seg, int(off), true
}

func (c *corrupter) write(dir string) {
	for name, b := range c.files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o640); err != nil {
			c.t.Fatal(err)
		}
	}
}

// verifier checks a damaged log through the public API.
type verifier struct {
	t       *testing.T
	dir     string
	written map[uint64][][]byte // every payload ever written under each id
	trace   []string
	counter uint64
	forged  bool // the state was forged: do not hold the log to consistent counts
}

func (v *verifier) fatalf(format string, args ...any) {
	v.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if tolerated(msg) {
		v.t.Skipf("tolerated (RINGLOG_FUZZ_TOLERATE): %s", msg)
	}
	v.t.Fatalf("%s\ndamage:\n  %s", msg, strings.Join(v.trace, "\n  "))
}

// typed reports whether err is one of the errors a damaged log may return.
func typed(err error, also ...error) bool {
	for _, s := range append([]error{mmaplog.ErrCorrupt, mmaplog.ErrVersion}, also...) {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func (v *verifier) open(opts *mmaplog.Options) *mmaplog.Log {
	v.t.Helper()
	l, err := mmaplog.Open(v.dir, opts)
	if err != nil {
		if !typed(err, mmaplog.ErrInvalidOptions) {
			v.fatalf("Open: untyped error %v", err)
		}
		return nil
	}
	return l
}

// wasWritten reports whether p is a payload written under id.
func (v *verifier) wasWritten(id uint64, p []byte) bool {
	for _, w := range v.written[id] {
		if bytes.Equal(w, p) {
			return true
		}
	}
	return false
}

// observe returns the live range the log reports and checks that it is consistent.
func (v *verifier) observe(l *mmaplog.Log, when string) (oldest, next uint64, empty bool) {
	v.t.Helper()
	next, err := l.NextEventID()
	if err != nil {
		v.fatalf("%s: NextEventID: %v", when, err)
	}
	oldest, err1 := l.OldestEventID()
	newest, err2 := l.NewestEventID()
	st, err3 := l.Stats()
	if err3 != nil {
		v.fatalf("%s: Stats: %v", when, err3)
	}
	if errors.Is(err1, mmaplog.ErrEmpty) && errors.Is(err2, mmaplog.ErrEmpty) {
		if st.EventCount != 0 && !v.forged {
			v.fatalf("%s: empty log with Stats.EventCount %d", when, st.EventCount)
		}
		return next, next, true
	}
	if err1 != nil || err2 != nil {
		v.fatalf("%s: OldestEventID %v, NewestEventID %v", when, err1, err2)
	}
	if v.forged { // a forged state may hold any counts that its own validation accepts
		return oldest, next, false
	}
	if !(oldest <= newest && newest < next) || st.EventCount == 0 || st.EventCount > next-oldest {
		v.fatalf("%s: inconsistent live range: oldest %d newest %d next %d count %d", when, oldest, newest, next, st.EventCount)
	}
	return oldest, next, false
}

// intact checks that every live event of the template reads back exactly.
func (v *verifier) intact(l *mmaplog.Log, tpl *template) {
	v.t.Helper()
	for _, id := range tpl.live {
		if b, err := l.Get(id); err != nil || !bytes.Equal(b, tpl.written[id]) {
			v.fatalf("undamaged log: Get(%d) = %d bytes, %v; want its %d bytes", id, len(b), err, len(tpl.written[id]))
		}
	}
	if st, err := l.Stats(); err != nil || st.EventCount != uint64(len(tpl.live)) {
		v.fatalf("undamaged log: Stats %+v, %v; want %d events", st, err, len(tpl.live))
	}
}

// keeps checks the rule of damage in one boot: a read-write Open loses no event whose
// bytes were not touched. An event of the template is untouched when the meta file is
// byte for byte the template's (its committed state says the event is live, below
// NextEventID), every index file has the template's length, header and slot of the event,
// and its segment file the template's length, header and record; such an event must read back exactly,
// whatever else was damaged.
func (v *verifier) keeps(l *mmaplog.Log, tpl *template, files map[string][]byte) {
	v.t.Helper()
	same := func(name string, lo, hi int) bool { // and the file keeps its length
		a, b := tpl.files[name], files[name]
		return a != nil && len(a) == len(b) && hi <= len(a) && bytes.Equal(a[lo:hi], b[lo:hi])
	}
	if !same("meta", 0, 4096) {
		return
	}
	orig := &corrupter{files: tpl.files}
	for _, id := range tpl.live {
		seg, off, ok := orig.recordPos(id)
		if !ok {
			continue
		}
		untouched := same(seg, 0, segHeaderLen) && same(seg, off, off+recordHeaderLen+len(tpl.written[id]))
		for name := range tpl.files {
			if strings.HasPrefix(name, "index-") {
				pos := ringindex.HeaderSize + 8*int(id&(indexCapacityOf(tpl.files[name])-1))
				untouched = untouched && same(name, 0, ringindex.HeaderSize) && same(name, pos, pos+8)
			}
		}
		if !untouched {
			continue
		}
		if b, err := l.Get(id); err != nil || !bytes.Equal(b, tpl.written[id]) {
			v.fatalf("Open lost event %d, whose bytes were not touched and which lies below NextEventID: Get = %d bytes, %v", id, len(b), err)
		}
	}
}

// indexCapacityOf returns the capacity field of an index file's header (1 when unreadable).
func indexCapacityOf(b []byte) uint64 {
	if len(b) < 24 {
		return 1
	}
	if c := binary.LittleEndian.Uint64(b[16:]); c != 0 && c&(c-1) == 0 {
		return c
	}
	return 1
}

// Sizes of the segment header and of a record header (docs/FORMAT.md section 3).
const (
	segHeaderLen    = 64
	recordHeaderLen = 16
)

// readAll gets every id around the written ids and the reported live range, views a few,
// and iterates the log.
func (v *verifier) readAll(l *mmaplog.Log) {
	v.t.Helper()
	oldest, next, _ := v.observe(l, "after Open")
	var lo, hi uint64 = math.MaxUint64, 0
	for id := range v.written {
		lo, hi = min(lo, id), max(hi, id)
	}
	ranges := [][2]uint64{{lo - min(lo, 2), hi + 3}, {oldest - min(oldest, 2), next + 2}}
	for _, r := range ranges {
		if r[1] < r[0] || r[1]-r[0] > maxScan {
			r[1] = r[0] + maxScan
		}
		for id := r[0]; id < r[1]; id++ {
			b, err := l.Get(id)
			if err != nil {
				if !typed(err, mmaplog.ErrNotFound) {
					v.fatalf("Get(%d): untyped error %v", id, err)
				}
				continue
			}
			if !v.wasWritten(id, b) {
				v.fatalf("Get(%d) returned %d bytes %.16x never written under that id", id, len(b), b)
			}
			if id%7 == 0 {
				err := l.View(id, func(p []byte) error {
					if !v.wasWritten(id, p) {
						v.fatalf("View(%d) saw %d bytes never written under that id", id, len(p))
					}
					return nil
				})
				if err != nil && !typed(err, mmaplog.ErrNotFound) {
					v.fatalf("View(%d): untyped error %v", id, err)
				}
			}
		}
	}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		v.fatalf("IterRange: %v", err)
	}
	n, last := 0, uint64(0)
	for id, p := range it.All() {
		if n > 0 && id <= last {
			v.fatalf("iteration: id %d after %d", id, last)
		}
		if !v.wasWritten(id, p) {
			v.fatalf("iteration: event %d has %d bytes never written under that id", id, len(p))
		}
		last = id
		if n++; n > 2*maxScan {
			break
		}
	}
	if err := it.Err(); err != nil && !typed(err) {
		v.fatalf("iteration: untyped error %v", err)
	}
}

// writes runs writer calls on the damaged log: two appends (one a batch across a segment
// boundary), a delete chosen by the input, Rotate and Sync. Errors must be typed; a
// successful append must read back.
func (v *verifier) writes(l *mmaplog.Log, delA, delB byte) {
	v.t.Helper()
	check := func(what string, err error) bool {
		if err != nil && !typed(err, mmaplog.ErrNotFound, mmaplog.ErrOutOfOrder) {
			v.fatalf("%s: untyped error %v", what, err)
		}
		v.observe(l, "after "+what)
		return err == nil
	}
	appended := func(first uint64, ev [][]byte) {
		for i, p := range ev {
			id := first + uint64(i)
			v.written[id] = append(v.written[id], p)
			b, err := l.Get(id)
			if err != nil && !typed(err, mmaplog.ErrNotFound) {
				v.fatalf("Get(%d) after append: untyped error %v", id, err)
			}
			if err == nil && !bytes.Equal(b, p) {
				v.fatalf("Get(%d) after append returned %d bytes, want the %d appended", id, len(b), len(p))
			}
		}
	}
	payload := func(n int) []byte {
		v.counter++
		return fillPayload(n, 0xAA, 1<<40+v.counter)
	}
	ev := [][]byte{payload(100)}
	id, err := l.Append(ev[0])
	if check("Append", err) {
		appended(id, ev)
	}
	ev = [][]byte{payload(2900), payload(2900), payload(2900), payload(2900), payload(2900), payload(2900)}
	id, err = l.AppendBatch(ev)
	if check("AppendBatch", err) {
		appended(id, ev)
	}
	oldest, next, empty := v.observe(l, "before DeleteRange")
	if !empty {
		span := next - oldest
		a := oldest + uint64(delA)*span/256
		b := a + uint64(delB)*span/256
		if b >= next {
			b = mmaplog.Latest
		}
		_, err = l.DeleteRange(a, b)
		check(fmt.Sprintf("DeleteRange(%d, %d)", a, b), err)
	}
	_, err = l.Rotate()
	check("Rotate", err)
	ev = [][]byte{payload(10)}
	if id, err = l.Append(ev[0]); check("Append after Rotate", err) {
		appended(id, ev)
	}
	check("Sync", l.Sync())
}
