package ringindex

import "os"

// linkRename moves oldpath to newpath with link + unlink, so an existing
// newpath is never replaced (the link fails with an error wrapping
// fs.ErrExist).
func linkRename(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	return os.Remove(oldpath)
}
