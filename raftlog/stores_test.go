package raftlog_test

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/ringlog/ringlog/raftlog/internal/cluster"
)

// storeFactories are the log stores a cluster node can run on: ours and the two peers
// raft users pick today, for comparison.
var storeFactories = map[string]cluster.StoreFactory{
	"ringlog": cluster.RaftlogStore,
	"raft-wal": func(dir string) (raft.LogStore, raft.StableStore, func() error, error) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, nil, nil, err
		}
		// raft-wal v0.4.0's Close leaves the meta store it opened itself open: pass one
		// and close it too, so that the directory can be opened again in this process.
		meta := &metadb.BoltMetaDB{}
		w, err := wal.Open(dir, wal.WithMetaStore(meta))
		if err != nil {
			meta.Close()
			return nil, nil, nil, err
		}
		return w, w, func() error { return errors.Join(w.Close(), meta.Close()) }, nil
	},
	"raft-boltdb": func(dir string) (raft.LogStore, raft.StableStore, func() error, error) {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, nil, nil, err
		}
		b, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
		if err != nil {
			return nil, nil, nil, err
		}
		return b, b, b.Close, nil
	},
}

func init() {
	childRoles["raftnode"] = func(args []string) int { return cluster.NodeMain(args, storeFactories) }
}
