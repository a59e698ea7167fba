package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress shows how far a long operation is: on a terminal a bar redrawn in place
// (done/total, rate, ETA), otherwise a plain line at most once a second. finish draws the
// final state on its own line.
type progress struct {
	w      io.Writer
	tty    bool
	width  int    // terminal columns
	label  string // "check", "backup"
	unit   string // "records", "bytes"
	bytes  bool   // format done/total as byte sizes
	start  time.Time
	last   time.Time // last draw
	drawn  bool
	period time.Duration
}

// newProgress returns a progress display on w (a terminal when tty, width columns wide).
func newProgress(w io.Writer, tty bool, width int, label, unit string) *progress {
	p := &progress{w: w, tty: tty, width: width, label: label, unit: unit, bytes: unit == "bytes", start: time.Now(), period: time.Second}
	if tty {
		p.period = 100 * time.Millisecond
	}
	if p.width <= 0 {
		p.width = 80
	}
	if !tty { // plain lines: the first one after a period, not at once
		p.last, p.drawn = p.start, true
	}
	return p
}

// update reports done of total; it draws only when the last draw is old enough.
func (p *progress) update(done, total uint64) {
	now := time.Now()
	if p.drawn && now.Sub(p.last) < p.period {
		return
	}
	p.draw(done, total, now, false)
}

// finish draws the final state and ends the line.
func (p *progress) finish(done, total uint64) {
	p.draw(done, total, time.Now(), true)
}

// draw renders the state: the bar on a terminal, a plain line otherwise.
func (p *progress) draw(done, total uint64, now time.Time, final bool) {
	p.last, p.drawn = now, true
	elapsed := now.Sub(p.start)
	frac := 1.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	perSec := 0.0
	if s := elapsed.Seconds(); s > 0 {
		perSec = float64(done) / s
	}
	amount := fmt.Sprintf("%s/%s %s", count(done), count(total), p.unit)
	speed := rate(perSec)
	if p.bytes {
		amount = fmt.Sprintf("%s/%s", size(done), size(total))
		speed = size(uint64(perSec)) + "/s"
	}
	tail := "ETA " + eta(done, total, perSec)
	if final {
		tail = "in " + duration(elapsed)
	}
	if !p.tty {
		fmt.Fprintf(p.w, "%s: %s (%.0f%%), %s, %s\n", p.label, amount, 100*frac, speed, tail)
		return
	}
	text := fmt.Sprintf(" %3.0f%%  %s  %s  %s", 100*frac, amount, speed, tail)
	barWidth := p.width - len(p.label) - len([]rune(text)) - 4
	bar := ""
	if barWidth >= 10 {
		n := int(frac * float64(barWidth))
		bar = " [" + strings.Repeat("=", n) + strings.Repeat(" ", barWidth-n) + "]"
	}
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r\x1b[2K%s%s%s%s", p.label, bar, text, end)
}

// eta estimates the time left at the current rate.
func eta(done, total uint64, perSec float64) string {
	if done >= total {
		return "0s"
	}
	if perSec <= 0 {
		return "?"
	}
	return (time.Duration(float64(total-done)/perSec*1e9) + time.Second/2).Truncate(time.Second).String()
}
