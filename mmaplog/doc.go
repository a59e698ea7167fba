// Package mmaplog is an embedded, memory-mapped, ring-segment event log with lock-free
// readers. Several processes on one host may append to one log directory; readers in any
// process read zero-copy from shared mappings; a dense fixed-width index gives O(1) Get.
//
// # Basics
//
// Open a directory (it is created if needed) and append events. Every event has an id
// (EventID); ids are dense. A caller that allocates ids itself uses AppendWithID and
// AppendBatchWithIDs, which fail with an *IDError (ErrOutOfOrder) unless the id is
// NextEventID() — a compare-and-append that is safe across processes. A caller without
// an allocator uses Append and AppendBatch, which take the next id under the write lock.
//
//	l, err := mmaplog.Open(dir, nil)
//	id, err := l.Append([]byte("hello"))
//	b, err := l.Get(id)                 // a copy
//	err = l.View(id, func(b []byte) error { ... })   // zero-copy
//	it, err := l.IterRange(0, mmaplog.Latest)
//	for id, b := range it.All() { ... }
//
// DeleteRange removes a prefix (space comes back by unlinking whole segments), a suffix
// (NextEventID rewinds so those ids can be appended again, as a raft log truncation needs)
// or an interior range (tombstones). Rotate seals the active segment. Sync makes every
// event appended so far survive power loss. Stats reports counts and sizes.
//
// For operators and archival: Backup writes an online, consistent copy of one committed
// state while writers go on; ReadSegment reads a segment file on its own (one that
// Rotate sealed and that was copied out before a prefix delete); Inspect describes every
// file, LockStatus the writer lock, and CheckProgress is Check with a progress callback.
// The ringlog command (cmd/ringlog) is built on them.
//
// Consumers keep their place with named cursors: Log.Cursor opens or creates one (shared
// by every handle and process of the log), Cursor.Follow yields events from its position,
// Cursor.Commit records what is consumed (no lock, no system call, crash-atomic; durable
// after Log.Sync); Log.Cursors lists them with their lag and Log.DeleteCursor removes one.
//
// A log that runs forever sets Options.Retention (MaxBytes, MaxEvents, MaxAge): the
// policy is stored in the log, and writers remove whole sealed segments from the front at
// segment turnover, as a prefix delete, never on the append fast path. Log.SetRetention
// changes it; Stats reports what it removed.
//
// The files are fixed-size segments (Options.SegmentSize), preallocated and mapped
// shared; an index file of 8-byte slots used as a ring (the slot of an id is computed,
// never searched, and the index grows online); and a meta file holding the committed
// state in two copies selected by one atomic commit word. A single append inside the
// active segment publishes itself by adding 1 to that word (its tail count) instead of
// writing a new copy. docs/FORMAT.md describes every byte and the publication protocol.
//
// # Caveats
//
//   - Without Sync, an acknowledged append survives a crash of the process (its bytes are
//     in the shared page cache) but not a power loss.
//   - Only local file systems: flock(2) and shared mappings do not work reliably on NFS.
//   - A *Log must not be used in a child after fork.
//   - Little-endian machines only (amd64, arm64, ...): Open refuses others.
//   - Values from View and Iterator alias the mapping: valid only as documented, never to
//     be modified. Close invalidates them; do not Close while other calls are running.
//   - A handle maps each segment it reads once and keeps the mapping until the segment is
//     deleted by a prefix delete, or until Close; an unlinked segment's disk space comes
//     back when every process has dropped its mapping. Index files replaced by growth stay
//     mapped until Close. Very small segments with very large logs need many mappings
//     (vm.max_map_count).
//   - A segment emptied by an interior or suffix delete is unlinked by the writer that
//     deleted it; if that writer dies first, the file stays until a prefix delete passes it.
//
// # Concurrency
//
// A *Log is safe for concurrent use by many goroutines, and several handles, in one
// process or in several, may use one directory. Writers serialize through package flock
// (an in-process mutex plus flock(2) on the directory's lock file), taken per write call.
// Readers take no lock: they load the committed state with atomic loads (a seqlock over
// the two state copies), load one index slot and validate the record it points to by id
// and CRC-32C, so they never see a torn, partial or stale record. A batch becomes visible
// to every process at once, as soon as the append that wrote it returns.
package mmaplog
