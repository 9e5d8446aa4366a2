//go:build !(goexperiment.simd && amd64)

package render

// simdBoxes is false: this build has no vector box test (see
// boxes_simd.go), and traverse compiles only its scalar one.
const simdBoxes = false

type (
	lanes  struct{}
	ilanes struct{}
)

func broadcast(float32) lanes   { return lanes{} }
func broadcastInt(int32) ilanes { return ilanes{} }

// boxes4 is never called in this build.
func boxes4(_, _, _, _, _, _ *[bvhWidth]float32, _, _, _, _, _, _ lanes, _ ilanes, _ *[bvhWidth]int32) uint {
	return 0
}
