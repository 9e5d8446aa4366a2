package render

import "math"

// primKind says how a primitive is intersected.
type primKind uint8

const (
	primTriangle primKind = iota // p, p+e1, p+e2
	primQuad                     // the parallelogram p + a*e1 + b*e2, a, b in [0,1]
	primSphere                   // centre p, radius r
)

// shape is a primitive's geometry, as the scene describes it: what the BVH
// builder bounds and light sampling samples.
type shape struct {
	p      Vec // first vertex, quad corner or sphere centre
	e1, e2 Vec // edges from p (triangle, quad)
	r      float64
	kind   primKind
}

// prim is the form of a primitive that intersection reads. A triangle or
// quad is its plane n·x = w (n = e1×e2) and its surface coordinates: the
// distance comes first, so most candidates are rejected after one division,
// and only those in range compute where on the primitive the ray is. A
// sphere keeps its centre in n and its radius in w.
//
// A scene keeps the plane of each primitive (sceneData.geo, 32 bytes, in BVH
// leaf order) and, unless it is big, the edge planes that give the surface
// coordinates (primBary, 64 bytes more: sceneData.bary). A big scene computes
// them from the primitive's points (edgeCoords; sceneData.pv, which its
// shading reads anyway): about 70 instructions a candidate in range, for a
// third of the memory.
type prim struct {
	primGeo
	primBary
	p, e1, e2 Vec
	kind      primKind
	compact   bool // the surface coordinates by edgeCoords, not primBary
}

// primGeo is a primitive's plane (n·x = w), or a sphere's centre and radius.
type primGeo struct {
	n Vec
	w float64
}

// primBary gives the surface coordinates of a point x on a triangle or quad:
// a = n1·x + w1 along e1 and b = n2·x + w2 along e2 (Havel and Herout, "Yet
// Faster Ray-Triangle Intersection", 2010).
type primBary struct {
	n1, n2 Vec
	w1, w2 float64
}

// baryMax is the most primitives for which a scene stores primBary.
const baryMax = 1 << 19

// edgeCoords returns the surface coordinates (a, b) of the point q of the
// plane of normal n = e1×e2 through p: q = p + a*e1 + b*e2. With m = n×(q-p),
// a = e2·m / n·n and b = -e1·m / n·n (primBary's edge planes as triple
// products, with no division by n·n kept).
func edgeCoords(n, p, e1, e2, q Vec) (a, b float64) {
	m := n.Cross(q.Sub(p))
	k := 1 / n.Dot(n)
	return e2.Dot(m) * k, -e1.Dot(m) * k
}

// prim returns the intersection form of the shape (compact: without
// primBary). The shape must not be degenerate (zero area or radius).
func (s *shape) prim(compact bool) prim {
	if s.kind == primSphere {
		return prim{kind: primSphere, primGeo: primGeo{n: s.p, w: s.r}}
	}
	n := s.e1.Cross(s.e2)
	p := prim{kind: s.kind, primGeo: primGeo{n: n, w: n.Dot(s.p)}, p: s.p, e1: s.e1, e2: s.e2, compact: compact}
	if !compact {
		k := 1 / n.Dot(n)
		n1 := s.e2.Cross(n).Scale(k)
		n2 := n.Cross(s.e1).Scale(k)
		p.primBary = primBary{n1: n1, w1: -n1.Dot(s.p), n2: n2, w2: -n2.Dot(s.p)}
	}
	return p
}

// primInfo is the part of a primitive that shading reads, in the same order
// as geo. The geometric normal is geo's, normalized; the vertex attributes
// of a triangle are those of its points (pv), where attrs says it has them.
type primInfo struct {
	mat   int32 // index into Scene.materials
	light int32 // index into Scene.lights, or -1
	kind  primKind
	attrs attrs
}

// attrs says which vertex attributes a mesh triangle has.
type attrs uint8

const (
	hasN  attrs = 1 << iota // vertex normals (sceneData.nrm)
	hasUV                   // texture coordinates (sceneData.uv)
	hasT                    // tangents for a normal map (sceneData.tan), with hasN
	fixN                    // a zero or non-finite vertex normal shades with the face's (glTF)
)

// vec3f and vec2f are the float32 vectors of vertex attributes: a unit
// normal or tangent, a texture coordinate, where float32's 24 bits are far
// more than shading sees.
type (
	vec3f [3]float32
	vec2f [2]float32
	vec4f [4]float32 // a tangent and the sign of its bitangent
)

func toVec3f(v Vec) vec3f { return vec3f{float32(v.X), float32(v.Y), float32(v.Z)} }

func (v vec3f) vec() Vec { return Vec{X: float64(v[0]), Y: float64(v[1]), Z: float64(v[2])} }

// hit is a ray-primitive intersection: where along the ray, which primitive,
// and the surface parameters (barycentrics or quad coordinates).
type hit struct {
	t    float64
	prim int32 // index of the primitive (BVH leaf order), or -(plane index)-2 for planes; -1 none
	a, b float64
}

// intersectPlanar tests the ray against a triangle or quad. It reports the
// distance and the surface coordinates when tmin < t < tmax.
func (p *prim) intersectPlanar(o, d Vec, tmin, tmax float64) (t, a, b float64, ok bool) {
	den := p.n.Dot(d)
	if den == 0 {
		return 0, 0, 0, false // parallel to the plane
	}
	t = (p.w - p.n.Dot(o)) / den
	if !(t > tmin && t < tmax) {
		return 0, 0, 0, false
	}
	q := o.AddScaled(d, t)
	if p.compact {
		a, b = edgeCoords(p.n, p.p, p.e1, p.e2, q)
	} else {
		a, b = p.n1.Dot(q)+p.w1, p.n2.Dot(q)+p.w2
	}
	if a < 0 || a > 1 || b < 0 {
		return 0, 0, 0, false
	}
	if p.kind == primTriangle {
		if a+b > 1 {
			return 0, 0, 0, false
		}
	} else if b > 1 {
		return 0, 0, 0, false
	}
	return t, a, b, true
}

// intersectSphere returns the nearest distance in (tmin, tmax) at which the
// ray (d of unit length) meets the sphere. It uses the formulation of Ray
// Tracing Gems ch. 7, which stays accurate for small spheres far away.
func (p *primGeo) intersectSphere(o, d Vec, tmin, tmax float64) (float64, bool) {
	f := o.Sub(p.n) // n is the centre
	b := -f.Dot(d)
	l := f.AddScaled(d, b) // f + b*d: the closest approach, without cancellation
	r2 := p.w * p.w        // w is the radius
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

// bounds returns the shape's axis-aligned bounding box.
func (p shape) bounds() (lo, hi Vec) {
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
