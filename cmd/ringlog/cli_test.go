package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpForEveryCommand(t *testing.T) {
	r := ringlog(t, "help").want(t, 0, "help")
	names := []string{"stat", "dump", "get", "tail", "append", "check", "delete", "backup", "bench", "demo"}
	for _, name := range names {
		if !strings.Contains(r.stdout, "  "+name+" ") {
			t.Fatalf("help does not list %s:\n%s", name, r.stdout)
		}
		for _, args := range [][]string{{name, "--help"}, {"help", name}, {name, "-h"}} {
			h := ringlog(t, args...).want(t, 0, strings.Join(args, " "))
			ex := h.stdout[strings.Index(h.stdout, "example:"):]
			if !strings.HasPrefix(h.stdout, "usage: ringlog "+name+" ") || !strings.Contains(ex, "ringlog "+name+" ") {
				t.Fatalf("ringlog %v: no usage line or no example running it:\n%s", args, h.stdout)
			}
		}
	}
	if !strings.Contains(r.stdout, "go install github.com/ringlog/ringlog/cmd/ringlog@latest") {
		t.Fatalf("help does not show the install line:\n%s", r.stdout)
	}
	ringlog(t).want(t, 2, "no arguments")
}

func TestBadUsage(t *testing.T) {
	dir := makeLog(t, 3, 0)
	cases := []struct {
		args []string
		want string // in the stderr line
	}{
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"help", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"stat"}, "want DIR"},
		{[]string{"stat", dir, "extra"}, "got 2 arguments"},
		{[]string{"dump", dir, "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"dump", dir, "--format", "yaml"}, `--format "yaml"`},
		{[]string{"dump", dir, "--from", "x"}, `invalid value "x"`},
		{[]string{"dump", dir, "--from", "5", "--to", "2"}, "--from 5 is after --to 2"},
		{[]string{"get", dir, "twelve"}, `event id "twelve"`},
		{[]string{"get", dir, "-1"}, "flag provided but not defined: -1"},
		{[]string{"tail", dir, "-n", "-3"}, `invalid value "-3"`},
		{[]string{"delete", dir}, "exactly one of --before ID and --from ID"},
		{[]string{"delete", dir, "--before", "1", "--from", "2"}, "exactly one of"},
		{[]string{"delete", dir, "--from", "x"}, `event id "x"`},
		{[]string{"backup", dir}, "want DIR DEST"},
		{[]string{"bench", "--duration", "0s"}, "want a positive duration"},
		{[]string{"demo", "--duration", "-1s"}, "want a positive duration"},
	}
	for _, c := range cases {
		r := ringlog(t, c.args...).want(t, 2, strings.Join(c.args, " "))
		prefix := "ringlog"
		r.oneErrorLine(t, prefix, c.want)
	}
}

// TestNotALogDirectory: a path that does not exist, a file, and a directory without a
// meta file are exit status 2 with one line naming the path, for every command that
// takes a log directory.
func TestNotALogDirectory(t *testing.T) {
	base := t.TempDir()
	missing := filepath.Join(base, "missing")
	file := filepath.Join(base, "file")
	other := filepath.Join(base, "other")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ path, cause string }{
		{missing, "no such directory"},
		{other, "not a ringlog directory (no meta file)"},
	} {
		for _, args := range [][]string{
			{"stat", p.path}, {"dump", p.path}, {"get", p.path, "0"}, {"tail", p.path}, {"check", p.path},
			{"delete", p.path, "--before", "3"}, {"backup", p.path, filepath.Join(base, "dest")},
		} {
			r := ringlog(t, args...).want(t, 2, strings.Join(args, " "))
			r.oneErrorLine(t, "ringlog "+args[0]+": ", p.path, p.cause)
		}
	}
	for _, args := range [][]string{{"stat", file}, {"check", file}, {"tail", file}} {
		r := ringlog(t, args...).want(t, 2, strings.Join(args, " "))
		r.oneErrorLine(t, "ringlog "+args[0]+": ", file, "not a directory")
	}
	// append creates a log only in a missing or empty directory.
	r := ringlogIn(t, "x\n", "append", other).want(t, 2, "append to a non-log directory")
	r.oneErrorLine(t, "ringlog append: ", other, "no meta file")
	if _, err := os.Stat(filepath.Join(other, "meta")); err == nil {
		t.Fatal("append made a log in a directory that held other files")
	}
}

// TestGarbageMetaFile: a meta file that is not one is exit status 1 with one line naming
// the file and the offset, never a panic.
func TestGarbageMetaFile(t *testing.T) {
	dir := makeLog(t, 3, 0)
	if err := os.WriteFile(filepath.Join(dir, "meta"), []byte(strings.Repeat("garbage!", 512)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"stat", dir}, {"dump", dir}, {"get", dir, "1"}, {"tail", dir}} {
		r := ringlog(t, args...).want(t, 1, strings.Join(args, " "))
		r.oneErrorLine(t, "ringlog "+args[0]+": ", filepath.Join(dir, "meta"), "at offset 0", "bad magic")
	}
	r := ringlog(t, "check", dir).want(t, 1, "check of a garbage meta file")
	if !strings.Contains(r.stdout, filepath.Join(dir, "meta")+" at offset 0: bad magic") {
		t.Fatalf("check does not list the meta file's problem:\n%s", r.stdout)
	}
}
