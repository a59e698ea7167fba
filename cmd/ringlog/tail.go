package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/ringlog/ringlog/mmaplog"
)

// tailCommand is "ringlog tail": the last events, and -f to follow.
func tailCommand() *command {
	c := newCommand("tail", "DIR [-n N] [-f] [--format text|hex|json|raw]", "print the last events; -f follows the log", 1, 1)
	n := c.flags.Uint64("n", 10, "print the last `N` events")
	follow := c.flags.Bool("f", false, "then follow: print events as any process appends them, until interrupted")
	format := c.flags.String("format", "text", formatHelp)
	c.detail = `
Prints the last N live events. With -f it then waits for new events, appended by any
process, and prints each as it arrives, until interrupted (Ctrl-C, SIGTERM: exit status 0).
Opens the log read-only: it polls the tail at most 10 ms apart and takes no lock.`
	c.example = `
$ ringlog tail /var/lib/app/events -n 2
998	7	"event-1"
999	7	"event-2"
$ ringlog tail /var/lib/app/events -n 0 -f --format json`
	c.run = func(e *env, args []string) (err error) {
		ew, err := newEventWriter(e.stdout, *format)
		if err != nil {
			return err
		}
		l, err := openRead(args[0])
		if err != nil {
			return err
		}
		defer closeLog(l, &err)
		next, err := printLast(l, ew, *n)
		if err != nil || !*follow {
			return err
		}
		e.flush()
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		it := l.Follow(ctx, next)
		defer it.Close()
		for it.Next() {
			if err := ew.write(it.ID(), it.Value()); err != nil {
				return err
			}
			if err := e.stdout.Flush(); err != nil {
				return err
			}
		}
		if err := it.Err(); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	return c
}

// printLast prints the last n live events and returns the id after the newest one seen
// (where following goes on). Tombstoned ids in the window are made up for by widening it.
func printLast(l *mmaplog.Log, ew *eventWriter, n uint64) (uint64, error) {
	st, err := l.Stats()
	if err != nil {
		return 0, err
	}
	if n == 0 || st.EventCount == 0 {
		return st.NextEventID, nil
	}
	n = min(n, st.EventCount)
	end := st.NewestEventID + 1
	start := end - min(n, end-st.OldestEventID)
	for {
		ids, err := countLive(l, start, end)
		if err != nil {
			return 0, err
		}
		if ids >= n || start <= st.OldestEventID {
			break
		}
		start = max(st.OldestEventID, start-min(start, n-ids))
	}
	it, err := l.IterRange(start, end)
	if err != nil {
		return 0, err
	}
	var skip uint64
	if have, _ := countLive(l, start, end); have > n {
		skip = have - n
	}
	for id, v := range it.All() {
		if skip > 0 {
			skip--
			continue
		}
		if err := ew.write(id, v); err != nil {
			return 0, err
		}
	}
	return end, it.Err()
}

// countLive counts the live events in [start, end).
func countLive(l *mmaplog.Log, start, end uint64) (uint64, error) {
	it, err := l.IterRange(start, end)
	if err != nil {
		return 0, err
	}
	var c uint64
	for range it.All() {
		c++
	}
	return c, it.Err()
}
