package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// The demo's three writer modes.
const (
	modeHoldLock = "HoldLock"     // Append on a handle that keeps the lock between calls
	modeAppend   = "Append"       // Append, one flock per call
	modeWithID   = "AppendWithID" // compare-and-append with the id it believes next, retrying on IDError
)

// ackFlushEvery bounds how long acknowledgements wait in the writer's buffer: what a
// SIGKILL can take away from the parent's count (the events stay in the log, as
// unacknowledged ones).
const ackFlushEvery = 5 * time.Millisecond

// runDemoWriter is the demo-writer role: args are DIR MODE WRITER INCARNATION RATE. It
// appends demo events, at most RATE a second (0: unpaced), until its stdin is closed,
// and reports every acknowledged append to its parent on stdout.
func runDemoWriter(args []string) error {
	if len(args) != 5 {
		return fmt.Errorf("want DIR MODE WRITER INCARNATION RATE, got %q", args)
	}
	dir, mode := args[0], args[1]
	writer, err1 := strconv.ParseUint(args[2], 10, 8)
	inc, err2 := strconv.ParseUint(args[3], 10, 8)
	rate, err3 := strconv.ParseUint(args[4], 10, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	opened := time.Now()
	l, err := mmaplog.Open(dir, &mmaplog.Options{HoldLock: mode == modeHoldLock})
	if err != nil {
		return err
	}
	defer l.Close()
	var msg []byte
	msg = putMsg(msg[:0], msgHello, uint64(time.Since(opened)), uint64(os.Getpid()), 0)
	if _, err := out.Write(msg); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	var stop atomic.Bool
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes stdin: stop
		stop.Store(true)
	}()
	next, err := l.NextEventID()
	if err != nil {
		return err
	}
	var (
		buf        []byte
		prevReturn int64
		retries    uint64
		lastFlush  = monoNow()
		paceStart  = lastFlush
	)
	for seq := uint64(0); !stop.Load(); seq++ {
		if rate > 0 && seq%16 == 0 {
			if ahead := paceStart + int64(seq*uint64(time.Second)/rate) - monoNow(); ahead > 0 {
				if err := out.Flush(); err != nil { // nothing waits while it sleeps
					return err
				}
				time.Sleep(time.Duration(ahead))
			}
		}
		d := demoEvent{writer: uint8(writer), inc: uint8(inc), seq: seq, prevReturn: prevReturn}
		buf = d.appendTo(buf[:0])
		var id uint64
		switch mode {
		case modeHoldLock, modeAppend:
			if id, err = l.Append(buf); err != nil {
				return fmt.Errorf("append seq %d: %w", seq, err)
			}
		case modeWithID:
			for {
				err = l.AppendWithID(next, buf)
				var idErr *mmaplog.IDError
				if errors.As(err, &idErr) {
					retries++
					next = idErr.Expected
					continue
				}
				if err != nil {
					return fmt.Errorf("append seq %d at id %d: %w", seq, next, err)
				}
				break
			}
			id, next = next, next+1
		default:
			return fmt.Errorf("unknown mode %q", mode)
		}
		prevReturn = monoNow()
		msg = putMsg(msg[:0], msgAck, id, seq, uint64(d.prevReturn))
		if _, err := out.Write(msg); err != nil {
			return err
		}
		if prevReturn-lastFlush > int64(ackFlushEvery) {
			msg = putMsg(msg[:0], msgStats, retries, 0, 0)
			out.Write(msg)
			if err := out.Flush(); err != nil {
				return err
			}
			lastFlush = prevReturn
		}
	}
	msg = putMsg(msg[:0], msgStats, retries, 0, 0)
	out.Write(msg)
	return out.Flush()
}
