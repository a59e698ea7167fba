package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringlog/ringlog/internal/testbin"
	"github.com/ringlog/ringlog/mmaplog"
)

// ringlogBin is the ringlog binary every test runs, built once by TestMain.
var ringlogBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := testbin.Build(".", "ringlog")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ringlogBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// result is what a run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// runOpts adjusts a run.
type runOpts struct {
	stdin   io.Reader
	timeout time.Duration
	attr    *syscall.SysProcAttr
}

// ringlog runs the binary with args and returns its output and exit status.
func ringlog(t *testing.T, args ...string) result {
	t.Helper()
	return ringlogWith(t, runOpts{}, args...)
}

// ringlogIn runs the binary with stdin.
func ringlogIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return ringlogWith(t, runOpts{stdin: strings.NewReader(stdin)}, args...)
}

func ringlogWith(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	if o.timeout == 0 {
		o.timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, ringlogBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, &stderr, o.stdin
	cmd.SysProcAttr = o.attr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ringlog %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("ringlog %s: did not finish within %v", strings.Join(args, " "), o.timeout)
	}
	return r
}

// want fails unless r exited with code; on failure it shows the whole run.
func (r result) want(t *testing.T, code int, what string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("%s: a Go panic or stack trace on stderr:\n%s", what, r.stderr)
	}
	return r
}

// oneErrorLine fails unless stderr is a single line starting with prefix and containing
// every one of parts.
func (r result) oneErrorLine(t *testing.T, prefix string, parts ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) {
		t.Fatalf("stderr: want one line starting with %q, got:\n%s", prefix, r.stderr)
	}
	for _, p := range parts {
		if !strings.Contains(lines[0], p) {
			t.Fatalf("stderr line %q does not name %q", lines[0], p)
		}
	}
}

// eventBytes is the content of event i of the test logs.
func eventBytes(i int) []byte { return fmt.Appendf(nil, "event-%05d", i) }

// makeLog creates a log in a new directory with n events eventBytes(0..n-1), a Rotate
// after every perSegment events (0: never), and returns the directory.
func makeLog(t *testing.T, n, perSegment int) string {
	t.Helper()
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 1 << 20, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < n; i++ {
		if _, err := l.Append(eventBytes(i)); err != nil {
			t.Fatal(err)
		}
		if perSegment > 0 && (i+1)%perSegment == 0 && i+1 < n {
			if _, err := l.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// textDump is the text-format dump of events first..first+n-1 of a makeLog log.
func textDump(first, n int) string {
	var b strings.Builder
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "%d\t%d\t%q\n", i, len(eventBytes(i)), eventBytes(i))
	}
	return b.String()
}
