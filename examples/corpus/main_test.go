package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/internal/testbin"
)

// corpusBin is the program, built once by TestMain.
var corpusBin string

func TestMain(m *testing.M) {
	bin, cleanup, err := testbin.Build(".", "corpus")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	corpusBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// TestWorkersShareACorpus runs the program: 3 worker processes fuzz for a second and
// share what they find through one log; the program checks that each received every
// input the others found, and that the log holds exactly what they found.
func TestWorkersShareACorpus(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(corpusBin, "-workers", "3", "-duration", "1s", "-dir", dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("corpus: %v\n%s", err, out)
	}
	last := strings.TrimSpace(string(out))
	if !strings.HasPrefix(last, "corpus: 3 workers shared ") || !strings.HasSuffix(last, "each received every input the others found") {
		t.Fatalf("last line %q", last)
	}
	var n int
	fmt.Sscanf(last, "corpus: 3 workers shared %d inputs", &n)
	if n < 3 {
		t.Fatalf("only %d inputs shared in a second by 3 workers", n)
	}
	t.Log(last)
}
