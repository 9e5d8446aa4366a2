package render

import (
	"math"
	"math/bits"
)

// The sampler: every number a path uses comes from a randomised
// low-discrepancy sequence, one per dimension of the path, seeded only from
// the pixel and the sample index.
//
// A dimension d of sample i of a pixel is a point of the first one or two
// dimensions of the Sobol sequence at a shuffled index: the index is
// shuffled by a nested uniform (Owen) scramble of its bits seeded by (pixel,
// d), a Laine-Karras-style hash (Burley, "Practical Hash-based Owen
// Scrambling", JCGT 2020), so that the first 2^k samples of a pixel are
// still one whole aligned block of 2^k points of the sequence, and each
// coordinate is randomised by a digital shift (XOR with a seed of (pixel, d,
// coordinate)). So each dimension on its own is as stratified as the Sobol
// sequence (in 2D, the first 2^k samples put one point in every cell of
// every dyadic grid of 2^k cells), dimensions are independent of one
// another (this is "padding": the shuffles pair them at random), and pixels
// are independent. Owen scrambling of the coordinates too, as Burley does,
// measured no better here (cornell at depth 8, 64 spp: the same variance)
// for three times the cost. Nothing is precomputed per pixel, and sample i
// costs the same whatever i: it is computed from (pixel, i) alone, in any
// order, which progressive rendering over index ranges needs.
//
// Dimensions are allocated per path vertex (dimBounce + (depth-1)·
// dimsPerBounce + slot), one slot per decision, so a number means the same
// thing in every sample and a decision a path does not take costs nothing.
// A path split at its first vertex (splitFirst) draws that vertex's light
// sample, and everything before it, from sample i, and its branches'
// decisions after it from indices splitFirst*i+b (sampler.branch).
// (Linking each BSDF direction and the next vertex's light sample in one
// 4D dimension of Sobol's first four measured 3% less variance on cornell,
// but Sobol's dimensions 2 and 3 put the first four points on a diagonal:
// not worth it.)

// Dimensions of a sample.
const (
	dimPixel = 0 // 2D: position in the pixel
	dimLens  = 1 // 2D: position on the lens
	// dimBounce + (depth-1)*dimsPerBounce + slot: the decisions at vertex depth.
	dimBounce     = 2
	dimsPerBounce = 5
)

// Slots of a vertex's dimensions.
const (
	slotLightPick = iota // 1D: which light
	slotLight            // 2D: where on it
	slotLobe             // 1D: which BSDF lobe, or reflection or refraction
	slotBSDF             // 2D: the BSDF direction
	slotRoulette         // 1D: Russian roulette
)

// sampler generates the numbers of one sample of one pixel.
type sampler struct {
	key uint64 // the pixel's
	rev uint32 // the sample index, bit-reversed
	// brev is the index of the dimensions from bdim on (a branch's, see
	// branch), bit-reversed.
	brev, bdim uint32
}

// newSampler returns the sampler of sample i of the pixel whose key is key
// (pixelKey).
func newSampler(key uint64, i int) sampler {
	r := bits.Reverse32(uint32(i))
	return sampler{key: key, rev: r, brev: r, bdim: math.MaxUint32}
}

// branch makes the sample's dimensions from the first vertex's BSDF lobe on
// those of branch b of the path's split (splitFirst): index splitFirst*i+b,
// where i is the sample's, so that the branches of a pixel's samples are as
// stratified among themselves as its samples are.
func (sp *sampler) branch(b int) {
	sp.brev = bits.Reverse32(splitFirst*bits.Reverse32(sp.rev) + uint32(b))
	sp.bdim = bounceDim(1, slotLobe)
}

// bounceDim is the dimension of slot at path vertex depth (1 for the
// camera ray's hit).
func bounceDim(depth, slot int) uint32 {
	return uint32(dimBounce + (depth-1)*dimsPerBounce + slot)
}

// index returns the shuffled index of dimension d in bit-reversed order
// (which is also the first Sobol coordinate at that index, as a 32-bit
// fraction) and a 64-bit hash of (pixel, d) for the digital shifts.
func (sp *sampler) index(d uint32) (uint32, uint64) {
	h := mix64(sp.key + uint64(d+1)*0x9E3779B97F4A7C15)
	r := sp.rev
	if d >= sp.bdim {
		r = sp.brev
	}
	return laineKarras(r, uint32(h)), h
}

// get1D returns dimension d of the sample, in [0,1).
func (sp *sampler) get1D(d uint32) float64 {
	t, h := sp.index(d)
	return float64(t^uint32(h>>32)) * 0x1p-32
}

// get2D returns dimension d of the sample, a point in [0,1)².
func (sp *sampler) get2D(d uint32) (float64, float64) {
	t, h := sp.index(d)
	h2 := h * 0xD1B54A32D192ED03
	return float64(t^uint32(h>>32)) * 0x1p-32, float64(sobol(sobol1, t)^uint32(h2>>32)) * 0x1p-32
}

// laineKarras is a nested uniform scramble of a bit-reversed 32-bit
// number: each bit is flipped or not by a hash of the seed and of the bits
// below it (the more significant ones of the number it reverses). The
// constants are Burley's (2020).
func laineKarras(x, seed uint32) uint32 {
	x ^= x * 0x3d20adea
	x += seed
	x *= (seed >> 16) | 1
	x ^= x * 0x05526c56
	x ^= x * 0x53a22864
	return x
}

// sobolTable gives a Sobol dimension's value at an index as a function of
// the index bit-reversed (t), one byte of t at a time: entry [k][b] is the
// XOR of the direction numbers that the bits of byte b at byte k of t
// select.
type sobolTable [4][256]uint32

// sobol returns the table's dimension at the index whose bit reversal is t.
func sobol(tab *sobolTable, t uint32) uint32 {
	return tab[0][t&0xff] ^ tab[1][t>>8&0xff] ^ tab[2][t>>16&0xff] ^ tab[3][t>>24]
}

// sobol1 is Sobol's second dimension (the first is the bit-reversed index
// itself), of primitive polynomial x+1 (Joe and Kuo's d = 2).
var sobol1 = newSobolTable(sobolDirections(1, 0, []uint32{1}))

// sobolDirections returns the 32 direction numbers (as 32-bit fractions)
// of the Sobol dimension whose primitive polynomial has degree s and inner
// coefficients a (bit s-1-i is the coefficient of x^(s-i)), with initial
// numbers m.
func sobolDirections(s int, a uint32, m []uint32) [32]uint32 {
	var mk [33]uint32
	for k := 1; k <= s; k++ {
		mk[k] = m[k-1]
	}
	for k := s + 1; k <= 32; k++ {
		x := mk[k-s] ^ mk[k-s]<<s
		for i := 1; i < s; i++ {
			if a>>(s-1-i)&1 != 0 {
				x ^= mk[k-i] << i
			}
		}
		mk[k] = x
	}
	var v [32]uint32
	for k := 1; k <= 32; k++ {
		v[k-1] = mk[k] << (32 - k)
	}
	return v
}

// newSobolTable tabulates the dimension of direction numbers v: bit k of
// the index selects v[k], and bit j of t is bit 31-j of the index.
func newSobolTable(v [32]uint32) *sobolTable {
	tab := new(sobolTable)
	for k := range 4 {
		for b := range 256 {
			x := uint32(0)
			for i := range 8 {
				if b>>i&1 != 0 {
					x ^= v[31-(8*k+i)]
				}
			}
			tab[k][b] = x
		}
	}
	return tab
}
