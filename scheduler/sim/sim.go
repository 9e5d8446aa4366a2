// Package sim simulates a room of render nodes in one process, to drive the
// real controller (package scheduler) at scale: N nodes, each a loopback
// listener that speaks the real protocol (handshake, frames, pings, cancels)
// and answers every tile job after a configurable delay with the right
// pixels, without rendering them each time.
//
// The right pixels come from a Pixels source: by default Cache, which loads
// the scene the controller sends (the Scene frame, as a node does) and
// renders each image it is asked for once, on every core, the first time a
// job of it arrives; every job is then answered with its tile cut from that
// image. A pixel does not depend on the tile it is rendered in, so these
// answers equal a real node's, bit for bit, and the controller's audits
// pass.
//
// `tessera sim` runs a fleet in a process of its own, and the scale section
// of `tessera bench` drives a controller with one; the controller's tests use
// fleets in-process. Nothing here prints: logs go to Config.Logger.
package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tessera/protocol"
)

// Config configures a Fleet. Every zero field takes the default written
// beside it.
type Config struct {
	Nodes  int           // how many nodes; default 1
	Cores  int           // workers of each node (its Hello's cores); default 1
	Delay  time.Duration // how long one worker takes per tile; 0 answers at once
	Prefix string        // node ids are Prefix + a number from 1; default "sim-"
	Token  string        // the room's token; empty: none
	Listen string        // host to listen on; default 127.0.0.1 (each node takes a free port)
	Pixels Pixels        // the right pixels; default a new Cache
	// ZeroNanos makes every result report a render time of 0 however long
	// it took (a node whose own timing is wrong): the controller must not
	// size its windows by what nodes say.
	ZeroNanos bool
	Logger    zerolog.Logger
}

// Pixels gives the right pixels of a tile job, encoded for a TileResult
// (protocol.EncodePixels), and the rays they cost. scene is the Scene frame
// the connection received (zero if none came). It must be safe for
// concurrent use.
type Pixels interface {
	Tile(ctx context.Context, scene protocol.Scene, j protocol.TileJob) (pix []byte, rays uint64, err error)
}

// Fleet is a set of simulated nodes. Start it with Start; Close stops every
// node and waits for its goroutines.
type Fleet struct {
	cfg   Config
	nodes []*Node
}

// Start starts cfg.Nodes nodes, each listening on a port of its own.
func Start(cfg Config) (*Fleet, error) {
	if cfg.Nodes < 0 || cfg.Cores < 0 || cfg.Delay < 0 {
		return nil, fmt.Errorf("sim: nodes %d, cores %d, delay %v: want none negative", cfg.Nodes, cfg.Cores, cfg.Delay)
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = 1
	}
	if cfg.Cores == 0 {
		cfg.Cores = 1
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "sim-"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1"
	}
	if cfg.Pixels == nil {
		cfg.Pixels = NewCache()
	}
	f := &Fleet{cfg: cfg}
	for i := range cfg.Nodes {
		n, err := f.startNode(fmt.Sprintf("%s%d", cfg.Prefix, i+1))
		if err != nil {
			f.Close()
			return nil, err
		}
		f.nodes = append(f.nodes, n)
	}
	return f, nil
}

// Nodes returns the fleet's nodes, in the order of their ids.
func (f *Fleet) Nodes() []*Node { return f.nodes }

// Close stops every node (listeners and connections) and waits for them.
func (f *Fleet) Close() {
	var wg sync.WaitGroup
	for _, n := range f.nodes {
		wg.Go(n.Close)
	}
	wg.Wait()
}

// Totals sums the counters of every node.
func (f *Fleet) Totals() Counters {
	var t Counters
	for _, n := range f.nodes {
		c := n.Counters()
		t.Connections += c.Connections
		t.Jobs += c.Jobs
		t.Results += c.Results
		t.Cancelled += c.Cancelled
		t.Failed += c.Failed
	}
	return t
}

// Node is one simulated node.
type Node struct {
	ID   string
	Addr string // host:port to dial

	f      *Fleet
	l      net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[*protocol.Conn]bool
	delay time.Duration
	mute  bool // answers nothing at all (a link gone quiet)

	connections, jobs, results, cancelled, failed atomic.Int64
}

// Counters are what a node (or a fleet) did.
type Counters struct {
	Connections int64 // handshakes done
	Jobs        int64 // tile jobs received
	Results     int64 // results sent
	Cancelled   int64 // jobs withdrawn before their result was sent
	Failed      int64 // jobs answered with an Error (the pixels could not be had)
}

// Counters returns the node's counters now.
func (n *Node) Counters() Counters {
	return Counters{Connections: n.connections.Load(), Jobs: n.jobs.Load(), Results: n.results.Load(),
		Cancelled: n.cancelled.Load(), Failed: n.failed.Load()}
}

// SetDelay changes the time a worker takes per tile, for jobs started
// from now on.
func (n *Node) SetDelay(d time.Duration) {
	n.mu.Lock()
	n.delay = d
	n.mu.Unlock()
}

// SetMute makes the node answer nothing (no result, no pong: as if its
// link went quiet) or answer again; jobs that came while it was mute are
// dropped.
func (n *Node) SetMute(mute bool) {
	n.mu.Lock()
	n.mute = mute
	n.mu.Unlock()
}

func (n *Node) state() (time.Duration, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.delay, n.mute
}

// Drop closes every connection of the node; it still accepts new ones.
func (n *Node) Drop() {
	n.mu.Lock()
	conns := make([]*protocol.Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Close stops the node: its listener and connections close, and its
// goroutines are waited for.
func (n *Node) Close() {
	n.cancel()
	n.l.Close()
	n.Drop()
	n.wg.Wait()
}

func (f *Fleet) startNode(id string) (*Node, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(f.cfg.Listen, "0"))
	if err != nil {
		return nil, fmt.Errorf("sim: node %s: %w", id, err)
	}
	n := &Node{ID: id, Addr: l.Addr().String(), f: f, l: l, conns: make(map[*protocol.Conn]bool), delay: f.cfg.Delay}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Go(n.accept)
	return n, nil
}

func (n *Node) accept() {
	for {
		nc, err := n.l.Accept()
		if err != nil {
			return
		}
		c := protocol.NewConn(nc, protocol.Config{})
		n.mu.Lock()
		n.conns[c] = true
		n.mu.Unlock()
		n.wg.Go(func() {
			defer func() {
				c.Close()
				n.mu.Lock()
				delete(n.conns, c)
				n.mu.Unlock()
			}()
			n.serve(c)
		})
	}
}

// serve runs one connection: the handshake, then jobs until it ends.
func (n *Node) serve(c *protocol.Conn) {
	hctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	hello := protocol.Hello{Role: protocol.RoleNode, ID: n.ID, Name: n.ID, Cores: n.f.cfg.Cores, Software: "sim"}
	_, err := c.Handshake(hctx, hello, n.f.cfg.Token)
	cancel()
	if err != nil {
		n.f.cfg.Logger.Debug().Err(err).Str("node", n.ID).Msg("handshake failed")
		return
	}
	n.connections.Add(1)
	s := &conn{n: n, c: c, wake: make(chan struct{}, 1), queued: make(map[uint64]bool)}
	ctx, stop := context.WithCancel(n.ctx)
	defer stop()
	n.wg.Go(func() { s.work(ctx) })
	s.read()
}

// conn is a connection's state: its scene, its queue of jobs and the jobs
// withdrawn.
type conn struct {
	n    *Node
	c    *protocol.Conn
	wake chan struct{} // capacity 1: a job was queued

	mu     sync.Mutex
	scene  protocol.Scene
	queue  []protocol.TileJob
	queued map[uint64]bool // jobs queued or running, not cancelled
}

// read takes the controller's frames until the connection ends.
func (s *conn) read() {
	for {
		m, err := s.c.Recv()
		if err != nil {
			if !errors.Is(err, protocol.ErrClosed) && !errors.Is(err, net.ErrClosed) {
				s.n.f.cfg.Logger.Debug().Err(err).Str("node", s.n.ID).Msg("connection ended")
			}
			return
		}
		if _, mute := s.n.state(); mute {
			continue
		}
		switch m := m.(type) {
		case protocol.Scene:
			s.mu.Lock()
			s.scene = m
			s.mu.Unlock()
		case protocol.TileJob:
			s.n.jobs.Add(1)
			s.mu.Lock()
			s.queue = append(s.queue, m)
			s.queued[m.Job] = true
			s.mu.Unlock()
			select {
			case s.wake <- struct{}{}:
			default:
			}
		case protocol.Cancel:
			s.mu.Lock()
			if s.queued[m.Job] {
				delete(s.queued, m.Job)
				s.n.cancelled.Add(1)
			}
			s.mu.Unlock()
		case protocol.Ping:
			_ = s.c.Send(protocol.Pong{Seq: m.Seq})
		}
	}
}

// work runs the connection's jobs in order, Cores at a time, each taking
// the node's delay, until ctx ends.
func (s *conn) work(ctx context.Context) {
	slots := make(chan struct{}, s.n.f.cfg.Cores)
	for {
		s.mu.Lock()
		var j protocol.TileJob
		have := false
		for len(s.queue) > 0 && !have {
			j, s.queue = s.queue[0], s.queue[1:]
			have = s.queued[j.Job] // cancelled ones are skipped
		}
		scene := s.scene
		s.mu.Unlock()
		if !have {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		delay, _ := s.n.state()
		if delay == 0 {
			s.answer(ctx, scene, j, 0)
			<-slots
			continue
		}
		time.AfterFunc(delay, func() {
			defer func() { <-slots }()
			s.answer(ctx, scene, j, delay)
		})
	}
}

// answer sends the job's result, which took took, unless it was withdrawn
// or the node is mute.
func (s *conn) answer(ctx context.Context, scene protocol.Scene, j protocol.TileJob, took time.Duration) {
	if ctx.Err() != nil {
		return
	}
	pix, rays, err := s.n.f.cfg.Pixels.Tile(ctx, scene, j)
	s.mu.Lock()
	live := s.queued[j.Job]
	delete(s.queued, j.Job)
	s.mu.Unlock()
	if _, mute := s.n.state(); !live || mute {
		return
	}
	if err != nil {
		s.n.failed.Add(1)
		_ = s.c.Send(protocol.Error{Code: protocol.CodeInternal, Message: err.Error(), Job: j.Job})
		return
	}
	if s.n.f.cfg.ZeroNanos {
		took = 0
	}
	if s.c.Send(protocol.TileResult{Job: j.Job, Epoch: j.Epoch, Pixels: pix, Rays: rays, Nanos: int64(took)}) == nil {
		s.n.results.Add(1)
	}
}
