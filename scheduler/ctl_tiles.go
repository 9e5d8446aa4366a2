package scheduler

// The controller's tiles: the queue, leases and results.

import (
	"fmt"
	"image"
	"slices"
	"time"

	"tessera/protocol"
	"tessera/render"
)

// tileState is where a tile is in the render.
type tileState uint8

const (
	tileQueued tileState = iota // waiting in the queue
	tileLeased                  // out on one node or more
	tileDone                    // in the image
)

// tile is one rectangle of one frame and its leases: a tile is a frame's
// rectangle (the still is one frame).
type tile struct {
	rect   image.Rectangle
	frame  int // index in run.frames
	state  tileState
	epoch  uint32
	leases []*lease  // live leases: one, or two in the endgame
	by     *nodeRec  // who rendered the pixels in the image
	rays   uint64    // of the pixels in the image
	pix    []float32 // the pixels in the image, kept while another copy or a check is pending
	checks int       // audits or arbitrations pending
	// npix is the pixels its result carries: the rectangle's, or those of
	// the mask of its pass (a progressive render's, To > 0).
	npix int
	pass render.Pass
	dead bool // of a progressive still rendered again from its first pass: out of the render
}

// lease is a tile handed to a session under a job id and the tile's epoch.
// The tile's rectangle and frame number are copied into it for the
// in-process workers, which do not read the loop's tiles.
type lease struct {
	job   uint64
	tile  int
	epoch uint32
	s     *session
	sent  time.Time
	rect  image.Rectangle
	frame int    // the animation's frame number; still for a still
	audit *check // an audit of a tile already in the image, not a tile to render
	pass  render.Pass
	npix  int
}

// revoke ends a lease without a result; its tile goes back to the queue if
// no other copy is out.
func (r *run) revoke(l *lease) {
	r.unlease(l)
	t := &r.tiles[l.tile]
	if l.audit != nil {
		r.auditLost(l)
	}
	if t.state == tileLeased && len(t.leases) == 0 {
		r.requeue(l.tile)
	}
	t.tidy()
}

// takeBack moves lease l, a tile queued on its node and not started there
// (as far as the controller can tell), to session s, which has an idle
// worker: the node is told to cancel it, and s gets it under a new epoch.
func (r *run) takeBack(l *lease, s *session) {
	l.s.out.Push(protocol.Cancel{Job: l.job})
	r.unlease(l)
	t := &r.tiles[l.tile]
	t.state = tileQueued
	t.epoch++
	r.stats.TakenBack++
	r.lease(s, l.tile)
}

// tidy forgets the pixels kept for comparison once nothing is left to compare.
func (t *tile) tidy() {
	if len(t.leases) == 0 && t.checks == 0 {
		t.pix = nil
	}
}

func (t *tile) dropLease(l *lease) {
	for i, x := range t.leases {
		if x == l {
			t.leases = append(t.leases[:i], t.leases[i+1:]...)
			return
		}
	}
}

// requeue puts tile i back at the front of the queue under a new epoch,
// behind the re-queued tiles of its frame and earlier ones: the earliest
// unfinished frame first.
func (r *run) requeue(i int) {
	t := &r.tiles[i]
	t.state = tileQueued
	t.epoch++
	at := len(r.retry)
	for at > 0 && r.tiles[r.retry[at-1]].frame > t.frame {
		at--
	}
	r.retry = slices.Insert(r.retry, at, i)
	r.stats.Retries++
}

// nextTile takes the next queued tile, re-queued ones first (by frame),
// then the open frames' fresh ones, opening the next frame when they run
// out; -1 if none.
func (r *run) nextTile() int {
	r.refill()
	for len(r.retry) > 0 {
		i := r.retry[0]
		r.retry = r.retry[1:]
		if r.tiles[i].state == tileQueued {
			return i
		}
	}
	for r.next < len(r.order) {
		i := r.order[r.next]
		r.next++
		if r.tiles[i].state == tileQueued {
			return i
		}
		r.refill()
	}
	return -1
}

// queueEmpty reports whether no tile is queued and every frame is open.
func (r *run) queueEmpty() bool {
	r.refill()
	for len(r.retry) > 0 && r.tiles[r.retry[0]].state != tileQueued {
		r.retry = r.retry[1:]
	}
	for r.next < len(r.order) && r.tiles[r.order[r.next]].state != tileQueued {
		r.next++
	}
	return len(r.retry) == 0 && r.next == len(r.order)
}

// dispatch gives queued tiles to the sessions that want them, one tile each
// in turn (round robin), then, once the queue is empty, work to the
// sessions with idle workers (endgame). It visits only the sessions that
// can take something: its cost does not grow with the number of nodes.
func (r *run) dispatch() {
	for !r.queueEmpty() {
		s := r.want.pop()
		if s == nil {
			break
		}
		if !r.wantsTiles(s) {
			continue // its state changed since it was queued
		}
		r.lease(s, r.nextTile()) // touch queues it again while it wants more
		r.dry = false            // a new tile out: maybe one to copy
	}
	if r.queueEmpty() {
		r.feedCheckers() // the controller's checkers take what they can first
		r.auditsToNodes()
		r.endgame()
	}
}

// auditsToNodes hands the audits queued to the sessions with room in their
// window, round robin, once no tile is left in the queue: nodes render them
// alongside the controller's checkers (audits are mandatory: the render
// cannot end without them), as many at once as they take tiles, so that
// the audits left at the end take one round trip, not one a node at a time.
func (r *run) auditsToNodes() {
	var skipped []*session
	for len(r.checkQ.audits) > 0 {
		s := r.want.pop()
		if s == nil {
			break
		}
		if !r.wantsTiles(s) {
			continue
		}
		if !r.auditOnIdle(s) { // none it may render (its own, or it is distrusted)
			skipped = append(skipped, s)
		}
	}
	for _, s := range skipped {
		r.want.push(s)
	}
}

// endgameSig is what the endgame could give: when none of it changed since
// a pass gave nothing, the next pass would give nothing either.
type endgameSig struct{ audits, busy, idle int }

// endgame gives the sessions with an idle worker, in turn, each one job: an
// audit queued for a node (audits first: the render cannot end without
// them), or a tile outstanding elsewhere, taken back from a node that has
// not started it or else a copy of one that a node renders alone (at most
// two copies at a time). It stops after a round in which nobody got
// anything, and skips its passes until something changes.
func (r *run) endgame() {
	sig := endgameSig{len(r.checkQ.audits), r.busy.Len(), r.idle.size()}
	if r.dry && sig == r.drySig {
		return
	}
	r.dry = false
	for misses := 0; misses < r.idle.size(); {
		s := r.idle.pop()
		if !r.isIdle(s) {
			continue // touch queues it again when it is idle
		}
		if r.auditOnIdle(s) || !r.tune.noDuplicates && r.share(s) {
			misses = 0 // touch queued it again if it still has an idle worker
			continue
		}
		r.idle.push(s)
		misses++
	}
	r.dry, r.drySig = true, endgameSig{len(r.checkQ.audits), r.busy.Len(), r.idle.size()}
}

// share gives s, which has an idle worker, one tile from the busiest other
// session; false when there is none to give.
func (r *run) share(s *session) bool {
	for {
		o := r.busy.topExcept(s)
		if o == nil {
			return false
		}
		l := r.newestCopyable(o)
		if l == nil {
			o.exhausted = true
			r.touch(o)
			continue
		}
		if r.worthTakingBack(o, s) {
			r.takeBack(l, s)
		} else {
			r.lease(s, l.tile)
			r.stats.Duplicates++
		}
		return true
	}
}

// worthTakingBack reports whether o's newest tile is queued on it, not
// started, and would start there later than a round trip to s from now: then
// moving it to s's idle worker is faster than copying it. The in-process
// node's tiles are never taken back (it has no Cancel).
func (r *run) worthTakingBack(o, s *session) bool {
	queued := len(o.leases) - o.cores
	if queued <= 0 || o.out == nil {
		return false
	}
	wait := float64(queued) / float64(o.cores) * o.tileTime()
	return wait > float64(max(s.rtt, time.Millisecond))
}

// takesTiles reports whether s may be given tiles: its node is working
// (neither paused nor suspended) and does not drain (shut down).
func (s *session) takesTiles() bool { return !s.draining && s.rec.state == NodeWorking }

// lease hands tile i to s.
func (r *run) lease(s *session, i int) {
	r.issue(s, i)
	r.tiles[i].state = tileLeased
}

// issue hands tile i to s as a job, whatever the tile's state.
func (r *run) issue(s *session, i int) *lease {
	t := &r.tiles[i]
	r.nextJob++
	now := r.clock.Now()
	l := &lease{job: r.nextJob, tile: i, epoch: t.epoch, s: s, sent: now, rect: t.rect, frame: r.frames[t.frame].num,
		pass: t.pass, npix: t.npix}
	if len(s.leases) == 0 {
		s.lastProgress = now
	}
	s.addLease(l)
	t.leases = append(t.leases, l)
	r.touch(s)
	if s.rec.isLocal() {
		s.local.push(l)
		return l
	}
	job := protocol.TileJob{
		Job: l.job, Scene: r.c.scene.Hash,
		Width: r.set.Width, Height: r.set.Height, SPP: r.set.SPP, MaxDepth: r.set.MaxDepth,
		X0: t.rect.Min.X, Y0: t.rect.Min.Y, X1: t.rect.Max.X, Y1: t.rect.Max.Y,
		Epoch: l.epoch, From: t.pass.From, To: t.pass.To, Mask: t.pass.Mask,
	}
	if l.frame != still {
		job.Frame = &l.frame
	}
	s.out.Push(job)
	return l
}

// takeResult checks a tile result against its lease and takes it.
func (r *run) takeResult(ev event) {
	s, rec := ev.s, ev.s.rec
	l := s.leases[ev.job]
	if l == nil {
		// Revoked (timeout, cancel, reset) or never issued: stale.
		r.log.Debug().Str("node", rec.label()).Uint64("job", ev.job).Msg("stale result dropped")
		return
	}
	now := r.clock.Now()
	s.lastProgress = now
	s.noteDone(now, len(s.leases))
	r.unlease(l)
	t := &r.tiles[l.tile]
	want := 3 * t.npix
	bad := ""
	switch {
	case ev.epoch != l.epoch:
		bad = fmt.Sprintf("result for job %d carries epoch %d, its lease has %d", ev.job, ev.epoch, l.epoch)
	case ev.err != nil:
		bad = fmt.Sprintf("result for tile %v: %v", t.rect, ev.err)
	case len(ev.pix) != want:
		bad = fmt.Sprintf("result for tile %v has %d values, want %d", t.rect, len(ev.pix), want)
	}
	lie := ""
	if i := firstNonFinite(ev.pix); bad == "" && i >= 0 {
		p := i / 3
		lie = fmt.Sprintf("returned %v at pixel (%d,%d) of tile %v: refused", ev.pix[i], t.rect.Min.X+p%t.rect.Dx(), t.rect.Min.Y+p/t.rect.Dx(), t.rect)
	}
	if bad != "" || lie != "" {
		if l.audit != nil {
			r.auditLost(l)
		}
		if t.state == tileLeased && len(t.leases) == 0 {
			r.requeue(l.tile)
		}
		t.tidy()
		if lie != "" { // no renderer returns these: the node's pixels cannot be trusted
			r.wrong(rec, lie)
		} else {
			r.strike(rec, "wrong result rejected: "+bad, fault)
		}
		return
	}
	rec.nanos += ev.nanos
	s.noteSpeed(ev.nanos, now.Sub(l.sent), r.tune.maxWindow)
	switch {
	case l.audit != nil:
		r.audited(l, rec, ev.pix)
	case t.state == tileDone:
		r.compare(l.tile, rec, ev.pix, ev.rays)
	default:
		r.accept(l.tile, rec, ev.pix, ev.rays)
		r.checkResult(l.tile, rec, ev.pix)
	}
	t.tidy()
	r.touch(s) // its window and speed changed
}

// accept writes a tile's pixels into the image.
func (r *run) accept(i int, rec *nodeRec, pix []float32, rays uint64) {
	t := &r.tiles[i]
	f := &r.frames[t.frame]
	t.state = tileDone
	t.by = rec
	t.rays = rays
	r.done++
	if r.done == r.total {
		r.allDone = r.clock.Now()
	}
	f.done++
	f.rays += rays
	rec.tiles++
	rec.rays += rays
	r.stats.Rays += rays
	show := pix
	if f.film != nil {
		scatterPass(f.img, t.rect, t.pass.Mask, pix)
		show = r.previewTile(t, pix)
	} else {
		putTile(f.img, t.rect, pix)
	}
	t.pix = pix // for comparisons; tidy forgets it
	if r.cfg.OnTile != nil && show != nil {
		r.cfg.OnTile(TileEvent{Rect: t.rect, Pixels: show, NodeID: rec.id, Frame: f.num})
	}
}
