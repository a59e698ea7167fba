// Package cluster runs a 3-node hashicorp/raft cluster on loopback as separate OS
// processes, for raftlog's cluster test, its benchmark and the demo (cmd/ringlog-cluster).
//
// # Basics
//
// NodeMain is the body of one node process: it opens the node's log and stable store
// (through a StoreFactory: raftlog, or a peer for comparison), raft's network transport
// over TCP on 127.0.0.1, a FileSnapshotStore and a small FSM (a key-value map with a
// running checksum), and serves a line protocol for clients and for the controller on a
// second port. It prints one "event ..." line on stdout for each snapshot, restore,
// leadership and log deletion, so that the controller can count them across kills.
//
// Cluster starts, kills (SIGKILL), cuts off and restarts the node processes; Client
// applies commands through the leader; Run plays a scenario (commands from concurrent
// clients while leaders and followers are killed) and checks the outcome: every FSM has
// the same checksum and holds every acknowledged command.
//
// # Caveats
//
//   - The transport is raft's NetworkTransport over TCP, with a stream layer that the
//     controller can cut (close every connection and refuse new ones): that is how a
//     leader is made to hold entries no follower has, before it is killed, so that its
//     restart must truncate its log's suffix.
//   - Loopback only: every address is 127.0.0.1.
//
// # Concurrency
//
// A Cluster is driven by one goroutine; Client is safe for concurrent use (one
// connection per goroutine is faster).
package cluster
