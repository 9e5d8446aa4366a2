package render

// rayBox is a ray prepared for box tests in float32.
type rayBox struct {
	ox, oy, oz float32
	ix, iy, iz float32 // 1/direction; ±Inf for a zero component
	neg        [3]bool // direction is negative along the axis
}

func newRayBox(o, d Vec) rayBox {
	ix, iy, iz := 1/float32(d.X), 1/float32(d.Y), 1/float32(d.Z)
	return rayBox{
		ox: float32(o.X), oy: float32(o.Y), oz: float32(o.Z),
		ix: ix, iy: iy, iz: iz,
		neg: [3]bool{ix < 0, iy < 0, iz < 0},
	}
}

// enter returns the distance at which the ray enters the node's box and
// whether it does so before tmax. A slab whose distances are NaN (the origin
// on a face of the box and the ray parallel to it) is ignored rather than
// turned into a miss, so boxes of zero thickness are still entered.
func (r *rayBox) enter(n *bvhNode, tmax float32) (float32, bool) {
	t0 := (n.lo[0] - r.ox) * r.ix
	t1 := (n.hi[0] - r.ox) * r.ix
	if r.neg[0] {
		t0, t1 = t1, t0
	}
	tn, tf := float32(0), tmax
	if t0 > tn {
		tn = t0
	}
	if t1 < tf {
		tf = t1
	}
	t0 = (n.lo[1] - r.oy) * r.iy
	t1 = (n.hi[1] - r.oy) * r.iy
	if r.neg[1] {
		t0, t1 = t1, t0
	}
	if t0 > tn {
		tn = t0
	}
	if t1 < tf {
		tf = t1
	}
	t0 = (n.lo[2] - r.oz) * r.iz
	t1 = (n.hi[2] - r.oz) * r.iz
	if r.neg[2] {
		t0, t1 = t1, t0
	}
	if t0 > tn {
		tn = t0
	}
	if t1 < tf {
		tf = t1
	}
	return tn, tn <= tf
}

// boxSlack widens the float64 distance a box is compared with, so that the
// float32 box test never culls a box that holds a nearer hit.
const boxSlack = 1 + 1e-6

// intersect finds the nearest surface along r at a distance in (0, tmax).
// It allocates nothing.
func (s *sceneData) intersect(r *Ray, tmax float64, h *hit) bool {
	o, d := r.Origin, r.Dir
	h.prim, h.t = -1, tmax
	for i := range s.planes {
		if t, ok := s.planes[i].intersect(o, d, 0, h.t); ok {
			h.t, h.prim, h.a, h.b = t, int32(-i-2), 0, 0
		}
	}
	nodes := s.bvh.nodes
	if len(nodes) == 0 {
		return h.prim != -1
	}
	prims := s.prims
	rb := newRayBox(o, d)
	var stack [bvhStackSize]int32
	sp := 0
	ni := int32(0)
	for {
		n := &nodes[ni]
		if _, in := rb.enter(n, float32(h.t*boxSlack)); in {
			if n.count == 0 {
				if rb.neg[n.axis] {
					stack[sp] = ni + 1
					ni = n.offset
				} else {
					stack[sp] = n.offset
					ni++
				}
				sp++
				continue
			}
			end := n.offset + int32(n.count)
			for i := n.offset; i < end; i++ {
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
		if sp == 0 {
			break
		}
		sp--
		ni = stack[sp]
	}
	return h.prim != -1
}

// occluded reports whether any surface lies along r at a distance in (0, tmax).
func (s *sceneData) occluded(r *Ray, tmax float64) bool {
	o, d := r.Origin, r.Dir
	for i := range s.planes {
		if _, ok := s.planes[i].intersect(o, d, 0, tmax); ok {
			return true
		}
	}
	nodes := s.bvh.nodes
	if len(nodes) == 0 {
		return false
	}
	prims := s.prims
	rb := newRayBox(o, d)
	tbox := float32(tmax * boxSlack)
	var stack [bvhStackSize]int32
	sp := 0
	ni := int32(0)
	for {
		n := &nodes[ni]
		if _, in := rb.enter(n, tbox); in {
			if n.count == 0 {
				if rb.neg[n.axis] {
					stack[sp] = ni + 1
					ni = n.offset
				} else {
					stack[sp] = n.offset
					ni++
				}
				sp++
				continue
			}
			end := n.offset + int32(n.count)
			for i := n.offset; i < end; i++ {
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
		ni = stack[sp]
	}
}
