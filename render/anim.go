package render

import (
	"math"
	"sort"
)

// This file holds the curves animations are made of: values at keys along
// a parameter (a glTF animation's time in seconds, or a scene file's frame
// number) and what lies between the keys. frame.go puts them together into
// a scene at a frame.

// interp is how a curve goes from one key to the next. The values are
// glTF's samplers' interpolations.
type interp uint8

const (
	interpLinear interp = iota // LINEAR: a straight line between keys; slerp between rotations
	interpStep                 // STEP: each key's value until the next key
	interpCubic                // CUBICSPLINE: a cubic Hermite spline through the keys with their tangents
)

// curve is a value (w numbers) that changes along a parameter. Before the
// first key it has the first key's value, after the last the last's (as
// glTF specifies and as Blender extrapolates by default).
type curve struct {
	at     []float64 // key parameters, strictly increasing
	val    []float64 // w numbers a key; interpCubic: 3w a key, in-tangent, value, out-tangent
	w      int
	interp interp
	quat   bool // unit quaternions (x, y, z, w): slerp between keys, normalised after a cubic
}

// keys returns the number of keys.
func (c *curve) keys() int { return len(c.at) }

// value returns the value of key k (w numbers, aliasing c.val).
func (c *curve) value(k int) []float64 {
	if c.interp == interpCubic {
		o := (3*k + 1) * c.w
		return c.val[o : o+c.w]
	}
	return c.val[k*c.w : (k+1)*c.w]
}

// sample writes the curve's value at u into out, which holds w numbers.
func (c *curve) sample(u float64, out []float64) {
	n := len(c.at)
	if n == 1 || !(u > c.at[0]) { // NaN too
		copy(out, c.value(0))
		return
	}
	if u >= c.at[n-1] {
		copy(out, c.value(n-1))
		return
	}
	k := sort.SearchFloat64s(c.at, u) // the first key at u or after: 1 <= k <= n-1
	if c.at[k] == u {
		copy(out, c.value(k))
		return
	}
	k-- // at[k] < u < at[k+1]
	t0, t1 := c.at[k], c.at[k+1]
	s := (u - t0) / (t1 - t0)
	a, b := c.value(k), c.value(k+1)
	switch c.interp {
	case interpStep:
		copy(out, a)
	case interpLinear:
		if c.quat {
			slerp(a, b, s, out)
			return
		}
		for i := range out {
			out[i] = a[i] + s*(b[i]-a[i])
		}
	case interpCubic:
		// glTF 2.0, appendix C: p(s) = (2s³-3s²+1)p0 + (s³-2s²+s)m0 +
		// (-2s³+3s²)p1 + (s³-s²)m1, the tangents scaled by the interval.
		td := t1 - t0
		w := c.w
		outTan := c.val[(3*k+2)*w : (3*k+3)*w]
		inTan := c.val[(3*(k+1))*w : (3*(k+1)+1)*w]
		s2, s3 := s*s, s*s*s
		h00, h10, h01, h11 := 2*s3-3*s2+1, s3-2*s2+s, -2*s3+3*s2, s3-s2
		for i := range out {
			out[i] = h00*a[i] + h10*td*outTan[i] + h01*b[i] + h11*td*inTan[i]
		}
		if c.quat {
			normalize4(out)
		}
	}
}

// slerp writes into out the spherical linear interpolation at s of the unit
// quaternions a and b, along the shorter arc (glTF 2.0, appendix C: q and -q
// are the same rotation).
func slerp(a, b []float64, s float64, out []float64) {
	d := a[0]*b[0] + a[1]*b[1] + a[2]*b[2] + a[3]*b[3]
	sign := 1.0
	if d < 0 {
		sign, d = -1, -d
	}
	th := math.Acos(min(d, 1))
	if th < 1e-9 {
		// The same rotation: the limit of the weights below.
		for i := range out {
			out[i] = a[i] + s*(sign*b[i]-a[i])
		}
		normalize4(out)
		return
	}
	sin := math.Sin(th)
	ka, kb := math.Sin((1-s)*th)/sin, sign*math.Sin(s*th)/sin
	for i := range out {
		out[i] = ka*a[i] + kb*b[i]
	}
}

// normalize4 scales a quaternion to unit length; the zero quaternion
// becomes the identity.
func normalize4(q []float64) {
	l := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	if !(l > 0) || math.IsInf(l, 0) {
		q[0], q[1], q[2], q[3] = 0, 0, 0, 1
		return
	}
	for i := range q {
		q[i] /= l
	}
}

// gltfTime is the time of frame f at fps frames a second as a glTF file
// stores key times: in float32. Blender writes frame f's key at f/fps
// rounded to float32, so a frame on a key is exactly that key (for STEP,
// the difference between a key's value and the previous one).
func gltfTime(f int, fps float64) float64 { return float64(float32(float64(f) / fps)) }
