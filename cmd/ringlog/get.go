package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/ringlog/ringlog/mmaplog"
)

// getCommand is "ringlog get": one event's bytes.
func getCommand() *command {
	c := newCommand("get", "DIR ID", "write one event's bytes, unchanged, to stdout", 2, 2)
	c.detail = `
Writes the bytes of event ID to stdout exactly as they were appended (no newline is
added). An id that is not a live event is an error (exit status 1). Opens the log
read-only.`
	c.example = `
$ ringlog get /var/lib/app/events 100 > event-100.bin
$ ringlog get /var/lib/app/events 100; echo
hello`
	c.run = func(e *env, args []string) (err error) {
		id, err := parseID(args[1])
		if err != nil {
			return err
		}
		l, err := openRead(args[0])
		if err != nil {
			return err
		}
		defer closeLog(l, &err)
		err = l.View(id, func(b []byte) error {
			_, werr := e.stdout.Write(b)
			return werr
		})
		if errors.Is(err, mmaplog.ErrNotFound) {
			return fmt.Errorf("%s: event %d: not found (not a live event)", args[0], id)
		}
		return err
	}
	return c
}

// parseID parses an event id argument.
func parseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usagef("event id %q: want a decimal number", s)
	}
	return id, nil
}
