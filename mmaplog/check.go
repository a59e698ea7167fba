package mmaplog

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sort"

	"github.com/ringlog/ringlog/ringindex"
)

// checkProgressEvery is how many live events CheckProgress verifies between two calls of
// its progress function.
const checkProgressEvery = 1 << 14

// Problem is one thing Check found wrong.
type Problem struct {
	// Path is the file concerned, Offset the byte offset in it (-1 when not applicable).
	Path   string
	Offset int64
	// ID is the event concerned, when HasID.
	ID    EventID
	HasID bool
	// What describes the problem.
	What string
}

// String formats the problem on one line.
func (p Problem) String() string {
	s := p.Path
	if p.Offset >= 0 {
		s += fmt.Sprintf(" at offset %d", p.Offset)
	}
	if p.HasID {
		s += fmt.Sprintf(" (event %d)", p.ID)
	}
	return s + ": " + p.What
}

// Report is the result of Check.
type Report struct {
	// Events is the number of live events whose records were verified.
	Events uint64
	// Bytes is the payload bytes verified.
	Bytes uint64
	// SegmentFiles is the number of segment files examined.
	SegmentFiles int
	// Problems lists what is wrong, in the order found; empty when the log is sound.
	Problems []Problem
	// LastRepair is what the last repair of Open removed from the end of the log after a
	// reboot (not a problem of the log as it is, but events that are gone); nil if none.
	LastRepair *Repair
}

// OK reports whether Check found nothing wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(path string, off int64, id EventID, hasID bool, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Path: path, Offset: off, ID: id, HasID: hasID, What: fmt.Sprintf(format, args...)})
}

// Check opens the log in dir read-only and verifies it (see (*Log).Check). A log whose
// meta file cannot be opened is reported as a problem, not an error; the error is for
// failures to run the check at all (e.g. dir missing).
func Check(dir string) (*Report, error) { return CheckProgress(dir, nil) }

// CheckProgress is Check reporting its progress to progress (see (*Log).CheckProgress);
// a nil progress reports nothing.
func CheckProgress(dir string, progress func(verified, total uint64)) (*Report, error) {
	if _, err := os.Stat(join(dir, metaFileName)); err != nil {
		return nil, fmt.Errorf("mmaplog: check %s: %w", dir, err)
	}
	l, err := Open(dir, &Options{ReadOnly: true})
	if err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			r := &Report{}
			r.add(ce.Path, ce.Offset, 0, false, "%s (%v)", ce.What, ce.Err)
			return r, nil
		}
		if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion) {
			r := &Report{}
			r.add(dir, -1, 0, false, "%v", err)
			return r, nil
		}
		return nil, err
	}
	defer l.Close()
	return l.CheckProgress(progress)
}

// Check verifies the whole log: the meta state and its invariants, both state copies,
// every live event's index slot and record (id, length, CRC), that slots name existing
// segments in order, the live and tombstone counts, and every segment file's header. It
// reads every live record, so it costs a full scan. Problems are reported, not repaired.
func (l *Log) Check() (*Report, error) { return l.CheckProgress(nil) }

// CheckProgress is Check calling progress(verified, total) as it goes: verified live
// events (their slots and records) out of total, the live events of the state it checks.
// It is called every checkProgressEvery events and once at the end of the event pass,
// from the calling goroutine with the handle's read lock held: it must return quickly and
// must not Close the handle. A nil progress reports nothing.
func (l *Log) CheckProgress(progress func(verified, total uint64)) (rep *Report, err error) {
	if err := l.rlock(); err != nil {
		return nil, err
	}
	defer l.segMu.RUnlock()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverFault(&err)
	rep = &Report{}
	metaPath := join(l.dir, metaFileName)
	st := l.loadState()
	g, copyOff := st.gen, int64(metaStateOff0+1024*copyIndex(st.gen))
	cur := *l.states[copyIndex(g)]
	if !stateCRCValid(&cur) {
		rep.add(metaPath, copyOff, 0, false, "current state copy %#x has a bad checksum", g)
	}
	if msg := st.validate(l.opts.segmentSize); msg != "" {
		rep.add(metaPath, copyOff, 0, false, "state %#x: %s", g, msg)
	}
	if r, ok, err := l.readRepair(); err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			rep.add(ce.Path, ce.Offset, 0, false, "%s", ce.What)
		}
	} else if ok {
		rep.LastRepair = &r
	}
	if _, err := l.readRetention(); err != nil {
		var ce *CorruptError
		if errors.As(err, &ce) {
			rep.add(ce.Path, ce.Offset, 0, false, "%s", ce.What)
		}
	}
	idx, err := l.indexFor(st.indexGen)
	if err != nil {
		return nil, err
	}
	if st.tail() != 0 {
		st.writeOff = l.tailEnd(&st, idx)
	}
	// Records and slots of every live event.
	var live, dead, reported uint64
	lastSeq := st.firstSeq
	segOK := map[uint64]bool{}
	if st.live > 0 {
		for id := st.oldest; ; id++ {
			slot := idx.Load(id)
			slotOff := int64(ringindex.HeaderSize + ringindex.SlotSize*(id&(st.indexCap-1)))
			switch {
			case slot.Tombstoned() || (st.pendingDelete() && id >= st.delStart && id <= st.delEnd):
				dead++
			case slot.IsZero():
				live++ // live by the state, damaged: counted so the totals name only this
				rep.add(idx.Path(), slotOff, id, true, "index slot of a live event is unwritten")
			default:
				live++
				seq := slot.FullSeq(st.activeSeq)
				if seq < lastSeq || seq > st.activeSeq {
					rep.add(idx.Path(), slotOff, id, true, "slot names segment %d, outside [%d, %d] or before the previous event's", seq, lastSeq, st.activeSeq)
					break
				}
				lastSeq = seq
				ok, seen := segOK[seq]
				var seg *segment
				if !seen || ok {
					seg, err = l.lookupSegment(seq)
					if err == ErrClosed {
						return nil, err
					}
					if err != nil {
						rep.add(l.segmentPath(seq), 0, id, true, "%v", err)
					}
					segOK[seq] = err == nil
				}
				if seg == nil {
					break
				}
				p, msg := decodeRecord(seg.data, slot.Offset(), id, l.opts.maxEventSize, seg.seed)
				if msg != "" {
					rep.add(l.segmentPath(seq), int64(slot.Offset()), id, true, "%s", msg)
					break
				}
				if seq == st.activeSeq && slot.Offset()+recordSize(len(p)) > st.writeOff {
					rep.add(l.segmentPath(seq), int64(slot.Offset()), id, true, "record lies beyond the write offset %d", st.writeOff)
				}
				rep.Events++
				rep.Bytes += uint64(len(p))
			}
			if progress != nil && live%checkProgressEvery == 0 && live != reported {
				reported = live
				progress(live, st.live)
			}
			if id == st.newest {
				break
			}
		}
		dead += st.next - 1 - st.newest // tombstones above the newest live event
	}
	if progress != nil {
		progress(live, st.live)
	}
	if live != st.live {
		rep.add(metaPath, -1, 0, false, "state counts %d live events, the index has %d", st.live, live)
	}
	if dead != st.dead {
		rep.add(metaPath, -1, 0, false, "state counts %d tombstoned ids, the index has %d", st.dead, dead)
	}
	// Segment files.
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range entries {
		if seq, ok := parseSegmentFileName(e.Name()); ok {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	haveActive := false
	for _, seq := range seqs {
		rep.SegmentFiles++
		haveActive = haveActive || seq == st.activeSeq
		if seq < st.firstSeq {
			rep.add(l.segmentPath(seq), -1, 0, false, "orphan segment below the first live segment %d", st.firstSeq)
			continue
		}
		if _, seen := segOK[seq]; seen {
			continue
		}
		if _, err := l.lookupSegment(seq); err != nil {
			if err == ErrClosed {
				return nil, err
			}
			rep.add(l.segmentPath(seq), 0, 0, false, "%v", err)
		}
	}
	if !haveActive {
		rep.add(l.segmentPath(st.activeSeq), -1, 0, false, "the active segment file is missing")
	}
	return rep, nil
}
