package cluster

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kill is one disruption of a scenario.
type Kill int

const (
	// KillLeader SIGKILLs the leader mid-stream and restarts it on its directory at once.
	KillLeader Kill = iota
	// KillLeaderUncommitted pauses the clients, cuts the leader off, has it append entries
	// no follower gets, SIGKILLs it and restarts it: the new leader's entries conflict
	// with those, so the restarted node must truncate its log's suffix and catch up from
	// the log (the pause keeps the new leader from compacting past the conflict, which
	// would let a snapshot install hide a broken truncation).
	KillLeaderUncommitted
	// KillFollowerLong SIGKILLs a follower and keeps it down until the leader has
	// compacted its log past the follower's last entry, then restarts it: it must install
	// a snapshot from the leader (and, its store being monotonic, delete its whole log).
	KillFollowerLong
)

func (k Kill) String() string {
	switch k {
	case KillLeader:
		return "leader"
	case KillLeaderUncommitted:
		return "leader with uncommitted entries"
	case KillFollowerLong:
		return "follower kept down past compaction"
	}
	return fmt.Sprintf("Kill(%d)", int(k))
}

// Scenario is a run: Commands distinct commands applied by Clients concurrent clients,
// with the Kills spread evenly over it.
type Scenario struct {
	Commands int
	Clients  int
	Kills    []Kill
	// Progress, when set, receives a live status line every Every (default 500 ms) and a
	// line for each kill and election.
	Progress io.Writer
	Every    time.Duration
}

// Result is what a scenario observed.
type Result struct {
	Commands      int // commands acknowledged (each command is retried until it is)
	Attempts      int // apply requests that were not acknowledged
	LeaderKills   int
	FollowerKills int
	Elections     []time.Duration // from each leader kill to the next leader
	Lost          int             // acknowledged commands missing or wrong on some node
	LostExamples  []string
	FSMEqual      bool
	Sums          [Nodes]uint64
	AppliedIndex  uint64
	Counts        map[string]int
	Duration      time.Duration
}

// Verdict is the one-line summary of a result.
func (r *Result) Verdict() string {
	eq := "fsm equal"
	if !r.FSMEqual {
		eq = fmt.Sprintf("fsm DIFFER (%x %x %x)", r.Sums[0], r.Sums[1], r.Sums[2])
	}
	return fmt.Sprintf("cluster: %d commands, %d nodes, %d leader kills, %d lost, %s", r.Commands, Nodes, r.LeaderKills, r.Lost, eq)
}

// Run plays sc on the cluster (starting the nodes that are not running) and checks the
// outcome; the returned error is for a scenario that could not be played (a node that
// would not start, no leader, a convergence timeout), the Result says what was found.
func (c *Cluster) Run(sc Scenario) (*Result, error) {
	start := time.Now()
	if err := c.StartAll(); err != nil {
		return nil, err
	}
	if _, _, err := c.Leader(30 * time.Second); err != nil {
		return nil, err
	}
	if sc.Clients <= 0 {
		sc.Clients = 1
	}
	if sc.Every <= 0 {
		sc.Every = 500 * time.Millisecond
	}
	res := &Result{}
	say := func(format string, args ...any) {
		if sc.Progress != nil {
			fmt.Fprintf(sc.Progress, "%6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
		}
	}
	ack := &acked{kv: map[string]string{}}
	var gate sync.RWMutex // disrupt holds it to pause the clients
	var attempts atomic.Int64
	work := make(chan int)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range sc.Clients {
		wg.Go(func() {
			cl := NewClient(c.Addrs(), 30*time.Second)
			defer cl.Close()
			for i := range work {
				key, val := fmt.Sprintf("k%06d", i), fmt.Sprintf("v%d", i)
				for {
					gate.RLock()
					_, err := cl.Apply(key, val)
					gate.RUnlock()
					if err == nil {
						ack.add(key, val)
						break
					}
					attempts.Add(1)
					select {
					case <-stop:
						return
					default:
					}
				}
			}
		})
	}
	go func() {
		defer close(work)
		for i := range sc.Commands {
			select {
			case work <- i:
			case <-stop:
				return
			}
		}
	}()
	progressDone := make(chan struct{})
	if sc.Progress != nil {
		go c.progress(sc, start, stop, progressDone)
	} else {
		close(progressDone)
	}
	var runErr error
	for k, kill := range sc.Kills {
		at := (k + 1) * sc.Commands / (len(sc.Kills) + 1)
		for ack.len() < at {
			time.Sleep(5 * time.Millisecond)
		}
		if runErr = c.disrupt(kill, res, ack, &gate, sc.Commands, say); runErr != nil {
			break
		}
	}
	if runErr == nil {
		for ack.len() < sc.Commands {
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	<-progressDone
	res.Commands = ack.len()
	res.Attempts = int(attempts.Load())
	if runErr != nil {
		return res, runErr
	}
	say("all %d commands acknowledged; waiting for the 3 FSMs to converge", res.Commands)
	if err := c.StartAll(); err != nil {
		return res, err
	}
	if err := c.verify(res, ack); err != nil {
		return res, err
	}
	res.Counts = c.Counts()
	res.Duration = time.Since(start)
	return res, nil
}

// disrupt performs one kill and the restart that follows it.
func (c *Cluster) disrupt(kill Kill, res *Result, ack *acked, gate *sync.RWMutex, total int, say func(string, ...any)) error {
	if kill == KillLeaderUncommitted {
		gate.Lock()
		defer gate.Unlock()
		say("clients paused")
	}
	leader, _, err := c.Leader(30 * time.Second)
	if err != nil {
		return err
	}
	switch kill {
	case KillLeader, KillLeaderUncommitted:
		if kill == KillLeaderUncommitted {
			if err := c.leaveUncommitted(leader, say); err != nil {
				return err
			}
		}
		installs, suffixes := c.Count(leader, "restore-install"), c.Count(leader, "delete-suffix")
		pid := c.PID(leader)
		killed := time.Now()
		c.Kill(leader)
		res.LeaderKills++
		say("SIGKILL leader %s (pid %d)", c.Peers[leader].ID, pid)
		next, st, err := c.Leader(30*time.Second, leader)
		if err != nil {
			return err
		}
		el := time.Since(killed)
		res.Elections = append(res.Elections, el)
		say("new leader %s elected %d ms after the kill (term %d)", c.Peers[next].ID, el.Milliseconds(), st.Term)
		if err := c.Start(leader); err != nil {
			return err
		}
		say("restarted %s on its directory", c.Peers[leader].ID)
		if kill == KillLeaderUncommitted {
			// The restarted node must truncate its suffix and catch up from the log.
			deadline := time.Now().Add(30 * time.Second)
			for {
				nst, err1 := c.State(next)
				ost, err2 := c.State(leader)
				if err1 == nil && err2 == nil && c.Count(leader, "delete-suffix") > suffixes &&
					ost.AppliedIndex >= nst.CommitIndex && ost.Last == nst.Last {
					break
				}
				if c.Count(leader, "restore-install") > installs {
					return fmt.Errorf("cluster: %s caught up by a snapshot install, not by truncating its uncommitted suffix", c.Peers[leader].ID)
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("cluster: %s never truncated its uncommitted suffix and caught up (state %+v)", c.Peers[leader].ID, ost)
				}
				time.Sleep(10 * time.Millisecond)
			}
			say("%s truncated the suffix the new leader had overwritten and caught up; clients resume", c.Peers[leader].ID)
		}
	case KillFollowerLong:
		f := (leader + 1) % Nodes
		if !c.Running(f) {
			f = (leader + 2) % Nodes
		}
		st, err := c.State(f)
		if err != nil {
			return err
		}
		c.Kill(f)
		res.FollowerKills++
		say("SIGKILL follower %s (its log ends at %d); it stays down until the leader compacts past it", c.Peers[f].ID, st.Last)
		deadline := time.Now().Add(120 * time.Second)
		for {
			l, lst, err := c.Leader(30*time.Second, f)
			if err != nil {
				return err
			}
			if lst.First > st.Last+1 {
				say("leader %s's log starts at %d now: restarting %s", c.Peers[l].ID, lst.First, c.Peers[f].ID)
				break
			}
			if ack.len() >= total || time.Now().After(deadline) {
				return fmt.Errorf("cluster: the leader never compacted past %s's log (%d); first is %d", c.Peers[f].ID, st.Last, lst.First)
			}
			time.Sleep(20 * time.Millisecond)
		}
		installs := c.Count(f, "restore-install")
		if err := c.Start(f); err != nil {
			return err
		}
		deadline = time.Now().Add(30 * time.Second)
		for c.Count(f, "restore-install") == installs {
			if time.Now().After(deadline) {
				return fmt.Errorf("cluster: %s never installed a snapshot", c.Peers[f].ID)
			}
			time.Sleep(10 * time.Millisecond)
		}
		say("%s installed a snapshot from the leader", c.Peers[f].ID)
	}
	return nil
}

// leaveUncommitted cuts the leader off and waits until it has appended entries that no
// follower has.
func (c *Cluster) leaveUncommitted(leader int, say func(string, ...any)) error {
	before, err := c.State(leader)
	if err != nil {
		return err
	}
	if err := c.Cut(leader, 5); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := c.State(leader)
		if err != nil {
			return err
		}
		if st.Last > before.Last && st.Last > st.CommitIndex {
			say("cut leader %s off: its log ends at %d, committed %d", c.Peers[leader].ID, st.Last, st.CommitIndex)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: cut-off leader %s appended nothing (last %d, commit %d)", c.Peers[leader].ID, st.Last, st.CommitIndex)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// verify waits until the three nodes have applied the same log, then compares their FSMs
// with each other and with every acknowledged command.
func (c *Cluster) verify(res *Result, ack *acked) error {
	deadline := time.Now().Add(60 * time.Second)
	var sts [Nodes]State
	for {
		ok := true
		for i := range Nodes {
			st, err := c.State(i)
			if err != nil {
				ok = false
				break
			}
			sts[i] = st
		}
		if ok && sts[0].AppliedIndex == sts[1].AppliedIndex && sts[1].AppliedIndex == sts[2].AppliedIndex &&
			sts[0].AppliedIndex == sts[0].LastLogIndex && sts[1].LastLogIndex == sts[0].LastLogIndex &&
			sts[2].LastLogIndex == sts[0].LastLogIndex {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: the nodes did not converge within 60 s: %+v", sts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.AppliedIndex = sts[0].AppliedIndex
	res.FSMEqual = true
	for i := range Nodes {
		res.Sums[i] = sts[i].Sum
		if sts[i].Sum != sts[0].Sum || sts[i].Commands != sts[0].Commands {
			res.FSMEqual = false
		}
	}
	lost := map[string]bool{}
	for i := range Nodes {
		kv, err := queryDump(c.Peers[i].ClientAddr, 10*time.Second)
		if err != nil {
			return err
		}
		ack.mu.Lock()
		for k, v := range ack.kv {
			if kv[k] != v && !lost[k] {
				lost[k] = true
				if len(res.LostExamples) < 5 {
					res.LostExamples = append(res.LostExamples, fmt.Sprintf("%s: %s=%s, has %q", c.Peers[i].ID, k, v, kv[k]))
				}
			}
		}
		ack.mu.Unlock()
	}
	res.Lost = len(lost)
	return nil
}

// progress prints a status line every sc.Every until stop is closed.
func (c *Cluster) progress(sc Scenario, start time.Time, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(sc.Every)
	defer t.Stop()
	var lastApplied uint64
	lastAt := start
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		var b strings.Builder
		leader, term, commit, applied := "-", uint64(0), uint64(0), uint64(0)
		var ranges []string
		for i := range Nodes {
			if !c.Running(i) {
				ranges = append(ranges, fmt.Sprintf("%s=down", c.Peers[i].ID))
				continue
			}
			st, err := queryState(c.Peers[i].ClientAddr, 300*time.Millisecond)
			if err != nil {
				ranges = append(ranges, fmt.Sprintf("%s=?", c.Peers[i].ID))
				continue
			}
			if st.State == "Leader" {
				leader, term, commit, applied = st.ID, st.Term, st.CommitIndex, st.AppliedIndex
			}
			ranges = append(ranges, fmt.Sprintf("%s=[%d..%d]", st.ID, st.First, st.Last))
		}
		now := time.Now()
		rate := 0.0
		if applied > lastApplied {
			rate = float64(applied-lastApplied) / now.Sub(lastAt).Seconds()
			lastApplied, lastAt = applied, now
		}
		fmt.Fprintf(&b, "%6.1fs  leader=%-2s term=%-3d commit=%-6d applies/s=%-6.0f %s", time.Since(start).Seconds(),
			leader, term, commit, rate, strings.Join(ranges, " "))
		fmt.Fprintln(sc.Progress, b.String())
	}
}

// ErrVerdict is returned by Check for a result that lost commands or whose FSMs differ.
var ErrVerdict = errors.New("cluster: verdict failed")

// Check returns nil for a result with nothing lost and equal FSMs, and otherwise an error
// naming the failure.
func (r *Result) Check() error {
	var why []string
	if r.Lost > 0 {
		why = append(why, fmt.Sprintf("%d acknowledged commands lost (%s)", r.Lost, strings.Join(r.LostExamples, "; ")))
	}
	if !r.FSMEqual {
		why = append(why, fmt.Sprintf("FSM checksums differ: %x", r.Sums))
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrVerdict, strings.Join(why, "; "))
}

// Sorted returns the event counts as "key=n" strings in key order.
func (r *Result) Sorted() []string {
	var out []string
	for k, v := range r.Counts {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(out)
	return out
}
