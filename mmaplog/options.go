package mmaplog

import (
	"fmt"
	"io/fs"
	"math/bits"
	"time"

	"github.com/ringlog/ringlog/internal/record"
)

// Options configures Open. A nil *Options or a zero field means the default. Open fills the
// defaults, then validates; an invalid value is ErrInvalidOptions and nothing is created.
type Options struct {
	// SegmentSize is the size of each segment file of a new log, a multiple of 4096 in
	// [MinSegmentSize, MaxSegmentSize]. Default DefaultSegmentSize (64 MiB). An existing log
	// keeps the size it was created with; a non-zero value that differs is
	// ErrInvalidOptions.
	SegmentSize int64
	// MaxEventSize is the largest payload accepted. Default DefaultMaxEventSize (4 MiB),
	// lowered to what fits one segment. An explicit value that cannot fit a segment is
	// ErrInvalidOptions.
	MaxEventSize int
	// MaxBatchBytes is the largest sum of payloads in one batch. Default
	// DefaultMaxBatchBytes (64 MiB). A batch may span as many segments as it needs.
	MaxBatchBytes int
	// IndexCapacity is the initial number of index slots of a new log, a power of two
	// >= 1024. Default DefaultIndexCapacity. The index grows online as the log does.
	IndexCapacity uint64
	// FileMode is the permission of created files. Default 0640.
	FileMode fs.FileMode
	// DirMode is the permission of a created log directory. Default 0750.
	DirMode fs.FileMode
	// NoPrefault disables preparing and prefaulting the next segment in the background.
	NoPrefault bool
	// HoldLock keeps the writer lock between write calls, so that a lone writer pays no
	// flock(2) per append. The handle hands the lock over promptly when a writer in any
	// process waits for it (it counts itself in the meta file and wakes the holder before
	// blocking), and releases it when idle for 5–10 ms.
	HoldLock bool
	// ReadOnly opens an existing log for reading only: everything is mapped read-only, no
	// lock is taken, nothing is created or repaired, and the directory may be one the
	// process can only read. Writes return ErrReadOnly. Wait and Follow poll (at most 10 ms
	// apart) instead of sleeping on the futex, which needs a writable mapping.
	ReadOnly bool
	// Sync is the durability policy: SyncNever (default), SyncAlways or SyncInterval.
	Sync SyncPolicy
	// SyncEvery is the flush period of SyncInterval. Default DefaultSyncEvery.
	SyncEvery time.Duration
	// Retention is the retention policy (docs/FORMAT.md section 5.7). It is stored in the
	// log, so every handle and process enforces the same one: a non-zero value replaces
	// the stored policy when Open takes the writer lock (the last opener with an explicit
	// policy wins); the zero value keeps the stored one. Invalid values (a negative
	// MaxAge, MaxBytes below two segments) and a non-zero value with ReadOnly are
	// ErrInvalidOptions, and nothing is changed. Log.SetRetention replaces it later,
	// including with the zero value.
	Retention Retention
	// RecycleSegments bounds the pool of freed segment files this handle keeps to become
	// later segments instead of unlinking them (docs/FORMAT.md section 14): a recycled
	// file's blocks are already written, so appends into it take no page of a new file
	// and a durable flush of them needs no extent conversion. 0 means
	// DefaultRecycleSegments, a negative value turns recycling off (pool files are then
	// deleted at Open), at most MaxRecycleSegments. Under a MaxBytes retention policy the
	// pool holds at most one file. Recycling is Linux only; elsewhere it is always off.
	RecycleSegments int
}

const (
	// DefaultRecycleSegments is the pool bound when Options.RecycleSegments is 0.
	DefaultRecycleSegments = 4
	// MaxRecycleSegments is the largest Options.RecycleSegments.
	MaxRecycleSegments = 64
)

// resolved holds the options after defaults, for one open log.
type resolved struct {
	segmentSize   uint64
	maxEventSize  uint64
	maxBatchBytes uint64
	indexCapacity uint64
	fileMode      fs.FileMode
	dirMode       fs.FileMode
	noPrefault    bool
	holdLock      bool
	readOnly      bool
	sync          SyncPolicy
	syncEvery     time.Duration
	retention     Retention
	recycle       int // pool bound (0: recycling off)
	explicitSeg   bool
	explicitEvent bool
}

func invalidOptions(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
}

// resolveOptions fills defaults and checks everything that does not depend on an existing
// log.
func resolveOptions(o *Options) (resolved, error) {
	var r resolved
	if o == nil {
		o = &Options{}
	}
	r.segmentSize = DefaultSegmentSize
	if o.SegmentSize != 0 {
		if o.SegmentSize < MinSegmentSize || o.SegmentSize > MaxSegmentSize || o.SegmentSize%4096 != 0 {
			return r, invalidOptions("SegmentSize %d: want a multiple of 4096 in [%d, %d]", o.SegmentSize, MinSegmentSize, MaxSegmentSize)
		}
		r.segmentSize = uint64(o.SegmentSize)
		r.explicitSeg = true
	}
	if o.MaxEventSize < 0 || o.MaxEventSize > record.MaxLength {
		return r, invalidOptions("MaxEventSize %d: want at most %d", o.MaxEventSize, record.MaxLength)
	}
	r.maxEventSize = DefaultMaxEventSize
	if o.MaxEventSize != 0 {
		r.maxEventSize = uint64(o.MaxEventSize)
		r.explicitEvent = true
	}
	if o.MaxBatchBytes < 0 {
		return r, invalidOptions("MaxBatchBytes %d is negative", o.MaxBatchBytes)
	}
	r.maxBatchBytes = DefaultMaxBatchBytes
	if o.MaxBatchBytes != 0 {
		r.maxBatchBytes = uint64(o.MaxBatchBytes)
	}
	r.indexCapacity = DefaultIndexCapacity
	if o.IndexCapacity != 0 {
		if o.IndexCapacity < 1024 || o.IndexCapacity > 1<<40 || bits.OnesCount64(o.IndexCapacity) != 1 {
			return r, invalidOptions("IndexCapacity %d: want a power of two in [1024, 2^40]", o.IndexCapacity)
		}
		r.indexCapacity = o.IndexCapacity
	}
	r.fileMode, r.dirMode = 0o640, 0o750
	if o.FileMode != 0 {
		if o.FileMode&^fs.ModePerm != 0 {
			return r, invalidOptions("FileMode %v has non-permission bits", o.FileMode)
		}
		r.fileMode = o.FileMode
	}
	if o.DirMode != 0 {
		if o.DirMode&^fs.ModePerm != 0 {
			return r, invalidOptions("DirMode %v has non-permission bits", o.DirMode)
		}
		r.dirMode = o.DirMode
	}
	r.noPrefault = o.NoPrefault
	r.holdLock = o.HoldLock
	r.readOnly = o.ReadOnly
	if r.readOnly && (o.HoldLock || o.Sync != SyncNever) {
		return r, invalidOptions("ReadOnly with HoldLock or a Sync policy")
	}
	switch o.Sync {
	case SyncNever, SyncAlways, SyncInterval:
		r.sync = o.Sync
	default:
		return r, invalidOptions("Sync %v is not a policy", o.Sync)
	}
	if o.SyncEvery < 0 {
		return r, invalidOptions("SyncEvery %v is negative", o.SyncEvery)
	}
	r.syncEvery = o.SyncEvery
	if r.syncEvery == 0 {
		r.syncEvery = DefaultSyncEvery
	}
	if r.readOnly && !o.Retention.IsZero() {
		return r, invalidOptions("ReadOnly with a Retention policy")
	}
	if o.Retention.MaxAge < 0 {
		return r, invalidOptions("Retention.MaxAge %v is negative", o.Retention.MaxAge)
	}
	r.retention = o.Retention
	switch {
	case o.RecycleSegments > MaxRecycleSegments:
		return r, invalidOptions("RecycleSegments %d exceeds %d", o.RecycleSegments, MaxRecycleSegments)
	case !recyclingSupported || o.RecycleSegments < 0:
		r.recycle = 0
	case o.RecycleSegments == 0:
		r.recycle = DefaultRecycleSegments
	default:
		r.recycle = o.RecycleSegments
	}
	return r, r.fitSegment()
}

// fitSegment lowers or checks MaxEventSize against the segment size in force.
func (r *resolved) fitSegment() error {
	fit := r.segmentSize - segHeaderSize - recordHeaderSize
	if r.maxEventSize > fit {
		if r.explicitEvent {
			return invalidOptions("MaxEventSize %d does not fit a segment of %d bytes (at most %d)", r.maxEventSize, r.segmentSize, fit)
		}
		r.maxEventSize = fit
	}
	if r.maxEventSize > 1<<32-1 {
		r.maxEventSize = 1<<32 - 1
	}
	return nil
}
