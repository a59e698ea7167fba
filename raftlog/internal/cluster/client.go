package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// conn is one line-protocol connection to a node.
type conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
}

func dial(addr string, timeout time.Duration) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &conn{addr: addr, c: c, r: bufio.NewReaderSize(c, 1<<16)}, nil
}

// call sends one request line and returns the reply line (without the newline).
func (c *conn) call(req string, timeout time.Duration) (string, error) {
	c.c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.c.Write([]byte(req + "\n")); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(line, "\n"), nil
}

func (c *conn) close() { c.c.Close() }

// query sends one request to addr on a fresh connection.
func query(addr, req string, timeout time.Duration) (string, error) {
	c, err := dial(addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.close()
	return c.call(req, timeout)
}

// queryState returns the state of the node at addr.
func queryState(addr string, timeout time.Duration) (State, error) {
	var st State
	line, err := query(addr, "state", timeout)
	if err != nil {
		return st, err
	}
	js, ok := strings.CutPrefix(line, "state ")
	if !ok {
		return st, fmt.Errorf("state: unexpected reply %q", line)
	}
	return st, json.Unmarshal([]byte(js), &st)
}

// queryDump returns the key-value map of the node at addr.
func queryDump(addr string, timeout time.Duration) (map[string]string, error) {
	line, err := query(addr, "dump", timeout)
	if err != nil {
		return nil, err
	}
	js, ok := strings.CutPrefix(line, "dump ")
	if !ok {
		return nil, fmt.Errorf("dump: unexpected reply %q", line)
	}
	var kv map[string]string
	return kv, json.Unmarshal([]byte(js), &kv)
}

// ErrNotApplied is returned by Client.Apply when the command was not acknowledged within
// the client's patience: it may or may not be applied.
var ErrNotApplied = errors.New("cluster: command not acknowledged")

// Client applies commands through the cluster's leader, following redirects and trying
// every node when the leader is unreachable. It is not safe for concurrent use: give each
// goroutine its own.
type Client struct {
	addrs   []string
	patient time.Duration
	c       *conn
	next    int
}

// NewClient returns a client of the nodes at addrs that tries each command for up to
// patient.
func NewClient(addrs []string, patient time.Duration) *Client {
	return &Client{addrs: addrs, patient: patient}
}

// Apply applies key=value and returns its raft index once the leader acknowledged it
// (raft's Apply returned nil: the entry is committed and applied on the leader).
func (cl *Client) Apply(key, value string) (uint64, error) {
	deadline := time.Now().Add(cl.patient)
	var last error
	for time.Now().Before(deadline) {
		if cl.c == nil {
			c, err := dial(cl.addrs[cl.next%len(cl.addrs)], 200*time.Millisecond)
			if err != nil {
				last = err
				cl.next++
				time.Sleep(5 * time.Millisecond)
				continue
			}
			cl.c = c
		}
		reply, err := cl.c.call("apply "+key+" "+value, 6*time.Second)
		if err != nil {
			last = err
			cl.drop()
			continue
		}
		if idx, ok := strings.CutPrefix(reply, "ok "); ok {
			return strconv.ParseUint(idx, 10, 64)
		}
		last = errors.New(reply)
		if addr, ok := strings.CutPrefix(reply, "err notleader "); ok {
			cl.drop()
			if i := indexOf(cl.addrs, addr); i >= 0 {
				cl.next = i
			} else {
				time.Sleep(10 * time.Millisecond) // no leader known yet
			}
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, fmt.Errorf("%w: %s=%s: %v", ErrNotApplied, key, value, last)
}

func (cl *Client) drop() {
	if cl.c != nil {
		cl.c.close()
		cl.c = nil
	}
	cl.next++
}

// Close closes the client's connection.
func (cl *Client) Close() { cl.drop() }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// acked records the commands a client had acknowledged.
type acked struct {
	mu sync.Mutex
	kv map[string]string
}

func (a *acked) add(k, v string) {
	a.mu.Lock()
	a.kv[k] = v
	a.mu.Unlock()
}

func (a *acked) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.kv)
}
