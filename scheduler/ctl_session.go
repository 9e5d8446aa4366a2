package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tessera/protocol"
)

// sessState is a session's life. A session is one connection of a node's
// record (or the in-process node's workers), and lives once:
//
//	sessDialing -> sessLive    the handshake proved a node that may render: its node is Working
//	sessDialing -> sessClosed  the dial failed or was abandoned
//	sessLive    -> sessClosed  the connection ended, or the controller ended it
//
// A session that closes leaves its record (rec.sess is nil again), whose
// node is then Lost unless it is Excluded. Every change goes through
// run.setSessState.
type sessState uint8

const (
	sessDialing sessState = iota
	sessLive
	sessClosed
)

// session is one connection to a node (or the in-process node). Fields are
// owned by the run loop except where noted.
type session struct {
	rec    *nodeRec
	state  sessState       // changed by run.setSessState only
	ctx    context.Context // its goroutines stop when it is cancelled
	cancel context.CancelFunc

	conn       NodeConn
	out        *protocol.Outbox // remote: frames to send
	writerDone chan struct{}    // remote: closed when the writer has stopped
	local      *leaseQueue      // in-process: tiles for the workers

	cores     int
	window    int // tiles in flight at most
	windowCap int // lowered when the node says busy
	draining  bool
	probe     bool // dialled while its node was suspended
	leases    map[uint64]*lease

	// The indexes of run (ctl_index.go), kept by run.touch.
	order     []*lease // leases in the order given, ended ones dropped lazily
	scan      int      // order[scan:] holds no lease that can be copied
	exhausted bool     // no lease of it can be copied: out of the heap until that may change
	heapAt    int      // index in run.busy; -1 when not there
	backlog   float64  // its key there: expected nanoseconds for the tiles it holds
	inWant    bool     // in run.want
	inIdle    bool     // in run.idle

	lastHeard    atomic.Int64 // clock's UnixNano of the last frame; written by the reader
	lastPong     time.Time    // when it last answered a ping
	seenSilent   bool         // silent too long at the last tick: dropped if still so at the next
	seenLate     bool         // past its deadline at the last tick: struck if still so at the next
	lastResult   atomic.Int64 // clock's UnixNano of the last TileResult read; written by the reader
	lastProgress time.Time    // last result, or when it got work while idle
	pingSeq      uint64
	pingAt       time.Time

	results  int
	avgNanos float64       // moving average of the render time of a tile, as the node reports it
	maxNanos int64         // slowest tile, as reported
	rtt      time.Duration // smallest overhead seen on top of render time
	doneAt   time.Time     // when its last result came
	gap      float64       // moving average of the nanoseconds between its results while every worker was busy: its pace, by the controller's clock
}

// newSession starts a session of rec, dialing: its node is Connecting.
func (r *run) newSession(rec *nodeRec) *session {
	s := &session{rec: rec, state: sessDialing, leases: make(map[uint64]*lease), writerDone: make(chan struct{}), heapAt: -1}
	s.ctx, s.cancel = context.WithCancel(r.ctx)
	rec.sess = s
	if rec.state == NodeSuspended { // a probe: the node stays suspended until it answers
		s.probe = true
	} else {
		r.setState(rec, NodeConnecting)
	}
	return s
}

// setSessState moves s to state to (see sessState), keeping its record and
// the live list in step: the one place a session's state changes.
func (r *run) setSessState(s *session, to sessState) {
	from := s.state
	if from == to || from == sessClosed || (from == sessLive && to == sessDialing) {
		if from != to {
			r.log.Error().Str("node", s.rec.label()).Msg("controller bug: session state change refused")
		}
		return
	}
	s.state = to
	rec := s.rec
	switch to {
	case sessLive:
		r.live = append(r.live, s)
		if rec.state != NodeSuspended {
			r.setState(rec, NodeWorking)
		}
		r.touch(s)
	case sessClosed:
		if from == sessLive {
			r.live = slices.DeleteFunc(r.live, func(x *session) bool { return x == s })
		}
		if s == r.local {
			r.local = nil
		}
		if rec.sess == s {
			rec.sess = nil
		}
		r.touch(s) // out of the heap
		if rec.state.connected() {
			r.setState(rec, NodeLost)
		}
	}
}

// adopt moves the dialing session s to rec, a record the handshake showed to
// be the same node (whose own dial, if any, is closed already).
func (r *run) adopt(rec *nodeRec, s *session) {
	if s.rec.sess == s {
		s.rec.sess = nil
	}
	s.rec, rec.sess = rec, s
	r.setState(rec, NodeConnecting)
}

// stop stops a closed session's goroutines. graceful lets the writer send
// what is queued first (the Cancel frames at the end of a render) and close
// the connection itself.
func (s *session) stop(graceful bool) {
	if graceful && s.out != nil {
		s.out.Close()
		return
	}
	s.cancel()
	if s.conn != nil {
		s.conn.Close()
	}
}

// dial connects to rec in the background; the loop gets an evUp.
func (r *run) dial(rec *nodeRec) {
	s := r.newSession(rec)
	addr := rec.addr
	r.dialing++
	r.wg.Add(2)
	ctx, cancel := context.WithCancel(s.ctx)
	timer := r.clock.After(r.tune.handshake) // the deadline runs on the injected clock
	go func() {
		defer r.wg.Done()
		select {
		case <-timer:
			cancel()
		case <-ctx.Done():
		}
	}()
	go func() {
		defer r.wg.Done()
		defer cancel()
		ev := event{kind: evUp, s: s}
		conn, err := r.cfg.Dial(ctx, addr)
		if err == nil {
			ev.hello, err = conn.Handshake(ctx, r.self, r.cfg.Token)
			if err != nil {
				conn.Close()
			}
		}
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("handshake: %w", ctx.Err())
			conn.Close()
		}
		if err != nil && errors.Is(err, context.Canceled) && s.ctx.Err() == nil {
			err = fmt.Errorf("no handshake within %v: %w", r.tune.handshake, err)
		}
		ev.conn, ev.err = conn, err
		if err != nil {
			ev.conn = nil
		}
		if !r.post(ev) && ev.conn != nil {
			ev.conn.Close()
		}
	}()
}

// reader turns a node's frames into events.
func (r *run) reader(s *session) {
	defer r.wg.Done()
	for {
		m, err := s.conn.Recv()
		if err != nil {
			garbage := !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, protocol.ErrClosed) &&
				(errors.Is(err, protocol.ErrBadFrame) || errors.Is(err, protocol.ErrFrameTooLarge))
			r.post(event{kind: evDown, s: s, err: err, garbage: garbage})
			return
		}
		s.lastHeard.Store(r.clock.Now().UnixNano())
		var ev event
		switch m := m.(type) {
		case protocol.TileResult:
			s.lastResult.Store(r.clock.Now().UnixNano())
			ev = event{kind: evResult, s: s, job: m.Job, epoch: m.Epoch, rays: m.Rays, nanos: m.Nanos}
			// The size is checked against the lease by the loop.
			ev.pix, ev.err = protocol.DecodePixels(m.Pixels, len(m.Pixels)/protocol.BytesPerPixel)
		case protocol.Error:
			ev = event{kind: evError, s: s, job: m.Job, code: m.Code, msg: m.Message}
		case protocol.Pong:
			ev = event{kind: evPong, s: s, seq: m.Seq, state: m.State}
		default:
			r.post(event{kind: evDown, s: s, err: fmt.Errorf("unexpected %v from a node", m.Kind()), garbage: true})
			return
		}
		if !r.post(ev) {
			return
		}
	}
}

// writer sends a session's outbox; when it stops, the connection closes.
func (r *run) writer(s *session, label string) {
	defer r.wg.Done()
	defer close(s.writerDone)
	var err error
	if bs, ok := s.conn.(batchSender); ok {
		err = s.out.DrainBatch(bs.SendBatch, s.ctx.Done()) // what is queued shares one flush
	} else {
		err = s.out.Drain(s.conn.Send, s.ctx.Done())
	}
	if err != nil {
		r.log.Debug().Err(err).Str("node", label).Msg("send failed")
	}
	s.conn.Close() // the reader then reports the connection down
}

// startLocal starts the in-process node with the given workers.
func (r *run) startLocal(workers int) {
	rec := r.localRec()
	s := r.newSession(rec)
	s.cores = workers
	s.window = 2 * workers
	s.windowCap = s.window
	s.local = newLeaseQueue()
	r.local = s
	r.setSessState(s, sessLive)
	r.log.Info().Int("workers", workers).Msg("in-process node started")
	for range workers {
		r.wg.Add(1)
		go r.localWorker(s)
	}
}

// localWorker renders the in-process node's tiles.
func (r *run) localWorker(s *session) {
	defer r.wg.Done()
	for {
		l := s.local.pop(s.ctx)
		if l == nil {
			return
		}
		rect := l.rect
		pix := make([]float32, 3*l.npix)
		start := time.Now()
		var rays uint64
		rend, err := r.c.rendererOf(l.frame)
		if err == nil {
			rays, err = renderWork(s.ctx, rend, r.set, rect, l.pass, pix)
		}
		ev := event{kind: evResult, s: s, job: l.job, epoch: l.epoch, pix: pix, rays: rays, nanos: time.Since(start).Nanoseconds()}
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			ev = event{kind: evError, s: s, job: l.job, code: protocol.CodeInternal, msg: err.Error()}
		}
		if !r.post(ev) {
			return
		}
	}
}

// noteDone learns the node's pace from the moment a result came, held
// being the leases it had then (this result's included): the time between
// two results while every worker was busy is its pace, by the controller's
// clock, whatever the node says its renders took.
func (s *session) noteDone(now time.Time, held int) {
	if held >= s.cores && !s.doneAt.IsZero() {
		gap := float64(now.Sub(s.doneAt))
		if s.gap == 0 {
			s.gap = gap
		} else {
			s.gap += 0.1 * (gap - s.gap)
		}
	}
	s.doneAt = now
}

// noteSpeed learns from a result: render time and overhead, and resizes the
// window to what the node can start soon. A node with W tiles renders cores
// at once and queues the rest; the queue must last a round trip, so that a
// worker that finishes finds its next tile there, and no longer: queued
// tiles wait, and another node, a late joiner, could start them now. So
// the queue holds the tiles the node renders in two round trips at its
// pace (by the controller's clock; before it has one, by the render times
// it reports): Little's law with a margin of a round trip.
func (s *session) noteSpeed(nanos int64, latency time.Duration, maxWindow int) {
	s.results++
	if nanos < 0 {
		nanos = 0
	}
	if s.results == 1 {
		s.avgNanos = float64(nanos)
	} else {
		s.avgNanos += 0.2 * (float64(nanos) - s.avgNanos)
	}
	s.maxNanos = max(s.maxNanos, nanos)
	if over := latency - time.Duration(nanos); over > 0 && (s.rtt == 0 || over < s.rtt) {
		s.rtt = over
	}
	if s.rec.isLocal() {
		return
	}
	perTile := s.tileTime() / float64(s.cores) // the node's pace: nanoseconds between results
	queue := math.Ceil(2 * float64(max(s.rtt, 10*time.Microsecond)) / perTile)
	w := s.cores + max(int(min(queue, float64(maxWindow))), 1)
	// It grows by half at most per result, so that one burst of results
	// does not hand a node the whole queue; it shrinks at once.
	w = min(w, s.window+max(s.cores, s.window/2))
	s.window = min(w, maxWindow, s.windowCap)
}

// noteRTT learns from a pong.
func (s *session) noteRTT(d time.Duration) {
	if d > 0 && (s.rtt == 0 || d < s.rtt) {
		s.rtt = d
	}
}

// deadline is how long the session may hold tiles without returning one:
// generous before it has a measured speed, then a multiple of its slowest
// tile and of its average pace, never under tune.minDeadline.
func (s *session) deadline(tune *tuning) time.Duration {
	if s.results == 0 {
		return tune.firstDeadline
	}
	pace := time.Duration(max(s.avgNanos/float64(s.cores), s.gap) * 10)
	return max(tune.minDeadline, 4*time.Duration(s.maxNanos), pace) + s.rtt
}

// leaseQueue hands the in-process node's tiles to its workers.
type leaseQueue struct {
	mu   sync.Mutex
	q    []*lease
	wake chan struct{} // capacity 1
}

func newLeaseQueue() *leaseQueue { return &leaseQueue{wake: make(chan struct{}, 1)} }

func (lq *leaseQueue) push(l *lease) {
	lq.mu.Lock()
	lq.q = append(lq.q, l)
	lq.mu.Unlock()
	select {
	case lq.wake <- struct{}{}:
	default:
	}
}

// pop waits for a lease; nil when ctx is done.
func (lq *leaseQueue) pop(ctx context.Context) *lease {
	for {
		lq.mu.Lock()
		if len(lq.q) > 0 {
			l := lq.q[0]
			lq.q[0] = nil
			lq.q = lq.q[1:]
			more := len(lq.q) > 0
			lq.mu.Unlock()
			if more { // pass the wake-up on to another worker
				select {
				case lq.wake <- struct{}{}:
				default:
				}
			}
			return l
		}
		lq.mu.Unlock()
		select {
		case <-lq.wake:
		case <-ctx.Done():
			return nil
		}
	}
}
