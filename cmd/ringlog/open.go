package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ringlog/ringlog/mmaplog"
)

// metaFile is the name of the file that makes a directory a ringlog directory
// (docs/FORMAT.md section 1).
const metaFile = "meta"

// metaFileSize is the size of the meta file (docs/FORMAT.md section 2).
const metaFileSize = 4096

// checkLogDir returns a *notLogError unless dir is a directory holding a meta file.
func checkLogDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &notLogError{dir, "no such directory"}
	case err != nil:
		return err
	case !fi.IsDir():
		return &notLogError{dir, "not a directory"}
	}
	if _, err := os.Stat(filepath.Join(dir, metaFile)); errors.Is(err, fs.ErrNotExist) {
		return &notLogError{dir, "not a ringlog directory (no meta file)"}
	} else if err != nil {
		return err
	}
	return nil
}

// openRead opens the log in dir read-only: no lock, no repair, nothing written.
func openRead(dir string) (*mmaplog.Log, error) {
	if err := checkLogDir(dir); err != nil {
		return nil, err
	}
	return mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
}

// openWrite opens the log in dir for writing, without background segment preparation
// (a short-lived tool would only wait for it at Close). With create, a directory that
// does not exist or is empty becomes a new log.
func openWrite(dir string, create bool) (*mmaplog.Log, error) {
	if err := checkLogDir(dir); err != nil {
		var n *notLogError
		if !create || !errors.As(err, &n) || !isEmptyOrMissing(dir) {
			return nil, err
		}
	}
	return mmaplog.Open(dir, &mmaplog.Options{NoPrefault: true})
}

// isEmptyOrMissing reports whether dir does not exist or is an empty directory.
func isEmptyOrMissing(dir string) bool {
	entries, err := os.ReadDir(dir)
	return errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0)
}

// closeLog closes l, keeping the first error.
func closeLog(l *mmaplog.Log, err *error) {
	if cerr := l.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("close %s: %w", l.Dir(), cerr)
	}
}
