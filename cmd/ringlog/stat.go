package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ringlog/ringlog/mmaplog"
)

// statCommand is "ringlog stat": counts and one row per file.
func statCommand() *command {
	c := newCommand("stat", "DIR [--json]", "print the log's counts and one row per file", 1, 1)
	asJSON := c.flags.Bool("json", false, "print one JSON object instead of the text report")
	c.detail = `
Prints the log's Stats, then one row per file: each segment (seq, first and last live id,
live events, bytes used and allocated, sealed, active, prepared or orphan), each index
file (generation, capacity, role), the meta file (format version, log id, NextEventID,
SyncedNextEventID) and the writer lock (its holder from /proc/locks, waiters from the
meta file). Opens the log read-only.`
	c.example = `
$ ringlog stat /var/lib/app/events
$ ringlog stat /var/lib/app/events --json | jq .meta.next_event_id`
	c.run = func(e *env, args []string) (err error) {
		l, err := openRead(args[0])
		if err != nil {
			return err
		}
		defer closeLog(l, &err)
		st, err := l.Stats()
		if err != nil {
			return err
		}
		in, err := l.Inspect()
		if err != nil {
			return err
		}
		if *asJSON {
			return writeStatJSON(e, st, in)
		}
		return writeStatText(e, st, in)
	}
	return c
}

// writeStatText prints the report for people: a summary, then the file table.
func writeStatText(e *env, st mmaplog.Stats, in *mmaplog.Inspection) error {
	m := in.Meta
	w := e.stdout
	fmt.Fprintf(w, "log        %s\n", in.Dir)
	fmt.Fprintf(w, "format     version %d, log id %s, segments of %s\n", m.Version, hex.EncodeToString(m.LogID[:]), size(m.SegmentSize))
	if st.EventCount == 0 {
		fmt.Fprintf(w, "events     none; next id %d\n", st.NextEventID)
	} else {
		fmt.Fprintf(w, "events     %s live, ids %d..%d (%s tombstoned), next id %d\n", count(st.EventCount), st.OldestEventID, st.NewestEventID, count(m.Dead), st.NextEventID)
	}
	fmt.Fprintf(w, "durable    below id %d at least (SyncedNextEventID: the last checkpoint's recovery point)\n", st.SyncedNextEventID)
	if r := st.LastRepair; r != nil {
		fmt.Fprintf(w, "repaired   %v (%s so far)\n", r, plural(r.Count, "repair"))
	}
	fmt.Fprintf(w, "commit     generation %d, tail count %d\n", m.Generation, m.TailCount)
	fmt.Fprintf(w, "bytes      %s used, %s allocated in %s, index %s slots%s\n",
		size(st.BytesUsed), size(st.BytesAllocated), plural(uint64(st.FileCount), "segment file"), count(st.IndexCapacity), map[bool]string{true: " (growing)"}[st.IndexGrowing])
	fmt.Fprintf(w, "retention  %s\n", retentionText(st))
	fmt.Fprintf(w, "lock       %s\n\n", lockText(in.Lock))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tKIND\tSEQ/GEN\tSTATE\tFIRST ID\tLAST ID\tEVENTS\tUSED\tALLOCATED")
	fmt.Fprintf(tw, "%s\tmeta\t%d\tversion %d\tnext %d\tsynced %d\t%s\t\t%s\n", filepath.Base(m.Path), m.Generation, m.Version, m.NextEventID, m.SyncedNextEventID, count(m.Live), size(metaFileSize))
	for _, x := range in.Indexes {
		fmt.Fprintf(tw, "%s\tindex\t%d\t%s\tcapacity %s\t\t\t\t%s\n", filepath.Base(x.Path), x.Generation, x.Role, count(x.Capacity), size(x.Bytes))
	}
	for _, s := range in.Segments {
		first, last := "-", "-"
		if s.Events > 0 {
			first, last = fmt.Sprint(s.FirstID), fmt.Sprint(s.LastID)
		}
		fmt.Fprintf(tw, "%s\tsegment\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", filepath.Base(s.Path), s.Seq, s.State, first, last, count(s.Events), size(s.BytesUsed), size(s.BytesAllocated))
	}
	for _, p := range in.Pool {
		fmt.Fprintf(tw, "%s\tpool\t\t\t\t\t\t\t\n", p)
	}
	for _, o := range in.Other {
		fmt.Fprintf(tw, "%s\tother\t\t\t\t\t\t\t\n", o)
	}
	return tw.Flush()
}

// retentionText describes the retention policy in force and what it removed.
func retentionText(st mmaplog.Stats) string {
	r := st.Retention
	var limits []string
	if r.MaxBytes != 0 {
		limits = append(limits, "at most "+size(r.MaxBytes))
	}
	if r.MaxEvents != 0 {
		limits = append(limits, "at most "+plural(r.MaxEvents, "event"))
	}
	if r.MaxAge != 0 {
		limits = append(limits, "sealed segments up to "+r.MaxAge.String()+" old")
	}
	policy := "none (keeps everything)"
	if len(limits) > 0 {
		policy = strings.Join(limits, ", ")
		if r.KeepUnconsumed {
			policy += ", keeping what a cursor has not consumed (except over the byte limit)"
		}
	}
	return fmt.Sprintf("%s; removed %s, %s, %s so far", policy,
		plural(st.RetentionRemovedSegments, "segment"), plural(st.RetentionRemovedEvents, "event"), size(st.RetentionReclaimedBytes))
}

// lockText describes the writer lock in a few words.
func lockText(li mmaplog.LockInfo) string {
	var parts []string
	switch {
	case !li.HolderKnown:
		parts = append(parts, "holder unknown")
	case li.HolderPID != 0:
		parts = append(parts, fmt.Sprintf("held by pid %d", li.HolderPID))
	default:
		parts = append(parts, "free")
	}
	if li.Waiters == 0 {
		parts = append(parts, "no waiters")
	} else {
		parts = append(parts, fmt.Sprintf("%d waiting (pids %v)", li.Waiters, li.WaiterPIDs))
	}
	return strings.Join(parts, ", ")
}

// The JSON form of stat.
type (
	// statJSON is the whole object.
	statJSON struct {
		Dir       string         `json:"dir"`
		Stats     statsJSON      `json:"stats"`
		Meta      metaJSON       `json:"meta"`
		Indexes   []indexJSON    `json:"indexes"`
		Segments  []segmentJSON  `json:"segments"`
		Lock      lockJSON       `json:"lock"`
		Retention retentionJSON  `json:"retention"`
		Pool      []string       `json:"pool_files"`
		Other     []string       `json:"other_files"`
		Limits    map[string]any `json:"limits"`
	}
	// statsJSON is mmaplog.Stats.
	statsJSON struct {
		EventCount     uint64 `json:"event_count"`
		OldestEventID  uint64 `json:"oldest_event_id"`
		NewestEventID  uint64 `json:"newest_event_id"`
		NextEventID    uint64 `json:"next_event_id"`
		SyncedNext     uint64 `json:"synced_next_event_id"`
		TotalBytes     uint64 `json:"total_bytes"`
		FileCount      int    `json:"file_count"`
		SegmentCount   uint64 `json:"segment_count"`
		ActiveSegment  uint64 `json:"active_segment"`
		IndexCapacity  uint64 `json:"index_capacity"`
		IndexGrowing   bool   `json:"index_growing"`
		BytesUsed      uint64 `json:"bytes_used"`
		BytesAllocated uint64 `json:"bytes_allocated"`
	}
	// retentionJSON is the policy in force and what it removed (mmaplog.Stats); zero
	// limits mean none.
	retentionJSON struct {
		MaxBytes        uint64  `json:"max_bytes"`
		MaxEvents       uint64  `json:"max_events"`
		MaxAgeSeconds   float64 `json:"max_age_seconds"`
		KeepUnconsumed  bool    `json:"keep_unconsumed"`
		RemovedSegments uint64  `json:"removed_segments"`
		RemovedEvents   uint64  `json:"removed_events"`
		ReclaimedBytes  uint64  `json:"reclaimed_bytes"`
	}
	// metaJSON is mmaplog.MetaInfo.
	metaJSON struct {
		Path          string `json:"path"`
		Version       uint32 `json:"version"`
		LogID         string `json:"log_id"`
		SegmentSize   uint64 `json:"segment_size"`
		Generation    uint64 `json:"generation"`
		TailCount     uint64 `json:"tail_count"`
		NextEventID   uint64 `json:"next_event_id"`
		SyncedNext    uint64 `json:"synced_next_event_id"`
		OldestEventID uint64 `json:"oldest_event_id"`
		NewestEventID uint64 `json:"newest_event_id"`
		Live          uint64 `json:"live"`
		Dead          uint64 `json:"dead"`
		FirstSegment  uint64 `json:"first_segment"`
		ActiveSegment uint64 `json:"active_segment"`
		WriteOffset   uint64 `json:"write_offset"`
	}
	// indexJSON is one mmaplog.IndexInfo.
	indexJSON struct {
		Path       string `json:"path"`
		Generation uint64 `json:"generation"`
		Capacity   uint64 `json:"capacity"`
		Role       string `json:"role"`
		CopiedTo   uint64 `json:"copied_to,omitempty"`
		Bytes      uint64 `json:"bytes"`
	}
	// segmentJSON is one mmaplog.SegmentInfo; the ids are null for a segment without live events.
	segmentJSON struct {
		Path           string  `json:"path"`
		Seq            uint64  `json:"seq"`
		State          string  `json:"state"`
		Events         uint64  `json:"events"`
		FirstID        *uint64 `json:"first_id"`
		LastID         *uint64 `json:"last_id"`
		BytesUsed      uint64  `json:"bytes_used"`
		BytesAllocated uint64  `json:"bytes_allocated"`
	}
	// lockJSON is mmaplog.LockInfo.
	lockJSON struct {
		Path        string `json:"path"`
		HolderPID   int    `json:"holder_pid"`
		HolderKnown bool   `json:"holder_known"`
		Waiters     uint32 `json:"waiters"`
		WaiterPIDs  []int  `json:"waiter_pids"`
	}
)

// writeStatJSON prints the report as one JSON object.
func writeStatJSON(e *env, st mmaplog.Stats, in *mmaplog.Inspection) error {
	m := in.Meta
	out := statJSON{
		Dir: in.Dir,
		Stats: statsJSON{st.EventCount, st.OldestEventID, st.NewestEventID, st.NextEventID, st.SyncedNextEventID, st.TotalBytes,
			st.FileCount, st.SegmentCount, st.ActiveSegment, st.IndexCapacity, st.IndexGrowing, st.BytesUsed, st.BytesAllocated},
		Meta: metaJSON{m.Path, m.Version, hex.EncodeToString(m.LogID[:]), m.SegmentSize, m.Generation, m.TailCount, m.NextEventID,
			m.SyncedNextEventID, m.OldestEventID, m.NewestEventID, m.Live, m.Dead, m.FirstSegment, m.ActiveSegment, m.WriteOffset},
		Lock:  lockJSON{in.Lock.Path, in.Lock.HolderPID, in.Lock.HolderKnown, in.Lock.Waiters, in.Lock.WaiterPIDs},
		Pool:  in.Pool,
		Other: in.Other,
		Retention: retentionJSON{st.Retention.MaxBytes, st.Retention.MaxEvents, st.Retention.MaxAge.Seconds(), st.Retention.KeepUnconsumed,
			st.RetentionRemovedSegments, st.RetentionRemovedEvents, st.RetentionReclaimedBytes},
		Limits:   map[string]any{"max_event_size": st.MaxEventSize, "max_batch_bytes": st.MaxBatchBytes},
		Indexes:  []indexJSON{},
		Segments: []segmentJSON{},
	}
	for _, x := range in.Indexes {
		out.Indexes = append(out.Indexes, indexJSON{x.Path, x.Generation, x.Capacity, x.Role, x.CopiedTo, x.Bytes})
	}
	for _, s := range in.Segments {
		row := segmentJSON{Path: s.Path, Seq: s.Seq, State: s.State, Events: s.Events, BytesUsed: s.BytesUsed, BytesAllocated: s.BytesAllocated}
		if s.Events > 0 {
			row.FirstID, row.LastID = &s.FirstID, &s.LastID
		}
		out.Segments = append(out.Segments, row)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
