package node

import (
	"context"
	"fmt"
	"image"
	"time"

	"tessera/node/guest"
	"tessera/protocol"
	"tessera/render"
)

// jobState is where a tile job is on a node.
type jobState uint8

const (
	jobWaiting jobState = iota // its scene is loading
	jobQueued                  // in its connection's queue
	jobRunning                 // a worker renders it
	jobDone                    // finished, cancelled or dropped
)

// stopReason says why a running job was cancelled, which decides what the
// controller is told.
type stopReason uint8

const (
	stopNone     stopReason = iota
	stopCancel              // the controller sent Cancel: nothing to say
	stopGone                // the connection closed: nobody to tell
	stopShutdown            // the node is stopping: hand the job back
	stopPaused              // the node paused and its grace ran out: handed back already
)

// job is one tile job on a node. Its fields after the first block are
// guarded by Node.mu.
type job struct {
	id    uint64
	epoch uint32
	conn  *conn
	entry *sceneEntry
	set   render.Settings
	rect  image.Rectangle
	frame *int         // the animation's frame; nil: the still
	pass  *render.Pass // a pass of a progressive render; nil: the whole tile
	npix  int          // pixels of the result

	state   jobState
	cancel  context.CancelFunc // while running
	stopped stopReason
}

// stop cancels a running job, remembering the first reason.
func (j *job) stop(r stopReason) {
	if j.stopped == stopNone {
		j.stopped = r
	}
	if j.cancel != nil {
		j.cancel()
	}
}

// enqueueLocked appends j to its connection's queue and makes the connection
// ready if it was not.
func (n *Node) enqueueLocked(j *job) {
	c := j.conn
	j.state = jobQueued
	c.queue = append(c.queue, j)
	c.nqueued++
	if !c.inReady {
		c.inReady = true
		n.ready = append(n.ready, c)
	}
	n.work.Signal()
}

// popLocked takes the first queued job of c, skipping cancelled ones.
func (c *conn) popLocked() *job {
	for c.qhead < len(c.queue) {
		j := c.queue[c.qhead]
		c.queue[c.qhead] = nil
		c.qhead++
		if j.state == jobQueued {
			c.nqueued--
			return j
		}
	}
	c.queue, c.qhead = c.queue[:0], 0
	return nil
}

// dequeueLocked removes a waiting or queued job of c.
func (c *conn) dequeueLocked(j *job) {
	if j.state == jobQueued {
		c.nqueued--
	}
	j.state = jobDone
	delete(c.jobs, j.id)
}

func (n *Node) startWorkersLocked() {
	if n.started {
		return
	}
	n.started = true
	for i := range n.counters {
		n.wg.Add(1)
		w := &n.counters[i]
		guest.Go(n.cfg.Priority, func(err error) {
			n.lowered(err)
			n.worker(w)
		})
	}
}

// lowered logs, once, that a thread could not be given the configured
// priority; it renders anyway.
func (n *Node) lowered(err error) {
	if err != nil {
		n.priorityWarned.Do(func() {
			n.log.Warn().Err(err).Str("priority", n.cfg.Priority.String()).Msg("cannot lower the rendering threads' priority; rendering at the process's")
		})
	}
}

// worker renders jobs until the node closes.
func (n *Node) worker(w *workerCounters) {
	defer n.wg.Done()
	var scratch []float32
	for {
		j, ctx := n.next()
		if j == nil {
			return
		}
		scratch = n.runJob(ctx, w, j, scratch)
	}
}

// next waits for a job: one job from the connection at the head of the ready
// list, which then goes to the back of the list if it has more. That is round
// robin between connections, whatever each one has queued.
func (n *Node) next() (*job, context.Context) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		if n.stopWork {
			return nil, nil
		}
		if len(n.ready) == 0 {
			n.work.Wait()
			continue
		}
		c := n.ready[0]
		n.ready[0] = nil
		n.ready = n.ready[1:]
		j := c.popLocked()
		if c.nqueued > 0 {
			n.ready = append(n.ready, c)
		} else {
			c.inReady = false
		}
		if j == nil {
			continue
		}
		j.state = jobRunning
		n.running++
		ctx, cancel := context.WithCancel(c.ctx)
		j.cancel = cancel
		return j, ctx
	}
}

// runJob renders j and sends its result, or tells the controller why not.
// scratch is the worker's pixel buffer, returned grown as needed.
func (n *Node) runJob(ctx context.Context, w *workerCounters, j *job, scratch []float32) []float32 {
	size := 3 * j.npix
	if cap(scratch) < size {
		scratch = make([]float32, size)
	}
	dst := scratch[:size]
	start := time.Now()
	var rays uint64
	sc, err := frameOf(j.entry.scene, j.frame)
	if err == nil {
		rays, err = renderJob(ctx, sc, j, dst)
	}
	nanos := time.Since(start).Nanoseconds()

	c := j.conn
	var reply protocol.Message
	if err == nil {
		reply = protocol.TileResult{Job: j.id, Epoch: j.epoch, Pixels: protocol.EncodePixels(dst), Rays: rays, Nanos: nanos}
	}

	n.mu.Lock()
	j.state = jobDone
	if c.jobs[j.id] == j {
		delete(c.jobs, j.id)
	}
	stopped := j.stopped
	switch {
	case stopped == stopPaused:
		// Answered "paused" when the grace ran out, finished or not:
		// the controller has re-queued it.
		reply, err = nil, nil
	case err == nil:
		w.jobs.Add(1)
		w.rays.Add(rays)
	}
	if n.state == stateClosed {
		reply = nil // Close answers nothing: its connections are ending
	} else if err != nil {
		switch stopped {
		case stopCancel, stopGone:
		case stopShutdown:
			reply = protocol.Error{Code: protocol.CodeShutdown, Message: fmt.Sprintf("node %s is shutting down", n.cfg.ID), Job: j.id}
		default:
			n.log.Error().Err(err).Uint64("job", j.id).Msg("tile failed")
			reply = protocol.Error{Code: protocol.CodeInternal, Message: fmt.Sprintf("node %s: job %d: %v", n.cfg.ID, j.id, err), Job: j.id}
		}
	}
	// Queued before the job counts as finished, so that Shutdown, once no
	// job runs, closes outboxes that hold every answer.
	lost := reply != nil && !c.out.Push(reply)
	n.running--
	if n.running == 0 && n.idle != nil {
		close(n.idle)
		n.idle = nil
	}
	n.mu.Unlock()
	j.cancel()
	if lost && stopped == stopNone {
		// The controller does not read what it asked for: let it go.
		n.log.Warn().Str("controller", c.peer.ID).Msg("controller does not read its results; closing")
		c.cancel()
	}
	return scratch
}

// passRenderer renders passes of a progressive render; *render.Scene is one.
type passRenderer interface {
	RenderPass(ctx context.Context, set render.Settings, r image.Rectangle, p render.Pass, dst []float32) (rays uint64, err error)
}

// renderJob renders j with sc: the whole tile, or the pass it asks for.
func renderJob(ctx context.Context, sc renderer, j *job, dst []float32) (uint64, error) {
	if j.pass == nil {
		return sc.RenderTile(ctx, j.set, j.rect, dst)
	}
	pr, ok := sc.(passRenderer)
	if !ok {
		return 0, fmt.Errorf("this node's renderer cannot render passes of a progressive render")
	}
	return pr.RenderPass(ctx, j.set, j.rect, *j.pass, dst)
}
