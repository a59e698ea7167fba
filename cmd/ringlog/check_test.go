package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

func TestCheckCleanLog(t *testing.T) {
	dir := makeLog(t, 1000, 400)
	r := ringlog(t, "check", dir).want(t, 0, "check")
	if r.stdout != "ok: 1,000 events, 10.7 KiB verified in 3 segment files, no problems\n" {
		t.Fatalf("check said %q", r.stdout)
	}
	var js checkJSON
	r = ringlog(t, "check", dir, "--json").want(t, 0, "check --json")
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || !js.OK || js.Events != 1000 || js.SegmentFiles != 3 || len(js.Problems) != 0 {
		t.Fatalf("check --json: %v %+v\n%s", err, js, r.stdout)
	}
}

// damagedCopy makes a log of 1000 events over 3 segments and flips one byte in the
// payload of event 500 (segment 1): it returns the directory, the damaged file and the
// record's offset.
func damagedCopy(t *testing.T) (dir, seg string, off int64) {
	t.Helper()
	dir = makeLog(t, 1000, 400)
	seg = filepath.Join(dir, "seg-0000000000000001")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), string(eventBytes(500)))
	if i < 16 {
		t.Fatal("event 500 not found in segment 1")
	}
	patchFile(t, seg, int64(i+3), []byte{'X'})
	return dir, seg, int64(i - 16)
}

func TestCheckDamagedCopy(t *testing.T) {
	dir, seg, off := damagedCopy(t)
	r := ringlog(t, "check", dir).want(t, 1, "check of a damaged log")
	want := seg + " at offset " + itoa(off) + " (event 500): record checksum mismatch"
	if !strings.Contains(r.stdout, want+"\n") || !strings.Contains(r.stdout, "damaged: 1 problem;") {
		t.Fatalf("check output lacks %q:\n%s", want, r.stdout)
	}
	if !strings.Contains(r.stderr, "ringlog check: "+dir+": 1 problem found, the first: "+want) {
		t.Fatalf("check's error line: %q", r.stderr)
	}
	var js checkJSON
	r = ringlog(t, "check", dir, "--json").want(t, 1, "check --json of a damaged log")
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js.OK || len(js.Problems) != 1 ||
		js.Problems[0].Path != seg || js.Problems[0].Offset != off || *js.Problems[0].ID != 500 {
		t.Fatalf("check --json: %v %+v", err, js)
	}
}

func TestDumpContinuesPastDamage(t *testing.T) {
	dir, seg, off := damagedCopy(t)
	r := ringlog(t, "dump", dir).want(t, 1, "dump of a damaged log")
	if r.stdout != textDump(0, 500)+textDump(501, 499) {
		t.Fatalf("dump did not print every other event:\n%s", r.stdout)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "event 500: ") || !strings.Contains(lines[0], seg+" at offset "+itoa(off)) ||
		lines[1] != "ringlog dump: 1 damaged record skipped (listed above)" {
		t.Fatalf("dump's stderr:\n%s", r.stderr)
	}
	// A damaged segment header: every event of the segment is unreadable, reported once
	// with a count; the other segments are dumped.
	patchFile(t, seg, 48, []byte{0, 0, 0, 0})
	r = ringlog(t, "dump", dir).want(t, 1, "dump with a damaged segment header")
	if r.stdout != textDump(0, 400)+textDump(800, 200) {
		t.Fatalf("dump with segment 1 unreadable printed:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, seg+" at offset 48: header checksum") || !strings.Contains(r.stderr, "399 more events for the same reason") {
		t.Fatalf("dump's stderr with a damaged segment header:\n%s", r.stderr)
	}
}

// TestProgressPlainLines: without a terminal, check's progress is plain lines (no
// carriage return, no escape sequence), the last one at 100%.
func TestProgressPlainLines(t *testing.T) {
	dir := makeLog(t, 20_000, 0)
	r := ringlog(t, "check", dir).want(t, 0, "check")
	if strings.ContainsAny(r.stderr, "\r\x1b") {
		t.Fatalf("progress without a terminal has control characters: %q", r.stderr)
	}
	if r.stderr != "check: 20,000/20,000 records (100%), "+strings.SplitN(r.stderr, "(100%), ", 2)[1] || !strings.Contains(r.stderr, " in ") {
		t.Fatalf("plain progress: %q", r.stderr)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// patchFile overwrites bytes of the file at path at off, as damage would.
func patchFile(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// A log whose tail a repair cut after a (simulated) power loss: check is clean but says
// what the repair removed, and so does stat.
func TestCheckAndStatReportRepair(t *testing.T) {
	src := t.TempDir()
	l, err := mmaplog.Open(src, &mmaplog.Options{SegmentSize: 1 << 20, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for id := uint64(0); id < 150; id++ {
		if err := l.AppendWithID(id, eventBytes(int(id))); err != nil {
			t.Fatal(err)
		}
		if id == 99 {
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := t.TempDir() // the files as a power loss leaves them: 100..149 never synced
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "meta" {
			clear(b[320:336]) // the boot id: a reboot happened
		}
		if strings.HasPrefix(e.Name(), "seg-") {
			if i := strings.Index(string(b), string(eventBytes(120))); i >= 0 {
				b[i+3] ^= 0xff // torn
			}
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	l2, err := mmaplog.Open(dir, nil) // the repair
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	r := ringlog(t, "check", dir).want(t, 0, "check")
	if !strings.Contains(r.stdout, "repaired: a repair after a reboot removed events [120, 150)") || !strings.Contains(r.stdout, "ok: 120 events") {
		t.Fatalf("check of a repaired log said:\n%s", r.stdout)
	}
	var js checkJSON
	r = ringlog(t, "check", dir, "--json").want(t, 0, "check --json")
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || js.LastRepair == nil || js.LastRepair.From != 120 || js.LastRepair.To != 150 || js.LastRepair.Count != 1 {
		t.Fatalf("check --json: %v %+v\n%s", err, js, r.stdout)
	}
	r = ringlog(t, "stat", dir).want(t, 0, "stat")
	if !strings.Contains(r.stdout, "repaired   a repair after a reboot removed events [120, 150)") {
		t.Fatalf("stat of a repaired log said:\n%s", r.stdout)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "repaired") {
			t.Logf("stat: %s", line)
		}
	}
}
