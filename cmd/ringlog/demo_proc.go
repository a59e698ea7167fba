package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ack is what the parent keeps of one acknowledged event: its id and the timestamp its
// bytes carry (with the writer, incarnation and seq, everything needed to rebuild them).
type ack struct {
	id         uint64
	prevReturn int64
}

// writerProc is one writer slot of the demo (1..3) and its current process.
type writerProc struct {
	slot     uint8
	mode     string
	inc      uint8
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stderr   bytes.Buffer
	done     chan struct{} // closed when the process has exited and its acks are read
	killed   bool          // the demo killed this process
	waitErr  error         // set before done is closed
	protoErr string        // a message out of order, set before done is closed

	acked   atomic.Uint64 // acknowledged appends of this slot, all incarnations
	retries atomic.Uint64 // IDError retries of this slot, all incarnations
	retryIn uint64        // retries of earlier incarnations
	openNs  atomic.Int64  // how long the current incarnation's Open took
	started time.Time

	mu   sync.Mutex
	acks map[uint8][]ack // per incarnation, in seq order
}

// start runs the next incarnation of the writer in dir, appending at most rate events
// per second (0: unpaced).
func (w *writerProc) start(self, dir string, rate int) error {
	w.inc++
	w.retryIn = w.retries.Load()
	w.killed, w.waitErr, w.protoErr = false, nil, ""
	w.stderr.Reset()
	w.openNs.Store(-1)
	cmd, stdin, stdout, err := startRole(self, "demo-writer", &w.stderr, dir, w.mode, strconv.Itoa(int(w.slot)), strconv.Itoa(int(w.inc)), strconv.Itoa(rate))
	if err != nil {
		return fmt.Errorf("start writer %d: %w", w.slot, err)
	}
	w.cmd, w.stdin, w.done, w.started = cmd, stdin, make(chan struct{}), time.Now()
	w.mu.Lock()
	if w.acks == nil {
		w.acks = map[uint8][]ack{}
	}
	w.mu.Unlock()
	go w.readMessages(stdout, w.inc)
	return nil
}

// readMessages reads the writer's messages until its stdout closes, then waits for it.
func (w *writerProc) readMessages(r io.Reader, inc uint8) {
	defer close(w.done)
	br := bufio.NewReaderSize(r, 256<<10)
	var rec [msgSize]byte
	var mine []ack
	for {
		if _, err := io.ReadFull(br, rec[:]); err != nil {
			break // EOF, or a record cut by a SIGKILL
		}
		kind := binary.LittleEndian.Uint64(rec[0:])
		a, b, c := binary.LittleEndian.Uint64(rec[8:]), binary.LittleEndian.Uint64(rec[16:]), binary.LittleEndian.Uint64(rec[24:])
		switch kind {
		case msgAck:
			if b != uint64(len(mine)) {
				w.protoErr = fmt.Sprintf("acknowledgement of seq %d after %d", b, len(mine))
			}
			mine = append(mine, ack{id: a, prevReturn: int64(c)})
			if len(mine)%256 == 0 {
				w.publish(inc, mine)
			}
			w.acked.Add(1)
		case msgStats:
			w.retries.Store(w.retryIn + a)
		case msgHello:
			w.openNs.Store(int64(a))
		}
	}
	w.publish(inc, mine)
	w.waitErr = w.cmd.Wait()
}

// publish stores the acknowledgements read so far of incarnation inc.
func (w *writerProc) publish(inc uint8, acks []ack) {
	w.mu.Lock()
	w.acks[inc] = acks
	w.mu.Unlock()
}

// stop closes the writer's stdin (it finishes its append, flushes and exits) and waits.
func (w *writerProc) stop(timeout time.Duration) error {
	_ = w.stdin.Close()
	if !waitOrKill(w.cmd, w.done, timeout) {
		return fmt.Errorf("writer %d (pid %d) did not stop within %v", w.slot, w.cmd.Process.Pid, timeout)
	}
	if w.waitErr != nil {
		return fmt.Errorf("writer %d (pid %d) failed: %v: %s", w.slot, w.cmd.Process.Pid, w.waitErr, strings.TrimSpace(w.stderr.String()))
	}
	return nil
}

// kill sends SIGKILL and waits until the process is gone and its pipe drained.
func (w *writerProc) kill() {
	w.killed = true
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
	_ = w.stdin.Close()
}

// failed reports a writer that exited on its own with an error.
func (w *writerProc) failed() error {
	select {
	case <-w.done:
	default:
		return nil
	}
	if w.protoErr != "" {
		return fmt.Errorf("writer %d (pid %d): %s", w.slot, w.cmd.Process.Pid, w.protoErr)
	}
	if w.killed {
		return nil
	}
	if w.waitErr != nil {
		return fmt.Errorf("writer %d (pid %d) failed: %v: %s", w.slot, w.cmd.Process.Pid, w.waitErr, strings.TrimSpace(w.stderr.String()))
	}
	return fmt.Errorf("writer %d (pid %d) exited before it was told to stop", w.slot, w.cmd.Process.Pid)
}

// followerProc is the demo's follower process.
type followerProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
	seen   atomic.Uint64
	lag    atomic.Uint64 // events the follower was behind the log at its last report
	p50    atomic.Int64
	p99    atomic.Int64
	maxNs  atomic.Int64
	final  followerFinal
	done   chan struct{}
}

// followerFinal is the follower's last report.
type followerFinal struct {
	seen, samples   uint64
	p50, p99, maxNs int64
	problems        []string
	gotDone         bool
}

// startFollower starts the follower on dir and waits until it is following.
func startFollower(self, dir string) (*followerProc, error) {
	f := &followerProc{done: make(chan struct{})}
	var stdout io.Reader
	var err error
	if f.cmd, f.stdin, stdout, err = startRole(self, "demo-follower", &f.stderr, dir); err != nil {
		return nil, fmt.Errorf("start follower: %w", err)
	}
	ready := make(chan struct{})
	go f.read(stdout, ready)
	select {
	case <-ready:
		return f, nil
	case <-f.done:
	case <-time.After(10 * time.Second):
		waitOrKill(f.cmd, f.done, 0)
	}
	return nil, fmt.Errorf("the follower did not start: %s", strings.TrimSpace(f.stderr.String()))
}

// read parses the follower's reports until its stdout closes.
func (f *followerProc) read(r io.Reader, ready chan struct{}) {
	defer close(f.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		nums := make([]int64, len(fields))
		for i := 1; i < len(fields); i++ {
			nums[i], _ = strconv.ParseInt(fields[i], 10, 64)
		}
		switch fields[0] {
		case "ready":
			close(ready)
		case "seen":
			if len(nums) >= 6 {
				f.seen.Store(uint64(nums[1]))
				f.lag.Store(uint64(nums[2]))
				f.p50.Store(nums[3])
				f.p99.Store(nums[4])
				f.maxNs.Store(nums[5])
			}
		case "problem":
			f.final.problems = append(f.final.problems, strings.TrimPrefix(sc.Text(), "problem "))
		case "done":
			if len(nums) >= 6 {
				f.final = followerFinal{seen: uint64(nums[1]), p50: nums[2], p99: nums[3], maxNs: nums[4], samples: uint64(nums[5]), problems: f.final.problems, gotDone: true}
				f.seen.Store(uint64(nums[1]))
				f.lag.Store(0)
			}
		}
	}
	_ = f.cmd.Wait()
}

// finish tells the follower where the log ends and waits for its last report.
func (f *followerProc) finish(next uint64, timeout time.Duration) error {
	fmt.Fprintf(f.stdin, "stop %d\n", next)
	_ = f.stdin.Close()
	if !waitOrKill(f.cmd, f.done, timeout) {
		return fmt.Errorf("the follower did not reach id %d within %v (it saw %d events)", next, timeout, f.seen.Load())
	}
	if !f.final.gotDone {
		return fmt.Errorf("the follower failed: %s", strings.TrimSpace(f.stderr.String()))
	}
	return nil
}

// startRole starts this binary running role with args, its stderr into stderr, and
// returns its stdin and stdout.
func startRole(self, role string, stderr io.Writer, args ...string) (*exec.Cmd, io.WriteCloser, io.Reader, error) {
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), roleEnv+"="+role)
	cmd.Stderr = stderr
	ownProcessGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, stdin, stdout, nil
}

// waitOrKill waits until done is closed (the process exited and its output was read);
// after timeout it kills the process, waits, and reports false.
func waitOrKill(cmd *exec.Cmd, done chan struct{}, timeout time.Duration) bool {
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return false
	}
}
