// Package bench measures ringlog against the Go logs people use today and against the
// machine's physical limits, in one run on one machine.
//
// # Basics
//
// bench is a separate module (its own go.mod, with a replace of the root module), so
// the library keeps its three dependencies while the peers live only here:
// github.com/tidwall/wal and github.com/hashicorp/raft-wal. Every workload is a
// benchmark function whose sub-benchmarks are named "impl=NAME/key=value/...":
//
//   - impl=ringlog... is ringlog (variants: ringlog-holdlock, ringlog-get, ringlog-view,
//     ringlog-sync, ringlog-syncid, ringlog-syncalways);
//   - impl=limit-... is a physical limit measured in the same process (memcpy into a
//     prefaulted shared mapping, a flock(2) pair, a slice index + copy, a mapping's bulk
//     read bandwidth, pwrite + fdatasync, one getppid system call, a durable append into
//     a file prepared each way: limit-pwrite-PREP and limit-msync-PREP);
//   - any other impl is a peer (tidwall-nosync, tidwall-sync, tidwall, tidwall-cached,
//     raft-wal).
//
// The workloads: BenchmarkAppend (one event per call, non-durable), BenchmarkAppendBatch
// (100 and 1000 events per call), BenchmarkGet (random ids over 1M events, warm),
// BenchmarkIterate (1M events in order), BenchmarkOpen (1M- and 10M-event logs),
// BenchmarkMemory (heap in use and RSS of a fresh process after writing 10M events) and
// BenchmarkMultiProcess (1, 2 and 4 processes appending to one log at once).
//
// The durable workloads (issue 13), each event durable when its call returns, all 128 B:
// BenchmarkDurableAppend (Append + Sync, AppendWithID + Sync, SyncAlways; 1 and 8
// goroutines), BenchmarkDurableBatch (100 events per call), BenchmarkDurableMultiProcess
// (SyncAlways from 1 and 2 processes), BenchmarkSyncIdle (Sync with nothing new to flush)
// and BenchmarkSegmentPrep, the limits that tell which segment preparation a durable
// append pays least in: pwrite + fdatasync or a mapped copy + msync of its page, at
// increasing offsets, into a fallocated file (unwritten extents), a file zeroed by
// fallocate(FALLOC_FL_WRITE_ZEROES) (Linux 6.17+; skipped with a note where refused)
// and a file written with zeros. The report divides every durable row by
// limit-fdatasync (one goroutine) of the same run.
//
// run.sh runs them and cmd/report turns the output into results/latest.md (a table per
// workload with medians and the ratios ringlog ÷ peer and ringlog ÷ limit, and the
// targets of issue 6) and results/latest.svg (a chart drawn with gonum/plot):
//
//	make bench-peers     # full run: -count 6, roughly 30-40 minutes on 2 cores
//	make bench-quick     # one short pass, under 3 minutes, without the 10M-event logs
//	make bench-durable   # the durable workloads only, -count 5: results/durable.{txt,md}
//	make strace-durable  # system calls per durable append and per idle Sync (strace -f -c)
//
// # Caveats
//
//   - Compare ratios within one run: the machine is shared and noisy, absolute figures
//     move between runs.
//   - -short (bench-quick) skips the 10M-event logs: BenchmarkOpen measures 1M only and
//     BenchmarkMemory writes 1M events.
//   - hashicorp/raft-wal always fsyncs on StoreLogs, so it takes part only in the
//     durable, read and open workloads. Its v0.4.0 Close leaves its bbolt meta store
//     open; the benchmarks pass the same default store (metadb.BoltMetaDB) with
//     WithMetaStore and close it themselves, so a directory can be opened again.
//   - The logs read by Get, Iterate and Open are built once per process (with batches of
//     4096 events) under a temporary directory removed when the run ends. The 10M-event
//     logs take about 4 GiB of disk and of page cache.
//
// # Concurrency
//
// BenchmarkDurableAppend with goroutines=8 runs 8 goroutines on one handle; the peers,
// whose appends need the next index, allocate it under a mutex of the benchmark
// (raft-wal serializes StoreLog under its own writeMu in any case: one fsync per call, no
// group commit).
// BenchmarkMultiProcess, BenchmarkDurableMultiProcess and BenchmarkMemory re-execute the
// test binary: TestMain runs a child role instead of the tests when RINGLOG_BENCH_ROLE is
// set (strace-durable.sh runs the durable-pairs role the same way).
package bench
