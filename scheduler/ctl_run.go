package scheduler

// The controller's Run: one goroutine, the loop, owns every piece of state of
// the render; connections, in-process workers and the checker talk to it
// with events, and it never blocks on any of them.

import (
	"context"
	"fmt"
	"image"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tessera/protocol"
	"tessera/render"
)

// evKind is what an event reports.
type evKind uint8

const (
	evUp      evKind = iota // dial and handshake done (or failed: err)
	evDown                  // connection lost (err)
	evResult                // a tile result
	evError                 // an Error frame
	evPong                  // a Pong
	evChecked               // a check's verdict, from a checker goroutine
)

// event is what session goroutines, local workers and the checker tell the
// loop. Only the fields of its kind are set.
type event struct {
	kind    evKind
	s       *session
	conn    NodeConn
	hello   protocol.Hello
	err     error
	garbage bool // err is a protocol violation
	job     uint64
	epoch   uint32
	pix     []float32
	rays    uint64
	nanos   int64
	code    protocol.Code
	msg     string
	seq     uint64
	state   protocol.NodeState // of a Pong
	check   *check
	verdict verdict
}

// run is the state of one Run, owned by its loop goroutine.
type run struct {
	c     *Controller
	cfg   *Config
	tune  *tuning
	log   zerolog.Logger
	clock Clock
	ctx   context.Context // cancelled when Run ends: every goroutine stops
	stop  context.CancelFunc
	wg    sync.WaitGroup
	self  protocol.Hello

	events chan event
	checks chan *check // to the checker goroutines; capacity 64 a checker

	set        render.Settings
	grid       []image.Rectangle // one frame's tiles, centre outwards
	frames     []frameRun        // the still, or the animation's frames in order
	opened     int               // frames[:opened] are open or written
	written    int               // frames[:written] are all written
	framesDone int               // frames written (passes, in a progressive render)
	stillsDone int               // frames written whole (all their passes)
	total      int               // tiles of every frame
	tiles      []tile            // the open frames' (and written frames') tiles
	order      []int             // queue of fresh tiles, frame by frame, centre outwards; consumed from next
	next       int
	retry      []int // re-queued tiles, served first, by frame
	done       int
	nextJob    uint64

	recs    []*nodeRec          // in order of appearance, for stats
	byKey   map[string]*nodeRec // recs by key
	live    []*session          // live sessions, local included, in order of arrival
	want    sessQueue           // sessions that may take a tile from the queue
	idle    sessQueue           // sessions with an idle worker
	busy    busyHeap            // sessions holding tiles, by when they should be done
	dry     bool                // the last endgame pass gave nothing,
	drySig  endgameSig          // and this was there to give then
	local   *session
	dialing int

	aud            *auditor
	checkQ         checkQueue
	checkers       int          // checker goroutines
	inFlight       int          // checks handed to them, without a verdict yet
	auditsInFlight int          // of those, full audits
	pending        int          // checks queued, with the checkers or on a node
	checkNanos     atomic.Int64 // time the checkers spent rendering, summed
	allDone        time.Time    // when the last tile went into the image

	start       time.Time
	lastLive    time.Time // when a remote node was last live (or Run started)
	lastWorking time.Time // when a remote node last took tiles, not paused (or Run started)
	lastProg    time.Time
	pingSeq     uint64
	stats       Stats
	bytesSent   int64
	bytesRecv   int64
}

func newRun(ctx context.Context, c *Controller) *run {
	cfg := &c.cfg
	r := &run{
		c:      c,
		cfg:    cfg,
		tune:   &c.tune,
		log:    c.log,
		clock:  cfg.Clock,
		self:   protocol.Hello{Version: protocol.Version, Role: protocol.RoleController, ID: cfg.ID, Name: cfg.ID},
		events: make(chan event, 1024),
		set:    cfg.Settings,
		byKey:  make(map[string]*nodeRec),
		want:   sessQueue{flag: func(s *session) *bool { return &s.inWant }},
		idle:   sessQueue{flag: func(s *session) *bool { return &s.inIdle }},
	}
	r.ctx, r.stop = context.WithCancel(context.WithoutCancel(ctx))
	r.checkers = c.tune.checkers
	if r.checkers <= 0 {
		r.checkers = c.cores
	}
	r.checks = make(chan *check, 64*r.checkers)
	r.aud = newAuditor(c.audit, c.seed)
	r.grid = tileGrid(r.set.Width, r.set.Height, cfg.Tile)
	nums := frameNums(cfg)
	if cfg.Progressive {
		if err := r.passUnits(nums); err != nil {
			panic("scheduler: " + err.Error()) // NewController checked the settings
		}
	} else {
		r.frames = make([]frameRun, len(nums))
		for k, n := range nums {
			r.frames[k] = frameRun{num: n}
		}
	}
	r.total = len(r.grid) * len(r.frames)
	r.start = r.clock.Now()
	r.lastLive = r.start
	r.lastWorking = r.start
	r.stats = Stats{
		Width: r.set.Width, Height: r.set.Height, SPP: r.set.SPP, Tiles: r.total,
		Samples: int64(r.set.Width) * int64(r.set.Height) * int64(r.set.SPP) * int64(len(nums)),
	}
	r.refill() // the first frame: a still's image is there from the start
	return r
}

// post hands an event to the loop; false when Run has ended.
func (r *run) post(ev event) bool {
	select {
	case r.events <- ev:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// loop is Run's body.
func (r *run) loop(ctx context.Context) (*Result, error) {
	for range r.checkers {
		r.wg.Add(1)
		go r.checker()
	}
	r.takeOps()
	if r.cfg.Local > 0 {
		r.startLocal(r.cfg.Local)
	}
	tick := r.clock.After(r.tune.tick)
	var err error
	for err == nil && !r.finished() {
		r.writeFrames()
		if r.finished() {
			break
		}
		r.dispatch()
		r.feedCheckers()
		r.progress(false)
		select {
		case <-ctx.Done():
			err = fmt.Errorf("%w with %s missing: %w", ErrInterrupted, r.missing(), context.Cause(ctx))
		case ev := <-r.events:
			r.handle(ev)
		drain: // take what else is there in one go
			for range 256 {
				select {
				case ev := <-r.events:
					r.handle(ev)
				default:
					break drain
				}
			}
		case <-r.c.wake:
			r.takeOps()
		case now := <-tick:
			r.tick(now)
			tick = r.clock.After(r.tune.tick)
			err = r.giveUp(now)
		}
	}
	// One snapshot of what the render did, taken as the loop exits; the
	// teardown that follows changes nothing that is reported.
	res := r.result()
	r.progress(true)
	r.finish()
	return res, err
}

// finished reports whether every tile is in the image and no check is pending.
func (r *run) finished() bool { return r.framesDone == len(r.frames) && r.pending == 0 }

// missing says what is not done: tiles, and for an animation frames.
func (r *run) missing() string {
	if r.progressive() && !r.animation() {
		fr := r.frames[0].film
		return fmt.Sprintf("the passes after %d of %d (%d samples per pixel at most, %d pixels still taking samples)",
			fr.film.Passes(), len(fr.film.Ends()), r.set.SPP, fr.film.Live())
	}
	if !r.animation() {
		return fmt.Sprintf("%d of %d tiles", r.total-r.done, r.total)
	}
	if r.progressive() {
		return fmt.Sprintf("%d of %d frames", len(r.cfg.Frames)-r.stillsDone, len(r.cfg.Frames))
	}
	return fmt.Sprintf("%d of %d frames (%d of %d tiles)", len(r.frames)-r.framesDone, len(r.frames), r.total-r.done, r.total)
}

// handle applies one event.
func (r *run) handle(ev event) {
	switch ev.kind {
	case evUp:
		r.up(ev)
	case evDown:
		if ev.s.state == sessLive {
			blame := failLost
			if ev.garbage {
				blame = failGarbage
			}
			r.down(ev.s, ev.err, blame)
		}
	case evResult:
		if ev.s.state == sessLive {
			r.takeResult(ev)
		}
	case evError:
		if ev.s.state == sessLive {
			r.nodeError(ev)
		}
	case evPong:
		if ev.s.state != sessLive {
			break
		}
		if ev.seq != 0 && ev.seq == ev.s.pingSeq { // 0: a node's unprompted state notice
			ev.s.lastPong = r.clock.Now()
			ev.s.noteRTT(ev.s.lastPong.Sub(ev.s.pingAt))
		}
		if !ev.s.rec.isLocal() {
			r.nodeSays(ev.s, ev.state)
		}
	case evChecked:
		r.checked(ev)
	}
}

// takeOps applies AddNode calls.
func (r *run) takeOps() {
	for _, n := range r.c.takeOps() {
		r.addNode(n)
	}
}

// tick checks deadlines: liveness, progress, redials, the in-process node.
func (r *run) tick(now time.Time) {
	for _, s := range append([]*session(nil), r.live...) {
		if s.rec.isLocal() {
			continue
		}
		// A node is judged silent or late only when it was so at two ticks
		// in a row: a controller starved of CPU (a loaded machine) may see
		// its tick before its readers have read what came meanwhile, and it
		// must not blame its nodes for its own lateness.
		silent := now.Sub(time.Unix(0, s.lastHeard.Load()))
		switch {
		case silent <= r.tune.live:
			s.seenSilent = false
		case !s.seenSilent:
			s.seenSilent = true // judged at the next tick
		default:
			r.down(s, fmt.Errorf("no answer for %v", silent.Round(time.Millisecond)), failSilent)
			continue
		}
		if now.Sub(s.pingAt) >= r.tune.ping {
			r.pingSeq++
			s.pingSeq, s.pingAt = r.pingSeq, now
			s.out.Push(protocol.Ping{Seq: s.pingSeq})
		}
		// Progress is the last result read off the connection, even if
		// the loop has not handled it yet: a busy controller does not make
		// its nodes late.
		progress := s.lastProgress
		if t := time.Unix(0, s.lastResult.Load()); s.lastResult.Load() != 0 && t.After(progress) {
			progress = t
		}
		d := s.deadline(r.tune)
		late := len(s.leases) > 0 && now.Sub(progress) > d
		if late && !s.seenLate {
			s.seenLate = true // judged at the next tick
		} else if !late {
			s.seenLate = false
		} else {
			s.seenLate = false
			for _, l := range s.leases {
				s.out.Push(protocol.Cancel{Job: l.job})
				r.revoke(l)
			}
			s.window = max(1, s.window/2)
			s.lastProgress = now
			r.touch(s)
			r.strike(s.rec, fmt.Sprintf("no result within %v", d.Round(time.Millisecond)), lapse)
		}
	}
	for _, rec := range r.recs {
		switch {
		case rec.isLocal():
		case rec.state == NodeLost && !now.Before(rec.nextDial):
			r.dial(rec)
		case rec.state == NodeSuspended && !now.Before(rec.retryAt):
			r.retrySuspended(rec, now)
		}
	}
	if r.taking() > 0 {
		r.lastLive = now
	}
	if r.working() > 0 {
		r.lastWorking = now
	}
	// With LocalAuto this machine renders when no remote node takes tiles:
	// none found within Discover, every one lost, or every one paused or
	// suspended for Discover (a pause may be short).
	paused := r.remotes() > 0 && now.Sub(r.lastWorking) >= r.cfg.Discover
	if r.cfg.Local == LocalAuto && r.local == nil && r.working() == 0 && (r.remotes() == 0 || paused) &&
		r.done < r.total && now.Sub(r.start) >= r.cfg.Discover {
		if r.remotes() > 0 {
			r.log.Warn().Int("paused", r.remotes()).Msg("every render node is paused or suspended: rendering here with every core")
		} else {
			r.log.Warn().Msg("no render node at work: rendering here with every core")
		}
		r.startLocal(r.c.cores)
	}
}

// giveUp fails the render when tiles are left and nothing can render them.
func (r *run) giveUp(now time.Time) error {
	if r.local != nil || r.cfg.Local != 0 || r.taking() > 0 || r.dialing > 0 || r.done == r.total {
		return nil
	}
	wait := r.cfg.Discover
	if r.suspended() { // they may come back: wait for them, a while
		wait = max(wait, r.tune.suspendedWait)
	}
	if now.Sub(r.lastLive) < wait {
		return nil
	}
	var why []string
	for _, rec := range r.recs {
		switch rec.state {
		case NodeExcluded:
			why = append(why, fmt.Sprintf("%s excluded: %s", rec.label(), rec.excluded))
		case NodeSuspended:
			why = append(why, fmt.Sprintf("%s suspended for %v, not answering: %s", rec.label(), now.Sub(rec.suspendedAt).Round(time.Second), rec.suspendedWhy))
		}
	}
	reason := "no remote node reachable and Local is 0"
	if len(why) > 0 {
		reason += "; " + strings.Join(why, "; ")
	}
	return fmt.Errorf("%w: %s missing: %s", ErrNoNodes, r.missing(), reason)
}

// suspended reports whether a node is suspended: it will be tried again.
func (r *run) suspended() bool {
	for _, rec := range r.recs {
		if rec.state == NodeSuspended {
			return true
		}
	}
	return false
}

// taking counts live remote sessions of nodes that take part: working or
// paused, not suspended (a suspended node connected again is only being
// probed).
func (r *run) taking() int {
	n := 0
	for _, s := range r.live {
		if !s.rec.isLocal() && s.rec.state != NodeSuspended {
			n++
		}
	}
	return n
}

// working counts live remote sessions whose node takes tiles (not paused).
func (r *run) working() int {
	n := 0
	for _, s := range r.live {
		if !s.rec.isLocal() && s.rec.state == NodeWorking {
			n++
		}
	}
	return n
}

// remotes counts live remote sessions.
func (r *run) remotes() int {
	n := len(r.live)
	if r.local != nil {
		n--
	}
	return n
}

// progress calls OnProgress, at most every progressInterval unless final.
func (r *run) progress(final bool) {
	if r.cfg.OnProgress == nil {
		return
	}
	now := r.clock.Now()
	if !final && now.Sub(r.lastProg) < r.tune.progressInterval && r.done < r.total {
		return
	}
	r.lastProg = now
	p := Progress{Done: r.done, Total: r.total, Rays: r.stats.Rays, Live: len(r.live), Elapsed: now.Sub(r.start), Nodes: r.nodeStats(),
		FramesDone: r.stillsDone, Frames: len(frameNums(r.cfg)), Frame: still}
	if r.animation() && r.written < len(r.frames) {
		p.Frame = r.frames[r.written].num
	}
	if r.progressive() && r.written < len(r.frames) {
		fr := r.frames[r.written].film
		p.Pass, p.Passes, p.SPP = fr.film.Passes()+1, len(fr.film.Ends()), fr.film.Ends()[min(fr.film.Passes(), len(fr.film.Ends())-1)]
	}
	r.cfg.OnProgress(p)
}

// finish ends the render: every node is told to cancel what it still
// holds, dials are abandoned, every connection closes and every goroutine is
// waited for. It runs after the statistics are taken and re-queues nothing.
func (r *run) finish() {
	var writers []*session
	for _, s := range slices.Clone(r.live) {
		for _, l := range s.leases {
			if s.out != nil {
				s.out.Push(protocol.Cancel{Job: l.job})
			}
		}
		r.setSessState(s, sessClosed)
		s.stop(true) // the writer sends the cancels, then closes the connection
		if !s.rec.isLocal() {
			writers = append(writers, s)
		}
	}
	for _, rec := range r.recs {
		if rec.sess != nil { // dialing
			r.closeSession(rec.sess)
		}
	}
	// Give the writers a moment to send the cancels (on the controller's
	// clock, as every other wait), then stop everything.
	deadline := r.clock.After(r.tune.finishGrace)
	for _, s := range writers {
		select {
		case <-s.writerDone:
		case <-deadline:
		}
	}
	r.stop()
	for _, s := range writers {
		s.conn.Close()
	}
	r.wg.Wait()
	// A dial that ended as the loop did may have posted its connection
	// (post can send to a buffered channel after the run's context is
	// done): nobody will take it now, so close it here (goleak once saw
	// the fake node of such a connection still serving).
	for {
		select {
		case ev := <-r.events:
			if ev.conn != nil {
				ev.conn.Close()
			}
		default:
			return
		}
	}
}

// result is the snapshot of the render's statistics, with the image.
func (r *run) result() *Result {
	wall := r.clock.Now().Sub(r.start).Seconds()
	st := r.stats
	st.WallSeconds = wall
	if wall > 0 {
		st.RaysPerSecond = float64(st.Rays) / wall
	}
	st.BytesSent, st.BytesReceived = r.bytesSent, r.bytesRecv
	for _, s := range r.live {
		if s.conn != nil {
			st.BytesSent += s.conn.BytesSent()
			st.BytesReceived += s.conn.BytesReceived()
		}
	}
	st.Nodes = r.nodeStats()
	st.CheckSeconds = float64(r.checkNanos.Load()) / 1e9
	if r.done == r.total && !r.allDone.IsZero() {
		st.AuditWaitSeconds = r.clock.Now().Sub(r.allDone).Seconds()
	}
	res := &Result{Stats: st, Missing: r.total - r.done}
	switch {
	case r.animation():
		res.Partial = r.partial()
		res.MissingFrames = len(r.cfg.Frames) - r.stillsDone
		if r.progressive() {
			res.Stats.Samples = 0
			for k := range r.frames {
				if fr := r.frames[k].film; fr.first == k {
					res.Stats.Samples += filmSamples(fr.film)
				}
			}
		}
	case r.progressive():
		film := r.frames[0].film.film
		res.Image, res.Samples = film.Image(), film.SampleImage()
		res.Stats.SPPMin, res.Stats.SPPMedian, res.Stats.SPPMax = film.SampleStats()
		res.Stats.Samples = filmSamples(film)
	default:
		res.Image = r.frames[0].img
	}
	res.Stats.Tiles = r.total
	return res
}

// nodeStats returns every node that answered (or was excluded), in order of
// appearance, with its state now.
func (r *run) nodeStats() []NodeStats {
	nodes := []NodeStats{}
	for _, rec := range r.recs {
		if rec.id == "" && rec.state != NodeExcluded {
			continue // an address that never answered
		}
		trust := rec.trust.level(r.c.audit)
		if rec.isLocal() || r.c.audit.Off && trust != TrustDistrusted {
			trust = "" // the reference, or nothing checked
		}
		nodes = append(nodes, NodeStats{
			ID: rec.id, Name: rec.name, Addr: rec.addr, Source: rec.source,
			Tiles: rec.tiles, Rays: rec.rays, Seconds: float64(rec.nanos) / 1e9,
			Failures: rec.failures, Suspensions: rec.suspensions, Excluded: rec.excluded, State: rec.state, HandedBack: rec.handedBack,
			Checked: rec.trust.audited + rec.trust.spotted, Audited: rec.trust.audited, Trust: trust,
		})
	}
	return nodes
}
