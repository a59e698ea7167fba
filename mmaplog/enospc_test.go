package mmaplog_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// On a really full file system (a 2 MiB tmpfs), preallocating the next segment fails: the
// append returns an error wrapping ENOSPC, changes nothing, never raises SIGBUS, and
// appends resume once a prefix delete has unlinked segments.
func TestENOSPCOnTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs; the injected ENOSPC test covers the same path unprivileged")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	dir := mnt + "/log"
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 256 << 10, IndexCapacity: 1024, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	payload := func(id uint64) []byte { return fmt.Appendf(nil, "event %d %s", id, bytes.Repeat([]byte{'e'}, 900)) }
	var failure error
	for i := 0; i < 100000; i++ {
		next, _ := l.NextEventID()
		if _, err := l.Append(payload(next)); err != nil {
			failure = err
			break
		}
	}
	if failure == nil {
		t.Fatal("no error after 100000 appends on a 2 MiB file system")
	}
	if !errors.Is(failure, syscall.ENOSPC) {
		t.Fatalf("append on a full disk: %v, want an error wrapping ENOSPC", failure)
	}
	t.Logf("full disk: %v", failure)
	next, _ := l.NextEventID()
	oldest, _ := l.OldestEventID()
	for id := oldest; id < next; id++ {
		b, err := l.Get(id)
		if err != nil || !bytes.Equal(b, payload(id)) {
			t.Fatalf("event %d acknowledged before the full disk: %.30q, %v", id, b, err)
		}
	}
	if _, err := l.Append(payload(next)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second append on the full disk: %v", err)
	}
	if n, _ := l.NextEventID(); n != next {
		t.Fatalf("failed appends moved NextEventID %d -> %d", next, n)
	}
	st, _ := l.Stats()
	t.Logf("%d events in %d segment files when full", next-oldest, st.FileCount)
	// Free space: delete the prefix so that whole segments are unlinked.
	if _, err := l.DeleteRange(oldest, oldest+(next-oldest)/2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		n, _ := l.NextEventID()
		if _, err := l.Append(payload(n)); err != nil {
			t.Fatalf("append %d after freeing space: %v", i, err)
		}
	}
	newest, _ := l.NewestEventID()
	if b, err := l.Get(newest); err != nil || !bytes.Equal(b, payload(newest)) {
		t.Fatalf("Get(%d) after resuming: %v", newest, err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}
