package bench

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/ringlog/ringlog/mmaplog"
	tidwal "github.com/tidwall/wal"
	"golang.org/x/sys/unix"
)

// durableSize is the payload size of every durable workload.
const durableSize = 128

// durableAppendImpls are the impls of BenchmarkDurableAppend and the goroutine counts each
// runs with. ringlog-syncid allocates its ids itself, so it runs with one writer only.
var durableAppendImpls = []struct {
	impl       string
	goroutines []int
}{
	{"ringlog-sync", []int{1, 8}},
	{"ringlog-syncid", []int{1}},
	{"ringlog-ring-syncid", []int{1}},
	{"ringlog-syncalways", []int{1, 8}},
	{"tidwall-sync", []int{1, 8}},
	{"raft-wal", []int{1, 8}},
	{"limit-fdatasync", []int{1, 8}},
}

// durable is a durable write of one implementation on a new log.
type durable struct {
	// op is one durable append (of an event or of a batch).
	op func() error
	// count returns the number of events in the log; nil for a limit.
	count func() (uint64, error)
	// flushes returns the flushes the handle ran (Stats.Flushes); nil for a peer or a
	// limit.
	flushes func() uint64
}

// ringlogFlushes returns a reader of l's Stats.Flushes.
func ringlogFlushes(l *mmaplog.Log) func() uint64 {
	return func() uint64 {
		st, _ := l.Stats()
		return st.Flushes
	}
}

// ringlogCount returns l's event count.
func ringlogCount(l *mmaplog.Log) func() (uint64, error) {
	return func() (uint64, error) {
		st, err := l.Stats()
		return st.EventCount, err
	}
}

// durableAppendOp returns one durable append of ev for impl (see BenchmarkDurableAppend),
// safe for concurrent use, on a new log in b's temporary directory closed when b ends.
// openRing opens a ringlog that runs as a ring in steady state (ringlog-ring-*): 1 MiB
// segments, Retention.MaxEvents 16384 (about 3 segments of 128-byte events), first run
// through 40 segments without Sync, so that every segment it writes next is a file a
// delete freed and the pool recycled (written blocks: no extent conversion in a flush).
func openRing(b testing.TB) (*mmaplog.Log, mmaplog.EventID) {
	b.Helper()
	l := openRinglog(b, &mmaplog.Options{SegmentSize: 1 << 20, Retention: mmaplog.Retention{MaxEvents: 16384}})
	batch := makeBatch(1000, durableSize)
	for range 40 * (1 << 20) / (1000 * (durableSize + 16)) {
		if _, err := l.AppendBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
	st, err := l.Stats()
	if err != nil {
		b.Fatal(err)
	}
	if st.RecycledSegments == 0 {
		b.Fatalf("the ring recycled no segment while it was filled (%+v)", st)
	}
	return l, st.NextEventID
}

// appendedSince counts the events appended to l after id from (the prefilled log of
// openRing: a ring's EventCount stays bounded).
func appendedSince(l *mmaplog.Log, from mmaplog.EventID) func() (uint64, error) {
	return func() (uint64, error) {
		next, err := l.NextEventID()
		return next - from, err
	}
}

// appendWithIDSync returns one AppendWithID + Sync of ev at the next id from next on,
// safe for concurrent use (the ids are allocated under a mutex).
func appendWithIDSync(l *mmaplog.Log, next mmaplog.EventID, ev []byte) func() error {
	var mu sync.Mutex
	return func() error {
		mu.Lock()
		defer mu.Unlock()
		if err := l.AppendWithID(next, ev); err != nil {
			return err
		}
		next++
		return l.Sync()
	}
}

func durableAppendOp(b testing.TB, impl string, ev []byte) durable {
	b.Helper()
	switch impl {
	case "ringlog-ring-syncid":
		l, next := openRing(b)
		return durable{count: appendedSince(l, next), flushes: ringlogFlushes(l), op: appendWithIDSync(l, next, ev)}
	case "ringlog-sync":
		l := openRinglog(b, nil)
		return durable{count: ringlogCount(l), flushes: ringlogFlushes(l), op: func() error {
			if _, err := l.Append(ev); err != nil {
				return err
			}
			return l.Sync()
		}}
	case "ringlog-syncid":
		l := openRinglog(b, nil)
		return durable{count: ringlogCount(l), flushes: ringlogFlushes(l), op: appendWithIDSync(l, 1, ev)}
	case "ringlog-syncalways":
		l := openRinglog(b, &mmaplog.Options{Sync: mmaplog.SyncAlways})
		return durable{count: ringlogCount(l), flushes: ringlogFlushes(l), op: func() error {
			_, err := l.Append(ev)
			return err
		}}
	case "tidwall-sync":
		l := openTidwall(b, "", tidwallOptions(false))
		var mu sync.Mutex
		next := uint64(1)
		return durable{count: l.LastIndex, op: func() error {
			mu.Lock()
			defer mu.Unlock()
			if err := l.Write(next, ev); err != nil {
				return err
			}
			next++
			return nil
		}}
	case "raft-wal":
		w := openRaftWALB(b)
		var mu sync.Mutex
		rl := raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: ev}
		return durable{count: w.LastIndex, op: func() error {
			mu.Lock()
			defer mu.Unlock()
			if err := w.StoreLog(&rl); err != nil {
				return err
			}
			rl.Index++
			return nil
		}}
	case "limit-fdatasync":
		f := syncFile(b)
		var off atomic.Int64
		return durable{op: func() error {
			return pwriteSync(f, off.Add(int64(len(ev)))-int64(len(ev)), ev)
		}}
	}
	b.Fatalf("unknown impl %q", impl)
	return durable{}
}

// openRaftWALB opens a raft-wal in b's temporary directory, closed when b ends.
func openRaftWALB(b testing.TB) *raftwal.WAL {
	b.Helper()
	w, closeFn, err := openRaftWAL(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeFn() })
	return w
}

// BenchmarkDurableAppend appends one 128 B event per call from 1 and 8 goroutines on one
// handle, each event durable when its call returns:
//   - ringlog-sync: Append + Sync (default options);
//   - ringlog-syncid: AppendWithID + Sync, one writer allocating its ids;
//   - ringlog-ring-syncid: the same on a ring in steady state (openRing): every segment
//     it moves into is a recycled file;
//   - ringlog-syncalways: Append on a handle opened with Sync: SyncAlways (group commit
//     across the goroutines);
//   - tidwall-sync: tidwall/wal Write with NoSync false (an fsync per Write);
//   - raft-wal: StoreLog (an fsync per call);
//   - limit-fdatasync: pwrite of the payload into a written file + fdatasync.
//
// ns/op is per event across all goroutines; events/s is the aggregate throughput.
//
// tidwall/wal and raft-wal take only the next index, so their goroutines allocate it
// under a mutex of the benchmark held across the call; raft-wal serializes StoreLog
// calls under its own writeMu anyway (no group commit: one fsync per call).
func BenchmarkDurableAppend(b *testing.B) {
	ev := payload(durableSize)
	for _, d := range durableAppendImpls {
		for _, goroutines := range d.goroutines {
			b.Run(fmt.Sprintf("impl=%s/goroutines=%d/size=%d", d.impl, goroutines, durableSize), func(b *testing.B) {
				w := durableAppendOp(b, d.impl, ev)
				b.ReportAllocs()
				b.SetBytes(durableSize)
				dev := startDeviceMeter(b)
				var flushes0 uint64
				if w.flushes != nil {
					flushes0 = w.flushes()
				}
				b.ResetTimer()
				// b.N operations shared by the goroutines (b.Loop drives one goroutine only).
				if err := runShared(b.N, goroutines, w.op); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				dev(b.N)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
				if w.flushes != nil {
					// Group commit: how many events one device flush carried, and how
					// long one flush cycle took (flush, wake-ups, the next appends).
					if n := w.flushes() - flushes0; n > 0 {
						b.ReportMetric(float64(b.N)/float64(n), "events/flush")
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(n), "µs/flush")
					}
				}
			})
		}
	}
}

// startDeviceMeter starts counting what the block device holding b's temporary
// directories writes; the function it returns reports it as dev-KiB/op over ops
// operations (other writers of the device count too). It reports nothing where the
// device's statistics cannot be read.
func startDeviceMeter(b *testing.B) func(ops int) {
	dir, err := os.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dir.Close() })
	start := devSectors(dir)
	return func(ops int) {
		if end := devSectors(dir); start >= 0 && end >= start && ops > 0 {
			b.ReportMetric(float64(end-start)*512/1024/float64(ops), "dev-KiB/op")
		}
	}
}

// runShared runs op n times in all, from goroutines goroutines, and returns the first
// error.
func runShared(n, goroutines int, op func() error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := op(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// durableBatchImpls are the impls of BenchmarkDurableBatch.
var durableBatchImpls = []string{"ringlog-sync", "ringlog-syncid", "ringlog-ring-syncid", "ringlog-syncalways", "tidwall-sync", "raft-wal", "limit-fdatasync"}

// durableBatchOp returns one durable append of batch for impl (see
// BenchmarkDurableBatch), on a new log in b's temporary directory closed when b ends.
// Not safe for concurrent use.
func durableBatchOp(b testing.TB, impl string, batch [][]byte) durable {
	b.Helper()
	n := uint64(len(batch))
	switch impl {
	case "ringlog-ring-syncid":
		l, next := openRing(b)
		count := appendedSince(l, next)
		return durable{count: count, op: func() error {
			if err := l.AppendBatchWithIDs(next, batch); err != nil {
				return err
			}
			next += n
			return l.Sync()
		}}
	case "ringlog-sync":
		l := openRinglog(b, nil)
		return durable{count: ringlogCount(l), op: func() error {
			if _, err := l.AppendBatch(batch); err != nil {
				return err
			}
			return l.Sync()
		}}
	case "ringlog-syncid":
		l := openRinglog(b, nil)
		next := mmaplog.EventID(1)
		return durable{count: ringlogCount(l), op: func() error {
			if err := l.AppendBatchWithIDs(next, batch); err != nil {
				return err
			}
			next += n
			return l.Sync()
		}}
	case "ringlog-syncalways":
		l := openRinglog(b, &mmaplog.Options{Sync: mmaplog.SyncAlways})
		return durable{count: ringlogCount(l), op: func() error {
			_, err := l.AppendBatch(batch)
			return err
		}}
	case "tidwall-sync":
		l := openTidwall(b, "", tidwallOptions(false))
		var tb tidwal.Batch
		next := uint64(1)
		return durable{count: l.LastIndex, op: func() error {
			for _, ev := range batch {
				tb.Write(next, ev)
				next++
			}
			return l.WriteBatch(&tb) // one fsync per batch with NoSync false
		}}
	case "raft-wal":
		w := openRaftWALB(b)
		logs := make([]*raft.Log, len(batch))
		for i, ev := range batch {
			logs[i] = &raft.Log{Index: uint64(i) + 1, Term: 1, Type: raft.LogCommand, Data: ev}
		}
		return durable{count: w.LastIndex, op: func() error {
			if err := w.StoreLogs(logs); err != nil {
				return err
			}
			for _, rl := range logs {
				rl.Index += n
			}
			return nil
		}}
	case "limit-fdatasync":
		f := syncFile(b)
		var buf []byte
		for _, ev := range batch {
			buf = append(buf, ev...)
		}
		var off int64
		return durable{op: func() error {
			err := pwriteSync(f, off, buf)
			off += int64(len(buf))
			return err
		}}
	}
	b.Fatalf("unknown impl %q", impl)
	return durable{}
}

// BenchmarkDurableBatch appends 100 events of 128 B per call, durable when the call
// returns: ringlog AppendBatch + Sync (ringlog-sync), AppendBatchWithIDs + Sync
// (ringlog-syncid; ringlog-ring-syncid on a ring in steady state, whose segments are
// recycled files), AppendBatch under SyncAlways (ringlog-syncalways), tidwall/wal Batch +
// WriteBatch with NoSync false (one fsync per batch), raft-wal StoreLogs of 100 (one fsync
// per call), and the limit: one pwrite of the 100 payloads (12.5 KiB) + fdatasync. It
// reports ns/event beside ns/op.
func BenchmarkDurableBatch(b *testing.B) {
	const n = 100
	batch := makeBatch(n, durableSize)
	for _, impl := range durableBatchImpls {
		b.Run(fmt.Sprintf("impl=%s/n=%d/size=%d", impl, n, durableSize), func(b *testing.B) {
			w := durableBatchOp(b, impl, batch)
			b.ReportAllocs()
			b.SetBytes(n * durableSize)
			dev := startDeviceMeter(b)
			ops := 0
			for b.Loop() {
				if err := w.op(); err != nil {
					b.Fatal(err)
				}
				ops++
			}
			dev(ops)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops*n), "ns/event")
			b.ReportMetric(float64(ops*n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// durableProcessEvents returns the events each appending process appends per op of
// BenchmarkDurableMultiProcess.
func durableProcessEvents() int {
	if testing.Short() {
		return 200
	}
	return 1000
}

// BenchmarkDurableMultiProcess appends 128 B events with Append from 1 and 2 processes at
// once to one ringlog opened with Sync: SyncAlways in each process (every append durable
// when it returns): each process opens the log, then all start together and append
// durableProcessEvents() events each. events/s is the aggregate rate over the append
// phase (first start to last end), ns/event its inverse; ns/op is one whole round,
// process start included.
func BenchmarkDurableMultiProcess(b *testing.B) {
	events := durableProcessEvents()
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("impl=ringlog-syncalways/procs=%d/size=%d", procs, durableSize), func(b *testing.B) {
			benchRounds(b, b.TempDir(), procs, events, durableSize, envSync+"=always")
		})
	}
}

// BenchmarkSyncIdle calls Sync on a log with nothing new to flush: one event was appended
// and synced before the timer starts (ringlog: default options; ringlog-syncalways: a
// handle opened with SyncAlways). The limit is one cheap system call (getppid), the
// least a Sync that enters the kernel pays.
func BenchmarkSyncIdle(b *testing.B) {
	for _, impl := range []string{"ringlog", "ringlog-syncalways", "limit-syscall"} {
		b.Run(fmt.Sprintf("impl=%s/size=%d", impl, durableSize), func(b *testing.B) {
			b.ReportAllocs()
			if impl == "limit-syscall" {
				for b.Loop() {
					unix.Getppid()
				}
				return
			}
			opts := &mmaplog.Options{}
			if impl == "ringlog-syncalways" {
				opts.Sync = mmaplog.SyncAlways
			}
			l := openRinglog(b, opts)
			if _, err := l.Append(payload(durableSize)); err != nil {
				b.Fatal(err)
			}
			if err := l.Sync(); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := l.Sync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// durablePairsChild is the strace-durable child: it opens (creating) the log in dir with
// default options, makes pairs AppendWithID + Sync pairs, then idle more calls of Sync
// with nothing new, and closes the log. bench/strace-durable.sh counts its system calls.
func durablePairsChild(dir string, pairs, size int) error {
	idle, err := strconv.Atoi(os.Getenv(envIdle))
	if err != nil {
		return fmt.Errorf("%s: %w", envIdle, err)
	}
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		return err
	}
	defer l.Close()
	ev := payload(size)
	for i := range pairs {
		if err := l.AppendWithID(mmaplog.EventID(i+1), ev); err != nil {
			return err
		}
		if err := l.Sync(); err != nil {
			return err
		}
	}
	for range idle {
		if err := l.Sync(); err != nil {
			return err
		}
	}
	n, err := l.NextEventID()
	if err != nil {
		return err
	}
	fmt.Printf("pairs %d idle %d next %d\n", pairs, idle, n)
	return l.Close()
}
