package main

import (
	"math/bits"
	"time"
)

// histogram counts durations in log-linear buckets (16 per power of two: within 6.25 %),
// exactly up to 16 ns, with the exact maximum.
type histogram struct {
	buckets [64 * 16]uint64
	n       uint64
	max     int64
}

// bucketOf returns the bucket of v >= 0.
func bucketOf(v uint64) int {
	if v < 16 {
		return int(v)
	}
	e := bits.Len64(v) - 5 // v >> e is in [16, 32)
	return (e+1)*16 + int(v>>uint(e)) - 16
}

// lowerOf returns the smallest value of bucket i.
func lowerOf(i int) uint64 {
	if i < 16 {
		return uint64(i)
	}
	e := i/16 - 1
	return uint64(16+i%16) << uint(e)
}

// add counts one duration in ns; negatives count as 0.
func (h *histogram) add(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.buckets[bucketOf(uint64(ns))]++
	h.n++
	h.max = max(h.max, ns)
}

// quantile returns the q-quantile (0 < q <= 1), the midpoint of its bucket.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.buckets {
		seen += c
		if seen >= rank {
			lo, hi := lowerOf(i), lowerOf(i+1)
			return time.Duration(min((lo+hi)/2, uint64(h.max)))
		}
	}
	return time.Duration(h.max)
}
