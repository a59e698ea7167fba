package cursortable

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/edsrzf/mmap-go"
)

// Table is an open cursors file, mapped shared. It is safe for concurrent use by many
// goroutines; several Tables, in one process or in several, may map one file.
type Table struct {
	path     string
	readOnly bool

	mu     sync.Mutex // with the file lock: serializes create, delete, lookup, list
	f      *os.File
	m      mmap.MMap
	closed atomic.Bool
}

// Info is one cursor of a List.
type Info struct {
	Name     string
	Position uint64
}

// Open opens the cursors file in dir, or creates it when create is set and the file does
// not exist (readOnly must then be false). A missing file without create wraps
// fs.ErrNotExist. A file of another log (logID), of another size or with a bad header is
// a *CorruptError.
func Open(dir string, logID [16]byte, readOnly, create bool, perm fs.FileMode) (*Table, error) {
	path := filepath.Join(dir, FileName)
	flag := os.O_RDWR
	prot := mmap.RDWR
	if readOnly {
		flag, prot = os.O_RDONLY, mmap.RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if errors.Is(err, fs.ErrNotExist) && create && !readOnly {
		if err = createFile(path, logID, perm, nil); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("mmaplog: create %s: %w", path, err)
		}
		f, err = os.OpenFile(path, flag, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("mmaplog: open cursor table: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmaplog: %w", err)
	}
	if fi.Size() != FileSize {
		f.Close()
		return nil, corrupt(path, fi.Size(), "file is "+itoa(uint64(fi.Size()))+" bytes, want "+itoa(FileSize))
	}
	m, err := mmap.MapRegion(f, FileSize, prot, 0, 0)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmaplog: map %s: %w", path, err)
	}
	if err := validateHeader(path, m[:HeaderSize], logID); err != nil {
		_ = m.Unmap()
		f.Close()
		return nil, err
	}
	t := &Table{path: path, readOnly: readOnly, f: f, m: m}
	// The mapping outlives Close until neither the Table nor an Entry of it is reachable
	// (see Close).
	runtime.AddCleanup(t, func(m mmap.MMap) { _ = m.Unmap() }, m)
	return t, nil
}

// createFile creates the table file: a complete file under a temporary name (header
// page, then the cursors of list in slots 0, 1, ... as initEntry makes them and zero
// entries after them: every block written, so stores through the mapping can never hit
// a full disk), fsynced, linked to path without replacing (an existing path wraps
// fs.ErrExist), and the directory fsynced. list holds valid, distinct names, at most
// Capacity.
func createFile(path string, logID [16]byte, perm fs.FileMode, list []Info) error {
	b := make([]byte, FileSize) // a large allocation: 8-byte aligned for rawEntry
	copy(b, encodeHeader(logID))
	for slot, in := range list {
		initRaw((*rawEntry)(unsafe.Pointer(&b[HeaderSize+slot*EntrySize])), slot, in.Name, in.Position)
	}
	tmp := path + ".tmp-" + strconv.FormatUint(rand.Uint64(), 16)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path) // fails with EEXIST instead of replacing a concurrent creator's file
	}
	_ = os.Remove(tmp)
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFile creates the cursors file of a new log in dir (a backup of a log with the same
// logID): a table holding exactly the cursors of list, at their positions, as if each
// had been created there (slots 0, 1, ... in list order, epoch 1). It is written whole
// and made durable as the file of Open's first create is; an existing file wraps
// fs.ErrExist. An invalid or repeated name, or more than Capacity cursors, is an error
// that writes nothing.
func WriteFile(dir string, logID [16]byte, perm fs.FileMode, list []Info) error {
	if len(list) > Capacity {
		return fmt.Errorf("%w: %d cursors, room for %d", ErrFull, len(list), Capacity)
	}
	seen := make(map[string]bool, len(list))
	for _, in := range list {
		if err := CheckName(in.Name); err != nil {
			return err
		}
		if seen[in.Name] {
			return fmt.Errorf("%w: %q appears twice", ErrBadName, in.Name)
		}
		seen[in.Name] = true
	}
	path := filepath.Join(dir, FileName)
	if err := createFile(path, logID, perm, list); err != nil {
		return fmt.Errorf("mmaplog: create %s: %w", path, err)
	}
	return nil
}

// Path returns the table file's path.
func (t *Table) Path() string { return t.path }

func (t *Table) entry(slot int) *rawEntry {
	return (*rawEntry)(unsafe.Pointer(&t.m[HeaderSize+slot*EntrySize]))
}

func entryOffset(slot int) int64 { return int64(HeaderSize + slot*EntrySize) }

// locked runs fn holding the table's mutex and its file lock (exclusive when excl).
func (t *Table) locked(excl bool, fn func() error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	if err := lockFile(t.f, excl); err != nil {
		return fmt.Errorf("mmaplog: lock %s: %w", t.path, err)
	}
	defer unlockFile(t.f)
	return fn()
}

// scan visits every used entry, checking its name checksum; it stops at the first
// damaged entry (a *CorruptError) or when visit returns false.
func (t *Table) scan(visit func(slot int, r *rawEntry, name string, nameCRC uint32) bool) error {
	for slot := range Capacity {
		r := t.entry(slot)
		if atomic.LoadUint64(&r.name[0]) == 0 {
			continue
		}
		var w [MaxNameLen / 8]uint64
		for i := range w {
			w[i] = atomic.LoadUint64(&r.name[i])
		}
		crc := atomic.LoadUint32(&r.nameCRC)
		name := wordsName(&w)
		if nameCRCOf(slot, atomic.LoadUint32(&r.epoch), &w) != crc || !ValidName(name) || nameWords(name) != w {
			return corrupt(t.path, entryOffset(slot), "entry "+itoa(uint64(slot))+": name checksum mismatch")
		}
		if !visit(slot, r, name, crc) {
			return nil
		}
	}
	return nil
}

// Lookup returns the entry of name, creating it at position initial when create is set
// and no cursor has the name. Creation is serialized across processes by an exclusive
// flock(2) on the file and made durable (msync) before Lookup returns; a lookup takes a
// shared one. A damaged entry anywhere in the table is a *CorruptError (it could be this
// name's), and so is a found entry whose two copies both fail their checksum.
func (t *Table) Lookup(name string, create bool, initial uint64) (*Entry, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if create && t.readOnly {
		return nil, ErrReadOnly
	}
	var e *Entry
	err := t.locked(create, func() error {
		err := t.scan(func(slot int, r *rawEntry, n string, crc uint32) bool {
			if n == name {
				e = &Entry{t: t, r: r, slot: slot, name: name, nameCRC: crc}
				return false
			}
			return true
		})
		if err != nil || e != nil {
			return err
		}
		if !create {
			return fmt.Errorf("%w: %q", ErrNoCursor, name)
		}
		for slot := range Capacity {
			if atomic.LoadUint64(&t.entry(slot).name[0]) == 0 {
				e = t.initEntry(slot, name, initial)
				return t.Sync()
			}
		}
		return fmt.Errorf("%w: %d cursors", ErrFull, Capacity)
	})
	if err != nil {
		return nil, err
	}
	if _, err := e.Position(); err != nil {
		return nil, err
	}
	return e, nil
}

// initEntry makes free slot a cursor called name at position pos. The caller holds the
// exclusive file lock. The entry lock is taken first (a committer of the slot's deleted
// cursor that is still running finishes first, then finds the name changed); the name's
// first word is stored last: until then the slot stays free, so a creator killed midway
// leaves a free slot.
func (t *Table) initEntry(slot int, name string, pos uint64) *Entry {
	r := t.entry(slot)
	crc := initRaw(r, slot, name, pos)
	return &Entry{t: t, r: r, slot: slot, name: name, nameCRC: crc}
}

// initRaw makes the free entry r of slot a cursor called name at position pos (the
// protocol of initEntry) and returns its nameCRC.
func initRaw(r *rawEntry, slot int, name string, pos uint64) uint32 {
	acquire(r)
	epoch := atomic.LoadUint32(&r.epoch) + 1
	w := nameWords(name)
	crc := nameCRCOf(slot, epoch, &w)
	// Copy 0 holds the position (seq 0, gen 0); copy 1 is invalid (zero: its CRC fails).
	r.storeCopy(0, pos, crc)
	atomic.StoreUint64(&r.copies[1].word, 0)
	atomic.StoreUint64(&r.copies[1].pos, 0)
	atomic.StoreUint32(&r.epoch, epoch)
	atomic.StoreUint32(&r.nameCRC, crc)
	for i := len(w) - 1; i >= 0; i-- {
		atomic.StoreUint64(&r.name[i], w[i])
	}
	release(r, 0)
	return crc
}

// Delete removes the cursor name: its slot becomes free (and is reused by a later
// create, with a new epoch). Entries of it still open in any process get ErrNoCursor
// from then on. Serialized with creates by the exclusive file lock, and with commits of
// the entry by its ctl word; made durable (msync) before Delete returns.
func (t *Table) Delete(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if t.readOnly {
		return ErrReadOnly
	}
	return t.locked(true, func() error {
		var found *rawEntry
		err := t.scan(func(_ int, r *rawEntry, n string, _ uint32) bool {
			if n == name {
				found = r
			}
			return found == nil
		})
		if err != nil {
			return err
		}
		if found == nil {
			return fmt.Errorf("%w: %q", ErrNoCursor, name)
		}
		gen := acquire(found)
		atomic.StoreUint64(&found.name[0], 0) // free from here on
		for i := 1; i < len(found.name); i++ {
			atomic.StoreUint64(&found.name[i], 0)
		}
		atomic.StoreUint32(&found.nameCRC, 0)
		release(found, gen)
		return t.Sync()
	})
}

// List returns every cursor with its position, in slot order. A damaged entry is a
// *CorruptError.
func (t *Table) List() ([]Info, error) {
	var out []Info
	err := t.locked(false, func() error {
		var perr error
		err := t.scan(func(slot int, r *rawEntry, n string, crc uint32) bool {
			e := Entry{t: t, r: r, slot: slot, name: n, nameCRC: crc}
			var pos uint64
			pos, perr = e.Position()
			out = append(out, Info{Name: n, Position: pos})
			return perr == nil
		})
		if err == nil {
			err = perr
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Sync flushes the table to the file (msync): every position committed before the call
// survives power loss.
func (t *Table) Sync() error {
	if t.readOnly {
		return ErrReadOnly
	}
	if t.closed.Load() {
		return ErrClosed
	}
	if err := t.m.Flush(); err != nil {
		return fmt.Errorf("mmaplog: sync %s: %w", t.path, err)
	}
	return nil
}

// Close closes the table: every later call, of the Table and of its Entries, returns
// ErrClosed. The 36 KiB mapping itself is unmapped once neither the Table nor any of
// its Entries is reachable (a runtime cleanup), so that a Commit or Position racing
// Close never touches unmapped memory and needs no lock to be sure of it. A second
// Close returns nil.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Swap(true) {
		return nil
	}
	return t.f.Close()
}
