package render

import (
	"context"
	"errors"
	"image"
	"math"
	"sync"
	"sync/atomic"
	"testing"
)

// loadTestScene loads testdata/scenes/name, failing the test if it cannot.
func loadTestScene(t testing.TB, name string) *Scene {
	t.Helper()
	s, _, err := LoadFile("../testdata/scenes/"+name, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustLoad loads a scene from files, failing the test on error.
func mustLoad(t testing.TB, files map[string]string) *Scene {
	t.Helper()
	s, err := loadFiles(t, files, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// renderStats are what renderAll counted.
type renderStats struct {
	Rays  uint64 // camera, bounce and shadow rays
	Tiles int
}

// renderAll renders the whole image in this process: tiles of side tile
// from a queue, on workers goroutines, each counting its own rays.
func renderAll(t testing.TB, s *Scene, set Settings, workers, tile int) (*Image, renderStats) {
	t.Helper()
	set = s.Resolve(set)
	img := NewImage(set.Width, set.Height)
	tiles := Tiles(set.Width, set.Height, tile)
	rays := make([]uint64, workers)
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(tiles) && errs[w] == nil; i = int(next.Add(1)) - 1 {
				r := tiles[i]
				pix := make([]float32, 3*r.Dx()*r.Dy())
				n, err := s.RenderTile(context.Background(), set, r, pix)
				errs[w] = err
				rays[w] += n
				img.SetTile(r, pix) // tiles do not overlap
			}
		})
	}
	wg.Wait()
	st := renderStats{Tiles: len(tiles)}
	for w := range workers {
		if errs[w] != nil {
			t.Fatal(errs[w])
		}
		st.Rays += rays[w]
	}
	return img, st
}

// TestWhiteFurnace: a diffuse sphere of albedo 1 under a uniform background
// neither absorbs nor emits, so it is invisible: every pixel equals the
// background. A glass sphere is invisible too, up to noise.
func TestWhiteFurnace(t *testing.T) {
	tests := []struct {
		name string
		mat  string
		spp  int
		tol  float64 // on the mean over the image
		each bool    // every pixel within tol, not only the mean
	}{
		{"diffuse", `{"type": "diffuse", "albedo": [1, 1, 1]}`, 4, 1e-6, true},
		{"dielectric", `{"type": "dielectric", "ior": 1.5}`, 16, 0.03, false},
		{"mirror", `{"type": "metal", "albedo": [1, 1, 1], "roughness": 0}`, 2, 1e-6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustLoad(t, map[string]string{"scene.json": `{
  "camera": {"from": [0, 0, 4], "to": [0, 0, 0], "fov": 40},
  "image": {"width": 16, "height": 16, "spp": ` + itoa(tt.spp) + `, "maxDepth": 64},
  "background": [0.5, 0.5, 0.5],
  "materials": {"m": ` + tt.mat + `},
  "objects": [{"type": "sphere", "center": [0, 0, 0], "radius": 1.2, "material": "m"}]}`})
			img, _ := renderAll(t, s, Settings{}, 2, 8)
			sum := 0.0
			for i, v := range img.Pix {
				sum += float64(v)
				if tt.each && math.Abs(float64(v)-0.5) > tt.tol {
					t.Fatalf("pixel %d channel %d = %v, want 0.5", i/3, i%3, v)
				}
			}
			if mean := sum / float64(len(img.Pix)); math.Abs(mean-0.5) > tt.tol {
				t.Errorf("mean %v, want 0.5 within %v", mean, tt.tol)
			}
		})
	}
}

// TestDirectLightingMatchesAnalytic compares the radiance of a diffuse floor
// lit by one light with the closed form: the radiance reflected at a point
// is albedo * L * F, F the form factor of the light seen from the point.
func TestDirectLightingMatchesAnalytic(t *testing.T) {
	// Form factor from a point to a rectangle X*h by Y*h parallel to it at
	// height h, with a corner above the point.
	corner := func(x, y float64) float64 {
		a, b := math.Sqrt(1+x*x), math.Sqrt(1+y*y)
		return (x/a*math.Atan(y/a) + y/b*math.Atan(x/b)) / (2 * math.Pi)
	}
	tests := []struct {
		name  string
		light string
		want  float64
	}{
		{"sphere light", `{"type": "sphere", "center": [0, 3, 0], "radius": 0.5, "material": "light"}`,
			0.5 * 10 * 0.25 / 9},
		{"quad light", `{"type": "quad", "corner": [-0.5, 1, -0.5], "u": [1, 0, 0], "v": [0, 0, 1], "material": "light"}`,
			0.5 * 10 * 4 * corner(0.5, 0.5)},
		{"quad light facing away is dark", `{"type": "quad", "corner": [-0.5, 1, -0.5], "u": [0, 0, 1], "v": [1, 0, 0], "material": "light"}`,
			0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustLoad(t, map[string]string{"scene.json": `{
  "camera": {"from": [0, 0.5, 3], "to": [0, 0, 0], "fov": 0.01},
  "image": {"width": 1, "height": 1, "spp": 4096, "maxDepth": 2},
  "materials": {"floor": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
                "light": {"type": "emissive", "emission": [10, 10, 10]}},
  "objects": [{"type": "quad", "corner": [-10, 0, 10], "u": [20, 0, 0], "v": [0, 0, -20], "material": "floor"},
              ` + tt.light + `]}`})
			pix := make([]float32, 3)
			if _, err := s.RenderTile(context.Background(), Settings{}, image.Rect(0, 0, 1, 1), pix); err != nil {
				t.Fatal(err)
			}
			if got := float64(pix[0]); math.Abs(got-tt.want) > 0.02*tt.want+1e-9 {
				t.Errorf("radiance %v, want %v (2%%)", got, tt.want)
			}
		})
	}
}

// TestDeterminism: the image is byte-identical for two runs, for tile sizes
// 8 and 32, for 1 and 2 workers, and a pixel rendered alone equals the same
// pixel in a whole image.
func TestDeterminism(t *testing.T) {
	for _, name := range []string{"cornell.json", "spheres.json", "stilllife.glb"} {
		t.Run(name, func(t *testing.T) {
			s := loadTestScene(t, name)
			set := Settings{Width: 40, Height: 24, SPP: 2}
			ref, refSt := renderAll(t, s, set, 1, 8)
			runs := []struct {
				name          string
				workers, tile int
			}{
				{"again", 1, 8},
				{"tile 32", 1, 32},
				{"2 workers", 2, 8},
				{"2 workers, tile 32", 2, 32},
				{"odd tiles", 2, 7},
			}
			for _, r := range runs {
				img, st := renderAll(t, s, set, r.workers, r.tile)
				if i := firstDiff(ref.Pix, img.Pix); i >= 0 {
					t.Errorf("%s: pixel %d channel %d = %v, want %v", r.name, i/3, i%3, img.Pix[i], ref.Pix[i])
				}
				if st.Rays != refSt.Rays {
					t.Errorf("%s: %d rays, want %d", r.name, st.Rays, refSt.Rays)
				}
			}
			for _, p := range []image.Point{{0, 0}, {39, 23}, {17, 11}, {20, 3}} {
				pix := make([]float32, 3)
				if _, err := s.RenderTile(context.Background(), set, image.Rect(p.X, p.Y, p.X+1, p.Y+1), pix); err != nil {
					t.Fatal(err)
				}
				if want := ref.Tile(image.Rect(p.X, p.Y, p.X+1, p.Y+1)); firstDiff(pix, want) >= 0 {
					t.Errorf("pixel %v alone = %v, in the image %v", p, pix, want)
				}
			}
		})
	}
}

func firstDiff(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

func TestRenderTileArguments(t *testing.T) {
	s := mustLoad(t, map[string]string{"scene.json": `{"camera": {"from": [0, 0, 1], "to": [0, 0, 0]},
  "image": {"width": 10, "height": 6, "spp": 3}, "background": [1, 2, 3], "objects": []}`})
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		set  Settings
		r    image.Rectangle
		dst  int
		want error
	}{
		{"whole image", ctx, Settings{}, image.Rect(0, 0, 10, 6), 180, nil},
		{"outside the image", ctx, Settings{}, image.Rect(8, 0, 12, 2), 24, ErrBadTile},
		{"empty", ctx, Settings{}, image.Rect(2, 2, 2, 4), 0, ErrBadTile},
		{"destination too small", ctx, Settings{}, image.Rect(0, 0, 2, 2), 11, ErrBadTile},
		{"negative size", ctx, Settings{Width: -1}, image.Rect(0, 0, 1, 1), 3, ErrBadSettings},
		{"too deep", ctx, Settings{MaxDepth: DefaultLimits.MaxDepth + 1}, image.Rect(0, 0, 1, 1), 3, ErrBadSettings},
		{"canceled", canceled, Settings{}, image.Rect(0, 0, 10, 6), 180, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]float32, tt.dst)
			rays, err := s.RenderTile(tt.ctx, tt.set, tt.r, dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				return
			}
			// An empty scene: one camera ray per sample, every pixel the background.
			if want := uint64(tt.r.Dx() * tt.r.Dy() * 3); rays != want {
				t.Errorf("%d rays, want %d", rays, want)
			}
			for i, v := range dst {
				if want := float32(i%3 + 1); v != want {
					t.Fatalf("channel %d = %v, want %v", i, v, want)
				}
			}
		})
	}
}

// TestRenderTileAllocatesNothing: the per-ray path (traversal, shading,
// sampling) allocates nothing, whatever the scene.
func TestRenderTileAllocatesNothing(t *testing.T) {
	for _, name := range []string{"cornell.json", "spheres.json", "stilllife.glb"} {
		t.Run(name, func(t *testing.T) {
			s := loadTestScene(t, name)
			dst := make([]float32, 8*8*3)
			set := Settings{Width: 32, Height: 32, SPP: 2}
			allocs := testing.AllocsPerRun(5, func() {
				if _, err := s.RenderTile(context.Background(), set, image.Rect(8, 8, 16, 16), dst); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per tile, want 0", allocs)
			}
		})
	}
}
