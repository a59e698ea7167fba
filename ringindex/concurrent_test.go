package ringindex_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ringlog/ringlog/ringindex"
)

func TestLinkRenameFallback(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(a, []byte("A"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("B"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ringindex.LinkRename(a, b); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("LinkRename onto an existing file: %v", err)
	}
	if got, _ := os.ReadFile(b); string(got) != "B" {
		t.Fatalf("existing file changed to %q", got)
	}
	c := filepath.Join(dir, "c")
	if err := ringindex.LinkRename(a, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(c); string(got) != "A" {
		t.Fatalf("moved file reads %q", got)
	}
	if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source still present: %v", err)
	}
}

// TestConcurrentReaders runs lock-free readers on two handles while one
// writer stores and syncs; under -race this checks the access is atomic. A
// reader must only ever see zero or a value the writer stored for that slot.
func TestConcurrentReaders(t *testing.T) {
	const capacity = ringindex.MinCapacity
	x, path := create(t, capacity)
	r, err := ringindex.Open(path, testLogID, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const rounds = 20000
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, h := range []*ringindex.Index{x, r, r} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := uint64(0); ; id++ {
				select {
				case <-done:
					return
				default:
				}
				s := h.Load(id)
				if s.IsZero() {
					continue
				}
				// The writer stores seq = the id, offset = 8*(slot+1).
				if s.Offset() != 8*(id%capacity+1) || s.SeqLow()%capacity != id%capacity {
					t.Errorf("id %d: torn or foreign slot %v", id, s)
					return
				}
			}
		}()
	}
	for id := uint64(0); id < rounds; id++ {
		x.Store(id, ringindex.MakeSlot(id, 8*(id%capacity+1)))
		if id%4096 == 0 {
			if err := x.SyncRange(id-min(id, 100), id+1); err != nil {
				t.Error(err)
			}
		}
	}
	close(done)
	wg.Wait()
}
