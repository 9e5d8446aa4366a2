package render

import (
	"math"
	"slices"
	"unsafe"
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

// bvhWidth is the children of a traversal node.
const bvhWidth = 4

// bvhNode is a node of the tree as traversal reads it: the boxes of up to
// four children as float32 structure of arrays, so that one node answers
// which of its children a ray enters with the same few operations on each,
// and two cache lines hold it. A child is an interior node (count 0: child
// is its index), a leaf or an empty slot (count 0 and an inverted box,
// which no ray enters). A leaf holds primitives of one kind: count&leafCount
// of them from child, of kind count>>leafKindShift.
type bvhNode struct {
	box   [2][3][bvhWidth]float32 // [0: min, 1: max][axis][child]
	child [bvhWidth]int32
	count [bvhWidth]uint16
	_     [8]byte // 128 bytes
}

const (
	bvhBins     = 16 // SAH bins per axis
	bvhLeafMax  = 4  // a node of up to this many primitives may become a leaf
	bvhLeafHard = 64 // a node of more primitives is always split if it can be
	// bvhLeafMerge: a subtree of up to this many primitives becomes one
	// leaf of the wide tree.
	bvhLeafMerge = 4
	// A leaf's count: the primitives in the low bits, their kind above.
	leafKindShift = 14
	leafCount     = 1<<leafKindShift - 1
	bvhSAHDepth   = 36 // below this depth, split at the median to bound the tree's depth
	// bvhMaxDepth bounds the binary tree's depth: bvhSAHDepth SAH levels,
	// then median splits that halve a node, for up to 2^27 primitives (the
	// wide tree is no deeper than the binary one it collapses).
	// Two more levels split a leaf's primitives by kind.
	bvhMaxDepth = bvhSAHDepth + 28 + 2
	// bvhStackSize holds every subtree a traversal leaves for later: a
	// node pushes at most bvhWidth entries and takes one, at each level.
	bvhStackSize = 256
	traverseCost = 1.0
)

// The traversal stack must hold (bvhWidth-1) entries a level plus the
// children of the deepest node; it is a power of two so that an index
// masked by bvhStackSize-1 needs no bounds check.
var _ [bvhStackSize - (bvhWidth-1)*bvhMaxDepth - bvhWidth]struct{}
var _ [0]struct{} = [bvhStackSize & (bvhStackSize - 1)]struct{}{}

// traverse reads a node's boxes at byte offsets from its start.
var _ [unsafe.Offsetof(bvhNode{}.box)]struct{} = [0]struct{}{}
var _ [unsafe.Sizeof(bvhNode{}.box)]struct{} = [2 * 3 * 4 * bvhWidth]struct{}{}

// bvh is a flattened tree of 4-wide nodes over primitives, in depth-first
// order. Node 0 is the root.
type bvh struct {
	nodes []bvhNode
}

// buildInput is what the builder knows of each primitive.
type buildInput struct {
	lo, hi, c []Vec // bounds and centroids, by primitive
	kind      []primKind
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
		kind:  make([]primKind, n),
		idx:   make([]int32, n),
		nodes: make([]buildNode, 0, max(1, 2*n/bvhLeafMax)),
	}
	for i := range prims {
		in.lo[i], in.hi[i] = prims[i].bounds()
		in.c[i] = in.lo[i].Add(in.hi[i]).Scale(0.5)
		in.kind[i] = prims[i].kind
		in.idx[i] = int32(i)
	}
	if n > 0 {
		in.build(0, n, 0)
	}
	kindOf := make([]primKind, n) // by slot
	for slot, i := range in.idx {
		kindOf[slot] = in.kind[i]
	}
	return flatten(in.nodes, kindOf), in.idx
}

// flatten collapses the builder's binary tree into 4-wide nodes: a node
// takes its two children, then repeatedly replaces the interior child of
// largest surface area with that child's two children, until it has four
// or only leaves are left. A child whose subtree holds at most bvhLeafMerge
// primitives becomes a leaf of them all: they are contiguous, and testing
// them costs less than a node. Leaves keep their primitives, so the order
// of the primitives is the binary tree's.
func flatten(bn []buildNode, kindOf []primKind) bvh {
	var t bvh
	if len(bn) == 0 {
		return t
	}
	// The primitives under each builder node: children come after their
	// parent, so one backward pass sums them.
	size := make([]int32, len(bn))
	kinds := make([]uint8, len(bn)) // a bit for each kind of primitive under the node
	for i := len(bn) - 1; i >= 0; i-- {
		if b := &bn[i]; b.count > 0 {
			size[i] = int32(b.count)
			kinds[i] = 1 << kindOf[b.offset]
		} else {
			size[i] = size[i+1] + size[b.offset]
			kinds[i] = kinds[i+1] | kinds[b.offset]
		}
	}
	c := collapser{bn: bn, size: size, kinds: kinds, kindOf: kindOf, t: &t}
	t.nodes = make([]bvhNode, 0, len(bn)/(bvhWidth-1)+1)
	if bn[0].count > 0 || c.mergeable(0) {
		// A tree that is one leaf: a root with that leaf alone.
		t.nodes = append(t.nodes, emptyNode())
		c.leaf(0, 0, 0)
		return t
	}
	c.node(0)
	return t
}

// collapser holds what flatten needs while it collapses.
type collapser struct {
	bn     []buildNode
	size   []int32    // primitives under each builder node
	kinds  []uint8    // bit k set: primitives of kind k under the builder node
	kindOf []primKind // by slot
	t      *bvh
}

// mergeable reports whether builder node i, interior or not, can be one
// leaf: few primitives, all of one kind.
func (c *collapser) mergeable(i int32) bool {
	k := c.kinds[i]
	return c.size[i] <= bvhLeafMerge && k&(k-1) == 0
}

// leaf makes slot j of node me a leaf of every primitive under builder node i.
func (c *collapser) leaf(me int32, j int, i int32) {
	first := c.first(i)
	c.t.nodes[me].set(j, &c.bn[i], first, c.size[i]|int32(c.kindOf[first])<<leafKindShift)
}

// first returns the first primitive under builder node i.
func (c *collapser) first(i int32) int32 {
	for c.bn[i].count == 0 {
		i++
	}
	return c.bn[i].offset
}

// node appends the wide node of the builder's interior node i and its
// subtree, and returns its index.
func (c *collapser) node(i int32) int32 {
	bn := c.bn
	kids := [bvhWidth]int32{i + 1, bn[i].offset}
	k := 2
	for k < bvhWidth {
		best, bestArea := -1, -1.0
		for j := range k {
			if b := &bn[kids[j]]; b.count == 0 {
				if a := boxArea(b); a > bestArea {
					best, bestArea = j, a
				}
			}
		}
		if best < 0 {
			break
		}
		kid := kids[best]
		kids[best], kids[k] = kid+1, bn[kid].offset
		k++
	}
	me := int32(len(c.t.nodes))
	c.t.nodes = append(c.t.nodes, emptyNode())
	for j, kid := range kids[:k] {
		if bn[kid].count > 0 || c.mergeable(kid) {
			c.leaf(me, j, kid)
		} else {
			c.t.nodes[me].set(j, &bn[kid], c.node(kid), 0)
		}
	}
	return me
}

// emptyNode returns a node whose every slot is empty.
func emptyNode() bvhNode {
	var n bvhNode
	inf := float32(math.Inf(1))
	for a := range 3 {
		for c := range bvhWidth {
			n.box[0][a][c], n.box[1][a][c] = inf, -inf
		}
	}
	return n
}

// set makes slot c of n a child with the box of the builder's node b: the
// node at index ref (count 0), or a leaf from primitive ref (count, see
// bvhNode).
func (n *bvhNode) set(c int, b *buildNode, ref, count int32) {
	for a := range 3 {
		n.box[0][a][c], n.box[1][a][c] = b.lo[a], b.hi[a]
	}
	n.child[c], n.count[c] = ref, uint16(count)
}

// boxArea is surfaceArea of a builder's node.
func boxArea(b *buildNode) float64 {
	v := func(p [3]float32) Vec { return Vec{X: float64(p[0]), Y: float64(p[1]), Z: float64(p[2])} }
	return surfaceArea(v(b.lo), v(b.hi))
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
		if k := in.kindSplit(start, end); k > start {
			// Primitives of several kinds: split by kind, so that every
			// leaf holds one kind and traversal knows which test to run.
			in.build(start, k, depth+1)
			in.nodes[me].offset = in.build(k, end, depth+1)
			return me
		}
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

// kindSplit moves the primitives of idx[start:end] of the least kind there
// to the front and returns where the others start, or start when they are
// all of one kind.
func (in *buildInput) kindSplit(start, end int) int {
	least := in.kind[in.idx[start]]
	mixed := false
	for _, i := range in.idx[start+1 : end] {
		mixed = mixed || in.kind[i] != least
		least = min(least, in.kind[i])
	}
	if !mixed {
		return start
	}
	i, j := start, end-1
	for i <= j {
		if in.kind[in.idx[i]] == least {
			i++
		} else {
			in.idx[i], in.idx[j] = in.idx[j], in.idx[i]
			j--
		}
	}
	return i
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
