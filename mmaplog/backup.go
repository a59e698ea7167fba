package mmaplog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"slices"

	"github.com/ringlog/ringlog/internal/cursortable"
	"github.com/ringlog/ringlog/internal/record"
	"github.com/ringlog/ringlog/ringindex"
)

// BackupOptions configures Backup. A nil *BackupOptions means the defaults.
type BackupOptions struct {
	// Progress, when set, is called as the copy goes on with the bytes copied so far and
	// the bytes to copy (segment bytes and index slots), from the calling goroutine.
	Progress func(copied, total uint64)
	// NoVerify skips the Check of the copy that Backup runs before it returns.
	NoVerify bool
	// NoCursors leaves the cursor table (Log.Cursor) out of the copy: the copy has no
	// cursors. Without it a damaged table in the source fails the backup.
	NoCursors bool
}

// BackupInfo describes the copy Backup made: exactly the events of one committed state of
// the source.
type BackupInfo struct {
	// Events is the number of live events copied; OldestEventID and NextEventID bound
	// them (OldestEventID == NextEventID when the log was empty).
	Events                     uint64
	OldestEventID, NextEventID EventID
	// Segments is the number of segment files written, Bytes the bytes copied.
	Segments int
	Bytes    uint64
	// Report is the Check of the copy (nil with NoVerify).
	Report *Report
	// Cursors is the number of cursors copied, at their positions of the copied state.
	Cursors int
}

// backupRetries bounds the attempts of Backup to snapshot a state whose index capacity
// matches the index file it prepared (an online growth can complete in between).
const backupRetries = 4

// Backup writes an online, consistent copy of the log into dest while writers in any
// process keep appending: dest becomes a log (same log id and segment size) that holds
// exactly the events of one committed state of the source, opens, and checks clean. dest
// must not exist or be an empty directory; it is created with the handle's DirMode.
//
// The copy has the source's cursors (unless opts.NoCursors), each at its committed
// position read while the state was snapshotted, so that a consumer of the copy resumes
// where it was. Positions are copied as they are, also one below the copied oldest event
// (its Follow in the copy reports ErrCursorBehind, as it would have in the source) or
// above NextEventID (committed ahead of the log: it skips the same ids in both). A cursor
// table that cannot be read (a damaged entry or header) fails the backup with a
// *CorruptError naming it; NoCursors makes the copy without it.
//
// The writer lock is held only to snapshot the committed state, copy its index slots into
// the new index file (a memory copy of 8 bytes per id), list the cursors and pin the
// segments it names; the record bytes are copied after the lock is released, which is
// safe because published records below the write offset are never rewritten
// (docs/FORMAT.md section 11). Every
// file is fsynced, the meta file is written last, and the directory is fsynced, so after
// Backup returns the copy survives power loss. Unless opts.NoVerify, the copy is then
// checked (Check): a copy that does not check clean (the source was damaged) is an error
// wrapping ErrCorrupt, and dest is left as written.
//
// It needs a handle that may write (ErrReadOnly otherwise). On an error before the meta
// file is written, the files Backup created are removed.
func (l *Log) Backup(dest string, opts *BackupOptions) (*BackupInfo, error) {
	if opts == nil {
		opts = &BackupOptions{}
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if l.opts.readOnly {
		return nil, ErrReadOnly
	}
	if err := prepareBackupDir(dest, l.opts.dirMode); err != nil {
		return nil, err
	}
	b := &backup{l: l, dest: dest, opts: opts}
	info, err := b.run()
	if err != nil {
		b.removeCreated()
		return nil, err
	}
	if !opts.NoVerify {
		rep, err := Check(dest)
		if err != nil {
			return nil, fmt.Errorf("mmaplog: backup %s: check the copy: %w", dest, err)
		}
		info.Report = rep
		if !rep.OK() {
			return info, fmt.Errorf("%w: backup %s: the copy does not check clean (%d problems, the first: %s)", ErrCorrupt, dest, len(rep.Problems), rep.Problems[0])
		}
		if err := b.verifyCursors(); err != nil {
			return info, err
		}
	}
	return info, nil
}

// prepareBackupDir creates dest, or accepts it if it is an empty directory.
func prepareBackupDir(dest string, mode fs.FileMode) error {
	entries, err := os.ReadDir(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dest, mode); err != nil {
			return fmt.Errorf("mmaplog: backup: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("mmaplog: backup: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("mmaplog: backup: %s is not empty: %w", dest, fs.ErrExist)
	}
	return nil
}

// backup is one run of Backup.
type backup struct {
	l       *Log
	dest    string
	opts    *BackupOptions
	st      state      // the snapshot
	pinned  []*segment // the segments the snapshot names, pinned
	ends    []uint64   // bytes to copy of each pinned segment
	created []string   // files written into dest, removed on failure
	idx     *ringindex.Index
	copied  uint64
	total   uint64
	curTab  *cursortable.Table // the source's cursor table (nil: none, or NoCursors)
	cursors []cursortable.Info // its cursors, read under the lock of the snapshot
}

// run makes the copy: snapshot under the lock, then segments, index, meta.
func (b *backup) run() (*BackupInfo, error) {
	defer b.unpin()
	if err := b.snapshot(); err != nil {
		return nil, err
	}
	b.segmentEnds()
	for i := range b.pinned {
		b.total += b.ends[i]
	}
	if b.st.live > 0 {
		b.total += ringindex.SlotSize * (b.st.next - b.st.oldest)
	}
	for i, seg := range b.pinned {
		if err := b.copySegment(seg, b.ends[i]); err != nil {
			return nil, err
		}
	}
	if err := b.finishIndex(); err != nil {
		return nil, err
	}
	if err := b.writeCursors(); err != nil {
		return nil, err
	}
	if err := b.writeMeta(); err != nil {
		return nil, err
	}
	info := &BackupInfo{Events: b.st.live, OldestEventID: b.st.oldest, NextEventID: b.st.next, Segments: len(b.pinned), Bytes: b.copied,
		Cursors: len(b.cursors)}
	return info, nil
}

// snapshot takes the writer lock and, under it, loads the committed state, copies its
// index slots of [oldest, next) into a new index file in dest, reads the cursors and
// pins the segments of [firstSeq, activeSeq]. The index file is created and its pages
// faulted in, and the cursor table opened, before the lock is taken, with the capacity
// of the state as last seen; if a growth changed the capacity meanwhile, it starts
// again.
func (b *backup) snapshot() error {
	l := b.l
	if err := b.openCursors(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if err := l.rlock(); err != nil {
			return err
		}
		guess := l.loadState()
		l.segMu.RUnlock()
		path := join(b.dest, ringindex.FileName(guess.indexGen))
		x, err := ringindex.Create(path, guess.indexCap, l.logID, guess.indexGen, l.opts.fileMode)
		if err != nil {
			return fmt.Errorf("mmaplog: backup: %w", err)
		}
		b.created = append(b.created, path)
		if guess.live > 0 {
			_ = x.PrefaultRange(guess.oldest, guess.next+guess.indexCap/8)
		}
		w, err := l.begin()
		if err != nil {
			_ = x.Close()
			return err
		}
		if w.st.indexCap != guess.indexCap || w.st.indexGen != guess.indexGen {
			w.abort()
			_ = x.Close()
			_ = os.Remove(path)
			b.created = b.created[:len(b.created)-1]
			if attempt+1 >= backupRetries {
				return fmt.Errorf("mmaplog: backup: the index kept growing during %d attempts", backupRetries)
			}
			continue
		}
		b.st, b.idx = w.st, x
		if w.st.live > 0 {
			x.CopyFrom(w.idx, w.st.oldest, w.st.next)
		}
		if err := b.readCursors(); err != nil {
			w.abort()
			return err
		}
		err = b.pin(w.st.firstSeq, w.st.activeSeq)
		w.abort() // nothing to commit: the lock was only for the snapshot
		return err
	}
}

// pin pins the mapping of every existing segment in [first, last]. A segment that a
// delete removed (a hole between live segments) holds no live event and is skipped.
func (b *backup) pin(first, last uint64) error {
	for seq := first; seq <= last; seq++ {
		s, err := b.l.acquireSegment(seq)
		if errors.Is(err, errSegmentGone) && seq != last {
			continue
		}
		if err != nil {
			return err
		}
		b.pinned = append(b.pinned, s)
	}
	return nil
}

// unpin releases the pinned segments and closes the new index file.
func (b *backup) unpin() {
	for _, s := range b.pinned {
		b.l.releaseSegment(s.seq)
	}
	b.pinned = nil
	if b.idx != nil {
		_ = b.idx.Close()
		b.idx = nil
	}
}

// segmentEnds computes the bytes to copy of each pinned segment: up to the end of the
// last record the snapshot's slots name in it, and for the active segment up to the
// write offset. What lies after is not part of the state.
func (b *backup) segmentEnds() {
	st := &b.st
	last := map[uint64]ringindex.Slot{}
	if st.live > 0 {
		for id := st.oldest; id < st.next; id++ {
			if s := b.idx.Load(id); !s.IsZero() {
				seq := s.FullSeq(st.activeSeq)
				if s.Offset() >= last[seq].Offset() {
					last[seq] = s
				}
			}
		}
	}
	b.ends = make([]uint64, len(b.pinned))
	for i, seg := range b.pinned {
		end := uint64(segHeaderSize)
		if s, ok := last[seg.seq]; ok {
			if n, ok := recordLength(seg.data, s.Offset()); ok && n <= b.l.opts.maxEventSize {
				end = s.Offset() + recordSize(int(n))
			}
		}
		if seg.seq == st.activeSeq {
			end = max(end, st.writeOff)
		}
		b.ends[i] = min(end, uint64(len(seg.data)))
	}
}

// recordLength is record.Length with a memory fault (a file truncated under the mapping)
// reported as not found.
func recordLength(seg []byte, off uint64) (n uint64, ok bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			_ = faultError(r)
			n, ok = 0, false
		}
	}()
	return record.Length(seg, off)
}

// backupChunk is how many bytes copySegment writes per call (and per progress report).
const backupChunk = 1 << 20

// copySegment writes seg[0:end) into a new, preallocated segment file of dest under a
// temporary name, fsyncs it and renames it into place.
func (b *backup) copySegment(seg *segment, end uint64) (err error) {
	final := join(b.dest, segmentFileName(seg.seq))
	tmp := tempName(final)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, b.l.opts.fileMode)
	if err != nil {
		return fmt.Errorf("mmaplog: backup: %w", err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := preallocate(f, int64(b.l.opts.segmentSize)); err != nil {
		return fmt.Errorf("mmaplog: backup: %w", err)
	}
	for off := uint64(0); off < end; off += backupChunk {
		hi := min(off+backupChunk, end)
		if err := writeFromMapping(f, seg.data[off:hi], int64(off)); err != nil {
			return fmt.Errorf("mmaplog: backup: copy %s: %w", b.l.segmentPath(seg.seq), err)
		}
		b.progress(hi - off)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("mmaplog: backup: %w", err)
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return fmt.Errorf("mmaplog: backup: %w", cerr)
	}
	if err := renameNoReplace(tmp, final); err != nil {
		return fmt.Errorf("mmaplog: backup: %w", err)
	}
	b.created = append(b.created, final)
	return nil
}

// writeFromMapping writes p, part of a mapping, at off; a memory fault (the source file
// was truncated) is an error wrapping ErrCorrupt.
func writeFromMapping(f *os.File, p []byte, off int64) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err)
	_, err = f.WriteAt(p, off)
	return err
}

// progress counts n more bytes copied and reports them.
func (b *backup) progress(n uint64) {
	b.copied += n
	if b.opts.Progress != nil {
		b.opts.Progress(b.copied, b.total)
	}
}

// finishIndex flushes the slots copied into the new index file and closes it.
func (b *backup) finishIndex() error {
	st := &b.st
	if st.live > 0 {
		if err := b.idx.SyncRange(st.oldest, st.next); err != nil {
			return fmt.Errorf("mmaplog: backup: %w", err)
		}
		b.progress(ringindex.SlotSize * (st.next - st.oldest))
	}
	err := b.idx.Close()
	b.idx = nil
	if err != nil {
		return fmt.Errorf("mmaplog: backup: %w", err)
	}
	return nil
}

// writeMeta writes the meta file of the copy, last: the snapshot state as generation 0
// with the tail folded in, no growth in progress, and everything synced.
func (b *backup) writeMeta() error {
	l := b.l
	s := b.st
	s.gen = 0
	s.migGen, s.migCap, s.migNext = 0, 0, 0
	s.syncedNext, s.dirtyLow = s.next, s.next
	s.syncedPos = ringindex.MakeSlot(s.activeSeq, s.writeOff)
	if msg := s.validate(l.opts.segmentSize); msg != "" {
		return corruptf(join(l.dir, metaFileName), -1, "backup: snapshot state: %s", msg)
	}
	m := encodeMetaHeader(metaHeader{logID: l.logID, segmentSize: l.opts.segmentSize})
	putState(m[metaStateOff0:], &s)
	path := join(b.dest, metaFileName)
	if err := createFile(path, metaSize, m, l.opts.fileMode); err != nil {
		return fmt.Errorf("mmaplog: backup: %w", err)
	}
	return syncDir(b.dest)
}

// openCursors opens the source's cursor table, when it has one and the copy takes it.
func (b *backup) openCursors() error {
	if b.opts.NoCursors {
		return nil
	}
	l := b.l
	if err := l.rlock(); err != nil {
		return err
	}
	defer l.segMu.RUnlock()
	tab, err := l.cursorTable(false)
	if err != nil {
		return fmt.Errorf("mmaplog: backup: cursors (BackupOptions.NoCursors copies the log without them): %w", err)
	}
	b.curTab = tab
	return nil
}

// readCursors reads every cursor's committed position (List: the table's lock, each
// position a validated read of its entry, never torn). The caller holds the writer lock,
// so the copied state's oldest is the source's meanwhile, and no event past its next is
// published that a consumer could have read and committed.
func (b *backup) readCursors() error {
	if b.curTab == nil {
		return nil
	}
	list, err := b.curTab.List()
	if err != nil {
		return fmt.Errorf("mmaplog: backup: cursors (BackupOptions.NoCursors copies the log without them): %w", cursorErr(err))
	}
	b.cursors = list
	return nil
}

// writeCursors writes the copy's cursor table: the cursors read, at their positions.
func (b *backup) writeCursors() error {
	if b.curTab == nil {
		return nil
	}
	if err := cursortable.WriteFile(b.dest, b.l.logID, b.l.opts.fileMode, b.cursors); err != nil {
		return fmt.Errorf("mmaplog: backup: %w", err)
	}
	b.created = append(b.created, join(b.dest, cursortable.FileName))
	return nil
}

// verifyCursors reads the copy's cursor table back: it must list exactly the cursors
// written, else the copy is ErrCorrupt.
func (b *backup) verifyCursors() error {
	if b.curTab == nil {
		return nil
	}
	t, err := cursortable.Open(b.dest, b.l.logID, true, false, 0)
	if err != nil {
		return fmt.Errorf("mmaplog: backup %s: the copy's cursors: %w", b.dest, cursorErr(err))
	}
	defer t.Close()
	got, err := t.List()
	if err != nil {
		return fmt.Errorf("mmaplog: backup %s: the copy's cursors: %w", b.dest, cursorErr(err))
	}
	if !slices.Equal(got, b.cursors) {
		return fmt.Errorf("%w: backup %s: the copy's cursors %v differ from the source's %v", ErrCorrupt, b.dest, got, b.cursors)
	}
	return nil
}

// removeCreated removes what a failed backup wrote into dest.
func (b *backup) removeCreated() {
	for _, p := range b.created {
		_ = os.Remove(p)
	}
}
