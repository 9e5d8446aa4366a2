package render

// Progressive and adaptive rendering. A render of N samples per pixel is a
// sequence of passes that depends on N alone (PassEnds): FirstPass samples,
// then each pass doubles the total, the last one ending at N. A pass adds
// samples [a, b) of a pixel; a pixel's value after the passes that end at
// b is the sum of their sums, each rounded once to float32 and added in pass
// order, divided by b. RenderTile sums a fixed render's samples the same
// way, so that a progressive render stopped after the passes that end at b
// is bit for bit RenderTile of b samples per pixel.
//
// Doubling makes every pass after the first the second half of the samples
// a pixel has once it is added, which is what the error estimate compares:
// the mean of all of a pixel's samples against the mean of its last pass
// (Cycles compares the mean of all samples against the mean of every other
// sample; with a low-discrepancy sampler every other sample is a
// stratified half of the sample space, in the first coordinate of every
// dimension, so that difference does not shrink with the samples, whereas
// the first and the second half of a sequence whose blocks of 2^k samples
// are each well spread are two estimates of the whole). So a pass needs
// nothing but the sums of its samples: 12 bytes a pixel.

import (
	"fmt"
	"image"
	"math"
	"math/bits"
)

// FirstPass is the number of samples of a progressive render's first pass.
const FirstPass = 4

// maxPasses bounds len(PassEnds(n)) for any int n.
const maxPasses = 64

// PassEnds returns where the passes of a progressive render of spp samples
// per pixel end: FirstPass, twice that, and so on, the last one spp
// (4, 8, 16, 32, 64, 100 for 100). It returns nothing for spp < 1.
func PassEnds(spp int) []int { return passEnds(spp, nil) }

func passEnds(spp int, ends []int) []int {
	if spp < 1 {
		return ends
	}
	for t := FirstPass; t < spp; t *= 2 {
		ends = append(ends, t)
		if t > math.MaxInt/2 {
			break
		}
	}
	return append(ends, spp)
}

// passMean is a pixel channel's value from the sum of its passes' sums
// and its samples: the one rounding of RenderTile and of a Film.
func passMean(sum float32, n int) float32 { return float32(float64(sum) / float64(n)) }

// AdaptiveMinSPP is the fewest samples a pixel gets in an adaptive render
// of noise threshold noise before its error is estimated at all (Cycles'
// rule: ceil(16 / noise^0.3), at least 4: 64 for 0.01, 32 for 0.1); a Film
// first decides at the end of the first pass that reaches it.
func AdaptiveMinSPP(noise float64) int {
	if !(noise > 0) {
		return 0
	}
	return max(4, int(math.Ceil(16/math.Pow(noise, 0.3))))
}

// Pass selects the samples one pass of a progressive render adds to the
// pixels of a rectangle: sample indices [From, To) of each pixel Mask
// selects.
type Pass struct {
	From, To int
	// Mask selects the pixels of the rectangle the pass renders, one bit a
	// pixel in row-major order (pixel k is bit k%8 of byte k/8, least
	// significant first; bits past the last pixel are zero); nil selects
	// every pixel. Its length is MaskBytes of the rectangle's pixels.
	Mask []byte
}

// MaskBytes returns the length of a Pass.Mask for a rectangle of n pixels.
func MaskBytes(n int) int { return (n + 7) / 8 }

// Selected returns how many of the n pixels of a rectangle p renders
// (p.Mask's length is not checked: see Check).
func (p Pass) Selected(n int) int {
	if p.Mask == nil {
		return n
	}
	c := 0
	for _, b := range p.Mask {
		c += bits.OnesCount8(b)
	}
	return c
}

// Check reports whether p is a pass of a render of set (resolved) over a
// rectangle of n pixels: 0 <= From < To <= set.SPP, and a mask of
// MaskBytes(n) bytes with no bit set past the last pixel. The error wraps
// ErrBadTile.
func (p Pass) Check(set Settings, n int) error {
	switch {
	case p.From < 0 || p.From >= p.To || p.To > set.SPP:
		return fmt.Errorf("%w: samples [%d,%d) are not a range within the %d samples per pixel", ErrBadTile, p.From, p.To, set.SPP)
	case p.Mask == nil:
		return nil
	case len(p.Mask) != MaskBytes(n):
		return fmt.Errorf("%w: a mask of %d bytes for %d pixels, want %d", ErrBadTile, len(p.Mask), n, MaskBytes(n))
	case n%8 != 0 && p.Mask[len(p.Mask)-1]>>(n%8) != 0:
		return fmt.Errorf("%w: the mask selects pixels past the %d of the rectangle", ErrBadTile, n)
	}
	return nil
}

// Film is a progressive render of one image as its passes add up: per
// pixel the sum of its passes' sums and the passes it has had, and which
// pixels the next pass renders. With a noise threshold it is adaptive: at
// the end of every pass from the first that reaches AdaptiveMinSPP, a pixel
// stops (gets no more samples) when its estimated error and that of every
// pixel around it (its 3x3 neighbours that still take samples) is below the
// threshold. The error of a pixel is Cycles' measure of it, the difference
// of two estimates normalised by the square root of the intensity: the sum
// over the channels of |mean of all samples - mean of the last pass|,
// divided by 0.0001 + sqrt(the sum of the channels' means). The decisions
// depend on the pixels' values alone, so a scene, settings and threshold
// always give the same image and the same samples per pixel.
//
// A pass is added tile by tile (Add, the pixels Mask says, in any order of
// tiles) and then ended (EndPass), which decides; the image of the last
// pass ended is Image. A Film is not safe for concurrent use.
type Film struct {
	width, height int
	ends          []int
	noise         float64
	minSPP        int
	sum           []float32 // 3 a pixel: its passes' sums, added in pass order
	got           []uint8   // passes each pixel has had
	live          []bool    // the pixels the next pass renders
	errs          []float32 // with noise: each pixel's error estimate after the pass being added
	done          int       // passes ended
	nLive         int       // live pixels
	added         int       // live pixels added since the last EndPass
}

// NewFilm returns the Film of a width x height image rendered with spp
// samples per pixel at most (PassEnds(spp)), adaptive with threshold noise
// when noise > 0; no pass is added.
func NewFilm(width, height, spp int, noise float64) (*Film, error) {
	n := width * height
	switch {
	case width < 1 || height < 1 || n/width != height:
		return nil, fmt.Errorf("%w: a film of %dx%d pixels", ErrBadSettings, width, height)
	case spp < 1:
		return nil, fmt.Errorf("%w: a film of %d samples per pixel", ErrBadSettings, spp)
	case math.IsNaN(noise) || noise < 0 || math.IsInf(noise, 0):
		return nil, fmt.Errorf("%w: noise threshold %v (expected 0, none, or more)", ErrBadSettings, noise)
	}
	f := &Film{
		width: width, height: height, ends: PassEnds(spp), noise: noise, minSPP: AdaptiveMinSPP(noise),
		sum: make([]float32, 3*n), got: make([]uint8, n), live: make([]bool, n), nLive: n,
	}
	for i := range f.live {
		f.live[i] = true
	}
	return f, nil
}

// Ends returns where the film's passes end (PassEnds of its spp). The
// caller must not modify it.
func (f *Film) Ends() []int { return f.ends }

// Cap lowers the film's most samples to n, between the end of the passes
// ended and that of the next one: its next pass is then its last, ending at
// n (its passes become PassEnds(n), of which those ended are a prefix), so
// that the film holds the render of n samples per pixel once it is ended.
// A time budget's last pass.
func (f *Film) Cap(n int) error {
	from, to, ok := f.Next()
	if !ok || n <= from || n >= to {
		return fmt.Errorf("%w: capping the film at %d samples: its next pass is [%d,%d)", ErrBadSettings, n, from, to)
	}
	f.ends = append(f.ends[:f.done], n)
	return nil
}

// Size returns the film's width and height.
func (f *Film) Size() (width, height int) { return f.width, f.height }

// Passes returns the number of passes ended.
func (f *Film) Passes() int { return f.done }

// Next returns the samples of the next pass; ok is false when there is
// none: every pass ended, or no pixel left that takes samples.
func (f *Film) Next() (from, to int, ok bool) {
	if f.done == len(f.ends) || f.nLive == 0 {
		return 0, 0, false
	}
	if f.done > 0 {
		from = f.ends[f.done-1]
	}
	return from, f.ends[f.done], true
}

// Live returns how many pixels the next pass renders.
func (f *Film) Live() int {
	if _, _, ok := f.Next(); !ok {
		return 0
	}
	return f.nLive
}

// Mask returns the Pass.Mask of the next pass for rectangle r (inside the
// image): nil when it renders every pixel of r, and how many it renders.
func (f *Film) Mask(r image.Rectangle) ([]byte, int) {
	mask := make([]byte, MaskBytes(r.Dx()*r.Dy()))
	if _, _, ok := f.Next(); !ok {
		return mask, 0
	}
	n, k := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x, k = x+1, k+1 {
			if f.live[y*f.width+x] {
				mask[k>>3] |= 1 << (k & 7)
				n++
			}
		}
	}
	if n == k {
		return nil, n
	}
	return mask, n
}

// each calls fn for every pixel of r that mask selects, with its index in
// the image and its place among the selected ones.
func each(r image.Rectangle, width int, mask []byte, fn func(p, j int)) {
	k, j := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x, k = x+1, k+1 {
			if mask == nil || mask[k>>3]&(1<<(k&7)) != 0 {
				fn(y*width+x, j)
				j++
			}
		}
	}
}

// checkTile reports whether pix holds the next pass of the pixels of r that
// mask selects, and whether each of them takes that pass.
func (f *Film) checkTile(r image.Rectangle, mask []byte, pix []float32) error {
	if _, _, ok := f.Next(); !ok {
		return fmt.Errorf("%w: the film takes no more passes", ErrBadTile)
	}
	n := r.Dx() * r.Dy()
	if r.Empty() || !r.In(image.Rect(0, 0, f.width, f.height)) {
		return fmt.Errorf("%w: rectangle %v is empty or outside the %dx%d film", ErrBadTile, r, f.width, f.height)
	}
	if mask != nil && len(mask) != MaskBytes(n) {
		return fmt.Errorf("%w: a mask of %d bytes for %d pixels", ErrBadTile, len(mask), n)
	}
	if sel := (Pass{Mask: mask}).Selected(n); len(pix) != 3*sel {
		return fmt.Errorf("%w: %d values for %d pixels", ErrBadTile, len(pix), sel)
	}
	var bad error
	each(r, f.width, mask, func(p, _ int) {
		if bad == nil && (!f.live[p] || int(f.got[p]) != f.done) {
			bad = fmt.Errorf("%w: pixel (%d,%d) takes no pass %d now", ErrBadTile, p%f.width, p/f.width, f.done+1)
		}
	})
	return bad
}

// Add adds the next pass's sums of the pixels of r that mask selects (as
// RenderPass writes them for Pass{From, To, mask} with From, To from
// Next). Every pixel the pass renders must be added once before EndPass.
func (f *Film) Add(r image.Rectangle, mask []byte, pix []float32) error {
	if err := f.checkTile(r, mask, pix); err != nil {
		return err
	}
	k := f.done
	decide := f.decides(k)
	if decide && f.errs == nil {
		f.errs = make([]float32, len(f.got))
	}
	each(r, f.width, mask, func(p, j int) {
		s := f.sum[3*p : 3*p+3]
		d := pix[3*j : 3*j+3]
		s[0] += d[0]
		s[1] += d[1]
		s[2] += d[2]
		f.got[p]++
		f.added++
		if decide {
			f.errs[p] = float32(passError(s, d, f.ends[k], f.ends[k]-f.ends[k-1]))
		}
	})
	return nil
}

// decides reports whether the end of pass k (0 for the first) decides
// which pixels stop: an adaptive film, a pass that is the second half of
// the samples, at least AdaptiveMinSPP of them, and a pass after it.
func (f *Film) decides(k int) bool {
	return f.noise > 0 && k >= 1 && k+1 < len(f.ends) && f.ends[k] >= f.minSPP && f.ends[k] == 2*f.ends[k-1]
}

// passError is a pixel's error estimate from the sums of its n samples
// (all) and of the last m of them (last).
func passError(all, last []float32, n, m int) float64 {
	var diff, sum float64
	for c := range 3 {
		i := float64(all[c]) / float64(n)
		l := float64(last[c]) / float64(m)
		diff += math.Abs(i - l)
		sum += i
	}
	return diff / (0.0001 + math.Sqrt(max(sum, 0)))
}

// EndPass ends the pass being added, once every pixel it renders was
// added, and decides which pixels the next pass renders; it returns how
// many.
func (f *Film) EndPass() (int, error) {
	if _, _, ok := f.Next(); !ok {
		return 0, fmt.Errorf("%w: the film takes no more passes", ErrBadTile)
	}
	if f.added != f.nLive {
		return f.nLive, fmt.Errorf("%w: pass %d has %d of its %d pixels", ErrBadTile, f.done+1, f.added, f.nLive)
	}
	k := f.done
	f.done++
	f.added = 0
	if f.decides(k) {
		f.stopConverged()
	}
	return f.Live(), nil
}

// stopConverged stops every live pixel whose 3x3 neighbourhood holds no
// live pixel with an error at or above the threshold (a NaN counts as
// above).
func (f *Film) stopConverged() {
	w, h := f.width, f.height
	noisy := make([]bool, len(f.live)) // live and not converged
	for p, l := range f.live {
		noisy[p] = l && !(float64(f.errs[p]) < f.noise)
	}
	// The 3x3 box, one axis at a time: along rows, then along columns.
	row := make([]bool, len(f.live))
	for y := range h {
		for x := range w {
			p := y*w + x
			row[p] = noisy[p] || x > 0 && noisy[p-1] || x+1 < w && noisy[p+1]
		}
	}
	f.nLive = 0
	for y := range h {
		for x := range w {
			p := y*w + x
			if !f.live[p] {
				continue
			}
			f.live[p] = row[p] || y > 0 && row[p-w] || y+1 < h && row[p+w]
			if f.live[p] {
				f.nLive++
			}
		}
	}
}

// value writes pixel p's value with sums s after passes passes.
func (f *Film) value(dst, s []float32, passes int) {
	if passes == 0 {
		dst[0], dst[1], dst[2] = 0, 0, 0
		return
	}
	n := f.ends[passes-1]
	dst[0], dst[1], dst[2] = passMean(s[0], n), passMean(s[1], n), passMean(s[2], n)
}

// Pixels writes the pixels of r (inside the image) as the passes ended
// make them into dst (3 float32 a pixel, row-major): RenderTile's bits
// for a pixel's samples; black for a pixel before the first pass ended.
func (f *Film) Pixels(r image.Rectangle, dst []float32) {
	k := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := y*f.width + x
			f.value(dst[k:k+3], f.sum[3*p:3*p+3], min(int(f.got[p]), f.done))
			k += 3
		}
	}
}

// Image returns the image of the passes ended.
func (f *Film) Image() *Image {
	m := NewImage(f.width, f.height)
	f.Pixels(image.Rect(0, 0, f.width, f.height), m.Pix)
	return m
}

// Preview writes into dst (3 float32 a pixel of r) the pixels of r as they
// will be once the next pass is ended with pix (its sums of the pixels of r
// that mask selects, not added), the others as they are: what a preview
// shows of a tile of the pass under way.
func (f *Film) Preview(r image.Rectangle, mask []byte, pix []float32, dst []float32) error {
	if err := f.checkTile(r, mask, pix); err != nil {
		return err
	}
	f.Pixels(r, dst)
	w := r.Dx()
	each(r, f.width, mask, func(p, j int) {
		var s [3]float32
		copy(s[:], f.sum[3*p:3*p+3])
		s[0] += pix[3*j]
		s[1] += pix[3*j+1]
		s[2] += pix[3*j+2]
		x, y := p%f.width-r.Min.X, p/f.width-r.Min.Y
		f.value(dst[3*(y*w+x):3*(y*w+x)+3], s[:], f.done+1)
	})
	return nil
}

// Samples returns the samples pixel (x, y) has had in the passes ended.
func (f *Film) Samples(x, y int) int {
	if g := min(int(f.got[y*f.width+x]), f.done); g > 0 {
		return f.ends[g-1]
	}
	return 0
}

// SampleImage returns the samples of each pixel in the passes ended as an
// image (the count in every channel).
func (f *Film) SampleImage() *Image {
	m := NewImage(f.width, f.height)
	for p := range f.got {
		v := float32(f.Samples(p%f.width, p/f.width))
		m.Pix[3*p], m.Pix[3*p+1], m.Pix[3*p+2] = v, v, v
	}
	return m
}

// SampleStats returns the fewest, the median (the lower one of an even
// count) and the most samples of a pixel in the passes ended.
func (f *Film) SampleStats() (lo, median, hi int) {
	var count [maxPasses + 1]int
	for _, g := range f.got {
		count[min(int(g), f.done)]++
	}
	value := func(g int) int {
		if g == 0 {
			return 0
		}
		return f.ends[g-1]
	}
	mid := (len(f.got) - 1) / 2
	seen, first := 0, true
	for g, c := range count {
		if c == 0 {
			continue
		}
		if first {
			lo, first = value(g), false
		}
		if seen <= mid && mid < seen+c {
			median = value(g)
		}
		seen += c
		hi = value(g)
	}
	return lo, median, hi
}
