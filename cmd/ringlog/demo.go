package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// demoSegmentSize is the segment size of the demo's log: small enough that a few seconds
// of appends fill several segments.
const demoSegmentSize = 4 << 20

// demoCommand is "ringlog demo": what ringlog is for, in a few seconds.
func demoCommand() *command {
	c := newCommand("demo", "[--duration D] [--dir DIR] [--keep]", "show what ringlog is for: writer processes, a follower, SIGKILLs, verification", 0, 0)
	dur := c.flags.Duration("duration", 8*time.Second, "how long the writers append")
	dir := c.flags.String("dir", "", "the log `directory`, new or empty (default: a new directory under $TMPDIR)")
	pace := c.flags.Int("rate", 50_000, "events per second each writer appends at most (0: as fast as it can)")
	keep := c.flags.Bool("keep", false, "keep the log directory for a look with the other commands (default: removed, unless the demo fails)")
	c.detail = `
Starts 3 writer processes on one new log: one appends with HoldLock (keeps the lock),
one with a per-call Append, one with AppendWithID as a compare-and-append that retries
with IDError.Expected. Each event carries its writer, a sequence number and a checksum.
A follower process tails the log with Follow and measures, for every event, the time
from its writer's Append returning to the follower having it (CLOCK_MONOTONIC).

Once a second it shows the progress (a redrawn block on a terminal, plain lines
otherwise). At a third of the time it SIGKILLs the HoldLock writer (usually holding the
lock), at two thirds the AppendWithID writer, and restarts each. At the end it checks,
rather than assumes: ids dense from the first to the last, every acknowledged event
present exactly once with its exact bytes, Check clean. The last line is

  demo: <N> events, <W> writers, <K> kills, 0 lost, ids dense, check clean

or "demo: FAILED: ..." naming what failed, with exit status 1.`
	c.example = `
$ ringlog demo --duration 4s --keep --dir /tmp/demo-log
...
demo: 1234567 events, 3 writers, 2 kills, 0 lost, ids dense, check clean
$ ringlog stat /tmp/demo-log`
	c.run = func(e *env, args []string) error {
		if *dur <= 0 {
			return usagef("--duration %v: want a positive duration", *dur)
		}
		if *pace < 0 {
			return usagef("--rate %d: want 0 or more events per second", *pace)
		}
		return runDemo(e, demoConfig{dur: *dur, dir: *dir, keep: *keep, rate: *pace})
	}
	return c
}

// demo is one run of the demo.
type demo struct {
	e       *env
	dir     string
	dur     time.Duration
	rate    int
	self    string
	events  uint64 // in the log, as verified
	l       *mmaplog.Log
	writers []*writerProc
	fol     *followerProc
	kills   []killRecord
	view    *statusView
	start   time.Time
	elapsed time.Duration // of the append phase, once over
}

// killRecord is what happened around one SIGKILL.
type killRecord struct {
	slot        uint8
	mode        string
	pid, newPid int
	heldLock    bool
	at          time.Duration
	acked       uint64 // acknowledged appends of the slot before the kill
	takeover    uint8  // the writer that appended the first event after the kill
	takeoverID  uint64
	takeoverIn  time.Duration
	reopen      time.Duration // the restarted writer's Open, with its repair
}

// demoConfig is the demo's command line.
type demoConfig struct {
	dur  time.Duration
	dir  string
	keep bool
	rate int // events per second per writer, 0: unpaced
}

// runDemo runs the demo and prints its summary; the error names what failed.
func runDemo(e *env, cfg demoConfig) (err error) {
	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ringlog-demo-"); err != nil {
			return err
		}
	} else if !isEmptyOrMissing(dir) {
		return fmt.Errorf("%s: not empty: the demo needs a new or empty directory", dir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	d := &demo{e: e, dir: dir, dur: cfg.dur, rate: cfg.rate, self: self, view: newStatusView(e)}
	err = d.run()
	switch {
	case err != nil:
		fmt.Fprintf(e.stdout, "demo: FAILED: %v (the log is kept in %s)\n", err, dir)
		return &damageError{"the demo failed (see above)"}
	case cfg.keep:
		fmt.Fprintf(e.stdout, "(the log is kept in %s: try ringlog stat %s)\n", dir, dir)
	default:
		_ = os.RemoveAll(dir)
	}
	fmt.Fprintf(e.stdout, "demo: %d events, %d writers, %d kills, 0 lost, ids dense, check clean\n", d.events, len(d.writers), len(d.kills))
	return nil
}

// total is the number of events in the log.
func (d *demo) total() uint64 {
	n, _ := d.l.NextEventID()
	return n
}

// run is the demo from the creation of the log to the verification.
func (d *demo) run() (err error) {
	d.l, err = mmaplog.Open(d.dir, &mmaplog.Options{SegmentSize: demoSegmentSize, NoPrefault: true})
	if err != nil {
		return err
	}
	defer closeLog(d.l, &err)
	if d.fol, err = startFollower(d.self, d.dir); err != nil {
		return err
	}
	defer d.cleanup()
	for i, mode := range []string{modeHoldLock, modeAppend, modeWithID} {
		w := &writerProc{slot: uint8(i + 1), mode: mode}
		d.writers = append(d.writers, w)
		if err := w.start(d.self, d.dir, d.rate); err != nil {
			return err
		}
	}
	killAt := []time.Duration{d.dur / 3, 2 * d.dur / 3}
	killSlot := []int{0, 2}
	fmt.Fprintf(d.e.stdout, "demo: log in %s (segments of %s); 3 writer processes (%s, %s, %s) and 1 follower for %v;\n",
		d.dir, size(demoSegmentSize), modeHoldLock, modeAppend, modeWithID, d.dur)
	paced := "as fast as they can"
	if d.rate > 0 {
		paced = fmt.Sprintf("each at most %s events/s", count(uint64(d.rate)))
	}
	fmt.Fprintf(d.e.stdout, "      writers append %s; SIGKILL of writer 1 at %v and of writer 3 at %v, each restarted\n",
		paced, killAt[0].Round(time.Millisecond), killAt[1].Round(time.Millisecond))
	d.e.flush()
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(interrupt)
	d.start = time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		now := time.Since(d.start)
		if now >= d.dur {
			break
		}
		if len(killAt) > 0 && now >= killAt[0] {
			if err := d.kill(d.writers[killSlot[0]]); err != nil {
				return err
			}
			killAt, killSlot = killAt[1:], killSlot[1:]
		}
		select {
		case <-tick.C:
			d.view.draw(d.statusLines(false))
		case <-poll.C:
		case sig := <-interrupt:
			return fmt.Errorf("interrupted (%v); the writers and the follower are stopped", sig)
		}
		for _, w := range d.writers {
			if err := w.failed(); err != nil {
				return err
			}
		}
		select {
		case <-d.fol.done:
			return fmt.Errorf("the follower exited early: %s", d.fol.stderr.String())
		default:
		}
	}
	for _, w := range d.writers {
		if err := w.stop(10 * time.Second); err != nil {
			return err
		}
	}
	d.elapsed = time.Since(d.start)
	if err := d.fol.finish(d.total(), 30*time.Second); err != nil {
		return err
	}
	d.view.draw(d.statusLines(true))
	d.view.end()
	v := d.verify()
	d.events = v.events
	d.summary(v)
	if v.nFailed > 0 {
		return fmt.Errorf("%s", v.failureLine())
	}
	return nil
}

// kill SIGKILLs writer w, waits for another writer to append, and restarts w.
func (d *demo) kill(w *writerProc) error {
	k := killRecord{slot: w.slot, mode: w.mode, pid: w.cmd.Process.Pid}
	// A HoldLock writer is killed as soon as /proc/locks shows it holding the lock (it
	// hands the lock over whenever another writer waits, so not all the time).
	for deadline := time.Now().Add(time.Second); ; {
		li, err := d.l.LockStatus()
		k.heldLock = err == nil && li.HolderPID == k.pid
		if k.heldLock || w.mode != modeHoldLock || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Microsecond)
	}
	k.at = time.Since(d.start).Round(time.Millisecond)
	w.kill()
	k.acked = w.acked.Load()
	gone := time.Now()
	after, err := d.l.NextEventID()
	if err != nil {
		return err
	}
	for {
		n, err := d.l.NextEventID()
		if err != nil {
			return err
		}
		if n > after {
			break
		}
		if time.Since(gone) > 10*time.Second {
			return fmt.Errorf("no writer appended within 10 s of the SIGKILL of writer %d (pid %d)", w.slot, k.pid)
		}
		time.Sleep(50 * time.Microsecond)
	}
	k.takeoverIn = time.Since(gone)
	k.takeoverID = after
	if b, err := d.l.Get(after); err == nil {
		if ev, err := parseDemoEvent(b); err == nil {
			k.takeover = ev.writer
		}
	}
	if err := w.start(d.self, d.dir, d.rate); err != nil {
		return err
	}
	k.newPid = w.cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); w.openNs.Load() < 0; {
		if time.Now().After(deadline) {
			return fmt.Errorf("the restarted writer %d (pid %d) did not open the log within 10 s: %v", w.slot, k.newPid, w.failed())
		}
		time.Sleep(100 * time.Microsecond)
	}
	k.reopen = time.Duration(w.openNs.Load())
	d.kills = append(d.kills, k)
	held := "while it did not hold the lock"
	if k.heldLock {
		held = "while /proc/locks showed it holding the lock"
	}
	d.view.notice(fmt.Sprintf("kill %d at %v: SIGKILL of writer %d (%s, pid %d) %s, after %s acknowledged appends;",
		len(d.kills), k.at, k.slot, k.mode, k.pid, held, count(k.acked)))
	d.view.notice(fmt.Sprintf("        writer %d appended the next event (id %d) %s later; writer %d restarted as pid %d, its Open (with repair) took %s",
		k.takeover, k.takeoverID, duration(k.takeoverIn), k.slot, k.newPid, duration(k.reopen)))
	return nil
}

// cleanup kills whatever child process is still running (after a failure).
func (d *demo) cleanup() {
	for _, w := range d.writers {
		if w.cmd == nil {
			continue
		}
		select {
		case <-w.done:
		default:
			w.kill()
		}
	}
	select {
	case <-d.fol.done:
	default:
		_ = d.fol.cmd.Process.Kill()
		<-d.fol.done
	}
}
