package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/ringlog/ringlog/raftlog"
)

// StoreFactory opens the log store and the stable store of a node in dir; close releases
// them.
type StoreFactory func(dir string) (logs raft.LogStore, stable raft.StableStore, close func() error, err error)

// Peer is one node of the cluster.
type Peer struct {
	ID         string // raft server id, "n0" ...
	RaftAddr   string // raft transport, 127.0.0.1:port
	ClientAddr string // line protocol, 127.0.0.1:port
}

// Tuning is the raft configuration of the nodes that a scenario varies.
type Tuning struct {
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
}

// DefaultTuning snapshots every 256 entries and keeps 128 behind, so that compaction runs
// often in a short test.
var DefaultTuning = Tuning{SnapshotThreshold: 256, TrailingLogs: 128, SnapshotInterval: 100 * time.Millisecond}

func encodePeers(peers []Peer) string {
	var parts []string
	for _, p := range peers {
		parts = append(parts, p.ID+"="+p.RaftAddr+"="+p.ClientAddr)
	}
	return strings.Join(parts, ",")
}

func decodePeers(s string) ([]Peer, error) {
	var peers []Peer
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(part, "=")
		if len(f) != 3 {
			return nil, fmt.Errorf("bad peer %q (want id=raftaddr=clientaddr)", part)
		}
		peers = append(peers, Peer{ID: f[0], RaftAddr: f[1], ClientAddr: f[2]})
	}
	return peers, nil
}

// nodeArgs are the command-line arguments of node i's process.
func nodeArgs(i int, dir, store string, peers []Peer, t Tuning) []string {
	return []string{
		"-id", peers[i].ID, "-dir", dir, "-store", store, "-peers", encodePeers(peers),
		"-snapshot-threshold", strconv.FormatUint(t.SnapshotThreshold, 10),
		"-trailing-logs", strconv.FormatUint(t.TrailingLogs, 10),
		"-snapshot-interval", t.SnapshotInterval.String(),
	}
}

// NodeMain runs one node process with args (as nodeArgs builds them) until SIGTERM or
// SIGINT, and returns its exit code. stores maps the -store names to their factories.
// Events go to stdout, raft's log and errors to stderr.
func NodeMain(args []string, stores map[string]StoreFactory) int {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	id := fs.String("id", "", "raft server id")
	dir := fs.String("dir", "", "node directory")
	store := fs.String("store", "ringlog", "log store")
	peersFlag := fs.String("peers", "", "id=raftaddr=clientaddr,...")
	var t Tuning
	fs.Uint64Var(&t.SnapshotThreshold, "snapshot-threshold", DefaultTuning.SnapshotThreshold, "")
	fs.Uint64Var(&t.TrailingLogs, "trailing-logs", DefaultTuning.TrailingLogs, "")
	fs.DurationVar(&t.SnapshotInterval, "snapshot-interval", DefaultTuning.SnapshotInterval, "")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(os.Stderr, "node: %v\n", err)
		return 2
	}
	peers, err := decodePeers(*peersFlag)
	if err == nil && (*id == "" || *dir == "") {
		err = errors.New("-id and -dir are required")
	}
	open := stores[*store]
	if err == nil && open == nil {
		err = fmt.Errorf("unknown -store %q", *store)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "node: %v\n", err)
		return 2
	}
	n, err := startNode(*id, *dir, peers, t, open, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "node %s: %v\n", *id, err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	if err := n.shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "node %s: shutdown: %v\n", *id, err)
		return 1
	}
	return 0
}

// node is a running raft server with its client listener.
type node struct {
	id     string
	peers  []Peer
	raft   *raft.Raft
	fsm    *FSM
	logs   raft.LogStore
	layer  *cutLayer
	client net.Listener
	events *events
	close  func() error
}

func startNode(id, dir string, peers []Peer, t Tuning, open StoreFactory, stdout, stderr io.Writer) (*node, error) {
	var self *Peer
	for i := range peers {
		if peers[i].ID == id {
			self = &peers[i]
		}
	}
	if self == nil {
		return nil, fmt.Errorf("id %q is not among the peers", id)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	ev := &events{w: stdout}
	logs, stable, closeStores, err := open(filepath.Join(dir, "store"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n := &node{id: id, peers: peers, events: ev, fsm: newFSM(ev), close: closeStores}
	n.logs = eventStore{LogStore: logs, events: ev}
	fail := func(err error) (*node, error) {
		if n.layer != nil {
			n.layer.Close()
		}
		closeStores()
		return nil, err
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: id, Level: hclog.Warn, Output: stderr})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "snapshots"), 2, logger)
	if err != nil {
		return fail(err)
	}
	if n.layer, err = newCutLayer(self.RaftAddr); err != nil {
		return fail(err)
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: n.layer, MaxPool: 3, Timeout: time.Second, Logger: logger,
	})
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(id)
	conf.Logger = logger
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotThreshold = t.SnapshotThreshold
	conf.TrailingLogs = t.TrailingLogs
	conf.SnapshotInterval = t.SnapshotInterval
	existing, err := raft.HasExistingState(n.logs, stable, snaps)
	if err != nil {
		return fail(err)
	}
	if !existing {
		var cfg raft.Configuration
		for _, p := range peers {
			cfg.Servers = append(cfg.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
		}
		if err := raft.BootstrapCluster(conf, n.logs, stable, snaps, trans, cfg); err != nil {
			return fail(fmt.Errorf("bootstrap: %w", err))
		}
	}
	if n.raft, err = raft.NewRaft(conf, n.fsm, n.logs, stable, snaps, trans); err != nil {
		return fail(err)
	}
	n.fsm.started.Store(true)
	if n.client, err = net.Listen("tcp", self.ClientAddr); err != nil {
		n.raft.Shutdown().Error()
		return fail(err)
	}
	first, _ := logs.FirstIndex()
	last, _ := logs.LastIndex()
	ev.emit("start", "id=%s pid=%d first=%d last=%d existing=%t", id, os.Getpid(), first, last, existing)
	go n.watchLeadership()
	go n.serve()
	return n, nil
}

func (n *node) shutdown() error {
	n.client.Close()
	err := n.raft.Shutdown().Error()
	if cerr := n.close(); err == nil {
		err = cerr
	}
	return err
}

func (n *node) watchLeadership() {
	for leader := range n.raft.LeaderCh() {
		if leader {
			n.events.emit("leader", "id=%s term=%s", n.id, n.raft.Stats()["term"])
		}
	}
}

// State is what a node reports of itself.
type State struct {
	ID           string `json:"id"`
	PID          int    `json:"pid"`
	State        string `json:"state"`
	Leader       string `json:"leader"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit"`
	AppliedIndex uint64 `json:"applied"`
	LastLogIndex uint64 `json:"last_log"`
	First        uint64 `json:"first"` // the log store's range
	Last         uint64 `json:"last"`
	Sum          uint64 `json:"sum"` // FSM checksum
	Commands     uint64 `json:"commands"`
	Keys         int    `json:"keys"`
}

func (n *node) state() State {
	st := n.raft.Stats()
	_, leader := n.raft.LeaderWithID()
	first, _ := n.logs.FirstIndex()
	last, _ := n.logs.LastIndex()
	n.fsm.mu.Lock()
	sum, cmds, keys := n.fsm.sum, n.fsm.applied, len(n.fsm.kv)
	n.fsm.mu.Unlock()
	u := func(k string) uint64 { v, _ := strconv.ParseUint(st[k], 10, 64); return v }
	return State{ID: n.id, PID: os.Getpid(), State: n.raft.State().String(), Leader: string(leader),
		Term: u("term"), CommitIndex: u("commit_index"), AppliedIndex: n.raft.AppliedIndex(),
		LastLogIndex: n.raft.LastIndex(), First: first, Last: last, Sum: sum, Commands: cmds, Keys: keys}
}

func (n *node) serve() {
	for {
		c, err := n.client.Accept()
		if err != nil {
			return
		}
		go n.handle(c)
	}
}

// The line protocol:
//
//	apply <key> <value>  -> ok <index> | err notleader <leader client addr> | err <text>
//	state                -> state <json State>
//	dump                 -> dump <json map>
//	cut <n>              -> ok  (closes every raft connection, refuses new ones, and
//	                             applies n commands that can then never commit)
func (n *node) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "apply":
			fut := n.raft.Apply([]byte(f[1]+"="+f[2]), 5*time.Second)
			if err := fut.Error(); err != nil {
				if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
					fmt.Fprintf(w, "err notleader %s\n", n.leaderClientAddr())
				} else {
					fmt.Fprintf(w, "err %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
				}
				break
			}
			fmt.Fprintf(w, "ok %d\n", fut.Index())
		case len(f) == 1 && f[0] == "state":
			b, _ := json.Marshal(n.state())
			fmt.Fprintf(w, "state %s\n", b)
		case len(f) == 1 && f[0] == "dump":
			img := n.fsm.image()
			b, _ := json.Marshal(img.KV)
			fmt.Fprintf(w, "dump %s\n", b)
		case len(f) == 2 && f[0] == "cut":
			probes, _ := strconv.Atoi(f[1])
			n.layer.Cut()
			for i := range probes {
				n.raft.Apply(fmt.Appendf(nil, "cut%d=%s", i, n.id), time.Second) // never waited for
			}
			fmt.Fprintf(w, "ok\n")
		default:
			fmt.Fprintf(w, "err bad request %q\n", strings.TrimSpace(line))
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

func (n *node) leaderClientAddr() string {
	_, id := n.raft.LeaderWithID()
	for _, p := range n.peers {
		if p.ID == string(id) {
			return p.ClientAddr
		}
	}
	return "-"
}

// RaftlogStore is the StoreFactory of a raftlog.Store: one Store as both log and stable
// store.
func RaftlogStore(dir string) (raft.LogStore, raft.StableStore, func() error, error) {
	s, err := raftlog.Open(dir, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, s, s.Close, nil
}
