// Command ringlog looks into and works on ringlog directories: stat, dump, get, tail,
// append, check, delete, backup, a short self-measure (bench) and a demo of what ringlog
// is for (demo).
//
// # Basics
//
// Install it with
//
//	go install github.com/ringlog/ringlog/cmd/ringlog@latest
//
// and run "ringlog help" for the subcommands, "ringlog help CMD" (or "ringlog CMD --help")
// for one of them with an example:
//
//	ringlog stat DIR [--json]
//	ringlog dump DIR|FILE [--from ID] [--to ID] [--format text|hex|json|raw]
//	ringlog get DIR ID
//	ringlog tail DIR [-n N] [-f] [--format ...]
//	ringlog append DIR [--framed] [--sync]
//	ringlog check DIR [--json]
//	ringlog delete DIR --before ID | --from ID
//	ringlog backup DIR DEST
//	ringlog bench [--dir D] [--duration 10s]
//	ringlog demo [--duration 8s] [--dir D] [--keep] [--rate N]
//
// Exit status: 0 success; 1 damage found (check, dump) or the operation failed; 2 bad
// usage, or a path that is not a ringlog directory (missing, not a directory, no meta
// file). A failure is one line on stderr naming the path and the cause.
//
// # Caveats
//
// The tool depends on the standard library and golang.org/x/sys only (terminal detection
// and window size by ioctl), so it adds nothing to the module's requirements. Progress
// bars and the demo's redrawn status need a terminal that understands ANSI escapes;
// elsewhere they are plain lines. The lock holder that stat shows comes from /proc/locks
// (Linux).
//
// # Concurrency
//
// Read commands (stat, dump, get, tail, check) open the log read-only: they take no lock,
// repair nothing, never wait behind a writer, and work on a directory the user can only
// read. append and delete are writers like any other (flock per call); backup takes the
// writer lock only for its snapshot. The demo re-executes this binary for its writer and
// follower processes, with the hidden role in the RINGLOG_ROLE environment variable.
package main
