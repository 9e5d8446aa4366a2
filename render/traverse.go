package render

import "math"

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

// signBit is 1 for a negative float32 (-0 included), else 0: the index of a
// slab's near face for a direction whose inverse is v.
func signBit(v float32) int { return int(math.Float32bits(v) >> 31) }

// boxSlack widens the float64 distance a box is compared with, so that the
// float32 box test never culls a box that holds a nearer hit.
const boxSlack = 1 + 1e-6

// boxLimit is the distance beyond which boxes are culled when the nearest
// hit so far is at t, as the bits of a float32 (see traverse).
func boxLimit(t float64) int32 { return int32(math.Float32bits(float32(t * boxSlack))) }

// stackEntry is a subtree left for later and the distance at which the ray
// enters it (float32 bits, see traverse), so that it can be skipped once a
// nearer hit is known.
type stackEntry struct {
	ref int32
	t   int32
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
	h.prim, h.t = -1, tmax
	return s.traverse(stack, r.Origin, r.Dir, h, false)
}

// occluded reports whether any surface lies along r at a distance in (0, tmax).
func (s *sceneData) occluded(r *Ray, tmax float64) bool {
	var stack traversalStack
	return s.occludedWith(&stack, r, tmax)
}

// occludedWith is occluded with the caller's stack. It allocates nothing.
func (s *sceneData) occludedWith(stack *traversalStack, r *Ray, tmax float64) bool {
	h := hit{t: tmax, prim: -1}
	return s.traverse(stack, r.Origin, r.Dir, &h, true)
}

// hitPlanes records in h the nearest plane along (o, d) nearer than h.t,
// or with anyHit the first, and reports whether it found one.
func (s *sceneData) hitPlanes(o, d Vec, h *hit, anyHit bool) bool {
	found := false
	for i := range s.planes {
		if t, ok := s.planes[i].intersect(o, d, 0, h.t); ok {
			h.t, h.prim, h.a, h.b = t, int32(-i-2), 0, 0
			if anyHit {
				return true
			}
			found = true
		}
	}
	return found
}

// traverse finds what the ray (o, d) hits nearer than h.t, which holds the
// maximum distance on entry: it tests the planes, then walks the BVH,
// nearest children first, skipping subtrees that start beyond the nearest
// hit so far. It records the nearest hit in h and reports whether there is
// one, or with anyHit returns true at the first hit found. It allocates
// nothing.
//
// The box test computes the entry and exit distances of both children of a
// node with no branches, which data-dependent comparisons would mispredict
// half the time: it compares distances as the integers of their bits. For
// floats that are not NaN (safeInv sees to that), the order of non-negative
// values is the order of their bits and every negative value has a negative
// integer; the entry distance is clamped at 0 and the exit distance compared
// with it, so only the order among non-negative values matters, and integer
// min and max are single conditional moves. A box of zero thickness (an
// axis-aligned triangle's) is entered: the test is entry <= exit, and boxes
// are rounded outwards anyway. The test is written out here rather than
// called: a call would make the loop spill and reload its state at every
// node (13% of the time on the Cornell box).
func (s *sceneData) traverse(stack *traversalStack, o, d Vec, h *hit, anyHit bool) bool {
	if len(s.planes) > 0 && s.hitPlanes(o, d, h, anyHit) && anyHit {
		return true
	}
	nodes, leaves, prims := s.bvh.nodes, s.bvh.leaves, s.prims
	if len(nodes) == 0 {
		return h.prim != -1
	}
	ox, oy, oz := float32(o.X), float32(o.Y), float32(o.Z)
	ix, iy, iz := safeInv(d.X), safeInv(d.Y), safeInv(d.Z)
	nx, ny, nz := signBit(ix), signBit(iy), signBit(iz) // near faces
	fx, fy, fz := 1-nx, 1-ny, 1-nz                      // far faces
	tm := boxLimit(h.t)
	sp := 0
	ref := int32(0)
	for {
		if ref >= 0 {
			n := &nodes[ref]
			a, b := &n.box[0], &n.box[1]
			an := max(0, int32(math.Float32bits((a[nx][0]-ox)*ix)), int32(math.Float32bits((a[ny][1]-oy)*iy)), int32(math.Float32bits((a[nz][2]-oz)*iz)))
			bn := max(0, int32(math.Float32bits((b[nx][0]-ox)*ix)), int32(math.Float32bits((b[ny][1]-oy)*iy)), int32(math.Float32bits((b[nz][2]-oz)*iz)))
			af := min(tm, int32(math.Float32bits((a[fx][0]-ox)*ix)), int32(math.Float32bits((a[fy][1]-oy)*iy)), int32(math.Float32bits((a[fz][2]-oz)*iz)))
			bf := min(tm, int32(math.Float32bits((b[fx][0]-ox)*ix)), int32(math.Float32bits((b[fy][1]-oy)*iy)), int32(math.Float32bits((b[fz][2]-oz)*iz)))
			in0, in1 := an <= af, bn <= bf
			if in0 && in1 {
				// Both: the nearer now, the other later. The bits of
				// non-negative floats order like the floats.
				c0, c1, tfar := n.child[0], n.child[1], bn
				if bn < an {
					c0, c1, tfar = c1, c0, an
				}
				stack[sp] = stackEntry{ref: c1, t: tfar}
				sp++
				ref = c0
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
						if anyHit {
							return true
						}
						h.t, h.prim, h.a, h.b = t, i, 0, 0
						tm = boxLimit(t)
					}
					continue
				}
				// p.intersectPlanar(o, d, 0, h.t), written out: the call
				// cost as much as the test. A ray parallel to the plane
				// (den 0) gets t = ±Inf or NaN, which the range test rejects.
				t := (p.w - p.n.Dot(o)) / p.n.Dot(d)
				if !(t > 0 && t < h.t) {
					continue
				}
				q := o.AddScaled(d, t)
				a := p.n1.Dot(q) + p.w1
				if a < 0 || a > 1 {
					continue
				}
				b := p.n2.Dot(q) + p.w2
				if b < 0 || b > 1 || (p.kind == primTriangle && a+b > 1) {
					continue
				}
				if anyHit {
					return true
				}
				h.t, h.prim, h.a, h.b = t, i, a, b
				tm = boxLimit(t)
			}
		}
		for {
			if sp == 0 {
				return h.prim != -1
			}
			sp--
			if e := stack[sp]; e.t <= tm {
				ref = e.ref
				break
			}
		}
	}
}
