package render

import (
	"math"
	"math/bits"
	"testing"
)

// TestSamplerStratified: every dimension of a pixel's samples is a (0,2)
// sequence: the first 2^k samples put exactly one point in each cell of
// every dyadic grid of 2^k cells (2^a by 2^(k-a)), and a 1D dimension one in
// each of 2^k intervals, for every k up to 10.
func TestSamplerStratified(t *testing.T) {
	for _, px := range [][2]int{{0, 0}, {17, 3}, {511, 1023}} {
		key := pixelKey(px[0], px[1], 0)
		for _, d := range []uint32{dimPixel, dimLens, bounceDim(1, slotLight), bounceDim(7, slotBSDF)} {
			for k := 0; k <= 10; k++ {
				n := 1 << k
				for a := 0; a <= k; a++ {
					seen := make([]bool, n)
					for i := range n {
						sp := newSampler(key, i)
						x, y := sp.get2D(d)
						if !(x >= 0 && x < 1 && y >= 0 && y < 1) {
							t.Fatalf("pixel %v dim %d sample %d: (%v, %v) outside [0,1)²", px, d, i, x, y)
						}
						c := int(x*float64(int(1)<<a))<<(k-a) | int(y*float64(int(1)<<(k-a)))
						if seen[c] {
							t.Fatalf("pixel %v dim %d: %d samples, grid %dx%d: two in cell %d", px, d, n, 1<<a, 1<<(k-a), c)
						}
						seen[c] = true
					}
				}
				seen := make([]bool, n)
				for i := range n {
					sp := newSampler(key, i)
					c := int(sp.get1D(d) * float64(n))
					if seen[c] {
						t.Fatalf("pixel %v 1D dim %d: %d samples, two in interval %d", px, d, n, c)
					}
					seen[c] = true
				}
			}
		}
	}
}

// TestSamplerBranchesStratified: the splitFirst branches of a pixel's
// first n samples draw the dimensions after the split as the first
// splitFirst*n samples would (one point in every cell of every dyadic grid
// of that many cells), and the dimensions before it as the sample does.
func TestSamplerBranchesStratified(t *testing.T) {
	if splitFirst&(splitFirst-1) != 0 {
		t.Fatalf("the test's grids need splitFirst a power of two, not %d", splitFirst)
	}
	shift := bits.TrailingZeros(splitFirst)
	key := pixelKey(5, 9, 0)
	for _, d := range []uint32{bounceDim(1, slotBSDF), bounceDim(3, slotLight)} {
		for k := 0; k <= 8; k++ {
			n := 1 << k
			m := splitFirst * n
			for a := 0; a <= k+shift; a++ {
				seen := make([]bool, m)
				for i := range n {
					for b := range splitFirst {
						sp := newSampler(key, i)
						sp.branch(b)
						x, y := sp.get2D(d)
						c := int(x*float64(int(1)<<a))<<(k+shift-a) | int(y*float64(int(1)<<(k+shift-a)))
						if seen[c] {
							t.Fatalf("dim %d: %d samples' branches, grid %dx%d: two in cell %d", d, n, 1<<a, 1<<(k+shift-a), c)
						}
						seen[c] = true
					}
				}
			}
		}
	}
	for i := range 64 {
		sp, br := newSampler(key, i), newSampler(key, i)
		br.branch(1)
		for _, d := range []uint32{dimPixel, dimLens, bounceDim(1, slotLightPick), bounceDim(1, slotLight)} {
			x, y := sp.get2D(d)
			if bx, by := br.get2D(d); bx != x || by != y {
				t.Fatalf("sample %d dim %d: a branch draws (%v, %v), the sample (%v, %v)", i, d, bx, by, x, y)
			}
		}
	}
}

// TestSamplerIndependent: two dimensions of one sample, and one dimension
// of two pixels, are independent: over 4096 samples their pairs fill a
// 16x16 grid as uniform random pairs do (chi-square with 255 degrees of
// freedom below 400, p < 1e-8 for a uniform source to exceed it), where
// an unshuffled sequence would put all pairs on a line.
func TestSamplerIndependent(t *testing.T) {
	const n, g = 4096, 16
	chi2 := func(pair func(i int) (float64, float64)) float64 {
		var cells [g * g]int
		for i := range n {
			x, y := pair(i)
			cells[int(x*g)*g+int(y*g)]++
		}
		want := float64(n) / (g * g)
		c := 0.0
		for _, k := range cells {
			c += (float64(k) - want) * (float64(k) - want) / want
		}
		return c
	}
	key := pixelKey(5, 9, 0)
	tests := []struct {
		name string
		pair func(i int) (float64, float64)
	}{
		{"light choice and BSDF at one vertex", func(i int) (float64, float64) {
			sp := newSampler(key, i)
			x, _ := sp.get2D(bounceDim(1, slotBSDF))
			return x, sp.get1D(bounceDim(1, slotLightPick))
		}},
		{"light and BSDF at one vertex", func(i int) (float64, float64) {
			sp := newSampler(key, i)
			_, x := sp.get2D(bounceDim(1, slotLight))
			y, _ := sp.get2D(bounceDim(1, slotBSDF))
			return x, y
		}},
		{"1D dimensions of two vertices", func(i int) (float64, float64) {
			sp := newSampler(key, i)
			return sp.get1D(bounceDim(3, slotRoulette)), sp.get1D(bounceDim(4, slotRoulette))
		}},
		{"pixel position and first bounce", func(i int) (float64, float64) {
			sp := newSampler(key, i)
			_, y := sp.get2D(dimPixel)
			_, v := sp.get2D(bounceDim(1, slotBSDF))
			return y, v
		}},
		{"neighbouring pixels", func(i int) (float64, float64) {
			a, b := newSampler(pixelKey(5, 9, 0), i), newSampler(pixelKey(6, 9, 0), i)
			x, _ := a.get2D(bounceDim(1, slotLight))
			y, _ := b.get2D(bounceDim(1, slotLight))
			return x, y
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := chi2(tt.pair); c > 400 {
				t.Errorf("chi-square %.0f over a 16x16 grid, want below 400", c)
			}
		})
	}
}

// TestSamplerIntegrates: the first 2^k samples of a dimension integrate a
// smooth function better than random points do: the error of the mean of
// x·y over 1024 samples, averaged over pixels, is far below the 1/sqrt(n)
// of independent samples.
func TestSamplerIntegrates(t *testing.T) {
	const n, pixels = 1024, 64
	rms := 0.0
	for p := range pixels {
		key := pixelKey(p, 2*p, 0)
		sum := 0.0
		for i := range n {
			sp := newSampler(key, i)
			x, y := sp.get2D(bounceDim(2, slotBSDF))
			sum += x * y
		}
		e := sum/n - 0.25
		rms += e * e
	}
	rms = math.Sqrt(rms / pixels)
	// Random points: the standard deviation of x·y (7/144 - 1/16)^0.5
	// over sqrt(n), 0.0061 here.
	random := math.Sqrt(7.0/144-1.0/16) / math.Sqrt(n)
	if rms > random/10 {
		t.Errorf("RMS error %.2e over %d samples, want below a tenth of random points' %.2e", rms, n, random)
	}
}

// TestSamplerAlone: a sample's numbers depend only on the pixel, the
// sample index and the dimension, not on what was drawn before.
func TestSamplerAlone(t *testing.T) {
	key := pixelKey(3, 4, 0)
	a := newSampler(key, 77)
	a.get2D(dimPixel)
	x1, y1 := a.get2D(bounceDim(2, slotBSDF))
	b := newSampler(key, 77)
	x2, y2 := b.get2D(bounceDim(2, slotBSDF))
	if x1 != x2 || y1 != y2 {
		t.Errorf("dimension drawn after another (%v, %v), alone (%v, %v)", x1, y1, x2, y2)
	}
	c := newSampler(pixelKey(4, 3, 0), 77)
	if x3, _ := c.get2D(bounceDim(2, slotBSDF)); x3 == x1 {
		t.Errorf("pixels (3, 4) and (4, 3) drew the same number %v", x1)
	}
}
