package mmaplog_test

import (
	"bytes"
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// One damaged byte in a record of a cleanly closed log costs that event and nothing
// more: a read-write Open in the same boot cuts nothing (a record below the committed
// NextEventID was complete before it was published), Get of it is ErrCorrupt, Check names
// it, iteration stops at it and resumes past it, and appends continue at NextEventID.
// Default options, as a new user would open the log.
func TestDamagedRecordCostsOneEvent(t *testing.T) {
	const n, size, bad = 2000, 24, 100
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for id := uint64(0); id < n; id++ {
		if _, err := l.Append(ctPayload(id, size)); err != nil {
			t.Fatal(err)
		}
		if id == 999 {
			if _, err := l.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	path, off := ctFindPayload(t, dir, ctPayload(bad, size))
	if !strings.HasSuffix(path, "seg-0000000000000000") {
		t.Fatalf("event %d is in %s, want the sealed first segment", bad, path)
	}
	mmaplog.PatchFile(t, path, int64(off+5), []byte{'#'})

	next := uint64(n)
	for _, mode := range []string{"read-only", "read-write", "read-write again"} {
		var opts *mmaplog.Options
		if mode == "read-only" {
			opts = &mmaplog.Options{ReadOnly: true}
		}
		l := ctOpen(t, dir, opts)
		if nx := ctNext(t, l); nx != next {
			t.Fatalf("%s: NextEventID = %d, want %d (nothing cut)", mode, nx, next)
		}
		if st := ctStats(t, l); st.EventCount != next || st.LastRepair != nil {
			t.Fatalf("%s: Stats EventCount %d, LastRepair %v; want %d events, no repair", mode, st.EventCount, st.LastRepair, next)
		}
		var ce *mmaplog.CorruptError
		if _, err := l.Get(bad); !errors.As(err, &ce) || !errors.Is(err, mmaplog.ErrCorrupt) || ce.Path != path || ce.Offset != int64(off-16) {
			t.Fatalf("%s: Get(%d) = %v, want a CorruptError at %s offset %d", mode, bad, err, path, off-16)
		}
		for id := uint64(0); id < n; id++ {
			if id != bad {
				ctGet(t, l, id, ctPayload(id, size))
			}
		}
		rep, err := l.Check()
		if err != nil || len(rep.Problems) != 1 {
			t.Fatalf("%s: Check = %v, %+v; want exactly one problem", mode, err, rep)
		}
		if p := rep.Problems[0]; p.Path != path || p.Offset != int64(off-16) || !p.HasID || p.ID != bad {
			t.Fatalf("%s: Check problem %v, want event %d at %s offset %d", mode, p, bad, path, off-16)
		}
		ids, _, err := ctCollect(t, mustIter(t, l, 0))
		if !errors.Is(err, mmaplog.ErrCorrupt) || len(ids) != bad {
			t.Fatalf("%s: iteration from 0: %d ids, Err %v; want %d ids then ErrCorrupt", mode, len(ids), err, bad)
		}
		if ids, _ := ctIter(t, l, bad+1, mmaplog.Latest); uint64(len(ids)) != next-bad-1 {
			t.Fatalf("%s: iteration restarted past the damaged event: %d ids, want %d", mode, len(ids), next-bad-1)
		}
		if mode == "read-write" {
			if id, err := l.Append([]byte("after the damage")); err != nil || id != n {
				t.Fatalf("Append = %d, %v; want id %d", id, err, n)
			}
			ctGet(t, l, n, []byte("after the damage"))
			next++
		}
		t.Logf("%s: %d events, Get(%d): %v; Check: %v", mode, ctNext(t, l), bad, ce, rep.Problems[0])
		_ = l.Close()
	}
}

func mustIter(t *testing.T, l *mmaplog.Log, from uint64) *mmaplog.Iterator {
	t.Helper()
	it, err := l.IterRange(from, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// drFiles is a log held in memory, file name to bytes.
type drFiles map[string][]byte

func drRead(t *testing.T, dir string) drFiles {
	t.Helper()
	fs := drFiles{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fs[e.Name()] = b
	}
	return fs
}

// write puts the files in a new directory, with one byte of file name at off XORed with
// 0xff, and returns the directory.
func (fs drFiles) write(t *testing.T, name string, off int64) string {
	t.Helper()
	dir := t.TempDir()
	for n, b := range fs {
		if n == name {
			b = bytes.Clone(b)
			b[off] ^= 0xff
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// drRecord is one live record of the template: its event, file and offset.
type drRecord struct {
	id   uint64
	seg  string
	off  int64
	data []byte
}

// drTemplate builds a small log of mixed sizes over several segments, with a prefix and
// an interior delete, and returns its files, live events and their records (in id order).
// With unsynced 0 the log is closed cleanly; otherwise it is synced, unsynced more events
// are appended, and the files are taken as a power loss that lost no page leaves them.
func drTemplate(t *testing.T, unsynced int) (drFiles, map[uint64][]byte, []drRecord) {
	t.Helper()
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, ctOpts())
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	live := map[uint64][]byte{}
	for id := uint64(0); id < n; id++ {
		p := ctPayload(id, 16+int(id*37%200))
		if _, err := l.Append(p); err != nil {
			t.Fatal(err)
		}
		live[id] = p
		if id%90 == 89 {
			if _, err := l.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range [][2]uint64{{0, 19}, {150, 159}} {
		if _, err := l.DeleteRange(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
		for id := r[0]; id <= r[1]; id++ {
			delete(live, id)
		}
	}
	var fs drFiles
	if unsynced == 0 {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		fs = drRead(t, dir)
	} else {
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		for id := uint64(n); id < n+uint64(unsynced); id++ {
			p := ctPayload(id, 16+int(id*37%200))
			if _, err := l.Append(p); err != nil {
				t.Fatal(err)
			}
			live[id] = p
		}
		fs = drRead(t, dir) // the recovery point is n
		_ = l.Close()
	}
	var recs []drRecord
	for name := range fs {
		if !strings.HasPrefix(name, "seg-") {
			continue
		}
		for rec, err := range mmaplog.ReadSegment(filepath.Join(dir, name)) {
			if err != nil {
				t.Fatalf("template %s: %v", name, err)
			}
			if p, ok := live[rec.ID]; ok && bytes.Equal(p, rec.Data) {
				recs = append(recs, drRecord{id: rec.ID, seg: name, off: rec.Offset, data: p})
			}
		}
	}
	slices.SortFunc(recs, func(a, b drRecord) int { return cmp.Compare(a.id, b.id) })
	if len(recs) != len(live) {
		t.Fatalf("template: found %d live records in the segment files, want %d", len(recs), len(live))
	}
	return fs, live, recs
}

// drVerify opens dir read-write and checks that every live event but the damaged one
// reads back exactly, that the damaged one is ErrCorrupt, that Check names it alone, and
// that an append continues at the old NextEventID.
func drVerify(t *testing.T, dir string, live map[uint64][]byte, next uint64, rec drRecord, what string) {
	t.Helper()
	l, err := mmaplog.Open(dir, ctOpts())
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	defer l.Close()
	if nx := ctNext(t, l); nx != next {
		t.Fatalf("%s: NextEventID = %d, want %d (nothing cut)", what, nx, next)
	}
	for id, p := range live {
		b, err := l.Get(id)
		if id == rec.id {
			if !errors.Is(err, mmaplog.ErrCorrupt) {
				t.Fatalf("%s: Get(%d) of the damaged event = %d bytes, %v; want ErrCorrupt", what, id, len(b), err)
			}
			continue
		}
		if err != nil || !bytes.Equal(b, p) {
			t.Fatalf("%s: Get(%d) = %d bytes, %v; want its %d bytes", what, id, len(b), err, len(p))
		}
	}
	rep, err := l.Check()
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].ID != rec.id || rep.LastRepair != nil {
		t.Fatalf("%s: Check = %v, %+v; want one problem, event %d", what, err, rep, rec.id)
	}
	if id, err := l.Append([]byte("next")); err != nil || id != next {
		t.Fatalf("%s: Append = %d, %v; want %d", what, id, err, next)
	}
}

// One byte of every record header and one of every payload (rotating over the 16 header
// bytes and over the start, middle and end of the payload), of a small cleanly closed
// log, damaged one at a time: a read-write Open loses no other event, in the same boot
// and after a (simulated) reboot, since a cleanly closed log is durable up to its
// NextEventID. With RINGLOG_LONG set (make crash runs it so) every header byte and all
// three payload bytes of every record.
func TestDamagedRecordExhaustive(t *testing.T) {
	long := os.Getenv("RINGLOG_LONG") != ""
	fs, live, recs := drTemplate(t, 0)
	cases := 0
	for k, rec := range recs {
		n := int64(len(rec.data))
		header := []int64{int64(k % 16)}
		payload := []int64{[]int64{0, n / 2, n - 1}[k%3]}
		if long {
			header = []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
			payload = []int64{0, n / 2, n - 1}
		}
		var offs []int64
		for _, h := range header {
			offs = append(offs, rec.off+h)
		}
		for _, p := range payload {
			offs = append(offs, rec.off+16+p)
		}
		for _, off := range offs {
			dir := fs.write(t, rec.seg, off)
			what := rec.seg + " event " + strconv.FormatUint(rec.id, 10) + " byte " + strconv.FormatInt(off-rec.off, 10)
			if cases%4 == 0 {
				mmaplog.SimulateReboot(t, dir)
				what += " after a reboot"
			}
			drVerify(t, dir, live, 300, rec, what)
			cases++
		}
	}
	t.Logf("%d records, %d single-byte damages (a quarter after a simulated reboot; RINGLOG_LONG=%v): each cost exactly its event", len(recs), cases, long)
}

// After a power loss the tail past the recovery point may be torn: a damaged record
// there is cut with everything after it, and the cut is reported (Stats, Check, and after
// a reopen). Damage below the recovery point is never cut.
func TestDamagedRecordAfterReboot(t *testing.T) {
	const unsynced = 100
	fs, live, recs := drTemplate(t, unsynced) // synced through 300, then 100 more
	for _, rec := range []drRecord{recs[5], recs[len(recs)-unsynced-1]} {
		dir := fs.write(t, rec.seg, rec.off+20)
		mmaplog.SimulateReboot(t, dir)
		drVerify(t, dir, live, 300+unsynced, rec, "below the recovery point, after a reboot: event "+strconv.FormatUint(rec.id, 10))
	}
	for _, rec := range []drRecord{recs[len(recs)-unsynced], recs[len(recs)-unsynced/2], recs[len(recs)-1]} {
		dir := fs.write(t, rec.seg, rec.off+20)
		mmaplog.SimulateReboot(t, dir)
		l, err := mmaplog.Open(dir, ctOpts())
		if err != nil {
			t.Fatal(err)
		}
		if nx := ctNext(t, l); nx != rec.id {
			t.Fatalf("after a reboot, damage at event %d past the recovery point: NextEventID %d, want the cut there", rec.id, nx)
		}
		for id, p := range live {
			if id < rec.id {
				ctGet(t, l, id, p)
			}
		}
		st := ctStats(t, l)
		if r := st.LastRepair; r == nil || r.From != rec.id || r.To != 300+unsynced || r.Offset != rec.off || filepath.Base(r.Path) != rec.seg {
			t.Fatalf("Stats.LastRepair = %+v; want [%d, %d) at %s offset %d", r, rec.id, 300+unsynced, rec.seg, rec.off)
		}
		rep, err := l.Check()
		if err != nil || !rep.OK() || rep.LastRepair == nil || rep.LastRepair.From != rec.id {
			t.Fatalf("Check after the cut = %v, %+v; want clean with the repair reported", err, rep)
		}
		_ = l.Close()
		// The record persists: a later Open (same boot, nothing more to cut) still says it.
		l = ctOpen(t, dir, &mmaplog.Options{ReadOnly: true})
		if r := ctStats(t, l).LastRepair; r == nil || r.Count != 1 || r.From != rec.id {
			t.Fatalf("repair record after reopen: %+v", r)
		}
		t.Logf("cut reported: %v", st.LastRepair)
	}
}
