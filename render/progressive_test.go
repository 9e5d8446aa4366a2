package render

import (
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPassEnds(t *testing.T) {
	for _, tt := range []struct {
		spp  int
		want []int
	}{
		{0, nil}, {1, []int{1}}, {3, []int{3}}, {4, []int{4}}, {5, []int{4, 5}}, {8, []int{4, 8}},
		{100, []int{4, 8, 16, 32, 64, 100}}, {4096, []int{4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}},
	} {
		if got := PassEnds(tt.spp); !slices.Equal(got, tt.want) {
			t.Errorf("PassEnds(%d) = %v, want %v", tt.spp, got, tt.want)
		}
	}
	if n := len(PassEnds(math.MaxInt)); n > maxPasses {
		t.Errorf("PassEnds(MaxInt) has %d passes, more than maxPasses=%d", n, maxPasses)
	}
	// A prefix of the passes of a render is the passes of a render of
	// fewer samples: what makes a render stopped early a fixed one.
	ends := PassEnds(4096)
	for k := range ends {
		if got := PassEnds(ends[k]); !slices.Equal(got, ends[:k+1]) {
			t.Errorf("PassEnds(%d) = %v, want %v", ends[k], got, ends[:k+1])
		}
	}
	if got := AdaptiveMinSPP(0.01); got != 64 {
		t.Errorf("AdaptiveMinSPP(0.01) = %d, want 64 (Cycles)", got)
	}
	if got := AdaptiveMinSPP(0.1); got != 32 {
		t.Errorf("AdaptiveMinSPP(0.1) = %d, want 32 (Cycles)", got)
	}
}

// renderByPasses renders the image of set through a Film, pass by pass,
// each pass's tiles of side tile in a shuffled order: the passes that end
// at or before stop samples (all of them for stop 0).
func renderByPasses(t *testing.T, s *Scene, set Settings, tile, stop int, noise float64, rnd *rand.Rand) *Film {
	t.Helper()
	f, err := NewFilm(set.Width, set.Height, set.SPP, noise)
	if err != nil {
		t.Fatal(err)
	}
	for {
		from, to, ok := f.Next()
		if !ok || stop > 0 && to > stop {
			return f
		}
		tiles := Tiles(set.Width, set.Height, tile)
		rnd.Shuffle(len(tiles), func(i, j int) { tiles[i], tiles[j] = tiles[j], tiles[i] })
		for _, r := range tiles {
			mask, n := f.Mask(r)
			if n == 0 {
				continue
			}
			pix := make([]float32, 3*n)
			if _, err := s.RenderPass(context.Background(), set, r, Pass{From: from, To: to, Mask: mask}, pix); err != nil {
				t.Fatal(err)
			}
			if err := f.Add(r, mask, pix); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.EndPass(); err != nil {
			t.Fatal(err)
		}
	}
}

func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// A render stopped after k passes is bit for bit RenderTile of the
// samples those passes end at, whatever the tiles of each pass.
func TestPassesEqualFixedRender(t *testing.T) {
	s := loadTestScene(t, "cornell-glass.json")
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tt := range []struct{ spp, stop int }{{1, 0}, {4, 0}, {6, 0}, {24, 0}, {40, 16}, {40, 8}} {
		set := Settings{Width: 19, Height: 13, SPP: tt.spp, MaxDepth: 6}
		f := renderByPasses(t, s, set, 5, tt.stop, 0, rnd)
		fixed := set
		if tt.stop > 0 {
			fixed.SPP = tt.stop
		}
		want, _ := renderAll(t, s, fixed, 2, 7)
		got := f.Image()
		if i := sameBits(got.Pix, want.Pix); i >= 0 {
			t.Fatalf("spp %d stopped at %d: pixel %d channel %d is %v, the fixed render of %d spp has %v",
				tt.spp, tt.stop, i/3, i%3, got.Pix[i], fixed.SPP, want.Pix[i])
		}
		if lo, med, hi := f.SampleStats(); lo != fixed.SPP || med != fixed.SPP || hi != fixed.SPP {
			t.Errorf("spp %d stopped at %d: samples %d/%d/%d, want %d each", tt.spp, tt.stop, lo, med, hi, fixed.SPP)
		}
	}
}

// RenderPass's sums do not depend on the rectangle or the mask, and it
// allocates nothing.
func TestRenderPassMask(t *testing.T) {
	s := loadTestScene(t, "cornell.json")
	set := Settings{Width: 16, Height: 16, SPP: 16, MaxDepth: 4}
	r := image.Rect(3, 2, 12, 9) // 63 pixels: a mask of 8 bytes, the last one partly used
	n := r.Dx() * r.Dy()
	mask := make([]byte, MaskBytes(n))
	var picked []image.Point
	for k := 0; k < n; k += 3 {
		mask[k>>3] |= 1 << (k & 7)
		picked = append(picked, image.Pt(r.Min.X+k%r.Dx(), r.Min.Y+k/r.Dx()))
	}
	p := Pass{From: 4, To: 8, Mask: mask}
	if got := p.Selected(n); got != len(picked) {
		t.Fatalf("Selected = %d, want %d", got, len(picked))
	}
	pix := make([]float32, 3*len(picked))
	if _, err := s.RenderPass(context.Background(), set, r, p, pix); err != nil {
		t.Fatal(err)
	}
	for j, q := range picked {
		var one [3]float32
		if _, err := s.RenderPass(context.Background(), set, image.Rectangle{Min: q, Max: q.Add(image.Pt(1, 1))}, Pass{From: 4, To: 8}, one[:]); err != nil {
			t.Fatal(err)
		}
		if sameBits(one[:], pix[3*j:3*j+3]) >= 0 {
			t.Fatalf("pixel %v: %v in the masked tile, %v alone", q, pix[3*j:3*j+3], one)
		}
	}
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := s.RenderPass(context.Background(), set, r, p, pix); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("RenderPass allocates %v times a call, want 0", allocs)
	}

	// What a pass may not be.
	for _, bad := range []struct {
		p   Pass
		dst int
	}{
		{Pass{From: 4, To: 4}, 3 * n}, {Pass{From: -1, To: 4}, 3 * n}, {Pass{From: 8, To: 17}, 3 * n},
		{Pass{From: 0, To: 4, Mask: mask[:7]}, len(pix)},
		{Pass{From: 0, To: 4, Mask: append(slices.Clone(mask[:7]), 0x80)}, len(pix)}, // pixel 63 of 63
		{Pass{From: 0, To: 4, Mask: mask}, len(pix) - 3},
	} {
		if _, err := s.RenderPass(context.Background(), set, r, bad.p, make([]float32, bad.dst)); !errors.Is(err, ErrBadTile) {
			t.Errorf("RenderPass(%+v) = %v, want ErrBadTile", bad.p, err)
		}
	}
}

// syntheticPass feeds a film one pass of made-up sums: value(x, y, from,
// to) per pixel.
func syntheticPass(t *testing.T, f *Film, w, h int, value func(x, y, from, to int) [3]float32) {
	t.Helper()
	from, to, ok := f.Next()
	if !ok {
		t.Fatal("no pass left")
	}
	r := image.Rect(0, 0, w, h)
	mask, n := f.Mask(r)
	pix := make([]float32, 0, 3*n)
	each(r, w, mask, func(p, _ int) {
		v := value(p%w, p/w, from, to)
		pix = append(pix, v[:]...)
	})
	if err := f.Add(r, mask, pix); err != nil {
		t.Fatal(err)
	}
	if _, err := f.EndPass(); err != nil {
		t.Fatal(err)
	}
}

// The adaptive rule: a pixel whose halves agree stops at the first decision
// (the first pass at AdaptiveMinSPP), unless a neighbour is still noisy; a
// noisy one goes on to the ceiling.
func TestFilmAdaptiveRule(t *testing.T) {
	const w, h = 9, 5
	f, err := NewFilm(w, h, 1024, 0.01) // decisions from 64 samples on
	if err != nil {
		t.Fatal(err)
	}
	noisy := image.Pt(6, 2)
	value := func(x, y, from, to int) [3]float32 {
		n := float32(to - from)
		if image.Pt(x, y) == noisy && from > 0 {
			// Each pass twice (or half) the mean so far: never converges.
			return [3]float32{n * 2, n * 2, n * 2}
		}
		return [3]float32{n * 0.5, n * 0.25, n}
	}
	for range f.Ends() {
		if _, _, ok := f.Next(); !ok {
			break
		}
		syntheticPass(t, f, w, h, value)
	}
	for y := range h {
		for x := range w {
			want := 64
			if d := image.Pt(x, y).Sub(noisy); d.X >= -1 && d.X <= 1 && d.Y >= -1 && d.Y <= 1 {
				want = 1024 // the noisy pixel and its neighbours
			}
			if got := f.Samples(x, y); got != want {
				t.Errorf("pixel (%d,%d): %d samples, want %d", x, y, got, want)
			}
		}
	}
	if lo, med, hi := f.SampleStats(); lo != 64 || med != 64 || hi != 1024 {
		t.Errorf("samples %d/%d/%d, want 64/64/1024", lo, med, hi)
	}
	// A stopped pixel keeps the value of its last pass.
	var px [3]float32
	f.Pixels(image.Rect(0, 0, 1, 1), px[:])
	if px != [3]float32{0.5, 0.25, 1} {
		t.Errorf("pixel (0,0) = %v, want its mean {0.5 0.25 1}", px)
	}
}

// An adaptive render's pixels are, each, the fixed render of the samples
// it got; the film refuses what is not the next pass.
func TestFilmAdaptiveIsExact(t *testing.T) {
	s := loadTestScene(t, "cornell-glass.json")
	set := Settings{Width: 20, Height: 20, SPP: 256, MaxDepth: 5}
	f := renderByPasses(t, s, set, 8, 0, 0.05, rand.New(rand.NewPCG(3, 4)))
	lo, med, hi := f.SampleStats()
	t.Logf("samples per pixel: min %d, median %d, max %d", lo, med, hi)
	if lo >= hi {
		t.Fatalf("every pixel got %d samples: nothing adaptive", lo)
	}
	got := f.Image()
	byCount := map[int]*Image{}
	for y := range set.Height {
		for x := range set.Width {
			n := f.Samples(x, y)
			if byCount[n] == nil {
				fixed := set
				fixed.SPP = n
				byCount[n], _ = renderAll(t, s, fixed, 2, 8)
			}
			i := 3 * (y*set.Width + x)
			if sameBits(got.Pix[i:i+3], byCount[n].Pix[i:i+3]) >= 0 {
				t.Fatalf("pixel (%d,%d) of %d samples: %v, the fixed render has %v", x, y, n, got.Pix[i:i+3], byCount[n].Pix[i:i+3])
			}
		}
	}
	r := image.Rect(0, 0, 2, 2)
	if err := f.Add(r, nil, make([]float32, 12)); !errors.Is(err, ErrBadTile) {
		t.Errorf("Add after the last pass = %v, want ErrBadTile", err)
	}
	g, _ := NewFilm(4, 4, 16, 0)
	if err := g.Add(r, nil, make([]float32, 12)); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(r, nil, make([]float32, 12)); !errors.Is(err, ErrBadTile) {
		t.Errorf("a tile added twice = %v, want ErrBadTile", err)
	}
	if _, err := g.EndPass(); !errors.Is(err, ErrBadTile) {
		t.Errorf("EndPass with 4 of 16 pixels = %v, want ErrBadTile", err)
	}
}

// A film capped between two passes ends at the cap: the fixed render of
// that many samples, bit for bit; a cap outside the next pass is refused.
func TestFilmCap(t *testing.T) {
	s := loadTestScene(t, "cornell-glass.json")
	set := Settings{Width: 12, Height: 10, SPP: 64, MaxDepth: 4}
	f, err := NewFilm(set.Width, set.Height, set.SPP, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // 4, 8, 16
		syntheticFree(t, s, set, f)
	}
	for _, bad := range []int{16, 32, 64, 3} {
		if err := f.Cap(bad); err == nil {
			t.Errorf("Cap(%d) after the pass ending at 16 (next: [16,32)) accepted", bad)
		}
	}
	if err := f.Cap(27); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Ends(), []int{4, 8, 16, 27}) {
		t.Fatalf("ends %v after Cap(27), want [4 8 16 27]", f.Ends())
	}
	syntheticFree(t, s, set, f)
	if _, _, ok := f.Next(); ok {
		t.Fatal("a pass after the capped one")
	}
	fixed := set
	fixed.SPP = 27
	want, _ := renderAll(t, s, fixed, 2, 5)
	if i := sameBits(f.Image().Pix, want.Pix); i >= 0 {
		t.Fatalf("capped at 27: value %d is %v, the fixed render has %v", i, f.Image().Pix[i], want.Pix[i])
	}
}

// syntheticFree renders the film's next pass of the whole image with s.
func syntheticFree(t *testing.T, s *Scene, set Settings, f *Film) {
	t.Helper()
	from, to, ok := f.Next()
	if !ok {
		t.Fatal("no pass left")
	}
	r := image.Rect(0, 0, set.Width, set.Height)
	mask, n := f.Mask(r)
	pix := make([]float32, 3*n)
	if _, err := s.RenderPass(context.Background(), set, r, Pass{From: from, To: to, Mask: mask}, pix); err != nil {
		t.Fatal(err)
	}
	if err := f.Add(r, mask, pix); err != nil {
		t.Fatal(err)
	}
	if _, err := f.EndPass(); err != nil {
		t.Fatal(err)
	}
}
