package render

import (
	"math"
	"testing"
)

func near(a, b, eps float64) bool { return math.Abs(a-b) <= eps }

func nearVec(a, b Vec, eps float64) bool {
	return near(a.X, b.X, eps) && near(a.Y, b.Y, eps) && near(a.Z, b.Z, eps)
}

func TestVecOps(t *testing.T) {
	a, b := V(1, 2, 3), V(-4, 5, 0.5)
	tests := []struct {
		name      string
		got, want Vec
	}{
		{"add", a.Add(b), V(-3, 7, 3.5)},
		{"sub", a.Sub(b), V(5, -3, 2.5)},
		{"mul", a.Mul(b), V(-4, 10, 1.5)},
		{"scale", a.Scale(2), V(2, 4, 6)},
		{"addScaled", a.AddScaled(b, 2), V(-7, 12, 4)},
		{"neg", a.Neg(), V(-1, -2, -3)},
		{"cross", V(1, 0, 0).Cross(V(0, 1, 0)), V(0, 0, 1)},
		{"cross anti-commutes", a.Cross(b), b.Cross(a).Neg()},
		{"min", a.Min(b), V(-4, 2, 0.5)},
		{"max", a.Max(b), V(1, 5, 3)},
		{"norm", V(3, 0, 4).Norm(), V(0.6, 0, 0.8)},
		{"norm of zero stays zero", Vec{}.Norm(), Vec{}},
		{"reflect", V(1, -1, 0).Reflect(V(0, 1, 0)), V(1, 1, 0)},
		{"ray at", Ray{Origin: a, Dir: V(0, 0, 1)}.At(2), V(1, 2, 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !nearVec(tt.got, tt.want, 1e-12) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	scalars := []struct {
		name      string
		got, want float64
	}{
		{"dot", a.Dot(b), -4 + 10 + 1.5},
		{"len", V(2, 3, 6).Len(), 7},
		{"maxComp", b.MaxComp(), 5},
		{"axis 1", a.Axis(1), 2},
		{"luminance of white", V(1, 1, 1).Luminance(), 1},
		{"cross is orthogonal", a.Cross(b).Dot(a), 0},
	}
	for _, tt := range scalars {
		t.Run(tt.name, func(t *testing.T) {
			if !near(tt.got, tt.want, 1e-12) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestFrameIsOrthonormal(t *testing.T) {
	rg := newRNG(1, 2)
	normals := []Vec{V(0, 0, 1), V(0, 0, -1), V(1, 0, 0), V(0, -1, 0), V(0, 0, -1+1e-12).Norm()}
	for range 200 {
		normals = append(normals, V(rg.float()-0.5, rg.float()-0.5, rg.float()-0.5).Norm())
	}
	for _, n := range normals {
		f := newFrame(n)
		checks := []struct {
			name      string
			got, want float64
		}{
			{"|t|", f.t.Len(), 1}, {"|b|", f.b.Len(), 1},
			{"t.b", f.t.Dot(f.b), 0}, {"t.n", f.t.Dot(n), 0}, {"b.n", f.b.Dot(n), 0},
		}
		for _, c := range checks {
			if !near(c.got, c.want, 1e-9) {
				t.Fatalf("frame of %v: %s = %v, want %v", n, c.name, c.got, c.want)
			}
		}
		v := V(0.3, -0.5, 0.7)
		if back := f.toLocal(f.toWorld(v)); !nearVec(back, v, 1e-12) {
			t.Fatalf("frame of %v: toLocal(toWorld(%v)) = %v", n, v, back)
		}
	}
}

func TestSamplingDistributions(t *testing.T) {
	t.Run("cosine hemisphere has mean cos 2/3 and stays above the plane", func(t *testing.T) {
		rg := newRNG(7, 0)
		const n = 20000
		sum := 0.0
		for range n {
			d := cosineHemisphere(rg.float(), rg.float())
			if d.Z < 0 || !near(d.Len(), 1, 1e-12) {
				t.Fatalf("direction %v below the plane or not unit", d)
			}
			sum += d.Z
		}
		if mean := sum / n; !near(mean, 2.0/3, 0.01) {
			t.Errorf("mean cos = %v, want 2/3", mean)
		}
	})
	t.Run("concentric disk stays in the unit disk", func(t *testing.T) {
		for i := range 33 {
			for j := range 33 {
				x, y := concentricDisk(float64(i)/32, float64(j)/32)
				if x*x+y*y > 1+1e-12 {
					t.Fatalf("(%v, %v) outside the disk", x, y)
				}
			}
		}
	})
}

// TestSincos2pi compares sincos2pi with math.Sincos over turns in [-1, 2):
// every eighth, either side of each, and random points.
func TestSincos2pi(t *testing.T) {
	check := func(t *testing.T, u float64) {
		t.Helper()
		s, c := sincos2pi(u)
		// Whole turns taken off exactly, so that the argument of
		// math.Sincos is within [-π, π] and rounded by at most 2.2e-16.
		ws, wc := math.Sincos(2 * math.Pi * (u - math.Round(u)))
		if tol := 5e-16; math.Abs(s-ws) > tol || math.Abs(c-wc) > tol {
			t.Fatalf("sincos2pi(%v) = (%v, %v), math.Sincos = (%v, %v)", u, s, c, ws, wc)
		}
		if r := s*s + c*c; !near(r, 1, 1e-15) {
			t.Fatalf("sincos2pi(%v): sin²+cos² = %v", u, r)
		}
	}
	t.Run("quarter and eighth turns", func(t *testing.T) {
		for i := -8; i < 16; i++ {
			u := float64(i) / 8
			check(t, u)
			check(t, math.Nextafter(u, math.Inf(1)))
			check(t, math.Nextafter(u, math.Inf(-1)))
		}
	})
	t.Run("random turns", func(t *testing.T) {
		rg := newRNG(11, 0)
		for range 200000 {
			check(t, 3*rg.float()-1)
		}
	})
	t.Run("exact values", func(t *testing.T) {
		for _, tt := range []struct{ u, s, c float64 }{
			{0, 0, 1}, {0.25, 1, 0}, {0.5, 0, -1}, {0.75, -1, 0}, {-0.25, -1, 0},
		} {
			if s, c := sincos2pi(tt.u); s != tt.s || c != tt.c {
				t.Errorf("sincos2pi(%v) = (%v, %v), want (%v, %v)", tt.u, s, c, tt.s, tt.c)
			}
		}
	})
}
