//go:build !unix

package cursortable

import "os"

// lockFile is a no-op without flock(2): creates and deletes are serialized within one
// Table only (by its mutex).
func lockFile(*os.File, bool) error { return nil }

func unlockFile(*os.File) {}
