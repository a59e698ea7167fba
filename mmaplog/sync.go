package mmaplog

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringlog/ringlog/ringindex"
)

// SyncPolicy says when appended events are made durable (survive power loss).
type SyncPolicy int

const (
	// SyncNever (the default) flushes only when Sync is called. An acknowledged append
	// survives a crash of the process (its bytes are in the shared page cache) but not a
	// power loss until the next Sync.
	SyncNever SyncPolicy = iota
	// SyncAlways makes every append return only once its bytes are durable. Concurrent
	// appenders of one handle share one flush (group commit).
	SyncAlways
	// SyncInterval flushes in the background every Options.SyncEvery.
	SyncInterval
)

// String names the policy.
func (p SyncPolicy) String() string {
	switch p {
	case SyncNever:
		return "SyncNever"
	case SyncAlways:
		return "SyncAlways"
	case SyncInterval:
		return "SyncInterval"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// groupCommitYields is how often a flush leader yields before it snapshots the state.
const groupCommitYields = 4

// DefaultSyncEvery is Options.SyncEvery when zero under SyncInterval.
const DefaultSyncEvery = 100 * time.Millisecond

// syncer runs group commits: one flush at a time per handle; callers that arrive while a
// flush runs wait for the next one, which covers them all.
type syncer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	durable uint64 // every commit generation <= durable is durable
	err     error  // error of the last flush, for the callers it covered
	done    chan struct{}
	wg      sync.WaitGroup
	stop    sync.Once
	flushes atomic.Uint64 // flushes started, numbering them for syncTraceHook
}

// Sync makes every event appended before the call survive power loss: it flushes the
// segment ranges and index slots written since the recovery point, then commits the new
// recovery point and flushes the meta state (data and index first, meta last). Concurrent
// calls share flushes.
func (l *Log) Sync() error {
	if l.closed.Load() {
		return ErrClosed
	}
	if l.opts.readOnly {
		return ErrReadOnly
	}
	if err := l.rlock(); err != nil {
		return err
	}
	gen := l.loadView().gen
	l.segMu.RUnlock()
	if err := l.syncThrough(gen); err != nil {
		return err
	}
	return l.syncCursors() // cursor commits made before the call (cursor.go)
}

// syncThrough returns once commit generation gen is durable.
func (l *Log) syncThrough(gen uint64) error {
	s := &l.sy
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.durable >= gen && s.durable != 0 {
			return nil
		}
		if !s.running {
			break
		}
		s.cond.Wait()
	}
	// Lead a flush; it covers every commit up to the moment it snapshots the state. Let
	// the appenders just woken by the previous flush commit first, so this one covers
	// them too (group commit).
	s.running = true
	s.mu.Unlock()
	for range groupCommitYields {
		runtime.Gosched()
	}
	covered, err := l.flush()
	s.mu.Lock()
	s.running = false
	if err == nil && covered > s.durable {
		s.durable = covered
	}
	s.cond.Broadcast()
	if err != nil {
		return err
	}
	if covered < gen {
		return fmt.Errorf("mmaplog: sync covered generation %d, want %d", covered, gen)
	}
	return nil
}

// syncStep names a point of a flush, for the ordering test's trace.
type syncStep int

const (
	syncDataStart    syncStep = iota // the state is snapshotted, the data msyncs start
	syncSegmentsDone                 // the segment msyncs returned
	syncIndexDone                    // the index msync returned
	syncMetaStart                    // the meta msync is about to be issued
	syncMetaDone                     // the meta msync returned
)

// syncTraceHook, when set (tests only, before Open), is called at each syncStep of every
// flush with the flush's number (1, 2, ... per handle). It must be safe for concurrent use.
var syncTraceHook func(flush uint64, step syncStep)

// syncTrace reports step of flush to syncTraceHook, if set.
func syncTrace(flush uint64, step syncStep) {
	if syncTraceHook != nil {
		syncTraceHook(flush, step)
	}
}

// flushPlan is what one flush writes back, snapshotted under the writer lock.
type flushPlan struct {
	seq      uint64 // this flush's number, for syncTraceHook
	gen      uint64 // commit generation the snapshot was taken at
	next     EventID
	truncs   uint64 // suffix deletes so far; a flush raced by one does not move the recovery point
	from     EventID
	idxFrom  EventID // lowest slot to flush: from, or lower when tombstones changed synced slots
	dirtyLow EventID
	segs     []uint64
	startOff uint64
	endOff   uint64
	active   uint64
}

// flush writes back everything committed so far and returns the generation it covers.
// The writer lock is held only to snapshot the state and to commit the recovery point;
// the msyncs run without it, so appenders go on meanwhile.
func (l *Log) flush() (uint64, error) {
	w, err := l.begin()
	if err != nil {
		return 0, err
	}
	st := w.st
	plan := flushPlan{seq: l.sy.flushes.Add(1), gen: st.gen, next: st.next, truncs: st.truncs, from: st.syncedNext, active: st.activeSeq, endOff: st.writeOff, dirtyLow: st.dirtyLow}
	var pinned []*segment
	unpin := func() {
		for _, s := range pinned {
			l.releaseSegment(s.seq)
		}
	}
	if st.live > 0 && plan.from < st.oldest {
		plan.from = st.oldest
	}
	idx := w.idx
	if st.live > 0 && plan.from < st.next {
		startSeq := st.firstSeq
		if slot := idx.Load(plan.from); !slot.IsZero() && !slot.Tombstoned() {
			startSeq, plan.startOff = w.slotSeq(slot), slot.Offset()
		}
		for seq := startSeq; seq <= st.activeSeq; seq++ {
			s, err := l.acquireSegment(seq)
			if err != nil {
				if errors.Is(err, errSegmentGone) {
					continue // a hole left by a delete
				}
				w.abort()
				unpin()
				return 0, err
			}
			pinned = append(pinned, s)
		}
	}
	plan.idxFrom = plan.from
	if st.dirtyLow < st.syncedNext {
		plan.idxFrom = max(st.dirtyLow, st.oldest)
	}
	l.unflushed.Store(false) // this flush covers every commit so far; set again on error
	w.abort()                // nothing to commit yet
	defer unpin()
	if err := l.syncData(&plan, pinned, idx); err != nil {
		l.markUnflushed()
		return 0, err
	}
	covered, err := l.commitPoint(&plan)
	if err != nil {
		l.markUnflushed()
	}
	return covered, err
}

// syncData writes back the segment ranges and the index slots of plan. The two are
// independent files, so the index msync runs on another goroutine while this one msyncs
// the segments: the device sees both write-backs at once, and the kernel may join them
// in one journal commit. It returns once both are complete, the first error if any.
func (l *Log) syncData(plan *flushPlan, pinned []*segment, idx *ringindex.Index) error {
	syncTrace(plan.seq, syncDataStart)
	var idxErr chan error
	if plan.idxFrom >= plan.next {
		syncTrace(plan.seq, syncIndexDone) // nothing to write back
	} else {
		idxErr = make(chan error, 1)
		go func() {
			err := idx.SyncRange(plan.idxFrom, plan.next)
			syncTrace(plan.seq, syncIndexDone)
			idxErr <- err
		}()
	}
	var err error
	for i, s := range pinned {
		lo, hi := uint64(0), l.opts.segmentSize
		if i == 0 {
			lo = plan.startOff &^ 4095
		}
		if s.seq == plan.active {
			hi = plan.endOff
		}
		if hi > lo {
			if e := msync(s.data[lo:hi]); e != nil {
				err = fmt.Errorf("mmaplog: sync segment %d: %w", s.seq, e)
				break
			}
		}
	}
	syncTrace(plan.seq, syncSegmentsDone)
	if idxErr != nil {
		// Wait even after a segment error: the goroutine reads the pinned index.
		if e := <-idxErr; e != nil && err == nil {
			err = fmt.Errorf("mmaplog: sync index: %w", e)
		}
	}
	return err
}

// commitPoint commits plan's recovery point, then writes the meta page back, and returns
// the generation covered. Its caller has made plan's data and index durable first.
func (l *Log) commitPoint(plan *flushPlan) (uint64, error) {
	w, err := l.begin()
	if err != nil {
		return 0, err
	}
	if w.st.truncs == plan.truncs && w.st.syncedNext <= plan.next && plan.next <= w.st.next &&
		(w.st.syncedNext < plan.next || w.st.dirtyLow < w.st.syncedNext) {
		w.st.syncedNext = plan.next
		if w.st.dirtyLow == plan.dirtyLow {
			w.st.dirtyLow = plan.next // the tombstones seen by the snapshot are flushed
		}
		w.commit()
	}
	covered := plan.gen
	w.end()
	syncTrace(plan.seq, syncMetaStart)
	if err := msync(l.meta[:metaSize]); err != nil {
		return 0, fmt.Errorf("mmaplog: sync meta: %w", err)
	}
	syncTrace(plan.seq, syncMetaDone)
	return covered, nil
}

// startSyncer starts the background flusher of SyncInterval.
func (l *Log) startSyncer() {
	s := &l.sy
	s.done = make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(l.opts.syncEvery)
		defer t.Stop()
		var last uint64
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
			}
			if l.rlock() != nil {
				return
			}
			gen := l.loadView().gen
			l.segMu.RUnlock()
			if gen != last {
				if l.syncThrough(gen) == nil {
					last = gen
				}
			}
		}
	}()
}

func (l *Log) stopSyncer() {
	l.sy.stop.Do(func() {
		if l.sy.done != nil {
			close(l.sy.done)
			l.sy.wg.Wait()
		}
	})
}
