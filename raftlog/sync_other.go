//go:build !linux

package raftlog

import "os"

// fdatasync flushes f to disk; off Linux it is a full fsync.
func fdatasync(f *os.File) error { return f.Sync() }
