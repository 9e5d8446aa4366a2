package render

import "math"

// Vec is a 3-vector of float64: a point, a direction or a linear RGB colour.
// Its methods return new values and never modify the receiver.
type Vec struct{ X, Y, Z float64 }

// V returns the vector (x, y, z).
func V(x, y, z float64) Vec { return Vec{X: x, Y: y, Z: z} }

// Add returns a+b.
func (a Vec) Add(b Vec) Vec { return Vec{X: a.X + b.X, Y: a.Y + b.Y, Z: a.Z + b.Z} }

// Sub returns a-b.
func (a Vec) Sub(b Vec) Vec { return Vec{X: a.X - b.X, Y: a.Y - b.Y, Z: a.Z - b.Z} }

// Mul returns the component-wise product of a and b.
func (a Vec) Mul(b Vec) Vec { return Vec{X: a.X * b.X, Y: a.Y * b.Y, Z: a.Z * b.Z} }

// Scale returns a*s.
func (a Vec) Scale(s float64) Vec { return Vec{X: a.X * s, Y: a.Y * s, Z: a.Z * s} }

// AddScaled returns a + b*s.
func (a Vec) AddScaled(b Vec, s float64) Vec {
	return Vec{X: a.X + b.X*s, Y: a.Y + b.Y*s, Z: a.Z + b.Z*s}
}

// Neg returns -a.
func (a Vec) Neg() Vec { return Vec{X: -a.X, Y: -a.Y, Z: -a.Z} }

// Dot returns the dot product of a and b.
func (a Vec) Dot(b Vec) float64 { return a.X*b.X + a.Y*b.Y + a.Z*b.Z }

// Cross returns the cross product a×b.
func (a Vec) Cross(b Vec) Vec {
	return Vec{X: a.Y*b.Z - a.Z*b.Y, Y: a.Z*b.X - a.X*b.Z, Z: a.X*b.Y - a.Y*b.X}
}

// Len returns the Euclidean length of a.
func (a Vec) Len() float64 { return math.Sqrt(a.Dot(a)) }

// Norm returns a scaled to length 1. The zero vector stays zero.
func (a Vec) Norm() Vec {
	l := a.Dot(a)
	if l == 0 {
		return a
	}
	return a.Scale(1 / math.Sqrt(l))
}

// Min returns the component-wise minimum of a and b.
func (a Vec) Min(b Vec) Vec { return Vec{X: min(a.X, b.X), Y: min(a.Y, b.Y), Z: min(a.Z, b.Z)} }

// Max returns the component-wise maximum of a and b.
func (a Vec) Max(b Vec) Vec { return Vec{X: max(a.X, b.X), Y: max(a.Y, b.Y), Z: max(a.Z, b.Z)} }

// MaxComp returns the largest component of a.
func (a Vec) MaxComp() float64 { return max(a.X, a.Y, a.Z) }

// Axis returns component i (0 X, 1 Y, 2 Z).
func (a Vec) Axis(i int) float64 {
	switch i {
	case 0:
		return a.X
	case 1:
		return a.Y
	}
	return a.Z
}

// IsZero reports whether every component is zero.
func (a Vec) IsZero() bool { return a.X == 0 && a.Y == 0 && a.Z == 0 }

// finite reports whether every component is a finite number.
func (a Vec) finite() bool {
	return !math.IsNaN(a.X+a.Y+a.Z) && !math.IsInf(a.X, 0) && !math.IsInf(a.Y, 0) && !math.IsInf(a.Z, 0)
}

// Luminance returns the Rec. 709 luminance of a linear RGB colour.
func (a Vec) Luminance() float64 { return 0.2126*a.X + 0.7152*a.Y + 0.0722*a.Z }

// Reflect returns d mirrored about the unit normal n.
func (d Vec) Reflect(n Vec) Vec { return d.Sub(n.Scale(2 * d.Dot(n))) }

// Ray is a half-line from Origin along the unit vector Dir.
type Ray struct{ Origin, Dir Vec }

// At returns the point at distance t along r.
func (r Ray) At(t float64) Vec { return r.Origin.AddScaled(r.Dir, t) }

// frame is an orthonormal basis whose Z axis is a given unit normal.
type frame struct{ t, b, n Vec }

// newFrame builds an orthonormal basis around the unit vector n, without
// branches on the hot path (Duff et al., "Building an Orthonormal Basis,
// Revisited", 2017).
func newFrame(n Vec) frame {
	s := math.Copysign(1, n.Z)
	a := -1 / (s + n.Z)
	b := n.X * n.Y * a
	return frame{
		t: Vec{X: 1 + s*n.X*n.X*a, Y: s * b, Z: -s * n.X},
		b: Vec{X: b, Y: s + n.Y*n.Y*a, Z: -n.Y},
		n: n,
	}
}

// toWorld turns local coordinates (x along t, y along b, z along n) into world ones.
func (f *frame) toWorld(v Vec) Vec {
	return Vec{
		X: f.t.X*v.X + f.b.X*v.Y + f.n.X*v.Z,
		Y: f.t.Y*v.X + f.b.Y*v.Y + f.n.Y*v.Z,
		Z: f.t.Z*v.X + f.b.Z*v.Y + f.n.Z*v.Z,
	}
}

// toLocal expresses the world vector v in the frame.
func (f *frame) toLocal(v Vec) Vec { return Vec{X: v.Dot(f.t), Y: v.Dot(f.b), Z: v.Dot(f.n)} }
