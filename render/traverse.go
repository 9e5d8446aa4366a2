package render

import "math"

// rayBox is a ray prepared for box tests in float32.
type rayBox struct {
	o   [3]float32
	inv [3]float32 // 1/direction; ±Inf for a zero component
	neg [3]int     // 1 where the direction is negative: the near face is the max
}

func newRayBox(o, d Vec) rayBox {
	r := rayBox{
		o:   [3]float32{float32(o.X), float32(o.Y), float32(o.Z)},
		inv: [3]float32{safeInv(d.X), safeInv(d.Y), safeInv(d.Z)},
	}
	for a := range 3 {
		if r.inv[a] < 0 {
			r.neg[a] = 1
		}
	}
	return r
}

// safeInv returns 1/x in float32, with the largest finite float32 in place
// of an infinity, so that (face - origin) * inv is never 0 * Inf = NaN: a
// ray parallel to a slab and starting on its face gets distance 0, a
// conservative answer, and the slab test needs no NaN handling.
func safeInv(x float64) float32 {
	v := 1 / float32(x)
	switch {
	case v > math.MaxFloat32:
		return math.MaxFloat32
	case v < -math.MaxFloat32:
		return -math.MaxFloat32
	}
	return v
}

// enter2 returns the distances at which the ray enters the boxes of n's two
// children and whether it does so before tmax (slab test).
//
// It has no branches, which data-dependent comparisons would mispredict
// half the time, and compares distances as the integers of their bits: for
// floats that are not NaN (safeInv sees to that), the order of non-negative
// values is the order of their bits, and every negative value has a
// negative integer. The entry distance is clamped at 0 and the exit distance
// is compared with it, so only the order among non-negative values matters.
// Integer min and max are single conditional moves.
//
// A box of zero thickness (an axis-aligned triangle's) is entered: the test
// is entry <= exit, and boxes are rounded outwards anyway.
func (r *rayBox) enter2(n *bvhNode, tmax float32) (t0, t1 float32, in0, in1 bool) {
	nx, ny, nz := r.neg[0]&1, r.neg[1]&1, r.neg[2]&1
	fx, fy, fz := 1-nx, 1-ny, 1-nz
	a, b := &n.box[0], &n.box[1]
	ox, oy, oz := r.o[0], r.o[1], r.o[2]
	ix, iy, iz := r.inv[0], r.inv[1], r.inv[2]
	tm := bits(tmax)
	an := max(0, int32(math.Float32bits((a[nx][0]-ox)*ix)), int32(math.Float32bits((a[ny][1]-oy)*iy)), int32(math.Float32bits((a[nz][2]-oz)*iz)))
	bn := max(0, int32(math.Float32bits((b[nx][0]-ox)*ix)), int32(math.Float32bits((b[ny][1]-oy)*iy)), int32(math.Float32bits((b[nz][2]-oz)*iz)))
	af := min(tm, int32(math.Float32bits((a[fx][0]-ox)*ix)), int32(math.Float32bits((a[fy][1]-oy)*iy)), int32(math.Float32bits((a[fz][2]-oz)*iz)))
	bf := min(tm, int32(math.Float32bits((b[fx][0]-ox)*ix)), int32(math.Float32bits((b[fy][1]-oy)*iy)), int32(math.Float32bits((b[fz][2]-oz)*iz)))
	return math.Float32frombits(uint32(an)), math.Float32frombits(uint32(bn)), an <= af, bn <= bf
}

// bits returns the bits of f as a signed integer.
func bits(f float32) int32 { return int32(math.Float32bits(f)) }

// boxSlack widens the float64 distance a box is compared with, so that the
// float32 box test never culls a box that holds a nearer hit.
const boxSlack = 1 + 1e-6

// stackEntry is a subtree left for later and the distance at which the ray
// enters it, so that it can be skipped once a nearer hit is known.
type stackEntry struct {
	ref int32
	t   float32
}

// traversalStack holds the subtrees a traversal left for later. A tracer
// keeps one, so that no traversal has to clear one of its own.
type traversalStack [bvhStackSize]stackEntry

// intersect finds the nearest surface along r at a distance in (0, tmax).
func (s *sceneData) intersect(r *Ray, tmax float64, h *hit) bool {
	var stack traversalStack
	return s.intersectWith(&stack, r, tmax, h)
}

// intersectWith is intersect with the caller's stack. It allocates nothing.
func (s *sceneData) intersectWith(stack *traversalStack, r *Ray, tmax float64, h *hit) bool {
	o, d := r.Origin, r.Dir
	h.prim, h.t = -1, tmax
	for i := range s.planes {
		if t, ok := s.planes[i].intersect(o, d, 0, h.t); ok {
			h.t, h.prim, h.a, h.b = t, int32(-i-2), 0, 0
		}
	}
	nodes, leaves, prims := s.bvh.nodes, s.bvh.leaves, s.prims
	if len(nodes) == 0 {
		return h.prim != -1
	}
	rb := newRayBox(o, d)
	sp := 0
	ref := int32(0)
	for {
		if ref >= 0 {
			n := &nodes[ref]
			t0, t1, in0, in1 := rb.enter2(n, float32(h.t*boxSlack))
			if in0 && in1 {
				a, b := n.child[0], n.child[1]
				if t1 < t0 {
					a, b, t1 = b, a, t0
				}
				stack[sp] = stackEntry{ref: b, t: t1}
				sp++
				ref = a
				continue
			}
			if in0 {
				ref = n.child[0]
				continue
			}
			if in1 {
				ref = n.child[1]
				continue
			}
		} else {
			l := leaves[-ref-1]
			for i := l.first; i < l.first+l.count; i++ {
				p := &prims[i]
				if p.kind == primSphere {
					if t, ok := p.intersectSphere(o, d, 0, h.t); ok {
						h.t, h.prim, h.a, h.b = t, i, 0, 0
					}
				} else if t, a, b, ok := p.intersectPlanar(o, d, 0, h.t); ok {
					h.t, h.prim, h.a, h.b = t, i, a, b
				}
			}
		}
		for {
			if sp == 0 {
				return h.prim != -1
			}
			sp--
			if e := stack[sp]; e.t <= float32(h.t*boxSlack) {
				ref = e.ref
				break
			}
		}
	}
}

// occluded reports whether any surface lies along r at a distance in (0, tmax).
func (s *sceneData) occluded(r *Ray, tmax float64) bool {
	var stack traversalStack
	return s.occludedWith(&stack, r, tmax)
}

// occludedWith is occluded with the caller's stack. It allocates nothing.
func (s *sceneData) occludedWith(stack *traversalStack, r *Ray, tmax float64) bool {
	o, d := r.Origin, r.Dir
	for i := range s.planes {
		if _, ok := s.planes[i].intersect(o, d, 0, tmax); ok {
			return true
		}
	}
	nodes, leaves, prims := s.bvh.nodes, s.bvh.leaves, s.prims
	if len(nodes) == 0 {
		return false
	}
	rb := newRayBox(o, d)
	tb := float32(tmax * boxSlack)
	sp := 0
	ref := int32(0)
	for {
		if ref >= 0 {
			n := &nodes[ref]
			_, _, in0, in1 := rb.enter2(n, tb)
			if in0 && in1 {
				stack[sp].ref = n.child[1]
				sp++
				ref = n.child[0]
				continue
			}
			if in0 {
				ref = n.child[0]
				continue
			}
			if in1 {
				ref = n.child[1]
				continue
			}
		} else {
			l := leaves[-ref-1]
			for i := l.first; i < l.first+l.count; i++ {
				p := &prims[i]
				if p.kind == primSphere {
					if _, ok := p.intersectSphere(o, d, 0, tmax); ok {
						return true
					}
				} else if _, _, _, ok := p.intersectPlanar(o, d, 0, tmax); ok {
					return true
				}
			}
		}
		if sp == 0 {
			return false
		}
		sp--
		ref = stack[sp].ref
	}
}
