package mmaplog_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// seedFlag seeds every randomized test; 0 picks a time-based seed. The seed is logged so
// that a failure can be replayed with -seed.
var seedFlag = flag.Int64("seed", 0, "random seed (0: time-based); logged")

// Environment of a re-executed test binary (see runChildren).
const (
	childRoleEnv  = "RINGLOG_TEST_CHILD"       // role to run instead of the tests
	childIndexEnv = "RINGLOG_TEST_CHILD_INDEX" // 0..n-1 among the copies started together
)

// childRoles are the functions a re-executed test binary can run; each returns the exit
// code. Test files register theirs in init.
var childRoles = map[string]func() int{}

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		f := childRoles[role]
		if f == nil {
			fmt.Fprintf(os.Stderr, "unknown child role %q\n", role)
			os.Exit(2)
		}
		os.Exit(f())
	}
	os.Exit(m.Run())
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

// child is one running copy of the test binary.
type child struct {
	role   string
	index  int
	cmd    *exec.Cmd
	out    bytes.Buffer
	cancel context.CancelFunc
	done   chan struct{} // closed when the child has exited
	err    error         // its exit status, once done is closed
	waited bool
}

// exited reports whether a child has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// anyFailed reports whether one of the children has already exited with an error, so
// that a parent polling for their progress can stop waiting.
func anyFailed(cs ...[]*child) bool {
	for _, g := range cs {
		for _, c := range g {
			if c.exited() && c.err != nil {
				return true
			}
		}
	}
	return false
}

// startChildren starts n copies of the test binary running role, each with
// RINGLOG_TEST_CHILD_INDEX set to its index and the extra env ("KEY=value").
func startChildren(t testing.TB, role string, n int, env ...string) []*child {
	t.Helper()
	cs := make([]*child, 0, n)
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		c := &child{role: role, index: i, cancel: cancel, done: make(chan struct{})}
		c.cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		c.cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childIndexEnv+"="+strconv.Itoa(i))
		c.cmd.Env = append(c.cmd.Env, env...)
		c.cmd.Stdout = &c.out
		c.cmd.Stderr = &c.out
		if err := c.cmd.Start(); err != nil {
			cancel()
			for _, o := range cs {
				o.cancel()
				<-o.done
			}
			t.Fatalf("start child %s[%d]: %v", role, i, err)
		}
		go func() { c.err = c.cmd.Wait(); close(c.done) }()
		cs = append(cs, c)
	}
	// A test that stops early (t.Fatal) leaves no child behind: each gets SIGQUIT, so
	// that its goroutine dump shows where it was, then is killed.
	t.Cleanup(func() {
		for _, c := range cs {
			if c.waited {
				continue
			}
			state := "exited"
			if !c.exited() {
				state = "still running"
				_ = c.cmd.Process.Signal(syscall.SIGQUIT)
				select {
				case <-c.done:
				case <-time.After(5 * time.Second):
					_ = c.cmd.Process.Kill()
					<-c.done
				}
			}
			c.cancel()
			t.Logf("child %s[%d] %s (%v) at the end of the test; its output:\n%s", c.role, c.index, state, c.err, c.out.String())
		}
	})
	return cs
}

// waitChildren waits for every child, logs its output and fails the test if one exited
// with a non-zero code. It returns the outputs in order.
func waitChildren(t testing.TB, cs []*child) []string {
	t.Helper()
	outs := make([]string, len(cs))
	failed := false
	for i, c := range cs {
		<-c.done
		err := c.err
		c.waited = true
		c.cancel()
		outs[i] = c.out.String()
		if err != nil {
			failed = true
			t.Errorf("child %s[%d]: %v\n%s", c.role, c.index, err, outs[i])
		} else if outs[i] != "" {
			t.Logf("child %s[%d]: %s", c.role, c.index, bytes.TrimSpace([]byte(outs[i])))
		}
	}
	if failed {
		t.FailNow()
	}
	return outs
}

// runChildren runs n copies of role to completion (see startChildren and waitChildren).
func runChildren(t testing.TB, role string, n int, env ...string) []string {
	t.Helper()
	return waitChildren(t, startChildren(t, role, n, env...))
}

// childIndex returns RINGLOG_TEST_CHILD_INDEX in a child.
func childIndex() int { return envInt(childIndexEnv) }

// envInt returns an integer environment variable, 0 when unset or malformed.
func envInt(name string) int {
	v, _ := strconv.Atoi(os.Getenv(name))
	return v
}

// childFail reports a child's failure on stderr and returns the exit code 1.
func childFail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "child %s[%d]: ", os.Getenv(childRoleEnv), childIndex())
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	return 1
}
