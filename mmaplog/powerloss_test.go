package mmaplog_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// The power-loss tests build "crashed images" of a log directory: every file as of the
// last completed Sync (the snapshot), plus a random subset of the 4 KiB pages written
// since, plus one torn page (a prefix of its 512-byte sectors new, the rest old). Files
// created since the Sync appear, and files unlinked since disappear, only when the subset
// includes them. The meta file's bootID is zeroed in every image, so that Open treats it
// as a log seen before a reboot and validates every record after the recovery point.
//
// Opening an image must succeed and give: every event live at the Sync, with its exact
// bytes; events deleted before the Sync still deleted; then possibly some events appended
// after the Sync, contiguous from the recovery point, each with its exact bytes; Check
// reporting no problem; and an append that works.

const (
	plSegSize  = 16 << 10
	plPageSize = 4096
	plSector   = 512
	plBootOff  = 320 // bootID in the meta file (docs/FORMAT.md section 2)
	plBootLen  = 16
)

func plOptions(p mmaplog.SyncPolicy) *mmaplog.Options {
	return &mmaplog.Options{SegmentSize: plSegSize, IndexCapacity: 1024, Sync: p}
}

// plWorkload is one log written up to a durability point, and further.
type plWorkload struct {
	policy   mmaplog.SyncPolicy
	snap     map[string][]byte // files at the durability point
	final    map[string][]byte // files at the crash
	atSync   map[uint64][]byte // live events at the durability point
	syncNext uint64            // NextEventID at the durability point
	final_   map[uint64][]byte // live events at the crash
	next     uint64            // NextEventID at the crash
	rotated  bool
	// floor holds, per file and page, the page as the library's last msync of it left it
	// (recorded by the msync hook): on disk in every image, at least as of that moment.
	floor map[string]map[int][]byte
}

// plPayload makes an event whose bytes name its id and the write (nonce), so an old record
// of a rewritten id never matches the new one.
func plPayload(rng *rand.Rand, id, nonce uint64) []byte {
	var n int
	switch rng.IntN(10) {
	case 0:
		n = 0
	case 1:
		n = 1000 + rng.IntN(2500) // a few of these fill a 16 KiB segment
	default:
		n = rng.IntN(200)
	}
	p := fmt.Appendf(nil, "id=%d nonce=%d|", id, nonce)
	for len(p) < n {
		p = append(p, byte('a'+rng.IntN(26)))
	}
	return p
}

// plReadDir returns every file of dir but the lock file, byte for byte. Files that vanish
// while it reads (a background creation renaming its temporary file) are skipped.
func plReadDir(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if e.IsDir() || e.Name() == "lock" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// plBuild runs a random workload with appends, batches and deletes of every kind, reaches
// the durability point (Sync under SyncNever; the last acknowledged append under
// SyncAlways), snapshots the files, then keeps appending without a Sync (under SyncAlways
// these later appends stand for the ones in flight at the power loss).
func plBuild(t testing.TB, rng *rand.Rand, policy mmaplog.SyncPolicy) *plWorkload {
	t.Helper()
	dir := t.TempDir()
	opts := plOptions(policy)
	opts.NoPrefault = true // no background file creation racing the snapshots
	// Every page the library flushes is on disk from then on, as of that moment: the
	// floor of every image. The hook runs in the flushing goroutine, before the flush
	// returns.
	var floorMu sync.Mutex
	floor := map[string]map[int][]byte{}
	mmaplog.SetMsyncHook(func(name string, off, n int64) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return
		}
		defer f.Close()
		floorMu.Lock()
		defer floorMu.Unlock()
		if floor[name] == nil {
			floor[name] = map[int][]byte{}
		}
		for pg := off / plPageSize; pg*plPageSize < off+n; pg++ {
			b := make([]byte, plPageSize)
			k, _ := f.ReadAt(b, pg*plPageSize)
			floor[name][int(pg)] = b[:k]
		}
	})
	defer mmaplog.SetMsyncHook(nil)
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	metaBase, err := os.ReadFile(filepath.Join(dir, "meta")) // as created, fsynced
	if err != nil {
		t.Fatal(err)
	}
	live := map[uint64][]byte{}
	var nonce uint64
	appendSome := func() {
		next, err := l.NextEventID()
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(3) == 0 {
			n := 1 + rng.IntN(30)
			if rng.IntN(4) == 0 {
				n = 1 + rng.IntN(6) // with big events this crosses segments
			}
			evs := make([][]byte, n)
			for i := range evs {
				nonce++
				evs[i] = plPayload(rng, next+uint64(i), nonce)
			}
			first, err := l.AppendBatch(evs)
			if err != nil {
				t.Fatalf("AppendBatch: %v", err)
			}
			if first != next {
				t.Fatalf("AppendBatch gave id %d, NextEventID was %d", first, next)
			}
			for i, e := range evs {
				live[first+uint64(i)] = e
			}
			return
		}
		nonce++
		p := plPayload(rng, next, nonce)
		id, err := l.Append(p)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		if id != next {
			t.Fatalf("Append gave id %d, NextEventID was %d", id, next)
		}
		live[id] = p
	}
	del := func(s, e uint64) {
		if s > e {
			return
		}
		if _, err := l.DeleteRange(s, e); err != nil {
			t.Fatalf("DeleteRange(%d, %d): %v", s, e, err)
		}
		for id := range live {
			if id >= s && id <= e {
				delete(live, id)
			}
		}
	}
	bounds := func() (lo, hi uint64, ok bool) {
		lo, err1 := l.OldestEventID()
		hi, err2 := l.NewestEventID()
		return lo, hi, err1 == nil && err2 == nil
	}

	// Before the durability point: 300..1300 events, deletes of every kind. A large suffix
	// delete followed by fewer appends leaves old records of ids that are appended again
	// after the durability point.
	target := 300 + rng.IntN(1000)
	for ops := 0; len(live) < target && ops < 5000; ops++ {
		switch r := rng.IntN(100); {
		case r < 83:
			appendSome()
		case r < 85:
			if err := l.Sync(); err != nil { // a checkpoint, or records only after appends only
				t.Fatalf("Sync: %v", err)
			}
		case r < 90:
			if lo, hi, ok := bounds(); ok && hi > lo {
				del(lo, lo+uint64(rng.IntN(int(hi-lo)/3+1)))
			}
		case r < 95:
			if lo, hi, ok := bounds(); ok && hi-lo > 4 {
				s := lo + 1 + uint64(rng.IntN(int(hi-lo)-2))
				e := min(s+uint64(rng.IntN(20)), hi-1)
				del(s, e)
			}
		case r < 98:
			if lo, hi, ok := bounds(); ok && hi > lo {
				del(hi-uint64(rng.IntN(int(hi-lo)/2+1)), hi)
			}
		default:
			if _, err := l.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rng.IntN(3) == 0 { // a big suffix delete, then a few appends, right before the point
		if lo, hi, ok := bounds(); ok && hi-lo > 100 {
			del(hi-uint64(rng.IntN(int(hi-lo)/2)), hi)
			for range rng.IntN(5) {
				appendSome()
			}
		}
	}
	// The durability point: a Sync (under SyncAlways it covers a trailing delete; after
	// an acknowledged append it has nothing to do).
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	w := &plWorkload{policy: policy, snap: plReadDir(t, dir), atSync: map[uint64][]byte{}}
	for n, b := range w.snap {
		// What is on disk at the point: the files as created, plus the floor.
		w.snap[n] = plBaseline(n, b)
		if n == "meta" {
			w.snap[n] = metaBase
		}
	}
	for id, b := range live {
		w.atSync[id] = b
	}
	if w.syncNext, err = l.NextEventID(); err != nil {
		t.Fatal(err)
	}
	if policy == mmaplog.SyncNever {
		if st, _ := l.Stats(); st.SyncedNextEventID != w.syncNext {
			t.Fatalf("after Sync the recovery point is %d, NextEventID %d", st.SyncedNextEventID, w.syncNext)
		}
	}

	// After the durability point: appends only (some batches across segments), maybe a
	// Rotate, no Sync. Under SyncAlways they go through a second handle that does not
	// flush: they stand for appends whose flush had not completed at the power loss.
	more := 20 + rng.IntN(600)
	if policy == mmaplog.SyncAlways {
		o := plOptions(mmaplog.SyncNever)
		o.NoPrefault = true
		l2, err := mmaplog.Open(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		defer l2.Close()
		l = l2
		more = 1 + rng.IntN(60)
	}
	for i := 0; i < more; i++ {
		if rng.IntN(60) == 0 {
			if _, err := l.Rotate(); err != nil {
				t.Fatal(err)
			}
			w.rotated = true
			continue
		}
		appendSome()
	}
	w.final = plReadDir(t, dir)
	mmaplog.SetMsyncHook(nil) // the Close of the deferred calls flushes what the crash lost
	floorMu.Lock()
	w.floor = floor
	floorMu.Unlock()
	w.final_ = live
	if w.next, err = l.NextEventID(); err != nil {
		t.Fatal(err)
	}
	return w
}

// plBaseline is what a file created after the durability point held when its creation
// completed (the library fsyncs it then): its header, zeros elsewhere.
func plBaseline(name string, final []byte) []byte {
	b := make([]byte, len(final))
	switch {
	case strings.HasPrefix(name, "seg-"):
		copy(b, final[:min(64, len(final))])
	case strings.HasPrefix(name, "index-"):
		copy(b, final[:min(plPageSize, len(final))])
	default:
		copy(b, final)
	}
	return b
}

// plChangedPages lists the pages of after that differ from before (or lie beyond it).
func plChangedPages(before, after []byte) []int {
	var pages []int
	for off := 0; off < len(after); off += plPageSize {
		end := min(off+plPageSize, len(after))
		if end > len(before) || !bytes.Equal(before[off:end], after[off:end]) {
			pages = append(pages, off/plPageSize)
		}
	}
	return pages
}

// plImage builds one crashed image: frac of the changed pages (and of the files created
// or removed since the durability point) applied, plus one torn page. It returns the files
// and a description for failure messages.
func plImage(rng *rand.Rand, w *plWorkload, frac float64) (map[string][]byte, string) {
	img := map[string][]byte{}
	var desc []string
	type pageRef struct {
		name string
		page int
	}
	var changed []pageRef
	pick := func() bool { return rng.Float64() < frac }
	names := map[string]bool{}
	for n := range w.snap {
		names[n] = true
	}
	for n := range w.final {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	base := map[string][]byte{}
	for _, n := range sorted {
		s, inSnap := w.snap[n]
		f, inFinal := w.final[n]
		switch {
		case inSnap && !inFinal:
			// A retired index file is unlinked only after the meta page naming its
			// successor was msynced, so an image with an older meta page still has it.
			if !strings.HasPrefix(n, "index-") && pick() {
				desc = append(desc, "-"+n)
				continue
			}
			img[n] = bytes.Clone(s)
			for p, b := range w.floor[n] {
				copy(img[n][p*plPageSize:], b)
			}
		case !inSnap && inFinal:
			// Index and segment files are created with an fsync of the file and of the
			// directory before any state names them, so they are always there.
			if !strings.HasPrefix(n, "index-") && !strings.HasPrefix(n, "seg-") && !pick() {
				desc = append(desc, "!"+n)
				continue
			}
			desc = append(desc, "+"+n)
			base[n] = plBaseline(n, f)
			img[n] = bytes.Clone(base[n])
		default:
			base[n] = s
			img[n] = bytes.Clone(s)
		}
		if f == nil {
			continue
		}
		if len(img[n]) < len(f) {
			img[n] = append(img[n], make([]byte, len(f)-len(img[n]))...)
		}
		if fl := w.floor[n]; fl != nil {
			base[n] = bytes.Clone(base[n])
			for p, b := range fl {
				copy(img[n][p*plPageSize:], b)
				copy(base[n][p*plPageSize:], b)
			}
		}
		pages := plChangedPages(base[n], f)
		k := int(frac*float64(len(pages)) + 0.5)
		perm := rng.Perm(len(pages))
		applied := 0
		for _, i := range perm[:k] {
			p := pages[i]
			copy(img[n][p*plPageSize:], f[p*plPageSize:min((p+1)*plPageSize, len(f))])
			applied++
		}
		if len(pages) > 0 {
			desc = append(desc, fmt.Sprintf("%s:%d/%d", n, applied, len(pages)))
		}
		for _, p := range pages {
			changed = append(changed, pageRef{n, p})
		}
	}
	if len(changed) > 0 {
		c := changed[rng.IntN(len(changed))]
		if _, ok := img[c.name]; ok {
			sectors := 1 + rng.IntN(plPageSize/plSector-1)
			off := c.page * plPageSize
			old := base[c.name]
			pg := img[c.name][off:min(off+plPageSize, len(img[c.name]))]
			for i := range pg {
				switch {
				case i < sectors*plSector:
					pg[i] = w.final[c.name][off+i]
				case off+i < len(old):
					pg[i] = old[off+i]
				default:
					pg[i] = 0
				}
			}
			desc = append(desc, fmt.Sprintf("torn %s page %d (%d sectors new)", c.name, c.page, sectors))
		}
	}
	if m := img["meta"]; len(m) >= plBootOff+plBootLen {
		clear(m[plBootOff : plBootOff+plBootLen]) // a reboot happened
	}
	return img, strings.Join(desc, " ")
}

// plVerify opens an image and checks the durability contract. It returns the number of
// events recovered beyond the durability point, or an error describing the violation.
func plVerify(dir string, w *plWorkload) (beyond uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	l, err := mmaplog.Open(dir, plOptions(w.policy))
	if err != nil {
		return 0, fmt.Errorf("Open: %w", err)
	}
	defer l.Close()
	next, err := l.NextEventID()
	if err != nil {
		return 0, err
	}
	if next < w.syncNext || next > w.next {
		return 0, fmt.Errorf("NextEventID %d outside [%d, %d]", next, w.syncNext, w.next)
	}
	want := map[uint64][]byte{}
	var lost []uint64
	for id, b := range w.atSync {
		want[id] = b
		got, err := l.Get(id)
		if err != nil || !bytes.Equal(got, b) {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		slices.Sort(lost)
		got, gerr := l.Get(lost[0])
		return 0, fmt.Errorf("%d events acknowledged before the durability point are lost or wrong (ids %v...); Get(%d) = %q, %v, want %q",
			len(lost), lost[:min(8, len(lost))], lost[0], plShort(got), gerr, plShort(w.atSync[lost[0]]))
	}
	for id := w.syncNext; id < next; id++ {
		b := w.final_[id]
		want[id] = b
		got, err := l.Get(id)
		if err != nil {
			return 0, fmt.Errorf("gap: event %d after the recovery point is not readable (%v) but NextEventID is %d", id, err, next)
		}
		if !bytes.Equal(got, b) {
			return 0, fmt.Errorf("wrong bytes for event %d after the recovery point: %q, want %q", id, plShort(got), plShort(b))
		}
	}
	// Deleted before the durability point: still deleted. Ids at or past next: absent.
	lo := w.syncNext
	for id := range w.atSync {
		lo = min(lo, id)
	}
	for id := lo; id < w.syncNext; id++ {
		if _, ok := w.atSync[id]; ok {
			continue
		}
		if got, err := l.Get(id); !errors.Is(err, mmaplog.ErrNotFound) {
			return 0, fmt.Errorf("event %d deleted before the durability point: Get = %q, %v, want ErrNotFound", id, plShort(got), err)
		}
	}
	for id := next; id < w.next+2; id++ {
		if got, err := l.Get(id); !errors.Is(err, mmaplog.ErrNotFound) {
			return 0, fmt.Errorf("event %d at or past NextEventID %d: Get = %q, %v, want ErrNotFound", id, next, plShort(got), err)
		}
	}
	it, err := l.IterRange(0, mmaplog.Latest)
	if err != nil {
		return 0, err
	}
	seen := 0
	for id, b := range it.All() {
		wb, ok := want[id]
		if !ok {
			return 0, fmt.Errorf("IterRange yields event %d, which should not exist", id)
		}
		if !bytes.Equal(b, wb) {
			return 0, fmt.Errorf("IterRange: wrong bytes for event %d", id)
		}
		seen++
	}
	if err := it.Err(); err != nil {
		return 0, fmt.Errorf("IterRange: %w", err)
	}
	if seen != len(want) {
		return 0, fmt.Errorf("IterRange yields %d events, want %d", seen, len(want))
	}
	rep, err := l.Check()
	if err != nil {
		return 0, fmt.Errorf("Check: %w", err)
	}
	if !rep.OK() {
		return 0, fmt.Errorf("Check after recovery: %v", rep.Problems)
	}
	// The recovered log takes appends.
	id, err := l.Append([]byte("after the power loss"))
	if err != nil || id != next {
		return 0, fmt.Errorf("Append after recovery: id %d, %v; want id %d", id, err, next)
	}
	if got, err := l.Get(id); err != nil || string(got) != "after the power loss" {
		return 0, fmt.Errorf("Get of the append after recovery: %q, %v", got, err)
	}
	return next - w.syncNext, nil
}

func plShort(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

func plWriteImage(t testing.TB, img map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for n, b := range img {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runPowerLoss builds workloads x perWorkload images and verifies each.
func runPowerLoss(t *testing.T, policy mmaplog.SyncPolicy, workloads, perWorkload int) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(uint64(s), 0x504f574552))
	start := time.Now()
	fracs := []float64{0, 0.1, 0.5, 1}
	var beyond []uint64
	images, failures := 0, 0
	byFrac := map[float64][2]int{}
	cats := map[string]int{}
	for wi := 0; wi < workloads; wi++ {
		w := plBuild(t, rng, policy)
		for ii := 0; ii < perWorkload; ii++ {
			frac := fracs[rng.IntN(len(fracs))]
			img, desc := plImage(rng, w, frac)
			dir := plWriteImage(t, img)
			var keep string
			if k := os.Getenv("RINGLOG_PL_KEEP"); k != "" { // keep failing images for debugging
				keep = filepath.Join(k, fmt.Sprintf("%s-w%d-i%d", policy, wi, ii))
				_ = os.MkdirAll(keep, 0o750)
				for n, b := range img {
					_ = os.WriteFile(filepath.Join(keep, n), b, 0o640)
				}
			}
			n, err := plVerify(dir, w)
			if err == nil && keep != "" {
				_ = os.RemoveAll(keep)
			}
			images++
			c := byFrac[frac]
			c[0]++
			if err != nil {
				failures++
				c[1]++
				cat := plCategory(err)
				cats[cat]++
				if failures <= 6 || cats[cat] == 1 { // the first few, and one of each kind
					t.Errorf("workload %d image %d (%.0f%% of the changed pages; durability point next=%d, crash next=%d): %v\n  image: %s",
						wi, ii, frac*100, w.syncNext, w.next, err, desc)
				}
			} else {
				beyond = append(beyond, n)
			}
			byFrac[frac] = c
			_ = os.RemoveAll(dir)
		}
	}
	slices.Sort(beyond)
	med := func() uint64 {
		if len(beyond) == 0 {
			return 0
		}
		return beyond[len(beyond)/2]
	}
	var lo, hi uint64
	if len(beyond) > 0 {
		lo, hi = beyond[0], beyond[len(beyond)-1]
	}
	t.Logf("%v: %d images from %d workloads, %d failures; events recovered beyond the durability point: min %d, median %d, max %d; %v",
		policy, images, workloads, failures, lo, med(), hi, time.Since(start).Round(time.Millisecond))
	for _, f := range fracs {
		t.Logf("  %3.0f%% of the changed pages: %d images, %d failures", f*100, byFrac[f][0], byFrac[f][1])
	}
	for _, c := range slices.Sorted(maps.Keys(cats)) {
		t.Logf("  failures: %-60s %d", c, cats[c])
	}
}

// plCategory names the kind of a failure for the summary.
func plCategory(err error) string {
	m := err.Error()
	switch {
	case strings.HasPrefix(m, "Open:") && strings.Contains(m, "bad checksum or generation"):
		return "Open fails: no valid state copy (torn meta page)"
	case strings.HasPrefix(m, "Open:") && strings.Contains(m, "segment file is missing"):
		return "Open fails: a segment file is missing"
	case strings.HasPrefix(m, "Open:") && strings.Contains(m, "ringindex") && strings.Contains(m, "no such file"):
		return "Open fails: the index file the state names is missing"
	case strings.HasPrefix(m, "Open:"):
		return "Open fails: other"
	case strings.Contains(m, "acknowledged before the durability point"):
		return "events acknowledged before the durability point lost"
	case strings.HasPrefix(m, "gap"):
		return "gap after the recovery point"
	case strings.HasPrefix(m, "wrong bytes"):
		return "wrong bytes after the recovery point"
	case strings.HasPrefix(m, "Check"):
		return "Check reports problems after recovery"
	case strings.HasPrefix(m, "panic"):
		return "panic"
	}
	return "other: " + m[:min(50, len(m))]
}

func TestPowerLossImages(t *testing.T) {
	runPowerLoss(t, mmaplog.SyncNever, 10, 10)
}

func TestPowerLossImagesSyncAlways(t *testing.T) {
	runPowerLoss(t, mmaplog.SyncAlways, 5, 20)
}

// TestCrashPowerLossImagesLong is the long variant run by make crash (RINGLOG_LONG=1).
func TestCrashPowerLossImagesLong(t *testing.T) {
	if os.Getenv("RINGLOG_LONG") != "1" {
		t.Skip("set RINGLOG_LONG=1 (make crash) for 1,000 images per policy")
	}
	t.Run("SyncNever", func(t *testing.T) { runPowerLoss(t, mmaplog.SyncNever, 50, 20) })
	t.Run("SyncAlways", func(t *testing.T) { runPowerLoss(t, mmaplog.SyncAlways, 50, 20) })
}

// plMustAppend appends n events of the form "<tag>-<id>-xxx...".
func plMustAppend(t *testing.T, l *mmaplog.Log, n int, tag string) {
	t.Helper()
	for range n {
		next, _ := l.NextEventID()
		if _, err := l.Append(fmt.Appendf(nil, "%s-%d-%s", tag, next, strings.Repeat("x", 80))); err != nil {
			t.Fatal(err)
		}
	}
}

// A suffix delete leaves the old records and index slots of the deleted ids in place.
// When those ids are appended again after the last Sync and the power fails after the
// meta page reached the disk but before the index page did, the old slots point at old
// records that are still valid (right id, right CRC): recovery must not accept them.
func TestPowerLossStaleSlotAfterSuffixDelete(t *testing.T) {
	dir := t.TempDir()
	opts := &mmaplog.Options{SegmentSize: plSegSize, IndexCapacity: 1024, NoPrefault: true}
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	plMustAppend(t, l, 200, "old")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteRange(100, 199); err != nil {
		t.Fatal(err)
	}
	plMustAppend(t, l, 10, "new") // ids 100..109
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	snap := plReadDir(t, dir)
	plMustAppend(t, l, 10, "new") // ids 110..119, not synced
	final := plReadDir(t, dir)
	l.Close()
	// The image: the meta page written back, the index page not, the segments written.
	img := map[string][]byte{}
	for n, b := range final {
		img[n] = b
		if strings.HasPrefix(n, "index-") {
			img[n] = snap[n]
		}
	}
	clear(img["meta"][plBootOff : plBootOff+plBootLen])
	l, err = mmaplog.Open(plWriteImage(t, img), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	next, _ := l.NextEventID()
	for id := uint64(110); id < next; id++ {
		b, err := l.Get(id)
		if err != nil {
			t.Fatalf("gap: Get(%d) = %v with NextEventID %d", id, err, next)
		}
		if want := fmt.Sprintf("new-%d-", id); !strings.HasPrefix(string(b), want) {
			t.Fatalf("Get(%d) = %.20q..., want %q...: a stale record of a suffix-deleted id was recovered (NextEventID %d)", id, b, want, next)
		}
	}
	t.Logf("recovered up to NextEventID %d", next)
}

// The meta page is torn by a power loss: its first sector (the commit word) is new, the
// sectors of the two state copies are old. When several commits happened since the meta
// page last reached the disk, neither copy has generation commit or commit-1; the older
// valid copy is still the state as of the last Sync and must be used.
func TestPowerLossTornMetaPage(t *testing.T) {
	dir := t.TempDir()
	opts := &mmaplog.Options{SegmentSize: plSegSize, IndexCapacity: 1024, NoPrefault: true}
	l, err := mmaplog.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	plMustAppend(t, l, 50, "a")
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	snap := plReadDir(t, dir)
	plMustAppend(t, l, 5, "b") // five commits, not synced
	final := plReadDir(t, dir)
	l.Close()
	img := map[string][]byte{}
	for n, b := range snap {
		img[n] = b
	}
	m := bytes.Clone(snap["meta"])
	copy(m[:plSector], final["meta"][:plSector]) // the first sector only
	clear(m[plBootOff : plBootOff+plBootLen])
	img["meta"] = m
	l, err = mmaplog.Open(plWriteImage(t, img), opts)
	if err != nil {
		t.Fatalf("Open of a meta page torn after its first sector: %v (the events synced before are lost)", err)
	}
	defer l.Close()
	for id := uint64(0); id < 50; id++ {
		if _, err := l.Get(id); err != nil {
			t.Fatalf("Get(%d): %v", id, err)
		}
	}
}
