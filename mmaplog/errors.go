package mmaplog

import (
	"errors"
	"fmt"

	"github.com/ringlog/ringlog/internal/cursortable"
)

// Sentinel errors. Test them with errors.Is; the returned errors usually wrap them with
// context (a path, an offset, an id).
var (
	// ErrNotFound is returned by Get and View when the id is not a live event: never
	// appended, deleted, or beyond the newest event.
	ErrNotFound = errors.New("mmaplog: event not found")
	// ErrEmpty is returned by OldestEventID and NewestEventID on a log with no live events.
	ErrEmpty = errors.New("mmaplog: log is empty")
	// ErrOutOfOrder is returned when an append carries an id other than the one the log
	// expects. The error is an *IDError with the expected and the given id.
	ErrOutOfOrder = errors.New("mmaplog: event id out of order")
	// ErrTooLarge is returned when an event is larger than Options.MaxEventSize or a batch
	// larger than Options.MaxBatchBytes. Nothing is written.
	ErrTooLarge = errors.New("mmaplog: event or batch too large")
	// ErrEmptyBatch is returned when a batch holds no event. Nothing is written.
	ErrEmptyBatch = errors.New("mmaplog: empty batch")
	// ErrInvalidRange is returned when a range has start > end.
	ErrInvalidRange = errors.New("mmaplog: invalid range")
	// ErrClosed is returned by every method but Close once the handle is closed.
	ErrClosed = errors.New("mmaplog: log is closed")
	// ErrInvalidOptions is returned by Open when an Options field is out of range or
	// contradicts the existing log. Nothing is created.
	ErrInvalidOptions = errors.New("mmaplog: invalid options")
	// ErrCorrupt is returned when a file or a record fails validation: wrong magic,
	// checksum, size, id or a file that belongs to another log. The wrapping error names
	// the file and the offset.
	ErrCorrupt = errors.New("mmaplog: corrupt log")
	// ErrVersion is returned when a file was written by an unknown format version.
	ErrVersion = errors.New("mmaplog: unsupported format version")
	// ErrReadOnly is returned by every write (append, delete, rotate, sync) through a handle
	// opened with Options.ReadOnly.
	ErrReadOnly = errors.New("mmaplog: log opened read-only")
	// ErrUnsupportedFS is returned by Open for a directory on a network file system (NFS,
	// SMB/CIFS, Ceph, ...), where flock(2) and shared mappings do not give the guarantees
	// the log relies on. Linux only; elsewhere such file systems are not detected.
	ErrUnsupportedFS = errors.New("mmaplog: unsupported file system")
)

// Errors of named cursors (cursor.go). Nothing is changed when one is returned.
var (
	// ErrCursorName is returned for a cursor name that is empty, longer than 64 bytes or
	// holds a byte outside A-Z a-z 0-9 . _ -.
	ErrCursorName = cursortable.ErrBadName
	// ErrCursorTableFull is returned by Log.Cursor when all 256 cursors are in use.
	ErrCursorTableFull = cursortable.ErrFull
	// ErrCursorBackward is returned by Cursor.Commit for an id below the committed
	// position; the error is a *CursorBackwardError.
	ErrCursorBackward = cursortable.ErrBackward
	// ErrNoCursor is returned for a cursor that does not exist or was deleted.
	ErrNoCursor = cursortable.ErrNoCursor
	// ErrCursorBehind is the error of Cursor.Follow when events at the cursor's position
	// are gone (removed by retention or a delete) before the cursor consumed them; the
	// error is a *CursorBehindError.
	ErrCursorBehind = errors.New("mmaplog: cursor fell behind: events it had not consumed are gone")
)

// CursorBehindError reports a cursor whose position is below the oldest event still in
// the log: the events in between were removed before it consumed them. Commit(Oldest)
// moves it on, knowingly. It satisfies errors.Is(err, ErrCursorBehind).
type CursorBehindError struct {
	Name     string  // the cursor
	Position EventID // its committed position
	Oldest   EventID // the oldest id still in the log (NextEventID when it is empty)
}

// Error implements error.
func (e *CursorBehindError) Error() string {
	return fmt.Sprintf("mmaplog: cursor %q fell behind: its position %d is below the oldest event %d; events [%d, %d) are gone",
		e.Name, e.Position, e.Oldest, e.Position, e.Oldest)
}

// Unwrap makes errors.Is(err, ErrCursorBehind) hold.
func (e *CursorBehindError) Unwrap() error { return ErrCursorBehind }

// CursorBackwardError reports a Cursor.Commit below the committed position (Name,
// Committed, Got). It satisfies errors.Is(err, ErrCursorBackward).
type CursorBackwardError = cursortable.BackwardError

// IDError reports an append whose id is not the one the log expects. It satisfies
// errors.Is(err, ErrOutOfOrder).
type IDError struct {
	// Expected is the id the append had to carry (NextEventID at the time), or the
	// smallest id it could carry when the log was empty.
	Expected EventID
	// Got is the id the append carried.
	Got EventID
	// Empty is true when the log had no live events, so any id >= Expected was accepted.
	Empty bool
}

// Error implements error.
func (e *IDError) Error() string {
	if e.Empty {
		return fmt.Sprintf("mmaplog: event id out of order: got %d, want >= %d (log is empty)", e.Got, e.Expected)
	}
	return fmt.Sprintf("mmaplog: event id out of order: got %d, want %d", e.Got, e.Expected)
}

// Unwrap returns ErrOutOfOrder.
func (e *IDError) Unwrap() error { return ErrOutOfOrder }

// CorruptError locates a validation failure: the file, the byte offset and the field that
// failed. It unwraps to ErrCorrupt or ErrVersion (or to a lower-level cause that does).
type CorruptError struct {
	// Path is the file that failed validation.
	Path string
	// Offset is the byte offset within the file of the field that failed.
	Offset int64
	// What names the field or check that failed.
	What string
	// Err is ErrCorrupt, ErrVersion or an error wrapping one of them.
	Err error
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d: %s", e.Err, e.Path, e.Offset, e.What)
}

// Unwrap returns the underlying sentinel.
func (e *CorruptError) Unwrap() error { return e.Err }

func corruptf(path string, off int64, format string, args ...any) error {
	return &CorruptError{Path: path, Offset: off, What: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

// sizeError reports an event or batch over its limit; it unwraps to ErrTooLarge.
type sizeError struct {
	what        string
	index       int
	size, limit uint64
}

func (e *sizeError) Error() string {
	if e.index >= 0 {
		return fmt.Sprintf("mmaplog: event or batch too large: %s %d is %d bytes, limit %d", e.what, e.index, e.size, e.limit)
	}
	return fmt.Sprintf("mmaplog: event or batch too large: %s is %d bytes, limit %d", e.what, e.size, e.limit)
}

func (e *sizeError) Unwrap() error { return ErrTooLarge }
