package fuzz

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hangTimeout bounds one input. The fuzzer does not report an input that never returns;
// the watchdog turns it into a crash, with every goroutine's stack, that the fuzzer keeps.
const hangTimeout = 10 * time.Second

// watchdog starts the hang timer of one input; call the returned func when it is done.
func watchdog(t *testing.T) func() {
	name := t.Name()
	timer := time.AfterFunc(hangTimeout, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		panic(fmt.Sprintf("%s: input still running after %v (hang?)\n%s", name, hangTimeout, buf))
	})
	return func() { timer.Stop() }
}

// updateSeeds regenerates the seed corpora under testdata/fuzz from the seed programs in
// seeds_test.go: go test ./fuzz -run TestSeedCorpus -update-seeds
var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/<Target>/seed-* from the seed programs")

// decoder reads a fuzz input as a stream of small fields. Past the end every field reads
// as zero, so any input, even an empty one, decodes to a valid program.
type decoder struct {
	b []byte
}

func (d *decoder) more() bool { return len(d.b) > 0 }

func (d *decoder) u8() byte {
	if len(d.b) == 0 {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u16() uint16 { return uint16(d.u8()) | uint16(d.u8())<<8 }

func (d *decoder) u32() uint32 { return uint32(d.u16()) | uint32(d.u16())<<16 }

func (d *decoder) u64() uint64 { return uint64(d.u32()) | uint64(d.u32())<<32 }

// encoder is the inverse of decoder: seed programs are written with it.
type encoder struct {
	b []byte
}

func (e *encoder) u8(v byte) *encoder { e.b = append(e.b, v); return e }

func (e *encoder) u16(v uint16) *encoder { e.b = binary.LittleEndian.AppendUint16(e.b, v); return e }

func (e *encoder) u32(v uint32) *encoder { e.b = binary.LittleEndian.AppendUint32(e.b, v); return e }

func (e *encoder) u64(v uint64) *encoder { e.b = binary.LittleEndian.AppendUint64(e.b, v); return e }

func (e *encoder) raw(b []byte) *encoder { e.b = append(e.b, b...); return e }

// Payload sizes and contents. A payload is described by a size field and a fill byte:
//
//	s < 0x80     size s%64 (small events, so many fit a segment)
//	s >= 0x80    size ((s&0x7f)<<8 | next byte) % (maxPayload+1)
//
// and its bytes are a pseudo-random stream seeded by the fill byte and a counter, so two
// payloads of one run never collide by accident.
const maxPayload = 3000

func (d *decoder) payloadSize() int {
	s := d.u8()
	if s < 0x80 {
		return int(s % 64)
	}
	return int(uint16(s&0x7f)<<8|uint16(d.u8())) % (maxPayload + 1)
}

// payloadSize encodes size n (n <= maxPayload).
func (e *encoder) payloadSize(n int) *encoder {
	if n < 64 {
		return e.u8(byte(n))
	}
	return e.u8(0x80 | byte(n>>8)).u8(byte(n))
}

// fillPayload returns n bytes derived from fill and counter.
func fillPayload(n int, fill byte, counter uint64) []byte {
	p := make([]byte, n)
	x := uint64(fill)*0x9E3779B97F4A7C15 ^ counter*0xBF58476D1CE4E5B9 ^ uint64(n)
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x >> 32)
	}
	return p
}

// corpusFile renders values in the "go test fuzz v1" format.
func corpusFile(vals ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		case uint64:
			fmt.Fprintf(&b, "uint64(%d)\n", v)
		case uint32:
			fmt.Fprintf(&b, "uint32(%d)\n", v)
		default:
			panic(fmt.Sprintf("corpusFile: unsupported %T", v))
		}
	}
	return b.Bytes()
}

// seed is one named seed corpus entry of a target.
type seed struct {
	name string
	vals []any
}

// syncSeeds writes (with -update-seeds) or checks the seed files of target.
func syncSeeds(t interface {
	Helper()
	Fatalf(string, ...any)
}, target string, seeds []seed) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	for _, s := range seeds {
		want := corpusFile(s.vals...)
		name := s.name
		if !strings.HasPrefix(name, "bug-") { // bug-*: the reproduction of a library bug
			name = "seed-" + name
		}
		path := filepath.Join(dir, name)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatalf("%v", err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatalf("%v", err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("seed %s: %v (regenerate with -update-seeds)", path, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seed %s is stale (regenerate with -update-seeds)", path)
		}
	}
}
