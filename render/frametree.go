package render

import (
	"math"
	"slices"
)

// This file is a frame's BVH when meshes move: two levels. Each group of
// primitives (the ones that never move, and each mover's) has a tree of its
// own, built once from the still; a frame copies the groups' trees one after
// the other, refits the movers' (their boxes recomputed, bottom up, around
// their primitives at the frame: the tree's shape is the still's, which a
// rigid motion keeps good) and puts a small top level over the groups'
// roots. A frame's set-up is then a pass over the primitives that move,
// where building the whole tree again sorts every primitive of the scene.

// frameGroup is one group's tree: over n primitives (group-relative
// indices), in the order order (order[slot] is the group's primitive at
// that leaf slot), with the kind of each slot's primitive.
type frameGroup struct {
	n     int
	moves bool
	tree  bvh
	order []int32
	kinds []primKind
}

// frameTopDepth bounds the top level's depth: the traversal stack holds
// (bvhWidth-1) entries a level for bvhMaxDepth levels of a group's tree and
// this many more (see bvhStackSize).
const frameTopDepth = 16

var _ [bvhStackSize - (bvhWidth-1)*(bvhMaxDepth+frameTopDepth) - bvhWidth]struct{}

// frameGroups builds the groups' trees from the still's primitives (as
// loaded): the primitives of no mover, in their order, then each mover's.
// A frame's primitives come in the same order (atFrame).
func (a *sceneAnim) frameGroups(verts []Vec) []frameGroup {
	still := sceneData{pv: a.pv, info: a.info, verts: verts}
	var groups []frameGroup
	add := func(idx []int32, moves bool) {
		g := frameGroup{n: len(idx), moves: moves}
		if g.n > 0 {
			g.tree, g.order = buildBVH(g.n, func(i int) shape { return still.shapeOf(int(idx[i])) })
			g.kinds = make([]primKind, g.n)
			for slot, i := range g.order {
				g.kinds[slot] = a.info[idx[i]].kind
			}
		}
		groups = append(groups, g)
	}
	var static []int32
	from := 0
	for _, m := range a.movers {
		for i := from; i < m.lo; i++ {
			static = append(static, int32(i))
		}
		from = m.hi
	}
	for i := from; i < len(a.pv); i++ {
		static = append(static, int32(i))
	}
	add(static, false)
	for _, m := range a.movers {
		idx := make([]int32, m.hi-m.lo)
		for i := range idx {
			idx[i] = int32(m.lo + i)
		}
		add(idx, true)
	}
	return groups
}

// frameTree returns the tree and the leaf order of the frame's primitives
// s.pv and s.info (in load order: the groups' one after the other, counts[i]
// of group i's), from the groups' trees. A group whose primitives at the
// frame are not the still's (a mover's triangle that is degenerate in one
// pose and not in the other, and so dropped in one only) has its own tree
// built at the frame; the others keep theirs. It reports false when the
// frame's primitives are not the groups' at all: the caller then builds the
// whole tree.
func (s *sceneData) frameTree(groups []frameGroup, counts []int) (bvh, []int32, bool) {
	if len(counts) != len(groups) {
		return bvh{}, nil, false
	}
	total, live := 0, 0
	for _, n := range counts {
		total += n
		if n > 0 {
			live++
		}
	}
	if total != len(s.info) || live == 0 {
		return bvh{}, nil, false
	}
	use := make([]frameGroup, len(groups))
	refit := make([]bool, len(groups))
	order := make([]int32, 0, total)
	nodes := 0
	base := int32(0)
	for i := range groups {
		g := groups[i]
		same := counts[i] == g.n
		for slot := 0; same && slot < g.n; slot++ {
			same = s.info[base+g.order[slot]].kind == g.kinds[slot]
		}
		if same {
			refit[i] = g.moves
		} else {
			g = frameGroup{n: counts[i], moves: true}
			if g.n > 0 {
				at := base
				g.tree, g.order = buildBVH(g.n, func(j int) shape { return s.shapeOf(int(at) + j) })
			}
		}
		use[i] = g
		for _, o := range g.order {
			order = append(order, base+o)
		}
		nodes += len(g.tree.nodes)
		base += int32(counts[i])
	}
	groups = use
	// The top level over the live groups' roots, first in the array.
	var top []bvhNode
	var roots []int32 // the live groups, by index
	for i := range groups {
		if groups[i].n > 0 {
			roots = append(roots, int32(i))
		}
	}
	// Group i's root is referred to as -(i+1) until the groups' places are
	// known.
	centre := func(g int32) Vec {
		lo, hi := nodeBounds(&groups[g].tree.nodes[0])
		return lo.Add(hi).Scale(0.5)
	}
	// Movers' roots are refitted below: their still boxes place them here
	// only to choose the top level's shape, which the boxes then follow.
	var topNode func(gs []int32, depth int) (int32, bool)
	topNode = func(gs []int32, depth int) (int32, bool) {
		if depth > frameTopDepth {
			return 0, false
		}
		me := int32(len(top))
		top = append(top, emptyNode())
		parts := splitGroups(gs, centre)
		for c, p := range parts {
			if len(p) == 1 {
				top[me].child[c] = -(p[0] + 1)
				continue
			}
			ref, ok := topNode(p, depth+1)
			if !ok {
				return 0, false
			}
			top[me].child[c] = ref
		}
		return me, true
	}
	if _, ok := topNode(roots, 1); !ok {
		return bvh{}, nil, false
	}
	t := bvh{nodes: make([]bvhNode, len(top), len(top)+nodes)}
	copy(t.nodes, top)
	rootAt := make([]int32, len(groups))
	primBase := int32(0)
	for i := range groups {
		g := &groups[i]
		nodeBase := int32(len(t.nodes))
		rootAt[i] = nodeBase
		t.nodes = append(t.nodes, g.tree.nodes...)
		for j := nodeBase; j < int32(len(t.nodes)); j++ {
			n := &t.nodes[j]
			for c := range bvhWidth {
				switch {
				case n.count[c] != 0:
					n.child[c] += primBase
				case n.box[0][0][c] <= n.box[1][0][c]: // not an empty slot
					n.child[c] += nodeBase
				}
			}
		}
		if refit[i] {
			s.refit(t.nodes[nodeBase:], nodeBase, order)
		}
		primBase += int32(g.n)
	}
	// The top level's slots: a group's root or a top node, whose boxes
	// are their nodes' (children come after their parents).
	for j := len(top) - 1; j >= 0; j-- {
		n := &t.nodes[j]
		for c := range bvhWidth {
			if n.count[c] != 0 || n.box[0][0][c] <= n.box[1][0][c] {
				continue
			}
			ref := n.child[c]
			if ref < 0 {
				ref = rootAt[-ref-1]
				n.child[c] = ref
			} else if ref == 0 {
				continue // an empty slot
			}
			lo, hi := nodeBounds(&t.nodes[ref])
			setBox(n, c, lo, hi)
		}
	}
	return t, order, true
}

// splitGroups cuts groups into up to bvhWidth parts of near equal size,
// sorted along the axis their centres spread most on.
func splitGroups(gs []int32, centre func(int32) Vec) [][]int32 {
	if len(gs) <= bvhWidth {
		parts := make([][]int32, len(gs))
		for i, g := range gs {
			parts[i] = []int32{g}
		}
		return parts
	}
	lo, hi := emptyBounds()
	for _, g := range gs {
		c := centre(g)
		lo, hi = lo.Min(c), hi.Max(c)
	}
	ext := hi.Sub(lo)
	axis := 0
	if ext.Y > ext.X {
		axis = 1
	}
	if ext.Z > ext.Axis(axis) {
		axis = 2
	}
	gs = slices.Clone(gs)
	slices.SortStableFunc(gs, func(a, b int32) int {
		ca, cb := centre(a).Axis(axis), centre(b).Axis(axis)
		switch {
		case ca < cb:
			return -1
		case ca > cb:
			return 1
		}
		return 0
	})
	parts := make([][]int32, 0, bvhWidth)
	for k := range bvhWidth {
		parts = append(parts, gs[k*len(gs)/bvhWidth:(k+1)*len(gs)/bvhWidth])
	}
	return parts
}

// refit recomputes the boxes of nodes (a group's tree copied at index
// base of the frame's tree, its references already the frame's) around
// the frame's primitives (order[slot] is the primitive as loaded at a leaf
// slot): leaves from their primitives' bounds, rounded outwards as the
// builder rounds them, interior slots from their nodes.
func (s *sceneData) refit(nodes []bvhNode, base int32, order []int32) {
	for j := len(nodes) - 1; j >= 0; j-- {
		n := &nodes[j]
		for c := range bvhWidth {
			if n.count[c] == 0 {
				if n.box[0][0][c] > n.box[1][0][c] {
					continue // an empty slot
				}
				lo, hi := nodeBounds(&nodes[n.child[c]-base])
				setBox(n, c, lo, hi)
				continue
			}
			lo, hi := emptyBounds()
			first := int(n.child[c])
			for i := first; i < first+int(n.count[c]&leafCount); i++ {
				plo, phi := s.shapeOf(int(order[i])).bounds()
				lo, hi = lo.Min(plo), hi.Max(phi)
			}
			n.box[0][0][c], n.box[0][1][c], n.box[0][2][c] = roundDown(lo.X), roundDown(lo.Y), roundDown(lo.Z)
			n.box[1][0][c], n.box[1][1][c], n.box[1][2][c] = roundUp(hi.X), roundUp(hi.Y), roundUp(hi.Z)
		}
	}
}

// nodeBounds returns the box around a node's children (empty slots, whose
// boxes are inverted, add nothing).
func nodeBounds(n *bvhNode) (lo, hi Vec) {
	l := [3]float32{float32(math.Inf(1)), float32(math.Inf(1)), float32(math.Inf(1))}
	h := [3]float32{float32(math.Inf(-1)), float32(math.Inf(-1)), float32(math.Inf(-1))}
	for a := range 3 {
		for c := range bvhWidth {
			l[a], h[a] = min(l[a], n.box[0][a][c]), max(h[a], n.box[1][a][c])
		}
	}
	return Vec{X: float64(l[0]), Y: float64(l[1]), Z: float64(l[2])}, Vec{X: float64(h[0]), Y: float64(h[1]), Z: float64(h[2])}
}

// setBox sets slot c's box; lo and hi are float32 values already.
func setBox(n *bvhNode, c int, lo, hi Vec) {
	n.box[0][0][c], n.box[0][1][c], n.box[0][2][c] = float32(lo.X), float32(lo.Y), float32(lo.Z)
	n.box[1][0][c], n.box[1][1][c], n.box[1][2][c] = float32(hi.X), float32(hi.Y), float32(hi.Z)
}
