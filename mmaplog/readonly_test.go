package mmaplog_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringlog/ringlog/mmaplog"
)

// dirDigest hashes every file of dir (name, mode and contents).
func dirDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, _ := e.Info()
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %v %x\n", e.Name(), info.Mode(), sha256.Sum256(b))
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestReadOnlyHandle(t *testing.T) {
	dir := t.TempDir()
	w, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		if _, err := w.Append([]byte(fmt.Sprintf("event %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.DeleteRange(100, 199); err != nil {
		t.Fatal(err)
	}
	w.Close()

	r, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		b, err := r.Get(uint64(i))
		if i >= 100 && i < 200 {
			if !errors.Is(err, mmaplog.ErrNotFound) {
				t.Fatalf("Get(%d) = %v, want ErrNotFound", i, err)
			}
			continue
		}
		if err != nil || string(b) != fmt.Sprintf("event %d", i) {
			t.Fatalf("Get(%d) = %q, %v", i, b, err)
		}
	}
	it, _ := r.IterRange(0, mmaplog.Latest)
	n := 0
	for range it.All() {
		n++
	}
	if n != 400 || it.Err() != nil {
		t.Fatalf("iterated %d events, err %v", n, it.Err())
	}
	for name, err := range map[string]error{
		"Append":       func() error { _, err := r.Append(nil); return err }(),
		"AppendWithID": r.AppendWithID(500, nil),
		"DeleteRange":  func() error { _, err := r.DeleteRange(0, 1); return err }(),
		"Rotate":       func() error { _, err := r.Rotate(); return err }(),
		"Sync":         r.Sync(),
	} {
		if !errors.Is(err, mmaplog.ErrReadOnly) {
			t.Fatalf("%s through a read-only handle: %v", name, err)
		}
	}
	// Follow polls: it sees an append of a writable handle.
	w, err = mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Wait(ctx, 500) }()
	time.Sleep(20 * time.Millisecond)
	if _, err := w.Append([]byte("late")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("read-only Wait: %v", err)
	}
	r.Close()
	w.Close()
}

func TestReadOnlyChangesNothing(t *testing.T) {
	dir := t.TempDir()
	w, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		w.Append([]byte("x"))
	}
	w.Close()
	before := dirDigest(t, dir)
	for _, f := range []string{dir} {
		entries, _ := os.ReadDir(f)
		for _, e := range entries {
			os.Chmod(filepath.Join(dir, e.Name()), 0o444)
		}
	}
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)
	r, err := mmaplog.Open(dir, &mmaplog.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := r.Get(49); err != nil || string(b) != "x" {
		t.Fatalf("Get = %q %v", b, err)
	}
	r.Close()
	os.Chmod(dir, 0o755)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.Chmod(filepath.Join(dir, e.Name()), 0o640)
	}
	if after := dirDigest(t, dir); after != before {
		t.Fatal("a read-only handle changed the directory")
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: file permissions do not stop root, so the read-only directory " +
			"was not enforced by the kernel; the digest check proves nothing was written")
	}
	if _, err := mmaplog.Open(filepath.Join(dir, "missing"), &mmaplog.Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing log succeeded")
	}
	if _, err := mmaplog.Open(t.TempDir(), &mmaplog.Options{ReadOnly: true, HoldLock: true}); !errors.Is(err, mmaplog.ErrInvalidOptions) {
		t.Fatalf("ReadOnly+HoldLock: %v", err)
	}
}
