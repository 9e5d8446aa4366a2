package scheduler

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

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

// tile is one rectangle of the image and its leases.
type tile struct {
	rect   image.Rectangle
	state  tileState
	epoch  uint32
	leases []*lease  // live leases: one, or two in the endgame
	by     *nodeRec  // who rendered the pixels in the image
	rays   uint64    // of the pixels in the image
	pix    []float32 // the pixels in the image, kept while another copy or a check is pending
	checks int       // audits or arbitrations pending
}

// lease is a tile handed to a session under a job id and the tile's epoch.
type lease struct {
	job   uint64
	tile  int
	epoch uint32
	s     *session
	sent  time.Time
}

// nodeRec is one node across its connections in this render: identity,
// failures, trust and totals.
type nodeRec struct {
	key        string // the id (proven, or as discovery gave it), or "addr " + Addr before a handshake proves one
	id         string
	name       string
	addr       string
	source     Source
	local      bool
	sess       *session // current connection (dialing or live), if any
	removed    bool     // RemoveNode: do not dial again
	excluded   string   // why it is excluded; "" while it is not
	failures   int
	audited    bool // its first tile was sent for an audit
	distrusted bool // it returned wrong pixels
	alias      bool // a second route to a node known under another key: dropped

	backoff  time.Duration
	nextDial time.Time

	tiles int
	rays  uint64
	nanos int64
}

// check is an audit or an arbitration: the tile rendered in-process and
// compared with what nodes claimed.
type check struct {
	tile   int
	claims []claim
}

type claim struct {
	rec *nodeRec
	pix []float32
}

// evKind is what an event reports.
type evKind uint8

const (
	evUp      evKind = iota // dial and handshake done (or failed: err)
	evDown                  // connection lost (err)
	evResult                // a tile result
	evError                 // an Error frame
	evPong                  // a Pong
	evChecked               // a check's in-process render
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
	check   *check
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
	checks chan *check // to the checker goroutine; capacity 1

	set     render.Settings
	img     *render.Image
	tiles   []tile
	order   []int // queue, centre outwards, consumed from next
	next    int
	retry   []int // re-queued tiles, served first
	done    int
	nextJob uint64

	recs    []*nodeRec          // in order of appearance, for stats
	byKey   map[string]*nodeRec // recs by key
	live    []*session          // live sessions, local included, in dispatch order
	local   *session
	dialing int

	checkQ    []*check
	checkBusy bool
	pending   int // checks queued or running

	start     time.Time
	lastLive  time.Time // when a remote node was last live (or Run started)
	lastProg  time.Time
	pingSeq   uint64
	stats     Stats
	bytesSent int64
	bytesRecv int64
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
		checks: make(chan *check, 1),
		set:    cfg.Settings,
		img:    render.NewImage(cfg.Settings.Width, cfg.Settings.Height),
		byKey:  make(map[string]*nodeRec),
	}
	r.ctx, r.stop = context.WithCancel(context.WithoutCancel(ctx))
	rects := tileGrid(r.set.Width, r.set.Height, cfg.Tile)
	r.tiles = make([]tile, len(rects))
	r.order = make([]int, len(rects))
	for i, rect := range rects {
		r.tiles[i] = tile{rect: rect}
		r.order[i] = i
	}
	r.start = r.clock.Now()
	r.lastLive = r.start
	r.stats = Stats{
		Width: r.set.Width, Height: r.set.Height, SPP: r.set.SPP, Tiles: len(r.tiles),
		Samples: int64(r.set.Width) * int64(r.set.Height) * int64(r.set.SPP),
	}
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
	r.wg.Add(1)
	go r.checker()
	r.takeOps()
	if r.cfg.Local > 0 {
		r.startLocal(r.cfg.Local)
	}
	tick := r.clock.After(r.tune.tick)
	var err error
	for err == nil && !r.finished() {
		select {
		case <-ctx.Done():
			err = fmt.Errorf("%w with %d of %d tiles missing: %w", ErrInterrupted, len(r.tiles)-r.done, len(r.tiles), context.Cause(ctx))
			continue
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
		r.dispatch()
		r.feedChecker()
		r.progress(false)
	}
	r.finish()
	res := r.result()
	if err != nil {
		return res, err
	}
	return res, nil
}

// finished reports whether every tile is in the image and no check is pending.
func (r *run) finished() bool { return r.done == len(r.tiles) && r.pending == 0 }

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
			r.result1(ev)
		}
	case evError:
		if ev.s.state == sessLive {
			r.nodeError(ev)
		}
	case evPong:
		if ev.s.state == sessLive && ev.seq == ev.s.pingSeq {
			ev.s.noteRTT(r.clock.Now().Sub(ev.s.pingAt))
		}
	case evChecked:
		r.checked(ev)
	}
}

// takeOps applies AddNode and RemoveNode calls.
func (r *run) takeOps() {
	for _, op := range r.c.takeOps() {
		if op.add {
			r.addCandidate(op.cand)
		} else {
			r.removeNode(op.id)
		}
	}
}

func (r *run) addCandidate(cand Candidate) {
	key := cand.ID
	if key == "" {
		key = "addr " + cand.Addr
	}
	if rec := r.byKey[key]; rec != nil {
		if rec.removed && rec.excluded == "" {
			rec.removed = false
			rec.addr = cand.Addr
			if rec.sess == nil {
				r.dial(rec)
			}
		}
		return
	}
	if cand.Addr == "" {
		r.log.Warn().Str("node", cand.ID).Msg("node offered without an address; ignored")
		return
	}
	rec := &nodeRec{key: key, id: cand.ID, name: cand.Name, addr: cand.Addr, source: cand.Source}
	r.byKey[key] = rec
	r.recs = append(r.recs, rec)
	r.dial(rec)
}

func (r *run) removeNode(id string) {
	rec := r.byKey[id]
	if rec == nil {
		for _, x := range r.recs {
			if x.id == id && !x.alias {
				rec = x
			}
		}
	}
	if rec == nil || rec.local {
		return
	}
	rec.removed = true
	if rec.sess != nil {
		r.log.Info().Str("node", rec.label()).Msg("node removed")
		r.closeSession(rec.sess, false)
	}
}

func (rec *nodeRec) label() string {
	switch {
	case rec.id != "" && rec.name != "" && rec.name != rec.id:
		return rec.id + " (" + rec.name + ")"
	case rec.id != "":
		return rec.id
	}
	return rec.addr
}

// up finishes a dial: the handshake proved the node's id, which decides
// whether it is new, a second route to a known node, or excluded.
func (r *run) up(ev event) {
	s := ev.s
	r.dialing--
	rec := s.rec
	if s.state != sessDialing { // removed while dialing
		if ev.conn != nil {
			ev.conn.Close()
		}
		return
	}
	if ev.err == nil && (ev.hello.Role != protocol.RoleNode || ev.hello.ID == "") {
		ev.err = fmt.Errorf("peer is not a node (role %q, id %q)", ev.hello.Role, ev.hello.ID)
		ev.conn.Close()
	}
	if ev.err != nil && refusal(ev.err) {
		// Garbage, another protocol, a wrong token: trying again will not help.
		s.state = sessClosed
		rec.sess = nil
		r.exclude(rec, fmt.Sprintf("handshake failed: %v", ev.err))
		return
	}
	if ev.err != nil {
		s.state = sessClosed
		rec.sess = nil
		rec.backoff = min(max(2*rec.backoff, r.tune.redialMin), r.tune.redialMax)
		rec.nextDial = r.clock.Now().Add(rec.backoff)
		lvl := r.log.Info()
		if errors.Is(ev.err, protocol.ErrUnauthorized) || errors.Is(ev.err, protocol.ErrVersionMismatch) {
			lvl = r.log.Warn()
		}
		lvl.Err(ev.err).Str("node", rec.label()).Str("addr", rec.addr).Dur("retryIn", rec.backoff).Msg("cannot connect to node")
		return
	}
	id := ev.hello.ID
	if rec.key != id {
		if other := r.byKey[id]; other != nil && other != rec {
			// The same node by another route: keep the first.
			ev.conn.Close()
			s.state = sessClosed
			rec.sess = nil
			rec.alias = true
			delete(r.byKey, rec.key)
			r.log.Debug().Str("node", id).Str("addr", rec.addr).Msg("node already known by another route")
			return
		}
		if rec.id != "" && rec.id != id {
			r.log.Warn().Str("announced", rec.id).Str("proven", id).Msg("node proved another id than discovery announced")
		}
		delete(r.byKey, rec.key)
		rec.key = id
		r.byKey[id] = rec
	}
	rec.id = id
	if ev.hello.Name != "" {
		rec.name = ev.hello.Name
	}
	rec.backoff = 0
	now := r.clock.Now()
	s.conn = ev.conn
	s.cores = min(max(ev.hello.Cores, 1), 1024)
	s.window = min(2*s.cores, r.tune.maxWindow)
	s.windowCap = r.tune.maxWindow
	s.state = sessLive
	s.lastHeard.Store(now.UnixNano())
	s.lastProgress = now
	s.pingAt = now
	s.out = newOutbox(1 << 20)
	s.out.push(r.c.scene)
	r.live = append(r.live, s)
	r.lastLive = now
	r.wg.Add(2)
	go r.reader(s)
	go r.writer(s)
	r.log.Info().Str("node", rec.label()).Str("addr", rec.addr).Int("cores", s.cores).Str("source", string(rec.source)).Msg("node joined")
}

// failKind says how much a lost connection is the node's fault.
type failKind uint8

const (
	failLost    failKind = iota // connection lost: a failure if it had work
	failSilent                  // stopped answering pings: a failure
	failGarbage                 // broke the protocol: excluded
)

// refusal reports whether a dial failed for a reason that a retry will not
// change: the peer speaks garbage, another version, or refuses our token.
func refusal(err error) bool {
	for _, e := range []error{protocol.ErrBadFrame, protocol.ErrFrameTooLarge, protocol.ErrHandshake, protocol.ErrVersionMismatch, protocol.ErrUnauthorized} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// down handles a lost connection.
func (r *run) down(s *session, err error, blame failKind) {
	rec := s.rec
	// Work lost is a failure, unless the node said it was shutting down.
	busy := len(s.leases) > 0 && !s.draining
	r.closeSession(s, false)
	switch {
	case blame == failGarbage:
		r.exclude(rec, fmt.Sprintf("protocol violation: %v", err))
	case blame == failSilent || busy:
		r.strike(rec, fmt.Sprintf("connection lost: %v", err))
	default:
		r.log.Info().Str("node", rec.label()).Err(err).Msg("node left")
	}
	if rec.excluded == "" && !rec.removed {
		rec.backoff = min(max(2*rec.backoff, r.tune.redialMin), r.tune.redialMax)
		rec.nextDial = r.clock.Now().Add(rec.backoff)
	}
}

// strike counts a failure of rec; enough of them exclude it.
func (r *run) strike(rec *nodeRec, reason string) {
	rec.failures++
	r.log.Warn().Str("node", rec.label()).Int("failures", rec.failures).Msg(reason)
	if rec.failures >= r.tune.maxFailures {
		r.exclude(rec, fmt.Sprintf("%d failures, the last: %s", rec.failures, reason))
	}
}

// exclude drops rec for the rest of the render.
func (r *run) exclude(rec *nodeRec, reason string) {
	if rec.excluded != "" || rec.local {
		return
	}
	rec.excluded = reason
	r.log.Warn().Str("node", rec.label()).Str("addr", rec.addr).Str("reason", reason).Msg("node excluded from this render")
	if rec.sess != nil {
		r.closeSession(rec.sess, false)
	}
}

// closeSession ends a session: its leases are revoked (their tiles re-queued
// when no other copy is out) and its goroutines stopped. With graceful, the
// node is told to cancel them first.
func (r *run) closeSession(s *session, graceful bool) {
	if s.state == sessClosed {
		return
	}
	if s.state == sessDialing {
		s.state = sessClosed
		s.rec.sess = nil
		s.cancel() // aborts the dial; its evUp is then ignored
		return
	}
	for _, l := range s.leases {
		if graceful && s.out != nil {
			s.out.push(protocol.Cancel{Job: l.job})
		}
		r.revoke(l)
	}
	s.state = sessClosed
	s.rec.sess = nil
	for i, x := range r.live {
		if x == s {
			r.live = append(r.live[:i], r.live[i+1:]...)
			break
		}
	}
	if s == r.local {
		r.local = nil
	}
	if s.conn != nil {
		r.bytesSent += s.conn.BytesSent()
		r.bytesRecv += s.conn.BytesReceived()
	}
	if graceful && s.out != nil {
		s.out.close() // the writer sends the cancels, then closes the connection
		return
	}
	s.cancel()
	if s.conn != nil {
		s.conn.Close()
	}
}

// revoke ends a lease without a result; its tile goes back to the queue if
// no other copy is out.
func (r *run) revoke(l *lease) {
	delete(l.s.leases, l.job)
	t := &r.tiles[l.tile]
	t.dropLease(l)
	if t.state == tileLeased && len(t.leases) == 0 {
		r.requeue(l.tile)
	}
	t.tidy()
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

// requeue puts tile i back at the front of the queue under a new epoch.
func (r *run) requeue(i int) {
	t := &r.tiles[i]
	t.state = tileQueued
	t.epoch++
	r.retry = append(r.retry, i)
	r.stats.Retries++
}

// nextTile takes the next queued tile, re-queued ones first; -1 if none.
func (r *run) nextTile() int {
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
	}
	return -1
}

func (r *run) queueEmpty() bool {
	for len(r.retry) > 0 && r.tiles[r.retry[0]].state != tileQueued {
		r.retry = r.retry[1:]
	}
	for r.next < len(r.order) && r.tiles[r.order[r.next]].state != tileQueued {
		r.next++
	}
	return len(r.retry) == 0 && r.next == len(r.order)
}

// dispatch fills the windows of the live sessions, one tile each in turn,
// then duplicates outstanding tiles onto idle ones when the queue is empty.
func (r *run) dispatch() {
	for more := true; more; {
		more = false
		for _, s := range r.live {
			if s.draining || len(s.leases) >= s.window {
				continue
			}
			i := r.nextTile()
			if i < 0 {
				r.endgame()
				return
			}
			r.lease(s, i)
			more = true
		}
	}
	if r.queueEmpty() {
		r.endgame()
	}
}

// endgame gives a session with idle workers a copy of the tile that has been
// out longest on another node alone.
func (r *run) endgame() {
	for _, s := range r.live {
		for !s.draining && len(s.leases) < s.cores {
			var oldest *lease
			for _, o := range r.live {
				if o == s {
					continue
				}
				for _, l := range o.leases {
					t := &r.tiles[l.tile]
					if t.state == tileLeased && len(t.leases) == 1 && (oldest == nil || l.sent.Before(oldest.sent)) {
						oldest = l
					}
				}
			}
			if oldest == nil {
				break
			}
			r.lease(s, oldest.tile)
			r.stats.Duplicates++
		}
	}
}

// lease hands tile i to s.
func (r *run) lease(s *session, i int) {
	t := &r.tiles[i]
	r.nextJob++
	now := r.clock.Now()
	l := &lease{job: r.nextJob, tile: i, epoch: t.epoch, s: s, sent: now}
	if len(s.leases) == 0 {
		s.lastProgress = now
	}
	s.leases[l.job] = l
	t.leases = append(t.leases, l)
	t.state = tileLeased
	if s.rec.local {
		s.local.push(l)
		return
	}
	s.out.push(protocol.TileJob{
		Job: l.job, Scene: r.c.scene.Hash,
		Width: r.set.Width, Height: r.set.Height, SPP: r.set.SPP, MaxDepth: r.set.MaxDepth,
		X0: t.rect.Min.X, Y0: t.rect.Min.Y, X1: t.rect.Max.X, Y1: t.rect.Max.Y,
		Epoch: l.epoch,
	})
}

// result1 takes one tile result.
func (r *run) result1(ev event) {
	s, rec := ev.s, ev.s.rec
	l := s.leases[ev.job]
	if l == nil {
		// Revoked (timeout, cancel, reset) or never issued: stale.
		r.log.Debug().Str("node", rec.label()).Uint64("job", ev.job).Msg("stale result dropped")
		return
	}
	now := r.clock.Now()
	s.lastProgress = now
	delete(s.leases, l.job)
	t := &r.tiles[l.tile]
	t.dropLease(l)
	want := 3 * t.rect.Dx() * t.rect.Dy()
	bad := ""
	switch {
	case ev.epoch != l.epoch:
		bad = fmt.Sprintf("result for job %d carries epoch %d, its lease has %d", ev.job, ev.epoch, l.epoch)
	case ev.err != nil:
		bad = fmt.Sprintf("result for tile %v: %v", t.rect, ev.err)
	case len(ev.pix) != want:
		bad = fmt.Sprintf("result for tile %v has %d values, want %d", t.rect, len(ev.pix), want)
	}
	if bad != "" {
		if t.state == tileLeased && len(t.leases) == 0 {
			r.requeue(l.tile)
		}
		r.strike(rec, "wrong result rejected: "+bad)
		return
	}
	rec.nanos += ev.nanos
	s.noteSpeed(ev.nanos, now.Sub(l.sent), r.tune.maxWindow)
	if t.state == tileDone {
		r.compare(l.tile, rec, ev.pix, ev.rays)
	} else {
		r.accept(l.tile, rec, ev.pix, ev.rays)
		if !rec.local && !rec.audited {
			rec.audited = true
			r.addCheck(l.tile, claim{rec: rec, pix: ev.pix})
		}
	}
	t.tidy()
}

// accept writes a tile's pixels into the image.
func (r *run) accept(i int, rec *nodeRec, pix []float32, rays uint64) {
	t := &r.tiles[i]
	t.state = tileDone
	t.by = rec
	t.rays = rays
	r.done++
	rec.tiles++
	rec.rays += rays
	r.stats.Rays += rays
	putTile(r.img, t.rect, pix)
	t.pix = pix // for comparisons; tidy forgets it
	if r.cfg.OnTile != nil {
		r.cfg.OnTile(TileEvent{Rect: t.rect, Pixels: pix, NodeID: rec.id})
	}
}

// compare checks the second copy of a tile against the pixels in the image.
func (r *run) compare(i int, rec *nodeRec, pix []float32, rays uint64) {
	t := &r.tiles[i]
	first, firstPix := t.by, t.pix
	if firstPix == nil || samePixels(firstPix, pix) {
		return
	}
	r.stats.Mismatches++
	r.log.Warn().Str("node", rec.label()).Str("other", first.label()).Stringer("tile", t.rect).Msg("duplicate tile differs between nodes")
	switch {
	case first.local:
		r.distrust(rec, fmt.Sprintf("returned wrong pixels for tile %v", t.rect))
	case rec.local:
		r.distrust(first, fmt.Sprintf("returned wrong pixels for tile %v", t.rect))
		if t.state != tileDone {
			r.accept(i, rec, pix, rays)
		}
	default:
		r.addCheck(i, claim{rec: first, pix: firstPix}, claim{rec: rec, pix: pix})
	}
}

// addCheck queues a render of tile i in-process to judge claims against.
func (r *run) addCheck(i int, claims ...claim) {
	r.tiles[i].checks++
	r.checkQ = append(r.checkQ, &check{tile: i, claims: claims})
	r.pending++
}

func (r *run) feedChecker() {
	if r.checkBusy || len(r.checkQ) == 0 {
		return
	}
	r.checks <- r.checkQ[0] // capacity 1 and the checker is idle: never blocks
	r.checkQ = r.checkQ[1:]
	r.checkBusy = true
}

// checked judges a check's claims against the in-process render: every node
// that claimed other pixels is distrusted, and the tile gets the right ones.
func (r *run) checked(ev event) {
	r.checkBusy = false
	r.pending--
	ck := ev.check
	t := &r.tiles[ck.tile]
	t.checks--
	if ev.err != nil {
		r.log.Error().Err(ev.err).Stringer("tile", t.rect).Msg("in-process check failed; claims not judged")
	} else {
		for _, cl := range ck.claims {
			if samePixels(cl.pix, ev.pix) {
				continue
			}
			if len(ck.claims) == 1 && !cl.rec.distrusted { // an audit; compare counts a duplicate's
				r.stats.Mismatches++
			}
			r.distrust(cl.rec, fmt.Sprintf("returned wrong pixels for tile %v (checked in-process)", t.rect))
		}
		if t.state != tileDone { // its pixels were wrong and are gone: here are the right ones
			r.accept(ck.tile, r.localRec(), ev.pix, ev.rays)
		}
	}
	t.tidy()
}

// distrust excludes a node that returned wrong pixels and renders again every
// tile it contributed: its work can no longer be trusted.
func (r *run) distrust(rec *nodeRec, reason string) {
	if rec.local {
		return
	}
	rec.distrusted = true
	r.exclude(rec, reason)
	n := 0
	for i := range r.tiles {
		t := &r.tiles[i]
		if t.state != tileDone || t.by != rec {
			continue
		}
		n++
		r.done--
		rec.tiles--
		rec.rays -= t.rays
		r.stats.Rays -= t.rays
		putTile(r.img, t.rect, nil)
		t.by, t.rays = nil, 0
		for _, l := range append([]*lease(nil), t.leases...) {
			if l.s.out != nil {
				l.s.out.push(protocol.Cancel{Job: l.job})
			}
			delete(l.s.leases, l.job)
			t.dropLease(l)
		}
		r.requeue(i)
		t.pix = nil
	}
	if n > 0 {
		r.log.Warn().Str("node", rec.label()).Int("tiles", n).Msg("rendering again every tile of a distrusted node")
	}
}

// localRec is the in-process node's record, created on first use.
func (r *run) localRec() *nodeRec {
	for _, rec := range r.recs {
		if rec.local {
			return rec
		}
	}
	rec := &nodeRec{key: "local", id: "local", name: "local", source: SourceLocal, local: true, audited: true}
	r.recs = append(r.recs, rec)
	return rec
}

// nodeError handles an Error frame from a node.
func (r *run) nodeError(ev event) {
	s, rec := ev.s, ev.s.rec
	if ev.job == 0 {
		switch ev.code {
		case protocol.CodeShutdown:
			s.draining = true
			r.log.Info().Str("node", rec.label()).Msg("node is shutting down")
		case protocol.CodeBadScene, protocol.CodeLimit:
			r.exclude(rec, fmt.Sprintf("cannot take the scene: %s: %s", ev.code, ev.msg))
		default:
			r.log.Warn().Str("node", rec.label()).Str("code", string(ev.code)).Str("message", ev.msg).Msg("node reports an error")
		}
		return
	}
	l := s.leases[ev.job]
	if l == nil {
		return // stale
	}
	r.revoke(l)
	reason := fmt.Sprintf("job %d refused: %s: %s", ev.job, ev.code, ev.msg)
	switch ev.code {
	case protocol.CodeShutdown:
		s.draining = true
	case protocol.CodeBusy:
		s.windowCap = max(1, len(s.leases))
		s.window = min(s.window, s.windowCap)
	case protocol.CodeUnknownScene:
		s.out.push(r.c.scene)
		r.strike(rec, reason)
	case protocol.CodeBadScene, protocol.CodeBadJob, protocol.CodeLimit:
		r.exclude(rec, reason)
	default:
		r.strike(rec, reason)
	}
}

// tick checks deadlines: liveness, progress, redials, the in-process node.
func (r *run) tick(now time.Time) {
	for _, s := range append([]*session(nil), r.live...) {
		if s.rec.local {
			continue
		}
		if silent := now.Sub(time.Unix(0, s.lastHeard.Load())); silent > r.tune.live {
			r.down(s, fmt.Errorf("no answer for %v", silent.Round(time.Millisecond)), failSilent)
			continue
		}
		if now.Sub(s.pingAt) >= r.tune.ping {
			r.pingSeq++
			s.pingSeq, s.pingAt = r.pingSeq, now
			s.out.push(protocol.Ping{Seq: s.pingSeq})
		}
		if d := s.deadline(r.tune); len(s.leases) > 0 && now.Sub(s.lastProgress) > d {
			for _, l := range s.leases {
				s.out.push(protocol.Cancel{Job: l.job})
				r.revoke(l)
			}
			s.window = max(1, s.window/2)
			s.lastProgress = now
			r.strike(s.rec, fmt.Sprintf("no result within %v", d.Round(time.Millisecond)))
		}
	}
	for _, rec := range r.recs {
		if rec.sess == nil && !rec.local && !rec.alias && !rec.removed && rec.excluded == "" && !now.Before(rec.nextDial) {
			r.dial(rec)
		}
	}
	if r.remotes() > 0 {
		r.lastLive = now
	}
	if r.cfg.Local == LocalAuto && r.local == nil && r.remotes() == 0 && r.done < len(r.tiles) && now.Sub(r.start) >= r.cfg.Discover {
		r.log.Warn().Msg("no render node at work: rendering here with every core")
		r.startLocal(r.c.cores)
	}
}

// giveUp fails the render when tiles are left and nothing can render them.
func (r *run) giveUp(now time.Time) error {
	if r.local != nil || r.cfg.Local != 0 || r.remotes() > 0 || r.dialing > 0 || r.done == len(r.tiles) {
		return nil
	}
	if now.Sub(r.lastLive) < r.cfg.Discover {
		return nil
	}
	var why []string
	for _, rec := range r.recs {
		if rec.excluded != "" {
			why = append(why, fmt.Sprintf("%s excluded: %s", rec.label(), rec.excluded))
		}
	}
	reason := "no remote node reachable and Local is 0"
	if len(why) > 0 {
		reason += "; " + strings.Join(why, "; ")
	}
	missing := len(r.tiles) - r.done
	return fmt.Errorf("%w: %d of %d tiles missing: %s", ErrNoNodes, missing, len(r.tiles), reason)
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
	if !final && now.Sub(r.lastProg) < r.tune.progressInterval && r.done < len(r.tiles) {
		return
	}
	r.lastProg = now
	r.cfg.OnProgress(Progress{Done: r.done, Total: len(r.tiles), Rays: r.stats.Rays, Nodes: len(r.live), Elapsed: now.Sub(r.start)})
}

// finish tells every node to cancel what is outstanding, closes every
// connection and waits for every goroutine.
func (r *run) finish() {
	var writers []*session
	for _, s := range append([]*session(nil), r.live...) {
		if !s.rec.local {
			writers = append(writers, s)
		}
		r.closeSession(s, true)
	}
	for _, rec := range r.recs {
		if rec.sess != nil { // dialing
			r.closeSession(rec.sess, false)
		}
	}
	// Give the writers a moment to send the cancels, then stop everything.
	deadline := time.NewTimer(r.tune.finishGrace)
	for _, s := range writers {
		select {
		case <-s.writerDone:
		case <-deadline.C:
		}
	}
	deadline.Stop()
	r.stop()
	for _, s := range writers {
		s.conn.Close()
	}
	r.wg.Wait()
	r.progress(true)
}

// result assembles the Result.
func (r *run) result() *Result {
	wall := r.clock.Now().Sub(r.start).Seconds()
	st := r.stats
	st.WallSeconds = wall
	if wall > 0 {
		st.RaysPerSecond = float64(st.Rays) / wall
	}
	st.BytesSent, st.BytesReceived = r.bytesSent, r.bytesRecv
	st.Nodes = []NodeStats{}
	for _, rec := range r.recs {
		if rec.alias || (rec.id == "" && rec.excluded == "") {
			continue // a second route to a node, or an address that never answered
		}
		st.Nodes = append(st.Nodes, NodeStats{
			ID: rec.id, Name: rec.name, Addr: rec.addr, Source: rec.source,
			Tiles: rec.tiles, Rays: rec.rays, Seconds: float64(rec.nanos) / 1e9,
			Failures: rec.failures, Excluded: rec.excluded,
		})
	}
	return &Result{Image: r.img, Stats: st, Missing: len(r.tiles) - r.done}
}
