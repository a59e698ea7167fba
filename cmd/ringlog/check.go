package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// checkCommand is "ringlog check": full verification with progress.
func checkCommand() *command {
	c := newCommand("check", "DIR [--json]", "verify every record, slot, state and file header", 1, 1)
	asJSON := c.flags.Bool("json", false, "print the report as one JSON object")
	c.detail = `
Runs the full verification of mmaplog.Check: the committed state and both state copies,
every live event's index slot and record (id, length, CRC-32C), the live and tombstone
counts, and every segment file's header. Shows progress on stderr: a bar (records
verified, rate, ETA) on a terminal, plain lines otherwise. Lists every problem with its
file and offset; the exit status is 1 if there is any. Opens the log read-only.`
	c.example = `
$ ringlog check /var/lib/app/events
check: 1,000,000/1,000,000 records (100%), 9.80 M/s, in 102.03 ms
ok: 1,000,000 events, 128.0 MiB verified in 16 segment files, no problems`
	c.run = func(e *env, args []string) error {
		dir := args[0]
		if err := checkLogDir(dir); err != nil {
			return err
		}
		p := newProgress(e.stderr, e.stderrTTY, e.stderrCol, "check", "records")
		var done, total uint64
		rep, err := mmaplog.CheckProgress(dir, func(d, t uint64) {
			done, total = d, t
			p.update(d, t)
		})
		if errors.Is(err, fs.ErrNotExist) {
			return &notLogError{dir, "not a ringlog directory (no meta file)"}
		}
		if err != nil {
			return err
		}
		p.finish(done, total)
		if *asJSON {
			if err := writeCheckJSON(e, rep); err != nil {
				return err
			}
		} else {
			for _, pr := range rep.Problems {
				fmt.Fprintln(e.stdout, pr.String())
			}
			if r := rep.LastRepair; r != nil {
				fmt.Fprintf(e.stdout, "repaired: %v (%s so far)\n", r, plural(r.Count, "repair"))
			}
			if rep.OK() {
				fmt.Fprintf(e.stdout, "ok: %s, %s verified in %s, no problems\n", plural(rep.Events, "event"), size(rep.Bytes), plural(uint64(rep.SegmentFiles), "segment file"))
			} else {
				fmt.Fprintf(e.stdout, "damaged: %s; %s, %s verified in %s\n", plural(uint64(len(rep.Problems)), "problem"), plural(rep.Events, "event"), size(rep.Bytes), plural(uint64(rep.SegmentFiles), "segment file"))
			}
		}
		if !rep.OK() {
			return &damageError{fmt.Sprintf("%s: %s found, the first: %s", dir, plural(uint64(len(rep.Problems)), "problem"), rep.Problems[0])}
		}
		return nil
	}
	return c
}

// checkJSON is the JSON form of a check report.
type checkJSON struct {
	OK           bool          `json:"ok"`
	Events       uint64        `json:"events"`
	Bytes        uint64        `json:"bytes"`
	SegmentFiles int           `json:"segment_files"`
	Problems     []problemJSON `json:"problems"`
	LastRepair   *repairJSON   `json:"last_repair,omitempty"`
}

// repairJSON is what the last repair of Open removed, in JSON.
type repairJSON struct {
	Count  uint64    `json:"count"`
	From   uint64    `json:"from"`
	To     uint64    `json:"to"`
	At     time.Time `json:"at"`
	Path   string    `json:"path,omitempty"`
	Offset int64     `json:"offset"`
	Reason string    `json:"reason"`
}

// problemJSON is one problem in the JSON form of a check report.
type problemJSON struct {
	Path   string  `json:"path"`
	Offset int64   `json:"offset"`
	ID     *uint64 `json:"id,omitempty"`
	What   string  `json:"what"`
}

// writeCheckJSON prints rep as one JSON object.
func writeCheckJSON(e *env, rep *mmaplog.Report) error {
	out := checkJSON{OK: rep.OK(), Events: rep.Events, Bytes: rep.Bytes, SegmentFiles: rep.SegmentFiles, Problems: []problemJSON{}}
	for _, p := range rep.Problems {
		row := problemJSON{Path: p.Path, Offset: p.Offset, What: p.What}
		if p.HasID {
			row.ID = &p.ID
		}
		out.Problems = append(out.Problems, row)
	}
	if r := rep.LastRepair; r != nil {
		out.LastRepair = &repairJSON{Count: r.Count, From: r.From, To: r.To, At: r.At, Path: r.Path, Offset: r.Offset, Reason: r.Reason}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
