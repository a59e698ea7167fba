package fuzz

import (
	"math"

	"github.com/ringlog/ringlog/mmaplog"
)

// model is the in-memory reference of a log: what every call must return.
type model struct {
	live                 map[uint64][]byte
	next, oldest, newest uint64 // oldest == next and newest meaningless when empty
}

func newModel() *model { return &model{live: map[uint64][]byte{}} }

func (m *model) empty() bool { return len(m.live) == 0 }

// span is next - oldest (0 when empty).
func (m *model) span() uint64 {
	if m.empty() {
		return 0
	}
	return m.next - m.oldest
}

// appendResult is what an append of n events with the given first id must return:
// the id of the first event, or an error (nil events and oversized events are checked by
// the caller). withID false means Append/AppendBatch: the id is NextEventID.
func (m *model) appendResult(first uint64, n int, withID bool) (uint64, *mmaplog.IDError) {
	if !withID {
		first = m.next
	} else if m.empty() {
		if first < m.next {
			return 0, &mmaplog.IDError{Expected: m.next, Got: first, Empty: true}
		}
	} else if first != m.next {
		return 0, &mmaplog.IDError{Expected: m.next, Got: first}
	}
	// The last id must leave NextEventID below Latest (it would wrap otherwise).
	if end := first + uint64(n); end < first || end == math.MaxUint64 {
		return 0, &mmaplog.IDError{Expected: m.next, Got: first, Empty: m.empty()}
	}
	return first, nil
}

// append applies a successful append.
func (m *model) append(first uint64, events [][]byte) {
	if m.empty() {
		m.oldest = first
	}
	for i, e := range events {
		m.live[first+uint64(i)] = e
	}
	m.next = first + uint64(len(events))
	m.newest = m.next - 1
}

// liveIn returns the live ids in [s, e) in order. e is clipped to newest+1.
func (m *model) liveIn(s, e uint64) []uint64 {
	if m.empty() {
		return nil
	}
	s, e = max(s, m.oldest), min(e, m.newest+1)
	var ids []uint64
	for id := s; id < e; id++ {
		if _, ok := m.live[id]; ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// firstLiveFrom returns the smallest live id in [s, e).
func (m *model) firstLiveFrom(s, e uint64) (uint64, bool) {
	if m.empty() {
		return 0, false
	}
	s, e = max(s, m.oldest), min(e, m.newest+1)
	for id := s; id < e; id++ {
		if _, ok := m.live[id]; ok {
			return id, true
		}
	}
	return 0, false
}

// deleteRange is DeleteRange as the contract defines it: [start, end] inclusive, clipped
// to [oldest, newest]; a clipped range reaching newest is a suffix delete (NextEventID
// rewinds to the clipped start), else one starting at oldest is a prefix delete, else an
// interior delete (tombstones). It returns the number of live events removed.
func (m *model) deleteRange(start, end uint64) (int, error) {
	if start > end {
		return 0, mmaplog.ErrInvalidRange
	}
	if m.empty() || end < m.oldest || start > m.newest {
		return 0, nil
	}
	s, e := max(start, m.oldest), min(end, m.newest)
	ids := m.liveIn(s, e+1)
	for _, id := range ids {
		delete(m.live, id)
	}
	switch {
	case e == m.newest:
		m.next = s
		if m.empty() {
			m.oldest = s
			break
		}
		n := s - 1
		for {
			if _, ok := m.live[n]; ok {
				break
			}
			n--
		}
		m.newest = n
	case s == m.oldest:
		o := e + 1
		for {
			if _, ok := m.live[o]; ok {
				break
			}
			o++
		}
		m.oldest = o
	}
	return len(ids), nil
}
