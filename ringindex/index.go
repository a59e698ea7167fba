package ringindex

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/edsrzf/mmap-go"
)

// Index is an open, memory-mapped index file. Load is safe from any number of
// goroutines and processes at once; Store must be serialized by the caller
// (one writer at a time, across processes).
type Index struct {
	slots    []uint64 // the slot words, inside data; nil after Close
	mask     uint64   // Capacity-1
	writable bool

	mu     sync.RWMutex // guards data/closed against Close; not taken by Load/Store
	data   mmap.MMap    // the whole mapping (header + slots)
	closed bool

	path string
	hdr  Header
}

// Create makes a new index file at path with the given capacity, owner and
// generation, and opens it writable.
//
// The file is built under a temporary name in the same directory
// (path + ".tmp-<random>"), preallocated to its full size (so a full disk
// fails here with an error wrapping syscall.ENOSPC rather than with SIGBUS
// later), given its header, fsynced, and renamed to path without replacing:
// if path already exists, Create returns an error wrapping fs.ErrExist and
// leaves the existing file alone. The directory is fsynced after the rename.
func Create(path string, capacity uint64, logID [16]byte, gen uint64, perm os.FileMode) (*Index, error) {
	if !validCapacity(capacity) {
		return nil, fmt.Errorf("ringindex: %s: capacity %d: %w", path, capacity, ErrInvalidCapacity)
	}
	size := uint64(HeaderSize) + SlotSize*capacity
	if size > math.MaxInt {
		return nil, fmt.Errorf("ringindex: %s: capacity %d too large for this platform: %w", path, capacity, ErrInvalidCapacity)
	}
	// Cheap early check so we do not preallocate a large file for nothing;
	// the no-replace rename below is what makes it race free.
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("ringindex: %s: %w", path, fs.ErrExist)
	}

	tmp := path + ".tmp-" + strconv.FormatUint(rand.Uint64(), 16) // unique, not secret

	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, fmt.Errorf("ringindex: %w", err)
	}
	renamed := false
	defer func() {
		if f != nil {
			f.Close()
		}
		if !renamed {
			os.Remove(tmp)
		}
	}()

	if err := preallocate(f, int64(size)); err != nil {
		return nil, fmt.Errorf("ringindex: %s: preallocate %d bytes: %w", tmp, size, err)
	}
	hdr := EncodeHeader(Header{Capacity: capacity, LogID: logID, Generation: gen})
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("ringindex: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("ringindex: %w", err)
	}
	if err := f.Close(); err != nil {
		f = nil
		return nil, fmt.Errorf("ringindex: %w", err)
	}
	f = nil

	if err := renameNoReplace(tmp, path); err != nil {
		return nil, fmt.Errorf("ringindex: %s: %w", path, err)
	}
	renamed = true
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("ringindex: %s: sync directory: %w", path, err)
	}
	return Open(path, logID, true)
}

// Open maps an existing index file. It validates the header (see
// DecodeHeader), checks that the file belongs to logID (else ErrForeign) and
// is long enough to hold all its slots (else ErrCorrupt, field "size"), then
// maps header and slots shared, read-write if writable, else read-only.
// Validation failures are *FormatError with Path set.
func Open(path string, logID [16]byte, writable bool) (*Index, error) {
	flag, prot := os.O_RDONLY, mmap.RDONLY
	if writable {
		flag, prot = os.O_RDWR, mmap.RDWR
	}
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("ringindex: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor

	var buf [headerLen]byte
	n, err := io.ReadFull(f, buf[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("ringindex: %s: read header: %w", path, err)
	}
	hdr, err := DecodeHeader(buf[:n])
	if err != nil {
		if fe, ok := err.(*FormatError); ok {
			fe.Path = path
		}
		return nil, err
	}
	if hdr.LogID != logID {
		return nil, &FormatError{Path: path, Offset: offLogID, Field: "logID", Err: ErrForeign}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ringindex: %w", err)
	}
	size := uint64(HeaderSize) + SlotSize*hdr.Capacity // no overflow: Capacity <= MaxCapacity
	if fi.Size() < 0 || uint64(fi.Size()) < size {
		return nil, &FormatError{Path: path, Offset: fi.Size(), Field: "size", Err: ErrCorrupt}
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("ringindex: %s: capacity %d too large for this platform: %w", path, hdr.Capacity, ErrInvalidCapacity)
	}
	data, err := mmap.MapRegion(f, int(size), prot, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("ringindex: %s: mmap: %w", path, err)
	}
	// The mapping is page aligned, so every slot word is 8-byte aligned.
	slots := unsafe.Slice((*uint64)(unsafe.Pointer(&data[HeaderSize])), int(hdr.Capacity))
	return &Index{
		slots:    slots,
		mask:     hdr.Capacity - 1,
		writable: writable,
		data:     data,
		path:     path,
		hdr:      hdr,
	}, nil
}

// Capacity returns the number of slots.
func (x *Index) Capacity() uint64 { return x.hdr.Capacity }

// Generation returns the generation recorded in the header.
func (x *Index) Generation() uint64 { return x.hdr.Generation }

// Path returns the file path the index was opened with.
func (x *Index) Path() string { return x.path }

// Load atomically reads the slot of id (slot id & (Capacity-1)). The slot may
// be unwritten, stale (a previous lap of the ring) or tombstoned: the caller
// validates it against the record it points to.
func (x *Index) Load(id uint64) Slot {
	return Slot(atomic.LoadUint64(&x.slots[id&x.mask]))
}

// Store writes the slot of id with one aligned 8-byte store, which readers'
// atomic loads see whole (on 64-bit platforms a plain store: single-copy
// atomic, and not a fence, so a writer appending in a loop does not drain its
// store buffer per slot; the caller publishes its slots with an atomic store
// of its own, e.g. the log's commit word). Only one writer may store at a time
// (the caller serializes writers). It panics if the index was opened
// read-only.
func (x *Index) Store(id uint64, s Slot) {
	if !x.writable {
		panic("ringindex: Store on a read-only index")
	}
	p := &x.slots[id&x.mask]
	if unsafe.Sizeof(uintptr(0)) == 8 {
		*p = uint64(s)
	} else {
		atomic.StoreUint64(p, uint64(s)) // two 32-bit halves otherwise
	}
}

// CopyFrom copies the slots of the ids in [fromID, toID) from src into x (both rings may
// have any capacities that hold the range), a run of contiguous slots at a time: what an
// online growth does, far cheaper than a Load and a Store per slot. Readers must not use
// x's slots of that range meanwhile (a growth target is read by no one until it becomes
// the current index). The same rules as Store apply to the caller.
func (x *Index) CopyFrom(src *Index, fromID, toID uint64) {
	if !x.writable {
		panic("ringindex: CopyFrom into a read-only index")
	}
	for id := fromID; id < toID; {
		s, d := id&src.mask, id&x.mask
		n := min(toID-id, uint64(len(src.slots))-s, uint64(len(x.slots))-d)
		copy(x.slots[d:d+n], src.slots[s:s+n])
		id += n
	}
}

// SyncRange flushes (msync MS_SYNC) the pages holding the slots of the ids in
// [fromID, toID) to the file. The range may wrap around the ring; a range of
// Capacity ids or more flushes every slot; an empty range (toID <= fromID)
// does nothing.
func (x *Index) SyncRange(fromID, toID uint64) error {
	return x.slotRanges(fromID, toID, x.msyncSlots)
}

// PrefaultRange faults in now the pages holding the slots of the ids in [fromID, toID)
// (MADV_POPULATE_WRITE on a writable index, MADV_POPULATE_READ on a read-only one), so
// that stores to them take no page fault later. The range may wrap around the ring, as
// in SyncRange. It can take milliseconds on a large range: call it off the hot path.
// Best effort like Advise; a no-op off Linux.
func (x *Index) PrefaultRange(fromID, toID uint64) error {
	return x.slotRanges(fromID, toID, func(from, to uint64) error {
		lo, hi := x.slotPages(from, to)
		if err := advise(x.data[lo:hi], true, x.writable); err != nil {
			return fmt.Errorf("ringindex: %s: madvise: %w", x.path, err)
		}
		return nil
	})
}

// slotRanges calls fn with x.mu held for reading on the one or two ring ranges of slots
// that the ids [fromID, toID) occupy: every slot when the range spans the capacity,
// nothing when it is empty.
func (x *Index) slotRanges(fromID, toID uint64, fn func(from, to uint64) error) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return ErrClosed
	}
	if toID <= fromID {
		return nil
	}
	n, c := toID-fromID, x.hdr.Capacity
	if n >= c {
		return fn(0, c)
	}
	start := fromID & x.mask
	end := start + n
	if end <= c {
		return fn(start, end)
	}
	if err := fn(start, c); err != nil {
		return err
	}
	return fn(0, end-c)
}

// slotPages returns the page-aligned byte range of the mapping that holds slots
// [from, to).
func (x *Index) slotPages(from, to uint64) (lo, hi uint64) {
	page := uint64(os.Getpagesize())
	lo = (HeaderSize + SlotSize*from) &^ (page - 1)
	hi = (HeaderSize + SlotSize*to + page - 1) &^ (page - 1)
	return lo, min(hi, uint64(len(x.data)))
}

// msyncSlots flushes the pages holding slots [from, to). Holds x.mu.
func (x *Index) msyncSlots(from, to uint64) error {
	lo, hi := x.slotPages(from, to)
	if err := msync(x.data, lo, hi); err != nil {
		return fmt.Errorf("ringindex: %s: msync: %w", x.path, err)
	}
	return nil
}

// Sync flushes the whole mapping (msync MS_SYNC) to the file.
func (x *Index) Sync() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return ErrClosed
	}
	if err := msync(x.data, 0, uint64(len(x.data))); err != nil {
		return fmt.Errorf("ringindex: %s: msync: %w", x.path, err)
	}
	return nil
}

// Advise tells the kernel the slots will be used soon. With populate it
// faults every slot page in now (MADV_POPULATE_WRITE on a writable index,
// MADV_POPULATE_READ on a read-only one), which can take milliseconds on a
// large index: call it off the hot path. Without populate, or where the
// kernel lacks those (EINVAL), it only hints (MADV_WILLNEED). Best effort:
// only unexpected errors are returned. A no-op off Linux.
func (x *Index) Advise(populate bool) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return ErrClosed
	}
	if err := advise(x.data[HeaderSize:], populate, x.writable); err != nil {
		return fmt.Errorf("ringindex: %s: madvise: %w", x.path, err)
	}
	return nil
}

// Close unmaps the index. It is idempotent; after it, Sync, SyncRange and
// Advise return ErrClosed and Load/Store panic.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	x.slots = nil
	err := x.data.Unmap()
	x.data = nil
	if err != nil {
		return fmt.Errorf("ringindex: %s: munmap: %w", x.path, err)
	}
	return nil
}
