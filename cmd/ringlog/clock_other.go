//go:build !unix

package main

import "time"

var clockStart = time.Now()

// monoNow off Unix is the process's own monotonic clock: not comparable across
// processes, so the demo's latency figures mean nothing there.
func monoNow() int64 { return int64(time.Since(clockStart)) }
