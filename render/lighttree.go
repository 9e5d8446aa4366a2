package render

import (
	"math"
	"slices"
)

// Choosing a light: by its estimated contribution at the shading point.
// Every light with a position (emissive primitives, points and spots) is a
// leaf of a binary tree whose nodes bound what their lights emit: a box, a
// cone of normals and how far past it they emit, and their total intensity
// (Conty Estevez and Kulla, "Importance Sampling of Many Lights with
// Adaptive Tree Splitting", 2018, as pbrt-v4's BVHLightSampler has it). From
// the root, each step takes one child with probability proportional to its
// importance at the point: the intensity bound times the cosine bounds at
// the light and at the surface over the squared distance, an estimate of
// the irradiance the lights below could give. A light whose every point is
// behind the surface or outside its emission cone gets no sample. The
// probability of the light a BSDF sample hits is computed again along the
// light's path from the root (light.trail), so that MIS stays exact.
//
// Directional lights are chosen beside the tree's root, by the irradiance
// they give the surface. The environment map, whose light the scene may
// hide from most points, is chosen with the fixed probability envShare when
// the scene has other lights.

// lightBounds bound the emission of a set of lights.
type lightBounds struct {
	lo, hi Vec     // a box around them
	w      Vec     // axis of the cone around every normal
	cosO   float64 // cos θo: every normal is within θo of w (-1: any direction)
	cosE   float64 // cos θe: nothing is emitted past θe from a normal
	phi    float64 // radiant intensity (luminance), W/sr: the most they emit in a direction
	// front is, when every normal is w (cosO = 1), the least x·w over the
	// emitting points x: one-sided emitters light only points p with
	// p·w > front.
	front    float64
	twoSided bool
}

// lightNode is a node of the light tree: the bounds of its lights, and its
// children (child and child+1) or, when child < 0, its light (-child-1).
type lightNode struct {
	b     lightBounds
	child int32
}

// maxLightTreeDepth bounds the depth of the light tree (a light's trail is
// a uint64).
const maxLightTreeDepth = 60

// cosSub returns cos(max(0, a - b)) for angles a, b in [0, π] given by
// their sines and cosines.
func cosSub(sa, ca, sb, cb float64) float64 {
	if ca > cb {
		return 1
	}
	return ca*cb + sa*sb
}

// sinSub is cosSub's sine.
func sinSub(sa, ca, sb, cb float64) float64 {
	if ca > cb {
		return 0
	}
	return sa*cb - ca*sb
}

// importance estimates what the lights of b can give a surface at p whose
// geometric normal n faces the viewer.
func (b *lightBounds) importance(p, n Vec) float64 {
	pc := b.lo.Add(b.hi).Scale(0.5)
	d := p.Sub(pc)
	d2 := d.Dot(d)
	diag := b.hi.Sub(b.lo)
	r2 := diag.Dot(diag) / 4 // the bounding sphere's radius, squared
	if b.cosO == 1 && !b.twoSided && p.Dot(b.w) <= b.front {
		// One-sided emitters that all face w: nothing reaches a point
		// behind the plane of every one of them.
		return 0
	}
	if d2 <= r2 {
		// Inside the bounding sphere: no angle bound applies; the
		// distance is at least... anything from 0, so take the radius.
		return b.phi / max(r2, 1e-300)
	}
	dl := math.Sqrt(d2)
	wi := d.Scale(1 / dl) // from the lights to p
	// θb: the half-angle of the bounding sphere seen from p.
	sinB2 := r2 / d2
	sinB, cosB := math.Sqrt(sinB2), math.Sqrt(1-sinB2)
	// At the lights: θ' = max(0, θw - θo - θb), where θw is the angle
	// between the cone's axis and the direction to p.
	cosW := b.w.Dot(wi)
	if b.twoSided {
		cosW = math.Abs(cosW)
	}
	sinW := math.Sqrt(max(0, 1-cosW*cosW))
	sinO := math.Sqrt(max(0, 1-b.cosO*b.cosO))
	cosX := cosSub(sinW, cosW, sinO, b.cosO)
	sinX := sinSub(sinW, cosW, sinO, b.cosO)
	cosP := cosSub(sinX, cosX, sinB, cosB)
	if cosP <= b.cosE {
		return 0
	}
	// At the surface: θi' = max(0, θi - θb), θi between n and the
	// direction to the lights; nothing below the horizon.
	cosI := -n.Dot(wi)
	sinI := math.Sqrt(max(0, 1-cosI*cosI))
	cosPI := cosSub(sinI, cosI, sinB, cosB)
	if cosPI <= 0 {
		return 0
	}
	return b.phi * cosP * cosPI / d2
}

// union returns bounds around a and b.
func (a lightBounds) union(b lightBounds) lightBounds {
	if a.phi == 0 {
		return b
	}
	if b.phi == 0 {
		return a
	}
	w, cosO := coneUnion(a.w, a.cosO, b.w, b.cosO)
	return lightBounds{
		lo: a.lo.Min(b.lo), hi: a.hi.Max(b.hi),
		w: w, cosO: cosO, cosE: min(a.cosE, b.cosE),
		phi:      a.phi + b.phi,
		front:    min(a.front, b.front),
		twoSided: a.twoSided || b.twoSided,
	}
}

// coneUnion returns the smallest cone around the cones of axes wa, wb and
// half-angles with cosines ca, cb.
func coneUnion(wa Vec, ca float64, wb Vec, cb float64) (Vec, float64) {
	ta, tb := math.Acos(max(-1, min(1, ca))), math.Acos(max(-1, min(1, cb)))
	td := math.Acos(max(-1, min(1, wa.Dot(wb))))
	if min(td+tb, math.Pi) <= ta {
		return wa, ca
	}
	if min(td+ta, math.Pi) <= tb {
		return wb, cb
	}
	to := (ta + td + tb) / 2
	if to >= math.Pi {
		return wa, -1
	}
	// Turn wa towards wb by to - ta.
	perp := wb.Sub(wa.Scale(wa.Dot(wb)))
	if perp.Dot(perp) == 0 {
		return wa, -1
	}
	s, c := math.Sincos(to - ta)
	return wa.Scale(c).Add(perp.Norm().Scale(s)).Norm(), math.Cos(to)
}

// centroid is the centre of the bounds' box.
func (b *lightBounds) centroid() Vec { return b.lo.Add(b.hi).Scale(0.5) }

// cost is pbrt-v4's surface area orientation heuristic for a node of
// bounds b: intensity times the measure of the directions it may emit
// into times its box's area, with kr widening the cost of splitting a
// thin box across.
func (b *lightBounds) cost(kr float64) float64 {
	to := math.Acos(max(-1, min(1, b.cosO)))
	te := math.Acos(max(-1, min(1, b.cosE)))
	tw := min(to+te, math.Pi)
	sinO := math.Sqrt(max(0, 1-b.cosO*b.cosO))
	mOmega := 2*math.Pi*(1-b.cosO) + math.Pi/2*(2*tw*sinO-math.Cos(to-2*tw)-2*to*sinO+b.cosO)
	d := b.hi.Sub(b.lo)
	area := 2 * (d.X*d.Y + d.Y*d.Z + d.Z*d.X)
	return b.phi * mOmega * kr * area
}

// buildLightTree builds the tree over the lights ids with bounds bs (same
// order), and records each light's trail in lights.
func buildLightTree(lights []light, ids []int32, bs []lightBounds) []lightNode {
	if len(ids) == 0 {
		return nil
	}
	nodes := make([]lightNode, 1, 2*len(ids)-1)
	var build func(at int, ids []int32, bs []lightBounds, trail uint64, depth int)
	build = func(at int, ids []int32, bs []lightBounds, trail uint64, depth int) {
		all := bs[0]
		for _, b := range bs[1:] {
			all = all.union(b)
		}
		nodes[at].b = all
		if len(ids) == 1 {
			nodes[at].child = -1 - ids[0]
			lights[ids[0]].trail, lights[ids[0]].depth = trail, uint8(depth)
			return
		}
		mid := len(ids) / 2
		if depth < maxLightTreeDepth-int(math.Log2(float64(len(ids))))-1 {
			mid = splitLights(ids, bs, all)
		} else {
			sortLightsAlong(ids, bs, all)
		}
		c := len(nodes)
		nodes = append(nodes, lightNode{}, lightNode{})
		nodes[at].child = int32(c)
		build(c, ids[:mid], bs[:mid], trail, depth+1)
		build(c+1, ids[mid:], bs[mid:], trail|1<<depth, depth+1)
	}
	build(0, ids, bs, 0, 0)
	return nodes
}

// sortLightsAlong orders the lights by their centroids along the widest
// axis of all's box (for a median split).
func sortLightsAlong(ids []int32, bs []lightBounds, all lightBounds) {
	d := all.hi.Sub(all.lo)
	axis := 0
	if d.Y > d.X {
		axis = 1
	}
	if d.Z > d.Axis(axis) {
		axis = 2
	}
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		ci, cj := bs[i].centroid().Axis(axis), bs[j].centroid().Axis(axis)
		switch {
		case ci < cj:
			return -1
		case ci > cj:
			return 1
		}
		return 0
	})
	ids2, bs2 := slices.Clone(ids), slices.Clone(bs)
	for i, k := range idx {
		ids[i], bs[i] = ids2[k], bs2[k]
	}
}

// splitLights partitions the lights (both slices alike) by the binned
// heuristic of cost over the three axes and returns the split index; a
// median split where no plane separates them.
func splitLights(ids []int32, bs []lightBounds, all lightBounds) int {
	const buckets = 12
	clo, chi := bs[0].centroid(), bs[0].centroid()
	for i := range bs {
		c := bs[i].centroid()
		clo, chi = clo.Min(c), chi.Max(c)
	}
	diag := all.hi.Sub(all.lo)
	best, bestAxis, bestCut := math.Inf(1), -1, 0
	for axis := range 3 {
		lo, hi := clo.Axis(axis), chi.Axis(axis)
		if !(hi > lo) {
			continue
		}
		var bk [buckets]lightBounds
		for i := range bs {
			k := min(buckets-1, int(buckets*(bs[i].centroid().Axis(axis)-lo)/(hi-lo)))
			bk[k] = bk[k].union(bs[i])
		}
		kr := max(diag.X, diag.Y, diag.Z) / max(diag.Axis(axis), 1e-300)
		for cut := 1; cut < buckets; cut++ {
			var b0, b1 lightBounds
			for k := range cut {
				b0 = b0.union(bk[k])
			}
			for k := cut; k < buckets; k++ {
				b1 = b1.union(bk[k])
			}
			if b0.phi == 0 || b1.phi == 0 {
				continue
			}
			if c := b0.cost(kr) + b1.cost(kr); c < best {
				best, bestAxis, bestCut = c, axis, cut
			}
		}
	}
	if bestAxis < 0 {
		sortLightsAlong(ids, bs, all)
		return len(ids) / 2
	}
	lo, hi := clo.Axis(bestAxis), chi.Axis(bestAxis)
	mid := 0
	for i := range bs {
		k := min(buckets-1, int(buckets*(bs[i].centroid().Axis(bestAxis)-lo)/(hi-lo)))
		if k < bestCut {
			ids[i], ids[mid] = ids[mid], ids[i]
			bs[i], bs[mid] = bs[mid], bs[i]
			mid++
		}
	}
	if mid == 0 || mid == len(ids) {
		sortLightsAlong(ids, bs, all)
		return len(ids) / 2
	}
	return mid
}

// flatLights is the most lights (the environment map aside) chosen among
// by the importance of each at every vertex, rather than through the
// tree. A tree's choice loses what its nodes' bounds promise and their
// children's do not (a point behind most of a cluster's one-sided lights
// that the cluster's bounds could not rule out); a few lights are better
// weighed one by one.
const flatLights = 8

// importanceOf is light i's importance for a surface at p with normal n,
// in a scene whose lights are chosen one by one (lightFlat).
func (s *sceneData) importanceOf(i int, p, n Vec) float64 {
	if l := &s.lights[i]; l.kind == lightSun {
		return s.sunImportance(l, n)
	}
	return s.lightFlat[i].importance(p, n)
}

// sunImportance is the irradiance directional light l gives a surface of
// normal n.
func (s *sceneData) sunImportance(l *light, n Vec) float64 {
	pl := &s.punctual[l.punct]
	return pl.intensity.Luminance() * max(0, -n.Dot(pl.dir))
}

// rootAndSuns returns the importance of the light tree's root for a
// surface at p with normal n, and the total of that and every directional
// light's: what chooseLight and lightPMF share between them.
func (s *sceneData) rootAndSuns(p, n Vec) (root, total float64) {
	if len(s.lightTree) > 0 {
		root = s.lightTree[0].b.importance(p, n)
		total = root
	}
	for _, li := range s.suns {
		total += s.sunImportance(&s.lights[li], n)
	}
	return root, total
}

// chooseLight picks a light for a surface at p with geometric normal n
// (on the viewer's side) with u in [0,1): its index and the probability of
// the choice, or -1 when no light can give the surface anything.
func (s *sceneData) chooseLight(p, n Vec, u float64) (int32, float64) {
	pmf := 1.0
	if s.envPick > 0 {
		if u < s.envPick {
			return s.envLight, s.envPick
		}
		u = min((u-s.envPick)/(1-s.envPick), 1-0x1p-53)
		pmf = 1 - s.envPick
	}
	if s.lightFlat != nil {
		var im [flatLights]float64
		total := 0.0
		for i := range s.lightFlat {
			im[i] = s.importanceOf(i, p, n)
			total += im[i]
		}
		if !(total > 0) {
			return -1, 0
		}
		x, last := u*total, -1
		for i := range s.lightFlat {
			if im[i] > 0 {
				if last = i; x < im[i] {
					break
				}
				x -= im[i]
			}
		}
		return int32(last), pmf * (im[last] / total)
	}
	node := int32(0)
	if len(s.suns) > 0 {
		// The tree's root and each directional light, by importance.
		root, total := s.rootAndSuns(p, n)
		if !(total > 0) {
			return -1, 0
		}
		x := u * total
		if x >= root {
			x -= root
			last := int32(-1)
			for _, li := range s.suns {
				im := s.sunImportance(&s.lights[li], n)
				if im > 0 {
					last = li
					if x < im {
						return li, pmf * im / total
					}
					x -= im
				}
			}
			// Rounding left x past the last: the last with importance.
			return last, pmf * s.sunImportance(&s.lights[last], n) / total
		}
		pmf *= root / total
		u = min(x/root, 1-0x1p-53)
	}
	if len(s.lightTree) == 0 {
		return -1, 0
	}
	for {
		c := s.lightTree[node].child
		if c < 0 {
			return -1 - c, pmf
		}
		i0 := s.lightTree[c].b.importance(p, n)
		i1 := s.lightTree[c+1].b.importance(p, n)
		sum := i0 + i1
		if !(sum > 0) {
			return -1, 0
		}
		p0 := i0 / sum
		if u < p0 {
			node, u, pmf = c, min(u/p0, 1-0x1p-53), pmf*p0
		} else {
			node, u, pmf = c+1, min((u-p0)/(i1/sum), 1-0x1p-53), pmf*(i1/sum)
		}
	}
}

// lightPMF is the probability with which chooseLight picks light li for a
// surface at p with geometric normal n.
func (s *sceneData) lightPMF(li int32, p, n Vec) float64 {
	l := &s.lights[li]
	if l.kind == lightEnv {
		return s.envPick
	}
	pmf := 1.0
	if s.envPick > 0 {
		pmf = 1 - s.envPick
	}
	if s.lightFlat != nil {
		total := 0.0
		for i := range s.lightFlat {
			total += s.importanceOf(i, p, n)
		}
		if !(total > 0) {
			return 0
		}
		return pmf * (s.importanceOf(int(li), p, n) / total)
	}
	if len(s.suns) > 0 {
		root, total := s.rootAndSuns(p, n)
		if !(total > 0) {
			return 0
		}
		if l.kind == lightSun {
			return pmf * s.sunImportance(l, n) / total
		}
		pmf *= root / total
	}
	node := int32(0)
	for k := range int(l.depth) {
		c := s.lightTree[node].child
		i0 := s.lightTree[c].b.importance(p, n)
		i1 := s.lightTree[c+1].b.importance(p, n)
		sum := i0 + i1
		if !(sum > 0) {
			return 0
		}
		if l.trail>>k&1 == 0 {
			node, pmf = c, pmf*(i0/sum)
		} else {
			node, pmf = c+1, pmf*(i1/sum)
		}
	}
	return pmf
}
