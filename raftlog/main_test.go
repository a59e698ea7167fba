package raftlog_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seedFlag seeds every randomized test; 0 picks a time-based seed, which is logged.
var seedFlag = flag.Int64("seed", 0, "random seed (0: time-based); logged")

// childRoleEnv names the role a re-executed test binary runs instead of the tests.
const childRoleEnv = "RINGLOG_TEST_CHILD"

// childRoles are the functions a re-executed test binary can run (their arguments are
// os.Args after "--"); each returns the exit code. Test files register theirs in init.
var childRoles = map[string]func(args []string) int{}

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		f := childRoles[role]
		if f == nil {
			fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
			os.Exit(2)
		}
		os.Exit(f(childArgs()))
	}
	code := m.Run()
	removeBenchStores()
	os.Exit(code)
}

// childArgs returns the arguments after "--".
func childArgs() []string {
	for i, a := range os.Args {
		if a == "--" {
			return os.Args[i+1:]
		}
	}
	return nil
}

// seed returns the seed of a randomized test (the -seed flag, or the time) and logs it.
func seed(t testing.TB) int64 {
	t.Helper()
	s := *seedFlag
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Logf("seed=%d (rerun with -seed=%d)", s, s)
	return s
}

// childCmd returns a command that re-executes the test binary in role with args.
func childCmd(role string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), childRoleEnv+"="+role)
	return cmd
}

// runUntilKilled starts cmd, passes each line of its stdout to parse, SIGKILLs it after
// the given time, passes the lines it had written before it died, and waits for it. A
// child that exits on its own before the kill fails the test.
func runUntilKilled(t *testing.T, cmd *exec.Cmd, after time.Duration, parse func(line string)) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
	}()
	deadline := time.After(after)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child exited before it was killed: %v", cmd.Wait())
			}
			parse(l)
			continue
		case <-deadline:
		}
		break
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for l := range lines {
		parse(l)
	}
	cmd.Wait()
}
