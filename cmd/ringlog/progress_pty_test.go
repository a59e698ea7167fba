//go:build linux

package main

import (
	"strings"
	"testing"
)

// TestProgressBarOnPTY: with stderr on a terminal, check draws a bar redrawn in place
// ("\r", clear line), as wide as the terminal, ending at 100% on its own line; stdout,
// not a terminal, gets only the report.
func TestProgressBarOnPTY(t *testing.T) {
	dir := makeLog(t, 100_000, 0)
	tty, other, code := runOnPTY(t, 100, false, true, "check", dir)
	if code != 0 {
		t.Fatalf("check on a terminal: exit %d\n%s%s", code, tty, other)
	}
	if other != "ok: 100,000 events, 1.0 MiB verified in 4 segment files, no problems\n" {
		t.Fatalf("stdout: %q", other)
	}
	draws := strings.Split(tty, "\r\x1b[2K")
	if len(draws) < 3 || !strings.HasPrefix(tty, "\r\x1b[2Kcheck [") {
		t.Fatalf("no bar redrawn in place: %q", tty)
	}
	last := strings.TrimRight(draws[len(draws)-1], "\r\n")
	if !strings.HasPrefix(last, "check ["+strings.Repeat("=", 10)) || !strings.Contains(last, "] 100%  100,000/100,000 records") || !strings.Contains(last, " in ") {
		t.Fatalf("final bar %q", last)
	}
	if n := len([]rune(last)); n > 100 || n < 90 {
		t.Fatalf("the bar is %d columns on a 100-column terminal: %q", n, last)
	}
	t.Logf("%d draws, the last: %s", len(draws)-1, last)
}

// TestDemoStatusOnPTY: on a terminal the demo redraws its status block in place (cursor
// up over the block, each line cleared) and still ends with its last line.
func TestDemoStatusOnPTY(t *testing.T) {
	tty, other, code := runOnPTY(t, 160, true, false, "demo", "--duration", "1500ms", "--dir", t.TempDir()+"/log")
	if code != 0 {
		t.Fatalf("demo on a terminal: exit %d\n%s\n%s", code, tty, other)
	}
	if !strings.Contains(tty, "\x1b[5A") || strings.Count(tty, "\r\x1b[2K") < 10 {
		t.Fatalf("no status block redrawn in place:\n%q", tty)
	}
	lines := strings.Split(strings.TrimRight(tty, "\r\n"), "\r\n")
	if last := lines[len(lines)-1]; !demoLastLine.MatchString(last) {
		t.Fatalf("last line on the terminal %q", last)
	}
}
