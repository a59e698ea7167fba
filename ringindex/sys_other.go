//go:build !linux

package ringindex

import "os"

// preallocate sizes f. Off Linux the file may be sparse, so a full disk can
// still surface as SIGBUS on first write through the mapping.
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }

// renameNoReplace renames oldpath to newpath without replacing an existing
// newpath (link + unlink).
func renameNoReplace(oldpath, newpath string) error { return linkRename(oldpath, newpath) }

// advise is a no-op off Linux.
func advise(b []byte, populate, writable bool) error { return nil }
