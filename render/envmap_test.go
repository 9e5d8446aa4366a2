package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// picture returns a w x h picture whose pixels are f(x, y).
func picture(w, h int, f func(x, y int) Vec) *hdrPicture {
	p := &hdrPicture{w: w, h: h, pix: make([]float32, 0, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := f(x, y)
			p.pix = append(p.pix, float32(c.X), float32(c.Y), float32(c.Z))
		}
	}
	return p
}

// TestEnvOrientation: the map's centre column faces +X, a quarter of the
// width faces -Z, the top row is +Y, and rotate turns the map about +Y
// right-handed (+X to -Z for 90 degrees), as documented.
func TestEnvOrientation(t *testing.T) {
	const w, h = 64, 32
	// Each pixel's colour encodes its column and row.
	pic := picture(w, h, func(x, y int) Vec { return Vec{X: float64(x), Y: float64(y), Z: 1} })
	tests := []struct {
		name   string
		rotate float64
		dir    Vec
		u, v   float64 // image coordinates, v from the top
	}{
		{"+X is the centre column", 0, Vec{X: 1}, 0.5, 0.5},
		{"-Z is a quarter of the width", 0, Vec{Z: -1}, 0.25, 0.5},
		{"+Z is three quarters", 0, Vec{Z: 1}, 0.75, 0.5},
		{"-X is the seam", 0, Vec{X: -1}, 1, 0.5},
		{"up is the top row", 0, Vec{Y: 1}, 0.5, 0},
		{"halfway up", 0, Vec{X: 1, Y: 1}.Norm(), 0.5, 0.25},
		{"down and -Z", 0, Vec{Y: -1, Z: -1}.Norm(), 0.25, 0.75},
		{"rotated 90: -Z shows what +X showed", 90, Vec{Z: -1}, 0.5, 0.5},
		{"rotated 90: +X shows what +Z showed", 90, Vec{X: 1}, 0.75, 0.5},
		{"rotated -90: +Z shows what +X showed", -90, Vec{Z: 1}, 0.5, 0.5},
		{"rotated 450 is 90", 450, Vec{Z: -1}, 0.5, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvMap("m.hdr", pic, 2, math.Mod(tt.rotate, 360))
			u, v := e.uv(tt.dir)
			if du := math.Abs(u - tt.u); math.Min(du, 1-du) > 1e-9 || math.Abs(v-tt.v) > 1e-9 {
				t.Fatalf("uv(%v) = (%v, %v), want (%v, %v)", tt.dir, u, v, tt.u, tt.v)
			}
			// Off the seam and the poles, the radiance is the pixel's
			// colour, bilinear between centres, times the strength.
			if tt.u < 1 && tt.v > 0 {
				got := e.radiance(tt.dir)
				want := Vec{X: 2 * (tt.u*w - 0.5), Y: 2 * (tt.v*h - 0.5), Z: 2}
				if got.Sub(want).Len() > 1e-6 {
					t.Errorf("radiance %v, want %v", got, want)
				}
			}
		})
	}
}

// TestEnvLookupBilinear: the lookup is bilinear between pixel centres,
// wraps around the seam and is clamped at the poles.
func TestEnvLookupBilinear(t *testing.T) {
	pic := picture(4, 2, func(x, y int) Vec { return Vec{X: float64(x + 10*y)} })
	e := newEnvMap("m.hdr", pic, 1, 0)
	tests := []struct {
		u, v, want float64
	}{
		{0.125, 0.25, 0},      // a pixel centre
		{0.25, 0.25, 0.5},     // between columns 0 and 1
		{0.125, 0.5, 5},       // between rows
		{0, 0.25, 1.5},        // the seam: halfway between column 3 and column 0
		{0.125, 0, 0},         // above the first row's centres: clamped
		{0.375, 1, 11},        // below the last: clamped
		{0.3125, 0.375, 3.25}, // (0.75, 0.25) of the way between pixels 0 and 1, rows 0 and 1
		{0.9375, 0.25, 2.25},  // past the last centre, a quarter of the way to column 0
		{1.0625, 0.25, 0.75},  // beyond 1 wraps too
	}
	for _, tt := range tests {
		if got := e.lookup(tt.u, tt.v).X; math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("lookup(%v, %v) = %v, want %v", tt.u, tt.v, got, tt.want)
		}
	}
}

// sunPicture is black but for one bright patch of pw x ph pixels at (px, py).
func sunPicture(w, h, px, py, pw, ph int, sun Vec) *hdrPicture {
	return picture(w, h, func(x, y int) Vec {
		if x >= px && x < px+pw && y >= py && y < py+ph {
			return sun
		}
		return Vec{}
	})
}

// TestEnvSampling: the density sample reports is the one pdf gives for the
// direction; it integrates to 1 over the sphere; sampled directions fall
// where the map is bright; and the estimate of the map's integral from
// samples (radiance / density) is exact within noise (and nearly without
// noise: the density follows the luminance).
func TestEnvSampling(t *testing.T) {
	maps := []struct {
		name string
		pic  *hdrPicture
		rot  float64
	}{
		{"gradient", picture(32, 16, func(x, y int) Vec { return Vec{X: float64(x + 1), Y: float64(y + 1), Z: 1} }), 0},
		{"sun", sunPicture(64, 32, 40, 10, 2, 1, Vec{X: 1000, Y: 900, Z: 800}), 30},
		{"one pixel", sunPicture(1, 1, 0, 0, 1, 1, Vec{X: 1, Y: 1, Z: 1}), 0},
	}
	for _, m := range maps {
		t.Run(m.name, func(t *testing.T) {
			e := newEnvMap("m.hdr", m.pic, 1, m.rot)
			// The integral of the map's luminance over the sphere, by
			// quadrature over a fine grid of (u, v).
			// The density's integral the same way.
			const n = 512
			exact, total := 0.0, 0.0
			for j := 0; j < n; j++ {
				v := (float64(j) + 0.5) / n
				sinT, cosT := math.Sincos(math.Pi * v)
				for i := 0; i < n; i++ {
					u := (float64(i) + 0.5) / n
					exact += e.lookup(u, v).Luminance() * sinT
					sp, cp := sincos2pi(u - 0.5)
					total += e.pdf(e.fromMap(Vec{X: sinT * cp, Y: cosT, Z: sinT * sp})) * sinT
				}
			}
			exact *= 2 * math.Pi * math.Pi / (n * n)
			total *= 2 * math.Pi * math.Pi / (n * n)
			if math.Abs(total-1) > 0.002 {
				t.Errorf("density integrates to %v, want 1", total)
			}

			rg := newRNG(1, 2)
			const samples = 40000
			est := 0.0
			for k := 0; k < samples; k++ {
				ls, ok := e.sample(1, rg.float(), rg.float())
				if !ok {
					continue
				}
				if math.Abs(ls.wi.Len()-1) > 1e-9 {
					t.Fatalf("direction %v is not a unit vector", ls.wi)
				}
				if p := e.pdf(ls.wi); math.Abs(p-ls.pdf) > 1e-6*ls.pdf {
					t.Fatalf("sample's density %v, pdf of its direction %v", ls.pdf, p)
				}
				if l := e.radiance(ls.wi); l.Sub(ls.le).Len() > 1e-6*(1+l.Len()) {
					t.Fatalf("sample's radiance %v, the direction's %v", ls.le, l)
				}
				est += ls.le.Luminance() / ls.pdf
			}
			est /= samples
			if math.Abs(est-exact) > 0.002*exact {
				t.Errorf("importance-sampled integral %v, quadrature %v", est, exact)
			}
		})
	}
	t.Run("samples land on the sun, and only there", func(t *testing.T) {
		e := newEnvMap("m.hdr", sunPicture(64, 32, 40, 10, 2, 1, Vec{X: 1e4, Y: 1e4, Z: 1e4}), 1, 0)
		rg := newRNG(3, 4)
		for k := 0; k < 10000; k++ {
			ls, ok := e.sample(1, rg.float(), rg.float())
			if !ok || !(ls.le.Luminance() > 0) {
				t.Fatalf("sample %d: %+v, %v: want the sun", k, ls, ok)
			}
		}
		// And every direction where the lookup is not zero can be sampled.
		for k := 0; k < 100000; k++ {
			d := uniformSphere(rg.float(), rg.float())
			if e.radiance(d).Luminance() > 0 && !(e.pdf(d) > 0) {
				t.Fatalf("direction %v sees the sun, density 0", d)
			}
		}
	})
	t.Run("black map is no light", func(t *testing.T) {
		e := newEnvMap("m.hdr", sunPicture(8, 4, 0, 0, 0, 0, Vec{}), 1, 0)
		if e.power != 0 {
			t.Errorf("power %v, want 0", e.power)
		}
	})
}

// uniformSphere maps (u1, u2) to a direction uniform on the sphere.
func uniformSphere(u1, u2 float64) Vec {
	z := 1 - 2*u1
	r := math.Sqrt(max(0, 1-z*z))
	s, c := sincos2pi(u2)
	return Vec{X: r * c, Y: z, Z: r * s}
}

func TestEnvironmentSceneErrors(t *testing.T) {
	hdr := string(hdrBytes(nil, "-Y 1 +X 2", [][][4]byte{{rgbe([3]float32{1, 1, 1}), rgbe([3]float32{2, 2, 2})}}, hdrFlat))
	scene := func(env string) string {
		return `{` + okCamera + `, ` + env + `, "objects": []}`
	}
	tests := []struct {
		name  string
		files map[string]string
		lim   Limits
		want  string
	}{
		{"both background and environment", map[string]string{"scene.json": scene(`"background": [1, 1, 1], "environment": {"file": "e.hdr"}`), "e.hdr": hdr},
			Limits{}, `scene.json: environment: "environment" replaces "background": give one of them, not both`},
		{"no file", map[string]string{"scene.json": scene(`"environment": {"strength": 2}`)},
			Limits{}, `scene.json: environment: missing field "file" (a Radiance .hdr file name)`},
		{"missing file", map[string]string{"scene.json": scene(`"environment": {"file": "sky/e.hdr"}`)},
			Limits{}, `scene.json: environment.file: environment "sky/e.hdr": not in the scene bundle`},
		{"negative strength", map[string]string{"scene.json": scene(`"environment": {"file": "e.hdr", "strength": -1}`), "e.hdr": hdr},
			Limits{}, `scene.json: environment.strength: expected a strength from 0 to 1e+12, got -1`},
		{"unknown field", map[string]string{"scene.json": scene(`"environment": {"file": "e.hdr", "rotation": 3}`), "e.hdr": hdr},
			Limits{}, `scene.json: environment.rotation: unknown field "rotation"`},
		{"pixels over the texture limit", map[string]string{"scene.json": scene(`"environment": {"file": "e.hdr"}`), "e.hdr": hdr},
			Limits{MaxTexturePixels: 1}, `e.hdr: byte ` + strconv.Itoa(strings.Index(hdr, "-Y")) + `: 2 pixels (2x1) exceed limit MaxTexturePixels=1`},
		{"bytes over the scene limit", map[string]string{"scene.json": scene(`"environment": {"file": "e.hdr"}`), "e.hdr": hdr + strings.Repeat(" ", 1000)},
			Limits{MaxSceneBytes: 1000}, `exceed limit MaxSceneBytes=1000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadFiles(t, tt.files, tt.lim)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// BenchmarkEnvMap measures building a map's sampling tables, drawing a
// direction (two binary searches: O(log n), so a map 16 times larger costs
// a few more steps, not 16 times more) and the density of a direction, on
// a sky with a sun.
func BenchmarkEnvMap(b *testing.B) {
	for _, size := range [][2]int{{1024, 512}, {4096, 2048}} {
		w, h := size[0], size[1]
		pic := picture(w, h, func(x, y int) Vec {
			c := Vec{X: 0.3, Y: 0.5, Z: 1}.Scale(1 - float64(y)/float64(h))
			if dx, dy := x-w*6/10, y-h*4/10; dx*dx+dy*dy < w*w/4096 {
				c = Vec{X: 5000, Y: 4800, Z: 4500}
			}
			return c
		})
		name := fmt.Sprintf("%dx%d", w, h)
		b.Run("build/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				newEnvMap("sky.hdr", pic, 1, 0)
			}
		})
		e := newEnvMap("sky.hdr", pic, 1, 30)
		b.Run("sample/"+name, func(b *testing.B) {
			rg := newRNG(7, 8)
			b.ReportAllocs()
			for b.Loop() {
				e.sample(1, rg.float(), rg.float())
			}
		})
		b.Run("pdf/"+name, func(b *testing.B) {
			dirs := make([]Vec, 1024)
			rg := newRNG(9, 10)
			for i := range dirs {
				dirs[i] = uniformSphere(rg.float(), rg.float())
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				e.pdf(dirs[i&1023])
				i++
			}
		})
	}
}
