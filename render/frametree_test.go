package render

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"slices"
	"sync"
	"testing"
)

// movingScene is a room that stands still (a floor, a wall, an area light,
// a sphere and a teapot) and six meshes moving by keyframes through it:
// the bunny turning and sliding, a teapot turning, the Cornell blocks
// shrinking, a ball (whose count of triangles changes with its pose),
// three copies of an emissive square flying about. Eight groups: the top
// level is two levels deep.
func movingScene(t testing.TB) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"bunny.obj", "teapot.obj", "cornell-blocks.obj"} {
		b, err := os.ReadFile("../testdata/meshes/" + name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	// A latitude and longitude sphere: the triangles at its south pole are
	// slivers of about 1e-16 (sin π is not 0), degenerate in some poses
	// and not in others, so its count of triangles changes from frame to
	// frame and its tree is built at the frame.
	var ball []byte
	const k = 12
	for i := 0; i <= k; i++ {
		th := math.Pi * float64(i) / k
		for j := range k {
			ph := 2 * math.Pi * float64(j) / k
			ball = fmt.Appendf(ball, "v %.17g %.17g %.17g\n", math.Sin(th)*math.Cos(ph), math.Cos(th), math.Sin(th)*math.Sin(ph))
		}
	}
	for i := range k {
		for j := range k {
			a, c := 1+i*k+j, 1+i*k+(j+1)%k
			ball = fmt.Appendf(ball, "f %d %d %d\nf %d %d %d\n", a, c, c+k, a, c+k, a+k)
		}
	}
	files["ball.obj"] = string(ball)
	files["square.obj"] = "v -0.5 0 -0.5\nv 0.5 0 -0.5\nv 0.5 0 0.5\nv -0.5 0 0.5\nf 1 3 2\nf 1 4 3\n"
	files["scene.json"] = `{"camera": {"from": [0, 2, 7], "to": [0, 1, 0], "fov": 50},
  "image": {"width": 24, "height": 16, "spp": 2, "maxDepth": 4},
  "materials": {"white": {"type": "diffuse", "albedo": [0.6, 0.6, 0.6]},
    "red": {"type": "diffuse", "albedo": [0.7, 0.1, 0.1]},
    "lamp": {"type": "emissive", "emission": [6, 5, 4]}},
  "objects": [
    {"type": "quad", "corner": [-4, 0, 4], "u": [8, 0, 0], "v": [0, 0, -8], "material": "white"},
    {"type": "quad", "corner": [-4, 0, -3], "u": [8, 0, 0], "v": [0, 5, 0], "material": "red"},
    {"type": "quad", "corner": [-1, 4.5, -1], "u": [2, 0, 0], "v": [0, 0, 2], "material": "lamp"},
    {"type": "sphere", "center": [2, 0.6, 0], "radius": 0.6, "material": "white"},
    {"type": "mesh", "file": "teapot.obj", "material": "white", "scale": 0.05, "translate": [-2.5, 0.4, -1]},
    {"type": "mesh", "file": "bunny.obj", "material": "white", "smooth": true, "scale": 0.2,
     "keys": [{"frame": 1, "rotate": [0, 0, 0], "translate": [-1, 0, 0]}, {"frame": 48, "rotate": [0, 300, 20], "translate": [1, 0.5, 1]}]},
    {"type": "mesh", "file": "teapot.obj", "material": "red", "scale": 0.04, "translate": [0, 3, -1],
     "keys": [{"frame": 1, "rotate": [0, 0, 0]}, {"frame": 48, "rotate": [90, 180, 0]}]},
    {"type": "mesh", "file": "cornell-blocks.obj", "material": "white", "scale": 0.004, "translate": [-1, 0, 1],
     "keys": [{"frame": 1, "scale": [0.004, 0.004, 0.004]}, {"frame": 48, "scale": [0.002, 0.006, 0.001]}]},
    {"type": "mesh", "file": "square.obj", "material": "lamp",
     "keys": [{"frame": 1, "translate": [-2, 3, 0]}, {"frame": 48, "translate": [2, 2, 1], "rotate": [180, 0, 0]}]},
    {"type": "mesh", "file": "square.obj", "material": "lamp",
     "keys": [{"frame": 1, "translate": [2, 3.5, -1]}, {"frame": 48, "translate": [-2, 1, 2], "rotate": [0, 0, 90]}]},
    {"type": "mesh", "file": "ball.obj", "material": "red", "scale": 0.5,
     "keys": [{"frame": 1, "translate": [1, 1, 1.5], "rotate": [0, 0, 0]}, {"frame": 48, "translate": [-1, 2, 1], "rotate": [33, 71, 12]}]},
    {"type": "mesh", "file": "square.obj", "material": "lamp", "translate": [0, 4, 2],
     "keys": [{"frame": 1, "scale": [1, 1, 1]}, {"frame": 48, "scale": [3, 1, 0.2]}]}
  ]}`
	return files
}

// TestFrameTreeSameAsRebuilt: a frame where meshes move, through the
// two-level tree, renders byte for byte what the same frame renders with
// its whole tree built anew, at frames across the range and in any order;
// every box of the frame's tree holds what is under it, and every
// primitive is under one leaf.
func TestFrameTreeSameAsRebuilt(t *testing.T) {
	files := movingScene(t)
	s, err := loadFiles(t, files, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err := loadFiles(t, files, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// A scene whose groups are none builds every frame's tree anew.
	rebuilt.anim.groupsOnce.Do(func() {})
	set := s.Resolve(Settings{})
	render := func(sc *Scene) []float32 {
		pix := make([]float32, 3*set.Width*set.Height)
		if _, err := sc.RenderTile(context.Background(), set, image.Rect(0, 0, set.Width, set.Height), pix); err != nil {
			t.Fatal(err)
		}
		return pix
	}
	changed := false // some frame has the ball's triangles not the still's
	for _, f := range []int{30, 1, 60} {
		fs, err := s.Frame(f)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := rebuilt.Frame(f)
		if err != nil {
			t.Fatal(err)
		}
		groups := s.anim.groups
		if len(groups) != 8 {
			t.Fatalf("%d groups, want the room and 7 movers", len(groups))
		}
		// The top level is 5 nodes (the root, four of two groups each);
		// the room's tree follows as it was built (offset), then the
		// bunny's, refitted: the same nodes, other boxes.
		const top = 5
		room, bunny := groups[0].tree.nodes, groups[1].tree.nodes
		if len(fs.bvh.nodes) < top+len(room)+len(bunny) {
			t.Fatalf("frame %d: %d nodes, fewer than the top level and the groups'", f, len(fs.bvh.nodes))
		}
		for j, n := range room {
			got := fs.bvh.nodes[top+j]
			for c := range bvhWidth {
				if n.count[c] == 0 && n.box[0][0][c] <= n.box[1][0][c] {
					n.child[c] += top
				}
			}
			if got.box != n.box || got.count != n.count || (got.child != n.child) {
				t.Fatalf("frame %d: node %d is not the room's node %d", f, top+j, j)
			}
		}
		for j, n := range bunny {
			if got := fs.bvh.nodes[top+len(room)+j]; got.count != n.count {
				t.Fatalf("frame %d: node %d is not the bunny's node %d", f, top+len(room)+j, j)
			}
		}
		if len(fs.info) != len(s.info) {
			changed = true
		}
		if len(fs.info) != len(fr.info) || len(fs.lights) != len(fr.lights) {
			t.Fatalf("frame %d: %d primitives and %d lights, rebuilt %d and %d", f, len(fs.info), len(fs.lights), len(fr.info), len(fr.lights))
		}
		checkTree(t, &fs.sceneData)
		if a, b := render(fs), render(fr); !slices.Equal(a, b) {
			t.Errorf("frame %d: the two-level tree's render differs from the rebuilt tree's", f)
		}
	}
	if !changed {
		t.Error("the ball's count of triangles is the still's at every frame: no group was built at a frame")
	}
	// The frames move: 1 and 48 differ.
	f1, _ := s.Frame(1)
	f48, _ := s.Frame(48)
	if slices.Equal(render(f1), render(f48)) {
		t.Error("frames 1 and 48 render the same")
	}
	// Frames asked for at once (as a node's workers do) share the groups'
	// trees, built once.
	s, err = loadFiles(t, files, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	frames := make([]*Scene, 6)
	for i := range frames {
		wg.Go(func() {
			frames[i], _ = s.Frame(1 + 9*i)
		})
	}
	wg.Wait()
	for i, fs := range frames {
		if fs == nil {
			t.Fatalf("frame %d failed", 1+9*i)
		}
		checkTree(t, &fs.sceneData)
	}
	// A glTF file's meshes moved by keys (each of its mesh nodes a mover):
	// the same.
	glb, err := os.ReadFile("../testdata/scenes/orbit.glb")
	if err != nil {
		t.Fatal(err)
	}
	still := map[string]string{"orbit.glb": string(glb), "scene.json": `{"camera": {"object": 0},
  "image": {"width": 24, "height": 16, "spp": 2, "maxDepth": 4},
  "objects": [{"type": "gltf", "file": "orbit.glb", "keys": [{"frame": 1, "rotate": [0, 0, 0]}, {"frame": 48, "rotate": [0, 20, 0]}]}]}`}
	s, err = loadFiles(t, still, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rebuilt, err = loadFiles(t, still, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rebuilt.anim.groupsOnce.Do(func() {})
	set = s.Resolve(Settings{})
	fs, err := s.Frame(40)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := rebuilt.Frame(40)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.anim.groups) < 3 {
		t.Fatalf("%d groups, want the still life's meshes, each a mover", len(s.anim.groups))
	}
	checkTree(t, &fs.sceneData)
	if !slices.Equal(render(fs), render(fr)) {
		t.Error("the still life turned, frame 40: the two-level tree's render differs from the rebuilt tree's")
	}
}

// checkTree fails unless every slot's box of s's tree holds the node or
// the primitives it refers to and every primitive is under exactly one
// leaf.
func checkTree(t *testing.T, s *sceneData) {
	t.Helper()
	seen := make([]int, len(s.info))
	var walk func(n int32, lo, hi Vec)
	walk = func(j int32, lo, hi Vec) {
		n := &s.bvh.nodes[j]
		for c := range bvhWidth {
			blo := Vec{X: float64(n.box[0][0][c]), Y: float64(n.box[0][1][c]), Z: float64(n.box[0][2][c])}
			bhi := Vec{X: float64(n.box[1][0][c]), Y: float64(n.box[1][1][c]), Z: float64(n.box[1][2][c])}
			if n.count[c] == 0 && blo.X > bhi.X {
				continue // empty
			}
			if !inside(blo, bhi, lo, hi) {
				t.Fatalf("node %d slot %d: box %v-%v outside its parent's %v-%v", j, c, blo, bhi, lo, hi)
			}
			if n.count[c] == 0 {
				walk(n.child[c], blo, bhi)
				continue
			}
			for i := int(n.child[c]); i < int(n.child[c])+int(n.count[c]&leafCount); i++ {
				seen[i]++
				if k := primKind(n.count[c] >> leafKindShift); s.info[i].kind != k {
					t.Fatalf("primitive %d of kind %d in a leaf of kind %d", i, s.info[i].kind, k)
				}
				plo, phi := s.shapeOf(i).bounds()
				if !inside(plo, phi, blo, bhi) {
					t.Fatalf("primitive %d: bounds %v-%v outside its leaf's box %v-%v", i, plo, phi, blo, bhi)
				}
			}
		}
	}
	inf := math.Inf(1)
	walk(0, Vec{X: -inf, Y: -inf, Z: -inf}, Vec{X: inf, Y: inf, Z: inf})
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("primitive %d is under %d leaves", i, n)
		}
	}
}

func inside(lo, hi, blo, bhi Vec) bool {
	return lo.X >= blo.X && lo.Y >= blo.Y && lo.Z >= blo.Z && hi.X <= bhi.X && hi.Y <= bhi.Y && hi.Z <= bhi.Z
}
