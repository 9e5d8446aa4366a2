package render

import (
	"math"
	"os"
	"runtime"
	"slices"
	"testing"
)

// testScene builds a scene of diffuse primitives (no file involved).
func testScene(t testing.TB, prims []shape) *sceneData {
	t.Helper()
	sd := &sceneData{materials: []material{{kind: matDiffuse, albedo: defaultAlbedo, tex: -1}}}
	for _, p := range prims {
		sd.addShape(p, 0)
	}
	sd.finish()
	return sd
}

func tri(a, b, c Vec) shape { return shape{kind: primTriangle, p: a, e1: b.Sub(a), e2: c.Sub(a)} }

func TestIntersectPrimitives(t *testing.T) {
	floor := tri(V(0, 0, 0), V(1, 0, 0), V(0, 0, 1))
	quad := shape{kind: primQuad, p: V(0, 0, 0), e1: V(1, 0, 0), e2: V(0, 1, 0)}
	sphere := shape{kind: primSphere, p: V(0, 0, 0), r: 1}
	small := shape{kind: primSphere, p: V(1e6, 0, 0), r: 1e-3}
	tests := []struct {
		name  string
		p     shape
		o, d  Vec
		hit   bool
		wantT float64
	}{
		{"triangle from above", floor, V(0.25, 1, 0.25), V(0, -1, 0), true, 1},
		{"triangle from below", floor, V(0.25, -2, 0.25), V(0, 1, 0), true, 2},
		{"triangle oblique", floor, V(0.1, 1, 0.1), V(0.1, -1, 0.1).Norm(), true, V(0.1, 1, 0.1).Len()},
		{"triangle outside the hypotenuse", floor, V(0.6, 1, 0.6), V(0, -1, 0), false, 0},
		{"triangle on its edge", floor, V(0.5, 1, 0), V(0, -1, 0), true, 1},
		{"triangle at a vertex", floor, V(0, 1, 0), V(0, -1, 0), true, 1},
		{"triangle behind the ray", floor, V(0.25, 1, 0.25), V(0, 1, 0), false, 0},
		{"grazing: in the triangle's plane", floor, V(-1, 0, 0.25), V(1, 0, 0), false, 0},
		{"grazing: just above the plane", floor, V(-1, 1e-12, 0.25), V(1, 0, 0), false, 0},
		{"nearly grazing but hits", floor, V(-1, 1e-3, 0.25), V(1, -1e-3, 0).Norm(), true, V(1, -1e-3, 0).Len()},
		{"quad far corner", quad, V(0.99, 0.99, 1), V(0, 0, -1), true, 1},
		{"quad outside", quad, V(1.01, 0.5, 1), V(0, 0, -1), false, 0},
		{"sphere from outside", sphere, V(0, 0, -5), V(0, 0, 1), true, 4},
		{"sphere from inside", sphere, V(0, 0, 0), V(0, 1, 0), true, 1},
		{"sphere behind", sphere, V(0, 0, 5), V(0, 0, 1), false, 0},
		{"sphere tangent", sphere, V(1, 0, -5), V(0, 0, 1), true, 5},
		{"sphere just missed", sphere, V(1+1e-9, 0, -5), V(0, 0, 1), false, 0},
		{"small sphere far away", small, V(0, 0, 0), V(1, 0, 0), true, 1e6 - 1e-3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, compact := range []bool{false, true} {
				hot := tt.p.prim(compact)
				got, _, _, ok := hot.intersect(tt.o, tt.d, 0, math.Inf(1))
				if ok != tt.hit {
					t.Fatalf("compact %v: hit = %v (t=%v), want %v", compact, ok, got, tt.hit)
				}
				if ok && !near(got, tt.wantT, 1e-9*max(1, tt.wantT)) {
					t.Errorf("compact %v: t = %v, want %v", compact, got, tt.wantT)
				}
				// The same primitive through a BVH of its own.
				sd := testScene(t, []shape{tt.p})
				if compact {
					sd.bary = nil
				}
				var h hit
				r := Ray{Origin: tt.o, Dir: tt.d}
				if ok := sd.intersect(&r, math.Inf(1), &h); ok != tt.hit {
					t.Errorf("compact %v: through the BVH: hit = %v, want %v", compact, ok, tt.hit)
				}
				if occ := sd.occluded(&r, math.Inf(1)); occ != tt.hit {
					t.Errorf("compact %v: occluded = %v, want %v", compact, occ, tt.hit)
				}
			}
		})
	}
}

// TestAxisAlignedTrianglesAreHit checks the bug of a peer's tree: flat boxes
// around axis-aligned triangles (floors and walls of a box) must be entered,
// by rays along the axes, diagonal rays and rays starting on the box.
func TestAxisAlignedTrianglesAreHit(t *testing.T) {
	// A closed cube of 12 axis-aligned triangles, and one alone.
	c := [8]Vec{V(0, 0, 0), V(1, 0, 0), V(1, 1, 0), V(0, 1, 0), V(0, 0, 1), V(1, 0, 1), V(1, 1, 1), V(0, 1, 1)}
	face := func(a, b, cc, d int) []shape { return []shape{tri(c[a], c[b], c[cc]), tri(c[a], c[cc], c[d])} }
	var cube []shape
	for _, f := range [][4]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {0, 1, 5, 4}, {3, 2, 6, 7}, {0, 3, 7, 4}, {1, 2, 6, 5}} {
		cube = append(cube, face(f[0], f[1], f[2], f[3])...)
	}
	box := testScene(t, cube)
	dirs := []Vec{V(1, 0, 0), V(-1, 0, 0), V(0, 1, 0), V(0, -1, 0), V(0, 0, 1), V(0, 0, -1),
		V(1, 1, 0).Norm(), V(1, -1, 1).Norm(), V(-1, -1, -1).Norm(), V(0, 1e-9, -1).Norm()}
	origins := []Vec{V(0.5, 0.5, 0.5), V(0.25, 0.75, 0.5), V(0.5, 0.5, 1e-9), V(1e-9, 0.5, 0.5)}
	for _, o := range origins {
		for _, d := range dirs {
			r := Ray{Origin: o, Dir: d}
			var h hit
			if !box.intersect(&r, math.Inf(1), &h) {
				t.Errorf("ray from %v along %v escaped the closed box", o, d)
			}
		}
	}
	rg := newRNG(11, 0)
	for range 2000 {
		o := V(0.01+0.98*rg.float(), 0.01+0.98*rg.float(), 0.01+0.98*rg.float())
		d := V(rg.float()-0.5, rg.float()-0.5, rg.float()-0.5).Norm()
		r := Ray{Origin: o, Dir: d}
		var h hit
		if !box.intersect(&r, math.Inf(1), &h) {
			t.Fatalf("random ray from %v along %v escaped the closed box", o, d)
		}
	}
	floor := testScene(t, []shape{tri(V(-1, 0, -1), V(1, 0, -1), V(1, 0, 1))})
	for _, d := range []Vec{V(0, -1, 0), V(0.3, -1, 0.1).Norm(), V(0.001, -1, 0).Norm()} {
		r := Ray{Origin: V(0.5, 1, -0.2), Dir: d}
		var h hit
		if !floor.intersect(&r, math.Inf(1), &h) {
			t.Errorf("ray along %v missed a lone axis-aligned triangle", d)
		}
	}
}

// loadTestOBJ parses an OBJ file of testdata into primitives.
func loadTestOBJ(t testing.TB, path string) []shape {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	m, err := parseOBJ(path, data, 1<<30, &n)
	if err != nil {
		t.Fatal(err)
	}
	var prims []shape
	for _, tr := range m.tv {
		prims = append(prims, tri(m.v[tr[0]], m.v[tr[1]], m.v[tr[2]]))
	}
	return prims
}

// bvhTestScenes are the primitive sets the BVH tests build trees over: the
// bunny; a soup of overlapping triangles, quads and spheres of every size;
// a fine grid of 20,000 small triangles (a deep tree of full nodes); and
// clusters of primitives sharing a centroid (leaves beyond bvhLeafMax).
func bvhTestScenes(t testing.TB) map[string][]shape {
	rg := newRNG(123, 0)
	rv := func(s float64) Vec { return V(s*(rg.float()-0.5), s*(rg.float()-0.5), s*(rg.float()-0.5)) }
	var soup []shape
	for i := range 600 {
		p, size := rv(12), 0.05+3*rg.float()*rg.float()
		switch i % 5 {
		case 0:
			soup = append(soup, shape{kind: primSphere, p: p, r: size / 2})
		case 1:
			soup = append(soup, shape{kind: primQuad, p: p, e1: rv(size), e2: rv(size)})
		default:
			soup = append(soup, tri(p, p.Add(rv(size)), p.Add(rv(size))))
		}
	}
	var grid []shape
	for i := range 100 {
		for j := range 100 {
			x, z := float64(i)/10-5, float64(j)/10-5
			y := 0.3 * math.Sin(x) * math.Cos(z)
			grid = append(grid, tri(V(x, y, z), V(x+0.1, y, z), V(x, y+0.05, z+0.1)), tri(V(x+0.1, y, z), V(x+0.1, y+0.05, z+0.1), V(x, y+0.05, z+0.1)))
		}
	}
	var clusters []shape
	for c := range 7 {
		centre := rv(8)
		for k := range 40 + 10*c {
			// Triangles about the same centroid, turned about it.
			a := float64(k) * 0.7
			u, v := V(math.Cos(a), math.Sin(a), 0.3), V(-math.Sin(a), 0.2, math.Cos(a))
			clusters = append(clusters, tri(centre.Add(u), centre.Add(v), centre.Sub(u).Sub(v)))
		}
	}
	return map[string][]shape{
		"room":     roomWith(clusters),
		"bunny":    loadTestOBJ(t, "../testdata/meshes/bunny.obj"),
		"soup":     soup,
		"grid":     grid,
		"clusters": clusters,
	}
}

// roomWith returns the walls, floor and ceiling of a room 20 units wide
// around the origin, and then inside.
func roomWith(inside []shape) []shape {
	const h = 10
	corner := func(x, y, z float64) Vec { return V(x*h, y*h, z*h) }
	quad := func(a, b, c, d Vec) []shape { return []shape{tri(a, b, c), tri(a, c, d)} }
	var room []shape
	room = append(room, quad(corner(-1, -1, -1), corner(1, -1, -1), corner(1, -1, 1), corner(-1, -1, 1))...) // floor
	room = append(room, quad(corner(-1, 1, -1), corner(-1, 1, 1), corner(1, 1, 1), corner(1, 1, -1))...)     // ceiling
	room = append(room, quad(corner(-1, -1, 1), corner(1, -1, 1), corner(1, 1, 1), corner(-1, 1, 1))...)     // back
	room = append(room, quad(corner(-1, -1, -1), corner(-1, -1, 1), corner(-1, 1, 1), corner(-1, 1, -1))...) // left
	room = append(room, quad(corner(1, -1, -1), corner(1, 1, -1), corner(1, 1, 1), corner(1, -1, 1))...)     // right
	return append(room, inside...)
}

// TestBVHKeepsARoomApartFromItsContents: no child of the root holds both
// the room's big triangles and the small ones inside it, which a split by
// centroids alone cannot part: the walls' centroids lie on every side of
// the others'.
func TestBVHKeepsARoomApartFromItsContents(t *testing.T) {
	rg := newRNG(5, 0)
	var inside []shape
	for range 400 {
		p := V(14*rg.float()-7, 15*rg.float()-10, 14*rg.float()-7)
		inside = append(inside, tri(p, p.Add(V(0.3*rg.float(), 0.3, 0)), p.Add(V(0, 0.3*rg.float(), 0.3))))
	}
	prims := roomWith(inside)
	walls := int32(len(prims) - len(inside))
	tree, order := buildBVH(len(prims), func(i int) shape { return prims[i] })
	// under returns what is under slot c of node ref: bit 0 set for a
	// wall's triangle, bit 1 for one inside.
	var under func(ref int32, c int) int
	under = func(ref int32, c int) int {
		n := &tree.nodes[ref]
		if n.box[0][0][c] > n.box[1][0][c] {
			return 0
		}
		k := 0
		if n.count[c] == 0 {
			for j := range bvhWidth {
				k |= under(n.child[c], j)
			}
			return k
		}
		for slot := n.child[c]; slot < n.child[c]+int32(n.count[c]&leafCount); slot++ {
			if order[slot] < walls {
				k |= 1
			} else {
				k |= 2
			}
		}
		return k
	}
	for c := range bvhWidth {
		if under(0, c) == 3 {
			t.Errorf("the root's child %d holds walls and what is inside", c)
		}
	}
}

// TestBVHMatchesBruteForce shoots random rays at each test scene and
// compares the BVH's nearest hit and occlusion with testing every primitive.
func TestBVHMatchesBruteForce(t *testing.T) {
	for name, prims := range bvhTestScenes(t) {
		for _, compact := range []bool{false, true} {
			if compact {
				name += " compact"
			}
			t.Run(name, func(t *testing.T) { bruteForce(t, prims, compact) })
		}
	}
}

// bruteForce is TestBVHMatchesBruteForce on one scene, with the surface
// coordinates of a big scene (compact) or not.
func bruteForce(t *testing.T, prims []shape, compact bool) {
	sd := testScene(t, prims)
	if compact {
		sd.bary = nil
	}
	if len(sd.geo) != len(prims) {
		t.Fatalf("%d primitives in the scene, want %d", len(sd.geo), len(prims))
	}
	lo, hi := emptyBounds()
	for i := range sd.info {
		l, h := sd.shapeOf(i).bounds()
		lo, hi = lo.Min(l), hi.Max(h)
	}
	size := hi.Sub(lo)
	rg := newRNG(99, 0)
	inBox := func(k float64) Vec {
		return V(lo.X+size.X*(k*rg.float()-(k-1)/2), lo.Y+size.Y*(k*rg.float()-(k-1)/2), lo.Z+size.Z*(k*rg.float()-(k-1)/2))
	}
	hits := 0
	rays := 3000
	if len(prims) > 10_000 {
		rays = 600 // brute force costs a ray all the primitives
	}
	for i := range rays {
		o := inBox(2)
		var d Vec
		if i%2 == 0 {
			// Aim at a primitive, so that most rays hit.
			l, h := sd.shapeOf(int(rg.float() * float64(len(sd.info)))).bounds()
			d = l.Add(h).Scale(0.5).Sub(o).Norm()
		} else {
			d = V(rg.float()-0.5, rg.float()-0.5, rg.float()-0.5).Norm()
		}
		tmax := math.Inf(1)
		if i%3 == 0 {
			tmax = size.Len() * rg.float()
		}
		want := tmax
		for k := range sd.geo {
			p := sd.prim(k)
			if tt, _, _, ok := p.intersect(o, d, 0, want); ok {
				want = tt
			}
		}
		r := Ray{Origin: o, Dir: d}
		var h hit
		ok := sd.intersect(&r, tmax, &h)
		if ok != (want < tmax) {
			t.Fatalf("ray %d from %v along %v: BVH hit=%v, brute force hit=%v", i, o, d, ok, want < tmax)
		}
		if ok {
			hits++
			if h.t != want {
				t.Fatalf("ray %d: BVH t=%v, brute force t=%v", i, h.t, want)
			}
			p := sd.prim(int(h.prim))
			if tt, _, _, hitToo := p.intersect(o, d, 0, math.Inf(1)); !hitToo || tt != h.t {
				t.Fatalf("ray %d: primitive %d, which the BVH reports, is not hit at %v", i, h.prim, h.t)
			}
		}
		if occ := sd.occluded(&r, tmax); occ != ok {
			t.Fatalf("ray %d: occluded=%v, nearest hit=%v", i, occ, ok)
		}
	}
	if hits < rays/3 {
		t.Errorf("only %d of %d rays hit: the test is too weak", hits, rays)
	}
}

// TestBVHStructure checks the wide tree of each test scene: every primitive
// is in exactly one leaf, of its kind; every box holds what is under it; empty slots are
// boxes no ray enters and only follow full ones; the tree is no deeper than
// the stack allows; and below a root of one leaf every node has at least
// two children.
func TestBVHStructure(t *testing.T) {
	for name, prims := range bvhTestScenes(t) {
		t.Run(name, func(t *testing.T) {
			sd := testScene(t, prims)
			seen := make([]int, len(sd.geo))
			maxDepth, visited, leaves := 0, 0, 0
			var fill [bvhWidth + 1]int // nodes by children
			contains := func(box [2][3]float32, lo, hi Vec) bool {
				for a := range 3 {
					if float64(box[0][a]) > lo.Axis(a) || float64(box[1][a]) < hi.Axis(a) {
						return false
					}
				}
				return true
			}
			var walk func(ref int32, box [2][3]float32, depth int)
			walk = func(ref int32, box [2][3]float32, depth int) {
				maxDepth = max(maxDepth, depth)
				visited++
				n := &sd.bvh.nodes[ref]
				used := 0
				for c := range bvhWidth {
					var cb [2][3]float32
					for a := range 3 {
						cb[0][a], cb[1][a] = n.box[0][a][c], n.box[1][a][c]
					}
					if cb[0][0] > cb[1][0] { // empty
						if n.count[c] != 0 || n.child[c] != 0 {
							t.Fatalf("node %d: empty slot %d names child %d, count %d", ref, c, n.child[c], n.count[c])
						}
						continue
					}
					if used != c {
						t.Fatalf("node %d: slot %d follows an empty one", ref, c)
					}
					used++
					if !contains(box, V(float64(cb[0][0]), float64(cb[0][1]), float64(cb[0][2])), V(float64(cb[1][0]), float64(cb[1][1]), float64(cb[1][2]))) {
						t.Fatalf("node %d: child %d's box is outside its parent's", ref, c)
					}
					if n.count[c] == 0 {
						if n.child[c] <= ref {
							t.Fatalf("node %d: child %d is node %d, not after it", ref, c, n.child[c])
						}
						walk(n.child[c], cb, depth+1)
						continue
					}
					leaves++
					first, kind := n.child[c], primKind(n.count[c]>>leafKindShift)
					for k := first; k < first+int32(n.count[c]&leafCount); k++ {
						seen[k]++
						if sd.info[k].kind != kind {
							t.Fatalf("node %d, leaf %d of kind %d holds primitive %d of kind %d", ref, c, kind, k, sd.info[k].kind)
						}
						if plo, phi := sd.shapeOf(int(k)).bounds(); !contains(cb, plo, phi) {
							t.Fatalf("node %d, leaf %d: its box does not contain primitive %d", ref, c, k)
						}
					}
				}
				fill[used]++
				if used < 2 && !(ref == 0 && n.count[0] > 0) {
					t.Fatalf("node %d has %d children", ref, used)
				}
			}
			inf := float32(math.Inf(1))
			walk(0, [2][3]float32{{-inf, -inf, -inf}, {inf, inf, inf}}, 0)
			for k, c := range seen {
				if c != 1 {
					t.Fatalf("primitive %d is in %d leaves", k, c)
				}
			}
			if visited != len(sd.bvh.nodes) {
				t.Errorf("%d nodes reached from the root, %d stored", visited, len(sd.bvh.nodes))
			}
			if (bvhWidth-1)*(maxDepth+1)+1 > bvhStackSize {
				t.Fatalf("depth %d can overflow the traversal stack", maxDepth)
			}
			t.Logf("%d primitives, %d nodes (by children: %v), %d leaves, depth %d", len(sd.geo), len(sd.bvh.nodes), fill[1:], leaves, maxDepth)
		})
	}
}

func TestBVHDegenerateInputs(t *testing.T) {
	same := make([]shape, 300)
	for i := range same {
		same[i] = tri(V(0, 0, 0), V(1, 0, 0), V(0, 1, 0))
	}
	tests := []struct {
		name  string
		prims []shape
	}{
		{"empty", nil},
		{"one", same[:1]},
		{"300 identical triangles", same},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := testScene(t, tt.prims)
			r := Ray{Origin: V(0.2, 0.2, 1), Dir: V(0, 0, -1)}
			var h hit
			if got := sd.intersect(&r, math.Inf(1), &h); got != (len(tt.prims) > 0) {
				t.Errorf("hit = %v", got)
			}
		})
	}
}

// TestPlanesBesideTheBVH: planes are tested before the tree, with the
// nearest hit, the ray's extent and occlusion respected whether the scene
// has primitives or only planes.
func TestPlanesBesideTheBVH(t *testing.T) {
	floor := plane{p: V(0, 0, 0), n: V(0, 1, 0)}
	ceiling := plane{p: V(0, 10, 0), n: V(0, -1, 0)}
	shelf := tri(V(-1, 5, -1), V(1, 5, -1), V(0, 5, 1)) // at y = 5
	tests := []struct {
		name     string
		planes   []plane
		prims    []shape
		o, d     Vec
		tmax     float64
		wantPrim int32 // -1: no hit
		wantT    float64
	}{
		{"plane only, hit", []plane{floor}, nil, V(0, 3, 0), V(0, -1, 0), math.Inf(1), -2, 3},
		{"plane only, beyond tmax", []plane{floor}, nil, V(0, 3, 0), V(0, -1, 0), 2, -1, 0},
		{"plane only, away from it", []plane{floor}, nil, V(0, 3, 0), V(0, 1, 0), math.Inf(1), -1, 0},
		{"nearest of two planes", []plane{floor, ceiling}, nil, V(0, 3, 0), V(0, 1, 0), math.Inf(1), -3, 7},
		{"triangle nearer than the plane", []plane{floor}, []shape{shelf}, V(0, 8, 0), V(0, -1, 0), math.Inf(1), 0, 3},
		{"plane nearer than the triangle", []plane{ceiling}, []shape{shelf}, V(0, 8, 0), V(0, 1, 0), math.Inf(1), -2, 2},
		{"plane in front, triangle behind the ray", []plane{floor}, []shape{shelf}, V(0, 3, 0), V(0, -1, 0), math.Inf(1), -2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := testScene(t, tt.prims)
			sd.planes = tt.planes
			r := Ray{Origin: tt.o, Dir: tt.d}
			var h hit
			got := sd.intersect(&r, tt.tmax, &h)
			if got != (tt.wantPrim != -1) || h.prim != tt.wantPrim {
				t.Fatalf("intersect = %v, prim %d, want prim %d", got, h.prim, tt.wantPrim)
			}
			if got && !near(h.t, tt.wantT, 1e-12) {
				t.Errorf("t = %v, want %v", h.t, tt.wantT)
			}
			if occ := sd.occluded(&r, tt.tmax); occ != got {
				t.Errorf("occluded = %v, want %v", occ, got)
			}
		})
	}
}

// TestBVHBuildIsTheSameOnAnyNumberOfCores builds the tree of 80,000
// triangles on one goroutine and on eight: the same nodes and the same
// order, bit for bit.
func TestBVHBuildIsTheSameOnAnyNumberOfCores(t *testing.T) {
	rg := newRNG(3, 0)
	prims := make([]shape, 80_000)
	for i := range prims {
		p := V(40*rg.float(), 10*rg.float()*rg.float(), 40*rg.float())
		prims[i] = tri(p, p.Add(V(rg.float(), rg.float(), 0)), p.Add(V(0, rg.float(), rg.float())))
	}
	shapeOf := func(i int) shape { return prims[i] }
	build := func(procs int) (bvh, []int32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		return buildBVH(len(prims), shapeOf)
	}
	one, oneOrder := build(1)
	many, manyOrder := build(8)
	if !slices.Equal(oneOrder, manyOrder) {
		t.Fatal("the primitives' order differs")
	}
	if !slices.Equal(one.nodes, many.nodes) {
		t.Fatalf("the trees differ: %d and %d nodes", len(one.nodes), len(many.nodes))
	}
	if len(one.nodes) < 80_000/bvhLeafMerge/bvhWidth {
		t.Fatalf("%d nodes for 80,000 triangles", len(one.nodes))
	}
}
