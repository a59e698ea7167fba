package mmaplog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/edsrzf/mmap-go"
	"github.com/ringlog/ringlog/flock"
	"github.com/ringlog/ringlog/ringindex"
)

// EventID identifies an event. Ids are dense: the live ids are exactly [oldest, newest]
// minus interior deletes.
type EventID = uint64

// Latest is an open end for IterRange: up to the newest event at the time of the call.
const Latest EventID = math.MaxUint64

// EventLog is the Azoth event-log contract, implemented by *Log.
type EventLog interface {
	AppendWithID(id EventID, event []byte) error
	AppendBatchWithIDs(first EventID, events [][]byte) error
	NextEventID() (EventID, error)
	IterRange(start, end EventID) (*Iterator, error)
	Get(id EventID) ([]byte, error)
	DeleteRange(start, end EventID) (int, error)
	Rotate() (string, error)
	OldestEventID() (EventID, error)
	NewestEventID() (EventID, error)
	Sync() error
	Stats() (Stats, error)
}

var _ EventLog = (*Log)(nil)

// Log is an open handle on a log directory. It is safe for concurrent use by many
// goroutines; several handles, in one process or in several, may use one directory.
type Log struct {
	dir    string
	opts   resolved
	logID  [16]byte
	lock   *flock.Lock
	closed atomic.Bool

	metaFile *os.File
	meta     mmap.MMap
	commit   *uint64
	states   [2]*[stateWords]uint64

	segMu    sync.RWMutex
	segs     map[uint64]*segment
	segCache segCache // in front of segs (segments.go)

	idxMu  sync.Mutex
	idxs   map[uint64]*ringindex.Index
	curIdx atomic.Pointer[ringindex.Index]

	wbuf wtx      // the write transaction; used only under the writer lock
	wseg *segment // active segment pinned by the last write; only under the writer lock
	hold holder   // Options.HoldLock state

	waitSlot int          // waiter slot claimed while blocked on the lock (holdlock.go)
	lastHeal atomic.Int64 // UnixNano of the last healWaiters pass

	// wbufOK reports that wbuf.st is the state this handle committed last (set by commit,
	// cleared when a write call starts changing it); only under the writer lock.
	wbufOK bool
	// fastUntil caches wbuf.fastUntil() for appendHeld while wbufOK holds (0: not
	// computed); every commit of a new state copy and every move of wseg resets it.
	fastUntil EventID
	// unflushed is set by every commit of this handle and cleared when a flush snapshots
	// the state (both under the writer lock): Close flushes when it is set.
	unflushed atomic.Bool
	// repairing is set while Open's repair takes the writer lock (begin then leaves the
	// bytes after the committed end to the repair).
	repairing bool

	inWait atomic.Int32 // calls of Wait in progress (they use the meta mapping)
	sy     syncer       // group commit (sync.go)

	prepWG      sync.WaitGroup
	prepBusy    atomic.Bool
	preparedSeq atomic.Uint64 // highest seq this handle has prepared + 1
	recycled    atomic.Uint64 // segment files this handle made from the pool (Stats)
	// flushing is set when the handle makes appends durable (SyncAlways, SyncInterval, or
	// it called Sync): it then leaves the pages of prepared segments to its flushes
	// (prepareAhead, flushEnd).
	flushing atomic.Bool
	// growPrefault is the index generation whose growth-copy range this handle is
	// prefaulting in the background (0: none); the copy waits for it (copyDeferred).
	growPrefault atomic.Uint64

	cursors cursorState // named cursors (cursor.go)
}

// Open creates or opens the log in dir. Several processes may open, and create, the same
// directory at the same moment.
func Open(dir string, opts *Options) (*Log, error) {
	r, err := resolveOptions(opts)
	if err != nil {
		return nil, err
	}
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, fmt.Errorf("%w: ringlog needs a little-endian machine", ErrInvalidOptions)
	}
	if r.readOnly {
		if _, err := os.Stat(join(dir, metaFileName)); err != nil {
			return nil, fmt.Errorf("mmaplog: open read-only: %w", err)
		}
	} else if err := os.MkdirAll(dir, r.dirMode); err != nil {
		return nil, fmt.Errorf("mmaplog: create %s: %w", dir, err)
	}
	if err := checkLocalFS(dir); err != nil {
		return nil, err
	}
	l := &Log{dir: dir, opts: r, segs: map[uint64]*segment{}, idxs: map[uint64]*ringindex.Index{}}
	l.sy.cond = sync.NewCond(&l.sy.mu)
	l.flushing.Store(r.sync != SyncNever)
	if !r.readOnly {
		lk, err := flock.New(join(dir, lockFileName), r.fileMode)
		if err != nil {
			return nil, fmt.Errorf("mmaplog: open lock: %w", err)
		}
		l.lock = lk
	}
	if err := l.open(); err != nil {
		l.release()
		return nil, err
	}
	if !r.readOnly {
		if err := l.repair(); err != nil {
			l.closed.Store(true)
			l.release()
			return nil, err
		}
	}
	if r.holdLock {
		l.startHolder()
	}
	if r.sync == SyncInterval {
		l.startSyncer()
	}
	return l, nil
}

func (l *Log) open() error {
	metaPath := join(l.dir, metaFileName)
	// An existing log's meta file is mapped before the lock is taken, so that this handle
	// counts itself among the lock's waiters (a HoldLock holder in another process then
	// hands the lock over instead of keeping it while it stays busy).
	mapped := false
	if _, err := os.Stat(metaPath); err == nil {
		if err := l.mapMeta(); err != nil {
			return err
		}
		mapped = true
	}
	if l.lock != nil {
		if err := l.lock.LockNotify(l.onLockWait); err != nil {
			return fmt.Errorf("mmaplog: lock %s: %w", l.dir, err)
		}
		defer l.lock.Unlock()
	}
	if !mapped {
		if _, err := os.Stat(metaPath); errors.Is(err, fs.ErrNotExist) && !l.opts.readOnly {
			if err := checkRetention(l.opts.retention, l.opts.segmentSize); err != nil {
				return err
			}
			if err := l.create(); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("mmaplog: %w", err)
		}
		if err := l.mapMeta(); err != nil {
			return err
		}
	}
	st, err := l.checkedState()
	if err != nil {
		return err
	}
	if _, err := l.indexFor(st.indexGen); err != nil {
		return err
	}
	if _, err := l.acquireSegment(st.activeSeq); err != nil {
		return err
	}
	l.releaseSegment(st.activeSeq)
	return nil
}

// create makes a new log: segment 0, index generation 1, then the meta file last.
func (l *Log) create() error {
	// The log id only has to differ between logs (it tells a foreign file from ours), so
	// the runtime-seeded math/rand/v2 generator serves: crypto/rand would add a
	// dependency the library does not need.
	var id [16]byte
	binary.LittleEndian.PutUint64(id[0:8], rand.Uint64())
	binary.LittleEndian.PutUint64(id[8:16], rand.Uint64())
	segPath := join(l.dir, segmentFileName(0))
	_ = removeIfExists(segPath) // leftovers of a creator that died before publishing meta
	if err := createFile(segPath, int64(l.opts.segmentSize), encodeSegHeader(segHeader{seq: 0, segmentSize: l.opts.segmentSize, logID: id, salt: newSalt(0, false)}), l.opts.fileMode); err != nil {
		return fmt.Errorf("mmaplog: create segment: %w", err)
	}
	idxPath := join(l.dir, ringindex.FileName(1))
	_ = removeIfExists(idxPath)
	idx, err := ringindex.Create(idxPath, l.opts.indexCapacity, id, 1, l.opts.fileMode)
	if err != nil {
		return fmt.Errorf("mmaplog: create index: %w", err)
	}
	_ = idx.Close()
	b := encodeMetaHeader(metaHeader{logID: id, segmentSize: l.opts.segmentSize})
	st := state{gen: 0, writeOff: segHeaderSize, indexGen: 1, indexCap: l.opts.indexCapacity, delStart: 1,
		syncedPos: ringindex.MakeSlot(0, segHeaderSize)}
	putState(b[metaStateOff0:], &st)
	copy(b[metaBootIDOff:metaBootIDOff+16], currentBootID()) // created in this boot: nothing to scan
	if err := createFile(join(l.dir, metaFileName), metaSize, b, l.opts.fileMode); err != nil {
		return fmt.Errorf("mmaplog: create meta: %w", err)
	}
	return syncDir(l.dir)
}

func (l *Log) mapMeta() error {
	path := join(l.dir, metaFileName)
	f, err := os.OpenFile(path, l.openFlag(), 0)
	if err != nil {
		return fmt.Errorf("mmaplog: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if fi.Size() < metaSize {
		f.Close()
		return corruptf(path, fi.Size(), "meta file is %d bytes, want %d", fi.Size(), metaSize)
	}
	m, err := mmap.MapRegion(f, metaSize, l.mapProt(), 0, 0)
	if err != nil {
		f.Close()
		return fmt.Errorf("mmaplog: map %s: %w", path, err)
	}
	l.metaFile, l.meta = f, m
	h, err := decodeMetaHeader(path, m)
	if err != nil {
		return err
	}
	if l.opts.explicitSeg && h.segmentSize != l.opts.segmentSize {
		return invalidOptions("SegmentSize %d differs from the log's %d", l.opts.segmentSize, h.segmentSize)
	}
	l.opts.segmentSize = h.segmentSize
	if err := l.opts.fitSegment(); err != nil {
		return err
	}
	if err := checkRetention(l.opts.retention, h.segmentSize); err != nil {
		return err
	}
	l.logID = h.logID
	l.commit = (*uint64)(unsafe.Pointer(&m[metaCommitOff]))
	l.states[0] = (*[stateWords]uint64)(unsafe.Pointer(&m[metaStateOff0]))
	l.states[1] = (*[stateWords]uint64)(unsafe.Pointer(&m[metaStateOff1]))
	return nil
}

// loadState returns the committed state (the reader side of the commit protocol): the
// copy the commit word selects, extended by the commit word's tail count. Its writeOff is
// the copy's (see resolveWriteOff).
func (l *Log) loadState() state {
	for {
		c1 := atomic.LoadUint64(l.commit)
		p := l.states[copyIndex(c1)]
		var w [stateWords]uint64
		for i := range w {
			w[i] = atomic.LoadUint64(&p[i])
		}
		// The copy is intact if the generation did not move while it was read; fast
		// appends change only the tail count, so the newest count serves.
		if c2 := atomic.LoadUint64(l.commit); c2&^tailMask == c1&^tailMask && w[0] == c1&^tailMask {
			st := stateFromWords(&w)
			st.applyTail(c2)
			return st
		}
	}
}

// view is the part of the committed state that readers need.
type view struct {
	gen, next, oldest, newest, live uint64
	firstSeq, activeSeq, indexGen   uint64
	delStart, delEnd                uint64
}

// loadView loads the fields of the committed state that readers need, with the same
// protocol as loadState.
func (l *Log) loadView() view {
	var v view
	l.loadViewInto(&v)
	return v
}

// loadViewInto is loadView filling v in place (readers' hot path: no copy of the result).
func (l *Log) loadViewInto(v *view) {
	for {
		c1 := atomic.LoadUint64(l.commit)
		p := l.states[copyIndex(c1)]
		v.gen = atomic.LoadUint64(&p[0])
		v.next = atomic.LoadUint64(&p[1])
		v.oldest = atomic.LoadUint64(&p[2])
		v.newest = atomic.LoadUint64(&p[3])
		v.live = atomic.LoadUint64(&p[4])
		v.firstSeq = atomic.LoadUint64(&p[6])
		v.activeSeq = atomic.LoadUint64(&p[7])
		v.indexGen = atomic.LoadUint64(&p[9])
		v.delStart = atomic.LoadUint64(&p[14])
		v.delEnd = atomic.LoadUint64(&p[15])
		if c2 := atomic.LoadUint64(l.commit); c2&^tailMask == c1&^tailMask && v.gen == c1&^tailMask {
			v.gen = c2
			extendByTail(c2, &v.next, &v.newest, &v.live)
			return
		}
	}
}

// isLive reports whether id is live in v, ignoring tombstones (which live in the index).
func (v *view) isLive(id EventID) bool {
	if v.live == 0 || id < v.oldest || id > v.newest {
		return false
	}
	return !(v.delEnd >= v.delStart && id >= v.delStart && id <= v.delEnd)
}

// checkedState loads the committed state, validating its CRC and invariants; it rolls
// back to the previous copy when the current one is torn (power loss). Callers hold the
// lock.
func (l *Log) checkedState() (state, error) {
	path := join(l.dir, metaFileName)
	c := atomic.LoadUint64(l.commit)
	cur := *l.states[copyIndex(c)]
	if cur[0] == c&^tailMask && stateCRCValid(&cur) {
		st := stateFromWords(&cur)
		st.applyTail(c)
		if msg := st.validate(l.opts.segmentSize); msg != "" {
			return st, corruptf(path, int64(metaStateOff0+1024*copyIndex(c)), "state %#x: %s", c, msg)
		}
		return st, nil
	}
	// A power loss can tear the meta page: the commit word's sector may be newer than the
	// state copies. Fall back to the valid copy with the highest generation, without the
	// tail count (the events of a tail are never synced: Sync folds them into a copy).
	if !l.opts.readOnly {
		var best *state
		for i := range l.states {
			w := *l.states[i]
			if !stateCRCValid(&w) {
				continue
			}
			// A copy must sit in the slot its generation selects, or the commit word set to
			// it would select the other copy and readers would never see a match.
			if st := stateFromWords(&w); st.tail() == 0 && copyIndex(st.gen) == uint64(i) && st.validate(l.opts.segmentSize) == "" && (best == nil || st.gen > best.gen) {
				best = &st
			}
		}
		if best != nil {
			atomic.StoreUint64(l.commit, best.gen)
			return *best, nil
		}
	}
	return state{}, corruptf(path, int64(metaStateOff0+1024*copyIndex(c)), "state %#x: bad checksum or generation", c)
}

// commitState publishes s as the next generation (the writer side of the commit
// protocol), with a tail count of 0. The caller holds the lock.
func (l *Log) commitState(s *state) {
	s.gen = (atomic.LoadUint64(l.commit) | tailMask) + 1
	s.put(l.states[copyIndex(s.gen)])
	atomic.StoreUint64(l.commit, s.gen)
	l.markUnflushed()
}

// markUnflushed records that this handle committed something no flush has covered yet.
// A load first, so that the appends between two flushes do not store to the flag.
func (l *Log) markUnflushed() {
	if !l.unflushed.Load() {
		l.unflushed.Store(true)
	}
}

// publishTail publishes the event that a fast append added to s (next, newest, live and
// writeOff already advanced, and nothing else changed) by adding 1 to the commit word's
// tail count, with one atomic store: no state copy is written. The caller holds the lock,
// and s is the committed state (s.gen is the commit word) with s.tail() < tailMask.
func (l *Log) publishTail(s *state) {
	s.gen++
	atomic.StoreUint64(l.commit, s.gen)
	l.markUnflushed()
}

// indexFor returns the handle's mapping of index generation gen, opening it on first use,
// and makes it the handle's current index if it is newer.
func (l *Log) indexFor(gen uint64) (*ringindex.Index, error) { return l.mapIndex(gen, true) }

// mapIndex returns the handle's mapping of index generation gen; publish makes it the
// current index for readers when it is newer than the current one.
func (l *Log) mapIndex(gen uint64, publish bool) (*ringindex.Index, error) {
	if x := l.curIdx.Load(); x != nil && x.Generation() == gen {
		return x, nil
	}
	l.idxMu.Lock()
	defer l.idxMu.Unlock()
	x := l.idxs[gen]
	if x == nil {
		var err error
		x, err = ringindex.Open(join(l.dir, ringindex.FileName(gen)), l.logID, !l.opts.readOnly)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		l.idxs[gen] = x
	}
	if c := l.curIdx.Load(); publish && (c == nil || c.Generation() < gen) {
		l.curIdx.Store(x)
	}
	return x, nil
}

// Close releases the handle: it makes what the handle wrote durable (one Sync, under every
// policy, when the handle committed anything since its last flush: a cleanly closed log
// loses nothing to a later power loss), waits for in-progress appends and Gets, stops
// background preparation and unmaps every file. Appends that race Close may return after
// its flush and are durable only under SyncAlways. A second Close returns nil. The Values
// of iterators still open become invalid, and so do the bytes a View callback of this
// handle still holds: Close the handle only once its View calls have returned (a
// callback that touches an unmapped page makes View return ErrCorrupt).
func (l *Log) Close() error {
	if l.closed.Load() {
		return nil
	}
	var err error
	l.stopSyncer()
	if !l.opts.readOnly && !l.closed.Load() && (l.unflushed.Load() || l.sy.dataOnly.Load()) {
		// What this handle wrote is durable once Close returns, and a checkpoint leaves
		// nothing for a scan after a reboot.
		_, err = l.flush(true)
	}
	if cerr := l.flushCursors(); err == nil {
		err = cerr
	}
	if l.closed.Swap(true) {
		return nil
	}
	// Wait for an append in progress; appends that start later see closed.
	if l.lock != nil {
		if err := l.lock.LockNotify(l.onLockWait); err == nil {
			_ = l.lock.Unlock()
		}
	}
	l.stopHolder()
	l.stopWaiters()
	l.release()
	return err
}

// release unmaps and closes everything the handle holds.
func (l *Log) release() {
	l.prepWG.Wait()
	// Everything is unmapped under segMu: a reader holding it for reading either finished
	// before, or sees closed after and touches no mapping.
	l.segMu.Lock()
	defer l.segMu.Unlock()
	for seq, s := range l.segs {
		s.unmap()
		delete(l.segs, seq)
	}
	l.idxMu.Lock()
	for gen, x := range l.idxs {
		_ = x.Close()
		delete(l.idxs, gen)
	}
	l.curIdx.Store(nil)
	l.idxMu.Unlock()
	l.closeCursors()
	if l.meta != nil {
		_ = l.meta.Unmap()
		l.meta = nil
	}
	if l.metaFile != nil {
		_ = l.metaFile.Close()
		l.metaFile = nil
	}
	if l.lock != nil {
		_ = l.lock.Close()
	}
}

// openFlag and mapProt give the access mode of the handle's files and mappings.
func (l *Log) openFlag() int {
	if l.opts.readOnly {
		return os.O_RDONLY
	}
	return os.O_RDWR
}

func (l *Log) mapProt() int {
	if l.opts.readOnly {
		return mmap.RDONLY
	}
	return mmap.RDWR
}

// Dir returns the log directory.
func (l *Log) Dir() string { return l.dir }
