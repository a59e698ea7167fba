// Package fuzz holds ringlog's native Go fuzz targets. It has no exported API: the targets
// live in its test files, and this file documents them.
//
// # Basics
//
// Each target is a testing.F function that turns arbitrary bytes into a check that fails
// loudly:
//
//   - FuzzOps decodes its input as a program of log operations (appends with right and
//     wrong ids, batches, Get, View, IterRange with random bounds and iterators held across
//     other operations, DeleteRange of prefixes, suffixes, interior and out-of-range
//     ranges, Rotate, Sync, Close and reopen), runs it against a log with 16 KiB segments
//     and a 1024-slot index in a temporary directory and against an in-memory model, and
//     fails on any difference in a value, an error (errors.Is), NextEventID,
//     OldestEventID, NewestEventID or Stats. A program whose header has flagExtOps also
//     runs cursor operations (Cursor with valid and invalid names, Commit right, backward
//     and beyond NextEventID, Load, Cursors, DeleteCursor, a non-blocking Follow and its
//     commit) and SetRetention (MaxEvents, MaxBytes, KeepUnconsumed, none, invalid); the
//     cursor table and the retention constraints are checked by internal/modelcheck
//     (retention must remove a whole-segment prefix, only at a turnover, never the newest
//     event's segment, as much as the policy asks and no more, never past a cursor
//     unless MaxBytes asks, with counters that add up).
//   - FuzzMultiHandle runs the same programs with two handles on one directory; the top
//     bit of each operation byte picks the handle, and both must agree with one model.
//   - FuzzCorruptFiles builds a valid, synced log once per process, copies it, lets the
//     input overwrite, truncate, extend or remove parts of its meta, index and segment
//     files (raw bytes at chosen offsets, or a field rewritten with its checksum fixed up
//     so that the damage gets past the checksum), then opens it, reads every id, iterates
//     and writes. Nothing may panic or fault; every error must be typed (ErrCorrupt,
//     ErrVersion, ErrNotFound, ...); every event returned must hold exactly the bytes
//     written under its id.
//   - FuzzRecordDecode feeds arbitrary bytes to internal/record.Decode and Length and
//     checks round trips and single-byte damage of valid records, and that Decode does not
//     allocate on success.
//   - FuzzIndexSlot checks the ringindex.Slot accessors, MakeSlot, FullSeq, the index file
//     header codec and the index file names on arbitrary values.
//
// Run them with
//
//	make fuzz                     # every target for FUZZTIME (60s) each
//	go test ./fuzz -run '^$' -fuzz '^FuzzOps$' -fuzztime 10m
//
// A plain go test ./fuzz replays the seed corpora under testdata/fuzz/<Target>/ and every
// crasher kept there. The files named seed-* are generated from the seed programs in
// seeds_test.go (go test ./fuzz -run TestSeedCorpus -update-seeds); those named bug-* are
// minimal reproductions of library bugs the targets found, and fail until the bug is
// fixed; files named by a hash are inputs the fuzzer wrote when it failed.
//
// # Caveats
//
// The operation and corruption targets create, fsync and map real files, so they run a
// few hundred to a few thousand executions per second; with TMPDIR on a tmpfs (for example
// TMPDIR=/dev/shm) they run several times faster than on a disk.
//
// A program is at most 300 operations; bytes beyond are ignored, and missing bytes read as
// zero, so every input is a valid program. Seed files are tied to the program encoding of
// ops_test.go and corrupt_test.go: change the encoding, regenerate the seeds.
//
// An input that runs longer than 10 seconds is reported as a hang: a watchdog panics with
// every goroutine's stack, and the fuzzer keeps the input.
//
// To keep fuzzing while a reported bug is open, set RINGLOG_FUZZ_TOLERATE to
// comma-separated substrings of its failure message: matching inputs are skipped (the
// substrings "pending delete" and "gen parity" skip FuzzCorruptFiles inputs whose state,
// before Open, holds a pending delete outside the live range, or a valid copy whose
// generation names the other copy).
//
// FuzzCorruptFiles checks what the format can promise: index slots carry no checksum, so
// a damaged slot may hide a live event (ErrNotFound) or bring back a deleted one with its
// original bytes; both are accepted, wrong bytes never are. A state rewritten with a valid
// CRC may lie about its counts, so after such damage the live range is not required to
// stay consistent; every other damage must leave a log whose OldestEventID, NewestEventID,
// NextEventID and Stats.EventCount agree, before and after writes.
//
// # Concurrency
//
// Each target runs its input in one goroutine. The go command runs several fuzz worker
// processes (-parallel, default GOMAXPROCS), each with its own temporary directories;
// FuzzMultiHandle's two handles live in one process and take turns. The cross-process
// and concurrent behaviour of the log is tested by the mmaplog tests, not here.
package fuzz
