package mmaplog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	waiting int    // callers of syncThrough waiting for the flush that runs
	woken   int    // how many of them the last flush woke (group commit yields only then)
	durable uint64 // every commit generation <= durable is durable
	err     error  // error of the last flush, for the callers it covered
	done    chan struct{}
	wg      sync.WaitGroup
	stop    sync.Once
	flushes atomic.Uint64 // flushes started, numbering them for syncTraceHook

	wmu     sync.Mutex    // guards written (a flush and a background checkpoint may overlap)
	written writtenMark   // how far the active segment's blocks are known written
	ahead   atomic.Uint64 // flushes extended ahead of the records (flushEnd)
	// activity is odd while a group-commit flush of the handle runs (one runs at a time)
	// and moves with each start and end.
	activity atomic.Uint64

	pmu     sync.Mutex // guards mark and flushed (flushes and inline checkpoints update them)
	mark    shapeMark  // the shape of the state at this handle's last checkpoint
	flushed flushMark  // how far this handle's flushes made the records durable
	// dataOnly is set by a data-only flush and cleared by a checkpoint: Close then
	// checkpoints, so that a reboot after a clean Close has nothing to scan.
	dataOnly   atomic.Bool
	background atomic.Bool   // a background checkpoint is running
	shared     atomic.Uint64 // records-only flushes another handle's flush covered
	issued     atomic.Uint64 // flushes that wrote back records (Stats.Flushes)
}

// shapeMark is what a data-only flush relies on being unchanged since the last checkpoint:
// only appends happened since (no delete, no index switch), so every record after the
// recovery position belongs to a contiguous run of ids from syncedNext, and every index
// slot and count that recovery trusts is on disk.
type shapeMark struct {
	valid                                    bool
	oldest, dead, truncs, firstSeq, indexGen uint64
}

func markOf(st *state) shapeMark {
	return shapeMark{valid: true, oldest: st.oldest, dead: st.dead, truncs: st.truncs, firstSeq: st.firstSeq, indexGen: st.indexGen}
}

// flushMark records that the records of the ids below next, which end at pos, are durable
// (valid while no suffix delete rewrote the ids: truncs unchanged).
type flushMark struct {
	valid  bool
	next   EventID
	pos    ringindex.Slot
	truncs uint64
}

// advance records m if it is later than the current mark of the same truncs.
func (f *flushMark) advance(m flushMark) {
	if !f.valid || f.truncs != m.truncs || m.next >= f.next {
		*f = m
	}
}

// from returns where the records not yet known durable begin for state st: the handle's
// flush mark when it is still valid for st, the recovery point otherwise.
func (f *flushMark) from(st *state) (EventID, ringindex.Slot) {
	if f.valid && f.truncs == st.truncs && f.next >= st.syncedNext && f.next <= st.next {
		return f.next, f.pos
	}
	return st.syncedNext, st.syncedPos
}

// durableNext returns the id below which every event of st is durable as far as this
// handle knows: the recovery point, or later if a data-only flush of this handle covered
// more since (flushMark.from never returns less than the recovery point).
func (l *Log) durableNext(st *state) EventID {
	l.sy.pmu.Lock()
	defer l.sy.pmu.Unlock()
	next, _ := l.sy.flushed.from(st)
	return next
}

// Sync makes every event appended before the call survive power loss. When only appends
// happened since the last checkpoint it flushes just the records written since the last
// flush: one msync of the active segment's new bytes (one per segment the records span),
// nothing else; recovery after a reboot finds them by scanning forward from the recovery
// point (docs/FORMAT.md sections 5.6 and 6). After a delete or an index switch it runs a
// checkpoint instead: records, then index slots, then the new recovery point in the meta
// page. Concurrent calls share flushes.
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
	if !l.flushing.Load() {
		l.startFlushing()
	}
	if err := l.syncThrough(gen); err != nil {
		return err
	}
	return l.flushCursors() // this handle's cursor commits made before the call, if any (cursor.go)
}

// startFlushing marks the handle as one that flushes (at its first Sync) and advises the
// mappings of the segments it is about to write to fault single pages
// (segment.adviseSmallPages); later mappings get the advice from mapSegment.
func (l *Log) startFlushing() {
	l.segMu.Lock()
	defer l.segMu.Unlock()
	if l.flushing.Swap(true) {
		return
	}
	active := l.loadView().activeSeq
	for seq, s := range l.segs {
		if seq >= active {
			s.adviseSmallPages()
		}
	}
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
		s.waiting++
		s.cond.Wait()
		s.waiting--
	}
	// Lead a flush; it covers every commit up to the moment it snapshots the state. Let
	// the appenders just woken by the previous flush commit first, so this one covers
	// them too (group commit). A lone durable writer woke nobody: it does not yield,
	// since each yield with an idle P wakes a thread (a futex call) for nothing.
	s.running = true
	yield := s.woken > 0
	s.mu.Unlock()
	s.activity.Add(1) // the lock releaser counts a flush as use of the handle (holdlock.go)
	if yield {
		for range groupCommitYields {
			runtime.Gosched()
		}
	}
	covered, err := l.flush(false)
	s.activity.Add(1)
	s.mu.Lock()
	s.running = false
	if err == nil && covered > s.durable {
		s.durable = covered
	}
	s.woken = s.waiting
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
	seq        uint64 // this flush's number, for syncTraceHook
	checkpoint bool   // commit a new recovery point (else: records only)
	gen        uint64 // commit generation the snapshot was taken at
	next       EventID
	truncs     uint64  // suffix deletes so far; a flush raced by one does not move the recovery point
	idxFrom    EventID // lowest slot to flush: from, or lower when tombstones changed synced slots
	dirtyLow   EventID
	mark       shapeMark
	pointSeq   uint64 // segment of the recovery position
	startSeq   uint64 // the records to flush run from (startSeq, startOff) ...
	startOff   uint64
	active     uint64 // ... to (active, endOff)
	endOff     uint64
}

// flush writes back everything committed so far and returns the generation it covers.
// The writer lock is held only to snapshot the state and, for a checkpoint, to commit the
// recovery point; the msyncs run without it, so appenders go on meanwhile. Unless force
// is set, a flush after appends only is data-only (flushPlan.checkpoint false).
func (l *Log) flush(force bool) (uint64, error) {
	if !force {
		if gen, ok, err := l.flushRecords(); ok || err != nil {
			return gen, err
		}
	}
	w, err := l.begin()
	if err != nil {
		return 0, err
	}
	st := &w.st
	plan := l.planFlush(st, force)
	plan.idxFrom = st.indexFlushFrom()
	var idx *ringindex.Index
	if plan.checkpoint {
		idx = w.idx
	}
	l.unflushed.Store(false) // this flush covers every commit so far; set again on error
	w.abort()                // nothing to commit yet
	if err := l.writeBack(&plan, idx); err != nil {
		l.markUnflushed()
		return 0, err
	}
	if !plan.checkpoint {
		l.recordsFlushed(&plan)
		return plan.gen, nil
	}
	covered, err := l.commitPoint(&plan)
	if err != nil {
		l.markUnflushed()
	}
	return covered, err
}

// planFlush snapshots what a flush of the committed state st writes back: the records
// from the handle's flush position (or the recovery point) to the write position, and
// whether it must be a checkpoint (forced, or the state changed other than by appends
// since the handle's last checkpoint).
func (l *Log) planFlush(st *state, force bool) flushPlan {
	plan := flushPlan{seq: l.sy.flushes.Add(1), gen: st.gen, next: st.next, truncs: st.truncs,
		active: st.activeSeq, endOff: st.writeOff, dirtyLow: st.dirtyLow, mark: markOf(st)}
	l.sy.pmu.Lock()
	plan.checkpoint = force || l.sy.mark != plan.mark || st.dirtyLow < st.syncedNext || st.pendingDelete()
	_, pos := l.sy.flushed.from(st)
	l.sy.pmu.Unlock()
	plan.startSeq, plan.startOff = pos.FullSeq(st.activeSeq), pos.Offset()
	plan.pointSeq = st.syncedPos.FullSeq(st.activeSeq)
	return plan
}

// writeBack msyncs the records of plan and, when idx is not nil, its index slots, then
// advances the handle's flush position to the end of plan.
func (l *Log) writeBack(plan *flushPlan, idx *ringindex.Index) error {
	pinned, err := l.pinRange(plan.startSeq, plan.active)
	if err != nil {
		return err
	}
	defer l.unpin(pinned)
	if err := l.syncData(plan, pinned, idx); err != nil {
		return err
	}
	l.sy.issued.Add(1)
	l.sy.pmu.Lock()
	l.sy.flushed.advance(flushMark{valid: true, next: plan.next, pos: ringindex.MakeSlot(plan.active, plan.endOff), truncs: plan.truncs})
	l.sy.pmu.Unlock()
	return nil
}

// flushRecords is the data-only flush without the writer lock: when only appends
// happened since this handle's last checkpoint, it snapshots the committed state as a
// reader does (the commit word, then the copy), msyncs the records written since the last
// flush and returns the generation covered. It reports false, having flushed nothing, when
// a checkpoint is due (the caller then runs the locked path).
func (l *Log) flushRecords() (uint64, bool, error) {
	// Cleared before the snapshot: a commit after it sets it again (markUnflushed runs
	// after the commit word's store), a commit before it is covered.
	l.unflushed.Store(false)
	if err := l.rlock(); err != nil {
		return 0, false, err
	}
	st := l.loadState()
	l.resolveWriteOffLocked(&st) // an unknown end flushes the rest of the segment
	l.segMu.RUnlock()
	plan := l.planFlush(&st, false)
	if plan.checkpoint {
		return 0, false, nil
	}
	if l.sharedCovered(plan.gen) { // another handle's flush made it durable
		l.sy.shared.Add(1)
		return plan.gen, true, nil
	}
	l.beginSharedFlush(plan.gen)
	if err := l.writeBack(&plan, nil); err != nil {
		l.markUnflushed()
		return 0, false, err
	}
	l.endSharedFlush(plan.gen)
	l.recordsFlushed(&plan)
	return plan.gen, true, nil
}

// recordsFlushed ends a data-only flush.
func (l *Log) recordsFlushed(plan *flushPlan) {
	l.sy.dataOnly.Store(true)
	syncTrace(plan.seq, syncMetaStart)
	syncTrace(plan.seq, syncMetaDone)
	l.maybeCheckpoint(plan.pointSeq, plan.active)
}

// checkpointAfterSegments is how many segments of records a data-only flush may leave
// past the recovery position before a background checkpoint moves it: it bounds the scan
// of Open after a reboot to about that many segments.
const checkpointAfterSegments = 2

// maybeCheckpoint starts a background checkpoint when the records past the recovery
// position (in segment pointSeq) span checkpointAfterSegments segments or more. One runs
// at a time.
func (l *Log) maybeCheckpoint(pointSeq, active uint64) {
	if active-pointSeq < checkpointAfterSegments || l.sy.background.Swap(true) {
		return
	}
	l.prepWG.Add(1)
	go func() {
		defer l.prepWG.Done()
		defer l.sy.background.Store(false)
		if !l.closed.Load() {
			_, _ = l.flush(true) // an error leaves the older recovery point, which stays valid
		}
	}()
}

// pinRange pins the segments first..last that still exist (a delete may have removed
// some: those hold nothing to flush).
func (l *Log) pinRange(first, last uint64) ([]*segment, error) {
	var pinned []*segment
	for seq := first; seq <= last; seq++ {
		s, err := l.acquireSegment(seq)
		if err != nil {
			if errors.Is(err, errSegmentGone) {
				continue
			}
			l.unpin(pinned)
			return nil, err
		}
		pinned = append(pinned, s)
	}
	return pinned, nil
}

func (l *Log) unpin(pinned []*segment) {
	for _, s := range pinned {
		l.releaseSegment(s.seq)
	}
}

// syncData writes back the records of plan and, when idx is not nil, the index slots of
// plan. The two are independent files, so the index msync runs on another goroutine while
// this one msyncs the segments: the device sees both write-backs at once. It returns once
// both are complete, the first error if any.
func (l *Log) syncData(plan *flushPlan, pinned []*segment, idx *ringindex.Index) error {
	syncTrace(plan.seq, syncDataStart)
	var idxErr chan error
	if idx == nil || plan.idxFrom >= plan.next {
		syncTrace(plan.seq, syncIndexDone) // nothing to write back
	} else {
		idxErr = make(chan error, 1)
		go func() {
			err := syncIndex(idx, plan.idxFrom, plan.next)
			syncTrace(plan.seq, syncIndexDone)
			idxErr <- err
		}()
	}
	err := l.syncRecords(pinned, plan.startSeq, plan.startOff, plan.active, plan.endOff)
	syncTrace(plan.seq, syncSegmentsDone)
	if idxErr != nil {
		// Wait even after a segment error: the goroutine reads the pinned index.
		if e := <-idxErr; e != nil && err == nil {
			err = fmt.Errorf("mmaplog: sync index: %w", e)
		}
	}
	return err
}

// syncRecords msyncs the bytes of the pinned segments from (startSeq, startOff) to
// (active, endOff): from the page holding startOff in the first, whole segments between,
// up to endOff in the active one.
func (l *Log) syncRecords(pinned []*segment, startSeq, startOff, active, endOff uint64) error {
	for _, s := range pinned {
		lo, hi := uint64(0), l.opts.segmentSize
		if s.seq == startSeq {
			lo = startOff &^ 4095
		}
		if s.seq == active {
			hi = l.flushEnd(s, endOff)
		}
		if s.seq < startSeq || s.seq > active || hi <= lo {
			continue
		}
		if err := msync(s.data[lo:hi]); err != nil {
			return fmt.Errorf("mmaplog: sync segment %d: %w", s.seq, err)
		}
		noteSegmentMsync(s.seq, lo, hi-lo)
	}
	return nil
}

// flushAheadChunk is the granularity at which a flush of the active segment writes the
// blocks ahead of its records once, so that later flushes convert no unwritten extent
// (docs/FORMAT.md section 5.6).
const flushAheadChunk = 1 << 20

// writtenMark says that every block of segment seq below end is written on disk.
type writtenMark struct{ seq, end uint64 }

// flushEnd returns where an msync of the active segment s that must reach hi ends: hi
// when the file system reports every block up to hi written, else the next multiple of
// flushAheadChunk (at most the segment's end), whose pages past hi it first makes dirty
// (a write fault changes no byte) so that the msync writes them and the file system
// converts their extents in this one flush.
func (l *Log) flushEnd(s *segment, hi uint64) uint64 {
	size := l.opts.segmentSize
	l.sy.wmu.Lock()
	defer l.sy.wmu.Unlock()
	w := &l.sy.written
	if w.seq != s.seq {
		*w = writtenMark{seq: s.seq}
	}
	if hi <= w.end {
		return hi
	}
	u, err := firstUnwritten(join(l.dir, segmentFileName(s.seq)), w.end, size)
	if err != nil {
		w.end = size // the file system cannot tell: never extend in this segment
		return hi
	}
	if u >= hi {
		w.end = u
		return hi
	}
	end := min(size, (hi+flushAheadChunk-1)/flushAheadChunk*flushAheadChunk)
	page := uint64(os.Getpagesize())
	if from := (hi + page - 1) &^ (page - 1); from < end {
		prefault(s.data[from:end])
	}
	w.end = end
	l.sy.ahead.Add(1)
	return end
}

// msyncHook, when set (tests only), is called after every successful msync of a file of
// the log with the file's name and the byte range flushed; the power-loss tests use it to
// know which bytes are on disk.
var msyncHook atomic.Pointer[func(name string, off, n int64)]

// noteMsync reports a completed msync to msyncHook.
func noteMsync(name string, off, n uint64) {
	if h := msyncHook.Load(); h != nil {
		(*h)(name, int64(off), int64(n))
	}
}

// noteSegmentMsync is noteMsync for segment seq; it names the file only when a hook is
// set (formatting the name cost a durable flush an allocation and about a microsecond).
func noteSegmentMsync(seq, off, n uint64) {
	if msyncHook.Load() != nil {
		noteMsync(segmentFileName(seq), off, n)
	}
}

// syncMeta msyncs the meta page.
func (l *Log) syncMeta() error {
	if err := msync(l.meta[:metaSize]); err != nil {
		return fmt.Errorf("mmaplog: sync meta: %w", err)
	}
	noteMsync(metaFileName, 0, metaSize)
	return nil
}

// syncIndex msyncs the slots of the ids [lo, hi) of x (one or two runs of the ring).
func syncIndex(x *ringindex.Index, lo, hi EventID) error {
	if err := x.SyncRange(lo, hi); err != nil {
		return err
	}
	if msyncHook.Load() != nil && hi > lo {
		name, c := filepath.Base(x.Path()), x.Capacity()
		a := lo & (c - 1)
		b := a + min(hi-lo, c)
		if b > c {
			noteMsync(name, ringindex.HeaderSize, (b-c)*ringindex.SlotSize)
			b = c
		}
		noteMsync(name, ringindex.HeaderSize+a*ringindex.SlotSize, (b-a)*ringindex.SlotSize)
	}
	return nil
}

// commitPoint commits plan's recovery point, then writes the meta page back, and returns
// the generation covered. Its caller has made plan's records and index slots durable.
func (l *Log) commitPoint(plan *flushPlan) (uint64, error) {
	w, err := l.begin()
	if err != nil {
		return 0, err
	}
	if w.st.truncs == plan.truncs && w.st.syncedNext <= plan.next && plan.next <= w.st.next &&
		(w.st.syncedNext < plan.next || w.st.dirtyLow < w.st.syncedNext || w.st.syncedPos != ringindex.MakeSlot(plan.active, plan.endOff)) {
		w.st.syncedNext = plan.next
		w.st.syncedPos = ringindex.MakeSlot(plan.active, plan.endOff)
		if w.st.dirtyLow == plan.dirtyLow {
			w.st.dirtyLow = plan.next // the tombstones seen by the snapshot are flushed
		}
		w.commit()
	}
	covered := plan.gen
	w.end()
	syncTrace(plan.seq, syncMetaStart)
	if err := l.syncMeta(); err != nil {
		return 0, err
	}
	syncTrace(plan.seq, syncMetaDone)
	l.sy.pmu.Lock()
	l.sy.mark = plan.mark
	l.sy.pmu.Unlock()
	l.sy.dataOnly.Store(false)
	l.endSharedFlush(covered)
	return covered, nil
}

// flushLocked makes the records and index slots of every id below w.st.next durable and
// sets the recovery point there, in w.st, under the writer lock: the first half of a
// checkpoint, for operations that must move the recovery point before their own commit
// (a suffix delete, an unlink of the segment holding the recovery position). The caller
// commits, then msyncs the meta page (syncMeta) and calls noteCheckpoint.
func (w *wtx) flushLocked() error {
	l, st := w.l, &w.st
	l.sy.pmu.Lock()
	_, pos := l.sy.flushed.from(st)
	l.sy.pmu.Unlock()
	startSeq := pos.FullSeq(st.activeSeq)
	pinned, err := l.pinRange(startSeq, st.activeSeq)
	if err != nil {
		return err
	}
	defer l.unpin(pinned)
	if err := l.syncRecords(pinned, startSeq, pos.Offset(), st.activeSeq, st.writeOff); err != nil {
		return err
	}
	if lo := st.indexFlushFrom(); lo < st.next {
		if err := syncIndex(w.idx, lo, st.next); err != nil {
			return fmt.Errorf("mmaplog: sync index: %w", err)
		}
	}
	st.syncedNext, st.syncedPos, st.dirtyLow = st.next, ringindex.MakeSlot(st.activeSeq, st.writeOff), st.next
	return nil
}

// indexFlushFrom is the lowest id whose slot a checkpoint of st writes back: the recovery
// point, or lower where tombstones changed synced slots since (dirtyLow), never below the
// live range (for an empty log, next: nothing).
func (s *state) indexFlushFrom() EventID {
	return max(min(s.syncedNext, s.dirtyLow), s.liveFloor())
}

// noteCheckpoint records that st, committed and with its meta page flushed, is this
// handle's last checkpoint.
func (l *Log) noteCheckpoint(st *state) {
	l.sy.pmu.Lock()
	l.sy.mark = markOf(st)
	l.sy.flushed.advance(flushMark{valid: true, next: st.syncedNext, pos: st.syncedPos, truncs: st.truncs})
	l.sy.pmu.Unlock()
	l.sy.dataOnly.Store(false)
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
