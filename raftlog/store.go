package raftlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/flock"
	"github.com/ringlog/ringlog/mmaplog"
)

const (
	lockFileName = "LOCK"
	logDirName   = "log"
)

// Store is a raft log store and stable store in one directory: it implements
// raft.LogStore, raft.MonotonicLogStore and raft.StableStore. Open it with Open.
type Store struct {
	dir    string
	logDir string
	lock   *flock.Lock
	log    *mmaplog.Log
	stable *stableStore
	closed atomic.Bool

	// mu serializes the write steps of StoreLogs and DeleteRange (the flush runs outside
	// it, so concurrent StoreLogs calls share one).
	mu sync.Mutex
	// first and last cache the log's bounds (0, 0 when empty) for FirstIndex and
	// LastIndex: the store is the log's only writer (it holds LOCK), so they change only
	// under mu, right after each append or delete.
	first, last atomic.Uint64
	// failed is the range of entries that StoreLogs calls which returned an error left in
	// the log (their flush failed and they could not be removed): the only entries a
	// retry may replace by different ones. Guarded by mu.
	failed idRange

	hooks hooks
}

// hooks let tests inject failures; nil fields do nothing.
type hooks struct {
	sync     func() error // replaces the log's Sync when set
	rollback func() error // runs before a failed StoreLogs removes what it appended
}

var (
	_ raft.LogStore          = (*Store)(nil)
	_ raft.MonotonicLogStore = (*Store)(nil)
	_ raft.StableStore       = (*Store)(nil)
)

// Open opens the store in dir, creating dir and an empty store if needed. Only one Store
// at a time, in any process, may have a directory open: a second Open fails with
// ErrLocked.
func Open(dir string, opts *Options) (*Store, error) {
	o, err := opts.fill()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, o.DirMode); err != nil {
		return nil, fmt.Errorf("raftlog: open: %w", err)
	}
	lock, err := flock.New(filepath.Join(dir, lockFileName), o.FileMode)
	if err != nil {
		return nil, fmt.Errorf("raftlog: open: %w", err)
	}
	ok, err := lock.TryLock()
	if err != nil || !ok {
		lock.Close()
		if err == nil {
			err = ErrLocked
		}
		return nil, fmt.Errorf("raftlog: open %s: %w", dir, err)
	}
	s := &Store{dir: dir, logDir: filepath.Join(dir, logDirName), lock: lock, failed: noRange}
	if err := s.open(o); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// open loads the stable file and opens the log. A new store gets its stable file first,
// so a log directory without one is damage, not a new store.
func (s *Store) open(o Options) error {
	os.Remove(filepath.Join(s.dir, stableTmpName)) // a Set cut short by a crash
	_, statErr := os.Stat(filepath.Join(s.dir, stableFileName))
	var err error
	switch {
	case statErr == nil:
		s.stable, err = loadStable(s.dir, o.FileMode)
	case errors.Is(statErr, os.ErrNotExist):
		if _, lerr := os.Stat(s.logDir); lerr == nil {
			return &CorruptError{Path: filepath.Join(s.dir, stableFileName), Offset: -1,
				What: "stable file missing beside an existing log", Err: ErrCorrupt}
		}
		s.stable, err = createStable(s.dir, o.FileMode)
	default:
		err = fmt.Errorf("raftlog: open: %w", statErr)
	}
	if err != nil {
		return err
	}
	s.log, err = mmaplog.Open(s.logDir, o.logOptions())
	if err != nil {
		if errors.Is(err, mmaplog.ErrInvalidOptions) {
			return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
		}
		if errors.Is(err, mmaplog.ErrCorrupt) || errors.Is(err, mmaplog.ErrVersion) {
			return &CorruptError{Path: s.logDir, Offset: -1, What: "log", Err: err}
		}
		return fmt.Errorf("raftlog: open log: %w", err)
	}
	if err := s.refreshBounds(); err != nil {
		s.log.Close()
		return fmt.Errorf("raftlog: open log: %w", err)
	}
	return nil
}

// refreshBounds reloads the cached bounds from the log; called under mu (or in Open).
func (s *Store) refreshBounds() error {
	first, err := s.log.OldestEventID()
	if err == mmaplog.ErrEmpty {
		s.first.Store(0)
		s.last.Store(0)
		return nil
	}
	if err != nil {
		return err
	}
	last, err := s.log.NewestEventID()
	if err != nil {
		return err
	}
	// Readers may see the two stores in either order; each call reads one.
	s.first.Store(first)
	s.last.Store(last)
	return nil
}

// idRange is a range of ids [from, to]; empty when from > to.
type idRange struct{ from, to uint64 }

var noRange = idRange{1, 0}

func (r idRange) empty() bool { return r.from > r.to }

// Close releases the store: it closes the log and releases the directory's lock. Do not
// call it while other calls are running. A second Close returns nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.log.Close()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// IsMonotonic reports true: the store keeps its indexes dense, and raft deletes the whole
// log after a snapshot restore, continuing at the snapshot's index + 1 (an empty store
// accepts any first index).
func (s *Store) IsMonotonic() bool { return true }

// FirstIndex returns the first index in the log, or 0 when the log is empty. It reads a
// cached value: no lock, no allocation.
func (s *Store) FirstIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	return s.first.Load(), nil
}

// LastIndex returns the last index in the log, or 0 when the log is empty. It reads a
// cached value: no lock, no allocation.
func (s *Store) LastIndex() (uint64, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	return s.last.Load(), nil
}

// GetLog fills out with the entry at index in O(1). It returns raft.ErrLogNotFound itself
// when the index is not in the log, and a *CorruptError naming the index when the entry's
// record or its encoding is damaged. out's Data and Extensions share one new allocation;
// nothing else is allocated.
func (s *Store) GetLog(index uint64, out *raft.Log) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.log.View(index, func(b []byte) error {
		return decodeEntry(s.logDir, index, b, out)
	})
	switch {
	case err == nil:
		return nil
	case err == mmaplog.ErrNotFound:
		return raft.ErrLogNotFound
	}
	return s.readError(index, err)
}

// readError classifies an error of a read of entry index.
func (s *Store) readError(index uint64, err error) error {
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, mmaplog.ErrNotFound):
		return raft.ErrLogNotFound
	case errors.Is(err, mmaplog.ErrClosed):
		return ErrClosed
	case errors.Is(err, mmaplog.ErrCorrupt) || errors.Is(err, mmaplog.ErrVersion):
		return &CorruptError{Path: s.logDir, Index: index, HasIndex: true, Offset: -1, What: "record", Err: err}
	}
	return fmt.Errorf("raftlog: entry %d: %w", index, err)
}

// StoreLog stores one entry; see StoreLogs.
func (s *Store) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs stores entries with consecutive indexes, all or none, with one
// AppendBatchWithIDs, and returns once they are durable: one flush per call, shared by
// concurrent callers. The first index must be LastIndex()+1, or any index >= the next
// one when the log is empty (after raft deleted the whole log for a snapshot restore).
//
// Raft re-sends the same indexes after a failed StoreLogs. A call whose flush fails removes
// what it appended (when nothing was appended after it), so the retry is an ordinary
// append that writes the entries anew. When they could not be removed, a batch that
// starts inside the log is accepted: entries identical to the stored ones are kept, and
// from the first difference on the stored entries are replaced, if all of them were left
// by failed calls. Replacing any other entry is ErrConflict (raft deletes a conflicting
// suffix with DeleteRange first), and so is a concurrent call's entry, whose flush may
// still be running.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if len(logs) == 0 {
		return nil
	}
	b := getBatch()
	defer putBatch(b)
	if err := b.encode(logs); err != nil {
		return err
	}
	first := logs[0].Index
	s.mu.Lock()
	from, to, err := s.appendLocked(first, b.events)
	if rerr := s.refreshBounds(); err == nil && rerr != nil {
		err = fmt.Errorf("raftlog: StoreLogs: %w", rerr)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.sync(); err != nil {
		return s.failedSync(from, to, err)
	}
	// Every entry up to last is now stored by a call that succeeds: none is replaceable.
	last := first + uint64(len(logs)) - 1
	s.mu.Lock()
	s.failed.from = max(s.failed.from, last+1)
	s.mu.Unlock()
	return nil
}

// appendLocked appends events (ids first, first+1, ...) where they continue the log, after
// skipping a prefix identical to stored entries and removing unacknowledged entries from
// the first difference on. It returns the ids it appended, [from, to] (from > to when
// the whole batch was already stored).
func (s *Store) appendLocked(first uint64, events [][]byte) (from, to uint64, err error) {
	last := first + uint64(len(events)) - 1
	next, err := s.log.NextEventID()
	if err != nil {
		return 0, 0, s.writeError(first, last, err)
	}
	oldest, err := s.log.OldestEventID()
	empty := err == mmaplog.ErrEmpty
	if err != nil && !empty {
		return 0, 0, s.writeError(first, last, err)
	}
	switch {
	case empty && first >= next, first == next:
		if err := s.log.AppendBatchWithIDs(first, events); err != nil {
			return 0, 0, s.writeError(first, last, err)
		}
		return first, last, nil
	case empty, first < oldest:
		return 0, 0, &IndexError{Expected: max(next, oldest), Got: first, Err: ErrOutOfSequence}
	case first > next:
		return 0, 0, &IndexError{Expected: next, Got: first, Err: ErrOutOfSequence}
	}
	// The batch starts inside the log: a retry. Find the first entry that differs.
	stored := min(uint64(len(events)), next-first)
	diff := stored
	for i := range stored {
		same := false
		err := s.log.View(first+i, func(b []byte) error {
			same = bytes.Equal(b, events[i])
			return nil
		})
		if err != nil {
			return 0, 0, s.readError(first+i, err)
		}
		if !same {
			diff = i
			break
		}
	}
	if diff < stored {
		at := first + diff
		if at < s.failed.from || next-1 > s.failed.to {
			return 0, 0, &IndexError{Expected: at, Got: at, Err: ErrConflict}
		}
		if _, err := s.log.DeleteRange(at, next-1); err != nil {
			return 0, 0, fmt.Errorf("raftlog: StoreLogs %d..%d: replace from %d: %w", first, last, at, err)
		}
	}
	if diff == uint64(len(events)) {
		return 1, 0, nil
	}
	at := first + diff
	if err := s.log.AppendBatchWithIDs(at, events[diff:]); err != nil {
		return 0, 0, s.writeError(at, last, err)
	}
	return at, last, nil
}

// failedSync undoes what a StoreLogs call appended when its flush failed, if nothing was
// appended after it (otherwise it records the entries as replaceable by a retry), and
// returns the error of the call.
func (s *Store) failedSync(from, to uint64, err error) error {
	err = fmt.Errorf("raftlog: StoreLogs: flush: %w", err)
	if from > to {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next, rerr := s.log.NextEventID()
	if rerr == nil && next != to+1 {
		rerr = fmt.Errorf("entries after them were appended meanwhile")
	}
	if rerr == nil && s.hooks.rollback != nil {
		rerr = s.hooks.rollback()
	}
	if rerr == nil {
		_, rerr = s.log.DeleteRange(from, to)
	}
	if berr := s.refreshBounds(); rerr == nil {
		rerr = berr
	}
	if rerr == nil {
		return err
	}
	if s.failed.empty() || s.failed.to+1 != from {
		s.failed = idRange{from, to}
	} else {
		s.failed.to = to
	}
	return errors.Join(err, fmt.Errorf("raftlog: StoreLogs: %d..%d stay until a retry replaces them: %w", from, to, rerr))
}

// writeError classifies an error of an append of [first, last].
func (s *Store) writeError(first, last uint64, err error) error {
	var ide *mmaplog.IDError
	switch {
	case errors.As(err, &ide):
		return &IndexError{Expected: ide.Expected, Got: ide.Got, Err: ErrOutOfSequence}
	case errors.Is(err, mmaplog.ErrTooLarge):
		return fmt.Errorf("%w: StoreLogs %d..%d: %w", ErrTooLarge, first, last, err)
	case errors.Is(err, mmaplog.ErrClosed):
		return ErrClosed
	}
	return fmt.Errorf("raftlog: StoreLogs %d..%d: %w", first, last, err)
}

// sync makes every entry appended so far durable.
func (s *Store) sync() error {
	if s.hooks.sync != nil {
		return s.hooks.sync()
	}
	return s.log.Sync()
}

// DeleteRange deletes the entries [min, max], inclusive, and returns once the deletion is
// durable. The range is clipped to the log: a range outside it changes nothing, as does
// min > max. It must reach the first or the last entry (a prefix after a snapshot, a
// suffix on a conflict, or the whole log after a snapshot restore); a range strictly
// inside the log is ErrInteriorDelete. After a suffix delete StoreLogs continues at min;
// after deleting the whole log, at any index >= the first one deleted.
func (s *Store) DeleteRange(min, max uint64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if min > max {
		return nil
	}
	s.mu.Lock()
	deleted, err := s.deleteLocked(min, max)
	if rerr := s.refreshBounds(); err == nil && rerr != nil {
		err = fmt.Errorf("raftlog: DeleteRange: %w", rerr)
	}
	s.mu.Unlock()
	if err != nil || !deleted {
		return err
	}
	if err := s.sync(); err != nil {
		return fmt.Errorf("raftlog: DeleteRange %d..%d: flush: %w", min, max, err)
	}
	return nil
}

// deleteLocked deletes [lo, hi] clipped to the log and reports whether anything was.
func (s *Store) deleteLocked(lo, hi uint64) (bool, error) {
	oldest, err := s.log.OldestEventID()
	if err == mmaplog.ErrEmpty {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("raftlog: DeleteRange %d..%d: %w", lo, hi, err)
	}
	newest, err := s.log.NewestEventID()
	if err != nil {
		return false, fmt.Errorf("raftlog: DeleteRange %d..%d: %w", lo, hi, err)
	}
	if hi < oldest || lo > newest {
		return false, nil
	}
	if lo > oldest && hi < newest {
		return false, fmt.Errorf("%w: %d..%d inside %d..%d", ErrInteriorDelete, lo, hi, oldest, newest)
	}
	if _, err := s.log.DeleteRange(lo, hi); err != nil {
		return false, fmt.Errorf("raftlog: DeleteRange %d..%d: %w", lo, hi, err)
	}
	if next, err := s.log.NextEventID(); err == nil && s.failed.to >= next {
		if next == 0 {
			s.failed = noRange
		} else {
			s.failed.to = next - 1
		}
	}
	return true, nil
}

// Set stores key = val; it returns once the new value is durable (crash-atomic: after a
// crash the stable file holds the old value or the new one).
func (s *Store) Set(key, val []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.stable.set(key, val)
}

// Get returns a copy of key's value, or an empty value and a nil error when key is not
// set.
func (s *Store) Get(key []byte) ([]byte, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	return s.stable.get(key), nil
}

// SetUint64 stores val as 8 little-endian bytes under key; see Set.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.LittleEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value SetUint64 stored under key, or 0 when key is not set. A
// value of another length is ErrNotUint64.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.LittleEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("%w: key %q holds %d bytes", ErrNotUint64, key, len(v))
}

// batch is the encoding of one StoreLogs call: every entry in one buffer.
type batch struct {
	buf    []byte
	events [][]byte
}

// maxPooledBatch is the largest buffer kept for reuse.
const maxPooledBatch = 1 << 20

var batchPool = sync.Pool{New: func() any { return new(batch) }}

func getBatch() *batch { return batchPool.Get().(*batch) }

func putBatch(b *batch) {
	if cap(b.buf) > maxPooledBatch {
		return
	}
	clear(b.events)
	b.events = b.events[:0]
	batchPool.Put(b)
}

// encode validates logs (non-nil, index > 0, consecutive indexes) and encodes them.
func (b *batch) encode(logs []*raft.Log) error {
	size := 0
	for i, l := range logs {
		switch {
		case l == nil:
			return fmt.Errorf("%w: entry %d of the batch is nil", ErrInvalidEntry, i)
		case l.Index == 0:
			return fmt.Errorf("%w: index 0 (raft indexes start at 1)", ErrInvalidEntry)
		case i > 0 && l.Index != logs[0].Index+uint64(i):
			return &IndexError{Expected: logs[0].Index + uint64(i), Got: l.Index, Err: ErrOutOfSequence}
		case len(l.Data) > math.MaxUint32:
			return fmt.Errorf("%w: entry %d has %d bytes of data", ErrTooLarge, l.Index, len(l.Data))
		}
		size += encodedSize(l)
	}
	if cap(b.buf) < size {
		b.buf = make([]byte, size)
	}
	buf := b.buf[:size]
	for _, l := range logs {
		n := encodedSize(l)
		encodeEntry(buf[:n:n], l)
		b.events = append(b.events, buf[:n:n])
		buf = buf[n:]
	}
	return nil
}
