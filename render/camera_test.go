package render

import (
	"image/color"
	"math"
	"testing"
)

func TestCamera(t *testing.T) {
	spec := cameraSpec{from: V(0, 1, 5), to: V(0, 1, 0), up: V(0, 1, 0), fov: 90}
	t.Run("pinhole", func(t *testing.T) {
		c := spec.view(200, 100)
		tests := []struct {
			name   string
			px, py float64
			dir    Vec
		}{
			{"centre looks at to", 100, 50, V(0, 0, -1)},
			{"top edge at half the fov", 100, 0, V(0, 1, -1).Norm()},
			{"right edge widened by the aspect ratio", 200, 50, V(2, 0, -1).Norm()},
			{"top left corner", 0, 0, V(-2, 1, -1).Norm()},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := c.ray(tt.px, tt.py, 0.3, 0.7)
				if r.Origin != spec.from || !nearVec(r.Dir, tt.dir, 1e-12) {
					t.Errorf("ray %v, want from %v along %v", r, spec.from, tt.dir)
				}
			})
		}
	})
	t.Run("thin lens focuses on the plane of focus", func(t *testing.T) {
		lens := spec
		lens.aperture, lens.focusDistance = 0.5, 3
		c := lens.view(100, 100)
		var spread float64
		for _, l := range [][2]float64{{0, 0}, {0.99, 0.5}, {0.5, 0.01}, {0.25, 0.75}} {
			r := c.ray(30, 60, l[0], l[1])
			if d := r.Origin.Sub(spec.from).Len(); d > 0.25+1e-12 {
				t.Errorf("lens point %v is %v from the centre, more than the radius", r.Origin, d)
			}
			spread = max(spread, r.Origin.Sub(spec.from).Len())
			// Every ray through pixel (30, 60) meets the pinhole ray at
			// distance 3 along the view direction.
			p := c.ray(30, 60, 0.5, 0.5) // the lens centre
			target := p.Origin.AddScaled(p.Dir, 3/(-p.Dir.Z))
			tt := (target.Z - r.Origin.Z) / r.Dir.Z
			if got := r.At(tt); !nearVec(got, target, 1e-9) {
				t.Errorf("lens ray reaches %v on the focus plane, want %v", got, target)
			}
		}
		if spread < 0.1 {
			t.Errorf("lens samples spread only %v", spread)
		}
	})
	t.Run("focus distance defaults to the distance to to", func(t *testing.T) {
		spec := cameraSpec{from: V(0, 0, 0), to: V(0, 0, -7), up: V(0, 1, 0), fov: 40, aperture: 1}
		c := spec.view(10, 10)
		if c.focus != 7 {
			t.Errorf("focus %v, want 7", c.focus)
		}
	})
}

func TestTexture(t *testing.T) {
	// 2x1 texels: black on the left, white on the right.
	tex := &texture{w: 2, h: 1, pix: []float32{0, 0, 0, 1, 1, 1}}
	tests := []struct {
		name string
		u, v float64
		want float64
	}{
		{"left texel centre", 0.25, 0.5, 0},
		{"right texel centre", 0.75, 0.5, 1},
		{"halfway: bilinear", 0.5, 0.5, 0.5},
		{"repeats", 1.75, -3.5, 1},
		{"wraps between the edges", 0, 0.5, 0.5},
		{"NaN gives black, not a panic", math.NaN(), 0, 0},
		{"huge coordinates", 1e300, 1e300, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tex.sample(tt.u, tt.v)
			if tt.want >= 0 && !nearVec(got, V(tt.want, tt.want, tt.want), 1e-9) {
				t.Errorf("sample(%v, %v) = %v, want %v", tt.u, tt.v, got, tt.want)
			}
		})
	}
	t.Run("sRGB decoding", func(t *testing.T) {
		for _, c := range []struct {
			in   int
			want float64
		}{{0, 0}, {255, 1}, {188, 0.5029}, {10, 0.003035}} {
			if got := float64(srgbToLinear[c.in]); !near(got, c.want, 1e-4) {
				t.Errorf("sRGB %d = %v, want %v", c.in, got, c.want)
			}
		}
	})
}

// TestSphereTextureCoordinates: a hit on a textured sphere gets longitude
// and latitude as (u, v); an untextured sphere skips the trigonometry and
// gets (0, 0), which nothing reads.
func TestSphereTextureCoordinates(t *testing.T) {
	s := mustLoad(t, map[string]string{
		"scene.json": sceneWith(whiteMat+`, "tex": {"type": "diffuse", "texture": "t.png"}`,
			`{"type": "sphere", "center": [0, 0, 0], "radius": 1, "material": "tex"},
			 {"type": "sphere", "center": [10, 0, 0], "radius": 1, "material": "white"}`),
		"t.png": string(pngBytes(t, 4, 4, color.NRGBA{R: 200, G: 100, B: 50, A: 255})),
	})
	tests := []struct {
		name   string
		target Vec // a point on a sphere, hit from outside along its normal
		u, v   float64
	}{
		{"textured, +X", V(1, 0, 0), 0.5, 0.5},
		{"textured, +Z", V(0, 0, 1), 0.75, 0.5},
		{"textured, back left", V(-0.6, 0, 0.8), 0.5 + math.Atan2(0.8, -0.6)/(2*math.Pi), 0.5},
		{"textured, up", V(0, 0.6, 0.8), 0.75, 0.5 + math.Asin(0.6)/math.Pi},
		{"untextured", V(11, 0, 0), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := V(0, 0, 0)
			if tt.target.X > 5 {
				c = V(10, 0, 0)
			}
			n := tt.target.Sub(c)
			r := Ray{Origin: tt.target.AddScaled(n, 2), Dir: n.Neg()}
			var h hit
			if !s.intersect(&r, math.Inf(1), &h) {
				t.Fatal("no hit")
			}
			var sf surface
			s.surfaceAt(&r, &h, &sf)
			if !near(sf.u, tt.u, 1e-9) || !near(sf.v, tt.v, 1e-9) {
				t.Errorf("(u, v) = (%v, %v), want (%v, %v)", sf.u, sf.v, tt.u, tt.v)
			}
		})
	}
}
