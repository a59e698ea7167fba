package cluster

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// cutLayer is raft's TCP stream layer (what raft.NewTCPTransport builds on) plus a switch
// that cuts the node off: every connection is closed and new ones are refused.
type cutLayer struct {
	net.Listener
	cut atomic.Bool

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

var errCut = errors.New("cluster: node is cut off")

func newCutLayer(bind string) (*cutLayer, error) {
	l, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	return &cutLayer{Listener: l, conns: map[*trackedConn]struct{}{}}, nil
}

// Accept returns the next connection, closing those that arrive while cut off.
func (c *cutLayer) Accept() (net.Conn, error) {
	for {
		conn, err := c.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c.cut.Load() {
			conn.Close()
			continue
		}
		return c.track(conn), nil
	}
}

// Dial connects to a peer, unless cut off.
func (c *cutLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	conn, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	return c.track(conn), nil
}

// Cut closes every connection and refuses new ones from now on.
func (c *cutLayer) Cut() {
	c.cut.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	for tc := range c.conns {
		tc.Conn.Close()
	}
}

func (c *cutLayer) track(conn net.Conn) net.Conn {
	tc := &trackedConn{Conn: conn, layer: c}
	c.mu.Lock()
	c.conns[tc] = struct{}{}
	c.mu.Unlock()
	if c.cut.Load() {
		conn.Close()
	}
	return tc
}

type trackedConn struct {
	net.Conn
	layer *cutLayer
}

func (t *trackedConn) Close() error {
	t.layer.mu.Lock()
	delete(t.layer.conns, t)
	t.layer.mu.Unlock()
	return t.Conn.Close()
}
