package mmaplog

import "testing"

// segCache entries of a handle are removed when their mappings go: after deletes unmap
// segments, no entry names an unmapped segment, and after Close no entry is left.
func TestSegCacheForgetsUnmappedSegments(t *testing.T) {
	l, err := Open(t.TempDir(), &Options{SegmentSize: 64 << 10, NoPrefault: true})
	if err != nil {
		t.Fatal(err)
	}
	ev := make([]byte, 1000)
	for i := 0; i < 300; i++ { // about 5 segments
		if _, err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	for id := EventID(0); id < 300; id++ {
		if _, err := l.Get(id); err != nil {
			t.Fatal(err)
		}
	}
	count := func() (entries, unmapped int) {
		for i := range l.segCache {
			if s := l.segCache[i].Load(); s != nil {
				entries++
				if s.data == nil {
					unmapped++
				}
			}
		}
		return
	}
	if n, _ := count(); n < 3 {
		t.Fatalf("%d segCache entries after reading 5 segments", n)
	}
	if _, err := l.DeleteRange(0, 250); err != nil {
		t.Fatal(err)
	}
	if _, bad := count(); bad != 0 {
		t.Fatalf("%d segCache entries name unmapped segments after a prefix delete", bad)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := count(); n != 0 {
		t.Fatalf("%d segCache entries left after Close", n)
	}
}
