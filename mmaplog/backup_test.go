package mmaplog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

func init() {
	childRoles["backupWriter"] = backupWriterChild
	childRoles["backupDeleter"] = backupDeleterChild
	childRoles["backupCommitter"] = backupCommitterChild
}

// backupCommitterChild commits the positions 1, 2, 3, ... of the cursor "c" as fast as
// it can until the file "stop" appears in RINGLOG_TEST_DIR; it creates "ready-c" after
// its first 1000 commits.
func backupCommitterChild() int {
	dir := os.Getenv("RINGLOG_TEST_DIR")
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	c, err := l.Cursor("c")
	if err != nil {
		return childFail("cursor: %v", err)
	}
	for p := c.Position() + 1; ; p++ {
		if err := c.Commit(p); err != nil {
			return childFail("commit %d: %v", p, err)
		}
		if p%1000 == 0 {
			if p == 1000 {
				if err := os.WriteFile(filepath.Join(dir, "ready-c"), nil, 0o640); err != nil {
					return childFail("%v", err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
				return 0
			}
		}
	}
}

// backupDeleterChild deletes the log's prefix, keeping about the newest 5,000 events, as
// retention would, until the file "stop" appears in RINGLOG_TEST_DIR.
func backupDeleterChild() int {
	dir := os.Getenv("RINGLOG_TEST_DIR")
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	for {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			return 0
		}
		oldest, err1 := l.OldestEventID()
		newest, err2 := l.NewestEventID()
		if err1 == nil && err2 == nil && newest-oldest > 5000 {
			if _, err := l.DeleteRange(oldest, newest-5000); err != nil {
				return childFail("delete: %v", err)
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// backupWriterChild appends events "w<index>-<n>" with Append until the file "stop"
// appears in RINGLOG_TEST_DIR; it creates "ready-<index>" after its first 100 events.
func backupWriterChild() int {
	dir := os.Getenv("RINGLOG_TEST_DIR")
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	for n := 0; ; n++ {
		if _, err := l.Append(fmt.Appendf(nil, "w%d-%08d-%s", childIndex(), n, "0123456789abcdef0123456789abcdef")); err != nil {
			return childFail("append %d: %v", n, err)
		}
		if n == 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready-%d", childIndex())), nil, 0o640); err != nil {
				return childFail("%v", err)
			}
		}
		if n%100 == 0 {
			if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
				return 0
			}
		}
	}
}

// sameEvents fails unless the live events of a and b are the same ids with the same bytes.
func sameEvents(t *testing.T, a, b *mmaplog.Log) int {
	t.Helper()
	ida, va := ctIter(t, a, 0, mmaplog.Latest)
	idb, vb := ctIter(t, b, 0, mmaplog.Latest)
	if len(ida) != len(idb) {
		t.Fatalf("%d events against %d", len(ida), len(idb))
	}
	for i := range ida {
		if ida[i] != idb[i] || !bytes.Equal(va[i], vb[i]) {
			t.Fatalf("event %d: id %d %q against id %d %q", i, ida[i], va[i], idb[i], vb[i])
		}
	}
	return len(ida)
}

func backupOf(t *testing.T, l *mmaplog.Log) (string, *mmaplog.BackupInfo) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "copy")
	info, err := l.Backup(dest, nil)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if info.Report == nil || !info.Report.OK() {
		t.Fatalf("Backup's check of the copy: %+v", info.Report)
	}
	return dest, info
}

func TestBackupCopiesTheCommittedState(t *testing.T) {
	cases := []struct {
		name  string
		build func(t *testing.T, l *mmaplog.Log)
	}{
		{"new empty log", func(*testing.T, *mmaplog.Log) {}},
		{"several segments", func(t *testing.T, l *mmaplog.Log) { ctAppendN(t, l, 900, 100) }},
		{"fast appends in the tail count", func(t *testing.T, l *mmaplog.Log) {
			ctAppendN(t, l, 50, 30)
			for i := 0; i < 20; i++ {
				if _, err := l.Append(ctPayload(uint64(50+i), 30)); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"prefix deleted across segments", func(t *testing.T, l *mmaplog.Log) {
			ctAppendN(t, l, 900, 100)
			mustDelete(t, l, 0, 499)
		}},
		{"interior tombstones", func(t *testing.T, l *mmaplog.Log) {
			ctAppendN(t, l, 900, 100)
			mustDelete(t, l, 100, 599) // unlinks the segments in between
			mustDelete(t, l, 700, 702)
		}},
		{"suffix deleted and appended again", func(t *testing.T, l *mmaplog.Log) {
			ctAppendN(t, l, 600, 100)
			mustDelete(t, l, 400, 599)
			ctAppendN(t, l, 50, 70)
		}},
		{"emptied by a delete", func(t *testing.T, l *mmaplog.Log) {
			ctAppendN(t, l, 300, 100)
			mustDelete(t, l, 0, 299)
		}},
		{"index growth in progress", func(t *testing.T, l *mmaplog.Log) {
			ctAppendN(t, l, 512, 8)
			if _, err := l.Append([]byte("starts a growth")); err != nil {
				t.Fatal(err)
			}
			if s := ctStats(t, l); !s.IndexGrowing {
				t.Fatalf("no growth in progress: %+v", s)
			}
		}},
		{"rotated: empty active segment", func(t *testing.T, l *mmaplog.Log) {
			ctAppendN(t, l, 100, 100)
			if _, err := l.Rotate(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := ctOpen(t, t.TempDir(), ctOpts())
			c.build(t, l)
			dest, info := backupOf(t, l)
			src := ctStats(t, l)
			cp := ctOpen(t, dest, &mmaplog.Options{ReadOnly: true})
			n := sameEvents(t, l, cp)
			got := ctStats(t, cp)
			if got.NextEventID != src.NextEventID || got.EventCount != src.EventCount || got.OldestEventID != src.OldestEventID ||
				info.Events != src.EventCount || info.NextEventID != src.NextEventID || got.SyncedNextEventID != src.NextEventID {
				t.Fatalf("copy stats %+v, info %+v, source %+v", got, info, src)
			}
			// The copy is a log a writer can go on with: the next append takes the next id.
			if err := cp.Close(); err != nil {
				t.Fatal(err)
			}
			w := ctOpen(t, dest, ctOpts())
			if err := w.AppendWithID(src.NextEventID, []byte("after the backup")); err != nil {
				t.Fatalf("append to the copy: %v", err)
			}
			if rep, err := w.Check(); err != nil || !rep.OK() {
				t.Fatalf("check after appending to the copy: %v %+v", err, rep)
			}
			t.Logf("%d events, %d segment files, %d bytes copied", n, info.Segments, info.Bytes)
		})
	}
}

func mustDelete(t *testing.T, l *mmaplog.Log, s, e uint64) {
	t.Helper()
	if _, err := l.DeleteRange(s, e); err != nil {
		t.Fatalf("DeleteRange(%d, %d): %v", s, e, err)
	}
}

func TestBackupWhileWriterProcessesAppend(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, &mmaplog.Options{SegmentSize: 1 << 20})
	ctAppendN(t, l, 100_000, 100)
	writers := startChildren(t, "backupWriter", 2, "RINGLOG_TEST_DIR="+dir)
	deadline := time.Now().Add(time.Minute)
	for _, f := range []string{"ready-0", "ready-1"} {
		for {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				break
			}
			if time.Now().After(deadline) || anyFailed(writers) {
				t.Fatalf("writer processes did not start appending")
			}
			time.Sleep(time.Millisecond)
		}
	}
	before := ctNext(t, l)
	var calls int
	dest := filepath.Join(t.TempDir(), "copy")
	start := time.Now()
	info, err := l.Backup(dest, &mmaplog.BackupOptions{Progress: func(copied, total uint64) {
		calls++
		if copied > total {
			t.Errorf("progress %d of %d", copied, total)
		}
	}})
	took := time.Since(start)
	after := ctNext(t, l)
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	waitChildren(t, writers)
	if err != nil {
		t.Fatalf("Backup while 2 processes append: %v", err)
	}
	if !(before <= info.NextEventID && info.NextEventID <= after) || after <= before {
		t.Fatalf("copy ends at %d; the source went from %d to %d during the backup", info.NextEventID, before, after)
	}
	// The copy is exactly the source's events below its next id: a prefix.
	cp := ctOpen(t, dest, &mmaplog.Options{ReadOnly: true})
	if rep, err := cp.Check(); err != nil || !rep.OK() {
		t.Fatalf("check of the copy: %v %+v", err, rep)
	}
	ids, vals := ctIter(t, cp, 0, mmaplog.Latest)
	if uint64(len(ids)) != info.NextEventID {
		t.Fatalf("copy holds %d events, info says next %d", len(ids), info.NextEventID)
	}
	for i, id := range ids {
		want, err := l.Get(id)
		if err != nil || id != uint64(i) || !bytes.Equal(vals[i], want) {
			t.Fatalf("copy event %d (id %d) = %q, source %q, %v", i, id, vals[i], want, err)
		}
	}
	t.Logf("backup of %d events (%d bytes, %d segments) in %v while the source grew from %d to %d; %d progress calls",
		len(ids), info.Bytes, info.Segments, took, before, after, calls)
}

// TestBackupWhilePrefixDeletes: a writer process appends and another deletes the prefix
// (so segment files are unlinked all the time) while backups run: every copy checks
// clean and holds dense, intact events, because the segments of the snapshot are pinned
// under the writer lock.
func TestBackupWhilePrefixDeletes(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, &mmaplog.Options{SegmentSize: 64 << 10})
	ctAppendN(t, l, 6000, 40)
	procs := startChildren(t, "backupWriter", 1, "RINGLOG_TEST_DIR="+dir)
	procs = append(procs, startChildren(t, "backupDeleter", 1, "RINGLOG_TEST_DIR="+dir)...)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "ready-0")); err == nil {
			break
		}
		if time.Now().After(deadline) || anyFailed(procs) {
			t.Fatal("the writer process did not start")
		}
	}
	var copies, events uint64
	var firstOldest, lastOldest uint64
	for i := 0; i < 10; i++ {
		dest := filepath.Join(t.TempDir(), "copy")
		info, err := l.Backup(dest, nil)
		if err != nil {
			os.WriteFile(filepath.Join(dir, "stop"), nil, 0o640)
			t.Fatalf("backup %d while the prefix is deleted: %v", i, err)
		}
		cp := ctOpen(t, dest, &mmaplog.Options{ReadOnly: true})
		ids, vals := ctIter(t, cp, 0, mmaplog.Latest)
		for j, id := range ids {
			if id != info.OldestEventID+uint64(j) || (!bytes.HasPrefix(vals[j], []byte("w0-")) && !bytes.Equal(vals[j], ctPayload(id, 40))) {
				t.Fatalf("copy %d: event %d is id %d %q", i, j, id, vals[j])
			}
		}
		if uint64(len(ids)) != info.Events || info.OldestEventID+info.Events != info.NextEventID {
			t.Fatalf("copy %d: %d events, info %+v", i, len(ids), info)
		}
		if i == 0 {
			firstOldest = info.OldestEventID
		}
		lastOldest = info.OldestEventID
		copies++
		events += info.Events
	}
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	waitChildren(t, procs)
	if lastOldest <= firstOldest {
		t.Fatalf("the prefix did not move during the backups (oldest %d, then %d)", firstOldest, lastOldest)
	}
	t.Logf("%d copies, %d events in all, while the oldest id moved from %d to %d", copies, events, firstOldest, lastOldest)
}

func TestBackupRefusals(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, 10, 10)
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backup(full, nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("backup into a non-empty directory: %v, want fs.ErrExist", err)
	}
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Fatalf("the refused backup wrote into %s: %v", full, entries)
	}
	ro := ctOpen(t, dir, &mmaplog.Options{ReadOnly: true})
	if _, err := ro.Backup(filepath.Join(t.TempDir(), "c"), nil); !errors.Is(err, mmaplog.ErrReadOnly) {
		t.Fatalf("backup through a read-only handle: %v, want ErrReadOnly", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backup(filepath.Join(t.TempDir(), "c"), nil); !errors.Is(err, mmaplog.ErrClosed) {
		t.Fatalf("backup through a closed handle: %v, want ErrClosed", err)
	}
}

func TestBackupOfDamagedLogFailsItsCheck(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, 100, 40)
	// Damage the payload of event 50 in place, as bit rot would.
	seg := filepath.Join(dir, "seg-0000000000000000")
	flip(t, seg, 64+50*56+16+2)
	_, err := l.Backup(filepath.Join(t.TempDir(), "c"), nil)
	if !errors.Is(err, mmaplog.ErrCorrupt) {
		t.Fatalf("backup of a damaged log: %v, want ErrCorrupt", err)
	}
	t.Logf("%v", err)
}

// cursorMap returns the cursors of l by name.
func cursorMap(t *testing.T, l *mmaplog.Log) map[string]uint64 {
	t.Helper()
	list, err := l.Cursors()
	if err != nil {
		t.Fatalf("Cursors: %v", err)
	}
	m := map[string]uint64{}
	for _, c := range list {
		m[c.Name] = c.Position
	}
	return m
}

// ctCursor opens or creates the cursor name of l and commits pos (unless 0).
func ctCursor(t *testing.T, l *mmaplog.Log, name string, pos uint64) *mmaplog.Cursor {
	t.Helper()
	c, err := l.Cursor(name)
	if err != nil {
		t.Fatalf("Cursor(%q): %v", name, err)
	}
	if pos != 0 {
		if err := c.Commit(pos); err != nil {
			t.Fatalf("Commit(%d): %v", pos, err)
		}
	}
	return c
}

// The copy has the source's cursors at their positions, a consumer of the copy resumes
// where it was, one behind the copied oldest event is told so, and the two tables are
// independent afterwards. A log without cursors gets no cursors file.
func TestBackupCopiesCursors(t *testing.T) {
	l := ctOpen(t, t.TempDir(), ctOpts())
	if dest, info := backupOf(t, l); info.Cursors != 0 {
		t.Fatalf("backup of a log without cursors: %d cursors", info.Cursors)
	} else if _, err := os.Stat(filepath.Join(dest, "cursors")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("backup of a log without cursors has a cursors file: %v", err)
	}
	ctAppendN(t, l, 900, 100)
	ctCursor(t, l, "behind", 10)
	ctCursor(t, l, "gone", 20)
	if err := l.DeleteCursor("gone"); err != nil {
		t.Fatal(err)
	}
	ctCursor(t, l, "mid", 700)
	ctCursor(t, l, "tail", 900)
	ctCursor(t, l, "ahead", 5000)
	ctCursor(t, l, "new", 0) // created at the oldest event, 0, then behind too
	mustDelete(t, l, 0, 499)
	want := map[string]uint64{"behind": 10, "mid": 700, "tail": 900, "ahead": 5000, "new": 0}

	dest, info := backupOf(t, l)
	if got := cursorMap(t, l); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("source cursors %v, want %v", got, want)
	}
	cp := ctOpen(t, dest, ctOpts())
	got := cursorMap(t, cp)
	if fmt.Sprint(got) != fmt.Sprint(want) || info.Cursors != len(want) {
		t.Fatalf("copy's cursors %v (info: %d), want %v", got, info.Cursors, want)
	}
	// A consumer of the copy resumes at its position with the source's bytes.
	mid := ctCursor(t, cp, "mid", 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	it := mid.Follow(ctx)
	if !it.Next() || it.ID() != 700 || !bytes.Equal(it.Value(), ctPayload(700, 100)) {
		t.Fatalf("the copy's consumer resumed at %d %q (%v), want event 700", it.ID(), it.Value(), it.Err())
	}
	it.Close()
	// One behind the copied oldest event is told so, as in the source.
	for name, lg := range map[string]*mmaplog.Log{"source": l, "copy": cp} {
		it := ctCursor(t, lg, "behind", 0).Follow(ctx)
		var be *mmaplog.CursorBehindError
		if it.Next() || !errors.As(it.Err(), &be) || be.Position != 10 || be.Oldest != 500 {
			t.Fatalf("%s: Follow of a cursor behind the oldest event: %v", name, it.Err())
		}
		it.Close()
	}
	// The tables are independent: commits in one do not move the other.
	if err := mid.Commit(800); err != nil {
		t.Fatal(err)
	}
	ctCursor(t, l, "tail", 950)
	if a, b := cursorMap(t, l), cursorMap(t, cp); a["mid"] != 700 || b["mid"] != 800 || a["tail"] != 950 || b["tail"] != 900 {
		t.Fatalf("after commits in each: source %v, copy %v", a, b)
	}
	t.Logf("copied %d cursors: %v", info.Cursors, want)
}

// A cursor committed all the time by another process is copied at a position it held
// during the backup: never torn, never one from before the backup started or after it
// returned.
func TestBackupCursorWhileCommitterProcessRuns(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, 300, 100)
	committer := startChildren(t, "backupCommitter", 1, "RINGLOG_TEST_DIR="+dir)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "ready-c")); err == nil {
			break
		}
		if time.Now().After(deadline) || anyFailed(committer) {
			waitChildren(t, committer)
			t.Fatalf("the committer process did not start")
		}
	}
	c := ctCursor(t, l, "c", 0)
	const rounds = 20
	var moved uint64
	for i := range rounds {
		before := c.Position()
		dest, info := backupOf(t, l)
		after := c.Position()
		cp := ctOpen(t, dest, &mmaplog.Options{ReadOnly: true})
		got := cursorMap(t, cp)
		if len(got) != 1 || info.Cursors != 1 || got["c"] < before || got["c"] > after {
			t.Fatalf("round %d: copy's cursors %v; the source's went from %d to %d during the backup", i, got, before, after)
		}
		moved += after - before
		cp.Close()
	}
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	waitChildren(t, committer)
	t.Logf("%d backups while another process committed: each copy's position within its backup's window; the cursor moved %d positions during the backups", rounds, moved)
	if moved == 0 {
		t.Fatalf("the cursor never moved during a backup: the test proves nothing")
	}
}

// A damaged cursor table fails the backup with a *CorruptError naming it, leaving dest
// empty; NoCursors makes the copy without cursors.
func TestBackupOfDamagedCursors(t *testing.T) {
	cases := []struct {
		name   string
		off    int64 // byte of the cursors file flipped
		wantAt int64 // the CorruptError's offset
	}{
		{"both copies of an entry", -1, 4096 + 8},
		{"header logID", 24, 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := ctOpen(t, dir, ctOpts())
			ctAppendN(t, l, 100, 40)
			ctCursor(t, l, "a", 50)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "cursors")
			if c.off < 0 {
				flip(t, path, 4096+16) // pos0 and pos1 of entry 0
				flip(t, path, 4096+32)
			} else {
				flip(t, path, c.off)
			}
			l = ctOpen(t, dir, ctOpts())
			dest := filepath.Join(t.TempDir(), "copy")
			_, damaged := l.Backup(dest, nil)
			var ce *mmaplog.CorruptError
			if !errors.Is(damaged, mmaplog.ErrCorrupt) || !errors.As(damaged, &ce) || ce.Path != path || ce.Offset != c.wantAt {
				t.Fatalf("backup with a damaged cursor table: %v, want a *CorruptError at %s offset %d", damaged, path, c.wantAt)
			}
			if entries, _ := os.ReadDir(dest); len(entries) != 0 {
				t.Fatalf("the failed backup left %v in %s", entries, dest)
			}
			info, err := l.Backup(dest, &mmaplog.BackupOptions{NoCursors: true})
			if err != nil || info.Cursors != 0 || info.Events != 100 {
				t.Fatalf("backup with NoCursors: %+v, %v", info, err)
			}
			if _, err := os.Stat(filepath.Join(dest, "cursors")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a NoCursors copy has a cursors file: %v", err)
			}
			t.Logf("%v; with NoCursors: %d events, no cursors", damaged, info.Events)
		})
	}
}
