package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ringlog/ringlog/mmaplog"
)

// appendCommand is "ringlog append": events from stdin.
func appendCommand() *command {
	c := newCommand("append", "DIR [--framed] [--sync]", "append events read from stdin", 1, 1)
	framed := c.flags.Bool("framed", false, "read uvarint-length-prefixed frames (what dump --format raw writes) instead of lines")
	durable := c.flags.Bool("sync", false, "make the events durable (Sync) before returning")
	c.detail = `
Appends the events read from stdin: one per line by default (the line without its "\n"
or "\r\n"; an empty line is an empty event), or with --framed each a uvarint length
followed by that many bytes. Events are appended in batches, with ids allocated under
the write lock (Append), so other writers may append at the same time. Prints how many
were appended and the first and last id. A directory that does not exist or is empty
becomes a new log.

Bad input (an event longer than the log's largest event, a truncated frame) is an error
naming the line or frame and its byte offset; the events before it stay appended and are
reported.`
	c.example = `
$ printf 'hello\nworld\n' | ringlog append /var/lib/app/events
appended 2 events: ids 0..1
$ ringlog dump old-log --format raw | ringlog append new-log --framed --sync`
	c.run = func(e *env, args []string) (err error) {
		l, err := openWrite(args[0], true)
		if err != nil {
			return err
		}
		defer closeLog(l, &err)
		st, err := l.Stats()
		if err != nil {
			return err
		}
		src := &eventSource{r: bufio.NewReaderSize(e.stdin, 1<<20), framed: *framed, max: st.MaxEventSize}
		a := &appender{l: l, maxBatch: min(st.MaxBatchBytes, 4<<20)}
		inputErr := a.appendAll(src)
		if inputErr == nil && *durable && a.n > 0 {
			if err := l.Sync(); err != nil {
				return fmt.Errorf("%s: sync: %w", args[0], err)
			}
		}
		a.report(e)
		return inputErr
	}
	return c
}

// appender appends events in batches and remembers what it appended.
type appender struct {
	l           *mmaplog.Log
	maxBatch    uint64
	batch       [][]byte
	bytes       uint64
	n           uint64 // events appended
	first, last uint64
}

// appendAll appends every event src yields. An input error is returned after the events
// before it were appended.
func (a *appender) appendAll(src *eventSource) error {
	for {
		ev, err := src.next()
		if err == io.EOF {
			return a.flush()
		}
		if err != nil {
			if ferr := a.flush(); ferr != nil {
				return ferr
			}
			return err
		}
		if a.bytes+uint64(len(ev)) > a.maxBatch || len(a.batch) == 4096 {
			if err := a.flush(); err != nil {
				return err
			}
		}
		a.batch = append(a.batch, ev)
		a.bytes += uint64(len(ev))
	}
}

// flush appends the pending batch.
func (a *appender) flush() error {
	if len(a.batch) == 0 {
		return nil
	}
	first, err := a.l.AppendBatch(a.batch)
	if err != nil {
		return fmt.Errorf("%s: append: %w", a.l.Dir(), err)
	}
	if a.n == 0 {
		a.first = first
	}
	a.n += uint64(len(a.batch))
	a.last = first + uint64(len(a.batch)) - 1
	a.batch, a.bytes = a.batch[:0], 0
	return nil
}

// report prints what was appended.
func (a *appender) report(e *env) {
	switch a.n {
	case 0:
		fmt.Fprintln(e.stdout, "appended 0 events")
	case 1:
		fmt.Fprintf(e.stdout, "appended 1 event: id %d\n", a.first)
	default:
		fmt.Fprintf(e.stdout, "appended %s events: ids %d..%d\n", count(a.n), a.first, a.last)
	}
}

// eventSource splits stdin into events: lines, or uvarint-length-prefixed frames.
type eventSource struct {
	r      *bufio.Reader
	framed bool
	max    uint64 // the largest event the log accepts
	item   int    // events read so far
	pos    int64  // byte offset of the next item
}

// errBadInput wraps every input error of append.
var errBadInput = errors.New("bad input")

// next returns the next event (a fresh slice), io.EOF at the end, or an input error
// naming the item and its byte offset.
func (s *eventSource) next() ([]byte, error) {
	s.item++
	if s.framed {
		return s.nextFrame()
	}
	return s.nextLine()
}

// nextLine reads one line: the event is the line without its "\n" or "\r\n".
func (s *eventSource) nextLine() ([]byte, error) {
	start := s.pos
	var line []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		line = append(line, chunk...)
		s.pos += int64(len(chunk))
		if uint64(len(line)) > s.max+2 {
			return nil, fmt.Errorf("%w: stdin line %d (at byte %d): longer than the largest event (%d bytes)", errBadInput, s.item, start, s.max)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) == 0 {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		break
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	if uint64(len(line)) > s.max {
		return nil, fmt.Errorf("%w: stdin line %d (at byte %d): %d bytes, longer than the largest event (%d bytes)", errBadInput, s.item, start, len(line), s.max)
	}
	return line, nil
}

// nextFrame reads one uvarint-length-prefixed frame.
func (s *eventSource) nextFrame() ([]byte, error) {
	start := s.pos
	n, err := binary.ReadUvarint(&countingReader{s})
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: stdin frame %d (at byte %d): truncated in its length", errBadInput, s.item, start)
		}
		return nil, fmt.Errorf("%w: stdin frame %d (at byte %d): bad length: %v", errBadInput, s.item, start, err)
	}
	if n > s.max {
		return nil, fmt.Errorf("%w: stdin frame %d (at byte %d): length %d, longer than the largest event (%d bytes)", errBadInput, s.item, start, n, s.max)
	}
	ev := make([]byte, n)
	got, err := io.ReadFull(s.r, ev)
	s.pos += int64(got)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("%w: stdin frame %d (at byte %d): truncated: %d of its %d bytes", errBadInput, s.item, start, got, n)
	}
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return ev, nil
}

// countingReader is an io.ByteReader over the source that counts the bytes read.
type countingReader struct{ s *eventSource }

// ReadByte reads one byte of the source and counts it.
func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.s.r.ReadByte()
	if err == nil {
		c.s.pos++
	}
	return b, err
}
