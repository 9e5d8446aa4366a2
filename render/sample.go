package render

import "math"

// rng is a small counter-based generator (SplitMix64). A path's generator is
// seeded only from the pixel and the sample index, which is what makes every
// pixel independent of tiles, workers and the order of work.
type rng struct{ s uint64 }

// mix64 is SplitMix64's finaliser: a bijective 64-bit hash.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// pixelKey is a hash of the pixel coordinates alone.
func pixelKey(x, y int) uint64 {
	return mix64(uint64(uint32(x)) | uint64(uint32(y))<<32 + 0x243F6A8885A308D3)
}

// newRNG returns the generator of sample i of the pixel whose key is key.
func newRNG(key uint64, i int) rng {
	return rng{s: mix64(key ^ mix64(uint64(i)+0x13198A2E03707344))}
}

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	return mix64(r.s)
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// r2 is the additive recurrence of the plastic number (Roberts' R2 sequence):
// a 2D low-discrepancy sequence for any number of samples. Each pixel shifts
// it by its own random offset (Cranley-Patterson rotation).
const (
	r2a = 0.7548776662466927
	r2b = 0.5698402909980532
)

// r2Point returns point i of the R2 sequence shifted by (ox, oy), in [0,1)².
func r2Point(i int, ox, oy float64) (float64, float64) {
	fi := float64(i)
	u := ox + fi*r2a
	v := oy + fi*r2b
	return u - math.Floor(u), v - math.Floor(v)
}

// cosineHemisphere maps (u1, u2) to a direction around +Z with density cosθ/π.
func cosineHemisphere(u1, u2 float64) Vec {
	r := math.Sqrt(u1)
	phi := 2 * math.Pi * u2
	s, c := math.Sincos(phi)
	return Vec{X: r * c, Y: r * s, Z: math.Sqrt(max(0, 1-u1))}
}

// concentricDisk maps [0,1)² onto the unit disk, preserving stratification.
func concentricDisk(u1, u2 float64) (float64, float64) {
	a, b := 2*u1-1, 2*u2-1
	if a == 0 && b == 0 {
		return 0, 0
	}
	var r, phi float64
	if a*a > b*b {
		r, phi = a, math.Pi/4*(b/a)
	} else {
		r, phi = b, math.Pi/2-math.Pi/4*(a/b)
	}
	s, c := math.Sincos(phi)
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
