package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

func TestAppendLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	r := ringlogIn(t, "one\r\ntwo\n\nlast without newline", "append", dir).want(t, 0, "append lines")
	if r.stdout != "appended 4 events: ids 0..3\n" {
		t.Fatalf("append said %q", r.stdout)
	}
	if got := ringlog(t, "dump", dir).want(t, 0, "dump").stdout; got != "0\t3\t\"one\"\n1\t3\t\"two\"\n2\t0\t\"\"\n3\t20\t\"last without newline\"\n" {
		t.Fatalf("dump after append:\n%s", got)
	}
	r = ringlogIn(t, "more\n", "append", dir, "--sync").want(t, 0, "append --sync")
	if r.stdout != "appended 1 event: id 4\n" {
		t.Fatalf("append --sync said %q", r.stdout)
	}
	if s := statOf(t, dir); s.SyncedNextEventID != 5 {
		t.Fatalf("after append --sync the recovery point is %d, want 5", s.SyncedNextEventID)
	}
	if r := ringlogIn(t, "", "append", dir).want(t, 0, "append nothing"); r.stdout != "appended 0 events\n" {
		t.Fatalf("append of empty input said %q", r.stdout)
	}
}

// statOf returns the Stats of the log in dir, opened read-only.
func statOf(t *testing.T, dir string) mmaplog.Stats {
	t.Helper()
	l, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := l.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// frame encodes b as a uvarint length and its bytes.
func frame(b []byte) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }

// TestAppendBadInput: an event over the log's limit or a truncated frame is an error
// naming the item and its byte offset; the events before it stay appended and are
// reported.
func TestAppendBadInput(t *testing.T) {
	const segSize = 64 << 10 // the largest event is what fits a segment
	maxEvent := segSize - 64 - 16
	good := append(frame([]byte("a")), frame([]byte("bb"))...) // 2 + 3 bytes
	cases := []struct {
		name   string
		input  []byte
		framed bool
		parts  []string // in the error line
	}{
		{"frame longer than the largest event", append(bytes.Clone(good), frame(make([]byte, maxEvent+1))...), true,
			[]string{"stdin frame 3 (at byte 5)", fmt.Sprintf("length %d", maxEvent+1), fmt.Sprintf("largest event (%d bytes)", maxEvent)}},
		{"truncated frame", append(bytes.Clone(good), 100, 'x', 'y'), true,
			[]string{"stdin frame 3 (at byte 5)", "truncated: 2 of its 100 bytes"}},
		{"truncated length", append(bytes.Clone(good), 0x80), true,
			[]string{"stdin frame 3 (at byte 5)", "truncated in its length"}},
		{"line longer than the largest event", []byte("a\nbb\n" + strings.Repeat("z", maxEvent+1) + "\nnot appended\n"), false,
			[]string{"stdin line 3 (at byte 5)", "longer than the largest event"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: segSize})
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			args := []string{"append", dir}
			if c.framed {
				args = append(args, "--framed")
			}
			r := ringlogWith(t, runOpts{stdin: bytes.NewReader(c.input)}, args...).want(t, 1, c.name)
			r.oneErrorLine(t, "ringlog append: bad input: ", c.parts...)
			if r.stdout != "appended 2 events: ids 0..1\n" {
				t.Fatalf("the events before the bad one are not reported: %q", r.stdout)
			}
			if got := ringlog(t, "dump", dir).want(t, 0, "dump").stdout; got != "0\t1\t\"a\"\n1\t2\t\"bb\"\n" {
				t.Fatalf("the log after bad input:\n%s", got)
			}
		})
	}
}

func TestDeletePrefixAndSuffix(t *testing.T) {
	dir := makeLog(t, 300, 100)
	r := ringlog(t, "delete", dir, "--before", "150").want(t, 0, "delete --before")
	if r.stdout != "deleted 150 events (ids 0..149); oldest id 150, next id 300\n" {
		t.Fatalf("delete --before said %q", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "seg-0000000000000000")); err == nil {
		t.Fatal("the prefix delete left segment 0")
	}
	r = ringlog(t, "delete", dir, "--from", "290").want(t, 0, "delete --from")
	if r.stdout != "deleted 10 events (ids 290..299); oldest id 150, next id 290\n" {
		t.Fatalf("delete --from said %q", r.stdout)
	}
	if got := ringlog(t, "dump", dir).want(t, 0, "dump").stdout; got != textDump(150, 140) {
		t.Fatalf("after the deletes:\n%s", got)
	}
	if r := ringlog(t, "delete", dir, "--before", "10").want(t, 0, "delete below oldest"); !strings.HasPrefix(r.stdout, "deleted 0 events") {
		t.Fatalf("a prefix delete below the oldest id said %q", r.stdout)
	}
	if r := ringlog(t, "delete", dir, "--from", "1000").want(t, 0, "delete after newest"); !strings.HasPrefix(r.stdout, "deleted 0 events") {
		t.Fatalf("a suffix delete after the newest id said %q", r.stdout)
	}
}

// TestBackupWhileWriterProcessesAppend: two ringlog append processes keep appending
// while ringlog backup runs; the copy opens, checks clean, and holds a prefix of the
// source: exactly its events below the copy's next id.
func TestBackupWhileWriterProcessesAppend(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([][]byte, 1000)
	for i := 0; i < 200; i++ {
		for j := range batch {
			batch[j] = fmt.Appendf(nil, "preloaded-%07d-%s", i*1000+j, strings.Repeat("p", 80))
		}
		if _, err := l.AppendBatch(batch); err != nil {
			t.Fatal(err)
		}
	}
	defer l.Close()
	// Two writer processes, each fed lines as fast as it takes them.
	type writer struct {
		cmd  *exec.Cmd
		in   io.WriteCloser
		done chan struct{}
	}
	var writers []*writer
	for w := 0; w < 2; w++ {
		cmd := exec.Command(ringlogBin, "append", dir)
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wr := &writer{cmd: cmd, in: in, done: make(chan struct{})}
		writers = append(writers, wr)
		go func() {
			defer close(wr.done)
			bw := bufio.NewWriter(in)
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(bw, "writer-%d-%07d\n", w, i); err != nil {
					return
				}
				if i%64 == 0 && bw.Flush() != nil {
					return
				}
			}
		}()
	}
	stopWriters := func() {
		for _, w := range writers {
			w.in.Close()
			<-w.done
			_ = w.cmd.Wait()
		}
		writers = nil
	}
	defer func() { stopWriters() }()
	// Wait until both append.
	before, _ := l.NextEventID()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n, _ := l.NextEventID(); n > before+5000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer processes did not append")
		}
	}
	cur, err := l.Cursor("app") // the copy takes the cursors at their positions
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.Commit(1000); err != nil {
		t.Fatal(err)
	}
	start, _ := l.NextEventID()
	dest := filepath.Join(t.TempDir(), "copy")
	r := ringlog(t, "backup", dir, dest).want(t, 0, "backup")
	end, _ := l.NextEventID()
	stopWriters()
	if !strings.HasPrefix(r.stdout, "copied ") || !strings.Contains(r.stdout, " and 1 cursor in ") || !strings.HasSuffix(r.stdout, "to "+dest+"; it checks clean\n") {
		t.Fatalf("backup said %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "backup: ") || !strings.Contains(r.stderr, "(100%)") {
		t.Fatalf("backup shows no progress on stderr: %q", r.stderr)
	}
	ringlog(t, "check", dest).want(t, 0, "check of the copy")
	cp, err := mmaplog.Open(dest, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if list, err := cp.Cursors(); err != nil || len(list) != 1 || list[0].Name != "app" || list[0].Position != 1000 {
		t.Fatalf("the copy's cursors: %+v %v, want app at 1000", list, err)
	}
	cpNext, _ := cp.NextEventID()
	if cpNext < start || cpNext > end || end <= start {
		t.Fatalf("the copy ends at %d; the source went from %d to %d during the backup", cpNext, start, end)
	}
	it, err := cp.IterRange(0, mmaplog.Latest)
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for id, v := range it.All() {
		src, err := l.Get(id)
		if err != nil || id != n || !bytes.Equal(src, v) {
			t.Fatalf("copy event %d (id %d) = %q, source %q %v", n, id, v, src, err)
		}
		n++
	}
	if it.Err() != nil || n != cpNext {
		t.Fatalf("copy: %d events, next %d, %v", n, cpNext, it.Err())
	}
	t.Logf("backup of %d events while the source grew from %d to %d: %s", n, start, end, strings.TrimSpace(r.stdout))
	// A backup into a directory that is not empty is refused, and changes nothing.
	ringlog(t, "backup", dir, dest).want(t, 1, "backup into a non-empty directory").oneErrorLine(t, "ringlog backup: ", dest, "not empty")
}

// TestReadOnlyDirectory: the read commands work on a log the user can only read; a write
// is one line naming the path and "permission denied". As root, the commands run as the
// user nobody (root may write anywhere).
func TestReadOnlyDirectory(t *testing.T) {
	base, err := os.MkdirTemp("", "ringlog-ro-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		filepath.Walk(base, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o755) })
		os.RemoveAll(base)
	}()
	dir := filepath.Join(base, "log")
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := l.Append(eventBytes(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := os.Chmod(filepath.Join(dir, e.Name()), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	o := runOpts{}
	if os.Geteuid() == 0 {
		o.attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	run := func(stdin string, args ...string) result {
		o := o
		o.stdin = strings.NewReader(stdin)
		return ringlogWith(t, o, args...)
	}
	if r := run("", "dump", dir).want(t, 0, "dump, read-only"); r.stdout != textDump(0, 20) {
		t.Fatalf("dump of a read-only log:\n%s", r.stdout)
	}
	run("", "stat", dir).want(t, 0, "stat, read-only")
	if r := run("", "get", dir, "7").want(t, 0, "get, read-only"); r.stdout != string(eventBytes(7)) {
		t.Fatalf("get of a read-only log: %q", r.stdout)
	}
	run("", "tail", dir, "-n", "3").want(t, 0, "tail, read-only")
	run("", "check", dir).want(t, 0, "check, read-only")
	r := run("x\n", "append", dir).want(t, 1, "append to a read-only log")
	r.oneErrorLine(t, "ringlog append: ", dir, "permission denied")
	r = run("", "delete", dir, "--before", "5").want(t, 1, "delete in a read-only log")
	r.oneErrorLine(t, "ringlog delete: ", dir, "permission denied")
	if s := statOf(t, dir); s.NextEventID != 20 || s.EventCount != 20 {
		t.Fatalf("the refused writes changed the log: %+v", s)
	}
}
