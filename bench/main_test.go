package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/ringlog/ringlog/mmaplog"
	tidwal "github.com/tidwall/wal"
)

// envRole names the child role TestMain runs instead of the tests (see roles_test.go).
const envRole = "RINGLOG_BENCH_ROLE"

// fillBatch is the number of events per call when a log is filled for a read, open or
// memory benchmark.
const fillBatch = 4096

// Event counts of the read, open and memory benchmarks.
const (
	events1M  = 1 << 20
	events10M = 10 << 20
)

// cacheRoot holds the logs built once per process (see builtLog).
var cacheRoot string

func TestMain(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		if err := runRole(role); err != nil {
			fmt.Fprintf(os.Stderr, "bench child %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "ringlog-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// payload returns an event of size bytes with a recognizable pattern.
func payload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

// makeBatch returns n events of size bytes (one shared payload).
func makeBatch(n, size int) [][]byte {
	ev := payload(size)
	batch := make([][]byte, n)
	for i := range batch {
		batch[i] = ev
	}
	return batch
}

// randomIDs returns 1<<16 ids drawn uniformly from [1, events], with a fixed seed.
func randomIDs(events int) []uint64 {
	r := rand.New(rand.NewPCG(1, uint64(events)))
	ids := make([]uint64, 1<<16)
	for i := range ids {
		ids[i] = 1 + r.Uint64N(uint64(events))
	}
	return ids
}

// eventsName names an event count in sub-benchmark names: "1M", "10M", or the number.
func eventsName(n int) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dK", n>>10)
	}
	return fmt.Sprint(n)
}

// The logs of each implementation hold ids 1..events (tidwall/wal and raft-wal start at
// 1; an empty ringlog accepts any first id).

// tidwallOptions returns tidwall/wal's default options with NoSync set as asked.
func tidwallOptions(noSync bool) *tidwal.Options {
	o := *tidwal.DefaultOptions
	o.NoSync = noSync
	return &o
}

// openRaftWAL opens a raft-wal in dir with its default meta store passed explicitly, so
// that close can close the store that raft-wal v0.4.0's Close leaves open.
func openRaftWAL(dir string) (w *raftwal.WAL, closeFn func() error, err error) {
	meta := &metadb.BoltMetaDB{}
	w, err = raftwal.Open(dir, raftwal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		return nil, nil, err
	}
	return w, func() error { return errors.Join(w.Close(), meta.Close()) }, nil
}

// filler appends to a log of one implementation, ids 1, 2, ...
type filler struct {
	// appendBatch appends batch with ids first, first+1, ...
	appendBatch func(first uint64, batch [][]byte) error
	close       func() error
}

// openFiller opens (creating) a log of impl in dir for filling. impl is "ringlog",
// "tidwall" (NoSync) or "raft-wal".
func openFiller(impl, dir string) (*filler, error) {
	switch impl {
	case "ringlog":
		l, err := mmaplog.Open(dir, nil)
		if err != nil {
			return nil, err
		}
		return &filler{appendBatch: l.AppendBatchWithIDs, close: l.Close}, nil
	case "tidwall":
		l, err := tidwal.Open(dir, tidwallOptions(true))
		if err != nil {
			return nil, err
		}
		var tb tidwal.Batch
		return &filler{
			appendBatch: func(first uint64, batch [][]byte) error {
				for i, ev := range batch {
					tb.Write(first+uint64(i), ev)
				}
				return l.WriteBatch(&tb)
			},
			close: func() error { return errors.Join(l.Sync(), l.Close()) },
		}, nil
	case "raft-wal":
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		w, closeFn, err := openRaftWAL(dir)
		if err != nil {
			return nil, err
		}
		var logs []*raft.Log
		return &filler{
			appendBatch: func(first uint64, batch [][]byte) error {
				for len(logs) < len(batch) {
					logs = append(logs, &raft.Log{Term: 1, Type: raft.LogCommand})
				}
				for i, ev := range batch {
					logs[i].Index = first + uint64(i)
					logs[i].Data = ev
				}
				return w.StoreLogs(logs[:len(batch)])
			},
			close: closeFn,
		}, nil
	}
	return nil, fmt.Errorf("unknown impl %q", impl)
}

// writeEvents appends events events of size bytes, ids 1..events, through f in calls of
// fillBatch events.
func writeEvents(f *filler, events, size int) error {
	batch := makeBatch(fillBatch, size)
	for done := 0; done < events; {
		n := min(fillBatch, events-done)
		if err := f.appendBatch(uint64(done+1), batch[:n]); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// fill writes a new log of impl in dir holding events events of size bytes, ids
// 1..events, and closes it.
func fill(impl, dir string, events, size int) error {
	f, err := openFiller(impl, dir)
	if err != nil {
		return err
	}
	err = writeEvents(f, events, size)
	return errors.Join(err, f.close())
}

// built caches the logs built by builtLog, per process.
var built struct {
	sync.Mutex
	dirs map[string]string
}

// builtLog returns the directory of a log of impl ("ringlog", "tidwall", "raft-wal")
// holding events events of size bytes, ids 1..events, building it on first use. The log
// is closed; it is removed when the process ends.
func builtLog(b testing.TB, impl string, events, size int) string {
	b.Helper()
	built.Lock()
	defer built.Unlock()
	key := fmt.Sprintf("%s-%s-%d", impl, eventsName(events), size)
	if dir, ok := built.dirs[key]; ok {
		return dir
	}
	dir := filepath.Join(cacheRoot, key)
	if err := fill(impl, dir, events, size); err != nil {
		os.RemoveAll(dir)
		b.Fatalf("build %s: %v", key, err)
	}
	if built.dirs == nil {
		built.dirs = map[string]string{}
	}
	built.dirs[key] = dir
	return dir
}
