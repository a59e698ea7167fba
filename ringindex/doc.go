// Package ringindex is the dense, fixed-width offset index of a ringlog event
// log: one file of 8-byte slots used as a ring, giving O(1) lookup of an
// event's location by id.
//
// # Basics
//
// An index file starts with a 4096-byte header (magic, version, capacity,
// the owning log's id, a generation number and a CRC32C; see format.go and
// docs/FORMAT.md) followed by Capacity slots. Capacity is a power of two and
// the slot of event id is id & (Capacity-1), so lookup is computed, never
// searched.
//
// A slot (Slot) packs where the event's record lives: the low 31 bits of the
// segment sequence number (Slot.FullSeq rebuilds the full number from the
// log's active segment seq), the record's offset within the segment (divided
// by 8; records are 8-byte aligned), and a tombstone bit for deleted events.
// The zero slot means "unwritten".
//
// Create builds a new file crash-safely (temporary name, preallocation,
// fsync, rename without replace, directory fsync); Open maps an existing one
// after validating its header and size and checking that it belongs to the
// expected log. Index files are named by FileName(generation).
//
// # Caveats
//
// A slot is a hint, not a fact. The ring wraps: once ids run Capacity past
// an event its slot is reused, so a slot may describe a newer (or, while a
// writer is mid-append, an older) event than the one asked for, or a segment
// since deleted. This package does no such checks; the caller must validate
// every slot against the record it points to (the record carries its id and a
// checksum) and treat a mismatch as "not here".
//
// Stores reach the file through the shared mapping. They survive a crash of
// the process at once, but survive power loss only after Sync or SyncRange
// covering them returns.
//
// Load and Store do no closed check (to stay a few instructions): after
// Close they panic. Sync, SyncRange and Advise return ErrClosed.
//
// Create preallocates the file with fallocate(2) on Linux, so a full disk is
// an error from Create rather than a SIGBUS on a later Store. Elsewhere the
// file may be sparse.
//
// # Concurrency
//
// Slots are read and written with 64-bit atomic operations on a MAP_SHARED
// mapping, so readers in any number of goroutines and processes are
// lock-free and never see a torn slot. Store needs one writer at a time per
// file: serializing writers (across processes, through the log's flock) is the
// caller's job. Sync, SyncRange and Advise may run concurrently with each
// other and with Load and Store; Close must not run concurrently with Load or
// Store.
package ringindex
