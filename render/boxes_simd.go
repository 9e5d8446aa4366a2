//go:build goexperiment.simd && amd64

package render

import "simd/archsimd"

// simdBoxes says whether traverse tests a node's four boxes with vector
// instructions: this build has them (GOEXPERIMENT=simd) and the CPU has
// AVX. Tests turn it off to compare with the scalar test, which every
// build keeps.
var simdBoxes = archsimd.X86.AVX()

// lanes and ilanes are the four float32 and int32 lanes of a box test.
type (
	lanes  = archsimd.Float32x4
	ilanes = archsimd.Int32x4
)

func broadcast(x float32) lanes   { return archsimd.BroadcastFloat32x4(x) }
func broadcastInt(x int32) ilanes { return archsimd.BroadcastInt32x4(x) }

// boxes4 is traverse's box test of a node's four children at once, with
// the same operations lane by lane, so the same results bit for bit: the
// distances to the six rows of faces (near x, y, z, far x, y, z), as the
// integers of their float32 bits; the entry distance, clamped at 0, stored
// in tn; and a bit set for each child whose entry is at most its exit and
// tm.
func boxes4(xn, yn, zn, xf, yf, zf *[bvhWidth]float32, ox, oy, oz, ix, iy, iz lanes, tm ilanes, tn *[bvhWidth]int32) uint {
	near := archsimd.LoadFloat32x4(xn).Sub(ox).Mul(ix).AsInt32x4().
		Max(archsimd.LoadFloat32x4(yn).Sub(oy).Mul(iy).AsInt32x4()).
		Max(archsimd.LoadFloat32x4(zn).Sub(oz).Mul(iz).AsInt32x4()).
		Max(ilanes{})
	far := archsimd.LoadFloat32x4(xf).Sub(ox).Mul(ix).AsInt32x4().
		Min(archsimd.LoadFloat32x4(yf).Sub(oy).Mul(iy).AsInt32x4()).
		Min(archsimd.LoadFloat32x4(zf).Sub(oz).Mul(iz).AsInt32x4()).
		Min(tm)
	near.Store(tn)
	return uint(^near.Greater(far).ToBits()) & (1<<bvhWidth - 1)
}
