package mmaplog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/ringlog/ringlog/internal/cursortable"
)

// Cursor is a named, durable consumer position shared by every handle and process of a
// log: Position is the next id to read, and Commit records that everything below an id
// is consumed. Commit and Position take no lock and make no system call; a commit
// survives a crash of the process at once and a power loss once Log.Sync returns. A
// Cursor is safe for concurrent use and valid until its Log is closed. The table is the
// log directory's "cursors" file (docs/FORMAT.md §13), created on first use by a writer
// handle; it holds up to 256 cursors.
type Cursor struct {
	l    *Log
	e    *cursortable.Entry
	last atomic.Uint64 // the last position read intact (Position on a damaged entry)
}

// CursorInfo describes one cursor in Log.Cursors.
type CursorInfo struct {
	// Name is the cursor's name.
	Name string
	// Position is its committed position: the next id it reads.
	Position EventID
	// Lag is NextEventID - Position, the ids not consumed yet (0 when Position is ahead).
	Lag uint64
}

// cursorState is a handle's cursor table, opened on first use (under mu).
type cursorState struct {
	mu    sync.Mutex
	tab   *cursortable.Table
	dirty atomic.Bool // a Cursor of this handle committed since the table's last msync
}

// Cursor opens the cursor called name (1..64 bytes of A-Z a-z 0-9 . _ -, else
// ErrCursorName), creating it when no cursor has the name: a new cursor starts at the
// oldest live event (NextEventID on an empty log). Creation is serialized across
// processes and durable when Cursor returns; a full table is ErrCursorTableFull. Both
// change nothing. A read-only handle opens existing cursors only (their Commit returns
// ErrReadOnly; a name that does not exist is ErrReadOnly too). A damaged table or entry
// is a *CorruptError.
func (l *Log) Cursor(name string) (*Cursor, error) {
	if err := l.rlock(); err != nil {
		return nil, err
	}
	defer l.segMu.RUnlock()
	if err := cursortable.CheckName(name); err != nil {
		return nil, err
	}
	create := !l.opts.readOnly
	tab, err := l.cursorTable(create)
	if err != nil {
		return nil, err
	}
	if tab == nil {
		return nil, fmt.Errorf("%w: cursor %q does not exist (no cursor table) and cannot be created", ErrReadOnly, name)
	}
	v := l.loadView()
	initial := v.next
	if v.live > 0 {
		initial = v.oldest
	}
	e, err := tab.Lookup(name, create, initial)
	if err != nil {
		if l.opts.readOnly && errors.Is(err, cursortable.ErrNoCursor) {
			return nil, fmt.Errorf("%w: %w, and cannot be created", ErrReadOnly, err)
		}
		return nil, cursorErr(err)
	}
	c := &Cursor{l: l, e: e}
	if _, err := c.Load(); err != nil {
		return nil, err
	}
	return c, nil
}

// cursorTable returns the handle's cursor table, opening it (and creating the file when
// create is set) on first use; nil when the file does not exist and create is not set.
// The caller holds segMu for reading (release closes the table under segMu).
func (l *Log) cursorTable(create bool) (*cursortable.Table, error) {
	s := &l.cursors
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tab == nil {
		t, err := cursortable.Open(l.dir, l.logID, l.opts.readOnly, create, l.opts.fileMode)
		if errors.Is(err, fs.ErrNotExist) && !create {
			return nil, nil
		}
		if err != nil {
			return nil, cursorErr(err)
		}
		s.tab = t
	}
	return s.tab, nil
}

// cursorErr gives the table's errors the log's types: its ErrReadOnly and ErrClosed are
// the log's, and a table *CorruptError becomes a log *CorruptError.
func cursorErr(err error) error {
	var ce *cursortable.CorruptError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		s := ErrCorrupt
		if errors.Is(ce.Err, cursortable.ErrVersion) {
			s = ErrVersion
		}
		return &CorruptError{Path: ce.Path, Offset: ce.Offset, What: ce.What, Err: s}
	case errors.Is(err, cursortable.ErrReadOnly):
		return ErrReadOnly
	case errors.Is(err, cursortable.ErrClosed):
		return ErrClosed
	}
	return err
}

// Name returns the cursor's name.
func (c *Cursor) Name() string { return c.e.Name() }

// Load returns the committed position, or an error: ErrNoCursor once the cursor was
// deleted (by any process), a *CorruptError when both copies of its entry are damaged,
// ErrClosed after the Log is closed.
func (c *Cursor) Load() (EventID, error) {
	if c.l.closed.Load() {
		return 0, ErrClosed
	}
	p, err := c.e.Position() // ErrClosed once Close has closed the table (see closeCursors)
	if err != nil {
		return 0, cursorErr(err)
	}
	if c.last.Load() != p {
		c.last.Store(p)
	}
	return p, nil
}

// Position returns the committed position, the next id to read. It is Load without the
// error: when Load fails, Position returns the last position this Cursor read intact
// (at Log.Cursor or later), never a zero it did not read.
func (c *Cursor) Position() EventID {
	if p, err := c.Load(); err == nil {
		return p
	}
	return c.last.Load()
}

// Commit records that every id below id is consumed: the position becomes id. It is
// monotonic: an id below the position is a *CursorBackwardError (ErrCursorBackward) and
// changes nothing, the same id is a no-op. It is crash-atomic: after a SIGKILL at any
// instruction the position is the last committed one, after a power loss one committed
// at or after the last Log.Sync, never torn. About 80 ns: no lock, no system call.
func (c *Cursor) Commit(id EventID) error {
	l := c.l
	if l.closed.Load() {
		return ErrClosed
	}
	if err := c.e.Commit(id); err != nil { // ErrClosed once Close has closed the table
		return cursorErr(err)
	}
	if !l.cursors.dirty.Load() {
		l.cursors.dirty.Store(true)
	}
	return nil
}

// Follow returns an iterator over the events from the cursor's position on that blocks
// at the tail, as Log.Follow does. It does not commit: the caller commits what it has
// processed (Commit(id+1) after event id). If events at the cursor's position are gone
// (removed by retention, or by a delete, before the cursor consumed them), the iterator
// yields nothing and its Err is a *CursorBehindError (ErrCursorBehind) naming the oldest
// id still there, instead of a silent jump.
func (c *Cursor) Follow(ctx context.Context) *Iterator {
	p, err := c.Load()
	it := c.l.Follow(ctx, p)
	if err == nil {
		err = c.l.checkBehind(c.Name(), p)
	}
	if err != nil {
		it.err, it.finished = err, true
	}
	return it
}

// checkBehind reports a *CursorBehindError when position p of cursor name lies below the
// oldest event of the log (NextEventID when it is empty): those events are gone.
func (l *Log) checkBehind(name string, p EventID) error {
	if err := l.rlock(); err != nil {
		return err
	}
	v := l.loadView()
	l.segMu.RUnlock()
	oldest := v.next
	if v.live > 0 {
		oldest = v.oldest
	}
	if p < oldest {
		return &CursorBehindError{Name: name, Position: p, Oldest: oldest}
	}
	return nil
}

// minCursorPosition returns the lowest committed position of the log's cursors, and
// false when there is no cursor. A cursor table that cannot be read yields position 0
// (keep everything: interest retention never removes what it cannot prove consumed).
func (l *Log) minCursorPosition() (EventID, bool) {
	if err := l.rlock(); err != nil {
		return 0, true
	}
	defer l.segMu.RUnlock()
	tab, err := l.cursorTable(false)
	if err != nil {
		return 0, true
	}
	if tab == nil {
		return 0, false
	}
	list, err := tab.List()
	if err != nil {
		return 0, true
	}
	if len(list) == 0 {
		return 0, false
	}
	low := list[0].Position
	for _, in := range list[1:] {
		low = min(low, in.Position)
	}
	return low, true
}

// Cursors lists every cursor of the log with its position and lag, in table order; an
// empty list when no cursor was ever created. A damaged entry is a *CorruptError.
func (l *Log) Cursors() ([]CursorInfo, error) {
	if err := l.rlock(); err != nil {
		return nil, err
	}
	defer l.segMu.RUnlock()
	tab, err := l.cursorTable(false)
	if tab == nil || err != nil {
		return nil, err
	}
	list, err := tab.List()
	if err != nil {
		return nil, cursorErr(err)
	}
	next := l.loadView().next
	out := make([]CursorInfo, len(list))
	for i, in := range list {
		out[i] = CursorInfo{Name: in.Name, Position: in.Position}
		if next > in.Position {
			out[i].Lag = next - in.Position
		}
	}
	return out, nil
}

// DeleteCursor removes the cursor called name: ErrNoCursor if there is none, ErrReadOnly
// through a read-only handle. Cursors open on it, in any process, get ErrNoCursor from
// their Commit and Load afterwards; a later Cursor(name) creates a new one. Durable when
// DeleteCursor returns.
func (l *Log) DeleteCursor(name string) error {
	if err := l.rlock(); err != nil {
		return err
	}
	defer l.segMu.RUnlock()
	if l.opts.readOnly {
		return ErrReadOnly
	}
	tab, err := l.cursorTable(false)
	if err != nil {
		return err
	}
	if tab == nil {
		if err := cursortable.CheckName(name); err != nil {
			return err
		}
		return fmt.Errorf("%w: %q", ErrNoCursor, name)
	}
	return cursorErr(tab.Delete(name))
}

// syncCursors msyncs the cursor table when this handle has it open (Log.Sync: every
// commit of any process made before the call survives power loss).
func (l *Log) syncCursors() error {
	if err := l.rlock(); err != nil {
		return err
	}
	defer l.segMu.RUnlock()
	s := &l.cursors
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tab == nil {
		return nil
	}
	s.dirty.Store(false)
	return cursorErr(s.tab.Sync())
}

// flushCursors is the syncCursors of Sync and Close: only when a Cursor of this handle
// committed since the last one (so a durable append of a handle with cursors is still one
// flush when no cursor moved).
func (l *Log) flushCursors() error {
	if l.opts.readOnly || !l.cursors.dirty.Load() {
		return nil
	}
	return l.syncCursors()
}

// closeCursors closes the cursor table (release; the caller holds segMu). Cursors take
// no lock against it: the table's mapping stays until they are unreachable, and a
// Cursor call after Close returns ErrClosed (cursortable.Table.Close).
func (l *Log) closeCursors() {
	s := &l.cursors
	s.mu.Lock()
	if s.tab != nil {
		_ = s.tab.Close()
		s.tab = nil
	}
	s.mu.Unlock()
}
