package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
)

// cursorsCommand is "ringlog cursors": one row per named cursor.
func cursorsCommand() *command {
	c := newCommand("cursors", "DIR [--json]", "list the named cursors with their position and lag", 1, 1)
	asJSON := c.flags.Bool("json", false, "print a JSON array instead of the table")
	c.detail = `
Lists every named cursor of the log (mmaplog Log.Cursors, the cursors file): its name, its
committed position (the next id its consumer reads) and its lag (NextEventID - position,
0 when the position is ahead). A log that never had a cursor lists none. Opens the log
read-only.`
	c.example = `
$ ringlog cursors /var/lib/app/events
NAME     POSITION  LAG
billing  1200      34
$ ringlog cursors /var/lib/app/events --json | jq '.[] | select(.lag > 1000)'`
	c.run = func(e *env, args []string) (err error) {
		l, err := openRead(args[0])
		if err != nil {
			return err
		}
		defer closeLog(l, &err)
		list, err := l.Cursors()
		if err != nil {
			return err
		}
		if *asJSON {
			type row struct {
				Name     string `json:"name"`
				Position uint64 `json:"position"`
				Lag      uint64 `json:"lag"`
			}
			rows := make([]row, len(list))
			for i, ci := range list {
				rows[i] = row{ci.Name, ci.Position, ci.Lag}
			}
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rows)
		}
		if len(list) == 0 {
			fmt.Fprintf(e.stdout, "no cursors in %s\n", args[0])
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tPOSITION\tLAG")
		for _, ci := range list {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", ci.Name, ci.Position, ci.Lag)
		}
		return tw.Flush()
	}
	return c
}
