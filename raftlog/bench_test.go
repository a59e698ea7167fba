package raftlog_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftbench "github.com/hashicorp/raft/bench"
	"github.com/ringlog/ringlog/raftlog/internal/cluster"
	"golang.org/x/sys/unix"
)

// impls are the stores every benchmark compares: ringlog first (the base of the ratios),
// then the two peers raft users pick today.
var impls = []string{"ringlog", "raft-wal", "raft-boltdb"}

// openImpl opens impl's log and stable store in dir, closed when b ends.
func openImpl(b testing.TB, impl, dir string) (raft.LogStore, raft.StableStore) {
	b.Helper()
	logs, stable, closeFn, err := storeFactories[impl](dir)
	if err != nil {
		b.Fatalf("open %s: %v", impl, err)
	}
	b.Cleanup(func() { closeFn() })
	return logs, stable
}

// BenchmarkRaftbench runs hashicorp/raft's own store benchmarks (raft/bench) on the three
// stores in one run. raftbench's StoreLog starts at index 0 and its DeleteRange preloads
// {10n, 10n+1, 10n+2}, leaving gaps: raftlog and raft-wal refuse index 0 (raft never
// writes it) and gaps (raft never leaves any), so those two run on raft-boltdb only, and
// StoreLogDense and DeleteRangeDense are their dense equivalents, run on all three:
// StoreLog of 1, 2, 3, ... and prefix deletes of 3 entries from a dense preload.
func BenchmarkRaftbench(b *testing.B) {
	logBench := map[string]func(*testing.B, raft.LogStore){
		"FirstIndex": raftbench.FirstIndex, "LastIndex": raftbench.LastIndex, "GetLog": raftbench.GetLog,
		"StoreLog": raftbench.StoreLog, "StoreLogs": raftbench.StoreLogs, "DeleteRange": raftbench.DeleteRange,
		"StoreLogDense": storeLogDense, "DeleteRangeDense": deleteRangeDense,
	}
	stableBench := map[string]func(*testing.B, raft.StableStore){
		"Set": raftbench.Set, "Get": raftbench.Get, "SetUint64": raftbench.SetUint64, "GetUint64": raftbench.GetUint64,
	}
	order := []string{"FirstIndex", "LastIndex", "GetLog", "StoreLog", "StoreLogDense", "StoreLogs",
		"DeleteRange", "DeleteRangeDense", "Set", "Get", "SetUint64", "GetUint64"}
	cannot := map[string]bool{"StoreLog/ringlog": true, "StoreLog/raft-wal": true, "DeleteRange/ringlog": true, "DeleteRange/raft-wal": true}
	for _, name := range order {
		for _, impl := range impls {
			if cannot[name+"/"+impl] {
				continue
			}
			b.Run(fmt.Sprintf("%s/impl=%s", name, impl), func(b *testing.B) {
				logs, stable := openImpl(b, impl, filepath.Join(b.TempDir(), "store"))
				b.ReportAllocs()
				if f := logBench[name]; f != nil {
					f(b, logs)
				} else {
					stableBench[name](b, stable)
				}
			})
		}
	}
}

// storeLogDense is raftbench.StoreLog with indexes from 1.
func storeLogDense(b *testing.B, store raft.LogStore) {
	for n := 0; n < b.N; n++ {
		if err := store.StoreLog(&raft.Log{Index: uint64(n + 1), Data: []byte("data")}); err != nil {
			b.Fatalf("err: %s", err)
		}
	}
}

// deleteRangeDense is raftbench.DeleteRange on a dense preload: 3 entries per iteration,
// each iteration deleting the next 3 from the head.
func deleteRangeDense(b *testing.B, store raft.LogStore) {
	var logs []*raft.Log
	for i := 1; i <= 3*b.N; i++ {
		logs = append(logs, &raft.Log{Index: uint64(i), Data: []byte("data")})
	}
	if err := store.StoreLogs(logs); err != nil {
		b.Fatalf("err: %s", err)
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if err := store.DeleteRange(uint64(3*n+1), uint64(3*n+3)); err != nil {
			b.Fatalf("err: %s", err)
		}
	}
}

// entry128 is an entry of 128 bytes of data, as raft's leader writes them.
func entry128(index uint64) *raft.Log {
	data := make([]byte, 128)
	for i := range data {
		data[i] = byte(index + uint64(i))
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()}
}

// BenchmarkStoreLogs stores batches of 1 and 64 entries of 128 B, durably (each store
// flushes every call), from one goroutine. The baseline limit-fdatasync is a pwrite of
// 4 KiB into a written file plus fdatasync: the floor of one durable write here;
// limit-msync the floor of one through a shared mapping (msyncLimit).
func BenchmarkStoreLogs(b *testing.B) {
	for _, n := range []int{1, 64} {
		for _, impl := range append(impls[:len(impls):len(impls)], "limit-fdatasync", "limit-msync") {
			b.Run(fmt.Sprintf("entries=%d/impl=%s", n, impl), func(b *testing.B) {
				b.SetBytes(int64(128 * n))
				b.ReportAllocs()
				if impl == "limit-fdatasync" {
					f := writtenFile(b, 64<<20)
					page := make([]byte, 4096)
					off := int64(0)
					for b.Loop() {
						if _, err := unix.Pwrite(int(f.Fd()), page, off); err != nil {
							b.Fatal(err)
						}
						if err := unix.Fdatasync(int(f.Fd())); err != nil {
							b.Fatal(err)
						}
						off = (off + 4096) % (64 << 20)
					}
					return
				}
				if impl == "limit-msync" {
					msyncLimit(b, n)
					return
				}
				logs, _ := openImpl(b, impl, filepath.Join(b.TempDir(), "store"))
				batch := make([]*raft.Log, n)
				for i := range batch {
					batch[i] = entry128(uint64(i + 1))
				}
				next := uint64(1)
				for b.Loop() {
					for i, l := range batch {
						l.Index = next + uint64(i)
					}
					if err := logs.StoreLogs(batch); err != nil {
						b.Fatal(err)
					}
					next += uint64(n)
				}
			})
		}
	}
}

// msyncLimit is the floor of a durable write through a shared mapping, which is how
// ringlog writes: it copies n records of 128 B + a 28-byte header into a mapping of a
// written file, one after the other, and msyncs the pages they touched. The file is
// written in calls of 4 KiB, so that the page cache holds it in 4 KiB folios, as a
// flushing ringlog handle keeps its segments (a store into a large folio dirties all of
// it, and msync writes it all back). Each round's first store takes a write fault on the
// page the previous msync write-protected; pwrite + fdatasync (limit-fdatasync) pays
// neither that fault nor the write-protection.
func msyncLimit(b *testing.B, n int) {
	const size = 64 << 20
	f, err := os.Create(filepath.Join(b.TempDir(), "limit-msync"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	block := make([]byte, 4096)
	for off := 0; off < size; off += len(block) {
		if _, err := f.Write(block); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Munmap(m) })
	if err := unix.Madvise(m, unix.MADV_RANDOM); err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 128+28)
	for i := range rec {
		rec[i] = byte(i)
	}
	off := 0
	for b.Loop() {
		if off+n*len(rec) > size {
			off = 0
		}
		start := off
		for range n {
			off += copy(m[off:], rec)
		}
		if err := unix.Msync(m[start&^4095:(off+4095)&^4095], unix.MS_SYNC); err != nil {
			b.Fatal(err)
		}
	}
}

// writtenFile returns a file of size bytes, written and fsynced once, so that an
// overwrite + fdatasync flushes data only.
func writtenFile(b testing.TB, size int) *os.File {
	b.Helper()
	f, err := os.Create(filepath.Join(b.TempDir(), "limit"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	zero := make([]byte, 1<<20)
	for off := 0; off < size; off += len(zero) {
		if _, err := f.Write(zero); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return f
}

// bigEntries is the size of the stores that the read and open benchmarks use: 1M
// entries of 128 B (100k with -short).
func bigEntries() int {
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

var (
	builtMu   sync.Mutex
	builtDirs = map[string]string{}
	benchRoot string
)

// builtStore returns the directory of a closed store of impl holding bigEntries()
// entries, built once per process (in batches of 1000).
func builtStore(b *testing.B, impl string) string {
	b.Helper()
	builtMu.Lock()
	defer builtMu.Unlock()
	if d, ok := builtDirs[impl]; ok {
		return d
	}
	if benchRoot == "" {
		d, err := os.MkdirTemp("", "raftlog-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchRoot = d
	}
	dir := filepath.Join(benchRoot, impl)
	logs, _, closeFn, err := storeFactories[impl](dir)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	batch := make([]*raft.Log, 1000)
	for first := 1; first <= bigEntries(); first += len(batch) {
		for i := range batch {
			batch[i] = entry128(uint64(first + i))
		}
		if err := logs.StoreLogs(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := closeFn(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s with %d entries in %v", impl, bigEntries(), time.Since(start).Round(time.Millisecond))
	builtDirs[impl] = dir
	return dir
}

// removeBenchStores removes the stores builtStore made; TestMain calls it at the end.
func removeBenchStores() {
	if benchRoot != "" {
		os.RemoveAll(benchRoot)
	}
}

// BenchmarkGetLogRandom reads random indexes of a 1M-entry store. The baseline
// limit-slice keeps the encoded entries in a Go slice and decodes one with a copy: what
// an in-memory store would cost.
func BenchmarkGetLogRandom(b *testing.B) {
	for _, impl := range append(impls[:len(impls):len(impls)], "limit-slice") {
		b.Run(fmt.Sprintf("entries=%s/impl=%s", countName(bigEntries()), impl), func(b *testing.B) {
			n := uint64(bigEntries())
			rng := rand.New(rand.NewPCG(1, 2))
			idx := make([]uint64, 1<<16)
			for i := range idx {
				idx[i] = 1 + rng.Uint64N(n)
			}
			var l raft.Log
			if impl == "limit-slice" {
				mem := make([]*raft.Log, n+1)
				for i := uint64(1); i <= n; i++ {
					mem[i] = entry128(i)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					e := mem[idx[i&(len(idx)-1)]]
					l = *e
					l.Data = append([]byte(nil), e.Data...)
					i++
				}
				return
			}
			logs, _ := openImpl(b, impl, builtStore(b, impl))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := logs.GetLog(idx[i&(len(idx)-1)], &l); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkFirstLastIndex calls FirstIndex and LastIndex (one of each per op) on a
// 1M-entry store.
func BenchmarkFirstLastIndex(b *testing.B) {
	for _, impl := range impls {
		b.Run(fmt.Sprintf("entries=%s/impl=%s", countName(bigEntries()), impl), func(b *testing.B) {
			logs, _ := openImpl(b, impl, builtStore(b, impl))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := logs.FirstIndex(); err != nil {
					b.Fatal(err)
				}
				if _, err := logs.LastIndex(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen opens a closed 1M-entry store (files in the page cache) and reads its
// bounds, as raft.NewRaft does first. Only the open is timed, not the close.
func BenchmarkOpen(b *testing.B) {
	for _, impl := range impls {
		b.Run(fmt.Sprintf("entries=%s/impl=%s", countName(bigEntries()), impl), func(b *testing.B) {
			dir := builtStore(b, impl)
			b.ReportAllocs()
			for b.Loop() {
				logs, _, closeFn, err := storeFactories[impl](dir)
				if err != nil {
					b.Fatal(err)
				}
				if last, err := logs.LastIndex(); err != nil || last != uint64(bigEntries()) {
					b.Fatalf("LastIndex = %d, %v", last, err)
				}
				b.StopTimer()
				if err := closeFn(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

func countName(n int) string {
	if n%1_000_000 == 0 {
		return fmt.Sprintf("%dM", n/1_000_000)
	}
	return fmt.Sprintf("%dk", n/1000)
}

// BenchmarkCluster measures commits per second of the real 3-process cluster on loopback
// (the same nodes as TestCluster, raft's default snapshot settings), with the log store as
// the only change: 1 client applying one command at a time, and 16 concurrent clients.
// An op is one acknowledged command.
func BenchmarkCluster(b *testing.B) {
	for _, impl := range impls {
		b.Run("impl="+impl, func(b *testing.B) {
			c, err := cluster.New(cluster.Config{Dir: b.TempDir(), Store: impl,
				Tuning:  cluster.Tuning{SnapshotThreshold: 8192, TrailingLogs: 10240, SnapshotInterval: 120 * time.Second},
				Command: func(args []string) *exec.Cmd { return childCmd("raftnode", args...) }})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.StartAll(); err != nil {
				b.Fatal(err)
			}
			if _, _, err := c.Leader(30 * time.Second); err != nil {
				b.Fatal(err)
			}
			var seq sync.Mutex
			n := 0
			key := func() string {
				seq.Lock()
				defer seq.Unlock()
				n++
				return fmt.Sprintf("k%08d", n)
			}
			b.Run("clients=1", func(b *testing.B) {
				cl := cluster.NewClient(c.Addrs(), 30*time.Second)
				defer cl.Close()
				for b.Loop() {
					if _, err := cl.Apply(key(), "value"); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
			})
			b.Run("clients=16", func(b *testing.B) {
				b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					cl := cluster.NewClient(c.Addrs(), 30*time.Second)
					defer cl.Close()
					for pb.Next() {
						if _, err := cl.Apply(key(), "value"); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
			})
		})
	}
}
