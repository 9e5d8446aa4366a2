package render

import (
	"math"
	"slices"
)

// buildNode is a node as the builder makes it: 32 bytes. Nodes are stored
// depth first: an interior node's first child follows it, its second child
// is at offset. A leaf holds the count primitives starting at offset.
type buildNode struct {
	lo     [3]float32
	offset int32
	hi     [3]float32
	count  uint16 // 0 for an interior node
	axis   uint8  // split axis of an interior node
	_      uint8
}

// bvhNode is a node of the tree as traversal reads it: the boxes of its two
// children side by side, 64 bytes, so that one cache line answers which
// children a ray enters and in which order (the same data as two 32-byte
// nodes, read together).
type bvhNode struct {
	box   [2][2][3]float32 // [child][0: min, 1: max][axis]
	child [2]int32         // >= 0: index of an interior node; < 0: leaf -child-1
	_     [2]int32
}

// bvhLeaf is a run of primitives.
type bvhLeaf struct{ first, count int32 }

const (
	bvhBins      = 16 // SAH bins per axis
	bvhLeafMax   = 4  // a node of up to this many primitives may become a leaf
	bvhLeafHard  = 64 // a node of more primitives is always split if it can be
	bvhSAHDepth  = 36 // below this depth, split at the median to bound the tree's depth
	bvhStackSize = 64 // traversal stack: bvhSAHDepth + log2(2^27 primitives) fits
	traverseCost = 1.0
)

// bvh is a flattened tree over primitives. Node 0 is the root; a tree whose
// root is a leaf gets a root node with that leaf and an empty box.
type bvh struct {
	nodes  []bvhNode
	leaves []bvhLeaf
}

// buildInput is what the builder knows of each primitive.
type buildInput struct {
	lo, hi, c []Vec // bounds and centroids, by primitive
	idx       []int32
	nodes     []buildNode
}

// buildBVH builds a tree over the shapes and returns it with the order in
// which they must be stored (order[i] is the shape that goes to slot i).
func buildBVH(prims []shape) (bvh, []int32) {
	n := len(prims)
	in := &buildInput{
		lo:    make([]Vec, n),
		hi:    make([]Vec, n),
		c:     make([]Vec, n),
		idx:   make([]int32, n),
		nodes: make([]buildNode, 0, max(1, 2*n/bvhLeafMax)),
	}
	for i := range prims {
		in.lo[i], in.hi[i] = prims[i].bounds()
		in.c[i] = in.lo[i].Add(in.hi[i]).Scale(0.5)
		in.idx[i] = int32(i)
	}
	if n > 0 {
		in.build(0, n, 0)
	}
	return flatten(in.nodes), in.idx
}

// flatten turns the builder's nodes into traversal nodes.
func flatten(bn []buildNode) bvh {
	var t bvh
	if len(bn) == 0 {
		return t
	}
	t.nodes = make([]bvhNode, 0, len(bn)/2+1)
	var ref func(i int32) int32
	ref = func(i int32) int32 {
		n := &bn[i]
		if n.count > 0 {
			t.leaves = append(t.leaves, bvhLeaf{first: n.offset, count: int32(n.count)})
			return -int32(len(t.leaves))
		}
		me := int32(len(t.nodes))
		t.nodes = append(t.nodes, bvhNode{})
		l, r := i+1, n.offset
		a := ref(l)
		b := ref(r)
		t.nodes[me] = bvhNode{
			box:   [2][2][3]float32{{bn[l].lo, bn[l].hi}, {bn[r].lo, bn[r].hi}},
			child: [2]int32{a, b},
		}
		return me
	}
	if bn[0].count == 0 {
		ref(0)
		return t
	}
	inf := float32(math.Inf(1))
	t.nodes = append(t.nodes, bvhNode{})
	leaf := ref(0)
	t.nodes[0] = bvhNode{
		box:   [2][2][3]float32{{bn[0].lo, bn[0].hi}, {{inf, inf, inf}, {-inf, -inf, -inf}}},
		child: [2]int32{leaf, leaf},
	}
	return t
}

// surfaceArea returns half the surface area of the box (enough for ratios).
func surfaceArea(lo, hi Vec) float64 {
	d := hi.Sub(lo)
	if d.X < 0 || d.Y < 0 || d.Z < 0 {
		return 0
	}
	return d.X*d.Y + d.Y*d.Z + d.Z*d.X
}

// roundDown and roundUp convert to float32 one step outwards, so that a box
// never loses a point to rounding and never has zero thickness: a flat,
// axis-aligned triangle still has a box a ray can enter.
func roundDown(x float64) float32 {
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return math.Nextafter32(f, float32(math.Inf(-1)))
}

func roundUp(x float64) float32 {
	f := float32(x)
	if float64(f) < x {
		f = math.Nextafter32(f, float32(math.Inf(1)))
	}
	return math.Nextafter32(f, float32(math.Inf(1)))
}

type bin struct {
	lo, hi Vec
	n      int
}

func emptyBounds() (Vec, Vec) {
	inf := math.Inf(1)
	return Vec{X: inf, Y: inf, Z: inf}, Vec{X: -inf, Y: -inf, Z: -inf}
}

// build makes the subtree of idx[start:end] and returns its node index.
func (in *buildInput) build(start, end, depth int) int32 {
	lo, hi := emptyBounds()
	clo, chi := emptyBounds()
	for _, i := range in.idx[start:end] {
		lo, hi = lo.Min(in.lo[i]), hi.Max(in.hi[i])
		clo, chi = clo.Min(in.c[i]), chi.Max(in.c[i])
	}
	me := int32(len(in.nodes))
	in.nodes = append(in.nodes, buildNode{
		lo: [3]float32{roundDown(lo.X), roundDown(lo.Y), roundDown(lo.Z)},
		hi: [3]float32{roundUp(hi.X), roundUp(hi.Y), roundUp(hi.Z)},
	})
	n := end - start
	leaf := func() int32 {
		in.nodes[me].offset = int32(start)
		in.nodes[me].count = uint16(n)
		return me
	}
	if n <= 1 {
		return leaf()
	}

	ext := chi.Sub(clo)
	axis := 0
	if ext.Y > ext.Axis(axis) {
		axis = 1
	}
	if ext.Z > ext.Axis(axis) {
		axis = 2
	}
	mid := -1
	if ext.Axis(axis) == 0 {
		// Every centroid is the same point: no split separates them.
		if n <= bvhLeafHard {
			return leaf()
		}
		mid = start + n/2
	} else if depth >= bvhSAHDepth {
		mid = in.median(start, end, axis)
	} else {
		var cost float64
		largest := axis
		axis, mid, cost = in.sahSplit(start, end, lo, hi, clo, chi)
		switch {
		case n <= bvhLeafMax && (mid < 0 || cost >= float64(n)):
			return leaf()
		case mid < 0 && n <= bvhLeafHard:
			return leaf()
		case mid < 0:
			axis = largest
			mid = in.median(start, end, axis)
		}
	}
	in.nodes[me].axis = uint8(axis)
	in.build(start, mid, depth+1)
	second := in.build(mid, end, depth+1)
	in.nodes[me].offset = second
	return me
}

// median sorts idx[start:end] by centroid along axis and returns the middle.
func (in *buildInput) median(start, end, axis int) int {
	slices.SortFunc(in.idx[start:end], func(a, b int32) int {
		ca, cb := in.c[a].Axis(axis), in.c[b].Axis(axis)
		switch {
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		}
		return int(a - b)
	})
	return start + (end-start)/2
}

// sahSplit finds the best binned SAH split over all three axes, partitions
// idx[start:end] by it and returns the axis, the split point and the cost
// relative to intersecting every primitive of the node. mid is -1 when no
// split separates the primitives.
func (in *buildInput) sahSplit(start, end int, lo, hi, clo, chi Vec) (axis, mid int, cost float64) {
	area := surfaceArea(lo, hi)
	bestCost, bestAxis, bestBin := math.Inf(1), -1, 0
	var bins [bvhBins]bin
	var rightArea [bvhBins]float64
	var rightCount [bvhBins]int
	for a := 0; a < 3; a++ {
		cmin, cext := clo.Axis(a), chi.Axis(a)-clo.Axis(a)
		if cext <= 0 {
			continue
		}
		for b := range bins {
			bins[b].lo, bins[b].hi = emptyBounds()
			bins[b].n = 0
		}
		k := bvhBins / cext
		for _, i := range in.idx[start:end] {
			b := min(int((in.c[i].Axis(a)-cmin)*k), bvhBins-1)
			bins[b].n++
			bins[b].lo, bins[b].hi = bins[b].lo.Min(in.lo[i]), bins[b].hi.Max(in.hi[i])
		}
		// Sweep from the right, then from the left.
		rlo, rhi := emptyBounds()
		rn := 0
		for b := bvhBins - 1; b > 0; b-- {
			rlo, rhi = rlo.Min(bins[b].lo), rhi.Max(bins[b].hi)
			rn += bins[b].n
			rightArea[b], rightCount[b] = surfaceArea(rlo, rhi), rn
		}
		llo, lhi := emptyBounds()
		ln := 0
		for b := 0; b < bvhBins-1; b++ {
			llo, lhi = llo.Min(bins[b].lo), lhi.Max(bins[b].hi)
			ln += bins[b].n
			if ln == 0 || rightCount[b+1] == 0 {
				continue
			}
			c := surfaceArea(llo, lhi)*float64(ln) + rightArea[b+1]*float64(rightCount[b+1])
			if c < bestCost {
				bestCost, bestAxis, bestBin = c, a, b
			}
		}
	}
	if bestAxis < 0 {
		return 0, -1, math.Inf(1)
	}
	cost = traverseCost
	if area > 0 {
		cost += bestCost / area
	}
	// Partition: bins 0..bestBin go left.
	cmin, k := clo.Axis(bestAxis), bvhBins/(chi.Axis(bestAxis)-clo.Axis(bestAxis))
	i, j := start, end-1
	for i <= j {
		b := min(int((in.c[in.idx[i]].Axis(bestAxis)-cmin)*k), bvhBins-1)
		if b <= bestBin {
			i++
		} else {
			in.idx[i], in.idx[j] = in.idx[j], in.idx[i]
			j--
		}
	}
	if i == start || i == end {
		return bestAxis, -1, cost
	}
	return bestAxis, i, cost
}
