package cluster

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// FSM is a key-value map fed by "key=value" commands, with a running checksum over every
// command applied (its index and bytes, in order): two FSMs that applied the same log
// have the same checksum.
type FSM struct {
	events *events
	// started is set once raft.NewRaft has returned: a Restore after it is a snapshot
	// installed from the leader, one before it the node's own snapshot at start.
	started atomic.Bool

	mu      sync.Mutex
	kv      map[string]string
	sum     uint64
	applied uint64 // commands applied
	index   uint64 // index of the last command applied
}

func newFSM(ev *events) *FSM { return &FSM{events: ev, kv: map[string]string{}} }

// Apply applies one command.
func (f *FSM) Apply(l *raft.Log) any {
	key, val, ok := bytes.Cut(l.Data, []byte("="))
	if !ok {
		return fmt.Errorf("bad command %q", l.Data)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kv[string(key)] = string(val)
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], f.sum)
	binary.LittleEndian.PutUint64(b[8:], l.Index)
	h.Write(b[:])
	h.Write(l.Data)
	f.sum = h.Sum64()
	f.applied++
	f.index = l.Index
	return l.Index
}

// fsmImage is a snapshot's content.
type fsmImage struct {
	Sum     uint64            `json:"sum"`
	Applied uint64            `json:"applied"`
	Index   uint64            `json:"index"`
	KV      map[string]string `json:"kv"`
}

func (f *FSM) image() fsmImage {
	f.mu.Lock()
	defer f.mu.Unlock()
	kv := make(map[string]string, len(f.kv))
	for k, v := range f.kv {
		kv[k] = v
	}
	return fsmImage{Sum: f.sum, Applied: f.applied, Index: f.index, KV: kv}
}

// Snapshot captures the map.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{img: f.image(), events: f.events}, nil
}

// Restore replaces the map by a snapshot's.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var img fsmImage
	if err := json.NewDecoder(rc).Decode(&img); err != nil {
		return fmt.Errorf("fsm restore: %w", err)
	}
	if img.KV == nil {
		img.KV = map[string]string{}
	}
	f.mu.Lock()
	f.kv, f.sum, f.applied, f.index = img.KV, img.Sum, img.Applied, img.Index
	f.mu.Unlock()
	f.events.emit("restore", "index=%d install=%t", img.Index, f.started.Load())
	return nil
}

type fsmSnapshot struct {
	img    fsmImage
	events *events
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(&s.img); err != nil {
		sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	s.events.emit("snapshot", "index=%d", s.img.Index)
	return nil
}

func (s *fsmSnapshot) Release() {}
