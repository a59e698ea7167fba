package cursortable

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// Entry is one open cursor of a Table. Position and Commit take no lock and make no
// system call. It is safe for concurrent use; several Entries, in one process or in
// several, may stand for one cursor.
type Entry struct {
	t       *Table
	r       *rawEntry
	slot    int
	name    string
	nameCRC uint32 // identity of the cursor this Entry was opened on (slot, epoch, name)

	// The copy this Entry committed last, used only while it holds the entry (the CAS
	// on ctl orders these fields between holders): when ctl's gen is still mine, the
	// current copy is the one written, and Commit skips re-validating it.
	mineOK  bool
	mineGen uint32
	minePos uint64
}

// Name returns the cursor's name.
func (e *Entry) Name() string { return e.name }

// Offset returns the byte offset of the entry in the file.
func (e *Entry) Offset() int64 { return entryOffset(e.slot) }

// Position returns the committed position, lock-free: a seqlock read of the copy that
// ctl's gen selects (gen unchanged across the read, the copy's seq equal to gen and its
// CRC valid). A copy that fails with a stable gen (power loss, damage) falls back to
// the other copy when it is valid; both bad is a *CorruptError.
func (e *Entry) Position() (uint64, error) {
	if e.t.closed.Load() {
		return 0, ErrClosed
	}
	r := e.r
	for {
		if atomic.LoadUint32(&r.nameCRC) != e.nameCRC {
			return 0, fmt.Errorf("%w: %q (deleted)", ErrNoCursor, e.name)
		}
		g := uint32(atomic.LoadUint64(&r.ctl) >> 32)
		seq, pos, ok := r.loadCopy(g, e.nameCRC)
		if uint32(atomic.LoadUint64(&r.ctl)>>32) != g {
			continue // a commit moved on meanwhile
		}
		if ok && seq == g {
			return pos, nil
		}
		// A stable gen whose copy fails: power loss or damage (a committer repairing it
		// rewrites the selected slot, and best still returns the committed position).
		_, pos, err := e.best()
		return pos, err
	}
}

// best returns the valid copy with the later seq (serial order: seqs wrap at 2^32), or
// a *CorruptError when neither copy is valid.
func (e *Entry) best() (seq uint32, pos uint64, err error) {
	found := false
	for i := range uint32(2) {
		s, p, ok := e.r.loadCopy(i, e.nameCRC)
		if ok && (!found || int32(s-seq) > 0) {
			seq, pos, found = s, p, true
		}
	}
	if !found {
		return 0, 0, corrupt(e.t.path, e.Offset()+entCopy0Off, fmt.Sprintf("cursor %q: both position copies fail their checksum", e.name))
	}
	return seq, pos, nil
}

// Commit records pos as the cursor's position. It is monotonic: a pos below the
// committed one is a *BackwardError (ErrBackward) and changes nothing; an equal one is
// a no-op. The protocol (docs/FORMAT.md §13): take ctl's owner bits by CAS (0 -> this
// process's token, gen kept); check the entry is still this cursor; write the copy gen
// does not select (seq gen+1, pos, CRC); store ctl = (gen+1, no owner), which publishes
// the copy and frees the entry in one atomic store. A committer killed at any step
// leaves gen on the previous copy; the next committer finds the dead owner's token and
// takes the entry over. No system call, no allocation on this path.
func (e *Entry) Commit(pos uint64) error {
	if e.t.readOnly {
		return ErrReadOnly
	}
	if e.t.closed.Load() {
		return ErrClosed
	}
	r := e.r
	g := acquire(r)
	if atomic.LoadUint32(&r.nameCRC) != e.nameCRC {
		release(r, g)
		return fmt.Errorf("%w: %q (deleted)", ErrNoCursor, e.name)
	}
	seq, cur, ok := g, uint64(0), false
	if cacheMine && e.mineOK && e.mineGen == g {
		cur, ok = e.minePos, true
	} else {
		seq, cur, ok = r.loadCopy(g, e.nameCRC)
	}
	if !ok || seq != g {
		// The selected copy is torn (power loss) or damaged: go on from the best copy,
		// writing the other one.
		var err error
		if seq, cur, err = e.best(); err != nil {
			release(r, g)
			return err
		}
	}
	if pos <= cur {
		release(r, g)
		if pos == cur {
			return nil
		}
		return &BackwardError{Name: e.name, Committed: cur, Got: pos}
	}
	r.storeCopy(seq+1, pos, e.nameCRC)
	if cacheMine {
		e.mineOK, e.mineGen, e.minePos = true, seq+1, pos
	}
	release(r, seq+1)
	return nil
}

// ownerToken identifies this process in ctl's owner bits (owner_*.go); never 0.
var ownerToken = selfToken()

// acquire takes ctl's owner bits and returns gen. A holder that is alive (it holds the
// entry for a few stores) is waited for; one that died (its token names no live
// process) is taken over: its half-done commit was never acknowledged, and the copy it
// was writing is rewritten whole before gen selects it.
func acquire(r *rawEntry) uint32 {
	c := atomic.LoadUint64(&r.ctl)
	if c&ownerMask == 0 && atomic.CompareAndSwapUint64(&r.ctl, c, c|ownerToken) {
		return uint32(c >> 32)
	}
	return acquireSlow(r)
}

func acquireSlow(r *rawEntry) uint32 {
	var since time.Time
	for i := 1; ; i++ {
		c := atomic.LoadUint64(&r.ctl)
		if c&ownerMask == 0 {
			if atomic.CompareAndSwapUint64(&r.ctl, c, c|ownerToken) {
				return uint32(c >> 32)
			}
			continue
		}
		if i < 64 {
			runtime.Gosched()
			continue
		}
		if since.IsZero() {
			since = time.Now()
		}
		// Check the holder's liveness now and then (a system call; only here).
		if i%64 == 0 && !tokenAlive(c&ownerMask) {
			if atomic.CompareAndSwapUint64(&r.ctl, c, c&^ownerMask|ownerToken) {
				return uint32(c >> 32)
			}
			continue
		}
		if time.Since(since) > time.Millisecond {
			time.Sleep(50 * time.Microsecond)
		} else {
			runtime.Gosched()
		}
	}
}

// release frees the entry taken by acquire, publishing gen (only a taker-over of a dead
// token changes the owner bits of a held ctl, and this process is alive: it is ours).
func release(r *rawEntry, gen uint32) { atomic.StoreUint64(&r.ctl, uint64(gen)<<32) }
