package scheduler

// The controller's checks of the pixels nodes return: audits, duplicate
// comparisons and arbitration by an in-process render.

import (
	"fmt"
	"image"

	"tessera/protocol"
)

// check is an audit or an arbitration: the tile rendered in-process and
// compared with what nodes claimed.
type check struct {
	tile   int
	rect   image.Rectangle // the tile's, for the checker goroutine
	frame  int             // the tile's frame number (still for a still)
	claims []claim
}

type claim struct {
	rec *nodeRec
	pix []float32
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
	case first.isLocal():
		r.distrust(rec, fmt.Sprintf("returned wrong pixels for tile %v", t.rect))
	case rec.isLocal():
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
	t := &r.tiles[i]
	t.checks++
	r.checkQ = append(r.checkQ, &check{tile: i, rect: t.rect, frame: r.frames[t.frame].num, claims: claims})
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
			if len(ck.claims) == 1 && cl.rec.trust != trustLiar { // an audit; compare counts a duplicate's
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
	if rec.isLocal() {
		return
	}
	rec.trust = trustLiar
	r.exclude(rec, reason)
	r.reopenFramesOf(rec)
	n := 0
	for i := range r.tiles {
		t := &r.tiles[i]
		if t.state != tileDone || t.by != rec {
			continue
		}
		n++
		r.forgetTile(i)
		for _, l := range append([]*lease(nil), t.leases...) {
			if l.s.out != nil {
				l.s.out.Push(protocol.Cancel{Job: l.job})
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
