package raftlog

import (
	"fmt"
	"io/fs"

	"github.com/ringlog/ringlog/mmaplog"
)

// Options configures Open. A nil *Options or a zero field means the default. Open fills
// the defaults, then validates; an invalid value is ErrInvalidOptions and nothing is
// created.
type Options struct {
	// SegmentSize is the size of each log segment file of a new store (see
	// mmaplog.Options.SegmentSize): a multiple of 4096 in [mmaplog.MinSegmentSize,
	// mmaplog.MaxSegmentSize]. Default mmaplog.DefaultSegmentSize (64 MiB). An existing
	// store keeps the size it was created with.
	SegmentSize int64
	// MaxEntrySize is the largest encoded entry accepted: 28 bytes of header plus Data
	// plus Extensions. Default mmaplog.DefaultMaxEventSize (4 MiB), lowered to what fits a
	// segment.
	MaxEntrySize int
	// MaxBatchBytes is the largest StoreLogs call, in encoded bytes. Default
	// mmaplog.DefaultMaxBatchBytes (64 MiB).
	MaxBatchBytes int
	// FileMode is the permission of created files. Default 0640.
	FileMode fs.FileMode
	// DirMode is the permission of created directories. Default 0750.
	DirMode fs.FileMode
}

// fill returns a copy of o (nil allowed) with the defaults filled in, or ErrInvalidOptions.
func (o *Options) fill() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	switch {
	case r.SegmentSize != 0 && (r.SegmentSize%4096 != 0 || r.SegmentSize < mmaplog.MinSegmentSize || r.SegmentSize > mmaplog.MaxSegmentSize):
		return r, fmt.Errorf("%w: SegmentSize %d is not a multiple of 4096 in [%d, %d]", ErrInvalidOptions, r.SegmentSize, mmaplog.MinSegmentSize, int64(mmaplog.MaxSegmentSize))
	case r.MaxEntrySize < 0:
		return r, fmt.Errorf("%w: MaxEntrySize %d < 0", ErrInvalidOptions, r.MaxEntrySize)
	case r.MaxBatchBytes < 0:
		return r, fmt.Errorf("%w: MaxBatchBytes %d < 0", ErrInvalidOptions, r.MaxBatchBytes)
	case r.MaxEntrySize > 0 && r.MaxEntrySize <= entryHeaderSize:
		return r, fmt.Errorf("%w: MaxEntrySize %d leaves no room after the %d-byte entry header", ErrInvalidOptions, r.MaxEntrySize, entryHeaderSize)
	case r.FileMode&^fs.ModePerm != 0 || r.DirMode&^fs.ModePerm != 0:
		return r, fmt.Errorf("%w: FileMode %v / DirMode %v: permission bits only", ErrInvalidOptions, r.FileMode, r.DirMode)
	}
	if r.FileMode == 0 {
		r.FileMode = 0o640
	}
	if r.DirMode == 0 {
		r.DirMode = 0o750
	}
	return r, nil
}

// logOptions are the options of the store's mmaplog.Log.
func (o Options) logOptions() *mmaplog.Options {
	return &mmaplog.Options{
		SegmentSize:   o.SegmentSize,
		MaxEventSize:  o.MaxEntrySize,
		MaxBatchBytes: o.MaxBatchBytes,
		FileMode:      o.FileMode,
		DirMode:       o.DirMode,
		// The store is the directory's only writer (Open holds LOCK), so the log may keep
		// its write lock between calls: no flock(2) pair per StoreLogs.
		HoldLock: true,
		// Durability is StoreLogs' job: one Sync per call, shared by concurrent callers.
		Sync: mmaplog.SyncNever,
	}
}
