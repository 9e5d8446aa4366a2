package scheduler

// Audits by trust: which results of a node the controller renders again to
// compare. Every result of a remote node is spot-checked (a few of its
// pixels rendered in-process), which catches a tile that is wrong in more
// than a few pixels at its first occurrence for about 1% of the render's
// work. On top of that a share of the results is audited in full (the whole
// tile rendered again, by an idle node or in-process), which is what catches
// a node that changes a single value now and then: every result while the
// node is untrusted, then a share that falls with its run of good results.
//
// This file is the policy alone, a pure function of a node's record and a
// seeded generator, so that runs are reproducible in tests.

import (
	"image"
	"math/rand/v2"
)

// Trust is where a node stands with the controller's audits. The values
// appear in stats JSON.
type Trust string

const (
	// TrustUntrusted: every result is audited in full, until the node has
	// a run of AuditPolicy.FullRun good results.
	TrustUntrusted Trust = "untrusted"
	// TrustTrusted: results are audited at a rate that falls with the
	// node's run of good results.
	TrustTrusted Trust = "trusted"
	// TrustDistrusted: a check found wrong pixels: the node is excluded
	// and every tile it contributed is rendered again.
	TrustDistrusted Trust = "distrusted"
)

// AuditPolicy says how much of a node's work is checked. The zero value
// takes the defaults written beside each field.
type AuditPolicy struct {
	// FullRun: every result of a node is audited in full until it has a
	// run of this many good results; then the n-th result of the run is
	// audited with probability (FullRun/n)^2, so that a trusted node costs
	// about 2*FullRun audits whatever its number of tiles. Default 8.
	FullRun int
	// Floor is the least share of a trusted node's results audited in
	// full, so that a node that turns bad late is still caught. Default
	// 1/200.
	Floor float64
	// SpotShare is the share of a tile's pixels spot-checked in every
	// result, at least SpotMin pixels (and at most all of them). Defaults
	// 1/128 and 2.
	SpotShare float64
	SpotMin   int
	// Off turns spot checks and audits off, for measuring what they cost:
	// only the endgame's duplicate tiles are still compared.
	Off bool
}

// DefaultAuditPolicy is the policy of a zero AuditPolicy.
var DefaultAuditPolicy = AuditPolicy{FullRun: 8, Floor: 1.0 / 200, SpotShare: 1.0 / 128, SpotMin: 2}

// withDefaults fills the zero fields of p.
func (p AuditPolicy) withDefaults() AuditPolicy {
	d := DefaultAuditPolicy
	if p.FullRun <= 0 {
		p.FullRun = d.FullRun
	}
	if p.Floor <= 0 {
		p.Floor = d.Floor
	}
	if p.SpotShare <= 0 {
		p.SpotShare = d.SpotShare
	}
	if p.SpotMin <= 0 {
		p.SpotMin = d.SpotMin
	}
	return p
}

// rate is the probability that a result arriving when the node's run is
// run (the results before it) is audited in full.
func (p AuditPolicy) rate(run int) float64 {
	if run < p.FullRun {
		return 1
	}
	r := float64(p.FullRun) / float64(run)
	return max(p.Floor, r*r)
}

// spots is how many pixels of a tile of n pixels are spot-checked.
func (p AuditPolicy) spots(n int) int {
	k := int(float64(n)*p.SpotShare + 0.5)
	return min(n, max(p.SpotMin, k))
}

// trust is one node's record with the audits. Its level moves
//
//	TrustUntrusted -> TrustTrusted     a run of FullRun results passed their checks
//	any            -> TrustDistrusted  a check found wrong pixels (the node is excluded)
//
// The in-process node is the reference: it is never checked and shows as
// trusted.
type trust struct {
	// run counts the results returned since trust began, none of them
	// found wrong. A result counts when it is taken, before its check's
	// verdict: a check that fails later excludes the node and throws all
	// its work away, so counting ahead is safe, and checks that lag behind
	// a fast node do not multiply its audits.
	run     int
	audited int  // results audited in full, with a verdict
	spotted int  // results spot-checked, with a verdict
	wrong   bool // a check found wrong pixels
}

// level is where the node stands under p.
func (t *trust) level(p AuditPolicy) Trust {
	switch {
	case t.wrong:
		return TrustDistrusted
	case t.run >= p.FullRun:
		return TrustTrusted
	}
	return TrustUntrusted
}

// returned records a result taken from the node.
func (t *trust) returned() {
	if !t.wrong {
		t.run++
	}
}

// failed records a check that found wrong pixels: back to untrusted, for
// good in this render.
func (t *trust) failed() {
	t.wrong = true
	t.run = 0
}

// auditor draws the checks of a render from one seeded generator.
type auditor struct {
	p   AuditPolicy
	rng *rand.Rand
}

func newAuditor(p AuditPolicy, seed uint64) *auditor {
	return &auditor{p: p.withDefaults(), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// full decides whether the result a node with record t returns now is
// audited in full, and counts it in the node's run.
func (a *auditor) full(t *trust) bool {
	full := a.rng.Float64() < a.p.rate(t.run)
	t.returned()
	return full
}

// spots returns the pixels of r to spot-check, distinct, in r.
func (a *auditor) spots(r image.Rectangle) []image.Point {
	n := r.Dx() * r.Dy()
	k := a.p.spots(n)
	// Floyd's algorithm: k distinct indices of n, without an n-sized table.
	chosen := make(map[int]struct{}, k)
	pts := make([]image.Point, 0, k)
	for j := n - k; j < n; j++ {
		i := a.rng.IntN(j + 1)
		if _, dup := chosen[i]; dup {
			i = j
		}
		chosen[i] = struct{}{}
		pts = append(pts, image.Pt(r.Min.X+i%r.Dx(), r.Min.Y+i/r.Dx()))
	}
	return pts
}
