package raftlog_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ringlog/ringlog/raftlog/internal/cluster"
)

// newCluster prepares a 3-node cluster of re-executed test binaries on store.
func newCluster(t testing.TB, store string, tuning cluster.Tuning) *cluster.Cluster {
	t.Helper()
	dir := t.TempDir()
	c, err := cluster.New(cluster.Config{Dir: dir, Store: store, Tuning: tuning,
		Command: func(args []string) *exec.Cmd { return childCmd("raftnode", args...) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// logWriter sends the scenario's progress lines to t.Log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestCluster is the real cluster: 3 raft nodes as 3 processes on loopback, raft's TCP
// network transport, FileSnapshotStore, raftlog as log and stable store. Commands flow
// from 4 concurrent clients while the leader (mid-stream), the next leader (cut off with
// uncommitted entries, the clients paused) and then a follower (mid-stream, kept down past
// compaction) are SIGKILLed and restarted on their directories.
// At the end every FSM has the same checksum, holds every acknowledged command, and the
// nodes' event lines show snapshots, compaction, a suffix truncation and a snapshot
// install. RINGLOG_LONG=1 (make crash): 50 kills, 1,000 commands each.
func TestCluster(t *testing.T) {
	sc := cluster.Scenario{Commands: 10_000, Clients: 4,
		Kills: []cluster.Kill{cluster.KillLeader, cluster.KillLeaderUncommitted, cluster.KillFollowerLong}}
	if testing.Short() {
		sc.Commands = 3000
	}
	if os.Getenv("RINGLOG_LONG") != "" {
		sc.Kills = nil
		for i := range 50 {
			sc.Kills = append(sc.Kills, []cluster.Kill{cluster.KillLeaderUncommitted, cluster.KillLeader, cluster.KillFollowerLong}[i%3])
		}
		sc.Commands = 1000 * (len(sc.Kills) + 1)
	}
	sc.Progress, sc.Every = logWriter{t}, 2*time.Second
	c := newCluster(t, "ringlog", cluster.DefaultTuning)
	res, err := c.Run(sc)
	if err != nil {
		for i := range cluster.Nodes {
			t.Logf("%s log tail:\n%s", c.Peers[i].ID, c.LogTail(i, 3000))
		}
		t.Fatal(err)
	}
	t.Logf("%s", res.Verdict())
	t.Logf("%d commands in %v (%.0f/s), %d unacknowledged attempts retried, applied index %d, elections %v",
		res.Commands, res.Duration.Round(time.Millisecond), float64(res.Commands)/res.Duration.Seconds(), res.Attempts, res.AppliedIndex, res.Elections)
	t.Logf("events: %s", strings.Join(res.Sorted(), " "))
	if err := res.Check(); err != nil {
		t.Fatal(err)
	}
	if res.Commands != sc.Commands {
		t.Fatalf("%d of %d commands acknowledged", res.Commands, sc.Commands)
	}
	for _, key := range []string{"snapshot", "delete-prefix", "delete-suffix", "restore-install"} {
		if res.Counts[key] == 0 {
			t.Errorf("no %q event: the scenario did not exercise it", key)
		}
	}
}
