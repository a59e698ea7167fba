//go:build !linux

package main

import "errors"

// limits are measured on Linux only.
type limits struct{}

// newLimits reports that limits are not measured here.
func newLimits(string) (*limits, error) { return nil, errors.New("only on Linux") }

// The limits below are never called: newLimits fails.
func (*limits) close()                         {}
func (*limits) flockPair(int) error            { return nil }
func (*limits) copyInto(int) func(int) error   { return nil }
func (*limits) randomRead(int) func(int) error { return nil }
func (*limits) seqRead(int) func(int) error    { return nil }
func (*limits) writeSync(int) error            { return nil }
