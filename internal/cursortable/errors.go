package cursortable

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Their messages carry the "mmaplog: " prefix because package mmaplog
// exports them as its own (mmaplog.ErrCursorName, ...): a caller sees one error, whichever
// layer returned it.
var (
	// ErrBadName means a cursor name is empty, longer than MaxNameLen bytes or holds a
	// byte outside [A-Za-z0-9._-]. Nothing is changed.
	ErrBadName = errors.New("mmaplog: invalid cursor name")
	// ErrFull means every entry of the table is in use. Nothing is changed.
	ErrFull = errors.New("mmaplog: cursor table is full")
	// ErrBackward means a Commit carried a position lower than the committed one. The
	// error is a *BackwardError. Nothing is changed.
	ErrBackward = errors.New("mmaplog: cursor commit moves backward")
	// ErrNoCursor means no cursor has the name (never created, or deleted, also by
	// another process while an Entry for it was open).
	ErrNoCursor = errors.New("mmaplog: no such cursor")
	// ErrReadOnly means a write (create, commit, delete, sync) through a read-only table.
	ErrReadOnly = errors.New("mmaplog: log opened read-only")
	// ErrClosed means the table was closed.
	ErrClosed = errors.New("mmaplog: cursor table is closed")
	// ErrCorrupt means the file or an entry failed validation; the error is a
	// *CorruptError naming the file and the offset.
	ErrCorrupt = errors.New("mmaplog: corrupt cursor table")
	// ErrVersion means the file was written by an unknown format version.
	ErrVersion = errors.New("mmaplog: unsupported cursor table version")
)

// CorruptError locates a validation failure: the file, the byte offset of the field and
// what failed. It unwraps to ErrCorrupt or ErrVersion.
type CorruptError struct {
	Path   string // the cursors file
	Offset int64  // byte offset in the file of the field that failed
	What   string // the check that failed
	Err    error  // ErrCorrupt or ErrVersion
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d: %s", e.Err, e.Path, e.Offset, e.What)
}

// Unwrap returns the sentinel.
func (e *CorruptError) Unwrap() error { return e.Err }

func corrupt(path string, off int64, what string) error {
	return &CorruptError{Path: path, Offset: off, What: what, Err: ErrCorrupt}
}

// BackwardError reports a Commit below the committed position. It satisfies
// errors.Is(err, ErrBackward).
type BackwardError struct {
	Name      string // the cursor
	Committed uint64 // the committed position
	Got       uint64 // the position the Commit carried
}

// Error implements error.
func (e *BackwardError) Error() string {
	return fmt.Sprintf("mmaplog: cursor commit moves backward: cursor %q is at %d, commit of %d", e.Name, e.Committed, e.Got)
}

// Unwrap returns ErrBackward.
func (e *BackwardError) Unwrap() error { return ErrBackward }

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
