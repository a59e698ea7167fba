package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
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

func TestStatTextAndJSON(t *testing.T) {
	dir := makeLog(t, 300, 100) // three segments: 0..99, 100..199, 200..299
	r := ringlog(t, "stat", dir).want(t, 0, "stat")
	for _, want := range []string{
		"events 300 live, ids 0..299 (0 tombstoned), next id 300",
		"durable below id 300",
		"lock free, no waiters",
		"seg-0000000000000000 segment 0 sealed 0 99 100",
		"seg-0000000000000001 segment 1 sealed 100 199 100",
		"seg-0000000000000002 segment 2 active 200 299 100",
		"index-0000000000000001 index 1 current capacity 262,144",
		"meta meta",
	} {
		found := false
		for _, line := range strings.Split(r.stdout, "\n") {
			found = found || strings.HasPrefix(strings.Join(strings.Fields(line), " "), want)
		}
		if !found {
			t.Fatalf("stat output has no line %q:\n%s", want, r.stdout)
		}
	}
	var js struct {
		Stats struct {
			EventCount  uint64 `json:"event_count"`
			NextEventID uint64 `json:"next_event_id"`
			FileCount   int    `json:"file_count"`
		} `json:"stats"`
		Meta struct {
			Version     uint32 `json:"version"`
			LogID       string `json:"log_id"`
			NextEventID uint64 `json:"next_event_id"`
			SyncedNext  uint64 `json:"synced_next_event_id"`
		} `json:"meta"`
		Segments []struct {
			Seq     uint64  `json:"seq"`
			State   string  `json:"state"`
			Events  uint64  `json:"events"`
			FirstID *uint64 `json:"first_id"`
			LastID  *uint64 `json:"last_id"`
		} `json:"segments"`
		Indexes []struct {
			Capacity uint64 `json:"capacity"`
			Role     string `json:"role"`
		} `json:"indexes"`
		Lock struct {
			HolderPID int `json:"holder_pid"`
		} `json:"lock"`
	}
	r = ringlog(t, "stat", dir, "--json").want(t, 0, "stat --json")
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("stat --json is not JSON: %v\n%s", err, r.stdout)
	}
	if js.Stats.EventCount != 300 || js.Meta.NextEventID != 300 || js.Meta.Version != 2 || len(js.Meta.LogID) != 32 || len(js.Segments) != 3 {
		t.Fatalf("stat --json: %+v", js)
	}
	for i, s := range js.Segments {
		if s.Seq != uint64(i) || s.Events != 100 || *s.FirstID != uint64(100*i) || *s.LastID != uint64(100*i+99) {
			t.Fatalf("segment row %d: %+v", i, s)
		}
	}
	if js.Segments[2].State != "active" || js.Segments[0].State != "sealed" || len(js.Indexes) != 1 || js.Indexes[0].Role != "current" {
		t.Fatalf("states: %+v %+v", js.Segments, js.Indexes)
	}
}

func TestDumpFormats(t *testing.T) {
	dir := makeLog(t, 250, 100)
	r := ringlog(t, "dump", dir).want(t, 0, "dump")
	if r.stdout != textDump(0, 250) {
		t.Fatalf("dump (text) differs; got:\n%s", r.stdout)
	}
	r = ringlog(t, "dump", dir, "--from", "95", "--to", "104").want(t, 0, "dump --from --to")
	if r.stdout != textDump(95, 10) {
		t.Fatalf("dump --from 95 --to 104 across a segment boundary:\n%s", r.stdout)
	}
	r = ringlog(t, "dump", "--format", "json", dir, "--from", "7", "--to", "9").want(t, 0, "dump json")
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for id := 7; sc.Scan(); id++ {
		var ev struct {
			ID   uint64 `json:"id"`
			Len  int    `json:"len"`
			Data string `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("json line %q: %v", sc.Text(), err)
		}
		data, _ := base64.StdEncoding.DecodeString(ev.Data)
		if ev.ID != uint64(id) || ev.Len != len(data) || !bytes.Equal(data, eventBytes(id)) {
			t.Fatalf("json line %q, want id %d %q", sc.Text(), id, eventBytes(id))
		}
	}
	r = ringlog(t, "dump", dir, "--format", "hex", "--from", "3", "--to", "3").want(t, 0, "dump hex")
	if !strings.HasPrefix(r.stdout, "event 3 (11 bytes)\n00000000  65 76 65 6e 74 2d 30 30  30 30 33") || !strings.Contains(r.stdout, "|event-00003|") {
		t.Fatalf("dump hex:\n%s", r.stdout)
	}
	// raw is what append --framed reads: a log copied through a pipe is the same log.
	r = ringlog(t, "dump", dir, "--format", "raw").want(t, 0, "dump raw")
	var frames int
	for b := []byte(r.stdout); len(b) > 0; frames++ {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n || !bytes.Equal(b[k:k+int(n)], eventBytes(frames)) {
			t.Fatalf("raw frame %d is not event %d", frames, frames)
		}
		b = b[k+int(n):]
	}
	copyDir := filepath.Join(t.TempDir(), "copy")
	a := ringlogIn(t, r.stdout, "append", copyDir, "--framed", "--sync").want(t, 0, "append --framed")
	if a.stdout != "appended 250 events: ids 0..249\n" || frames != 250 {
		t.Fatalf("append --framed of %d frames said %q", frames, a.stdout)
	}
	if got := ringlog(t, "dump", copyDir).want(t, 0, "dump copy").stdout; got != textDump(0, 250) {
		t.Fatal("the copy made through dump --format raw | append --framed differs")
	}
}

// TestDumpArchivedSegment: a sealed segment copied out of the log, then removed from it
// by a prefix delete, is dumped on its own.
func TestDumpArchivedSegment(t *testing.T) {
	dir := makeLog(t, 200, 100)
	seg := filepath.Join(dir, "seg-0000000000000000")
	archive := filepath.Join(t.TempDir(), "seg-0000000000000000")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ringlog(t, "delete", dir, "--before", "100").want(t, 0, "delete --before 100")
	if _, err := os.Stat(seg); err == nil {
		t.Fatal("the prefix delete left the sealed segment")
	}
	r := ringlog(t, "dump", archive).want(t, 0, "dump FILE")
	if r.stdout != textDump(0, 100) {
		t.Fatalf("dump of the archived segment:\n%s", r.stdout)
	}
	r = ringlog(t, "dump", archive, "--from", "10", "--to", "11", "--format", "json").want(t, 0, "dump FILE json")
	if strings.Count(r.stdout, "\n") != 2 || !strings.HasPrefix(r.stdout, `{"id":10,"len":11,`) {
		t.Fatalf("dump FILE --from 10 --to 11 --format json:\n%s", r.stdout)
	}
	// A file that is not a segment: exit status 1, one line naming it and the offset.
	bogus := filepath.Join(t.TempDir(), "seg-0000000000000001")
	if err := os.WriteFile(bogus, bytes.Repeat([]byte("x"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	ringlog(t, "dump", bogus).want(t, 1, "dump of a non-segment").oneErrorLine(t, "ringlog dump: ", bogus, "at offset 0", "bad magic")
}

func TestGetWritesTheBytesUnchanged(t *testing.T) {
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	binaryEvent := []byte{0, 1, 2, '\n', 0xff, '\r', 0}
	if _, err := l.AppendBatch([][]byte{[]byte("first"), binaryEvent, {}}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if r := ringlog(t, "get", dir, "1").want(t, 0, "get 1"); r.stdout != string(binaryEvent) {
		t.Fatalf("get 1 = %q, want %q", r.stdout, binaryEvent)
	}
	if r := ringlog(t, "get", dir, "2").want(t, 0, "get 2"); r.stdout != "" {
		t.Fatalf("get of an empty event = %q", r.stdout)
	}
	ringlog(t, "get", dir, "3").want(t, 1, "get 3").oneErrorLine(t, "ringlog get: ", dir, "event 3: not found")
}

func TestTailLastEvents(t *testing.T) {
	dir := makeLog(t, 50, 0)
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteRange(45, 47); err != nil { // tombstones inside the last 5 ids
		t.Fatal(err)
	}
	l.Close()
	r := ringlog(t, "tail", dir, "-n", "4").want(t, 0, "tail -n 4")
	want := textDump(43, 2) + textDump(48, 2)
	if r.stdout != want {
		t.Fatalf("tail -n 4 with ids 45..47 deleted:\n%s\nwant:\n%s", r.stdout, want)
	}
	if r := ringlog(t, "tail", dir).want(t, 0, "tail"); strings.Count(r.stdout, "\n") != 10 {
		t.Fatalf("tail prints 10 by default:\n%s", r.stdout)
	}
	if r := ringlog(t, "tail", dir, "-n", "1000", "--format", "json").want(t, 0, "tail -n 1000"); strings.Count(r.stdout, "\n") != 47 {
		t.Fatalf("tail -n 1000 of 47 live events:\n%s", r.stdout)
	}
}

// TestTailFollowSeesAnotherProcess: tail -f, running as one process, prints an event that
// another process (ringlog append) appends, and exits 0 on SIGINT.
func TestTailFollowSeesAnotherProcess(t *testing.T) {
	dir := makeLog(t, 5, 0)
	cmd := exec.Command(ringlogBin, "tail", "-f", "-n", "2", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next := func(what string) string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("tail -f ended while waiting for %s; stderr: %s", what, stderr.String())
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatalf("tail -f printed no %s within 20 s", what)
		}
		return ""
	}
	if a, b := next("event 3"), next("event 4"); a+"\n"+b+"\n" != textDump(3, 2) {
		t.Fatalf("tail -f -n 2 started with %q, %q", a, b)
	}
	start := time.Now()
	ringlogIn(t, "from another process\n", "append", dir).want(t, 0, "append while tail -f runs")
	if got := next("the appended event"); got != "5\t20\t\"from another process\"" {
		t.Fatalf("tail -f printed %q", got)
	}
	t.Logf("tail -f printed the event %v after the append started", time.Since(start))
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tail -f after SIGINT: %v (want exit status 0); stderr: %s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Fatalf("tail -f wrote to stderr: %s", stderr.String())
	}
}
