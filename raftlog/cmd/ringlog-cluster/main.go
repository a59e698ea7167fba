// Command ringlog-cluster runs a 3-node hashicorp/raft cluster on loopback, each node a
// process of its own on a raftlog store, and shows it live: the leader, the commit index,
// applies per second and each node's log range. Midway it SIGKILLs the leader, shows the
// new election, restarts the old leader on its directory and, at the end, checks that no
// acknowledged command was lost and that the three FSMs are equal:
//
//	cluster: 10000 commands, 3 nodes, 2 leader kills, 0 lost, fsm equal
//
// It exits 0 on that verdict, 1 with a line naming the failure otherwise, 2 on a bad flag.
//
// Usage:
//
//	ringlog-cluster [-commands N] [-kills K] [-clients C] [-dir DIR] [-every D]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ringlog/ringlog/raftlog/internal/cluster"
)

var stores = map[string]cluster.StoreFactory{"ringlog": cluster.RaftlogStore}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		os.Exit(cluster.NodeMain(os.Args[2:], stores))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ringlog-cluster", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	commands := fs.Int("commands", 10000, "commands to apply")
	kills := fs.Int("kills", 2, "leader kills, spread over the run")
	clients := fs.Int("clients", 4, "concurrent clients")
	dir := fs.String("dir", "", "directory for the 3 nodes (empty or new; default: a temporary one, removed at the end)")
	every := fs.Duration("every", 500*time.Millisecond, "status line period")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "ringlog-cluster: %v (flags: -commands N -kills K -clients C -dir DIR -every D)\n", err)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "ringlog-cluster: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *commands < 1 || *kills < 0 || *clients < 1 || *every <= 0:
		fmt.Fprintf(stderr, "ringlog-cluster: -commands and -clients must be >= 1, -kills >= 0, -every > 0\n")
		return 2
	case *kills >= *commands:
		fmt.Fprintf(stderr, "ringlog-cluster: -kills must be below -commands\n")
		return 2
	}
	if err := runCluster(*dir, *commands, *kills, *clients, *every, stdout); err != nil {
		fmt.Fprintf(stderr, "cluster: FAILED: %v\n", err)
		return 1
	}
	return 0
}

func runCluster(dir string, commands, kills, clients int, every time.Duration, stdout io.Writer) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ringlog-cluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := usableDir(dir); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c, err := cluster.New(cluster.Config{
		Dir: dir, Store: "ringlog",
		Command: func(args []string) *exec.Cmd { return exec.Command(self, append([]string{"node"}, args...)...) },
		OnEvent: func(node int, line string) {
			if strings.HasPrefix(line, "event leader ") {
				fmt.Fprintf(stdout, "        n%d is the leader (%s)\n", node, strings.TrimPrefix(line, "event leader "))
			}
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(stdout, "3 raft nodes on 127.0.0.1 (raft %s, clients %s), each a process on a raftlog store in %s\n",
		strings.Join(raftAddrs(c), " "), strings.Join(c.Addrs(), " "), dir)
	sc := cluster.Scenario{Commands: commands, Clients: clients, Progress: stdout, Every: every}
	for range kills {
		sc.Kills = append(sc.Kills, cluster.KillLeader)
	}
	res, err := c.Run(sc)
	if err != nil {
		return err
	}
	if err := res.Check(); err != nil {
		return err
	}
	var els []string
	for _, e := range res.Elections {
		els = append(els, fmt.Sprintf("%d ms", e.Milliseconds()))
	}
	fmt.Fprintf(stdout, "%d commands acknowledged in %.1f s; elections after each kill: %s; events: %s\n",
		res.Commands, res.Duration.Seconds(), strings.Join(els, ", "), strings.Join(res.Sorted(), " "))
	fmt.Fprintln(stdout, res.Verdict())
	return nil
}

func raftAddrs(c *cluster.Cluster) []string {
	var out []string
	for _, p := range c.Peers {
		out = append(out, p.RaftAddr)
	}
	return out
}

// usableDir accepts a missing or empty directory: a cluster's raft configuration names
// its nodes' addresses, which are new on every run.
func usableDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o750)
	case err != nil:
		return fmt.Errorf("-dir %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("-dir %s is not empty (each run needs a fresh directory)", dir)
	}
	return nil
}
