package mmaplog_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ringlog/ringlog/flock"
	"github.com/ringlog/ringlog/mmaplog"
)

func inspect(t *testing.T, l *mmaplog.Log) *mmaplog.Inspection {
	t.Helper()
	in, err := l.Inspect()
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return in
}

func TestInspectRowsPerFile(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, 100, 40) // ids 0..99 in segment 0
	if _, err := l.Rotate(); err != nil {
		t.Fatal(err)
	}
	ctAppendN(t, l, 100, 40) // ids 100..199 in segment 1
	if _, err := l.Rotate(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ { // fast appends: 200..209 in segment 2, published by the tail count
		if _, err := l.Append(ctPayload(uint64(200+i), 40)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.DeleteRange(0, 9); err != nil || n != 10 {
		t.Fatalf("prefix delete: %d, %v", n, err)
	}
	if n, err := l.DeleteRange(150, 159); err != nil || n != 10 {
		t.Fatalf("interior delete: %d, %v", n, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	ro := ctOpen(t, dir, &mmaplog.Options{ReadOnly: true})
	in := inspect(t, ro)
	m := in.Meta
	if m.Version != 2 || m.SegmentSize != ctSegSize || m.NextEventID != 210 || m.OldestEventID != 10 || m.NewestEventID != 209 ||
		m.Live != 190 || m.Dead != 10 || m.ActiveSegment != 2 || m.FirstSegment != 0 || m.WriteOffset != 64+10*56 {
		t.Fatalf("meta row %+v", m)
	}
	want := []mmaplog.SegmentInfo{
		{Seq: 0, State: "sealed", Events: 90, FirstID: 10, LastID: 99, BytesUsed: 64 + 100*56, BytesAllocated: ctSegSize},
		{Seq: 1, State: "sealed", Events: 90, FirstID: 100, LastID: 199, BytesUsed: 64 + 100*56, BytesAllocated: ctSegSize},
		{Seq: 2, State: "active", Events: 10, FirstID: 200, LastID: 209, BytesUsed: 64 + 10*56, BytesAllocated: ctSegSize},
	}
	if len(in.Segments) != len(want) {
		t.Fatalf("%d segment rows, want %d: %+v", len(in.Segments), len(want), in.Segments)
	}
	for i, w := range want {
		g := in.Segments[i]
		w.Path = filepath.Join(dir, filepath.Base(g.Path))
		if g != w {
			t.Fatalf("segment row %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if len(in.Indexes) != 1 || in.Indexes[0].Role != "current" || in.Indexes[0].Capacity != 1024 || in.Indexes[0].Generation != 1 {
		t.Fatalf("index rows %+v", in.Indexes)
	}
	if len(in.Other) != 1 || in.Other[0] != "notes.txt" {
		t.Fatalf("other files %v", in.Other)
	}
	t.Logf("meta %+v", m)
}

func TestInspectLockHolderAndWaiters(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the holder comes from /proc/locks")
	}
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, 3, 10)
	if li := inspect(t, l).Lock; li.HolderPID != 0 || !li.HolderKnown || li.Waiters != 0 || len(li.WaiterPIDs) != 0 {
		t.Fatalf("idle log: lock %+v", li)
	}
	probe, err := flock.New(filepath.Join(dir, "lock"), 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := probe.Lock(); err != nil {
		t.Fatal(err)
	}
	if li := inspect(t, l).Lock; li.HolderPID != os.Getpid() {
		t.Fatalf("lock held by this process (%d): Inspect says %+v", os.Getpid(), li)
	}
	if li, err := l.LockStatus(); err != nil || li.HolderPID != os.Getpid() {
		t.Fatalf("lock held by this process (%d): LockStatus says %+v, %v", os.Getpid(), li, err)
	}
	if err := probe.Unlock(); err != nil {
		t.Fatal(err)
	}
	if li := inspect(t, l).Lock; li.HolderPID != 0 {
		t.Fatalf("lock released: Inspect says %+v", li)
	}
	// A waiter as a blocked writer leaves it: the count at 256, its pid in a slot at 384.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mmaplog.PatchFile(t, filepath.Join(dir, "meta"), 256, binary.LittleEndian.AppendUint32(nil, 1))
	mmaplog.PatchFile(t, filepath.Join(dir, "meta"), 384+4*3, binary.LittleEndian.AppendUint32(nil, 4242))
	ro := ctOpen(t, dir, &mmaplog.Options{ReadOnly: true})
	if li := inspect(t, ro).Lock; li.Waiters != 1 || len(li.WaiterPIDs) != 1 || li.WaiterPIDs[0] != 4242 {
		t.Fatalf("one waiter recorded: Inspect says %+v", li)
	}
}

func TestInspectGrowthTarget(t *testing.T) {
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, 512, 8)                             // span 512 = half the capacity of 1024
	if _, err := l.Append([]byte("grow")); err != nil { // span 513: a growth starts, 256 slots copied
		t.Fatal(err)
	}
	in := inspect(t, l)
	if len(in.Indexes) != 2 || in.Indexes[0].Role != "current" || in.Indexes[1].Role != "growth target" ||
		in.Indexes[1].Capacity != 2048 || in.Indexes[1].CopiedTo == 0 || in.Indexes[1].CopiedTo >= 513 {
		t.Fatalf("index rows during a growth: %+v", in.Indexes)
	}
}
