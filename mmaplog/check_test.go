package mmaplog_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

func buildCheckLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l, err := mmaplog.Open(dir, &mmaplog.Options{SegmentSize: 16 << 10, IndexCapacity: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 600; i++ {
		if _, err := l.Append([]byte(fmt.Sprintf("payload-%05d-%s", i, strings.Repeat("x", 100)))); err != nil {
			t.Fatal(err)
		}
	}
	l.DeleteRange(0, 199)
	l.DeleteRange(300, 309)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckCleanLog(t *testing.T) {
	dir := buildCheckLog(t)
	rep, err := mmaplog.Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Events != 390 {
		t.Fatalf("clean log: %d events, problems %v", rep.Events, rep.Problems)
	}
	t.Logf("clean: %d events, %d bytes, %d segment files", rep.Events, rep.Bytes, rep.SegmentFiles)
}

func TestCheckFindsDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string // substring of a problem
	}{
		{"payload byte flipped", func(t *testing.T, dir string) {
			segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
			for _, p := range segs {
				b, _ := os.ReadFile(p)
				if i := bytes.Index(b, []byte("payload-00400")); i >= 0 {
					b[i+5] ^= 0x20
					os.WriteFile(p, b, 0o640)
					return
				}
			}
			t.Fatal("record not found")
		}, "event 400"},
		{"segment file removed", func(t *testing.T, dir string) {
			segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
			os.Remove(segs[len(segs)/2])
		}, "missing"},
		{"orphan segment", func(t *testing.T, dir string) {
			segs, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
			b, _ := os.ReadFile(segs[0])
			os.WriteFile(filepath.Join(dir, "seg-0000000000000000"), b, 0o640)
		}, "orphan"},
		{"meta magic", func(t *testing.T, dir string) {
			f, _ := os.OpenFile(filepath.Join(dir, "meta"), os.O_RDWR, 0)
			f.WriteAt([]byte("X"), 0)
			f.Close()
		}, "magic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := buildCheckLog(t)
			c.damage(t, dir)
			rep, err := mmaplog.Check(dir)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range rep.Problems {
				t.Logf("problem: %v", p)
				found = found || strings.Contains(p.String(), c.want)
			}
			if !found {
				t.Fatalf("no problem mentioning %q in %v", c.want, rep.Problems)
			}
		})
	}
}
