package node

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net"

	"tessera/node/guest"
	"tessera/protocol"
	"tessera/render"
)

// controlFrames is how many frames beyond results a connection's outbox
// holds (pongs, errors) before the node decides the peer does not read.
const controlFrames = 256

// conn is one controller's connection to a node.
type conn struct {
	n      *Node
	fc     *protocol.Conn
	remote string
	ctx    context.Context // cancelled when the connection closes: its running jobs stop
	cancel context.CancelFunc
	out    *protocol.Outbox
	peer   protocol.Hello // after the handshake

	// Guarded by Node.mu.
	established bool            // handshake done
	dropped     bool            // closed and forgotten
	jobs        map[uint64]*job // waiting, queued and running
	queue       []*job          // queued jobs from qhead on, cancelled ones skipped
	qhead       int
	nqueued     int
	inReady     bool          // in Node.ready
	scenes      []*sceneEntry // the scenes this connection sent, oldest first
}

// serveConn runs one connection: handshake, then frames until it closes.
func (n *Node) serveConn(nc net.Conn) {
	defer n.wg.Done()
	c := &conn{
		n:      n,
		fc:     protocol.NewConn(nc, protocol.Config{MaxFrame: n.cfg.MaxFrame, ReadTimeout: n.cfg.IdleTimeout, HandshakeTimeout: n.cfg.HandshakeTimeout}),
		remote: nc.RemoteAddr().String(),
		out:    protocol.NewOutbox(n.cfg.MaxInFlight + controlFrames),
		jobs:   make(map[uint64]*job),
	}
	c.ctx, c.cancel = context.WithCancel(n.ctx)
	n.mu.Lock()
	n.conns[c] = struct{}{}
	n.mu.Unlock()
	defer n.dropConn(c)
	log := n.log.With().Str("remote", c.remote).Logger()

	hctx, cancel := context.WithTimeout(c.ctx, n.cfg.HandshakeTimeout)
	peer, err := c.fc.Handshake(hctx, n.hello(), n.cfg.Token)
	cancel()
	if err != nil {
		log.Info().Err(err).Msg("handshake failed")
		return
	}
	if peer.Role != protocol.RoleController {
		log.Info().Str("role", string(peer.Role)).Msg("peer is not a controller")
		_ = c.fc.Send(protocol.Error{Code: protocol.CodeBadFrame, Message: fmt.Sprintf("node %s serves controllers, not %q", n.cfg.ID, peer.Role)})
		return
	}
	c.peer = peer
	n.mu.Lock()
	serving := n.state == stateServing
	c.established = serving
	n.mu.Unlock()
	if !serving {
		_ = c.fc.Send(protocol.Error{Code: protocol.CodeShutdown, Message: fmt.Sprintf("node %s is shutting down", n.cfg.ID)})
		return
	}
	log = log.With().Str("controller", peer.ID).Logger()
	log.Debug().Msg("controller connected")

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		if err := c.out.Drain(c.fc.Send, c.ctx.Done()); err != nil && !errors.Is(err, protocol.ErrClosed) {
			log.Info().Err(err).Msg("send failed")
		}
		c.fc.Close() // ends the reader too
	}()
	err = n.readLoop(c)
	if v, ok := errors.AsType[*violation](err); ok {
		// The error is the connection's last frame: its jobs are let go
		// first (nothing they finish is sent), then the outbox sends what
		// it holds, the error and nothing after it.
		n.forget(c)
		c.out.Push(protocol.Error{Code: protocol.CodeBadFrame, Message: v.msg})
		c.out.Close()
		<-writerDone // within the write timeout
	}
	if err != nil {
		log.Info().Err(err).Msg("connection dropped")
	}
	n.dropConn(c)
	<-writerDone
}

// violation is a frame of the controller's that breaks the protocol: the
// node answers Error{bad-frame, j:0} and closes.
type violation struct{ msg string }

func (v *violation) Error() string { return v.msg }

// readLoop handles frames until the connection fails or the peer breaks the
// protocol. It returns nil when the peer simply closed.
func (n *Node) readLoop(c *conn) error {
	for {
		m, err := c.fc.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || c.ctx.Err() != nil {
				return nil
			}
			return err
		}
		switch m := m.(type) { // Recv returns message values
		case protocol.TileJob:
			if err := n.handleJob(c, m); err != nil {
				return &violation{err.Error()}
			}
		case protocol.Scene:
			n.handleScene(c, &m)
		case protocol.Cancel:
			n.cancelJob(c, m.Job)
		case protocol.Ping:
			if !c.out.Push(n.pong(m.Seq)) {
				return errors.New("controller does not read its pongs")
			}
		case protocol.Error:
			n.log.Debug().Interface("error", m).Msg("controller reported an error")
		default:
			return &violation{fmt.Sprintf("node %s: unexpected %T from a controller", n.cfg.ID, m)}
		}
	}
}

// dropConn forgets a closed connection: its queued jobs are dropped and its
// running ones cancelled.
func (n *Node) dropConn(c *conn) {
	n.forget(c)
	c.cancel()
	c.fc.Close()
}

// forget lets the jobs of connection c go and takes it off the node's
// list; what its running jobs finish is not sent.
func (n *Node) forget(c *conn) {
	n.mu.Lock()
	if c.dropped {
		n.mu.Unlock()
		return
	}
	c.dropped = true
	delete(n.conns, c)
	n.nconns--
	for _, j := range c.jobs {
		if j.state == jobRunning {
			j.stop(stopGone)
		} else {
			c.dequeueLocked(j)
		}
	}
	c.queue, c.qhead = nil, 0
	if n.nconns == 0 && n.noConns != nil {
		close(n.noConns)
		n.noConns = nil
	}
	n.mu.Unlock()
}

// pong answers a ping with the node's state.
func (n *Node) pong(seq uint64) protocol.Pong {
	n.mu.Lock()
	defer n.mu.Unlock()
	return protocol.Pong{Seq: seq, State: n.avail}
}

// handBackLocked answers every job of c not yet running with an Error of
// code (shutdown, paused), so its controller renders it elsewhere at once.
// It returns how many it answered.
func (n *Node) handBackLocked(c *conn, code protocol.Code, msg string) int {
	count := 0
	for _, j := range c.jobs {
		if j.state == jobRunning {
			continue
		}
		c.dequeueLocked(j)
		c.out.Push(protocol.Error{Code: code, Message: msg, Job: j.id})
		count++
	}
	return count
}

// checkJob refuses a job that is malformed (CodeBadJob) or over one of the
// node's limits (CodeLimit), saying which.
func (n *Node) checkJob(m protocol.TileJob) (protocol.Code, error) {
	if err := m.Validate(); err != nil {
		return protocol.CodeBadJob, fmt.Errorf("node %s: %w", n.cfg.ID, err)
	}
	if m.Frame != nil && *m.Frame > render.MaxFrame {
		return protocol.CodeBadJob, fmt.Errorf("node %s: job %d: frame %d (expected 0 to %d)", n.cfg.ID, m.Job, *m.Frame, render.MaxFrame)
	}
	set := render.Settings{Width: m.Width, Height: m.Height, SPP: m.SPP, MaxDepth: m.MaxDepth}
	if err := n.cfg.Limits.CheckTile(set, image.Rect(m.X0, m.Y0, m.X1, m.Y1)); err != nil {
		code := protocol.CodeBadJob
		if errors.Is(err, render.ErrLimit) {
			code = protocol.CodeLimit
		}
		return code, fmt.Errorf("node %s: job %d: %w", n.cfg.ID, m.Job, err)
	}
	return "", nil
}

// handleJob validates a tile job and queues it. It returns an error for a
// job the connection cannot go on after: id 0 (reserved: an Error with job
// 0 concerns the connection) or the id of a job still in flight (an answer
// could not say which of the two it is for).
func (n *Node) handleJob(c *conn, m protocol.TileJob) error {
	reply := func(code protocol.Code, msg string) {
		c.out.Push(protocol.Error{Code: code, Message: msg, Job: m.Job})
	}
	if m.Job == 0 {
		return fmt.Errorf("node %s: a TileJob with job id 0, which is reserved", n.cfg.ID)
	}
	if code, err := n.checkJob(m); err != nil {
		reply(code, err.Error())
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.state == stateClosed:
		return nil // Close: the connection ends unanswered, as if the process were gone
	case n.state != stateServing:
		reply(protocol.CodeShutdown, fmt.Sprintf("node %s is shutting down", n.cfg.ID))
		return nil
	case !n.avail.Ready():
		n.jobsPaused++
		reply(protocol.CodePaused, n.pausedMessage(n.avail))
		return nil
	case len(c.jobs) >= n.cfg.MaxInFlight:
		reply(protocol.CodeBusy, fmt.Sprintf("node %s: job %d: limit MaxInFlight=%d jobs per connection reached", n.cfg.ID, m.Job, n.cfg.MaxInFlight))
		return nil
	case c.jobs[m.Job] != nil:
		return fmt.Errorf("node %s: job %d is already in flight: job ids must be unique among the jobs in flight", n.cfg.ID, m.Job)
	}
	e := c.sceneLocked(m.Scene)
	if e == nil {
		reply(protocol.CodeUnknownScene, fmt.Sprintf("node %s: job %d: unknown scene %q (send it first)", n.cfg.ID, m.Job, m.Scene))
		return nil
	}
	j := &job{
		id:    m.Job,
		epoch: m.Epoch,
		conn:  c,
		entry: e,
		set:   render.Settings{Width: m.Width, Height: m.Height, SPP: m.SPP, MaxDepth: m.MaxDepth},
		rect:  image.Rect(m.X0, m.Y0, m.X1, m.Y1),
		frame: m.Frame,
		npix:  m.ResultPixels(),
	}
	if m.To > 0 {
		j.pass = &render.Pass{From: m.From, To: m.To, Mask: m.Mask}
	}
	switch e.state {
	case sceneReady:
		c.jobs[j.id] = j
		n.enqueueLocked(j)
	case sceneLoading:
		c.jobs[j.id] = j
		j.state = jobWaiting
		e.waiters = append(e.waiters, j)
	default:
		reply(protocol.CodeBadScene, fmt.Sprintf("node %s: job %d: scene %q failed to load: %v", n.cfg.ID, m.Job, m.Scene, e.err))
	}
	return nil
}

// cancelJob withdraws a job: dropped if not started, cancelled if running.
func (n *Node) cancelJob(c *conn, id uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	j := c.jobs[id]
	switch {
	case j == nil:
	case j.state == jobRunning:
		j.stop(stopCancel)
	default:
		c.dequeueLocked(j)
	}
}

// sceneLocked finds a scene this connection sent, or one in the cache.
func (c *conn) sceneLocked(hash string) *sceneEntry {
	for _, e := range c.scenes {
		if e.hash == hash && e.state != sceneFailed {
			return e
		}
	}
	return c.n.cache.get(hash)
}

// addSceneLocked remembers that c sent e, forgetting its oldest scene past
// scenesPerConn.
func (c *conn) addSceneLocked(e *sceneEntry) {
	if len(c.scenes) == scenesPerConn {
		c.scenes = append(c.scenes[:0], c.scenes[1:]...)
	}
	c.scenes = append(c.scenes, e)
}

// handleScene takes a scene: known already (by this connection or the
// cache), or loaded in the background, so that the connection keeps
// answering pings while a big scene builds.
func (n *Node) handleScene(c *conn, m *protocol.Scene) {
	n.mu.Lock()
	if e := c.sceneLocked(m.Hash); e != nil {
		present := false
		for _, have := range c.scenes {
			present = present || have == e
		}
		if !present {
			c.addSceneLocked(e)
		}
		n.mu.Unlock()
		return
	}
	if n.state == stateClosed {
		n.mu.Unlock()
		return
	}
	var size int64
	for _, f := range m.Files {
		size += int64(len(f.Data))
	}
	e := &sceneEntry{hash: m.Hash, size: size, state: sceneLoading}
	n.cache.byHash[m.Hash] = e
	c.addSceneLocked(e)
	n.wg.Add(1)
	n.mu.Unlock()
	// Building a BVH is rendering work too: at the workers' priority.
	guest.Go(n.cfg.Priority, func(err error) {
		n.lowered(err)
		n.loadEntry(c, e, m)
	})
}

// loadEntry builds a scene, then queues or refuses the jobs that waited for it.
func (n *Node) loadEntry(c *conn, e *sceneEntry, m *protocol.Scene) {
	defer n.wg.Done()
	var scene renderer
	var err error
	select {
	case n.loads <- struct{}{}:
		scene, err = n.buildScene(m)
		<-n.loads
	case <-n.ctx.Done():
		err = fmt.Errorf("node %s is closing", n.cfg.ID)
	}

	n.mu.Lock()
	waiters := e.waiters
	e.waiters = nil
	if err != nil {
		e.state, e.err = sceneFailed, err
		n.cache.remove(e)
	} else {
		e.state, e.scene = sceneReady, scene
		n.cache.loaded(e)
	}
	for _, j := range waiters {
		if j.state != jobWaiting {
			continue // cancelled, or its connection closed
		}
		if n.state != stateServing {
			j.conn.dequeueLocked(j)
			if n.state != stateClosed { // Close answers nothing
				j.conn.out.Push(protocol.Error{Code: protocol.CodeShutdown, Message: fmt.Sprintf("node %s is shutting down", n.cfg.ID), Job: j.id})
			}
			continue
		}

		if err != nil {
			j.conn.dequeueLocked(j)
			j.conn.out.Push(protocol.Error{Code: sceneCode(err), Message: fmt.Sprintf("node %s: job %d: scene failed to load: %v", n.cfg.ID, j.id, err), Job: j.id})
			continue
		}
		n.enqueueLocked(j)
	}
	n.mu.Unlock()
	if err != nil {
		// A scene that does not load ends the connection that sent it: the
		// controller learns which file and where, and that this node will
		// not render it (PROTOCOL.md, "After the handshake").
		n.log.Warn().Err(err).Str("controller", c.peer.ID).Msg("bad scene")
		c.out.Push(protocol.Error{Code: sceneCode(err), Message: err.Error()})
		c.out.Close()
	}
}

// sceneCode is the error code of a scene that did not load: limit when it
// exceeds one of the node's limits, bad-scene otherwise.
func sceneCode(err error) protocol.Code {
	if errors.Is(err, render.ErrLimit) {
		return protocol.CodeLimit
	}
	return protocol.CodeBadScene
}

// buildScene checks a scene frame against its hash and loads it.
func (n *Node) buildScene(m *protocol.Scene) (renderer, error) {
	b := &render.Bundle{Main: m.Main, Files: make(map[string][]byte, len(m.Files))}
	for _, f := range m.Files {
		if _, dup := b.Files[f.Name]; dup {
			return nil, fmt.Errorf("node %s: scene %q: file %q appears twice", n.cfg.ID, m.Hash, f.Name)
		}
		b.Files[f.Name] = f.Data
	}
	if got := b.Hash(); got != m.Hash {
		return nil, fmt.Errorf("node %s: scene hash mismatch: frame says %q, content hashes to %q", n.cfg.ID, m.Hash, got)
	}
	s, err := n.load(b, n.cfg.Limits)
	if err != nil {
		return nil, fmt.Errorf("node %s: scene %q: %w", n.cfg.ID, m.Hash, err)
	}
	return s, nil
}
