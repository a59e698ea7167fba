package mmaplog

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// createFileHook, when set (by tests, through export_test.go), is consulted before every
// file creation; an error it returns fails the creation as a real one would (e.g. a
// *PathError wrapping ENOSPC). Nil in production.
var createFileHook atomic.Pointer[func(path string) error]

// linkRename renames from to to without replacing an existing file: link, then unlink.
func linkRename(from, to string) error {
	if err := os.Link(from, to); err != nil {
		return err
	}
	return os.Remove(from)
}

// tempName returns a fresh temporary name for final in the same directory.
func tempName(final string) string {
	return final + tmpInfix + strconv.FormatUint(rand.Uint64(), 16)
}

func isTempName(name string) bool { return strings.Contains(name, tmpInfix) }

// createFile creates final atomically: a temporary file is preallocated to size, given
// header at offset 0, fsynced and renamed into place without replacing, and the directory
// is fsynced. If final exists the result wraps fs.ErrExist and final is untouched.
func createFile(final string, size int64, header []byte, perm fs.FileMode) error {
	tmp, err := prepareTemp(final, size, header, perm)
	if err != nil {
		return err
	}
	return publishTemp(tmp, final)
}

// prepareTemp does the slow part of createFile: a complete, fsynced file under a
// temporary name next to final.
func prepareTemp(final string, size int64, header []byte, perm fs.FileMode) (string, error) {
	if h := createFileHook.Load(); h != nil {
		if err := (*h)(final); err != nil {
			return "", err
		}
	}
	tmp := tempName(final)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return "", err
	}
	err = preallocate(f, size)
	if err == nil {
		_, err = f.WriteAt(header, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// publishTemp renames a prepared temporary file to final without replacing (an existing
// final wraps fs.ErrExist; tmp is removed then) and fsyncs the directory.
func publishTemp(tmp, final string) error {
	if err := renameNoReplace(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(final))
}

// syncDir fsyncs a directory so that creates and unlinks in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mmaplog: sync directory %s: %w", dir, err)
	}
	return nil
}

// removeIfExists unlinks path, ignoring a missing file.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func join(dir, name string) string { return filepath.Join(dir, name) }
