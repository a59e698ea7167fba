// Package cursortable is the named-cursor table of a ringlog directory: a fixed-size
// file, "cursors", mapped shared read-write by every handle, holding up to Capacity
// durable consumer positions. Package mmaplog builds its Cursor API on it; the format
// is in docs/FORMAT.md §13 and repeated at the constants (format.go).
//
// # Basics
//
// Open maps the file (creating it with a temporary name, fsync, link without replace
// and a directory fsync). Lookup opens or creates the Entry of a name (1..64 bytes of
// [A-Za-z0-9._-]); Entry.Position reads the committed position and Entry.Commit moves it
// forward; List, Delete and Sync (msync) work on the whole table.
//
// # Caveats
//
//   - Without Sync a commit survives a crash of the process (it is in the shared page
//     cache) but not a power loss. After a power loss the position is one that was
//     committed, never torn, and at least the last synced one: the kernel may have
//     written back later commits too.
//   - A damaged entry (both copies failing their CRC, or a name failing its checksum) is
//     a *CorruptError naming the file and offset, never a zero position.
//   - A committer killed mid-commit holds the entry's ctl word; the next committer of
//     that cursor takes it over once it sees the owner dead (pid and start time on Linux,
//     pid elsewhere on unix). A committer that is stopped (SIGSTOP), not dead, stalls the
//     other committers of that cursor until it runs again.
//   - Close closes the file at once but leaves the 36 KiB mapping until the Table and its
//     Entries are unreachable, so that lock-free calls racing Close stay safe.
//
// # Concurrency
//
// A Table and its Entries are safe for concurrent use. Position and Commit take no lock
// and make no system call: Commit serializes committers of one cursor, in every process,
// through a CAS on the owner bits of the entry's ctl word and publishes the new copy and
// frees the entry with one atomic store of ctl; Position is a seqlock read. Lookup (shared), create and Delete
// (exclusive) take flock(2) on the file.
package cursortable
