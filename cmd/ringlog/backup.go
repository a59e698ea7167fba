package main

import (
	"fmt"

	"github.com/ringlog/ringlog/mmaplog"
)

// backupCommand is "ringlog backup": an online, consistent copy.
func backupCommand() *command {
	c := newCommand("backup", "DIR DEST", "write an online, consistent copy of the log into DEST", 2, 2)
	c.detail = `
Copies the log in DIR into DEST (a new or empty directory) while writers in any process
keep appending: DEST becomes a log holding exactly the events of one commit point. The
writer lock is held only for the snapshot of the state and its index slots; the record
bytes are copied without it. The cursors (ringlog cursors) are copied at their
positions of that commit point. Every file is fsynced before it returns, and the copy is
checked (mmaplog.Check) before it reports success. Progress on stderr: a bar on a
terminal, plain lines otherwise. Opens DIR as a writer (it needs the lock briefly).`
	c.example = `
$ ringlog backup /var/lib/app/events /backup/events-2026-12-01
backup: 131.2 MiB/131.2 MiB (100%), 1.1 GiB/s, in 118.52 ms
copied 1,000,000 events (ids 0..999999) in 3 segment files, 131.2 MiB, to /backup/events-2026-12-01; it checks clean`
	c.run = func(e *env, args []string) (err error) {
		l, err := openWrite(args[0], false)
		if err != nil {
			return err
		}
		defer closeLog(l, &err)
		p := newProgress(e.stderr, e.stderrTTY, e.stderrCol, "backup", "bytes")
		var done, total uint64
		info, err := l.Backup(args[1], &mmaplog.BackupOptions{Progress: func(d, t uint64) {
			done, total = d, t
			p.update(d, t)
		}})
		if err != nil {
			return err
		}
		p.finish(done, total)
		ids := "no events"
		if info.Events > 0 {
			ids = fmt.Sprintf("%s (ids %d..%d)", plural(info.Events, "event"), info.OldestEventID, info.NextEventID-1)
		}
		if info.Cursors > 0 {
			ids += " and " + plural(uint64(info.Cursors), "cursor")
		}
		fmt.Fprintf(e.stdout, "copied %s in %s, %s, to %s; it checks clean\n", ids, plural(uint64(info.Segments), "segment file"), size(info.Bytes), args[1])
		return nil
	}
	return c
}
