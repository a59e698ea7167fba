package mmaplog_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// buildOpenLog writes events 128-byte events (Synced), then unsynced more, and closes.
func buildOpenLog(b *testing.B, dir string, events, unsynced int) {
	b.Helper()
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	ev := make([]byte, 128)
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = ev
	}
	for n := 0; n < events; n += len(batch) {
		if _, err := l.AppendBatch(batch[:min(len(batch), events-n)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
	for n := 0; n < unsynced; n += len(batch) {
		if _, err := l.AppendBatch(batch[:min(len(batch), unsynced-n)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// simulateReboot zeroes the boot id in the meta file, as if the machine had restarted
// since the last Open: the next Open validates every record after the recovery point.
func simulateReboot(b *testing.B, dir string) {
	f, err := os.OpenFile(filepath.Join(dir, "meta"), os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 16), 320); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpen opens a log of 128-byte events: clean (same boot: nothing to
// validate) and after an unclean shutdown (a simulated reboot with 100,000 events
// appended after the last Sync: every one of them is validated). Open never scans the
// synced part, so its cost does not grow with the log.
func BenchmarkOpen(b *testing.B) {
	sizes := []int{1 << 20, 10 << 20}
	if testing.Short() {
		sizes = []int{1 << 16}
	}
	for _, events := range sizes {
		dir := b.TempDir()
		const unsynced = 100_000
		buildOpenLog(b, dir, events-unsynced, unsynced)
		for _, unclean := range []bool{false, true} {
			name := fmt.Sprintf("events=%dM/shutdown=clean", events>>20)
			if unclean {
				name = fmt.Sprintf("events=%dM/shutdown=unclean", events>>20)
			}
			if events < 1<<20 {
				name = fmt.Sprintf("events=%dK/%s", events>>10, name[len(fmt.Sprintf("events=%dM/", events>>20)):])
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if unclean {
						b.StopTimer()
						simulateReboot(b, dir)
						b.StartTimer()
					}
					l, err := mmaplog.Open(dir, nil)
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if n, _ := l.NextEventID(); n != uint64(events) {
						b.Fatalf("NextEventID %d, want %d", n, events)
					}
					l.Close()
					b.StartTimer()
				}
			})
		}
	}
}
