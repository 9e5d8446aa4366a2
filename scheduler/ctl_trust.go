package scheduler

// The controller's checks of the pixels nodes return (see trust.go for the
// policy): a spot check or a full audit of every result of a remote node,
// the endgame's duplicate comparisons, and arbitration by an in-process
// render. Checks run off the loop: on a pool of checker goroutines, and, for
// full audits, on any node with an idle worker (in practice at the end of a
// render, when every node has one). The loop only queues them and judges the
// verdicts.

import (
	"fmt"
	"image"
	"math"
	"time"

	"tessera/protocol"
	"tessera/render"
)

// checkKind is what a check renders and who may render it.
type checkKind uint8

const (
	checkSpot      checkKind = iota // a few pixels of one claim, in-process
	checkAudit                      // the whole tile, one claim: on an idle node or in-process
	checkArbitrate                  // the whole tile, several claims, in-process: the verdict
)

func (k checkKind) String() string {
	switch k {
	case checkSpot:
		return "spot check"
	case checkAudit:
		return "audit"
	}
	return "arbitration"
}

// check is one tile rendered again (in whole or in part) to judge what
// nodes claimed its pixels are. Its fields do not change once queued, so a
// checker goroutine reads them without locks.
type check struct {
	kind   checkKind
	tile   int
	rect   image.Rectangle
	frame  int // the tile's frame number (still for a still)
	claims []claim
	spots  []image.Point // checkSpot: the pixels rendered
	// ofAudit: an arbitration that settles an audit by another node, so
	// that its verdict counts as the first claim's audit.
	ofAudit bool
	lease   *lease // checkAudit: the lease of the node rendering it, while one does
	pass    render.Pass
	npix    int
}

type claim struct {
	rec *nodeRec
	pix []float32
}

// verdict is a checker goroutine's answer: for each claim whether it was
// right, and the pixels rendered (the whole tile, except for a spot check).
type verdict struct {
	right []bool
	where []string // for a wrong claim: the first pixel that differs
	pix   []float32
	rays  uint64
	err   error
}

// checkQueue holds the checks waiting for a renderer: arbitrations and spot
// checks (quick, in-process only) before audits (which idle nodes may take).
type checkQueue struct {
	quick  []*check
	audits []*check
}

// pop takes the next check for the in-process checkers.
func (q *checkQueue) pop() *check {
	if len(q.quick) > 0 {
		ck := q.quick[0]
		q.quick = q.quick[1:]
		return ck
	}
	if len(q.audits) > 0 {
		ck := q.audits[0]
		q.audits = q.audits[1:]
		return ck
	}
	return nil
}

// popAudit takes the first audit that a node other than rec may render.
func (q *checkQueue) popAudit(rec *nodeRec) *check {
	for i, ck := range q.audits {
		if ck.claims[0].rec != rec {
			q.audits = append(q.audits[:i], q.audits[i+1:]...)
			return ck
		}
	}
	return nil
}

func (q *checkQueue) push(ck *check) {
	if ck.kind == checkAudit {
		q.audits = append(q.audits, ck)
	} else {
		q.quick = append(q.quick, ck)
	}
}

// addCheck queues a check of tile i.
func (r *run) addCheck(kind checkKind, i int, claims ...claim) *check {
	t := &r.tiles[i]
	ck := &check{kind: kind, tile: i, rect: t.rect, frame: r.frames[t.frame].num, claims: claims,
		pass: t.pass, npix: t.npix}
	if kind == checkSpot {
		ck.spots = r.aud.spots(t.rect)
	}
	t.checks++
	r.pending++
	r.checkQ.push(ck)
	return ck
}

// checkResult decides what checks a result of a remote node gets: a full
// audit or a spot check, as the node's trust and the seeded draw say.
func (r *run) checkResult(i int, rec *nodeRec, pix []float32) {
	if r.c.audit.Off || rec.isLocal() {
		return
	}
	kind := checkSpot
	if r.aud.full(&rec.trust) {
		kind = checkAudit
	}
	r.addCheck(kind, i, claim{rec: rec, pix: pix})
}

// settle forgets a check that has a verdict (or will have none).
func (r *run) settle(ck *check) {
	r.pending--
	t := &r.tiles[ck.tile]
	t.checks--
	t.tidy()
}

// feedCheckers hands queued checks to the checker goroutines: quick ones
// by the batch (cap(r.checks) in flight at most, so that the checkers never
// wait for the loop), full audits only as many as there are checkers, so
// that the others stay queued for nodes that fall idle.
func (r *run) feedCheckers() {
	for r.inFlight < cap(r.checks) {
		var ck *check
		if len(r.checkQ.quick) > 0 {
			ck = r.checkQ.pop()
		} else if r.auditsInFlight < r.checkers && len(r.checkQ.audits) > 0 {
			ck = r.checkQ.pop()
			r.auditsInFlight++
		}
		if ck == nil {
			break
		}
		if r.moot(ck) {
			if ck.kind == checkAudit {
				r.auditsInFlight--
			}
			continue
		}
		r.inFlight++
		r.checks <- ck // at most cap(r.checks) in flight: never blocks
	}
}

// auditOnIdle hands one queued audit to session s, which can take a job
// (an idle worker, or room in its window), never one of its own tiles: at
// the end of a render every node has room, and the audits left are
// rendered all at once. It reports whether s got one.
func (r *run) auditOnIdle(s *session) bool {
	if len(r.checkQ.audits) == 0 || s.rec.isLocal() || s.rec.trust.level(r.c.audit) == TrustDistrusted {
		return false
	}
	for {
		ck := r.checkQ.popAudit(s.rec)
		if ck == nil {
			return false
		}
		if !r.moot(ck) {
			r.auditOn(s, ck)
			return true
		}
	}
}

// moot drops a check whose claimants have all been found lying since it
// was queued: their tiles are being rendered again anyway.
func (r *run) moot(ck *check) bool {
	for _, cl := range ck.claims {
		if !cl.rec.trust.wrong {
			return false
		}
	}
	r.settle(ck)
	return true
}

// auditOn hands audit ck to session s: a job for a tile already in the image.
func (r *run) auditOn(s *session, ck *check) {
	l := r.issue(s, ck.tile)
	l.audit = ck
	ck.lease = l
	r.stats.AuditsByNodes++
	r.stats.CheckPixels += int64(ck.rect.Dx() * ck.rect.Dy())
}

// auditLost puts back the audit of a lease that ended without a result.
func (r *run) auditLost(l *lease) {
	ck := l.audit
	ck.lease = nil
	r.checkQ.audits = append([]*check{ck}, r.checkQ.audits...)
}

// audited judges an audit rendered by a node: the same pixels pass the
// claim; others are arbitrated in-process between the two nodes.
func (r *run) audited(l *lease, rec *nodeRec, pix []float32) {
	ck := l.audit
	ck.lease = nil
	cl := ck.claims[0]
	switch {
	case cl.rec.trust.wrong:
	case samePixels(cl.pix, pix):
		r.pass(ck, cl.rec)
	default:
		r.log.Warn().Str("node", cl.rec.label()).Str("auditor", rec.label()).Stringer("tile", ck.rect).Msg("audit by another node differs; rendering the tile here to settle it")
		r.addCheck(checkArbitrate, ck.tile, cl, claim{rec: rec, pix: pix}).ofAudit = true
	}
	r.settle(ck)
}

// pass records a claim that a spot check or an audit found right.
func (r *run) pass(ck *check, rec *nodeRec) {
	switch ck.kind {
	case checkSpot:
		rec.trust.spotted++
		r.stats.SpotChecks++
	default:
		rec.trust.audited++
		r.stats.Audits++
	}
}

// compare checks the second copy of a tile against the pixels in the image.
func (r *run) compare(i int, rec *nodeRec, pix []float32, rays uint64) {
	t := &r.tiles[i]
	first, firstPix := t.by, t.pix
	if firstPix == nil || samePixels(firstPix, pix) {
		return
	}
	r.log.Warn().Str("node", rec.label()).Str("other", first.label()).Stringer("tile", t.rect).Msg("duplicate tile differs between nodes")
	switch {
	case first.isLocal():
		r.wrong(rec, fmt.Sprintf("returned wrong pixels for tile %v", t.rect))
	case rec.isLocal():
		r.wrong(first, fmt.Sprintf("returned wrong pixels for tile %v", t.rect))
		if t.state != tileDone {
			r.accept(i, rec, pix, rays)
		}
	default:
		r.addCheck(checkArbitrate, i, claim{rec: first, pix: firstPix}, claim{rec: rec, pix: pix})
	}
}

// checked judges an in-process check's verdict: every node that claimed
// wrong pixels is distrusted, the others pass, and a tile whose pixels were
// wrong gets the right ones when the check rendered them.
func (r *run) checked(ev event) {
	r.inFlight--
	ck, v := ev.check, ev.verdict
	if ck.kind == checkAudit {
		r.auditsInFlight--
	}
	t := &r.tiles[ck.tile]
	defer r.settle(ck)
	if ck.kind == checkSpot {
		r.stats.CheckPixels += int64(len(ck.spots))
	} else {
		r.stats.CheckPixels += int64(ck.rect.Dx() * ck.rect.Dy())
	}
	if v.err != nil {
		if r.ctx.Err() == nil {
			r.log.Error().Err(v.err).Stringer("tile", t.rect).Stringer("check", ck.kind).Msg("in-process check failed; claims not judged")
		}
		return
	}
	for j, cl := range ck.claims {
		if cl.rec.trust.wrong {
			continue
		}
		if v.right[j] {
			if ck.kind != checkArbitrate || ck.ofAudit && j == 0 {
				r.pass(ck, cl.rec)
			}
			continue
		}
		r.wrong(cl.rec, fmt.Sprintf("returned wrong pixels for tile %v (%s in-process: %s)", t.rect, ck.kind, v.where[j]))
	}
	if t.state != tileDone && v.pix != nil { // its pixels were wrong and are gone: here are the right ones
		r.accept(ck.tile, r.localRec(), v.pix, v.rays)
	}
}

// checker renders checks in-process, one at a time, until Run ends.
func (r *run) checker() {
	defer r.wg.Done()
	for {
		select {
		case ck := <-r.checks:
			start := time.Now()
			v := r.judge(ck)
			r.checkNanos.Add(time.Since(start).Nanoseconds())
			if !r.post(event{kind: evChecked, check: ck, verdict: v}) {
				return
			}
		case <-r.ctx.Done():
			return
		}
	}
}

// judge renders what ck needs and compares every claim with it.
func (r *run) judge(ck *check) verdict {
	v := verdict{right: make([]bool, len(ck.claims)), where: make([]string, len(ck.claims))}
	rend, err := r.c.rendererOf(ck.frame)
	if err != nil {
		v.err = err
		return v
	}
	if ck.kind == checkSpot {
		var px [3]float32
		for j := range v.right {
			v.right[j] = true
		}
		for _, p := range ck.spots {
			at := 3 * passAt(ck.rect, ck.pass.Mask, p)
			if at < 0 {
				continue // a pixel the pass does not render
			}
			one := render.Pass{From: ck.pass.From, To: ck.pass.To}
			if _, err := renderWork(r.ctx, rend, r.set, image.Rectangle{Min: p, Max: p.Add(image.Pt(1, 1))}, one, px[:]); err != nil {
				v.err = err
				return v
			}
			for j, cl := range ck.claims {
				if v.right[j] && !samePixels(cl.pix[at:at+3], px[:]) {
					v.right[j] = false
					v.where[j] = fmt.Sprintf("pixel (%d,%d) is %v, want %v", p.X, p.Y, cl.pix[at:at+3], px)
				}
			}
		}
		return v
	}
	v.pix = make([]float32, 3*ck.npix)
	v.rays, v.err = renderWork(r.ctx, rend, r.set, ck.rect, ck.pass, v.pix)
	if v.err != nil {
		return v
	}
	for j, cl := range ck.claims {
		v.right[j] = samePixels(cl.pix, v.pix)
		if !v.right[j] {
			v.where[j] = firstDifference(ck.rect, cl.pix, v.pix)
		}
	}
	return v
}

// firstDifference describes the first pixel of r where got and want differ.
func firstDifference(r image.Rectangle, got, want []float32) string {
	for i := 0; i+2 < len(want) && i+2 < len(got); i += 3 {
		if !samePixels(got[i:i+3], want[i:i+3]) {
			p := i / 3
			return fmt.Sprintf("pixel (%d,%d) is %v, want %v", r.Min.X+p%r.Dx(), r.Min.Y+p/r.Dx(), got[i:i+3], want[i:i+3])
		}
	}
	return fmt.Sprintf("%d values, want %d", len(got), len(want))
}

// firstNonFinite returns the index of the first NaN or infinity in pix, or -1.
func firstNonFinite(pix []float32) int {
	for i, v := range pix {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return i
		}
	}
	return -1
}

// wrong records a result found wrong, once per liar: a lie seen by a
// duplicate and by an audit at once counts one mismatch.
func (r *run) wrong(rec *nodeRec, reason string) {
	if rec.trust.wrong || rec.isLocal() {
		return
	}
	r.stats.Mismatches++
	r.distrust(rec, reason)
}

// distrust excludes a node that returned wrong pixels and renders again every
// tile it contributed: its work can no longer be trusted.
func (r *run) distrust(rec *nodeRec, reason string) {
	if rec.isLocal() {
		return
	}
	rec.trust.failed()
	r.exclude(rec, reason)
	r.reopenFramesOf(rec)
	n := 0
	for i := range r.tiles {
		t := &r.tiles[i]
		if t.state != tileDone || t.by != rec || t.dead {
			continue
		}
		if f := &r.frames[t.frame]; f.film != nil && f.state == frameWritten {
			continue // in the film already (see reopenFramesOf)
		}
		n++
		r.forgetTile(i)
		for _, l := range append([]*lease(nil), t.leases...) {
			if l.s.out != nil {
				l.s.out.Push(protocol.Cancel{Job: l.job})
			}
			r.revoke(l)
		}
		r.requeue(i)
		t.pix = nil
	}
	if n > 0 {
		r.log.Warn().Str("node", rec.label()).Int("tiles", n).Msg("rendering again every tile of a distrusted node")
	}
}
