//go:build goexperiment.simd && amd64

package render

import (
	"context"
	"image"
	"math"
	"testing"
)

// withScalarBoxes runs f with traverse's scalar box test.
func withScalarBoxes(t *testing.T, f func()) {
	t.Helper()
	if !simdBoxes {
		t.Skip("the CPU has no AVX: only the scalar box test runs")
	}
	simdBoxes = false
	defer func() { simdBoxes = true }()
	f()
}

// TestSIMDBoxesMatchScalar: the vector box test finds the same hits as the
// scalar one, bit for bit, on every BVH test scene, for nearest hits,
// occlusion and rays cut short.
func TestSIMDBoxesMatchScalar(t *testing.T) {
	for name, prims := range bvhTestScenes(t) {
		t.Run(name, func(t *testing.T) {
			sd := testScene(t, prims)
			rg := newRNG(7, 0)
			type result struct {
				h   hit
				ok  bool
				occ bool
			}
			const rays = 4000
			rs := make([]Ray, rays)
			tmax := make([]float64, rays)
			for i := range rs {
				o := V(-12+24*rg.float(), -12+24*rg.float(), -12+24*rg.float())
				sh := sd.shapeOf(int(rg.float() * float64(len(sd.info))))
				l, h := sh.bounds()
				rs[i] = Ray{Origin: o, Dir: l.Add(h).Scale(0.5).Sub(o).Norm()}
				tmax[i] = math.Inf(1)
				if i%3 == 0 {
					tmax[i] = 30 * rg.float()
				}
			}
			trace := func() []result {
				out := make([]result, rays)
				for i := range rs {
					out[i].ok = sd.intersect(&rs[i], tmax[i], &out[i].h)
					out[i].occ = sd.occluded(&rs[i], tmax[i])
				}
				return out
			}
			vector := trace()
			var scalar []result
			withScalarBoxes(t, func() { scalar = trace() })
			hits := 0
			for i := range vector {
				if vector[i] != scalar[i] {
					t.Fatalf("ray %d: vector boxes %+v, scalar %+v", i, vector[i], scalar[i])
				}
				if vector[i].ok {
					hits++
				}
			}
			if hits < rays/3 {
				t.Errorf("only %d of %d rays hit: the test is too weak", hits, rays)
			}
		})
	}
}

// TestSIMDBoxesRenderTheSameImage renders tiles of the bunny and the Cornell
// box both ways and compares every float.
func TestSIMDBoxesRenderTheSameImage(t *testing.T) {
	for _, name := range []string{"cornell", "bunny", "spheres"} {
		t.Run(name, func(t *testing.T) {
			s := loadTestScene(t, name+".json")
			set := Settings{Width: 48, Height: 48, SPP: 4}
			r := image.Rect(0, 0, 48, 48)
			render := func() []float32 {
				dst := make([]float32, 48*48*3)
				if _, err := s.RenderTile(context.Background(), set, r, dst); err != nil {
					t.Fatal(err)
				}
				return dst
			}
			vector := render()
			var scalar []float32
			withScalarBoxes(t, func() { scalar = render() })
			for i := range vector {
				if math.Float32bits(vector[i]) != math.Float32bits(scalar[i]) {
					t.Fatalf("value %d: vector boxes %v, scalar %v", i, vector[i], scalar[i])
				}
			}
		})
	}
}
