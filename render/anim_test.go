package render

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"strings"
	"testing"
)

// TestCurveSampling checks every interpolation against values computed by
// hand.
func TestCurveSampling(t *testing.T) {
	s15, c15 := math.Sincos(15 * math.Pi / 180)
	s45, c45 := math.Sincos(45 * math.Pi / 180)
	s85, c85 := math.Sincos(85 * math.Pi / 180) // half of 170°
	cases := []struct {
		name string
		c    curve
		u    float64
		want []float64
	}{
		// LINEAR vectors: a straight line, held outside the keys.
		{"linear middle", curve{at: []float64{0, 2}, val: []float64{0, 0, 0, 2, 4, -6}, w: 3}, 0.5, []float64{0.5, 1, -1.5}},
		{"linear before", curve{at: []float64{0, 2}, val: []float64{0, 0, 0, 2, 4, -6}, w: 3}, -1, []float64{0, 0, 0}},
		{"linear after", curve{at: []float64{0, 2}, val: []float64{0, 0, 0, 2, 4, -6}, w: 3}, 3, []float64{2, 4, -6}},
		{"linear on a key", curve{at: []float64{0, 1, 2}, val: []float64{0, 5, 1}, w: 1}, 1, []float64{5}},
		{"linear second span", curve{at: []float64{0, 1, 3}, val: []float64{0, 5, 1}, w: 1}, 2.5, []float64{2}},
		{"one key", curve{at: []float64{4}, val: []float64{7}, w: 1}, 0, []float64{7}},
		// STEP: the previous key's value until the next key.
		{"step before next", curve{at: []float64{0, 1, 3}, val: []float64{1, 2, 3}, w: 1, interp: interpStep}, 0.99, []float64{1}},
		{"step on key", curve{at: []float64{0, 1, 3}, val: []float64{1, 2, 3}, w: 1, interp: interpStep}, 1, []float64{2}},
		{"step last span", curve{at: []float64{0, 1, 3}, val: []float64{1, 2, 3}, w: 1, interp: interpStep}, 2.9, []float64{2}},
		{"step end", curve{at: []float64{0, 1, 3}, val: []float64{1, 2, 3}, w: 1, interp: interpStep}, 3, []float64{3}},
		// CUBICSPLINE, keys t=0 (in 0, value 0, out 3) and t=2 (in 1,
		// value 2, out 0): at s = 0.5, h = (1/2, 1/8, 1/2, -1/8), value
		// 0.5*0 + 0.125*2*3 + 0.5*2 - 0.125*2*1 = 1.5; at s = 0.25,
		// h = (27/32, 9/64, 5/32, -3/64): 9/64*6 + 5/32*2 - 3/64*2 = 1.0625.
		{"cubic middle", curve{at: []float64{0, 2}, val: []float64{0, 0, 3, 1, 2, 0}, w: 1, interp: interpCubic}, 1, []float64{1.5}},
		{"cubic quarter", curve{at: []float64{0, 2}, val: []float64{0, 0, 3, 1, 2, 0}, w: 1, interp: interpCubic}, 0.5, []float64{1.0625}},
		{"cubic on key", curve{at: []float64{0, 2}, val: []float64{0, 0, 3, 1, 2, 0}, w: 1, interp: interpCubic}, 2, []float64{2}},
		{"cubic before", curve{at: []float64{0, 2}, val: []float64{9, 0.25, 3, 1, 2, 0}, w: 1, interp: interpCubic}, -1, []float64{0.25}},
		// Slerp of rotations about Z, 0° to 90°: a third of the way is 30°
		// about Z, the quaternion (0, 0, sin 15°, cos 15°).
		{"slerp third", curve{at: []float64{0, 3}, val: []float64{0, 0, 0, 1, 0, 0, s45, c45}, w: 4, quat: true}, 1, []float64{0, 0, s15, c15}},
		// The same end rotation written as -q: the shorter arc all the same.
		{"slerp shorter arc", curve{at: []float64{0, 3}, val: []float64{0, 0, 0, 1, 0, 0, -s45, -c45}, w: 4, quat: true}, 1, []float64{0, 0, s15, c15}},
		// 0° to 170° about Y, halfway: 85°, (0, sin 42.5°, 0, cos 42.5°).
		{"slerp wide", curve{at: []float64{0, 1}, val: []float64{0, 0, 0, 1, 0, s85, 0, c85}, w: 4, quat: true}, 0.5,
			[]float64{0, math.Sin(42.5 * math.Pi / 180), 0, math.Cos(42.5 * math.Pi / 180)}},
		// A cubic of rotations with zero tangents, from identity to 180°
		// about Z, halfway: (0, 0, 1/2, 1/2) normalised, 90° about Z.
		{"cubic rotation", curve{at: []float64{0, 1}, val: []float64{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0}, w: 4, interp: interpCubic, quat: true}, 0.5,
			[]float64{0, 0, math.Sqrt2 / 2, math.Sqrt2 / 2}},
		// STEP of rotations: no slerp.
		{"step rotation", curve{at: []float64{0, 1}, val: []float64{0, 0, 0, 1, 0, 0, 1, 0}, w: 4, interp: interpStep, quat: true}, 0.5, []float64{0, 0, 0, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float64, tc.c.w)
			tc.c.sample(tc.u, got)
			for i := range got {
				if !near(got[i], tc.want[i], 1e-12) {
					t.Fatalf("sample(%v) = %v, want %v", tc.u, got, tc.want)
				}
			}
		})
	}
}

// TestGLTFTimeOnKeys: a frame's time is rounded as glTF key times are, so
// frame f lands on the key Blender wrote at f/fps (float32) exactly.
func TestGLTFTimeOnKeys(t *testing.T) {
	for _, fps := range []float64{24, 25, 30, 23.976} {
		for f := 0; f <= 240; f++ {
			key := float64(float32(float64(f) / fps))
			if got := gltfTime(f, fps); got != key {
				t.Fatalf("gltfTime(%d, %v) = %v, want the key %v", f, fps, got, key)
			}
		}
	}
}

// animDoc is a glTF document of one quad on node 0 ("Box", under the
// parent node 1) and a camera on node 2, with the given animations.
func animDoc(g *gltfBuilder, anims []any) map[string]any {
	pos := g.floats("VEC3", quadXY...)
	idx := g.indices(gltfUShort, 0, 1, 2, 0, 2, 3)
	return map[string]any{
		"scene": 0, "scenes": []any{map[string]any{"nodes": []any{1, 2}}},
		"nodes": []any{
			map[string]any{"name": "Box", "mesh": 0, "translation": []any{0, 0, -3}},
			map[string]any{"name": "Parent", "children": []any{0}},
			map[string]any{"name": "Cam", "camera": 0, "translation": []any{0, 0, 2}},
		},
		"meshes":     []any{map[string]any{"primitives": []any{map[string]any{"attributes": map[string]any{"POSITION": pos}, "indices": idx}}}},
		"cameras":    []any{map[string]any{"name": "Cam", "type": "perspective", "perspective": map[string]any{"yfov": 0.8, "znear": 0.1}}},
		"animations": anims,
	}
}

// frameTriangles returns the triangles of scene s at frame f.
func frameTriangles(t *testing.T, s *Scene, f int) [][3]Vec {
	t.Helper()
	fs, err := s.Frame(f)
	if err != nil {
		t.Fatal(err)
	}
	return triangles(fs)
}

// hasVertex reports whether some triangle has vertex v (within 1e-9).
func hasVertex(tris [][3]Vec, v Vec) bool {
	for _, tr := range tris {
		for _, p := range tr {
			if p.Sub(v).Len() < 1e-9 {
				return true
			}
		}
	}
	return false
}

// TestGLTFAnimation plays channels on translation, rotation and scale of a
// node and its parent, with each interpolation, several animations
// together, at the scene file's fps, and checks the triangles and the
// camera against positions computed by hand.
func TestGLTFAnimation(t *testing.T) {
	g := &gltfBuilder{}
	times := g.floats("SCALAR", 0, 1)
	// Animation 0: the Box slides +2 in X over one second (LINEAR).
	slide := g.floats("VEC3", 0, 0, -3, 2, 0, -3)
	// Animation 1: the Parent turns 90° about Y (LINEAR: slerp) and the
	// camera node jumps to z=4 at t=1 (STEP).
	s45, c45 := float32(math.Sin(math.Pi/4)), float32(math.Cos(math.Pi/4))
	turn := g.floats("VEC4", 0, 0, 0, 1, 0, s45, 0, c45)
	jump := g.floats("VEC3", 0, 0, 2, 0, 0, 4)
	// Animation 2: the Box scales x2 with a cubic spline, zero tangents.
	grow := g.floats("VEC3", 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0)
	doc := animDoc(g, []any{
		map[string]any{"samplers": []any{map[string]any{"input": times, "output": slide}},
			"channels": []any{map[string]any{"sampler": 0, "target": map[string]any{"node": 0, "path": "translation"}}}},
		map[string]any{"samplers": []any{map[string]any{"input": times, "output": turn}, map[string]any{"input": times, "output": jump, "interpolation": "STEP"}},
			"channels": []any{
				map[string]any{"sampler": 0, "target": map[string]any{"node": 1, "path": "rotation"}},
				map[string]any{"sampler": 1, "target": map[string]any{"node": 2, "path": "translation"}},
			}},
		map[string]any{"samplers": []any{map[string]any{"input": times, "output": grow, "interpolation": "CUBICSPLINE"}},
			"channels": []any{map[string]any{"sampler": 0, "target": map[string]any{"node": 0, "path": "scale"}}}},
	})
	files := map[string]string{"m.gltf": g.file(t, doc), "scene.json": `{"camera": {"object": 0, "name": "Cam"}, "fps": 10,
  "image": {"width": 8, "height": 8, "spp": 1}, "objects": [{"type": "gltf", "file": "m.gltf"}]}`}
	s, err := loadFiles(t, files, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Animated() {
		t.Fatal("Animated() = false for a file with animations")
	}
	// The still: the nodes as the file has them.
	if tr := triangles(s); !hasVertex(tr, Vec{X: 1, Y: 1, Z: -3}) {
		t.Fatalf("still: no vertex at (1, 1, -3): %v", tr)
	}
	// Frame 5 at 10 fps is t = 0.5: the Box at x = 1 (slide), scaled by
	// 1.5 (the cubic's midpoint with flat tangents), under the Parent
	// turned 45° about Y. Its local corner (1, 1, 0) is at (1+1.5, 1.5,
	// -3) in the parent, turned 45° about Y: x' = x cos + z sin, z' = -x
	// sin + z cos.
	c := math.Cos(math.Pi / 4)
	corner := Vec{X: 2.5*c - 3*c, Y: 1.5, Z: -2.5*c - 3*c}
	if tr := frameTriangles(t, s, 5); !hasVertex(tr, corner) {
		t.Fatalf("frame 5: no vertex at %v: %v", corner, tr)
	}
	// Frame 10 (t = 1) and after: the end of every channel.
	end := Vec{X: 0 - 3, Y: 2, Z: -(2 + 2)}
	for _, f := range []int{10, 20} {
		if tr := frameTriangles(t, s, f); !hasVertex(tr, end) {
			t.Fatalf("frame %d: no vertex at %v: %v", f, end, tr)
		}
	}
	// The camera jumps (STEP) at t = 1, not before.
	for _, tc := range []struct {
		f    int
		from Vec
	}{{0, Vec{Z: 2}}, {9, Vec{Z: 2}}, {10, Vec{Z: 4}}} {
		fs, err := s.Frame(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if fs.camera.from.Sub(tc.from).Len() > 1e-12 {
			t.Errorf("frame %d: camera at %v, want %v", tc.f, fs.camera.from, tc.from)
		}
	}
	// The still's primitives are untouched by frames.
	if tr := triangles(s); !hasVertex(tr, Vec{X: 1, Y: 1, Z: -3}) {
		t.Fatalf("the still changed after frames: %v", tr)
	}
}

// TestOrbitCameraAsBlender compares the camera of orbit.glb at frames with
// the camera's world matrix Blender 3.4 computes for the same frames
// (importing the file and printing matrix_world at each frame, in glTF's
// Y-up axes).
func TestOrbitCameraAsBlender(t *testing.T) {
	s := loadTestScene(t, "orbit.glb")
	blender := []struct {
		f         int
		from, fwd Vec
	}{
		{1, Vec{X: -3.500000477, Y: 2.599999905, Z: 6.062176704}, Vec{X: 0.489073932, Y: -0.207911715, Z: -0.847100616}},
		{2, Vec{X: -3.491497278, Y: 2.599999905, Z: 6.067078590}, Vec{X: 0.487885714, Y: -0.207911715, Z: -0.847785532}},
		{12, Vec{X: -2.585812569, Y: 2.599999905, Z: 6.504888058}, Vec{X: 0.361329496, Y: -0.207911715, Z: -0.908963025}},
		{24, Vec{X: -0.116951324, Y: 2.599999905, Z: 6.999022484}, Vec{X: 0.016342238, Y: -0.207911715, Z: -0.978011072}},
		{25, Vec{X: 0.116950907, Y: 2.599999905, Z: 6.999022484}, Vec{X: -0.016342180, Y: -0.207911715, Z: -0.978011072}},
		{36, Vec{X: 2.424359322, Y: 2.599999905, Z: 6.566770554}, Vec{X: -0.338768780, Y: -0.207911715, Z: -0.917610168}},
		{48, Vec{X: 3.500000477, Y: 2.599999905, Z: 6.062176704}, Vec{X: -0.489073932, Y: -0.207911715, Z: -0.847100616}},
	}
	for _, b := range blender {
		fs, err := s.Frame(b.f)
		if err != nil {
			t.Fatal(err)
		}
		fwd := fs.camera.to.Sub(fs.camera.from).Norm()
		if d, e := fs.camera.from.Sub(b.from).Len(), fwd.Sub(b.fwd).Len(); d > 2e-6 || e > 2e-6 {
			t.Errorf("frame %d: camera at %v looking %v; Blender: %v looking %v", b.f, fs.camera.from, fwd, b.from, b.fwd)
		}
		// Only the camera moves: the frame shares the still's primitives.
		if &fs.geo[0] != &s.geo[0] || &fs.bvh.nodes[0] != &s.bvh.nodes[0] {
			t.Errorf("frame %d rebuilt the scene; only its camera moves", b.f)
		}
	}
	// The still is as the file stands: the pivot's rotation is frame 1's.
	if d := s.camera.from.Sub(blender[0].from).Len(); d > 2e-6 {
		t.Errorf("still: camera at %v, want frame 1's %v", s.camera.from, blender[0].from)
	}
}

// TestFrameSeeds: frames have samples of their own and render the same
// every time; the still keeps the seeds it always had.
func TestFrameSeeds(t *testing.T) {
	s, err := loadFiles(t, map[string]string{"scene.json": sceneWith(whiteMat+`, "light": {"type": "emissive", "emission": [4, 4, 4]}`,
		`{"type": "sphere", "center": [0, 1, 0], "radius": 1, "material": "white"},
		 {"type": "sphere", "center": [2, 3, 2], "radius": 0.5, "material": "light"}`)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Animated() {
		t.Fatal("Animated() = true for a scene without keys")
	}
	set := Settings{Width: 8, Height: 8, SPP: 2, MaxDepth: 4}
	tile := func(sc *Scene) []float32 {
		pix := make([]float32, 8*8*3)
		if _, err := sc.RenderTile(context.Background(), set, image.Rect(0, 0, 8, 8), pix); err != nil {
			t.Fatal(err)
		}
		return pix
	}
	still := tile(s)
	f1, err := s.Frame(1)
	if err != nil {
		t.Fatal(err)
	}
	f1b, _ := s.Frame(1)
	if f1 != f1b {
		t.Error("Frame(1) twice gave two scenes: the cache should share one")
	}
	f2, _ := s.Frame(2)
	a, b, c := tile(f1), tile(f2), tile(f1)
	if fmt.Sprint(a) != fmt.Sprint(c) {
		t.Fatal("frame 1 rendered twice differs")
	}
	if fmt.Sprint(a) == fmt.Sprint(b) || fmt.Sprint(a) == fmt.Sprint(still) {
		t.Fatal("frames 1, 2 and the still share their samples")
	}
	// A frame of a frame is the frame of the still.
	f12, _ := f1.Frame(2)
	if fmt.Sprint(tile(f12)) != fmt.Sprint(b) {
		t.Fatal("Frame(2) of frame 1 differs from frame 2")
	}
	for _, f := range []int{-1, MaxFrame + 1} {
		if _, err := s.Frame(f); !errors.Is(err, ErrBadSettings) {
			t.Errorf("Frame(%d): %v, want ErrBadSettings", f, err)
		}
	}
}

// TestKeyframes moves a JSON scene's camera and a mesh by keyframes and
// checks them against values computed by hand.
func TestKeyframes(t *testing.T) {
	obj, err := os.ReadFile("../testdata/meshes/teapot.obj")
	if err != nil {
		t.Fatal(err)
	}
	scene := `{"camera": {"from": [0, 1, 5], "to": [0, 1, 0], "fov": 40,
	   "keys": [{"frame": 1, "from": [0, 1, 5]}, {"frame": 11, "from": [10, 1, 5], "fov": 30}, {"frame": 21, "fov": 50}]},
	 "image": {"width": 8, "height": 8, "spp": 1},
	 "materials": {` + whiteMat + `},
	 "objects": [{"type": "mesh", "file": "teapot.obj", "material": "white", "translate": [0, 0, 0],
	   "keys": [{"frame": 0, "translate": [0, 0, 0], "rotate": [0, 0, 0]}, {"frame": 10, "translate": [4, 0, 0], "rotate": [0, 90, 0]}]},
	   {"type": "sphere", "center": [0, -100, 0], "radius": 99, "material": "white"}]}`
	s, err := loadFiles(t, map[string]string{"scene.json": scene, "teapot.obj": string(obj)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    int
		from Vec
		fov  float64
	}{{0, Vec{Y: 1, Z: 5}, 30}, {1, Vec{Y: 1, Z: 5}, 30}, {6, Vec{X: 5, Y: 1, Z: 5}, 30}, {11, Vec{X: 10, Y: 1, Z: 5}, 30}, {16, Vec{X: 10, Y: 1, Z: 5}, 40}, {30, Vec{X: 10, Y: 1, Z: 5}, 50}} {
		fs, err := s.Frame(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if fs.camera.from.Sub(tc.from).Len() > 1e-12 || !near(fs.camera.fov, tc.fov, 1e-12) {
			t.Errorf("frame %d: camera from %v fov %v, want %v, %v", tc.f, fs.camera.from, fs.camera.fov, tc.from, tc.fov)
		}
	}
	// The teapot at frame 5: halfway, translated by (2, 0, 0) and turned
	// 45° about Y. Compare with the same scene standing still there.
	moved := strings.Replace(scene, `"translate": [0, 0, 0],
	   "keys": [{"frame": 0, "translate": [0, 0, 0], "rotate": [0, 0, 0]}, {"frame": 10, "translate": [4, 0, 0], "rotate": [0, 90, 0]}]`, `"translate": [2, 0, 0], "rotate": [0, 45, 0]`, 1)
	if moved == scene {
		t.Fatal("test bug: the replacement did not apply")
	}
	ref, err := loadFiles(t, map[string]string{"scene.json": moved, "teapot.obj": string(obj)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f5, err := s.Frame(5)
	if err != nil {
		t.Fatal(err)
	}
	got, want := triangles(f5), triangles(ref)
	if len(got) != len(want) {
		t.Fatalf("frame 5 has %d triangles, the scene standing there %d", len(got), len(want))
	}
	key := func(tr [3]Vec) string { return fmt.Sprint(tr) }
	have := map[string]int{}
	for _, tr := range got {
		have[key(tr)]++
	}
	for _, tr := range want {
		if have[key(tr)]--; have[key(tr)] < 0 {
			t.Fatalf("frame 5 lacks triangle %v of the teapot standing at its place", tr)
		}
	}
	// Rendered with the same samples, the frame and the scene standing at
	// its place are the same image.
	ref.frameSeed, ref.camera = f5.frameSeed, f5.camera
	set := Settings{Width: 16, Height: 16, SPP: 2, MaxDepth: 3}
	a, b := make([]float32, 16*16*3), make([]float32, 16*16*3)
	if _, err := f5.RenderTile(context.Background(), set, image.Rect(0, 0, 16, 16), a); err != nil {
		t.Fatal(err)
	}
	if _, err := ref.RenderTile(context.Background(), set, image.Rect(0, 0, 16, 16), b); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("frame 5 renders differently from the scene standing at frame 5's place")
	}
	// The still is as the object stands, and shares nothing with frame 5.
	if !slicesEqualTris(triangles(s), triangles(s)) || &f5.geo[0] == &s.geo[0] {
		t.Fatal("frame 5 shares the still's primitives although the teapot moves")
	}
}

func slicesEqualTris(a, b [][3]Vec) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestAnimationErrors: broken animations and keyframes name the file and
// the place.
func TestAnimationErrors(t *testing.T) {
	gltfWith := func(mod func(g *gltfBuilder, doc map[string]any)) string {
		g := &gltfBuilder{}
		doc := animDoc(g, nil)
		mod(g, doc)
		return g.file(t, doc)
	}
	anim := func(sampler map[string]any, target map[string]any) []any {
		return []any{map[string]any{"samplers": []any{sampler}, "channels": []any{map[string]any{"sampler": 0, "target": target}}}}
	}
	cases := []struct {
		name  string
		gltf  string
		scene string // replaces the default scene file
		want  string
	}{
		{"times decrease", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0, 2, 1), "output": g.floats("VEC3", 0, 0, 0, 1, 1, 1, 2, 2, 2)}, map[string]any{"node": 0, "path": "translation"})
		}), "", "m.gltf: animations[0].samplers[0].input: accessor 2: key time 2 (1 s) is not after key 1 (2 s)"},
		{"too few values", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0, 1), "output": g.floats("VEC3", 0, 0, 0)}, map[string]any{"node": 0, "path": "translation"})
		}), "", "animations[0].samplers[0].output: accessor 3 has 1 values for 2 key times (expected 2)"},
		{"cubic counts", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0, 1), "output": g.floats("VEC3", 0, 0, 0, 1, 1, 1), "interpolation": "CUBICSPLINE"}, map[string]any{"node": 0, "path": "scale"})
		}), "", "has 2 values for 2 key times (expected 6)"},
		{"rotation as vec3", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0, 1), "output": g.floats("VEC3", 0, 0, 0, 1, 1, 1)}, map[string]any{"node": 0, "path": "rotation"})
		}), "", "animations[0].samplers[0].output: accessor 3 is VEC3, expected VEC4"},
		{"not a unit quaternion", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0), "output": g.floats("VEC4", 0, 0, 0, 0)}, map[string]any{"node": 0, "path": "rotation"})
		}), "", "key 0 is not a unit quaternion"},
		{"unknown interpolation", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0), "output": g.floats("VEC3", 0, 0, 0), "interpolation": "BEZIER"}, map[string]any{"node": 0, "path": "translation"})
		}), "", `animations[0].samplers[0].interpolation: expected "LINEAR", "STEP" or "CUBICSPLINE", got "BEZIER"`},
		{"unknown path", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0), "output": g.floats("VEC3", 0, 0, 0)}, map[string]any{"node": 0, "path": "position"})
		}), "", `animations[0].channels[0].target.path: expected "translation", "rotation", "scale" or "weights", got "position"`},
		{"node out of range", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0), "output": g.floats("VEC3", 0, 0, 0)}, map[string]any{"node": 9, "path": "scale"})
		}), "", "animations[0].channels[0].target.node: node 9 does not exist (the file has 3)"},
		{"animated matrix", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["nodes"].([]any)[0].(map[string]any)["matrix"] = []any{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}
			delete(d["nodes"].([]any)[0].(map[string]any), "translation")
			d["animations"] = anim(map[string]any{"input": g.floats("SCALAR", 0), "output": g.floats("VEC3", 0, 0, 0)}, map[string]any{"node": 0, "path": "scale"})
		}), "", `node 0 has a "matrix": an animated node takes "translation", "rotation" and "scale"`},
		{"sampler out of range", gltfWith(func(g *gltfBuilder, d map[string]any) {
			d["animations"] = []any{map[string]any{"samplers": []any{}, "channels": []any{map[string]any{"sampler": 0, "target": map[string]any{"node": 0, "path": "scale"}}}}}
		}), "", "animations[0].channels[0].sampler: sampler 0 does not exist (the file has 0)"},
		{"keys not increasing", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0], "keys": [{"frame": 3, "fov": 20}, {"frame": 3, "fov": 30}]}, "objects": []}`,
			"scene.json: camera.keys[1].frame: frame 3 is not after the previous key's 3"},
		{"key gives nothing", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0], "keys": [{"frame": 3}]}, "objects": []}`,
			`scene.json: camera.keys[0]: the key gives none of "from", "to", "fov"`},
		{"key unknown field", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0], "keys": [{"frame": 3, "form": [1, 2, 3]}]}, "objects": []}`,
			`scene.json: camera.keys[0].form: unknown field "form"`},
		{"key fov", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0], "keys": [{"frame": 3, "fov": 200}]}, "objects": []}`,
			"scene.json: camera.keys[0].fov: expected a vertical field of view"},
		{"key without frame", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0], "keys": [{"fov": 20}]}, "objects": []}`,
			`scene.json: camera.keys[0]: missing field "frame"`},
		{"empty keys", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0], "keys": []}, "objects": []}`,
			"scene.json: camera.keys: expected an array of keys, got an empty one"},
		{"zero scale", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0]}, "objects": [{"type": "gltf", "file": "m.gltf", "keys": [{"frame": 1, "scale": 0}]}]}`,
			"scene.json: objects[0].keys[0].scale: expected a non-zero scale"},
		{"keys on a sphere", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0]}, "materials": {` + whiteMat + `}, "objects": [{"type": "sphere", "center": [0, 0, 0], "radius": 1, "material": "white", "keys": [{"frame": 1, "translate": [1, 0, 0]}]}]}`,
			"scene.json: objects[0].keys: a sphere cannot move"},
		{"keys on a glTF camera", "", `{"camera": {"object": 0, "keys": [{"frame": 1, "fov": 20}]}, "objects": [{"type": "gltf", "file": "m.gltf"}]}`,
			"scene.json: camera.keys: a glTF object's camera moves with its node"},
		{"fps", "", `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0]}, "fps": 0, "objects": []}`,
			"scene.json: fps: expected frames per second, more than 0 and at most 1000, got 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"m.gltf": tc.gltf, "scene.json": `{"camera": {"object": 0}, "objects": [{"type": "gltf", "file": "m.gltf"}]}`}
			if tc.gltf == "" {
				files["m.gltf"] = gltfWith(func(*gltfBuilder, map[string]any) {})
			}
			if tc.scene != "" {
				files["scene.json"] = tc.scene
			}
			_, err := loadFiles(t, files, Limits{})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LoadError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
