package mmaplog

// SetCreateFileHook installs a hook consulted before every file creation (nil removes
// it). For tests that inject failures such as ENOSPC.
func SetCreateFileHook(h func(path string) error) {
	if h == nil {
		createFileHook.Store(nil)
		return
	}
	createFileHook.Store(&h)
}
