package main

import (
	"fmt"
	"strings"
	"time"
)

// statusView shows the demo's progress: on a terminal a block of lines redrawn in place
// once a second, with notices (the kills) printed above it; otherwise plain lines.
type statusView struct {
	e     *env
	tty   bool
	drawn int      // lines of the block on screen
	block []string // the block last drawn
}

// newStatusView returns the status display on e's stdout.
func newStatusView(e *env) *statusView { return &statusView{e: e, tty: e.stdoutTTY} }

// draw shows the block: redrawn over the previous one on a terminal, else its first line.
func (v *statusView) draw(block []string) {
	if !v.tty {
		fmt.Fprintln(v.e.stdout, block[0])
		v.e.flush()
		return
	}
	v.clear()
	for _, line := range block {
		fmt.Fprintf(v.e.stdout, "\r\x1b[2K%s\n", line)
	}
	v.drawn, v.block = len(block), block
	v.e.flush()
}

// clear moves the cursor back over the block drawn last.
func (v *statusView) clear() {
	if v.drawn > 0 {
		fmt.Fprintf(v.e.stdout, "\x1b[%dA", v.drawn)
	}
	v.drawn = 0
}

// notice prints a line that stays: above the block on a terminal.
func (v *statusView) notice(line string) {
	if !v.tty {
		fmt.Fprintln(v.e.stdout, line)
		v.e.flush()
		return
	}
	v.clear()
	fmt.Fprintf(v.e.stdout, "\r\x1b[2K%s\n", line)
	if v.block != nil {
		v.draw(v.block)
	}
	v.e.flush()
}

// end leaves the last block on the screen.
func (v *statusView) end() {
	v.drawn, v.block = 0, nil
	fmt.Fprintln(v.e.stdout)
}

// statusLines builds the status: for plain output everything is in the first line.
func (d *demo) statusLines(final bool) []string {
	elapsed := time.Since(d.start)
	if final {
		elapsed = d.elapsed
	}
	secs := max(elapsed.Seconds(), 1e-9)
	total := d.total()
	seen, lag := d.fol.seen.Load(), d.fol.lag.Load()
	head := fmt.Sprintf("%5.1f s / %v  %s events  %s  follower lag %s", elapsed.Seconds(), d.dur, count(total), rate(float64(total)/secs), count(lag))
	if p50 := d.fol.p50.Load(); p50 > 0 {
		head += fmt.Sprintf(", wake-up p50 %s p99 %s", duration(time.Duration(p50)), duration(time.Duration(d.fol.p99.Load())))
	}
	lines := []string{head}
	var plain []string
	for _, w := range d.writers {
		acked := w.acked.Load()
		extra := ""
		if r := w.retries.Load(); r > 0 {
			extra = fmt.Sprintf("  %s IDError retries", count(r))
		}
		if w.inc > 1 {
			extra += fmt.Sprintf("  (run %d)", w.inc)
		}
		lines = append(lines, fmt.Sprintf("  writer %d  %-12s  pid %-7d  %12s acknowledged  %s%s", w.slot, w.mode, w.cmd.Process.Pid, count(acked), rate(float64(acked)/secs), extra))
		plain = append(plain, fmt.Sprintf("w%d %s", w.slot, count(acked)))
	}
	lines = append(lines, fmt.Sprintf("  follower                pid %-7d  %12s seen", d.fol.cmd.Process.Pid, count(seen)))
	if !d.view.tty {
		lines[0] = "  " + strings.TrimSpace(head) + "; acknowledged " + strings.Join(plain, ", ")
	}
	return lines
}
