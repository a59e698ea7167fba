package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ringlog/ringlog/mmaplog"
)

// statLine returns the line of "ringlog stat DIR" that starts with key.
func statLine(t *testing.T, dir, key string) string {
	t.Helper()
	r := ringlog(t, "stat", dir).want(t, 0, "stat")
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, key+" ") {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	t.Fatalf("stat printed no %q line:\n%s", key, r.stdout)
	return ""
}

// TestStatRetention: stat prints the stored policy and what retention removed.
func TestStatRetention(t *testing.T) {
	dir := makeLog(t, 50, 10) // 5 segments of 10 events
	if got, want := statLine(t, dir, "retention"), "retention none (keeps everything); removed 0 segments, 0 events, 0 B so far"; got != want {
		t.Fatalf("stat of a log without a policy: %q, want %q", got, want)
	}
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two segments of bytes and 25 events: the first three segments go.
	if err := l.SetRetention(mmaplog.Retention{MaxBytes: 2 << 20, MaxEvents: 25}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := statLine(t, dir, "retention")
	t.Logf("stat: %s", got)
	if want := "retention at most 2.0 MiB, at most 25 events; removed 3 segments, 30 events, 3.0 MiB so far"; got != want {
		t.Fatalf("stat: %q, want %q", got, want)
	}
	var js struct {
		Retention struct {
			MaxBytes        uint64  `json:"max_bytes"`
			MaxEvents       uint64  `json:"max_events"`
			MaxAgeSeconds   float64 `json:"max_age_seconds"`
			KeepUnconsumed  bool    `json:"keep_unconsumed"`
			RemovedSegments uint64  `json:"removed_segments"`
			RemovedEvents   uint64  `json:"removed_events"`
			ReclaimedBytes  uint64  `json:"reclaimed_bytes"`
		} `json:"retention"`
	}
	r := ringlog(t, "stat", dir, "--json").want(t, 0, "stat --json")
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil {
		t.Fatalf("stat --json: %v\n%s", err, r.stdout)
	}
	if rt := js.Retention; rt.MaxBytes != 2<<20 || rt.MaxEvents != 25 || rt.MaxAgeSeconds != 0 || rt.KeepUnconsumed ||
		rt.RemovedSegments != 3 || rt.RemovedEvents != 30 || rt.ReclaimedBytes != 3<<20 {
		t.Fatalf("stat --json retention: %+v", rt)
	}
}

// TestStatKeepUnconsumed: the text and the JSON say when interest retention is on.
func TestStatKeepUnconsumed(t *testing.T) {
	dir := makeLog(t, 20, 10)
	l, err := mmaplog.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetRetention(mmaplog.Retention{MaxEvents: 1000, KeepUnconsumed: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := statLine(t, dir, "retention"); !strings.Contains(got, "keeping what a cursor has not consumed") {
		t.Fatalf("stat retention line %q does not mention interest retention", got)
	}
	r := ringlog(t, "stat", dir, "--json").want(t, 0, "stat --json")
	if !strings.Contains(r.stdout, `"keep_unconsumed": true`) && !strings.Contains(r.stdout, `"keep_unconsumed":true`) {
		t.Fatalf("stat --json has no keep_unconsumed true:\n%s", r.stdout)
	}
}
