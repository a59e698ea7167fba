package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

func TestCursorsCommand(t *testing.T) {
	dir := makeLog(t, 50, 0) // ids 0..49, next 50
	r := ringlog(t, "cursors", dir).want(t, 0, "cursors of a log without any")
	if strings.TrimSpace(r.stdout) != "no cursors in "+dir {
		t.Fatalf("cursors of a log without any: %q", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "cursors")); err == nil {
		t.Fatal("the read-only command created the cursor table")
	}
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, pos := range map[string]mmaplog.EventID{"billing": 20, "audit.v2": 50, "ahead": 70} {
		c, err := l.Cursor(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Commit(pos); err != nil {
			t.Fatal(err)
		}
	}
	fresh, err := l.Cursor("fresh")
	if err != nil || fresh.Position() != 0 {
		t.Fatalf("fresh cursor: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]uint64{"billing": {20, 30}, "audit.v2": {50, 0}, "ahead": {70, 0}, "fresh": {0, 50}}
	r = ringlog(t, "cursors", dir).want(t, 0, "cursors")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "NAME POSITION LAG" {
		t.Fatalf("cursors table:\n%s", r.stdout)
	}
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		w, ok := want[f[0]]
		if !ok || len(f) != 3 || f[1] != itoa(int64(w[0])) || f[2] != itoa(int64(w[1])) {
			t.Fatalf("row %q, want %s %v", line, f[0], w)
		}
	}
	r = ringlog(t, "cursors", dir, "--json").want(t, 0, "cursors --json")
	var rows []struct {
		Name     string `json:"name"`
		Position uint64 `json:"position"`
		Lag      uint64 `json:"lag"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 4 {
		t.Fatalf("cursors --json: %v\n%s", err, r.stdout)
	}
	for _, row := range rows {
		if w := want[row.Name]; row.Position != w[0] || row.Lag != w[1] {
			t.Fatalf("json row %+v, want %v", row, w)
		}
	}
	h := ringlog(t, "cursors", "--help").want(t, 0, "cursors --help")
	if !strings.HasPrefix(h.stdout, "usage: ringlog cursors DIR") || !strings.Contains(h.stdout, "$ ringlog cursors ") {
		t.Fatalf("cursors --help:\n%s", h.stdout)
	}
	if !strings.Contains(ringlog(t, "help").stdout, "  cursors ") {
		t.Fatal("help does not list cursors")
	}

	// Bad usage and a path that is not a log: exit status 2, one line.
	ringlog(t, "cursors", dir, "--bogus").want(t, 2, "bad flag").oneErrorLine(t, "ringlog", "flag provided but not defined: -bogus")
	ringlog(t, "cursors").want(t, 2, "no DIR").oneErrorLine(t, "ringlog", "want DIR")
	other := t.TempDir()
	ringlog(t, "cursors", other).want(t, 2, "not a log").oneErrorLine(t, "ringlog cursors: ", other, "not a ringlog directory (no meta file)")

	// A damaged table: exit status 1, one line naming the file and the offset.
	path := filepath.Join(dir, "cursors")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[4096+64+1] ^= 1 // entry 0's name
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	ringlog(t, "cursors", dir).want(t, 1, "damaged table").oneErrorLine(t, "ringlog cursors: ", path, "offset 4096", "name checksum")
}
