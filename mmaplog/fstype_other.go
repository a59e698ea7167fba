//go:build !linux

package mmaplog

// checkLocalFS cannot tell the file system type here; network file systems remain
// unsupported (see the package documentation).
func checkLocalFS(dir string) error { return nil }
