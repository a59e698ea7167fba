package cluster

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config describes a cluster to start.
type Config struct {
	// Dir holds one directory per node (n0, n1, n2) and their logs (n0.log, ...).
	Dir string
	// Store names the log store the nodes use (a key of NodeMain's stores).
	Store string
	// Tuning is the nodes' snapshot configuration; zero means DefaultTuning.
	Tuning Tuning
	// Command builds the process of a node with the given arguments (for NodeMain).
	Command func(args []string) *exec.Cmd
	// OnEvent, when set, is called with every event line of every node.
	OnEvent func(node int, line string)
}

// Nodes is the number of nodes of a cluster.
const Nodes = 3

// Cluster is a running cluster of Nodes processes.
type Cluster struct {
	cfg   Config
	Peers []Peer

	mu     sync.Mutex
	procs  [Nodes]*proc // guarded by mu
	counts [Nodes]map[string]int
}

type proc struct {
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process has exited and its stdout is drained
	log   *os.File
	start time.Time
}

// New prepares a cluster in cfg.Dir with free loopback ports; Start starts its nodes.
func New(cfg Config) (*Cluster, error) {
	if cfg.Tuning == (Tuning{}) {
		cfg.Tuning = DefaultTuning
	}
	c := &Cluster{cfg: cfg}
	ports, err := freePorts(2 * Nodes)
	if err != nil {
		return nil, err
	}
	for i := range Nodes {
		c.Peers = append(c.Peers, Peer{ID: fmt.Sprintf("n%d", i),
			RaftAddr: ports[2*i], ClientAddr: ports[2*i+1]})
		c.counts[i] = map[string]int{}
	}
	return c, nil
}

// freePorts returns n loopback addresses whose ports were free a moment ago.
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// Addrs returns the nodes' client addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, p := range c.Peers {
		out = append(out, p.ClientAddr)
	}
	return out
}

// NodeDir returns node i's directory.
func (c *Cluster) NodeDir(i int) string { return filepath.Join(c.cfg.Dir, c.Peers[i].ID) }

// Start starts node i on its directory and waits until it answers.
func (c *Cluster) Start(i int) error {
	if c.Running(i) {
		return fmt.Errorf("cluster: %s is running", c.Peers[i].ID)
	}
	logf, err := os.OpenFile(filepath.Join(c.cfg.Dir, c.Peers[i].ID+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	cmd := c.cfg.Command(nodeArgs(i, c.NodeDir(i), c.cfg.Store, c.Peers, c.cfg.Tuning))
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logf, start: time.Now()}
	c.mu.Lock()
	c.procs[i] = p
	c.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			c.event(i, sc.Text())
		}
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := queryState(c.Peers[i].ClientAddr, 500*time.Millisecond); err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("cluster: %s exited at start: %s; see %s", c.Peers[i].ID, p.cmd.ProcessState, logf.Name())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: %s did not answer within 20 s", c.Peers[i].ID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StartAll starts every node that is not running.
func (c *Cluster) StartAll() error {
	for i := range Nodes {
		if !c.Running(i) {
			if err := c.Start(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// event counts one stdout line of node i: "event <kind> k=v ...".
func (c *Cluster) event(i int, line string) {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "event" {
		return
	}
	key := f[1]
	for _, kv := range f[2:] {
		switch {
		case strings.HasPrefix(kv, "kind="):
			key += "-" + strings.TrimPrefix(kv, "kind=")
		case kv == "install=true":
			key += "-install"
		case kv == "install=false":
			key += "-start"
		}
	}
	c.mu.Lock()
	c.counts[i][key]++
	c.mu.Unlock()
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(i, line)
	}
}

// Count returns how many events of a kind (e.g. "snapshot", "delete-prefix",
// "delete-suffix", "delete-whole", "restore-install", "leader") node i reported; node -1
// means all nodes.
func (c *Cluster) Count(node int, key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := range Nodes {
		if node < 0 || node == i {
			n += c.counts[i][key]
		}
	}
	return n
}

// Counts returns every event count, summed over the nodes.
func (c *Cluster) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for i := range Nodes {
		for k, v := range c.counts[i] {
			out[k] += v
		}
	}
	return out
}

// Running reports whether node i's process is alive.
func (c *Cluster) Running(i int) bool {
	p := c.proc(i)
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Kill SIGKILLs node i and waits for it to exit.
func (c *Cluster) Kill(i int) {
	c.signal(i, syscall.SIGKILL, 0)
}

// Stop stops node i with SIGTERM (SIGKILL after 10 s).
func (c *Cluster) Stop(i int) {
	c.signal(i, syscall.SIGTERM, 10*time.Second)
}

// proc returns node i's latest process (nil before its first start).
func (c *Cluster) proc(i int) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[i]
}

// PID returns the pid of node i's latest process, 0 before its first start.
func (c *Cluster) PID(i int) int {
	if p := c.proc(i); p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

func (c *Cluster) signal(i int, sig syscall.Signal, grace time.Duration) {
	p := c.proc(i)
	if !c.Running(i) {
		return
	}
	p.cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-p.done:
			return
		case <-time.After(grace):
			p.cmd.Process.Kill()
		}
	}
	<-p.done
}

// Close stops every node.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for i := range Nodes {
		wg.Go(func() { c.Stop(i) })
	}
	wg.Wait()
}

// State returns node i's state.
func (c *Cluster) State(i int) (State, error) {
	return queryState(c.Peers[i].ClientAddr, 2*time.Second)
}

// Leader waits up to timeout for a running node other than those in exclude to report
// itself leader, and returns it.
func (c *Cluster) Leader(timeout time.Duration, exclude ...int) (int, State, error) {
	deadline := time.Now().Add(timeout)
	for {
		for i := range Nodes {
			if !c.Running(i) || indexOfInt(exclude, i) >= 0 {
				continue
			}
			if st, err := c.State(i); err == nil && st.State == "Leader" {
				return i, st, nil
			}
		}
		if time.Now().After(deadline) {
			return -1, State{}, fmt.Errorf("cluster: no leader within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Cut cuts node i off from the others and has it append n commands it cannot commit.
func (c *Cluster) Cut(i, n int) error {
	reply, err := query(c.Peers[i].ClientAddr, fmt.Sprintf("cut %d", n), 2*time.Second)
	if err == nil && reply != "ok" {
		err = fmt.Errorf("cut: %s", reply)
	}
	return err
}

// LogTail returns the last n bytes of node i's stderr log, for failure reports.
func (c *Cluster) LogTail(i, n int) string {
	b, _ := os.ReadFile(filepath.Join(c.cfg.Dir, c.Peers[i].ID+".log"))
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func indexOfInt(list []int, v int) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}
