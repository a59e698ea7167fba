//go:build !unix

package ringindex

import "github.com/edsrzf/mmap-go"

// msync flushes the whole mapping: mmap-go cannot flush a sub-range here.
func msync(data []byte, lo, hi uint64) error { return mmap.MMap(data).Flush() }

// syncDir is a no-op where directories cannot be fsynced.
func syncDir(dir string) error { return nil }
