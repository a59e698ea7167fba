package mmaplog

import (
	"sort"
	"testing"
	"time"
)

func TestZZProbe(t *testing.T) {
	res := map[string][]time.Duration{}
	ev := make([]byte, 160)
	for r := 0; r < 12; r++ {
		hold := r%2 == 1
		l, err := Open(t.TempDir(), &Options{HoldLock: hold})
		if err != nil {
			t.Fatal(err)
		}
		n := 2000
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := l.AppendWithID(EventID(i+1), ev); err != nil {
				t.Fatal(err)
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		k := map[bool]string{true: "holdlock", false: "plain"}[hold]
		res[k] = append(res[k], time.Since(start)/time.Duration(n))
		l.Close()
	}
	for k, v := range res {
		sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
		t.Logf("%s: median %v of %v", k, v[len(v)/2], v)
	}
}
