package scheduler

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"testing"
	"time"

	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

// fakeRender is a TileRenderer whose pixels are a function of their
// coordinates (schedtest.FakePixel), like the real renderer's. With gate
// set, each tile waits for a value from it (or for ctx).
type fakeRender struct {
	gate chan struct{}
}

func (f *fakeRender) RenderTile(ctx context.Context, set render.Settings, r image.Rectangle, dst []float32) (uint64, error) {
	if f != nil && f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	schedtest.FillTile(dst, r, set)
	return uint64(r.Dx() * r.Dy()), nil
}

// fakeClock is a Clock moved by hand.
type fakeClock = schedtest.Clock

func newFakeClock() *fakeClock { return schedtest.NewClock(time.Unix(1_000_000, 0)) }

// fakeNet maps addresses to fake nodes: Config.Dial for tests.
type fakeNet struct {
	mu    sync.Mutex
	nodes map[string]*fakeNode
}

func newFakeNet() *fakeNet { return &fakeNet{nodes: make(map[string]*fakeNode)} }

func (fn *fakeNet) add(addr string, n *fakeNode) *fakeNode {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	fn.nodes[addr] = n
	return n
}

func (fn *fakeNet) dial(ctx context.Context, addr string) (NodeConn, error) {
	fn.mu.Lock()
	n := fn.nodes[addr]
	fn.mu.Unlock()
	if n == nil {
		return nil, fmt.Errorf("dial %s: connection refused", addr)
	}
	return n.dial()
}

// fakeNode is a node in memory. By default it renders every job right away
// with fakeRender's pixels; its fields change that.
type fakeNode struct {
	id    string
	cores int

	noHandshake bool // accepts and never finishes the handshake
	silent      bool // after the handshake, answers nothing at all
	down        bool // refuses connections
	stuck       bool // after the handshake, reads nothing: the controller's Send blocks until the connection closes
	// onJob decides what to do with a job; nil renders it right.
	onJob func(c *fakeConn, j protocol.TileJob)

	mu         sync.Mutex
	conns      []*fakeConn
	handshakes int
	jobs       []protocol.TileJob
	cancels    []uint64
	scenes     int
	jobc       chan protocol.TileJob // every job, when not nil
	blocked    chan struct{}         // with stuck: receives when a Send blocks, when not nil
}

func (n *fakeNode) dial() (NodeConn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return nil, errors.New("connection refused")
	}
	c := &fakeConn{
		n:      n,
		toNode: make(chan protocol.Message, 4096),
		toCtl:  make(chan protocol.Message, 4096),
		closed: make(chan struct{}),
	}
	n.conns = append(n.conns, c)
	return c, nil
}

func (n *fakeNode) live() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, c := range n.conns {
		select {
		case <-c.closed:
		default:
			k++
		}
	}
	return k
}

func (n *fakeNode) jobCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.jobs)
}

func (n *fakeNode) cancelled() []uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]uint64(nil), n.cancels...)
}

// settle waits until the node has handled every frame of its closed
// connections.
func (n *fakeNode) settle() {
	n.mu.Lock()
	conns := append([]*fakeConn(nil), n.conns...)
	n.mu.Unlock()
	for _, c := range conns {
		c.wg.Wait()
	}
}

// kill closes every connection of the node and refuses new ones.
func (n *fakeNode) kill() {
	n.mu.Lock()
	n.down = true
	conns := append([]*fakeConn(nil), n.conns...)
	n.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// fakeConn is both ends of a connection to a fakeNode: the NodeConn methods
// are the controller's end; a goroutine plays the node's.
type fakeConn struct {
	n      *fakeNode
	toNode chan protocol.Message
	toCtl  chan protocol.Message
	closed chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// recvErr is queued to make the controller's Recv fail with err.
type recvErr struct{ err error }

func (recvErr) Kind() protocol.Kind { return 0 }

func (c *fakeConn) Handshake(ctx context.Context, self protocol.Hello, token string) (protocol.Hello, error) {
	if c.n.noHandshake {
		select {
		case <-ctx.Done():
			c.Close()
			return protocol.Hello{}, ctx.Err()
		case <-c.closed:
			return protocol.Hello{}, protocol.ErrClosed
		}
	}
	c.n.mu.Lock()
	c.n.handshakes++
	c.n.mu.Unlock()
	c.wg.Add(1)
	go c.serve()
	return protocol.Hello{Version: protocol.Version, Role: protocol.RoleNode, ID: c.n.id, Name: "fake " + c.n.id, Cores: max(c.n.cores, 1)}, nil
}

func (c *fakeConn) Send(m protocol.Message) error {
	select {
	case <-c.closed:
		return protocol.ErrClosed
	default:
	}
	if c.n.stuck {
		if c.n.blocked != nil {
			select {
			case c.n.blocked <- struct{}{}:
			default:
			}
		}
		<-c.closed
		return protocol.ErrClosed
	}
	select {
	case c.toNode <- m:
		return nil
	case <-c.closed:
		return protocol.ErrClosed
	}
}

func (c *fakeConn) Recv() (protocol.Message, error) {
	select {
	case m := <-c.toCtl:
		if e, ok := m.(recvErr); ok {
			return nil, e.err
		}
		return m, nil
	case <-c.closed:
		return nil, io.EOF
	}
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) BytesSent() int64     { return 0 }
func (c *fakeConn) BytesReceived() int64 { return 0 }

// send is the node's end: a frame to the controller.
func (c *fakeConn) send(m protocol.Message) {
	select {
	case c.toCtl <- m:
	case <-c.closed:
	}
}

// reply sends the right result of j; replyPix sends the given pixels.
func (c *fakeConn) reply(j protocol.TileJob) { c.replyPix(j, schedtest.JobPixels(j)) }

func (c *fakeConn) replyPix(j protocol.TileJob, pix []byte) {
	c.send(protocol.TileResult{Job: j.Job, Epoch: j.Epoch, Pixels: pix, Rays: uint64(len(pix) / 12), Nanos: 1000})
}

// serve plays the node until the connection closes.
func (c *fakeConn) serve() {
	defer c.wg.Done()
	for {
		var m protocol.Message
		select {
		case m = <-c.toNode:
		case <-c.closed:
			// Like TCP, what was sent before the close still arrives.
			select {
			case m = <-c.toNode:
			default:
				return
			}
		}
		n := c.n
		switch m := m.(type) {
		case protocol.Scene:
			n.mu.Lock()
			n.scenes++
			n.mu.Unlock()
		case protocol.TileJob:
			n.mu.Lock()
			n.jobs = append(n.jobs, m)
			jobc := n.jobc
			n.mu.Unlock()
			if jobc != nil {
				select {
				case jobc <- m:
				default:
					select {
					case jobc <- m:
					case <-c.closed:
						return
					}
				}
			}
			switch {
			case n.silent:
			case n.onJob != nil:
				n.onJob(c, m)
			default:
				c.reply(m)
			}
		case protocol.Cancel:
			n.mu.Lock()
			n.cancels = append(n.cancels, m.Job)
			n.mu.Unlock()
		case protocol.Ping:
			if !n.silent {
				c.send(protocol.Pong{Seq: m.Seq})
			}
		}
	}
}

// fakeController builds a controller with fakeRender in-process, the fake
// network and the given settings.
func fakeController(t testing.TB, net *fakeNet, cfg Config, fr *fakeRender) *Controller {
	t.Helper()
	if cfg.Bundle == nil {
		cfg.Bundle = schedtest.Bundle()
	}
	if cfg.Settings == (render.Settings{}) {
		cfg.Settings = render.Settings{Width: 32, Height: 24, SPP: 1, MaxDepth: 4}
	}
	if cfg.Tile == 0 {
		cfg.Tile = 8
	}
	cfg.Dial = net.dial
	if fr == nil {
		fr = &fakeRender{}
	}
	c, err := newController(cfg, fr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type runResult struct {
	res *Result
	err error
}

// runAsync runs c in the background; the test must receive from the channel.
func runAsync(ctx context.Context, c *Controller) <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		res, err := c.Run(ctx)
		ch <- runResult{res: res, err: err}
	}()
	return ch
}

// await waits for a run's result.
func await(t testing.TB, ch <-chan runResult) runResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s")
	}
	return runResult{}
}

// renderedRight awaits a run that must succeed with fakeRender's image.
func renderedRight(t testing.TB, c *Controller, done <-chan runResult) runResult {
	t.Helper()
	r := await(t, done)
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, schedtest.FakeImage(c.cfg.Settings))
	return r
}

// nodeStats finds a node's stats by id.
func nodeStats(t testing.TB, st Stats, id string) NodeStats {
	t.Helper()
	for _, n := range st.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("no stats for node %q in %+v", id, st.Nodes)
	return NodeStats{}
}
