package mmaplog_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ringlog/ringlog/internal/record"
	"github.com/ringlog/ringlog/mmaplog"
)

// Segment recycling (docs/FORMAT.md section 14).

const rcSeg = mmaplog.MinSegmentSize

// rcPayload is the payload of event id in the recycling tests.
func rcPayload(id uint64) []byte {
	return []byte(fmt.Sprintf("rc-%06d-%s", id, strings.Repeat("x", int(id%200))))
}

// rcAppend appends n events and returns the id of the last one.
func rcAppend(t *testing.T, l *mmaplog.Log, n int) uint64 {
	t.Helper()
	var id uint64
	for range n {
		next := rcNext(t, l)
		if err := l.AppendWithID(next, rcPayload(next)); err != nil {
			t.Fatal(err)
		}
		id = next
	}
	return id
}

// rcNext returns l's NextEventID.
func rcNext(t *testing.T, l *mmaplog.Log) uint64 {
	t.Helper()
	next, err := l.NextEventID()
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// rcFirstIDIn returns the first live id whose record lies in segment seq.
func rcFirstIDIn(t *testing.T, l *mmaplog.Log, seq uint64) uint64 {
	t.Helper()
	in, err := l.Inspect()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range in.Segments {
		if s.Seq == seq && s.Events > 0 {
			return s.FirstID
		}
	}
	t.Fatalf("segment %d holds no live event", seq)
	return 0
}

// rcInode returns the inode number of path (0 if it does not exist).
func rcInode(path string) uint64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// rcSegPath is the path of segment seq in dir.
func rcSegPath(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("seg-%016x", seq))
}

// rcPoolFiles returns the pool files of dir.
func rcPoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var pool []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "free-") {
			pool = append(pool, e.Name())
		}
	}
	return pool
}

// rcSalt reads the salt (record seed) of the segment file at path.
func rcSalt(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var hdr [16]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		t.Fatal(err)
	}
	if v := binary.LittleEndian.Uint32(hdr[8:12]); v != 3 {
		t.Fatalf("%s: segment version %d, want 3", path, v)
	}
	return binary.LittleEndian.Uint32(hdr[12:16])
}

// rcCheckAll reads every live event of l and compares it with rcPayload.
func rcCheckAll(t *testing.T, l *mmaplog.Log) {
	t.Helper()
	lo, err := l.OldestEventID()
	if err != nil {
		t.Fatal(err)
	}
	for id := lo; id < rcNext(t, l); id++ {
		got, err := l.Get(id)
		if err != nil || !bytes.Equal(got, rcPayload(id)) {
			t.Fatalf("Get(%d) = %q, %v; want %q", id, got, err, rcPayload(id))
		}
	}
}

// TestRecyclingReusesFreedSegments runs a ring (MaxEvents retention) over 16 KiB segments:
// after the first turnovers every new segment is a file a delete freed (the same inodes
// come back), the events read back exact before and after a reopen, the directory holds
// at most the retained segments, the prepared one and the pool, and Check is clean. With
// RecycleSegments -1 nothing is recycled and a writer Open empties the pool.
func TestRecyclingReusesFreedSegments(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: rcSeg, Retention: mmaplog.Retention{MaxEvents: 400}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[uint64]bool{} // inodes of every segment file so far
	reused := 0
	for range 60 {
		st, _ := l.Stats()
		before := st.ActiveSegment
		for {
			rcAppend(t, l, 1)
			if st, _ = l.Stats(); st.ActiveSegment != before {
				break
			}
		}
		ino := rcInode(rcSegPath(dir, st.ActiveSegment))
		if seen[ino] {
			reused++
		}
		seen[ino] = true
		if st.FileCount+st.PoolFiles > int(st.SegmentCount)+1+mmaplog.DefaultRecycleSegments {
			t.Fatalf("%d segment files and %d pool files for %d live segments", st.FileCount, st.PoolFiles, st.SegmentCount)
		}
	}
	st, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("60 turnovers: %d segments recycled (Stats), %d active segments on a reused inode, %d distinct files; %d live segments, %d pool files, retention removed %d segments",
		st.RecycledSegments, reused, len(seen), st.SegmentCount, st.PoolFiles, st.RetentionRemovedSegments)
	if st.RecycledSegments < 40 || reused < 40 {
		t.Fatalf("%d segments recycled, %d on a reused inode over 60 turnovers: want most of them", st.RecycledSegments, reused)
	}
	if len(seen) > int(st.SegmentCount)+2+mmaplog.DefaultRecycleSegments {
		t.Fatalf("%d distinct segment files for a ring of %d segments", len(seen), st.SegmentCount)
	}
	rcCheckAll(t, l)
	if rep, err := mmaplog.Check(dir); err != nil || !rep.OK() {
		t.Fatalf("Check: %v %v", rep, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = mmaplog.Open(dir, &mmaplog.Options{RecycleSegments: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rcCheckAll(t, l)
	if pool := rcPoolFiles(t, dir); len(pool) != 0 {
		t.Fatalf("pool files %v after an Open with recycling off", pool)
	}
	for range 10 * 40 {
		rcAppend(t, l, 1)
	}
	if st, _ := l.Stats(); st.RecycledSegments != 0 || st.PoolFiles != 0 {
		t.Fatalf("recycling off: %d recycled, %d pool files", st.RecycledSegments, st.PoolFiles)
	}
	if _, err := mmaplog.Open(t.TempDir(), &mmaplog.Options{RecycleSegments: mmaplog.MaxRecycleSegments + 1}); !errors.Is(err, mmaplog.ErrInvalidOptions) {
		t.Fatalf("RecycleSegments %d: %v, want ErrInvalidOptions", mmaplog.MaxRecycleSegments+1, err)
	}
}

// TestRecycledSegmentStaleRecordNeverRecovered crafts the stale-record case of a recycled
// file: a segment made from the pool holds, where the next append goes, a CRC-valid record
// of its earlier use carrying exactly the id the log expects next. After a reboot the
// scan reads there; it must not take the record (nor may a reader return it), because the
// file's new salt does not validate it. The control case writes the same record under the
// current salt (an abandoned append of this incarnation): then the scan does take it, so
// the salt is the only thing that keeps the stale one out.
func TestRecycledSegmentStaleRecordNeverRecovered(t *testing.T) {
	for _, current := range []bool{false, true} {
		t.Run(fmt.Sprintf("current-salt=%v", current), func(t *testing.T) {
			dir := t.TempDir()
			l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: rcSeg, NoPrefault: true})
			if err != nil {
				t.Fatal(err)
			}
			for {
				rcAppend(t, l, 1)
				if st, _ := l.Stats(); st.ActiveSegment == 3 {
					break
				}
			}
			// Free segments 0 and 1: their files go to the pool.
			first2 := rcFirstIDIn(t, l, 2)
			oldest, _ := l.OldestEventID()
			if _, err := l.DeleteRange(oldest, first2-1); err != nil {
				t.Fatal(err)
			}
			salts := map[uint64]uint32{} // inode -> salt of the file's earlier use
			for _, name := range rcPoolFiles(t, dir) {
				p := filepath.Join(dir, name)
				salts[rcInode(p)] = rcSalt(t, p)
			}
			if len(salts) != 2 {
				t.Fatalf("pool holds %d files after freeing 2 segments", len(salts))
			}
			if _, err := l.Rotate(); err != nil { // the next segment comes from the pool; nothing is written in it
				t.Fatal(err)
			}
			st, _ := l.Stats()
			seq := st.ActiveSegment - 1
			next := rcNext(t, l)
			if err := l.Close(); err != nil { // a checkpoint: the recovery position is (seq+1, 64)
				t.Fatal(err)
			}
			path := rcSegPath(dir, seq+1)
			old, ok := salts[rcInode(path)]
			if !ok {
				t.Fatalf("segment %d is not a recycled file", seq+1)
			}
			salt := rcSalt(t, path)
			if salt == old {
				t.Fatalf("recycled segment kept its salt %#x", old)
			}
			seed := old
			if current {
				seed = salt
			}
			stale := []byte("stale bytes of an earlier use")
			rec := make([]byte, record.Size(len(stale)))
			record.Put(rec, seed, next, stale, false)
			mmaplog.PatchFile(t, path, 64, rec)

			mmaplog.SimulateReboot(t, dir)
			l, err = mmaplog.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			got, gerr := l.Get(next)
			after := rcNext(t, l)
			t.Logf("after the reboot: NextEventID %d (was %d), Get(%d) = %q, %v", after, next, next, got, gerr)
			if current {
				if after != next+1 || !bytes.Equal(got, stale) {
					t.Fatalf("control: a valid record of the current salt at the recovery position was not recovered")
				}
				return
			}
			if after != next || !errors.Is(gerr, mmaplog.ErrNotFound) {
				t.Fatalf("the stale record of the file's earlier use was recovered: NextEventID %d, want %d", after, next)
			}
			if err := l.AppendWithID(next, rcPayload(next)); err != nil {
				t.Fatal(err)
			}
			rcCheckAll(t, l)
		})
	}
}

func init() { childRoles["recycle-pin"] = rcChildPin }

// rcChildPin opens the log in RC_DIR, pins the value of event RC_ID with an iterator,
// prints "pinned", waits for a line on stdin, then checks that the pinned bytes did not
// change meanwhile and prints "intact".
func rcChildPin() int {
	l, err := mmaplog.Open(os.Getenv("RC_DIR"), &mmaplog.Options{ReadOnly: true})
	if err != nil {
		return childFail("open: %v", err)
	}
	defer l.Close()
	id, _ := strconv.ParseUint(os.Getenv("RC_ID"), 10, 64)
	it, err := l.IterRange(id, id+1)
	if err != nil {
		return childFail("iterate: %v", err)
	}
	defer it.Close()
	if !it.Next() {
		return childFail("event %d: %v", id, it.Err())
	}
	pinned := it.Value()
	want := rcPayload(id)
	if !bytes.Equal(pinned, want) {
		return childFail("event %d = %q before, want %q", id, pinned, want)
	}
	fmt.Println("pinned")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return childFail("stdin: %v", err)
	}
	if !bytes.Equal(pinned, want) {
		return childFail("the pinned value of event %d changed under the iterator: %q", id, pinned)
	}
	fmt.Println("intact")
	return 0
}

// TestRecyclingSkipsFilesMappedByAnotherProcess: a reader process pins an event of
// segment 0 (an iterator's zero-copy value), a prefix delete frees the segment, and the
// writer then turns over many segments with a pool of one: the pinned file must not be
// recycled while the reader maps it (its bytes stay as they were), and it is recycled
// once the reader is gone. Without the mapping lock the first turnover would rewrite it.
func TestRecyclingSkipsFilesMappedByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: rcSeg, RecycleSegments: 1, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for {
		rcAppend(t, l, 1)
		if st, _ := l.Stats(); st.ActiveSegment == 2 {
			break
		}
	}
	const pinnedID = 3
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childRoleEnv+"=recycle-pin", "RC_DIR="+dir, "RC_ID="+strconv.Itoa(pinnedID))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "pinned" {
		t.Fatalf("reader: %q", lines.Text())
	}
	seg0 := rcInode(rcSegPath(dir, 0))
	first1 := rcFirstIDIn(t, l, 1)
	if _, err := l.DeleteRange(0, first1-1); err != nil {
		t.Fatal(err)
	}
	turn := func(n int, mapped bool) {
		for range n {
			st, _ := l.Stats()
			for before := st.ActiveSegment; st.ActiveSegment == before; st, _ = l.Stats() {
				rcAppend(t, l, 1)
			}
			if ino := rcInode(rcSegPath(dir, st.ActiveSegment)); mapped && ino == seg0 {
				t.Fatalf("segment %d reuses the file a reader process still maps", st.ActiveSegment)
			}
			oldest, _ := l.OldestEventID()
			if last := rcFirstIDIn(t, l, st.ActiveSegment-1); last > oldest {
				if _, err := l.DeleteRange(oldest, last-1); err != nil { // keep the ring short
					t.Fatal(err)
				}
			}
		}
	}
	turn(8, true)
	st, _ := l.Stats()
	t.Logf("while the reader maps the freed segment 0: %d segments recycled, %d pool files", st.RecycledSegments, st.PoolFiles)
	if st.RecycledSegments != 0 {
		t.Fatalf("%d segments recycled while the only pool file is mapped by another process", st.RecycledSegments)
	}
	fmt.Fprintln(stdin, "check")
	if !lines.Scan() || lines.Text() != "intact" {
		t.Fatalf("reader: %q", lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("reader: %v", err)
	}
	turn(4, false)
	st, _ = l.Stats()
	t.Logf("after the reader exited: %d segments recycled", st.RecycledSegments)
	if st.RecycledSegments == 0 {
		t.Fatal("nothing recycled after the reader released the file")
	}
	rcCheckAll(t, l)
}

// TestVersion2SegmentsStillRead: a segment file of version 2 (no salt: records seeded
// with record.CRCSeed) is still read and appended to; its records carry the old seed.
func TestVersion2SegmentsStillRead(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: rcSeg, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	rcAppend(t, l, 20)
	if _, err := l.Rotate(); err != nil {
		t.Fatal(err)
	}
	st, _ := l.Stats()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	path := rcSegPath(dir, st.ActiveSegment)
	hdr := make([]byte, 52)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadFull(f, hdr)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(hdr[8:12], 2)
	binary.LittleEndian.PutUint32(hdr[12:16], 64)
	binary.LittleEndian.PutUint32(hdr[48:52], crc32.Checksum(hdr[:48], crc32.MakeTable(crc32.Castagnoli)))
	mmaplog.PatchFile(t, path, 0, hdr)

	l, err = mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := rcAppend(t, l, 20)
	rcCheckAll(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, msg := record.Decode(raw, 64, last-19, 64, 1<<20, record.CRCSeed); msg != "" {
		t.Fatalf("first record of the version-2 segment under the version-2 seed: %s", msg)
	}
	if rep, err := mmaplog.Check(dir); err != nil || !rep.OK() {
		t.Fatalf("Check: %v %v", rep, err)
	}
}
