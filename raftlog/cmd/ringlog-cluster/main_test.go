package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// build compiles the command into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ringlog-cluster")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDemoCluster runs the demo as a real process, briefly: it must print the election
// after the kill and end with the verdict line, exit status 0.
func TestDemoCluster(t *testing.T) {
	bin := build(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "-commands", "2000", "-kills", "1", "-every", "100ms")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("demo output:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	verdict := regexp.MustCompile(`^cluster: 2000 commands, 3 nodes, 1 leader kills, 0 lost, fsm equal$`)
	if !verdict.MatchString(lines[len(lines)-1]) {
		t.Fatalf("last line %q is not the verdict", lines[len(lines)-1])
	}
	for _, want := range []string{"SIGKILL leader", "new leader", "is the leader", "leader=", "applies/s=", "n0=[", "restarted"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestDemoBadInput: a bad flag or an unusable directory gets one clear line on stderr and
// a non-zero exit, never a stack trace.
func TestDemoBadInput(t *testing.T) {
	bin := build(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "old"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-commands", "x"}, 2, "invalid value"},
		{[]string{"-commands", "0"}, 2, "must be >= 1"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-dir", file}, 1, "cluster: FAILED: -dir"},
		{[]string{"-dir", full}, 1, "is not empty"},
		{[]string{"node", "-id", "n9"}, 2, "node:"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, tc.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		msg := stderr.String()
		if code != tc.code || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.want) ||
			strings.Contains(msg, "goroutine") || strings.Contains(msg, "panic") {
			t.Errorf("%v: exit %d (%v), stderr %q; want exit %d and one line with %q", tc.args, code, err, msg, tc.code, tc.want)
		}
	}
}
