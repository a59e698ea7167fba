package main

import (
	"fmt"
)

// deleteCommand is "ringlog delete": a prefix or a suffix delete.
func deleteCommand() *command {
	c := newCommand("delete", "DIR --before ID | --from ID", "delete a prefix (--before) or a suffix (--from) of the log", 1, 1)
	before := c.flags.String("before", "", "delete every event with an id below `ID` (a prefix: frees whole segment files)")
	from := c.flags.String("from", "", "delete every event from `ID` on (a suffix: the next id becomes ID, as a raft truncation)")
	c.detail = `
A prefix delete (--before ID) removes the live events with ids below ID; segment files
left without live events are unlinked. A suffix delete (--from ID) removes the events
from ID to the newest and rewinds NextEventID to ID, so those ids can be appended again.
A prefix that reaches the newest event removes the whole log, which (as a suffix delete)
rewinds NextEventID to the oldest id. Prints what was removed.`
	c.example = `
$ ringlog delete /var/lib/app/events --before 1000
deleted 1,000 events (ids 0..999); oldest id 1000, next id 5000
$ ringlog delete /var/lib/app/events --from 4990
deleted 10 events (ids 4990..4999); oldest id 1000, next id 4990`
	c.run = func(e *env, args []string) (err error) {
		if (*before == "") == (*from == "") {
			return usagef("give exactly one of --before ID and --from ID")
		}
		arg := *before + *from
		id, err := parseID(arg)
		if err != nil {
			return err
		}
		l, err := openWrite(args[0], false)
		if err != nil {
			return err
		}
		defer closeLog(l, &err)
		st, err := l.Stats()
		if err != nil {
			return err
		}
		if st.EventCount == 0 {
			fmt.Fprintf(e.stdout, "deleted 0 events: the log is empty (next id %d)\n", st.NextEventID)
			return nil
		}
		start, end := st.OldestEventID, st.NewestEventID
		if *before != "" {
			if id == 0 {
				fmt.Fprintln(e.stdout, "deleted 0 events: no id is below 0")
				return nil
			}
			end = id - 1
		} else {
			start = id
		}
		removed := 0
		if start <= end {
			if removed, err = l.DeleteRange(start, end); err != nil {
				return err
			}
		}
		after, err := l.Stats()
		if err != nil {
			return err
		}
		lo, hi := max(start, st.OldestEventID), min(end, st.NewestEventID)
		if removed == 0 || lo > hi {
			fmt.Fprintf(e.stdout, "deleted 0 events; oldest id %d, next id %d\n", after.OldestEventID, after.NextEventID)
			return nil
		}
		state := fmt.Sprintf("oldest id %d, next id %d", after.OldestEventID, after.NextEventID)
		if after.EventCount == 0 {
			state = fmt.Sprintf("the log is empty, next id %d", after.NextEventID)
		}
		fmt.Fprintf(e.stdout, "deleted %s (ids %d..%d); %s\n", plural(uint64(removed), "event"), lo, hi, state)
		return nil
	}
	return c
}
