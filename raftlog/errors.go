package raftlog

import (
	"errors"
	"fmt"
)

// Sentinel errors. Test them with errors.Is; the returned errors usually wrap them with
// context (an index, a path). GetLog of a missing index returns raft.ErrLogNotFound itself,
// not one of these.
var (
	// ErrClosed is returned by every method but Close once the store is closed.
	ErrClosed = errors.New("raftlog: store is closed")
	// ErrInvalidOptions is returned by Open when an Options field is out of range or
	// contradicts the existing store. Nothing is created.
	ErrInvalidOptions = errors.New("raftlog: invalid options")
	// ErrLocked is returned by Open when another Store, in this process or another one,
	// has the directory open.
	ErrLocked = errors.New("raftlog: directory is in use by another store")
	// ErrCorrupt is returned when the stable file or a log entry fails validation. The
	// error is a *CorruptError naming the file or the entry's index.
	ErrCorrupt = errors.New("raftlog: corrupt store")
	// ErrVersion is returned when the stable file or a log entry was written by an unknown
	// format version. The error is a *CorruptError.
	ErrVersion = errors.New("raftlog: unsupported format version")
	// ErrInvalidEntry is returned by StoreLogs for a nil *raft.Log or an entry with index 0
	// (raft's indexes start at 1; 0 means "no entry"). Nothing is written.
	ErrInvalidEntry = errors.New("raftlog: invalid log entry")
	// ErrOutOfSequence is returned by StoreLogs when the entries' indexes are not
	// consecutive, or do not continue the log (a gap after LastIndex, or a start below
	// FirstIndex). The error is an *IndexError. Nothing is written.
	ErrOutOfSequence = errors.New("raftlog: log entries out of sequence")
	// ErrConflict is returned by StoreLogs when an entry would replace a different,
	// acknowledged entry at the same index: raft deletes a conflicting suffix with
	// DeleteRange before it stores the leader's entries. The error is an *IndexError.
	// Nothing is written.
	ErrConflict = errors.New("raftlog: entry conflicts with an acknowledged entry")
	// ErrInteriorDelete is returned by DeleteRange for a range that touches neither end of
	// the log: raft deletes only prefixes and suffixes. Nothing is deleted.
	ErrInteriorDelete = errors.New("raftlog: DeleteRange of an interior range")
	// ErrTooLarge is returned when an entry is larger than Options.MaxEntrySize, a
	// StoreLogs call larger than Options.MaxBatchBytes, or a stable value would make the
	// stable file larger than MaxStableSize. Nothing is written.
	ErrTooLarge = errors.New("raftlog: entry, batch or stable value too large")
	// ErrNotUint64 is returned by GetUint64 when the stored value is not 8 bytes long.
	ErrNotUint64 = errors.New("raftlog: stable value is not a uint64")
)

// IndexError locates an ErrOutOfSequence or ErrConflict: the index the store expected or
// holds, and the index of the offending entry.
type IndexError struct {
	// Expected is the index the entry had to carry (ErrOutOfSequence), or the index of the
	// acknowledged entry it would replace (ErrConflict).
	Expected uint64
	// Got is the index the entry carried.
	Got uint64
	// Err is ErrOutOfSequence or ErrConflict.
	Err error
}

// Error implements error.
func (e *IndexError) Error() string {
	if e.Err == ErrConflict {
		return fmt.Sprintf("%v: index %d (delete the suffix first)", e.Err, e.Got)
	}
	return fmt.Sprintf("%v: got index %d, expected %d", e.Err, e.Got, e.Expected)
}

// Unwrap returns ErrOutOfSequence or ErrConflict.
func (e *IndexError) Unwrap() error { return e.Err }

// CorruptError locates a validation failure: the stable file and the byte offset of the
// field that failed, or the log entry (its raft index) that failed. It unwraps to
// ErrCorrupt or ErrVersion, and to the error of package mmaplog that found the damage when
// there is one (so errors.Is(err, mmaplog.ErrCorrupt) holds for a damaged record too).
type CorruptError struct {
	// Path is the file concerned: the stable file, or the log directory for an entry.
	Path string
	// Index is the raft index of the damaged entry, when HasIndex.
	Index    uint64
	HasIndex bool
	// Offset is the byte offset of the field that failed, within the file or within the
	// entry's encoding; -1 when not applicable.
	Offset int64
	// What names the field or check that failed.
	What string
	// Err is ErrCorrupt, ErrVersion, or the underlying error (from mmaplog or the file
	// system) that unwraps to the cause.
	Err error
}

// Error implements error.
func (e *CorruptError) Error() string {
	where := e.Path
	if e.HasIndex {
		where = fmt.Sprintf("entry %d in %s", e.Index, e.Path)
	}
	if e.Offset >= 0 {
		where = fmt.Sprintf("%s at offset %d", where, e.Offset)
	}
	if e.Err == ErrCorrupt || e.Err == ErrVersion {
		return fmt.Sprintf("%v: %s: %s", e.Err, where, e.What)
	}
	return fmt.Sprintf("%v: %s: %s: %v", ErrCorrupt, where, e.What, e.Err)
}

// Unwrap returns the sentinel and, when the damage was found below raftlog, its cause.
func (e *CorruptError) Unwrap() []error {
	if e.Err == ErrCorrupt || e.Err == ErrVersion {
		return []error{e.Err}
	}
	return []error{ErrCorrupt, e.Err}
}
