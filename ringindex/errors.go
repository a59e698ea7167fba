package ringindex

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrCorrupt means an index file's header or size is inconsistent: bad
	// magic, a checksum mismatch, an impossible header size or capacity, a
	// truncated header, or a file shorter than its slots.
	ErrCorrupt = errors.New("ringindex: corrupt index file")

	// ErrVersion means the header names a format version this package does
	// not read.
	ErrVersion = errors.New("ringindex: unsupported index format version")

	// ErrForeign means the index file is intact but belongs to another log
	// (its logID differs from the one the caller expects).
	ErrForeign = errors.New("ringindex: index file belongs to another log")

	// ErrInvalidCapacity means a capacity passed to Create is not a power of
	// two within [MinCapacity, MaxCapacity].
	ErrInvalidCapacity = errors.New("ringindex: invalid capacity")

	// ErrClosed means Sync, SyncRange or Advise was called after Close.
	// (Load and Store do not check: using them after Close panics.)
	ErrClosed = errors.New("ringindex: index closed")
)

// FormatError reports a header field or the file size that failed
// validation. Err is one of ErrCorrupt, ErrVersion or ErrForeign and is
// returned by Unwrap, so errors.Is works on a *FormatError.
type FormatError struct {
	Path   string // the file, or "" when the bytes did not come from a file (DecodeHeader)
	Offset int64  // byte offset of the field in the file ("size": the actual file size)
	Field  string // "magic", "version", "headerSize", "capacity", "logID", "crc", "header" (truncated) or "size"
	Err    error  // the sentinel
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("ringindex: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	msg := "<nil>"
	if e.Err != nil {
		msg = strings.TrimPrefix(e.Err.Error(), "ringindex: ")
	}
	fmt.Fprintf(&b, "bad header field %s at offset %d: %s", e.Field, e.Offset, msg)
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *FormatError) Unwrap() error { return e.Err }
