package flock_test

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gofrs "github.com/gofrs/flock"

	"github.com/ringlog/ringlog/flock"
)

// Environment of the helper processes started by startHelper.
const (
	envRole    = "RINGLOG_FLOCK_HELPER" // role of the child; empty in the parent
	envPath    = "RINGLOG_FLOCK_PATH"   // lock file
	envCounter = "RINGLOG_FLOCK_COUNTER"
	envIters   = "RINGLOG_FLOCK_ITERS"

	exitBusy = 3 // a "trylock" child found the lock held
)

func newLock(t testing.TB, path string) *flock.Lock {
	t.Helper()
	l, err := flock.New(path, 0o644)
	if err != nil {
		t.Fatalf("New(%q): %v", path, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func lockPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "LOCK")
}

func mustLock(t testing.TB, l *flock.Lock) {
	t.Helper()
	if err := l.Lock(); err != nil {
		t.Fatalf("Lock: %v", err)
	}
}

func mustUnlock(t testing.TB, l *flock.Lock) {
	t.Helper()
	if err := l.Unlock(); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func tryLock(t testing.TB, l *flock.Lock) bool {
	t.Helper()
	ok, err := l.TryLock()
	if err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	return ok
}

// TestHelperProcess is not a test: it is the body of the child processes that
// the cross-process tests start by re-executing the test binary.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(envRole)
	if role == "" {
		t.Skip("helper process body; runs only when started by another test")
	}
	code, err := helperMain(role)
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", role, err)
		os.Exit(2)
	}
	os.Exit(code)
}

func helperMain(role string) (int, error) {
	l, err := flock.New(os.Getenv(envPath), 0o644)
	if err != nil {
		return 0, err
	}
	switch role {
	case "trylock": // exit 0 if the lock was free, exitBusy if held
		ok, err := l.TryLock()
		if err != nil {
			return 0, err
		}
		if !ok {
			fmt.Println("busy")
			return exitBusy, nil
		}
		fmt.Println("acquired")
		return 0, l.Unlock()

	case "trythenlock": // report busy, then block in Lock until the parent unlocks
		ok, err := l.TryLock()
		if err != nil {
			return 0, err
		}
		if ok {
			fmt.Println("free")
			return 0, l.Unlock()
		}
		fmt.Println("busy")
		if err := l.Lock(); err != nil {
			return 0, err
		}
		fmt.Println("acquired")
		return 0, l.Unlock()

	case "counter": // read-increment-write a counter file under the lock
		iters, err := strconv.Atoi(os.Getenv(envIters))
		if err != nil {
			return 0, err
		}
		counter := os.Getenv(envCounter)
		for range iters {
			if err := l.Lock(); err != nil {
				return 0, err
			}
			if err := increment(counter); err != nil {
				return 0, err
			}
			if err := l.Unlock(); err != nil {
				return 0, err
			}
		}
		return 0, nil

	case "hold": // take the lock and keep it until killed
		if err := l.Lock(); err != nil {
			return 0, err
		}
		fmt.Println("locked")
		time.Sleep(time.Hour)
		return 0, errors.New("not killed")
	}
	return 0, fmt.Errorf("unknown role %q", role)
}

// increment adds one to the decimal counter stored in path, non-atomically.
func increment(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n := 0
	if s := strings.TrimSpace(string(b)); s != "" {
		if n, err = strconv.Atoi(s); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(strconv.Itoa(n+1)), 0o644)
}

type helper struct {
	cmd    *exec.Cmd
	lines  *bufio.Scanner
	stderr *strings.Builder
}

// startHelper re-executes the test binary as a child running role on path.
func startHelper(t *testing.T, role, path string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envRole+"="+role, envPath+"="+path)
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, lines: bufio.NewScanner(stdout), stderr: new(strings.Builder)}
	cmd.Stderr = h.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper %s: %v", role, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return h
}

// line returns the next line the child printed.
func (h *helper) line(t *testing.T) string {
	t.Helper()
	if !h.lines.Scan() {
		t.Fatalf("helper exited early (err %v), stderr: %s", h.lines.Err(), h.stderr)
	}
	return h.lines.Text()
}

// wait reads the rest of the output and returns the exit code.
func (h *helper) wait(t *testing.T) int {
	t.Helper()
	for h.lines.Scan() {
		t.Logf("helper output: %s", h.lines.Text())
	}
	err := h.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("wait helper: %v", err)
	}
	code := h.cmd.ProcessState.ExitCode()
	if code != 0 && code != exitBusy {
		t.Fatalf("helper exit code %d, stderr: %s", code, h.stderr)
	}
	return code
}

// runTryLockChild runs a child that calls TryLock on path and reports whether
// it found the lock busy.
func runTryLockChild(t *testing.T, path string) (busy bool) {
	t.Helper()
	h := startHelper(t, "trylock", path)
	out := h.line(t)
	code := h.wait(t)
	switch {
	case out == "busy" && code == exitBusy:
		return true
	case out == "acquired" && code == 0:
		return false
	}
	t.Fatalf("trylock child: output %q, exit code %d", out, code)
	return false
}

func TestMutualExclusionGoroutines(t *testing.T) {
	l := newLock(t, lockPath(t))
	const goroutines, iters = 16, 500
	counter := 0 // incremented non-atomically: only the lock protects it
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range iters {
				if g%4 == 0 { // a quarter of the goroutines spin on TryLock
					for {
						ok, err := l.TryLock()
						if err != nil {
							t.Errorf("TryLock: %v", err)
							return
						}
						if ok {
							break
						}
						runtime.Gosched()
					}
				} else if err := l.Lock(); err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				v := counter
				if g%2 == 0 {
					runtime.Gosched() // widen the window between read and write
				}
				counter = v + 1
				if err := l.Unlock(); err != nil {
					t.Errorf("Unlock: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if want := goroutines * iters; counter != want {
		t.Fatalf("counter = %d, want %d", counter, want)
	}
	t.Logf("%d goroutines x %d increments: counter = %d", goroutines, iters, counter)
}

func TestTwoLocksSamePathExclude(t *testing.T) {
	path := lockPath(t)
	l1, l2 := newLock(t, path), newLock(t, path)

	mustLock(t, l1)
	if tryLock(t, l2) {
		t.Fatal("second *Lock on the same path: TryLock succeeded while the first holds the lock")
	}

	// A blocking Lock on the second waits until the first unlocks.
	var released, acquired sync.WaitGroup
	var order []string
	var mu sync.Mutex
	record := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	acquired.Go(func() {
		if err := l2.Lock(); err != nil {
			t.Errorf("Lock: %v", err)
			return
		}
		record("l2 locked")
		if err := l2.Unlock(); err != nil {
			t.Errorf("Unlock: %v", err)
		}
	})
	released.Go(func() {
		time.Sleep(20 * time.Millisecond)
		record("l1 unlocking")
		if err := l1.Unlock(); err != nil {
			t.Errorf("Unlock: %v", err)
		}
	})
	released.Wait()
	acquired.Wait()
	if len(order) != 2 || order[0] != "l1 unlocking" {
		t.Fatalf("order of events = %q, want l1 unlocking before l2 locked", order)
	}

	if !tryLock(t, l2) {
		t.Fatal("TryLock on the second *Lock failed after the first unlocked")
	}
	if tryLock(t, l1) {
		t.Fatal("TryLock on the first *Lock succeeded while the second holds the lock")
	}
	mustUnlock(t, l2)
}

func TestOtherOpenCloseKeepsLock(t *testing.T) {
	path := lockPath(t)
	l := newLock(t, path)
	mustLock(t, l)

	// Open and close the lock file in every way the process might: POSIX
	// fcntl locks would all be dropped by these closes; flock(2) locks are not.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	other, err := flock.New(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	l2 := newLock(t, path)
	if tryLock(t, l2) {
		t.Fatal("lock released by an unrelated open/close in the same process (in-process check)")
	}
	if !runTryLockChild(t, path) {
		t.Fatal("lock released by an unrelated open/close in the same process (child process check)")
	}
	t.Log("after 4 unrelated open/close pairs: second *Lock and child process both see the lock busy")

	mustUnlock(t, l)
	if !tryLock(t, l2) {
		t.Fatal("TryLock failed after Unlock")
	}
	mustUnlock(t, l2)
	if runTryLockChild(t, path) {
		t.Fatal("child found the lock busy after Unlock")
	}
}

func TestCrossProcessTryLockThenLock(t *testing.T) {
	path := lockPath(t)
	l := newLock(t, path)
	mustLock(t, l)

	h := startHelper(t, "trythenlock", path)
	if got := h.line(t); got != "busy" {
		t.Fatalf("child TryLock while parent holds the lock: got %q, want busy", got)
	}
	// The child is now blocked in Lock. It must not get the lock before we
	// unlock (a slow child could hide a bug here, never fake one).
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	mustUnlock(t, l)
	if got := h.line(t); got != "acquired" {
		t.Fatalf("child Lock after parent unlock: got %q, want acquired", got)
	}
	t.Logf("child acquired the lock %v after the parent unlocked", time.Since(start))
	if code := h.wait(t); code != 0 {
		t.Fatalf("child exit code %d", code)
	}
}

func TestCrossProcessCounter(t *testing.T) {
	const children, iters = 4, 200
	dir := t.TempDir()
	path := filepath.Join(dir, "LOCK")
	counter := filepath.Join(dir, "counter")
	if err := os.WriteFile(counter, []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	hs := make([]*helper, children)
	for i := range hs {
		hs[i] = startHelper(t, "counter", path, envCounter+"="+counter, envIters+"="+strconv.Itoa(iters))
	}
	for _, h := range hs {
		if code := h.wait(t); code != 0 {
			t.Fatalf("child exit code %d", code)
		}
	}
	b, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	got, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if want := children * iters; got != want {
		t.Fatalf("counter = %d, want %d (lost updates: lock did not exclude processes)", got, want)
	}
	t.Logf("%d processes x %d locked read-increment-write: counter = %d in %v",
		children, iters, got, time.Since(start))
}

func TestKilledHolderReleasesLock(t *testing.T) {
	path := lockPath(t)
	h := startHelper(t, "hold", path)
	if got := h.line(t); got != "locked" {
		t.Fatalf("holder child printed %q, want locked", got)
	}
	l := newLock(t, path)
	if tryLock(t, l) {
		t.Fatal("TryLock succeeded while a child process holds the lock")
	}

	if err := h.cmd.Process.Kill(); err != nil { // SIGKILL on unix
		t.Fatal(err)
	}
	killed := time.Now()
	deadline := killed.Add(time.Second)
	tries := 0
	for !tryLock(t, l) {
		tries++
		if time.Now().After(deadline) {
			t.Fatalf("lock not released 1s after SIGKILL of its holder (%d tries)", tries)
		}
		time.Sleep(100 * time.Microsecond)
	}
	t.Logf("acquired %v after SIGKILL of the holder (%d failed TryLocks)", time.Since(killed), tries)
	mustUnlock(t, l)
	_ = h.cmd.Wait()
}

func TestCloseIdempotentAndErrors(t *testing.T) {
	path := lockPath(t)
	l, err := flock.New(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != path {
		t.Fatalf("Path() = %q, want %q", l.Path(), path)
	}
	if err := l.Unlock(); !errors.Is(err, flock.ErrNotLocked) {
		t.Fatalf("Unlock of an unlocked Lock: err = %v, want ErrNotLocked", err)
	}
	for i := range 3 {
		if err := l.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := l.Lock(); !errors.Is(err, flock.ErrClosed) {
		t.Fatalf("Lock after Close: err = %v, want ErrClosed", err)
	}
	if ok, err := l.TryLock(); ok || !errors.Is(err, flock.ErrClosed) {
		t.Fatalf("TryLock after Close = %v, %v, want false, ErrClosed", ok, err)
	}
	if err := l.Unlock(); !errors.Is(err, flock.ErrNotLocked) {
		t.Fatalf("Unlock after Close: err = %v, want ErrNotLocked", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("lock file gone after Close: %v", err)
	}
}

func TestCloseWhileHeldReleases(t *testing.T) {
	path := lockPath(t)
	l1, l2 := newLock(t, path), newLock(t, path)
	mustLock(t, l1)
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	if !tryLock(t, l2) {
		t.Fatal("Close of the holder did not release the OS lock")
	}
	mustUnlock(t, l2)
	if err := l1.Unlock(); !errors.Is(err, flock.ErrClosed) {
		t.Fatalf("Unlock after Close while held: err = %v, want ErrClosed", err)
	}
	// The mutex was released: Lock reports ErrClosed instead of deadlocking.
	if err := l1.Lock(); !errors.Is(err, flock.ErrClosed) {
		t.Fatalf("Lock after Close: err = %v, want ErrClosed", err)
	}
}

func TestCloseWhileWaiting(t *testing.T) {
	path := lockPath(t)
	holder, waiter := newLock(t, path), newLock(t, path)
	mustLock(t, holder)
	done := make(chan error, 1)
	go func() { done <- waiter.Lock() }()
	time.Sleep(20 * time.Millisecond) // let the waiter block in flock(2)
	if err := waiter.Close(); err != nil {
		t.Fatal(err)
	}
	mustUnlock(t, holder)
	if err := <-done; !errors.Is(err, flock.ErrClosed) {
		t.Fatalf("Lock blocked across Close: err = %v, want ErrClosed", err)
	}
	// The waiter's descriptor is closed, so it holds nothing.
	if !tryLock(t, holder) {
		t.Fatal("lock still held after the closed waiter returned")
	}
	mustUnlock(t, holder)
}

func TestNewErrors(t *testing.T) {
	if _, err := flock.New("", 0o644); !errors.Is(err, flock.ErrEmptyPath) {
		t.Fatalf("New(\"\"): err = %v, want ErrEmptyPath", err)
	}
	missing := filepath.Join(t.TempDir(), "no-such-dir", "LOCK")
	if _, err := flock.New(missing, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("New in a missing directory: err = %v, want fs.ErrNotExist", err)
	}
	// New keeps the content of an existing file.
	path := lockPath(t)
	if err := os.WriteFile(path, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := newLock(t, path)
	mustLock(t, l)
	mustUnlock(t, l)
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep" {
		t.Fatalf("lock file content = %q, %v, want keep", b, err)
	}
}

func reportPairs(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

func BenchmarkLockUnlock(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		l := newLock(b, lockPath(b))
		b.ReportAllocs()
		for b.Loop() {
			if err := l.Lock(); err != nil {
				b.Fatal(err)
			}
			if err := l.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
		reportPairs(b)
	})
	b.Run("trylock", func(b *testing.B) {
		l := newLock(b, lockPath(b))
		b.ReportAllocs()
		for b.Loop() {
			if ok, err := l.TryLock(); !ok || err != nil {
				b.Fatal(ok, err)
			}
			if err := l.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
		reportPairs(b)
	})
	b.Run("parallel", func(b *testing.B) {
		l := newLock(b, lockPath(b))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := l.Lock(); err != nil {
					b.Error(err)
					return
				}
				if err := l.Unlock(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportPairs(b)
	})
}

// BenchmarkGofrsLockUnlock is the baseline this package replaces:
// github.com/gofrs/flock opens the file in Lock and closes it in Unlock.
func BenchmarkGofrsLockUnlock(b *testing.B) {
	b.Run("new-per-call", func(b *testing.B) {
		path := lockPath(b)
		b.ReportAllocs()
		for b.Loop() {
			f := gofrs.New(path)
			if err := f.Lock(); err != nil {
				b.Fatal(err)
			}
			if err := f.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
		reportPairs(b)
	})
	b.Run("reused", func(b *testing.B) {
		f := gofrs.New(lockPath(b))
		b.ReportAllocs()
		for b.Loop() {
			if err := f.Lock(); err != nil {
				b.Fatal(err)
			}
			if err := f.Unlock(); err != nil {
				b.Fatal(err)
			}
		}
		reportPairs(b)
	})
}
