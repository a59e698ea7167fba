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
}

// Name returns the cursor's name.
func (e *Entry) Name() string { return e.name }

// Offset returns the byte offset of the entry in the file.
func (e *Entry) Offset() int64 { return entryOffset(e.slot) }

// Position returns the committed position, lock-free: a seqlock read of the copy the
// generation word selects (gen unchanged across the read, the copy's seq equal to gen
// and its CRC valid). A copy that fails with a stable generation (power loss, damage)
// falls back to the other copy when it is valid; both bad is a *CorruptError.
func (e *Entry) Position() (uint64, error) {
	r := e.r
	for {
		if atomic.LoadUint32(&r.nameCRC) != e.nameCRC {
			return 0, fmt.Errorf("%w: %q (deleted)", ErrNoCursor, e.name)
		}
		g1 := atomic.LoadUint64(&r.gen)
		sp, pp, cp := r.copyPtrs(g1)
		seq, pos, crc := atomic.LoadUint64(sp), atomic.LoadUint64(pp), atomic.LoadUint32(cp)
		if atomic.LoadUint64(&r.gen) != g1 {
			continue // a commit moved on meanwhile
		}
		if seq == g1 && crc == copyCRC(seq, pos, e.nameCRC) {
			return pos, nil
		}
		// A stable gen whose copy fails: power loss or damage (a committer repairing
		// it writes the selected slot, and best still returns the committed position).
		_, pos, err := e.best()
		return pos, err
	}
}

// best returns the valid copy with the highest seq (a valid copy sits in the slot its
// seq selects and passes its CRC), or a *CorruptError when neither does.
func (e *Entry) best() (seq, pos uint64, err error) {
	found := false
	for i := range uint64(2) {
		sp, pp, cp := e.r.copyPtrs(i)
		s, p, c := atomic.LoadUint64(sp), atomic.LoadUint64(pp), atomic.LoadUint32(cp)
		if s&1 == i && c == copyCRC(s, p, e.nameCRC) && (!found || s > seq) {
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
// a no-op. The protocol (docs/FORMAT.md §13): take the entry's lock word by CAS 0 ->
// owner token; check the entry is still this cursor; write the copy that gen does not
// select (seq = gen+1, pos, CRC); store gen = seq (the commit point: one atomic word);
// store lock = 0. A committer killed at any step leaves gen on the previous copy, or on
// the complete new one; the next committer finds the dead owner's token and takes the
// lock over. No system call, no allocation on this path.
func (e *Entry) Commit(pos uint64) error {
	if e.t.readOnly {
		return ErrReadOnly
	}
	r := e.r
	tok := acquire(r)
	if atomic.LoadUint32(&r.nameCRC) != e.nameCRC {
		release(r, tok)
		return fmt.Errorf("%w: %q (deleted)", ErrNoCursor, e.name)
	}
	g := atomic.LoadUint64(&r.gen)
	sp, pp, cp := r.copyPtrs(g)
	seq, cur, crc := atomic.LoadUint64(sp), atomic.LoadUint64(pp), atomic.LoadUint32(cp)
	if seq != g || crc != copyCRC(seq, cur, e.nameCRC) {
		// The selected copy is torn (power loss) or damaged: go on from the best copy,
		// writing the other one with a seq above both.
		var err error
		if seq, cur, err = e.best(); err != nil {
			release(r, tok)
			return err
		}
		if g < seq {
			g = seq
		}
		if (g+1)&1 == seq&1 {
			g++
		}
	}
	if pos <= cur {
		release(r, tok)
		if pos == cur {
			return nil
		}
		return &BackwardError{Name: e.name, Committed: cur, Got: pos}
	}
	n := g + 1
	sp, pp, cp = r.copyPtrs(n)
	atomic.StoreUint64(sp, n)
	atomic.StoreUint64(pp, pos)
	atomic.StoreUint32(cp, copyCRC(n, pos, e.nameCRC))
	atomic.StoreUint64(&r.gen, n)
	release(r, tok)
	return nil
}

// ownerToken identifies this process in lock words (owner_*.go).
var ownerToken = selfToken()

// acquire takes the entry's lock word and returns the token stored in it. A holder
// that is alive (it holds the word for a few stores) is waited for; one that died (its
// token names no live process) is taken over: its half-done commit was never
// acknowledged, and the copy it was writing is rewritten whole before gen selects it.
func acquire(r *rawEntry) uint64 {
	tok := ownerToken
	if atomic.CompareAndSwapUint64(&r.lock, 0, tok) {
		return tok
	}
	return acquireSlow(r, tok)
}

func acquireSlow(r *rawEntry, tok uint64) uint64 {
	var since time.Time
	for i := 0; ; i++ {
		cur := atomic.LoadUint64(&r.lock)
		if cur == 0 {
			if atomic.CompareAndSwapUint64(&r.lock, 0, tok) {
				return tok
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
		if i%64 == 0 && !tokenAlive(cur) {
			if atomic.CompareAndSwapUint64(&r.lock, cur, tok) {
				return tok
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

// release frees the lock word taken by acquire (only a taker-over of a dead token
// changes a held word, and this process is alive: the word is still ours).
func release(r *rawEntry, _ uint64) { atomic.StoreUint64(&r.lock, 0) }
