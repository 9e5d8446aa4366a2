package render

import "math"

// Sampling polygons by the solid angle they subtend: a rectangle (Ureña,
// Fajardo and King, "An Area-Preserving Parametrization for Spherical
// Rectangles", EGSR 2013) and a triangle (Arvo, "Stratified Sampling of
// Spherical Triangles", SIGGRAPH 1995) map the unit square onto the
// directions towards them with a constant density 1/Ω, Ω the solid angle,
// and keep the square's stratification. Both maps are inverted too, so that
// the density of a direction a BSDF sample found can be computed for
// multiple importance sampling.
//
// Before the map, the unit square is warped by a bilinear density whose
// corner values are the cosines between the shading normal and the
// polygon's corners (at least 0.01, as pbrt-v4 does): the directions are
// then distributed about as cos θ dω, the projected solid angle that a
// diffuse surface integrates, and a diffuse surface lit by an unoccluded
// polygon gets almost the same value from every sample.

// minCornerCos is the least corner weight of the bilinear warp: directions
// below the horizon are still sampled, rarely.
const minCornerCos = 0.01

// sphRect is a rectangle seen from a point, in a frame whose x and y run
// along its edges and whose z points from the rectangle's plane away from
// the point: the rectangle is [x0, x1] x [y0, y1] at height z0 < 0.
type sphRect struct {
	x0, x1, y0, y1, z0 float64
	// b0 and b1 are the z components of the normals of the planes
	// through the point and the edges y = y0 and y = y1; g23 is the sum
	// of the angles at the corners (x0, y1) and (x0, y0); area is the
	// solid angle.
	b0, b1, g23, area  float64
	l00, l10, l01, l11 float64 // distances to the corners
}

// angleSum returns α+β for angles in (0, π) given as (cos, sin) pairs
// scaled by any positive factors: the argument of the product of the two
// complex numbers, in (0, 2π).
func angleSum(ca, sa, cb, sb float64) float64 {
	g := math.Atan2(ca*sb+sa*cb, ca*cb-sa*sb)
	if g <= 0 {
		g += 2 * math.Pi
	}
	return g
}

// newSphRect sets up the rectangle of corner (x0, y0) and sides w, h at
// height z0 < 0 in the point's frame. It reports false when the point lies
// in the rectangle's plane.
func newSphRect(x0, y0, z0, w, h float64) (sphRect, bool) {
	r := sphRect{x0: x0, x1: x0 + w, y0: y0, y1: y0 + h, z0: z0}
	if !(z0 < 0) {
		return r, false
	}
	z2 := z0 * z0
	x02, x12, y02, y12 := r.x0*r.x0, r.x1*r.x1, r.y0*r.y0, r.y1*r.y1
	r.l00 = math.Sqrt(x02 + y02 + z2)
	r.l10 = math.Sqrt(x12 + y02 + z2)
	r.l01 = math.Sqrt(x02 + y12 + z2)
	r.l11 = math.Sqrt(x12 + y12 + z2)
	// The interior angle at each corner is the angle between the planes
	// through the point and the two edges that meet there: with the
	// planes' normals written out, its cosine and sine are these, times
	// a positive factor that cancels in the arctangent.
	az := -z0
	c0, s0 := r.y0*r.x1, az*r.l10  // at (x1, y0)
	c1, s1 := -r.x1*r.y1, az*r.l11 // at (x1, y1)
	c2, s2 := r.x0*r.y1, az*r.l01  // at (x0, y1)
	c3, s3 := -r.x0*r.y0, az*r.l00 // at (x0, y0)
	g01 := angleSum(c0, s0, c1, s1)
	r.g23 = angleSum(c2, s2, c3, s3)
	r.area = g01 + r.g23 - 2*math.Pi
	r.b0 = -r.y0 / math.Sqrt(y02+z2)
	r.b1 = r.y1 / math.Sqrt(y12+z2)
	return r, r.area > 0
}

// sample maps (u0, u1) in [0,1)² to the point (x, y) of the rectangle in
// the direction it chooses: u0 by the solid angle to the left of x, u1 along
// the arc at x.
func (r *sphRect) sample(u0, u1 float64) (x, y float64) {
	au := u0*r.area - r.g23
	sa, ca := sincos2pi(au * (1 / (2 * math.Pi)))
	fu := (ca*r.b0 - r.b1) / sa
	cu := math.Copysign(1/math.Sqrt(fu*fu+r.b0*r.b0), fu)
	cu = max(-1+0x1p-52, min(1-0x1p-52, cu))
	x = -cu * r.z0 / math.Sqrt(1-cu*cu)
	x = max(r.x0, min(r.x1, x))
	if x != x {
		x = r.x0 // fu was 0/0: a measure-zero set of u0
	}
	d2 := x*x + r.z0*r.z0
	h0 := r.y0 / math.Sqrt(d2+r.y0*r.y0)
	h1 := r.y1 / math.Sqrt(d2+r.y1*r.y1)
	hv := h0 + u1*(h1-h0)
	y = r.y1
	if hv2 := hv * hv; hv2 < 1-1e-12 {
		y = hv * math.Sqrt(d2/(1-hv2))
	}
	return x, max(r.y0, min(r.y1, y))
}

// invert returns the (u0, u1) that sample maps to the point (x, y).
func (r *sphRect) invert(x, y float64) (u0, u1 float64) {
	x = max(r.x0, min(r.x1, x))
	y = max(r.y0, min(r.y1, y))
	// u0: the solid angle of the part [x0, x] of the rectangle, whose
	// corners at x replace those at x1.
	z2 := r.z0 * r.z0
	az := -r.z0
	lx0 := math.Sqrt(x*x + r.y0*r.y0 + z2)
	lx1 := math.Sqrt(x*x + r.y1*r.y1 + z2)
	g01 := angleSum(r.y0*x, az*lx0, -x*r.y1, az*lx1)
	u0 = (g01 + r.g23 - 2*math.Pi) / r.area
	d2 := x*x + z2
	h0 := r.y0 / math.Sqrt(d2+r.y0*r.y0)
	h1 := r.y1 / math.Sqrt(d2+r.y1*r.y1)
	hv := y / math.Sqrt(d2+y*y)
	if h1 > h0 {
		u1 = (hv - h0) / (h1 - h0)
	}
	return max(0, min(1, u0)), max(0, min(1, u1))
}

// sphTri is a triangle seen from a point: the unit directions a, b, c to
// its vertices, the angle α at a (its cosine and sine) and the solid angle.
type sphTri struct {
	a, b, c                   Vec
	alpha, cosAlpha, sinAlpha float64
	area                      float64
}

// triangleSolidAngle is the solid angle of the spherical triangle of unit
// vectors a, b, c (Van Oosterom and Strackee, 1983).
func triangleSolidAngle(a, b, c Vec) float64 {
	return math.Abs(2 * math.Atan2(a.Dot(b.Cross(c)), 1+a.Dot(b)+a.Dot(c)+b.Dot(c)))
}

// newSphTri sets up the spherical triangle of unit directions a, b, c. It
// reports false when it is degenerate.
func newSphTri(a, b, c Vec) (sphTri, bool) {
	t := sphTri{a: a, b: b, c: c}
	nab, nca := a.Cross(b), c.Cross(a)
	la, lc := nab.Len(), nca.Len()
	if !(la > 0 && lc > 0) {
		return t, false
	}
	// α is the angle between the planes of ab and ac, the angle between
	// nab and -nca.
	t.cosAlpha = -nab.Dot(nca) / (la * lc)
	t.sinAlpha = nab.Cross(nca).Len() / (la * lc)
	t.alpha = math.Atan2(t.sinAlpha, t.cosAlpha)
	t.area = triangleSolidAngle(a, b, c)
	return t, t.area > 0
}

// orthoNorm returns the unit component of v orthogonal to the unit vector
// n, or the zero vector when v is parallel to n.
func orthoNorm(v, n Vec) Vec {
	return v.Sub(n.Scale(v.Dot(n))).Norm()
}

// sample maps (u0, u1) to a direction: u0 chooses the sub-triangle a b c'
// of solid angle u0·Ω, c' on the arc from a to c, and u1 the direction on
// the arc from b to c' (u1 = 0 at b).
func (t *sphTri) sample(u0, u1 float64) Vec {
	ap := u0 * t.area
	s, c := math.Sincos(ap - t.alpha)
	k1 := c - t.cosAlpha
	k2 := s + t.sinAlpha*t.a.Dot(t.b)
	q := ((k2*c-k1*s)*t.cosAlpha - k2) / ((k2*s + k1*c) * t.sinAlpha)
	q = max(-1, min(1, q))
	if q != q {
		q = 1 // 0/0 at u0 = 0: c' is a
	}
	cp := t.a.Scale(q).Add(orthoNorm(t.c, t.a).Scale(math.Sqrt(max(0, 1-q*q))))
	z := 1 - u1*(1-cp.Dot(t.b))
	return t.b.Scale(z).Add(orthoNorm(cp, t.b).Scale(math.Sqrt(max(0, 1-z*z))))
}

// invert returns the (u0, u1) that sample maps to unit direction w.
func (t *sphTri) invert(w Vec) (u0, u1 float64) {
	// c' is where the great circle through b and w meets the arc a-c.
	cp := t.b.Cross(w).Cross(t.c.Cross(t.a)).Norm()
	if cp.Dot(t.a.Add(t.c)) < 0 {
		cp = cp.Neg()
	}
	if !cp.IsZero() {
		u0 = triangleSolidAngle(t.a, t.b, cp) / t.area
	}
	if d := 1 - cp.Dot(t.b); d > 0 {
		u1 = (1 - w.Dot(t.b)) / d
	}
	return max(0, min(1, u0)), max(0, min(1, u1))
}

// bilinearWarp maps (u0, u1) to a point of the unit square with the
// bilinear density of corner values w (at (0,0), (1,0), (0,1), (1,1)).
func bilinearWarp(u0, u1 float64, w *[4]float64) (float64, float64) {
	y := sampleLinear(u1, w[0]+w[1], w[2]+w[3])
	x := sampleLinear(u0, w[0]+y*(w[2]-w[0]), w[1]+y*(w[3]-w[1]))
	return x, y
}
