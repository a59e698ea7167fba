package mmaplog_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// readSegment collects what ReadSegment yields: the records (copied) and the errors.
func readSegment(path string) (recs []mmaplog.SegmentRecord, errs []error) {
	for r, err := range mmaplog.ReadSegment(path) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.Data = bytes.Clone(r.Data)
		recs = append(recs, r)
	}
	return recs, errs
}

// archiveSegment builds a log whose first segment is sealed by Rotate after events
// [0, n), copies the sealed file out of the directory, deletes the log's prefix (which
// unlinks the original) and returns the copy's path.
func archiveSegment(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l := ctOpen(t, dir, ctOpts())
	ctAppendN(t, l, n, 40)
	sealed, err := l.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	ctAppendN(t, l, 5, 40)
	b, err := os.ReadFile(sealed)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), filepath.Base(sealed))
	if err := os.WriteFile(archive, b, 0o640); err != nil {
		t.Fatal(err)
	}
	if removed, err := l.DeleteRange(0, uint64(n-1)); err != nil || removed != n {
		t.Fatalf("DeleteRange(0, %d) = %d, %v", n-1, removed, err)
	}
	if _, err := os.Stat(sealed); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the sealed segment %s is still in the log after the prefix delete: %v", sealed, err)
	}
	return archive
}

func TestReadSegmentArchivedCopy(t *testing.T) {
	const n = 200
	archive := archiveSegment(t, n)
	recs, errs := readSegment(archive)
	if len(errs) != 0 {
		t.Fatalf("errors reading an intact archived segment: %v", errs)
	}
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	off := int64(64)
	for i, r := range recs {
		if r.ID != uint64(i) || !bytes.Equal(r.Data, ctPayload(uint64(i), 40)) || r.Offset != off {
			t.Fatalf("record %d: id %d offset %d %q, want id %d offset %d %q", i, r.ID, r.Offset, r.Data, i, off, ctPayload(uint64(i), 40))
		}
		off += 16 + 40
	}
	// Breaking out of the loop stops the iteration.
	count := 0
	for range mmaplog.ReadSegment(archive) {
		count++
		if count == 3 {
			break
		}
	}
	if count != 3 {
		t.Fatalf("break after 3 records: %d", count)
	}
	t.Logf("read %d records of the archived copy %s", len(recs), filepath.Base(archive))
}

func TestReadSegmentDamagedAndForeign(t *testing.T) {
	const n = 100
	recOff := func(i int) int64 { return 64 + int64(i)*(16+40) }
	cases := []struct {
		name    string
		corrupt func(t *testing.T, path string)
		want    error // the sentinel of the first error; nil: none
		records int   // records yielded
		errOff  int64 // offset of the CorruptError, when want != nil
	}{
		{"intact", func(*testing.T, string) {}, nil, n, 0},
		{"payload byte of record 40 flipped", func(t *testing.T, p string) {
			flip(t, p, recOff(40)+16+3)
		}, mmaplog.ErrCorrupt, n - 1, recOff(40)},
		{"length of record 7 garbled", func(t *testing.T, p string) {
			mmaplog.PatchFile(t, p, recOff(7)+4, []byte{0xff, 0xff, 0x00, 0x00})
		}, mmaplog.ErrCorrupt, n - 1, recOff(7)},
		{"last record damaged looks like the end", func(t *testing.T, p string) {
			flip(t, p, recOff(n-1)+20)
		}, nil, n - 1, 0},
		{"header checksum", func(t *testing.T, p string) { flip(t, p, 48) }, mmaplog.ErrCorrupt, 0, 48},
		{"magic", func(t *testing.T, p string) { mmaplog.PatchFile(t, p, 0, []byte("NOTASEG!")) }, mmaplog.ErrCorrupt, 0, 0},
		{"newer version", func(t *testing.T, p string) {
			mmaplog.PatchFile(t, p, 8, []byte{4, 0, 0, 0})
		}, mmaplog.ErrVersion, 0, 8},
		{"truncated below its size", func(t *testing.T, p string) {
			if err := os.Truncate(p, 8192); err != nil {
				t.Fatal(err)
			}
		}, mmaplog.ErrCorrupt, 0, 8192},
		{"shorter than a header", func(t *testing.T, p string) {
			if err := os.Truncate(p, 20); err != nil {
				t.Fatal(err)
			}
		}, mmaplog.ErrCorrupt, 0, 20},
		{"renamed to another seq", func(t *testing.T, p string) {
			if err := os.Rename(p, filepath.Join(filepath.Dir(p), "seg-0000000000000009")); err != nil {
				t.Fatal(err)
			}
		}, mmaplog.ErrCorrupt, 0, 16},
		{"not a segment at all", func(t *testing.T, p string) {
			b := make([]byte, 32<<10)
			for i := range b {
				b[i] = byte(i * 7)
			}
			if err := os.WriteFile(p, b, 0o640); err != nil {
				t.Fatal(err)
			}
		}, mmaplog.ErrCorrupt, 0, 0},
	}
	archive := archiveSegment(t, n)
	orig, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), filepath.Base(archive))
			if err := os.WriteFile(p, orig, 0o640); err != nil {
				t.Fatal(err)
			}
			c.corrupt(t, p)
			if _, err := os.Stat(p); err != nil { // renamed
				p = filepath.Join(filepath.Dir(p), "seg-0000000000000009")
			}
			recs, errs := readSegment(p)
			if len(recs) != c.records {
				t.Fatalf("%d records, want %d (errors %v)", len(recs), c.records, errs)
			}
			if c.want == nil {
				if len(errs) != 0 {
					t.Fatalf("errors %v, want none", errs)
				}
				return
			}
			if len(errs) != 1 || !errors.Is(errs[0], c.want) {
				t.Fatalf("errors %v, want one wrapping %v", errs, c.want)
			}
			var ce *mmaplog.CorruptError
			if !errors.As(errs[0], &ce) || ce.Offset != c.errOff || ce.Path != p {
				t.Fatalf("error %v: want a *CorruptError for %s at offset %d", errs[0], p, c.errOff)
			}
			for i, r := range recs { // the others are intact and in order
				if !bytes.Equal(r.Data, ctPayload(r.ID, 40)) || (i > 0 && r.ID <= recs[i-1].ID) {
					t.Fatalf("record %d: id %d %q", i, r.ID, r.Data)
				}
			}
			t.Logf("%v", errs[0])
		})
	}
}

func TestReadSegmentMissingFile(t *testing.T) {
	_, errs := readSegment(filepath.Join(t.TempDir(), "seg-0000000000000000"))
	if len(errs) != 1 || !errors.Is(errs[0], fs.ErrNotExist) {
		t.Fatalf("errors %v, want one wrapping fs.ErrNotExist", errs)
	}
}

// flip inverts the bits of the byte at off of the file at path.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b := make([]byte, 1)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadAt(b, off)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	mmaplog.PatchFile(t, path, off, []byte{^b[0]})
}
