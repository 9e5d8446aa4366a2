package render

import (
	"math"
	"math/bits"
	"unsafe"
)

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

// stackEntry is a subtree left for later, as a node's slot names it (ref
// and count, see bvhNode), and the distance at which the ray enters it
// (float32 bits, see traverse), so that it can be skipped once a nearer hit
// is known.
type stackEntry struct {
	ref, count, t int32
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
// At a node, the box test computes the entry and exit distances of all four
// children with no branches, which data-dependent comparisons would
// mispredict: it compares distances as the integers of their bits. For
// floats that are not NaN (safeInv sees to that), the order of non-negative
// values is the order of their bits and every negative value has a negative
// integer; the entry distance is clamped at 0 and the exit distance compared
// with it, so only the order among non-negative values matters, and integer
// min and max are single conditional moves. A box of zero thickness (an
// axis-aligned triangle's) is entered: the test is entry <= exit, and boxes
// are rounded outwards anyway. Every child is written to the stack and
// kept (the stack pointer advanced) only when the ray enters it; the kept
// ones are then sorted, farthest first, and the nearest is taken at once.
// The tests are written out here rather than called: a call would make the
// loop spill and reload its state at every node. Where simdBoxes is true
// (GOEXPERIMENT=simd on an amd64 CPU with AVX) boxes4 runs the same box test
// on the four children at once, with the same results bit for bit.
func (s *sceneData) traverse(stack *traversalStack, o, d Vec, h *hit, anyHit bool) bool {
	if len(s.planes) > 0 && s.hitPlanes(o, d, h, anyHit) && anyHit {
		return true
	}
	nodes, geo, bary, pv, verts := s.bvh.nodes, s.geo, s.bary, s.pv, s.verts
	if len(nodes) == 0 {
		return h.prim != -1
	}
	ox, oy, oz := float32(o.X), float32(o.Y), float32(o.Z)
	ix, iy, iz := safeInv(d.X), safeInv(d.Y), safeInv(d.Z)
	nx, ny, nz := signBit(ix), signBit(iy), signBit(iz) // near faces
	fx, fy, fz := 1-nx, 1-ny, 1-nz                      // far faces
	// The near and far faces of the four boxes along each axis, as byte
	// offsets into a node (its box comes first: bvhNode), fixed for the
	// ray: at each node the six rows are one addition away, where indexing
	// by the sign bits would select and scale at every node (6% of the
	// instructions on the bunny).
	const plane, side = 4 * bvhWidth, 3 * 4 * bvhWidth // bytes from one axis to the next, from min to max
	oxn, oyn, ozn := uintptr(nx*side), uintptr(ny*side+plane), uintptr(nz*side+2*plane)
	oxf, oyf, ozf := uintptr(fx*side), uintptr(fy*side+plane), uintptr(fz*side+2*plane)
	tm := boxLimit(h.t)
	var vox, voy, voz, vix, viy, viz lanes
	var vtm ilanes
	if simdBoxes {
		vox, voy, voz = broadcast(ox), broadcast(oy), broadcast(oz)
		vix, viy, viz = broadcast(ix), broadcast(iy), broadcast(iz)
		vtm = broadcastInt(tm)
	}
	const mask = bvhStackSize - 1
	sp := 0
	ref, count := int32(0), int32(0)
	for {
		if count == 0 {
			n := &nodes[ref]
			np := unsafe.Pointer(n)
			xn, yn, zn := (*[bvhWidth]float32)(unsafe.Add(np, oxn)), (*[bvhWidth]float32)(unsafe.Add(np, oyn)), (*[bvhWidth]float32)(unsafe.Add(np, ozn))
			xf, yf, zf := (*[bvhWidth]float32)(unsafe.Add(np, oxf)), (*[bvhWidth]float32)(unsafe.Add(np, oyf)), (*[bvhWidth]float32)(unsafe.Add(np, ozf))
			var tn [bvhWidth]int32
			var hits uint
			if simdBoxes {
				hits = boxes4(xn, yn, zn, xf, yf, zf, vox, voy, voz, vix, viy, viz, vtm, &tn)
			} else {
				var in0, in1, in2, in3 uint
				a := max(0, int32(math.Float32bits((xn[0]-ox)*ix)), int32(math.Float32bits((yn[0]-oy)*iy)), int32(math.Float32bits((zn[0]-oz)*iz)))
				b := min(tm, int32(math.Float32bits((xf[0]-ox)*ix)), int32(math.Float32bits((yf[0]-oy)*iy)), int32(math.Float32bits((zf[0]-oz)*iz)))
				tn[0] = a
				if a <= b {
					in0 = 1
				}
				a = max(0, int32(math.Float32bits((xn[1]-ox)*ix)), int32(math.Float32bits((yn[1]-oy)*iy)), int32(math.Float32bits((zn[1]-oz)*iz)))
				b = min(tm, int32(math.Float32bits((xf[1]-ox)*ix)), int32(math.Float32bits((yf[1]-oy)*iy)), int32(math.Float32bits((zf[1]-oz)*iz)))
				tn[1] = a
				if a <= b {
					in1 = 1
				}
				a = max(0, int32(math.Float32bits((xn[2]-ox)*ix)), int32(math.Float32bits((yn[2]-oy)*iy)), int32(math.Float32bits((zn[2]-oz)*iz)))
				b = min(tm, int32(math.Float32bits((xf[2]-ox)*ix)), int32(math.Float32bits((yf[2]-oy)*iy)), int32(math.Float32bits((zf[2]-oz)*iz)))
				tn[2] = a
				if a <= b {
					in2 = 1
				}
				a = max(0, int32(math.Float32bits((xn[3]-ox)*ix)), int32(math.Float32bits((yn[3]-oy)*iy)), int32(math.Float32bits((zn[3]-oz)*iz)))
				b = min(tm, int32(math.Float32bits((xf[3]-ox)*ix)), int32(math.Float32bits((yf[3]-oy)*iy)), int32(math.Float32bits((zf[3]-oz)*iz)))
				tn[3] = a
				if a <= b {
					in3 = 1
				}
				// Each in is 0 or 1, a flag the compiler sets without a
				// branch (SETLE), where 2, 4 or 8 took a jump that the
				// bunny mispredicted 3.2 times a ray (cachegrind).
				hits = in0 | in1<<1 | in2<<2 | in3<<3
			}
			if hits != 0 {
				c := bits.TrailingZeros(hits) & (bvhWidth - 1)
				hits &= hits - 1
				if hits == 0 {
					// One child: go down at once.
					ref, count = n.child[c], int32(n.count[c])
					continue
				}
				if hits&(hits-1) == 0 {
					// Two: push the farther and go down the nearer, chosen
					// without a branch where the sort below loops; a tie
					// sends the later slot first, as the sort does. m is
					// all ones when c2 goes first: tn[c2] <= tn[c], both in
					// [0, 2^31), so the sign of the difference says it.
					c2 := bits.TrailingZeros(hits) & (bvhWidth - 1)
					m := int((tn[c2] - tn[c] - 1) >> 31)
					near := c ^ (c^c2)&m
					far := c ^ c2 ^ near
					stack[sp&mask] = stackEntry{ref: n.child[far], count: int32(n.count[far]), t: tn[far]}
					sp++
					ref, count = n.child[near], int32(n.count[near])
					continue
				}
				// More: push them all, sort them farthest first, and take
				// the nearest from the top.
				base := sp
				stack[sp&mask] = stackEntry{ref: n.child[c], count: int32(n.count[c]), t: tn[c]}
				sp++
				for ; hits != 0; hits &= hits - 1 {
					c := bits.TrailingZeros(hits) & (bvhWidth - 1)
					e := stackEntry{ref: n.child[c], count: int32(n.count[c]), t: tn[c]}
					j := sp
					for ; j > base && stack[(j-1)&mask].t < e.t; j-- {
						stack[j&mask] = stack[(j-1)&mask]
					}
					stack[j&mask] = e
					sp++
				}
				sp--
				e := &stack[sp&mask]
				ref, count = e.ref, e.count
				continue
			}
		} else {
			first, end := ref, ref+count&leafCount
			if kind := primKind(count >> leafKindShift); kind == primSphere {
				for i := first; i < end; i++ {
					if t, ok := geo[i].intersectSphere(o, d, 0, h.t); ok {
						if anyHit {
							return true
						}
						h.t, h.prim, h.a, h.b = t, i, 0, 0
						tm = boxLimit(t)
						if simdBoxes {
							vtm = broadcastInt(tm)
						}
					}
				}
			} else {
				quad := kind == primQuad
				for i := first; i < end; i++ {
					// prim.intersectPlanar(o, d, 0, h.t), written out: the
					// call cost as much as the test. A ray parallel to the
					// plane (den 0) gets t = ±Inf or NaN, which the range
					// test rejects. For a triangle a + b <= 1 with a, b >= 0
					// implies a, b <= 1.
					p := &geo[i]
					t := (p.w - p.n.Dot(o)) / p.n.Dot(d)
					if !(t > 0 && t < h.t) {
						continue
					}
					// The surface coordinates: from the edge planes, or in a
					// big scene from the corner and edges (edgeCoords,
					// written out).
					q := o.AddScaled(d, t)
					var a, b float64
					if bary != nil {
						e := &bary[i]
						if a = e.n1.Dot(q) + e.w1; a < 0 || (quad && a > 1) {
							continue
						}
						b = e.n2.Dot(q) + e.w2
					} else {
						v := &pv[i]
						p0, e1, e2 := verts[v[0]], verts[v[1]], verts[v[2]]
						if !quad {
							e1, e2 = e1.Sub(p0), e2.Sub(p0)
						}
						m := p.n.Cross(q.Sub(p0))
						k := 1 / p.n.Dot(p.n)
						if a = e2.Dot(m) * k; a < 0 || (quad && a > 1) {
							continue
						}
						b = -e1.Dot(m) * k
					}
					if b < 0 || (quad && b > 1) || (!quad && a+b > 1) {
						continue
					}
					if anyHit {
						return true
					}
					h.t, h.prim, h.a, h.b = t, i, a, b
					tm = boxLimit(t)
					if simdBoxes {
						vtm = broadcastInt(tm)
					}
				}
			}
		}
		for {
			if sp == 0 {
				return h.prim != -1
			}
			sp--
			if e := &stack[sp&mask]; e.t <= tm {
				ref, count = e.ref, e.count
				break
			}
		}
	}
}
