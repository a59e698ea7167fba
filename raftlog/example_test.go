package raftlog_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/raftlog"
)

// counter is the smallest FSM: it counts the commands applied.
type counter struct{ n int }

func (c *counter) Apply(*raft.Log) any                 { c.n++; return c.n }
func (c *counter) Snapshot() (raft.FSMSnapshot, error) { return nil, fmt.Errorf("not in this example") }
func (c *counter) Restore(io.ReadCloser) error         { return nil }

// Example starts a one-node raft cluster on a raftlog store (the README shows the same
// code) and applies a command.
func Example() {
	dir, err := os.MkdirTemp("", "raftlog-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := raftlog.Open(filepath.Join(dir, "raft"), nil) // log and stable store
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		log.Fatal(err)
	}
	trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
	if err != nil {
		log.Fatal(err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = "node-1"
	conf.LogOutput = io.Discard
	r, err := raft.NewRaft(conf, &counter{}, store, store, snaps, trans)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Shutdown()
	r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: trans.LocalAddr()}}})
	for r.State() != raft.Leader {
		time.Sleep(10 * time.Millisecond)
	}
	f := r.Apply([]byte("set x=1"), time.Second)
	if err := f.Error(); err != nil {
		log.Fatal(err)
	}
	first, _ := store.FirstIndex()
	last, _ := store.LastIndex()
	fmt.Printf("applied: %v, log [%d, %d]\n", f.Response(), first, last)
	// Output: applied: 1, log [1, 3]
}
