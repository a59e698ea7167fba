package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// A demo event carries who wrote it and checks itself:
//
//	offset  size  field
//	0       2     magic "RD"
//	2       1     writer (1..3)
//	3       1     incarnation of that writer (1, then 2 after a restart, ...)
//	4       8     seq: 0, 1, 2, ... per incarnation, in append order
//	12      8     prevReturn: CLOCK_MONOTONIC ns when this incarnation's previous Append
//	              returned (0 for seq 0); the follower measures that append's wake-up
//	              latency with it
//	20      2     filler length f (0..96, derived from writer, incarnation and seq)
//	22      f     filler bytes, derived from the same
//	22+f    4     CRC-32C of [0, 22+f)
//
// So every byte of an event follows from (writer, incarnation, seq, prevReturn): the
// parent rebuilds the exact bytes of every event a writer acknowledged and compares.
const (
	demoHeaderLen = 22
	demoMaxFiller = 96
)

var demoCRC = crc32.MakeTable(crc32.Castagnoli)

// demoEvent is the content of one demo event.
type demoEvent struct {
	writer, inc uint8
	seq         uint64
	prevReturn  int64
}

// stream identifies one incarnation of one writer.
func (d demoEvent) stream() streamKey { return streamKey{d.writer, d.inc} }

// streamKey is a writer and its incarnation.
type streamKey struct{ writer, inc uint8 }

// mix is a 64-bit hash of the event's identity (splitmix64's finalizer).
func (d demoEvent) mix() uint64 {
	z := d.seq*0x9E3779B97F4A7C15 + uint64(d.writer)<<56 + uint64(d.inc)<<48
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return z ^ z>>31
}

// appendTo appends the event's bytes to dst.
func (d demoEvent) appendTo(dst []byte) []byte {
	h := d.mix()
	f := int(h % (demoMaxFiller + 1))
	start := len(dst)
	dst = append(dst, 'R', 'D', d.writer, d.inc)
	dst = binary.LittleEndian.AppendUint64(dst, d.seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(d.prevReturn))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(f))
	for i := 0; i < f; i++ {
		dst = append(dst, byte(h>>(8*(i&7)))^byte(i))
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], demoCRC))
}

// errBadDemoEvent wraps every self-check failure of a demo event.
var errBadDemoEvent = errors.New("not a valid demo event")

// parseDemoEvent decodes b and checks it: magic, length, checksum and that its filler is
// the one its identity gives.
func parseDemoEvent(b []byte) (demoEvent, error) {
	var d demoEvent
	if len(b) < demoHeaderLen+4 || b[0] != 'R' || b[1] != 'D' {
		return d, fmt.Errorf("%w: %d bytes, bad magic or too short", errBadDemoEvent, len(b))
	}
	f := int(binary.LittleEndian.Uint16(b[20:22]))
	if len(b) != demoHeaderLen+f+4 {
		return d, fmt.Errorf("%w: %d bytes, its filler length says %d", errBadDemoEvent, len(b), demoHeaderLen+f+4)
	}
	if got, want := binary.LittleEndian.Uint32(b[len(b)-4:]), crc32.Checksum(b[:len(b)-4], demoCRC); got != want {
		return d, fmt.Errorf("%w: checksum %08x, want %08x", errBadDemoEvent, got, want)
	}
	d = demoEvent{writer: b[2], inc: b[3], seq: binary.LittleEndian.Uint64(b[4:12]), prevReturn: int64(binary.LittleEndian.Uint64(b[12:20]))}
	if int(d.mix()%(demoMaxFiller+1)) != f {
		return d, fmt.Errorf("%w: writer %d/%d seq %d: filler length %d is not its own", errBadDemoEvent, d.writer, d.inc, d.seq, f)
	}
	return d, nil
}

// Messages from a writer process to the demo's parent, on the writer's stdout: fixed
// records of four little-endian words, the first the kind.
const (
	msgAck   = 1 // id, seq, prevReturn of an acknowledged append (Append returned nil)
	msgStats = 2 // IDError retries so far
	msgHello = 3 // the ns Open took (with its repair), the writer's pid
	msgSize  = 32
)

// putMsg encodes one message.
func putMsg(dst []byte, kind, a, b, c uint64) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, kind)
	dst = binary.LittleEndian.AppendUint64(dst, a)
	dst = binary.LittleEndian.AppendUint64(dst, b)
	return binary.LittleEndian.AppendUint64(dst, c)
}
