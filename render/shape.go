package render

import "math"

// primKind says how a primitive is intersected.
type primKind uint8

const (
	primTriangle primKind = iota // p, p+e1, p+e2
	primQuad                     // the parallelogram p + a*e1 + b*e2, a, b in [0,1]
	primSphere                   // centre p, radius r
)

// prim is the part of a primitive that intersection reads: kept small and
// contiguous, in BVH leaf order. Shading data lives in primInfo.
type prim struct {
	p      Vec // first vertex, quad corner or sphere centre
	e1, e2 Vec // edges from p (triangle, quad)
	r      float64
	kind   primKind
}

// primInfo is the part of a primitive that shading reads, in the same order.
type primInfo struct {
	n     Vec   // unit geometric normal (triangles and quads); u×v side is the front
	mat   int32 // index into Scene.materials
	light int32 // index into Scene.lights, or -1
	tri   int32 // index into Scene.triShading for meshes with normals or UVs, or -1
	area  float64
}

// triShading holds a mesh triangle's vertex normals and UVs.
type triShading struct {
	n          [3]Vec // vertex normals (unit); zero when the mesh has none
	uv         [3][2]float64
	hasN, hasT bool
}

// hit is a ray-primitive intersection: where along the ray, which primitive,
// and the surface parameters (barycentrics or quad coordinates).
type hit struct {
	t    float64
	prim int32 // index into Scene.prims, or -(plane index)-2 for planes; -1 none
	a, b float64
}

// intersectTri tests the ray against a triangle (quad when quad is true) with
// the Möller-Trumbore algorithm. It reports the distance and the surface
// parameters when tmin < t < tmax.
func (p *prim) intersectPlanar(o, d Vec, tmin, tmax float64) (t, a, b float64, ok bool) {
	pv := d.Cross(p.e2)
	det := p.e1.Dot(pv)
	if det == 0 {
		return 0, 0, 0, false
	}
	inv := 1 / det
	tv := o.Sub(p.p)
	a = tv.Dot(pv) * inv
	if a < 0 || a > 1 {
		return 0, 0, 0, false
	}
	qv := tv.Cross(p.e1)
	b = d.Dot(qv) * inv
	if b < 0 {
		return 0, 0, 0, false
	}
	if p.kind == primTriangle {
		if a+b > 1 {
			return 0, 0, 0, false
		}
	} else if b > 1 {
		return 0, 0, 0, false
	}
	t = p.e2.Dot(qv) * inv
	if t <= tmin || t >= tmax {
		return 0, 0, 0, false
	}
	return t, a, b, true
}

// intersectSphere returns the nearest distance in (tmin, tmax) at which the
// ray (d of unit length) meets the sphere. It uses the formulation of Ray
// Tracing Gems ch. 7, which stays accurate for small spheres far away.
func (p *prim) intersectSphere(o, d Vec, tmin, tmax float64) (float64, bool) {
	f := o.Sub(p.p)
	b := -f.Dot(d)
	l := f.AddScaled(d, b) // f + b*d: the closest approach, without cancellation
	r2 := p.r * p.r
	disc := r2 - l.Dot(l)
	if disc < 0 {
		return 0, false
	}
	c := f.Dot(f) - r2
	q := b + math.Copysign(math.Sqrt(disc), b)
	var t0, t1 float64
	if q == 0 {
		t0, t1 = 0, 0
	} else {
		t0, t1 = c/q, q
	}
	if t0 > t1 {
		t0, t1 = t1, t0
	}
	if t0 > tmin && t0 < tmax {
		return t0, true
	}
	if t1 > tmin && t1 < tmax {
		return t1, true
	}
	return 0, false
}

// intersect tests one primitive.
func (p *prim) intersect(o, d Vec, tmin, tmax float64) (t, a, b float64, ok bool) {
	if p.kind == primSphere {
		t, ok = p.intersectSphere(o, d, tmin, tmax)
		return t, 0, 0, ok
	}
	return p.intersectPlanar(o, d, tmin, tmax)
}

// bounds returns the primitive's axis-aligned bounding box.
func (p *prim) bounds() (lo, hi Vec) {
	switch p.kind {
	case primSphere:
		r := Vec{X: p.r, Y: p.r, Z: p.r}
		return p.p.Sub(r), p.p.Add(r)
	case primQuad:
		q1, q2, q3 := p.p.Add(p.e1), p.p.Add(p.e2), p.p.Add(p.e1).Add(p.e2)
		return p.p.Min(q1).Min(q2).Min(q3), p.p.Max(q1).Max(q2).Max(q3)
	}
	q1, q2 := p.p.Add(p.e1), p.p.Add(p.e2)
	return p.p.Min(q1).Min(q2), p.p.Max(q1).Max(q2)
}

// plane is an infinite plane. Planes cannot be bounded, so they live beside
// the BVH and every ray tests each of them.
type plane struct {
	p, n Vec // a point on the plane and its unit normal
	u, v Vec // tangents spanning the plane, for texture coordinates
	mat  int32
}

func (pl *plane) intersect(o, d Vec, tmin, tmax float64) (float64, bool) {
	den := pl.n.Dot(d)
	if den == 0 {
		return 0, false
	}
	t := pl.p.Sub(o).Dot(pl.n) / den
	if t <= tmin || t >= tmax {
		return 0, false
	}
	return t, true
}
