package fuzz

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/internal/record"
	"github.com/ringlog/ringlog/ringindex"
)

// TestSeedCorpus checks that the seed files under testdata/fuzz/<Target>/seed-* are the
// encodings of the seed programs below; with -update-seeds it writes them. The programs
// name the cases worth keeping in every corpus.
func TestSeedCorpus(t *testing.T) {
	t.Run("FuzzOps", func(t *testing.T) { syncSeeds(t, "FuzzOps", opsSeeds(false)) })
	t.Run("FuzzMultiHandle", func(t *testing.T) { syncSeeds(t, "FuzzMultiHandle", append(opsSeeds(true), multiSeeds()...)) })
	t.Run("FuzzCorruptFiles", func(t *testing.T) { syncSeeds(t, "FuzzCorruptFiles", corruptSeeds(buildTemplates(t))) })
	t.Run("FuzzRecordDecode", func(t *testing.T) { syncSeeds(t, "FuzzRecordDecode", recordSeeds()) })
	t.Run("FuzzIndexSlot", func(t *testing.T) { syncSeeds(t, "FuzzIndexSlot", slotSeeds()) })
}

// prog writes an operation program (the encoding runProgram decodes). With alt, the
// operations alternate between the two handles of FuzzMultiHandle.
type prog struct {
	e   encoder
	h   int // handle of the next operation
	alt bool
}

func newProg(flags byte, alt bool) *prog {
	p := &prog{alt: alt}
	p.e.u8(flags)
	return p
}

func (p *prog) op(k opKind) *encoder {
	p.e.u8(opByte(k, p.h))
	if p.alt {
		p.h ^= 1
	}
	return &p.e
}

// on makes the next operation run on handle h.
func (p *prog) on(h int) *prog { p.h = h; return p }

func (p *prog) bytes() []byte { return slices.Clone(p.e.b) }

// id encodes an id selector with its extra bytes.
func id(sel int, extra ...byte) []byte { return append([]byte{byte(sel)}, extra...) }

func (p *prog) appendID(gap byte, size int, fill byte) *prog {
	p.op(opAppendWithID).u8(gap).payloadSize(size).u8(fill)
	return p
}

func (p *prog) appendAny(sel []byte, size int) *prog {
	p.op(opAppendWithIDAny).raw(sel).payloadSize(size).u8(byte(size))
	return p
}

// batchWithIDs: sel nil means NextEventID (+gap on an empty log).
func (p *prog) batchWithIDs(sel []byte, gap byte, sizes ...int) *prog {
	e := p.op(opAppendBatchWithIDs)
	if sel != nil {
		e.u8(1).raw(sel)
	} else {
		e.u8(0).u8(gap)
	}
	e.u8(byte(len(sizes)))
	for i, n := range sizes {
		e.payloadSize(n).u8(byte(i))
	}
	return p
}

func (p *prog) append1(size int, fill byte) *prog {
	p.op(opAppend).payloadSize(size).u8(fill)
	return p
}

func (p *prog) appendBatch(sizes ...int) *prog {
	e := p.op(opAppendBatch).u8(byte(len(sizes)))
	for i, n := range sizes {
		e.payloadSize(n).u8(byte(i * 3))
	}
	return p
}

func (p *prog) bulk(n int, withID bool, maxSize, fill byte) *prog {
	flags := byte(0)
	if withID {
		flags = 1
	}
	p.op(opBulk).u16(uint16(n - 1)).u8(flags).u8(maxSize).u8(fill)
	return p
}

func (p *prog) get(sel []byte) *prog { p.op(opGet).raw(sel); return p }

func (p *prog) view(sel []byte, fail bool) *prog {
	b := byte(0)
	if fail {
		b = 1
	}
	p.op(opView).raw(sel).u8(b)
	return p
}

// rng encodes a range: start selector, end kind (0 Latest, 1 selector, 2 start+k, 3 start,
// 4 start-1) and the end's bytes.
func rng(start []byte, endKind byte, end ...byte) []byte {
	return append(append(slices.Clone(start), endKind), end...)
}

func (p *prog) iterRange(r []byte, stop byte) *prog { p.op(opIterRange).raw(r).u8(stop); return p }

func (p *prog) iterOpen(slot byte, r []byte) *prog { p.op(opIterOpen).u8(slot).raw(r); return p }

func (p *prog) iterStep(slot, steps byte) *prog { p.op(opIterStep).u8(slot).u8(steps - 1); return p }

func (p *prog) del(kind byte, args ...byte) *prog { p.op(opDelete).u8(kind).raw(args); return p }

func (p *prog) rotate() *prog { p.op(opRotate); return p }

func (p *prog) sync() *prog { p.op(opSync); return p }

func (p *prog) reopen(keepIters bool) *prog {
	b := byte(0)
	if keepIters {
		b = 1
	}
	p.op(opReopen).u8(b)
	return p
}

func (p *prog) invalid(kind byte) *prog { p.op(opInvalid).u8(kind); return p }

func (p *prog) checkAll() *prog { p.op(opCheckAll); return p }

// The cursor and retention operations (programs with flagExtOps). name is an index into
// modelcheck.Names (0..3 valid, 4..7 invalid).

func (p *prog) cursor(slot, name byte) *prog { p.op(opCursorOpen).u8(slot).u8(name); return p }

func (p *prog) commit(slot, kind, k byte) *prog {
	p.op(opCursorCommit).u8(slot).u8(kind).u8(k)
	return p
}

func (p *prog) commitAt(slot byte, sel []byte) *prog {
	p.op(opCursorCommit).u8(slot).u8(commitAny).raw(sel)
	return p
}

func (p *prog) load(slot byte) *prog { p.op(opCursorLoad).u8(slot); return p }

func (p *prog) cursors() *prog { p.op(opCursorList); return p }

func (p *prog) delCursor(name byte) *prog { p.op(opCursorDelete).u8(name); return p }

// follow: max events (0: to the tail), commit what was read.
func (p *prog) follow(slot, max byte, commit bool) *prog {
	c := byte(0)
	if commit {
		c = 1
	}
	p.op(opCursorRead).u8(slot).u8(max).u8(c)
	return p
}

func (p *prog) catchUp(x, jitter byte) *prog { p.op(opCursorCatchUp).u8(x).u8(jitter); return p }

// retention: ret* bits, MaxEvents-1, MaxBytes segments-2.
func (p *prog) retention(kind, maxEvents1, segs2 byte) *prog {
	p.op(opSetRetention).u8(kind).u8(maxEvents1).u8(segs2)
	return p
}

// big appends n events of 2900 bytes (5 to a segment), one by one.
func (p *prog) big(n int) *prog {
	for i := range n {
		p.append1(2900, byte(i))
	}
	return p
}

// opsSeeds are the seed programs of FuzzOps (and, alternating handles, of FuzzMultiHandle).
func opsSeeds(alt bool) []seed {
	var seeds []seed
	add := func(name string, p *prog) {
		if alt {
			name = "alt-" + name
		}
		seeds = append(seeds, seed{name, []any{p.bytes()}})
	}
	np := func() *prog { return newProg(flagNoPrefault, alt) }

	p := np()
	p.get(id(idNext)).get(id(idZero)).view(id(idOldest), false).iterRange(rng(id(idZero), 0), 0)
	p.iterOpen(0, rng(id(idZero), 0)).iterStep(0, 2).del(delAll, 0).del(delReversed, id(idNext)[0], 3)
	p.rotate().sync().reopen(false).checkAll()
	add("empty-log", p)

	p = np()
	p.appendBatch(2900, 2900, 2900, 2900, 2900, 2900, 2900, 2900).get(id(idOldest)).get(id(idNewest))
	p.batchWithIDs(nil, 0, 3000, 10, 3000, 0, 3000, 2999).iterRange(rng(id(idZero), 0), 0).checkAll()
	add("batch-across-segments", p)

	p = np()
	p.appendID(0, 100, 1).appendBatch(1000, 2000, 3000, 500).append1(7, 2).del(delAll, 0)
	p.get(id(idOldest)).iterRange(rng(id(idZero), 0), 0).append1(5, 3).appendID(0, 0, 4)
	p.del(delAll, 1).appendID(9, 12, 5).checkAll()
	add("delete-everything", p)

	p = np()
	for i := range 10 {
		p.appendID(0, 300*i, byte(i))
	}
	p.del(delSuffix, 128, 0).get(id(idNewestPlus1)).appendID(0, 2000, 7).appendID(0, 11, 8)
	p.batchWithIDs(nil, 0, 2500, 2500, 2500, 2500, 2500, 2500, 2500).del(delSuffix, 250, 1)
	p.append1(1, 9).iterRange(rng(id(idZero), 0), 0).checkAll()
	add("suffix-delete-then-reappend", p)

	p = np()
	p.appendBatch(500, 500, 500, 500, 500, 500, 500, 500).appendBatch(700, 700, 700, 700, 700, 700, 700, 700)
	p.appendBatch(100, 200, 300, 400).del(delInterior, 60, 6).get(id(idInRange, 90)).iterRange(rng(id(idZero), 0), 0)
	p.del(delPrefix, 0, 200).get(id(idOldest)).iterRange(rng(id(idZero), 0), 0).del(delInterior, 128, 3)
	p.del(delPrefix, 1, 255).checkAll()
	add("interior-delete-then-prefix-past-it", p)

	p = np()
	p.appendBatch(1500, 1500, 1500, 1500, 1500, 1500).appendID(0, 64, 1).reopen(false).get(id(idNewest))
	p.iterOpen(1, rng(id(idZero), 0)).iterStep(1, 3).reopen(true).append1(2000, 5).rotate().reopen(false)
	p.del(delInterior, 50, 2).sync().reopen(false).checkAll()
	add("close-and-reopen", p)

	p = np()
	p.bulk(1000, true, 15, 1).del(delPrefix, 0, 240).bulk(1000, false, 31, 2).checkAll()
	p.del(delInterior, 100, 20).bulk(700, false, 3, 3).del(delPrefix, 0, 250).reopen(false)
	p.bulk(1024, true, 0, 4).get(id(idInRange, 17)).checkAll()
	add("index-growth-and-ring-wrap", p)

	p = np()
	p.appendAny(id(idNextMinus1), 10).appendAny(id(idGap, 40), 10).appendAny(id(idNextPlus1), 5)
	p.appendAny(id(idZero), 5).appendAny(id(idRaw, 1, 2, 3, 4, 5, 6, 7, 8), 1).appendAny(id(idNext), 3)
	p.batchWithIDs(id(idOldest), 0, 1, 2).batchWithIDs(id(idNextPlus1), 0, 3).batchWithIDs(id(idNext), 0, 4, 5)
	p.del(delAll, 0).appendAny(id(idNextMinus1), 9).batchWithIDs(id(idOldestMinus1), 0, 1).checkAll()
	add("wrong-ids", p)

	p = np()
	p.appendAny(id(idNearMax, 6), 10).append1(20, 1).appendBatch(1, 2).append1(3, 2).append1(4, 3)
	p.appendAny(id(idNearMax, 0), 1).get(id(idNewest)).get(id(idNearMax, 1)).iterRange(rng(id(idOldest), 0), 0)
	p.del(delSuffix, 128, 0).append1(5, 4).del(delOne, id(idNewest)...).del(delAll, 0)
	p.appendAny(id(idNearMax, 1), 1).appendAny(id(idNearMax, 2), 1).checkAll()
	add("ids-near-max", p)

	p = np()
	p.appendBatch(2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000).appendBatch(2000, 2000, 2000, 2000)
	p.iterOpen(0, rng(id(idZero), 0)).iterOpen(1, rng(id(idInRange, 128), 1, id(idNewestPlus1)...))
	p.iterStep(0, 2).iterStep(1, 1).del(delPrefix, 0, 100).iterStep(0, 1).del(delSuffix, 200, 0)
	p.appendBatch(1, 2, 3).iterStep(1, 8).del(delInterior, 10, 1).iterStep(0, 8).rotate().iterStep(0, 8)
	p.del(delAll, 0).iterStep(1, 2).iterStep(0, 2).checkAll()
	add("held-iterators-across-deletes", p)

	p = np()
	for k := range byte(6) {
		p.invalid(k)
	}
	p.append1(1, 1)
	for k := range byte(6) {
		p.invalid(k)
	}
	p.del(delReversed, 0, 0).del(delOutside, 0, 5).del(delOutside, 1).iterRange(rng(id(idNewest), 4), 0)
	p.checkAll()
	add("invalid-calls", p)

	p = np()
	p.append1(100, 1).view(id(idOldest), false).view(id(idOldest), true).view(id(idNext), false).sync()
	p.rotate().rotate().append1(200, 2).sync().sync().iterRange(rng(id(idZero), 2, 1), 2)
	p.iterRange(rng(id(idOldest), 3), 0).checkAll()
	add("view-rotate-sync", p)

	if !alt { // reproduction of a library bug (fails until it is fixed)
		p = np()
		p.appendBatch(2, 2, 2, 2, 2, 2, 2, 2).iterOpen(0, rng(id(idZero), 0)).iterStep(0, 2)
		p.del(delPrefix, 0, 128).iterStep(0, 1)
		add("bug-held-iterator-returns-deleted-events", p)
	}

	xp := func() *prog { return newProg(flagNoPrefault|flagExtOps, alt) }

	p = xp()
	p.cursor(0, 0).cursor(1, 5).cursor(1, 6).cursor(1, 4).appendBatch(10, 20, 30).cursor(1, 1).follow(0, 0, true)
	p.commit(0, commitBackward, 1).commit(0, commitSame, 0).commit(0, commitBeyond, 40).load(0).cursors()
	p.follow(1, 2, true).follow(1, 0, false).commit(1, commitNext, 0).commitAt(1, id(idOldest)).delCursor(0)
	p.load(0).commit(0, commitAhead, 1).follow(0, 0, true).delCursor(0).delCursor(7).cursors().reopen(false)
	p.load(1).commit(1, commitAhead, 3).follow(1, 0, true).cursor(0, 0).follow(0, 0, true).cursor(1, 3).cursors()
	p.del(delAll, 0).follow(1, 0, false).cursors().checkAll()
	add("cursors", p)

	p = xp()
	p.retention(retMaxEvents|retMaxAge, 19, 0).big(30).rotate().rotate().appendBatch(2900, 2900, 2900, 2900)
	p.bulk(900, false, 31, 1).appendID(0, 10, 2).checkAll().retention(retMaxEvents, 0, 0).big(6).checkAll()
	p.retention(0, 0, 0).big(12).checkAll()
	add("retention-max-events", p)

	p = xp()
	p.retention(retMaxBytes, 0, 0).big(30).rotate().rotate().rotate().retention(retMaxBytes, 0, 3).big(40)
	p.del(delInterior, 100, 10).big(8).checkAll().retention(retMaxBytes|retMaxEvents, 200, 7).big(20).checkAll()
	add("retention-max-bytes", p)

	p = xp()
	p.cursor(0, 0).cursor(1, 1).retention(retMaxEvents|retKeep, 4, 0).big(20).checkAll().follow(0, 0, true)
	p.big(6).catchUp(128, 0).big(6).follow(1, 7, true).big(6).cursors().retention(retMaxEvents|retKeep|retMaxBytes, 4, 1)
	p.big(20).follow(0, 0, false).follow(1, 0, true).follow(1, 0, true).big(6).catchUp(250, 3).big(6).checkAll()
	p.delCursor(0).delCursor(1).big(6).cursors().checkAll()
	add("retention-keep-unconsumed", p)

	p = xp()
	p.retention(retInvalid, 0, 0).retention(retInvalid|retMaxEvents, 3, 1).big(10).retention(retMaxEvents, 3, 0)
	p.retention(retMaxEvents|retInvalid, 3, 1).big(10).retention(0, 0, 0).reopen(false).big(10).checkAll()
	add("retention-invalid-and-stop", p)

	p = newProg(0, alt) // with background segment preparation
	p.appendBatch(3000, 3000, 3000, 3000, 3000).appendID(0, 3000, 1).appendBatch(3000, 3000, 3000, 3000, 3000)
	p.rotate().append1(10, 2).checkAll()
	add("prefault-on", p)
	return seeds
}

// multiSeeds are seed programs of FuzzMultiHandle that depend on which handle does what.
func multiSeeds() []seed {
	var seeds []seed
	add := func(name string, p *prog) { seeds = append(seeds, seed{name, []any{p.bytes()}}) }

	p := newProg(flagNoPrefault, false)
	p.on(0).appendBatch(2900, 2900, 2900, 2900, 2900, 2900, 2900).on(1).get(id(idOldest)).on(1).iterRange(rng(id(idZero), 0), 0)
	p.on(1).append1(100, 1).on(0).get(id(idNewest)).on(0).appendID(0, 50, 2).on(1).checkAll()
	add("append-on-one-read-on-other", p)

	p = newProg(flagNoPrefault, false)
	p.on(0).appendBatch(2900, 2900, 2900, 2900, 2900, 2900, 2900, 2900).on(0).appendBatch(2900, 2900, 2900, 2900)
	p.on(0).get(id(idOldest)).on(1).del(delPrefix, 0, 200).on(0).get(id(idInRange, 100)).on(0).append1(10, 1)
	p.on(1).del(delSuffix, 128, 0).on(0).appendID(0, 3000, 2).on(0).appendID(0, 3000, 3).on(1).del(delInterior, 10, 1)
	p.on(0).checkAll()
	add("delete-on-one-append-on-other", p)

	p = newProg(flagNoPrefault, false)
	p.on(0).bulk(700, true, 7, 1).on(1).get(id(idInRange, 200)).on(1).bulk(600, false, 7, 2).on(0).del(delPrefix, 0, 128)
	p.on(1).bulk(900, false, 3, 3).on(0).checkAll()
	add("index-growth-across-handles", p)

	p = newProg(flagNoPrefault, false)
	p.on(0).appendBatch(1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000).on(0).iterOpen(0, rng(id(idZero), 0))
	p.on(0).iterStep(0, 2).on(1).reopen(false).on(1).del(delPrefix, 0, 128).on(0).iterStep(0, 4)
	p.on(1).del(delAll, 0).on(0).iterStep(0, 4).on(0).reopen(true).on(1).append1(5, 5).on(0).checkAll()
	add("reopen-one-while-other-iterates", p)

	p = newProg(flagNoPrefault|flagExtOps, false)
	p.on(0).appendBatch(5, 6, 7).on(0).cursor(0, 0).on(1).cursor(0, 0).on(1).commit(0, commitAhead, 1).on(0).load(0)
	p.on(0).commit(0, commitBackward, 0).on(1).cursors().on(0).delCursor(0).on(1).commit(0, commitAhead, 0)
	p.on(1).load(0).on(1).cursor(1, 0).on(0).follow(0, 0, true).on(1).follow(1, 0, true).on(0).reopen(false)
	p.on(1).load(1).on(0).load(0).on(0).cursors().on(1).retention(retMaxEvents|retKeep, 2, 0).on(0).big(12)
	p.on(1).follow(1, 0, true).on(0).big(6).on(1).checkAll()
	add("cursors-across-handles", p)
	return seeds
}

// damage writes FuzzCorruptFiles inputs for one template.
type damage struct {
	e   encoder
	tpl *template
}

func newDamage(tpls []*template, tplIndex int, flags, delA, delB byte) *damage {
	d := &damage{tpl: tpls[tplIndex]}
	d.e.u8(byte(tplIndex) | flags).u8(delA).u8(delB)
	return d
}

// file returns the selector byte of the named file; "seg:last" and "seg:mid" name the
// newest segment and one in the middle, "index" the first index file.
func (d *damage) file(name string) byte { return d.fileOf("", name) }

// fileOf returns the selector byte of the named file among those starting with prefix.
func (d *damage) fileOf(prefix, name string) byte {
	var names, segs []string
	for n := range d.tpl.files {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
		if strings.HasPrefix(n, "seg-") {
			segs = append(segs, n)
		}
	}
	slices.Sort(names)
	slices.Sort(segs)
	switch name {
	case "seg:last":
		name = segs[len(segs)-1]
	case "seg:mid":
		name = segs[len(segs)/2]
	case "index":
		name = ringindex.FileName(1)
	}
	i := slices.Index(names, name)
	if i < 0 {
		panic("no file " + name)
	}
	return byte(i)
}

// id returns the selector byte that picks written id x (corrupter.pickID).
func (d *damage) id(x uint64) byte {
	ids := make([]uint64, 0, len(d.tpl.written))
	for i := range d.tpl.written {
		ids = append(ids, i)
	}
	slices.Sort(ids)
	for k := range 0xf0 {
		if ids[k*len(ids)/0xf0] == x {
			return byte(k)
		}
	}
	panic("id not selectable")
}

func (d *damage) op(kind byte, args ...byte) *damage { d.e.u8(kind).raw(args); return d }

func (d *damage) bytes() []byte { return slices.Clone(d.e.b) }

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func corruptSeeds(tpls []*template) []seed {
	var seeds []seed
	add := func(name string, d *damage) { seeds = append(seeds, seed{name, []any{d.bytes()}}) }
	const w = corruptWrite
	for i, tp := range tpls {
		add("clean-"+tp.name, newDamage(tpls, i, w, 0, 255))
		add("clean-prefix-delete-"+tp.name, newDamage(tpls, i, w|corruptNilOptions, 0, 100))
		add("clean-interior-delete-"+tp.name, newDamage(tpls, i, w|corruptPrefault, 60, 60))
	}
	nd := func(flags, a, b byte) *damage { return newDamage(tpls, 0, flags, a, b) }
	d := nd(0, 0, 0)
	add("meta-bad-magic", d.op(dmWrite, append(append([]byte{d.file("meta")}, le32(0)...), 0, 'X')...))
	d = nd(0, 0, 0)
	add("meta-version", d.op(dmMetaHeader, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0))
	d = nd(0, 0, 0)
	add("meta-truncated", d.op(dmTruncate, append([]byte{d.file("meta"), 3}, le32(0)...)...))
	add("commit-plus-one", nd(w, 0, 255).op(dmCommit, 1))
	add("commit-minus-one", nd(w, 0, 255).op(dmCommit, 0xff))
	for i, off := range []uint32{1024 + 8, 2048 + 8} { // one of them is the current copy
		d = nd(w, 10, 255)
		add(fmt.Sprintf("state-torn-%d", i), d.op(dmWrite, append(append([]byte{d.file("meta")}, le32(off)...), 7, 1, 2, 3, 4, 5, 6, 7, 8)...))
	}
	add("state-next-forged", nd(w, 0, 255).op(dmState, 0, 1, 0, 5))
	add("state-synced-zero", nd(w, 0, 255).op(dmState, 0, 16, 2).op(dmRecord, 200, 40, 0, 4))
	add("state-pending-delete", nd(w, 0, 255).op(dmState, 0, 14, 1, 50, 0, 0, 0, 0, 0, 0, 0).op(dmState, 0, 15, 1, 60, 0, 0, 0, 0, 0, 0, 0))
	add("state-write-offset", nd(w, 0, 255).op(dmState, 0, 8, 0, 8))
	d = nd(0, 0, 0)
	add("slot-tombstone-flip", d.op(dmSlot, append([]byte{d.id(150), 0}, le64(0)...)...))
	d = nd(w, 128, 0)
	add("slot-offset-shift", d.op(dmSlot, append([]byte{d.id(200), 3}, le64(1)...)...))
	d = nd(0, 0, 0)
	add("slot-zero", d.op(dmSlot, append([]byte{d.id(297), 1}, le64(0)...)...))
	d = nd(0, 0, 0)
	add("record-payload-flip", d.op(dmRecord, d.id(160), 40, 0, 0x10))
	d = nd(0, 0, 0)
	add("record-length-flip", d.op(dmRecord, d.id(296), 5, 0, 0x10))
	d = nd(w, 0, 255)
	add("segment-truncated", d.op(dmTruncate, append([]byte{d.file("seg:mid"), 2}, le32(0)...)...))
	d = nd(w, 0, 255)
	add("active-segment-truncated", d.op(dmTruncate, append([]byte{d.file("seg:last"), 4}, le32(0)...)...))
	d = nd(w, 0, 255)
	add("segment-extended", d.op(dmExtend, d.file("seg:mid"), 1).op(dmExtend, d.file("seg:last"), 0x85))
	d = nd(0, 0, 0)
	add("segment-header-seq", d.op(dmSegHeader, d.fileOf("seg-", "seg:mid"), 2, 0, 1))
	d = nd(0, 0, 0)
	add("bug-segment-removed", d.op(dmRemove, d.file("seg:mid")))
	d = nd(0, 0, 0)
	add("segment-foreign", d.op(dmForeign, d.file("seg:mid")))
	d = nd(0, 0, 0)
	add("index-truncated", d.op(dmTruncate, append([]byte{d.file("index"), 4}, le32(0)...)...))
	d = nd(0, 0, 0)
	add("index-capacity", d.op(dmIdxHeader, d.fileOf("index-", "index"), 2, 1, 0, 8, 0, 0, 0, 0, 0, 0))
	d = nd(0, 0, 0)
	add("index-foreign", d.op(dmForeign, d.file("index")))
	d = nd(w, 0, 0)
	add("meta-removed", d.op(dmRemove, d.file("meta")))

	// Reproductions of library bugs found by the fuzzer (they fail until the bug is fixed).
	d = newDamage(tpls, 2, 0, 0, 0)
	add("bug-active-segment-removed", d.op(dmRemove, d.file("seg:last")))
	d = nd(w, 1, 255) // DeleteRange(oldest+1, Latest) after the appends
	add("bug-tombstone-flip-then-suffix-delete", d.op(dmSlot, append([]byte{d.id(10), 0}, le64(0)...)...))
	add("bug-forged-pending-delete", nd(0, 0, 0).op(dmState, 0, 15, 3))
	add("bug-forged-gen-parity", nd(0, 0, 0).op(dmState, 0, 0, 0, 1))

	d = newDamage(tpls, 1, w, 0, 255)
	add("growing-index-target-truncated", d.op(dmTruncate, append([]byte{d.file(ringindex.FileName(2)), 4}, le32(0)...)...))
	return seeds
}

func recordSeeds() []seed {
	rec := func(pad int, id uint64, payload []byte) []byte {
		b := make([]byte, pad+int(record.Size(len(payload))))
		record.Put(b[pad:], record.CRCSeed, id, payload, false)
		return b
	}
	hello := []byte("hello, ringlog")
	huge := rec(64, 7, []byte("x"))
	binary.LittleEndian.PutUint32(huge[64+4:], 0xFFFFFFFF) // the length field
	return []seed{
		{"valid", []any{rec(64, 42, hello), uint64(64), uint64(42), uint64(64), uint64(1 << 20), hello, uint32(3), uint32(0x0100)}},
		{"empty-payload", []any{rec(0, 0, nil), uint64(0), uint64(0), uint64(0), uint64(0), []byte{}, uint32(9), uint32(0x8000)}},
		{"zeros", []any{make([]byte, 4096), uint64(64), uint64(0), uint64(64), uint64(4096), []byte{0}, uint32(0), uint32(0)}},
		{"huge-length", []any{huge, uint64(64), uint64(7), uint64(0), uint64(1<<32 - 1), []byte("x"), uint32(16), uint32(0x0400)}},
		{"offset-past-end", []any{rec(8, 1, hello), uint64(1<<64 - 8), uint64(1), uint64(0), uint64(1 << 20), hello, uint32(21), uint32(0xff00)}},
		{"unaligned", []any{rec(12, 3, hello), uint64(12), uint64(3), uint64(0), uint64(100), hello, uint32(31), uint32(0x2000)}},
		{"padding-flip", []any{rec(0, 5, []byte("abc")), uint64(0), uint64(5), uint64(0), uint64(3), []byte("abc"), uint32(20), uint32(0x0700)}},
	}
}

func slotSeeds() []seed {
	hdr := ringindex.EncodeHeader(ringindex.Header{Capacity: 1024, Generation: 1, LogID: [16]byte{1, 2, 3}})
	v2 := ringindex.EncodeHeader(ringindex.Header{Version: 2, Capacity: 1 << 20, Generation: 9})
	slot := uint64(ringindex.MakeSlot(5, 4096))
	return []seed{
		{"valid-header", []any{slot, uint64(5), uint64(4096), uint64(7), hdr}},
		{"tombstone", []any{slot | 1<<63, uint64(1<<31 + 5), uint64(ringindex.MaxOffset), uint64(1<<31 + 5), hdr[:52]}},
		{"version-2", []any{uint64(0), uint64(0), uint64(0), uint64(0), v2}},
		{"truncated-header", []any{uint64(1<<64 - 1), uint64(1<<64 - 1), uint64(1<<64 - 1), uint64(1<<64 - 1), hdr[:51]}},
		{"ref-below-seq", []any{slot, uint64(100), uint64(9), uint64(3), []byte("index-00000000000000ff")}},
		{"bad-capacity", []any{uint64(1<<63 | 3000), uint64(2), uint64(1 << 36), uint64(2), ringindex.EncodeHeader(ringindex.Header{Capacity: 3000})}},
	}
}
