package modelcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ringlog/ringlog/mmaplog"
)

// Capacity is the number of cursors a table holds (docs/FORMAT.md section 13).
const Capacity = 256

// View is what the cursor and retention checks need of a test's model of the log.
type View struct {
	// Low is the oldest live id, NextEventID on an empty log; Next is NextEventID.
	Low, Next uint64
	// Live returns the live ids in [s, e) in order; Bytes the bytes of a live id.
	Live  func(s, e uint64) []uint64
	Bytes func(id uint64) []byte
	// IsLive reports whether id is live.
	IsLive func(id uint64) bool
	// Count is the number of live events.
	Count int
}

// Cursors is the model of a log's cursor table.
type Cursors struct {
	slots [Capacity]string // the name in each table slot, "" when free
	cur   map[string]*cursor
	inc   int // incarnations handed out
	// file is the content of the table as last made durable (nil: none yet), for
	// CrashImage.
	file []byte
}

type cursor struct {
	pos uint64
	inc int // which creation of the name this is
	// since are the positions a power loss may leave: the durable one first, then every
	// one committed after it.
	since []uint64
}

// Held is a *mmaplog.Cursor a test keeps across operations, with what the model expects
// of it.
type Held struct {
	C    *mmaplog.Cursor
	Name string
	inc  int
	last uint64 // the last position C read intact (what Position returns after a failure)
	// Closed is set by the test when the Cursor's Log was closed.
	Closed bool
}

// Names are cursor names for tests to pick from: the first NamesValid are valid, the rest
// are not (ErrCursorName).
var Names = []string{"c0", "c1", "c2", "orders.v1-x_Y", "", "a b", strings.Repeat("n", 65), "x/y"}

// NamesValid is the number of valid names at the start of Names.
const NamesValid = 4

// NewCursors returns the model of a log without cursors.
func NewCursors() *Cursors { return &Cursors{cur: map[string]*cursor{}} }

// ValidName reports whether name is a valid cursor name: 1..64 bytes of A-Z a-z 0-9 . _ -.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Len returns the number of cursors.
func (m *Cursors) Len() int { return len(m.cur) }

// Position returns the committed position of name, and whether it exists.
func (m *Cursors) Position(name string) (uint64, bool) {
	c, ok := m.cur[name]
	if !ok {
		return 0, false
	}
	return c.pos, true
}

// Lowest returns the lowest committed position and a cursor at it, false when there is
// no cursor.
func (m *Cursors) Lowest() (uint64, bool) {
	_, low, any := m.LowestCursor()
	return low, any
}

// LowestCursor returns the first cursor in table order at the lowest committed position,
// that position, and false when there is no cursor.
func (m *Cursors) LowestCursor() (string, uint64, bool) {
	name, low := "", uint64(0)
	for _, n := range m.slots {
		if c, ok := m.cur[n]; ok && (name == "" || c.pos < low) {
			name, low = n, c.pos
		}
	}
	return name, low, name != ""
}

func (m *Cursors) valid(h *Held) bool {
	c, ok := m.cur[h.Name]
	return ok && c.inc == h.inc
}

// Open runs l.Cursor(name) and checks it: ErrCursorName for an invalid name, the
// committed position for an existing cursor, else a new cursor at v.Low in the first free
// slot (ErrCursorTableFull when there is none). dir is the log's directory: a creation is
// durable, so the table file is remembered for CrashImage. The Held is nil on an error.
func (m *Cursors) Open(l *mmaplog.Log, dir, name string, v View) (*Held, error) {
	c, err := l.Cursor(name)
	var want error
	free := slices.Index(m.slots[:], "")
	switch _, exists := m.cur[name]; {
	case !ValidName(name):
		want = mmaplog.ErrCursorName
	case !exists && free < 0:
		want = mmaplog.ErrCursorTableFull
	}
	if want != nil {
		if !errors.Is(err, want) || c != nil {
			return nil, fmt.Errorf("Cursor(%q) = %v, %v; want %v", name, c, err, want)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Cursor(%q): %v", name, err)
	}
	mc, exists := m.cur[name]
	if !exists {
		m.inc++
		mc = &cursor{pos: v.Low, inc: m.inc, since: []uint64{v.Low}}
		m.cur[name] = mc
		m.slots[free] = name
		if err := m.snapshot(dir); err != nil {
			return nil, err
		}
	}
	if c.Name() != name || c.Position() != mc.pos {
		return nil, fmt.Errorf("Cursor(%q) (exists %v) = %q at %d, want position %d", name, exists, c.Name(), c.Position(), mc.pos)
	}
	return &Held{C: c, Name: name, inc: mc.inc, last: mc.pos}, nil
}

// Commit runs h.C.Commit(id) and checks it: ErrClosed, ErrNoCursor for a deleted
// cursor, a *CursorBackwardError below the position, nil (and no change) at it, nil (and
// the new position) above it, however far beyond NextEventID.
func (m *Cursors) Commit(h *Held, id uint64) error {
	err := h.C.Commit(id)
	switch {
	case h.Closed:
		return wantIs(err, mmaplog.ErrClosed, "Commit(%d) on a closed log", id)
	case !m.valid(h):
		return wantIs(err, mmaplog.ErrNoCursor, "Commit(%d) of deleted cursor %q", id, h.Name)
	}
	c := m.cur[h.Name]
	if id < c.pos {
		var be *mmaplog.CursorBackwardError
		if !errors.Is(err, mmaplog.ErrCursorBackward) || !errors.As(err, &be) || be.Name != h.Name || be.Committed != c.pos || be.Got != id {
			return fmt.Errorf("Commit(%d) of %q at %d = %v, want a CursorBackwardError{%q %d %d}", id, h.Name, c.pos, err, h.Name, c.pos, id)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("Commit(%d) of %q at %d: %v", id, h.Name, c.pos, err)
	}
	if id > c.pos {
		c.pos = id
		c.since = append(c.since, id)
	}
	return nil
}

// CatchUp moves every cursor named in Names whose position is below x to x plus
// jitter() (at most v.Next), opening each on l, as consumers that caught up part of the
// way; it returns the cursors it opened.
func (m *Cursors) CatchUp(l *mmaplog.Log, dir string, x uint64, v View, jitter func() uint64) ([]*Held, error) {
	var hs []*Held
	for _, name := range Names[:NamesValid] {
		if c, ok := m.cur[name]; !ok || c.pos >= x {
			continue
		}
		h, err := m.Open(l, dir, name, v)
		if err != nil {
			return nil, err
		}
		if err := m.Commit(h, min(v.Next, x+jitter())); err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// Load runs h.C.Load and h.C.Position and checks them: the committed position, or
// ErrClosed / ErrNoCursor with Position returning the last position h read.
func (m *Cursors) Load(h *Held) error {
	p, err := h.C.Load()
	switch {
	case h.Closed:
		err = wantIs(err, mmaplog.ErrClosed, "Load on a closed log")
	case !m.valid(h):
		err = wantIs(err, mmaplog.ErrNoCursor, "Load of deleted cursor %q", h.Name)
	default:
		if want := m.cur[h.Name].pos; err != nil || p != want {
			return fmt.Errorf("Load of %q = %d, %v; want %d", h.Name, p, err, want)
		}
		h.last = p
	}
	if err != nil {
		return err
	}
	if got := h.C.Position(); got != h.last {
		return fmt.Errorf("Position of %q = %d, want %d (closed %v, deleted %v)", h.Name, got, h.last, h.Closed, !m.valid(h))
	}
	return nil
}

// List runs l.Cursors and checks it against the table order, the positions and the lags.
func (m *Cursors) List(l *mmaplog.Log, next uint64) error {
	got, err := l.Cursors()
	if err != nil {
		return fmt.Errorf("Cursors: %v", err)
	}
	var want []mmaplog.CursorInfo
	for _, name := range m.slots {
		if name == "" {
			continue
		}
		in := mmaplog.CursorInfo{Name: name, Position: m.cur[name].pos}
		if next > in.Position {
			in.Lag = next - in.Position
		}
		want = append(want, in)
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("Cursors = %+v, want %+v", got, want)
	}
	return nil
}

// Delete runs l.DeleteCursor(name) and checks it: ErrCursorName, ErrNoCursor for a name
// that is not there, else nil and the slot is free (a durable change: see Open).
func (m *Cursors) Delete(l *mmaplog.Log, dir, name string) error {
	err := l.DeleteCursor(name)
	switch _, ok := m.cur[name]; {
	case !ValidName(name):
		return wantIs(err, mmaplog.ErrCursorName, "DeleteCursor(%q)", name)
	case !ok:
		return wantIs(err, mmaplog.ErrNoCursor, "DeleteCursor(%q) of a missing cursor", name)
	case err != nil:
		return fmt.Errorf("DeleteCursor(%q): %v", name, err)
	}
	delete(m.cur, name)
	m.slots[slices.Index(m.slots[:], name)] = ""
	return m.snapshot(dir)
}

// Read runs h.C.Follow with a context already cancelled (it yields what is there and
// does not block at the tail), reads at most max events (0: all) and checks them against
// v: the live events from the position on with their bytes, then context.Canceled at the
// tail, or nil after an early Close. A position below v.Low yields nothing and a
// *CursorBehindError naming v.Low. With commit set, it then commits what it read (or,
// behind, v.Low: moving on knowingly), as a consumer does.
func (m *Cursors) Read(h *Held, max int, commit bool, v View) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	it := h.C.Follow(ctx)
	defer it.Close()
	switch {
	case h.Closed:
		return wantEnd(it, mmaplog.ErrClosed, "Follow on a closed log")
	case !m.valid(h):
		return wantEnd(it, mmaplog.ErrNoCursor, "Follow of deleted cursor %q", h.Name)
	}
	pos := m.cur[h.Name].pos
	h.last = pos // Follow loaded it
	if pos < v.Low {
		var be *mmaplog.CursorBehindError
		if it.Next() || !errors.As(it.Err(), &be) || !errors.Is(it.Err(), mmaplog.ErrCursorBehind) ||
			be.Name != h.Name || be.Position != pos || be.Oldest != v.Low {
			return fmt.Errorf("Follow of %q at %d below oldest %d: %v, want a CursorBehindError", h.Name, pos, v.Low, it.Err())
		}
		if commit {
			return m.Commit(h, v.Low)
		}
		return nil
	}
	want := v.Live(pos, v.Next)
	n := 0
	for (max == 0 || n < max) && it.Next() {
		if n >= len(want) || it.ID() != want[n] || !bytes.Equal(it.Value(), v.Bytes(want[n])) {
			return fmt.Errorf("Follow of %q from %d: event %d is id %d (%d bytes), want %d live ids %v", h.Name, pos, n, it.ID(), len(it.Value()), len(want), clip(want))
		}
		n++
	}
	if n < len(want) {
		if max == 0 || n < max {
			return fmt.Errorf("Follow of %q from %d stopped after %d of %d events: %v", h.Name, pos, n, len(want), it.Err())
		}
		if err := it.Close(); err != nil || it.Next() || it.Err() != nil {
			return fmt.Errorf("Follow of %q: Close = %v, then Err %v", h.Name, err, it.Err())
		}
	} else if it.Next() || !errors.Is(it.Err(), context.Canceled) {
		return fmt.Errorf("Follow of %q from %d at the tail: %v, want context.Canceled", h.Name, pos, it.Err())
	}
	if commit && n > 0 {
		return m.Commit(h, want[n-1]+1)
	}
	return nil
}

func clip(ids []uint64) []uint64 { return ids[:min(len(ids), 8)] }

func wantIs(err, want error, format string, args ...any) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: %v, want %v", fmt.Sprintf(format, args...), err, want)
	}
	return nil
}

func wantEnd(it *mmaplog.Iterator, want error, format string, args ...any) error {
	if it.Next() {
		return fmt.Errorf("%s: yielded id %d", fmt.Sprintf(format, args...), it.ID())
	}
	return wantIs(it.Err(), want, format, args...)
}

// Durable records that every commit so far survives a power loss (a Log.Sync of a
// handle with the table open, or the Close of the handle whose cursors committed) and
// remembers the table file of dir as it is now.
func (m *Cursors) Durable(dir string) error {
	for _, c := range m.cur {
		c.since = []uint64{c.pos}
	}
	return m.snapshot(dir)
}

func (m *Cursors) snapshot(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cursors"))
	if errors.Is(err, os.ErrNotExist) {
		m.file = nil
		return nil
	}
	m.file = b
	return err
}

// CrashImage makes the cursor table of img, a power-loss image of the log
// (mmaplog.CrashImage: every page as it was), one that a power loss may also leave: each
// page, chosen by the bits of pick, is replaced by the page last made durable, as if the
// kernel had not written it back since.
func (m *Cursors) CrashImage(img string, pick uint64) error {
	if m.file == nil {
		return nil
	}
	path := filepath.Join(img, "cursors")
	b, err := os.ReadFile(path)
	if err != nil || len(b) != len(m.file) {
		return fmt.Errorf("cursor table of the image: %d bytes, %v; %d durable", len(b), err, len(m.file))
	}
	for p := 0; p*4096 < len(b); p++ {
		if pick>>(p%64)&1 != 0 {
			copy(b[p*4096:], m.file[p*4096:min(len(b), (p+1)*4096)])
		}
	}
	return os.WriteFile(path, b, 0o640)
}

// AfterCrash checks l, opened on a power-loss image, against the model: the same
// cursors in the same slots, each at a position some Commit wrote at or after the last
// durable one (docs/FORMAT.md section 13: "never torn, never zero", no later than the
// last commit). The model then takes the positions found, which are the durable ones
// from here on.
func (m *Cursors) AfterCrash(l *mmaplog.Log, dir string) error {
	got, err := l.Cursors()
	if err != nil {
		return fmt.Errorf("Cursors after the reboot: %v", err)
	}
	var names []string
	for _, in := range got {
		names = append(names, in.Name)
		c, ok := m.cur[in.Name]
		if !ok {
			return fmt.Errorf("after the reboot: cursor %q that the model does not have", in.Name)
		}
		if !slices.Contains(c.since, in.Position) {
			return fmt.Errorf("after the reboot: cursor %q at %d, want one of %v (the durable position and later commits)", in.Name, in.Position, c.since)
		}
		c.pos = in.Position
	}
	var want []string
	for _, n := range m.slots {
		if n != "" {
			want = append(want, n)
		}
	}
	if !slices.Equal(names, want) {
		return fmt.Errorf("after the reboot: cursors %v, want %v", names, want)
	}
	return m.Durable(dir)
}
