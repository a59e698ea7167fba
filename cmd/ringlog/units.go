package main

import (
	"fmt"
	"strconv"
	"time"
)

// count formats n with thousands separators: 1234567 -> "1,234,567".
func count(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// size formats a byte count in binary units: "512 B", "4.0 KiB", "64.0 MiB".
func size(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// rate formats per-second counts: "950/s", "12.3 k/s", "1.25 M/s".
func rate(perSec float64) string {
	switch {
	case perSec >= 1e6:
		return fmt.Sprintf("%.2f M/s", perSec/1e6)
	case perSec >= 1e4:
		return fmt.Sprintf("%.1f k/s", perSec/1e3)
	}
	return fmt.Sprintf("%.0f/s", perSec)
}

// duration formats d with three significant digits in a unit that suits it: "85 ns",
// "2.01 µs", "0.67 ms", "1.20 s".
func duration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < 100*time.Microsecond:
		return fmt.Sprintf("%.2f µs", float64(d)/1e3)
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// plural formats n things: "1 segment file", "3 segment files".
func plural(n uint64, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return count(n) + " " + thing + "s"
}
