package render

import "math"

// mix64 is SplitMix64's finaliser: a bijective 64-bit hash.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// pixelKey is a hash of the pixel coordinates and the frame: every sample
// of the pixel is seeded from it and the sample index (newSampler), which makes
// a pixel independent of tiles, workers, nodes and the order of work. frame
// is frameSeed of the frame, 0 for a still (whose keys are then those of
// the pixel alone). This is the one place where the frame enters the
// samples.
func pixelKey(x, y int, frame uint64) uint64 {
	return mix64((uint64(uint32(x)) | uint64(uint32(y))<<32 + 0x243F6A8885A308D3) ^ frame)
}

// sincos2pi returns sin(2πu) and cos(2πu) for u >= -1, the angle given in
// turns as samplers have it. It costs a third of math.Sincos and takes no
// data-dependent branch: u*4 is split exactly into a quarter turn k and a
// remainder in [-1/2, 1/2] quarter, whose sine and cosine come from the
// Cephes polynomials math.Sincos uses on [-π/4, π/4]; k swaps and negates
// them. It is as accurate as math.Sincos(2*math.Pi*u), whose argument is
// already rounded.
func sincos2pi(u float64) (sin, cos float64) {
	x := 4 * u
	k := int64(x+4.5) - 4 // round(x), for x >= -4.5
	z := (x - float64(k)) * (math.Pi / 2)
	zz := z * z
	c := 1 - 0.5*zz + zz*zz*((((((-1.13585365213876817300e-11*zz)+2.08757008419747316778e-9)*zz-2.75573141792967388112e-7)*zz+2.48015872888517045348e-5)*zz-1.38888888888730564116e-3)*zz+4.16666666666665929218e-2)
	s := z + z*zz*((((((1.58962301576546568060e-10*zz)-2.50507477628578072866e-8)*zz+2.75573136213857245213e-6)*zz-1.98412698295895385996e-4)*zz+8.33333333332211858878e-3)*zz-1.66666666666666307295e-1)
	// Quarter turn k: (sin, cos) becomes (s, c), (c, -s), (-s, -c), (-c, s).
	sb, cb := math.Float64bits(s), math.Float64bits(c)
	if k&1 != 0 {
		sb, cb = cb, sb
	}
	sb ^= uint64(k&2) << 62
	cb ^= uint64((k>>1^k)&1) << 63
	return math.Float64frombits(sb), math.Float64frombits(cb)
}

// cosineHemisphere maps (u1, u2) to a direction around +Z with density cosθ/π.
func cosineHemisphere(u1, u2 float64) Vec {
	r := math.Sqrt(u1)
	s, c := sincos2pi(u2)
	return Vec{X: r * c, Y: r * s, Z: math.Sqrt(max(0, 1-u1))}
}

// concentricDisk maps [0,1)² onto the unit disk, preserving stratification.
func concentricDisk(u1, u2 float64) (float64, float64) {
	a, b := 2*u1-1, 2*u2-1
	if a == 0 && b == 0 {
		return 0, 0
	}
	var r, turns float64 // the angle 2π*turns
	if a*a > b*b {
		r, turns = a, (b/a)/8
	} else {
		r, turns = b, 0.25-(a/b)/8
	}
	s, c := sincos2pi(turns)
	return r * c, r * s
}

// powerHeuristic is the MIS weight of a sample drawn with density pa when
// the other strategy would have drawn it with density pb (exponent 2).
func powerHeuristic(pa, pb float64) float64 {
	a, b := pa*pa, pb*pb
	if a+b == 0 {
		return 0
	}
	return a / (a + b)
}

// firstAbove returns the first index of a table of cumulative
// probabilities whose entry exceeds u in [0,1): the index u chooses (the
// last if rounding left none).
func firstAbove[T float32 | float64](cdf []T, u float64) int {
	lo, hi := 0, len(cdf)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if float64(cdf[m]) > u {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// searchCDF is firstAbove with the entry before the index (0 for the
// first) and the index's probability: the difference of the two, so that a
// density computed from it is exactly that of the choice.
func searchCDF[T float32 | float64](cdf []T, u float64) (i int, prev, p float64) {
	i = firstAbove(cdf, u)
	if i > 0 {
		prev = float64(cdf[i-1])
	}
	return i, prev, float64(cdf[i]) - prev
}
