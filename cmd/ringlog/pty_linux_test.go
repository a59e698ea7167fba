//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pty is a pseudo-terminal: the test reads what the program writes to the other end.
type pty struct {
	master, slave *os.File
	mu            sync.Mutex
	out           bytes.Buffer
	done          chan struct{}
}

// openPTY opens a pseudo-terminal of cols columns through /dev/ptmx (unlocked with
// TIOCSPTLCK, its number from TIOCGPTN) and starts reading its output.
func openPTY(t *testing.T, cols uint16) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: cols}); err != nil {
		t.Fatal(err)
	}
	p := &pty{master: m, slave: s, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil { // EIO once every slave is closed
				return
			}
		}
	}()
	t.Cleanup(func() { m.Close(); s.Close() })
	return p
}

// output closes the parent's end of the slave and returns everything the program wrote.
func (p *pty) output(t *testing.T) string {
	t.Helper()
	p.slave.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the pseudo-terminal's output did not end")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// runOnPTY runs the binary with stdout or stderr (or both) on a pseudo-terminal of cols
// columns; what goes elsewhere is returned separately.
func runOnPTY(t *testing.T, cols uint16, stdoutTTY, stderrTTY bool, args ...string) (tty, other string, code int) {
	t.Helper()
	p := openPTY(t, cols)
	cmd := exec.Command(ringlogBin, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Writer(&buf), io.Writer(&buf)
	if stdoutTTY {
		cmd.Stdout = p.slave
	}
	if stderrTTY {
		cmd.Stderr = p.slave
	}
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return p.output(t), buf.String(), code
}
