package cluster

import (
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// events writes one "event <kind> <fields>" line per event to the node's stdout.
type events struct {
	mu sync.Mutex
	w  io.Writer
}

func (e *events) emit(kind, format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.w, "event %s %s\n", kind, fmt.Sprintf(format, args...))
}

// eventStore reports each DeleteRange, classified by what it removes: "prefix"
// (compaction), "suffix" (a follower's conflict), "whole" (the log after a snapshot was
// installed or restored).
type eventStore struct {
	raft.LogStore
	events *events
}

// IsMonotonic passes the wrapped store's answer on.
func (s eventStore) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (s eventStore) DeleteRange(lo, hi uint64) error {
	first, err1 := s.FirstIndex()
	last, err2 := s.LastIndex()
	err := s.LogStore.DeleteRange(lo, hi)
	if err != nil || err1 != nil || err2 != nil || last == 0 || hi < first || lo > last {
		return err
	}
	kind := "interior"
	switch {
	case lo <= first && hi >= last:
		kind = "whole"
	case lo <= first:
		kind = "prefix"
	case hi >= last:
		kind = "suffix"
	}
	s.events.emit("delete", "kind=%s min=%d max=%d first=%d last=%d", kind, lo, hi, first, last)
	return nil
}
