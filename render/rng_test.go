package render

// rng is a small counter-based generator (SplitMix64) for tests: random
// points, directions and scenes that are the same on every run.
type rng struct{ s uint64 }

// newRNG returns the generator of stream i of key.
func newRNG(key uint64, i int) rng {
	return rng{s: mix64(key ^ mix64(uint64(i)+0x13198A2E03707344))}
}

func (r *rng) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	return mix64(r.s)
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) * 0x1p-53 }
