// Package raftlog is a log store and stable store for hashicorp/raft (v1.7) on top of
// ringlog's memory-mapped log (package mmaplog): *Store implements raft.LogStore,
// raft.MonotonicLogStore and raft.StableStore.
//
// # Basics
//
// Open a directory and hand the store to raft as both its LogStore and its StableStore:
//
//	store, err := raftlog.Open(dir, nil)
//	if err != nil { ... }
//	defer store.Close()
//	r, err := raft.NewRaft(conf, fsm, store, store, snapshots, transport)
//
// Each raft index is the id of one mmaplog event, so GetLog is O(1) (one computed index
// slot, one record, validated by id and CRC-32C) and FirstIndex and LastIndex read the
// committed state. StoreLogs appends the batch with one AppendBatchWithIDs (all or none)
// and returns once it is durable: one flush per call, shared by concurrent callers.
// DeleteRange deletes a prefix (compaction after a snapshot), a suffix (a follower's
// conflict) or the whole log (after a snapshot restore: the store is monotonic, and the
// next StoreLogs may start at any higher index).
//
// The directory holds:
//
//	LOCK        flock(2)-ed by the open Store: one Store per directory at a time
//	stable      the StableStore pairs (format below)
//	stable.tmp  a stable file being written (removed by Open)
//	log/        the mmaplog directory: one event per raft entry
//
// An entry is encoded in a 28-byte header (version 1, type, flags, data length, term,
// AppendedAt as seconds and nanoseconds) followed by Data and then Extensions; the
// record's id is the index. No reflection, no msgpack: decoding reads fixed offsets and
// makes one allocation, shared by Data and Extensions. The stable file is a 24-byte header
// (magic "RLRAFTST", version 1, CRC-32C of the rest, body length, pair count) followed by
// the pairs, keys sorted: {keyLen u32, valLen u32, key, value}. Set replaces the whole file
// (write stable.tmp, fdatasync, rename, fsync the directory), so after a crash it holds the
// old value or the new one. Both formats are in docs/FORMAT.md, section 12.
//
// # Caveats
//
//   - Durability is one mmaplog Sync per StoreLogs and per DeleteRange: what that costs is
//     what the log's flush costs (README, "More than one host").
//   - Raft's indexes start at 1: StoreLogs refuses index 0 (ErrInvalidEntry).
//   - DeleteRange refuses an interior range (ErrInteriorDelete); raft never asks for one.
//   - StoreLogs accepts a batch that starts inside the log only as a retry: identical
//     entries are kept, different ones replace only entries that failed StoreLogs calls
//     left behind; anything else is ErrConflict.
//   - Missing keys: Get returns an empty value and a nil error, GetUint64 returns 0.
//     A missing, torn or damaged stable file next to an existing log is a *CorruptError
//     (ErrCorrupt), never a silent zero: raft's term and vote must not go back.
//   - A damaged log record or entry encoding is a *CorruptError naming the index.
//   - Local file systems only, little-endian machines only (as mmaplog).
//
// # Concurrency
//
// A *Store is safe for concurrent use by many goroutines. Reads take no lock shared with
// writers: GetLog reads the mapping as mmaplog's readers do, FirstIndex and LastIndex
// load cached atomics, Get and GetUint64 load the current map of pairs (Set builds a new
// one and publishes it once the file is replaced). StoreLogs and DeleteRange
// serialize their write steps on one mutex and flush outside it, so concurrent StoreLogs
// calls share flushes. Set serializes on the stable store's mutex. Do not Close while
// other calls are running. One process at a time may open a directory (ErrLocked
// otherwise), so two raft servers can never share one by mistake.
package raftlog
