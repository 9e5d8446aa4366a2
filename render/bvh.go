package render

import (
	"math"
	"runtime"
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

// buildPrim is what the builder knows of a primitive: its bounds, rounded
// outwards to float32 (so that a box never loses a point to rounding and
// never has zero thickness: a flat, axis-aligned triangle still has a box a
// ray can enter), and its centroid, both also as ordered integers
// (orderKey), whose min and max are two instructions where a float's are
// five; its index and its kind. The builder moves these records rather
// than indices to them, so that its passes read memory in order.
type buildPrim struct {
	lo, hi [3]int32 // orderKey of the bounds
	ck     [3]int32 // orderKey of the centroid
	idk    uint32   // the index, and the kind in the top two bits
}

func (r *buildPrim) idx() int32      { return int32(r.idk & (1<<30 - 1)) }
func (r *buildPrim) kind() primKind  { return primKind(r.idk >> 30) }
func (r *buildPrim) c(a int) float32 { return fromKey(r.ck[a]) }

// orderKey maps float32s to int32s of the same order (negative floats have
// their magnitude bits flipped), so that integer comparisons order floats.
// It is its own inverse on the bits.
func orderKey(f float32) int32 {
	b := int32(math.Float32bits(f))
	return b ^ (b >> 31 & math.MaxInt32)
}

// fromKey is the float32 of an orderKey.
func fromKey(k int32) float32 { return math.Float32frombits(uint32(k ^ (k >> 31 & math.MaxInt32))) }

// builder builds the binary tree over its records.
type builder struct {
	recs []buildPrim
	leaf int // a node of this many primitives or fewer is a leaf
	// sem holds a token for each goroutine that may build a subtree beside
	// the caller's; nil builds everything on the caller's goroutine.
	sem chan struct{}
}

// bvhOneAxis: a node of more primitives than this is binned along the
// axis its centroids spread most on, not all three: a third of the work,
// and better trees on meshes (instructions per ray on the bunny 2,405
// against 2,624; on the million-triangle sphere 2,943 against 3,195), where
// all three axes suit the few big triangles of a room (cornell: 1,888
// against 2,005 with one axis everywhere).
const bvhOneAxis = 1024

// bvhBigLeaf: in a big scene (bigScene primitives or more) the builder
// makes a leaf of any node of this many primitives or fewer (of one kind;
// see build), where a small scene's leaves split down to one. The collapse
// merges the subtrees of up to bvhLeafMerge anyway: stopping at 3 leaves
// the trees much as they were (instructions per ray 0.5% more on the bunny,
// 5% on spheres.json) with a quarter fewer binary nodes to hold while the
// tree is built.
const bvhBigLeaf = 3

// bvhParallelMin is the fewest primitives a subtree must have to be built
// on a goroutine of its own.
const bvhParallelMin = 8192

// buildBVH builds a tree over the n primitives that shapeOf describes, on
// up to GOMAXPROCS goroutines, and returns it with the order in which they
// must be stored (order[i] is the primitive that goes to slot i). The tree
// is the same whatever the number of goroutines: each subtree is a function
// of its primitives alone, and subtrees built apart are joined in the order
// one goroutine would have made them.
func buildBVH(n int, shapeOf func(int) shape) (bvh, []int32) {
	b := &builder{recs: make([]buildPrim, n), leaf: 1}
	if n >= bigScene {
		b.leaf = bvhBigLeaf
	}
	var box box32
	box.empty()
	for i := range b.recs {
		sh := shapeOf(i)
		lo, hi := sh.bounds()
		r := &b.recs[i]
		l := [3]float32{roundDown(lo.X), roundDown(lo.Y), roundDown(lo.Z)}
		h := [3]float32{roundUp(hi.X), roundUp(hi.Y), roundUp(hi.Z)}
		for a := range 3 {
			r.lo[a], r.hi[a], r.ck[a] = orderKey(l[a]), orderKey(h[a]), orderKey(0.5*l[a]+0.5*h[a])
		}
		r.idk = uint32(i) | uint32(sh.kind)<<30
		box.add(r)
	}
	if procs := runtime.GOMAXPROCS(0); procs > 1 && n >= 2*bvhParallelMin {
		b.sem = make(chan struct{}, procs-1)
	}
	var nodes []buildNode
	if n > 0 {
		nodes = b.build(0, n, 0, box, make([]buildNode, 0, max(1, n)))
	}
	order := make([]int32, n)
	kindOf := make([]primKind, n) // by slot
	for slot := range b.recs {
		order[slot], kindOf[slot] = b.recs[slot].idx(), b.recs[slot].kind()
	}
	b.recs = nil
	if n >= bigScene {
		runtime.GC() // the records, before flatten allocates (see finish)
	}
	return flatten(nodes, kindOf), order
}

// box32 is the bounds of some records and of their centroids, as orderKeys.
type box32 struct {
	lo, hi, clo, chi [3]int32
}

func (x *box32) empty() {
	for a := range 3 {
		x.lo[a], x.hi[a], x.clo[a], x.chi[a] = math.MaxInt32, math.MinInt32, math.MaxInt32, math.MinInt32
	}
}

// add widens x to hold r.
func (x *box32) add(r *buildPrim) {
	for a := range 3 {
		x.lo[a], x.hi[a] = min(x.lo[a], r.lo[a]), max(x.hi[a], r.hi[a])
		x.clo[a], x.chi[a] = min(x.clo[a], r.ck[a]), max(x.chi[a], r.ck[a])
	}
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

// bin is one SAH bin: the box (orderKeys) of the primitives whose
// centroids fall in it, and how many.
type bin struct {
	lo, hi [3]int32
	n      int32
}

func emptyBounds() (Vec, Vec) {
	inf := math.Inf(1)
	return Vec{X: inf, Y: inf, Z: inf}, Vec{X: -inf, Y: -inf, Z: -inf}
}

// keyArea is surfaceArea of a box of orderKeys.
func keyArea(lo, hi *[3]int32) float64 {
	if lo[0] > hi[0] {
		return 0
	}
	return surfaceArea(Vec{X: float64(fromKey(lo[0])), Y: float64(fromKey(lo[1])), Z: float64(fromKey(lo[2]))},
		Vec{X: float64(fromKey(hi[0])), Y: float64(fromKey(hi[1])), Z: float64(fromKey(hi[2]))})
}

// build appends the nodes of the subtree of recs[start:end], whose bounds
// are box, to out, depth first (indices are positions in out), and returns
// out.
func (b *builder) build(start, end, depth int, box box32, out []buildNode) []buildNode {
	me := len(out)
	nd := buildNode{}
	for a := range 3 {
		nd.lo[a], nd.hi[a] = fromKey(box.lo[a]), fromKey(box.hi[a])
	}
	out = append(out, nd)
	n := end - start
	leaf := func() []buildNode {
		if k := b.kindSplit(start, end); k > start {
			// Primitives of several kinds: split by kind, so that every
			// leaf holds one kind and traversal knows which test to run.
			out = b.build(start, k, depth+1, b.bounds(start, k), out)
			out[me].offset = int32(len(out))
			return b.build(k, end, depth+1, b.bounds(k, end), out)
		}
		out[me].offset = int32(start)
		out[me].count = uint16(n)
		return out
	}
	if n <= b.leaf {
		return leaf()
	}

	clo := [3]float32{fromKey(box.clo[0]), fromKey(box.clo[1]), fromKey(box.clo[2])}
	ext := [3]float32{fromKey(box.chi[0]) - clo[0], fromKey(box.chi[1]) - clo[1], fromKey(box.chi[2]) - clo[2]}
	axis := 0
	if ext[1] > ext[axis] {
		axis = 1
	}
	if ext[2] > ext[axis] {
		axis = 2
	}
	mid := -1
	var left, right box32
	measured := false // left and right are the halves' bounds
	if ext[axis] == 0 {
		// Every centroid is the same point: no split separates them.
		if n <= bvhLeafHard {
			return leaf()
		}
		mid = start + n/2
	} else if depth >= bvhSAHDepth {
		mid = b.median(start, end, axis)
	} else {
		var cost float64
		largest := axis
		only := -1
		if n > bvhOneAxis || b.leaf > 1 {
			only = axis
		}
		area := keyArea(&box.lo, &box.hi)
		bigCost, bigClass := math.Inf(1), -1
		if depth < bvhBigDepth && n > bvhLeafHard {
			// Weighed before sahSplit partitions the records.
			bigCost, bigClass = b.bigCost(start, end, area)
		}
		axis, mid, cost, left, right = b.sahSplit(start, end, area, clo, ext, only)
		measured = mid >= 0
		if bigClass >= 0 && bigCost < cost {
			// The big primitives from the small (see bvhBigDepth).
			mid, cost, measured = b.bigPartition(start, end, area, bigClass), bigCost, false
		}
		switch {
		case n <= bvhLeafMax && (mid < 0 || cost >= float64(n)):
			return leaf()
		case mid < 0 && n <= bvhLeafHard:
			return leaf()
		case mid < 0:
			axis = largest
			mid = b.median(start, end, axis)
		}
	}
	if !measured {
		left, right = b.bounds(start, mid), b.bounds(mid, end)
	}
	out[me].axis = uint8(axis)
	if b.sem != nil && end-mid >= bvhParallelMin {
		select {
		case b.sem <- struct{}{}:
			// The second child on a goroutine of its own, into nodes of its
			// own, joined after the first's as one goroutine would have
			// placed them.
			var second []buildNode
			done := make(chan struct{})
			go func() {
				defer close(done)
				second = b.build(mid, end, depth+1, right, make([]buildNode, 0, end-mid))
				<-b.sem
			}()
			out = b.build(start, mid, depth+1, left, out)
			<-done
			base := int32(len(out))
			out[me].offset = base
			for _, nd := range second {
				if nd.count == 0 {
					nd.offset += base
				}
				out = append(out, nd)
			}
			return out
		default:
		}
	}
	out = b.build(start, mid, depth+1, left, out)
	out[me].offset = int32(len(out))
	return b.build(mid, end, depth+1, right, out)
}

// bounds measures recs[start:end].
func (b *builder) bounds(start, end int) box32 {
	var x box32
	x.empty()
	for i := start; i < end; i++ {
		x.add(&b.recs[i])
	}
	return x
}

// kindSplit moves the primitives of recs[start:end] of the least kind there
// to the front and returns where the others start, or start when they are
// all of one kind.
func (b *builder) kindSplit(start, end int) int {
	recs := b.recs
	least := recs[start].kind()
	mixed := false
	for i := start + 1; i < end; i++ {
		mixed = mixed || recs[i].kind() != least
		least = min(least, recs[i].kind())
	}
	if !mixed {
		return start
	}
	i, j := start, end-1
	for i <= j {
		if recs[i].kind() == least {
			i++
		} else {
			recs[i], recs[j] = recs[j], recs[i]
			j--
		}
	}
	return i
}

// median sorts recs[start:end] by centroid along axis (then index) and
// returns the middle.
func (b *builder) median(start, end, axis int) int {
	slices.SortFunc(b.recs[start:end], func(x, y buildPrim) int {
		switch {
		case x.ck[axis] < y.ck[axis]:
			return -1
		case x.ck[axis] > y.ck[axis]:
			return 1
		}
		return int(x.idx() - y.idx())
	})
	return start + (end-start)/2
}

// sahBins returns how many SAH bins a node of n primitives gets: 16 for big
// ones, fewer for small ones, whose sweep would otherwise cost more than
// their binning.
func sahBins(n int) int { return bvhBins }

// sahSplit finds the best binned SAH split over all three axes (one pass
// bins the centroids along each), partitions recs[start:end] by it and
// returns the axis, the split point, the cost relative to intersecting
// every primitive of the node (whose box has area area and whose centroids
// span ext from clo), and the bounds of the two sides. mid is -1 when no
// split separates the primitives.
func (b *builder) sahSplit(start, end int, area float64, clo, ext [3]float32, only int) (axis, mid int, cost float64, left, right box32) {
	left.empty()
	right.empty()
	nb := sahBins(end - start)
	var bins [3][bvhBins]bin
	// The empty bins spelled out, not emptyBin(): the compiler copies what
	// a function returns, and this runs at every node (a million
	// triangles' build took 30% longer).
	for a := range bins {
		for k := range bins[a][:nb] {
			bins[a][k] = bin{lo: [3]int32{math.MaxInt32, math.MaxInt32, math.MaxInt32}, hi: [3]int32{math.MinInt32, math.MinInt32, math.MinInt32}}
		}
	}
	// An axis along which the centroids do not spread puts them all in
	// its first bin, where no split is found.
	var scale [3]float32
	for a := range scale {
		if ext[a] > 0 && (a == only || only < 0) {
			scale[a] = float32(nb) / ext[a]
		}
	}
	last := nb - 1
	axes := 3
	if only >= 0 {
		axes = 1
	}
	for i := range b.recs[start:end] {
		r := &b.recs[start+i]
		for a := range axes {
			if only >= 0 {
				a = only
			}
			k := &bins[a][min(int((r.c(a)-clo[a])*scale[a]), last)]
			k.n++
			k.lo[0], k.lo[1], k.lo[2] = min(k.lo[0], r.lo[0]), min(k.lo[1], r.lo[1]), min(k.lo[2], r.lo[2])
			k.hi[0], k.hi[1], k.hi[2] = max(k.hi[0], r.hi[0]), max(k.hi[1], r.hi[1]), max(k.hi[2], r.hi[2])
		}
	}
	bestCost, bestAxis, bestBin := math.Inf(1), -1, 0
	var rightArea [bvhBins]float64
	var rightCount [bvhBins]int32
	for a := range bins {
		if scale[a] == 0 {
			continue
		}
		// Sweep from the right, then from the left.
		acc := bin{lo: [3]int32{math.MaxInt32, math.MaxInt32, math.MaxInt32}, hi: [3]int32{math.MinInt32, math.MinInt32, math.MinInt32}}
		for k := last; k > 0; k-- {
			acc.join(&bins[a][k])
			rightArea[k], rightCount[k] = keyArea(&acc.lo, &acc.hi), acc.n
		}
		acc = bin{lo: [3]int32{math.MaxInt32, math.MaxInt32, math.MaxInt32}, hi: [3]int32{math.MinInt32, math.MinInt32, math.MinInt32}}
		for k := 0; k < last; k++ {
			acc.join(&bins[a][k])
			if acc.n == 0 || rightCount[k+1] == 0 {
				continue
			}
			c := keyArea(&acc.lo, &acc.hi)*float64(acc.n) + rightArea[k+1]*float64(rightCount[k+1])
			if c < bestCost {
				bestCost, bestAxis, bestBin = c, a, k
			}
		}
	}
	if bestAxis < 0 {
		return 0, -1, math.Inf(1), left, right
	}
	cost = traverseCost
	if area > 0 {
		cost += bestCost / area
	}
	// The sides' boxes are their bins'; the partition (bins 0..bestBin go
	// left) measures their centroids.
	for k := range bins[bestAxis][:last+1] {
		side := &right
		if k <= bestBin {
			side = &left
		}
		bk := &bins[bestAxis][k]
		for a := range 3 {
			side.lo[a], side.hi[a] = min(side.lo[a], bk.lo[a]), max(side.hi[a], bk.hi[a])
		}
	}
	cmin, sc := clo[bestAxis], scale[bestAxis]
	recs := b.recs
	i, j := start, end-1
	for i <= j {
		r := &recs[i]
		side := &right
		if min(int((r.c(bestAxis)-cmin)*sc), last) <= bestBin {
			side = &left
		}
		side.clo[0], side.clo[1], side.clo[2] = min(side.clo[0], r.ck[0]), min(side.clo[1], r.ck[1]), min(side.clo[2], r.ck[2])
		side.chi[0], side.chi[1], side.chi[2] = max(side.chi[0], r.ck[0]), max(side.chi[1], r.ck[1]), max(side.chi[2], r.ck[2])
		if side == &left {
			i++
		} else {
			recs[i], recs[j] = recs[j], recs[i]
			j--
		}
	}
	if i == start || i == end {
		return bestAxis, -1, cost, left, right
	}
	return bestAxis, i, cost, left, right
}

// Big and small primitives. A binned split orders primitives by their
// centroids, which cannot separate a room from what stands in it: the
// walls' centroids lie on every side of the objects', so every split along
// an axis leaves some wall on each side, and both children's boxes are the
// room's (the bunny's root had three such children, entered by every ray).
// So the top bvhBigDepth levels of a node of more than bvhLeafHard
// primitives also weigh, by the same SAH cost, splitting its primitives by
// size: the biggest (of size class k or less) on one side, the others on
// the other. Measured: instructions per ray on the bunny 2,453 -> 2,294,
// on the still life 2,743 -> 2,572; cornell (32 primitives) and a
// million-triangle mesh (no big primitives) keep their trees, the
// million's build 3% slower. Ten classes are needed: with six, the
// ceiling's light fell in the bunny's class, and into the box of its ears,
// which every shadow ray entered (2,430).
const (
	bvhBigDepth = 2
	bigClasses  = 10 // size classes 0 to 9, the last holding everything smaller
)

// sizeClass is about k where a primitive's box has 2^-k of the area of its
// node's box (area): the difference of the two areas' binary exponents,
// clamped to the classes.
func sizeClass(r *buildPrim, area float64) int {
	k := int(math.Float64bits(area)>>52) - int(math.Float64bits(keyArea(&r.lo, &r.hi))>>52)
	return min(max(k, 0), bigClasses-1)
}

// bigCost returns the cost, as sahSplit's, of the best split of
// recs[start:end] (whose box has area area) into the primitives of size
// class k or less and the others, and that k; k is -1 when every primitive
// is of one class.
func (b *builder) bigCost(start, end int, area float64) (float64, int) {
	var cls [bigClasses]bin
	for k := range cls {
		cls[k] = emptyBin()
	}
	for i := start; i < end; i++ {
		r := &b.recs[i]
		c := &cls[sizeClass(r, area)]
		c.n++
		c.lo[0], c.lo[1], c.lo[2] = min(c.lo[0], r.lo[0]), min(c.lo[1], r.lo[1]), min(c.lo[2], r.lo[2])
		c.hi[0], c.hi[1], c.hi[2] = max(c.hi[0], r.hi[0]), max(c.hi[1], r.hi[1]), max(c.hi[2], r.hi[2])
	}
	var smallArea [bigClasses]float64
	var smallCount [bigClasses]int32
	acc := emptyBin()
	for k := bigClasses - 1; k > 0; k-- {
		acc.join(&cls[k])
		smallArea[k], smallCount[k] = keyArea(&acc.lo, &acc.hi), acc.n
	}
	best, bestK := math.Inf(1), -1
	acc = emptyBin()
	for k := range bigClasses - 1 {
		acc.join(&cls[k])
		if acc.n == 0 || smallCount[k+1] == 0 {
			continue
		}
		if c := keyArea(&acc.lo, &acc.hi)*float64(acc.n) + smallArea[k+1]*float64(smallCount[k+1]); c < best {
			best, bestK = c, k
		}
	}
	if bestK < 0 || !(area > 0) {
		return math.Inf(1), -1
	}
	return traverseCost + best/area, bestK
}

// bigPartition moves the primitives of recs[start:end] of size class k or
// less to the front and returns where the others start.
func (b *builder) bigPartition(start, end int, area float64, k int) int {
	recs := b.recs
	i, j := start, end-1
	for i <= j {
		if sizeClass(&recs[i], area) <= k {
			i++
		} else {
			recs[i], recs[j] = recs[j], recs[i]
			j--
		}
	}
	return i
}

// emptyBin returns a bin of no primitives.
func emptyBin() bin {
	return bin{lo: [3]int32{math.MaxInt32, math.MaxInt32, math.MaxInt32}, hi: [3]int32{math.MinInt32, math.MinInt32, math.MinInt32}}
}

// join widens x to hold y.
func (x *bin) join(y *bin) {
	x.n += y.n
	x.lo[0], x.lo[1], x.lo[2] = min(x.lo[0], y.lo[0]), min(x.lo[1], y.lo[1]), min(x.lo[2], y.lo[2])
	x.hi[0], x.hi[1], x.hi[2] = max(x.hi[0], y.hi[0]), max(x.hi[1], y.hi[1]), max(x.hi[2], y.hi[2])
}

// permute returns s in the order the builder chose: element slot is the
// one that was at order[slot]. It gathers into a new slice, whose loads do
// not wait on one another as following the permutation's cycles in place
// would (three times as fast on a big mesh), and leaves s to the collector.
func permute[T any](s []T, order []int32) []T {
	out := make([]T, len(order))
	for slot, from := range order {
		out[slot] = s[from]
	}
	return out
}
