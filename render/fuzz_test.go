package render

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzLimits keep a fuzzed scene's memory small.
var fuzzLimits = Limits{MaxSceneBytes: 1 << 20, MaxTriangles: 20000, MaxTexturePixels: 1 << 12, MaxJSONBytes: 1 << 16}

// fuzzRender renders a 4x4 corner of a scene that loaded, with settings
// small enough for any scene, to check that odd geometry does not panic.
func fuzzRender(t *testing.T, s *Scene) {
	t.Helper()
	dst := make([]float32, 4*4*3)
	set := Settings{Width: 8, Height: 8, SPP: 1, MaxDepth: 4}
	if _, err := s.RenderTile(context.Background(), set, image.Rect(0, 0, 4, 4), dst); err != nil {
		t.Fatalf("RenderTile: %v", err)
	}
}

// fuzzFrames renders two frames of a scene that loaded and moves: a frame
// renders, or fails with ErrBadSettings (a degenerate camera) or a
// *LoadError (a vertex moved out of range).
func fuzzFrames(t *testing.T, s *Scene) {
	t.Helper()
	if !s.Animated() {
		return
	}
	for _, f := range []int{0, 7} {
		fs, err := s.Frame(f)
		var le *LoadError
		switch {
		case err == nil:
			fuzzRender(t, fs)
		case !errors.Is(err, ErrBadSettings) && !errors.As(err, &le):
			t.Fatalf("Frame(%d): %v (%T), want ErrBadSettings or a *LoadError", f, err, err)
		}
	}
}

// checkLoadErr fails unless err is nil or a *LoadError with a message.
func checkLoadErr(t *testing.T, err error) {
	t.Helper()
	var le *LoadError
	if err != nil && (!errors.As(err, &le) || le.File == "" || le.Err == nil) {
		t.Fatalf("error %v (%T) is not a *LoadError naming a file", err, err)
	}
}

func readSeed(f *testing.F, path string) []byte {
	f.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// FuzzLoadSceneJSON loads arbitrary scene files beside a small mesh and a
// texture: the loader must return a scene or a *LoadError, never panic,
// and a scene that loads must render.
func FuzzLoadSceneJSON(f *testing.F) {
	for _, name := range []string{"cornell", "bunny", "spheres"} {
		f.Add(readSeed(f, "../testdata/scenes/"+name+".json"))
	}
	seeds := []string{
		sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "material": "white"}`),
		sceneWith(whiteMat+`, "t": {"type": "diffuse", "texture": "t.png"}`, `{"type": "sphere", "center": [0,0,0], "radius": 1, "material": "t"}`),
		sceneWith(`"l": {"type": "emissive", "emission": [1,1,1]}`, `{"type": "plane", "point": [0,0,0], "normal": [0,1,0], "material": "l"}`),
		sceneWith(whiteMat, `{"type": "quad", "corner": [0,0,0], "u": [1e300,0,0], "v": [0,1e300,0], "material": "white"}`),
		`{"camera": {"from": [0,0,0], "to": [0,0,1], "fov": 179.9, "aperture": 1e9}, "objects": []}`,
		`{"camera": {"from": [1e308,0,0], "to": [0,0,0]}, "objects": [{"type": "mesh", "file": "m.obj", "scale": 1e308}]}`,
		`{"camera": {}, "objects": [null, 1, "x", []]}`,
		`{"camera": {"from": [0,0,0], "to": [0,0,0]}}`,
		`{"camera": {"from": [0,0,5], "to": [0,0,0], "keys": [{"frame": 1, "from": [0,0,0]}, {"frame": 9, "to": [0,1,0], "fov": 90}]}, "fps": 30,
		  "objects": [{"type": "mesh", "file": "m.obj", "keys": [{"frame": 0, "scale": 2}, {"frame": 8, "rotate": [0, 1e300, 0], "translate": [1,2,3]}]}]}`,
		`{"image": {"width": 1e400}}`,
		`{"materials": {"a": {"type": "metal", "roughness": 2}}}`,
		`[`, `{`, `{"a":`, `"\u0000"`, `{"camera": {"from": [0,0,"1"]}}`, `{} {}`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	mesh := []byte("v 0 0 0\nv 1 0 0\nv 0 1 0\nusemtl white\nf 1 2 3\n")
	tex := pngBytes(f, 2, 2, color.NRGBA{R: 200, G: 100, B: 50, A: 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &Bundle{Main: "scene.json", Files: map[string][]byte{"scene.json": data, "m.obj": mesh, "t.png": tex}}
		s, err := LoadBundle(b, fuzzLimits)
		checkLoadErr(t, err)
		if err == nil {
			fuzzRender(t, s)
			fuzzFrames(t, s)
		}
	})
}

// FuzzOBJ loads arbitrary OBJ and MTL files as a mesh of a scene: no panic,
// no hang, memory bounded by the limits, and a mesh that loads renders.
func FuzzOBJ(f *testing.F) {
	for _, p := range []string{"cornell-box.obj", "cornell-blocks.obj", "ground.obj", "teapot.obj"} {
		f.Add(readSeed(f, "../testdata/meshes/"+p), readSeed(f, "../testdata/meshes/ground.mtl"))
	}
	objs, _ := filepath.Glob("testdata/assimp/*.obj")
	for _, p := range objs {
		mtl := []byte("newmtl a\nKd 1 0 0\n")
		if m, err := os.ReadFile(strings.TrimSuffix(p, ".obj") + ".mtl"); err == nil {
			mtl = m
		}
		f.Add(readSeed(f, p), mtl)
	}
	seeds := [][2]string{
		{"mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvn 0 0 1\nusemtl a\nf 1/1/1 2/1/1 3/1/1\n", "newmtl a\nKd 1 1 1\nmap_Kd t.png\n"},
		{"mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nusemtl g\nf -3 -2 -1\n", "newmtl g\nKe 5 5 5\nnewmtl h\nillum 7\nNi 1.3\nd 0.5\n"},
		{"mtllib m.mtl\nv 0 0 0 \\\n 1 0 0\nf 1 1 1 1 1 1 1 1\n", "Kd 1 1 1\n"},
		{"mtllib m.mtl\nusemtl a\nv 1e308 1e308 1e308\nv -1e308 0 0\nv 0 1 0\nf 1 2 3\n", "newmtl a\nKs 1 1 1\nNs 1e9\nillum 3\n"},
		{"f 1//1 2//2 3//3\n", ""},
		{"v 0 0 0\nf 1/2/3/4 1 1\n", ""},
		{"mtllib ../../../etc/passwd\n", ""},
		{"mtllib /abs.mtl\nvt 1\nvn 0 0 0\n", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	scene := []byte(sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "smooth": true}`))
	tex := pngBytes(f, 1, 1, color.NRGBA{R: 10, G: 20, B: 30, A: 255})
	f.Fuzz(func(t *testing.T, obj, mtl []byte) {
		// The parsers alone first, then the whole loader.
		n := 0
		m, err := parseOBJ("m.obj", obj, fuzzLimits.MaxTriangles, &n)
		if err != nil {
			checkLoadErr(t, err)
		}
		checkOBJPaths(t, obj, m, n, err)
		if _, err := parseMTL("m.mtl", mtl); err != nil {
			checkLoadErr(t, err)
		}
		b := &Bundle{Main: "scene.json", Files: map[string][]byte{"scene.json": scene, "m.obj": obj, "m.mtl": mtl, "t.png": tex}}
		s, err := LoadBundle(b, fuzzLimits)
		checkLoadErr(t, err)
		if err == nil {
			fuzzRender(t, s)
		}
	})
}

// TestAssimpOBJFiles loads the real OBJ files of assimp's test models, good
// and broken: the broken ones fail with the line at fault.
func TestAssimpOBJFiles(t *testing.T) {
	tests := []struct {
		file string
		want string // "" when the file loads
	}{
		{"malformed.obj", "malformed.obj: line 23: f: vertex 2 (\"12\"): vertex 12 does not exist (8 defined so far)"},
		{"malformed2.obj", "malformed2.obj: line 23: f: expected at least 3 vertices, got 0"},
		{"empty.obj", ""},
		{"box_UTF16BE.obj", ""}, // no statement we know: an empty mesh
		{"number_formats.obj", "number_formats.obj: line 11: v: expected a finite number, got \"3.1+e2\""},
		{"concave_polygon.obj", ""},
		{"space_in_material_name.obj", ""},
		{"cube_usemtl.obj", ""},
		{"box_mat_with_spaces.obj", ""},
		{"box_without_lineending.obj", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			files := map[string]string{
				"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "testdata/assimp/`+tt.file+`", "material": "white"}`),
			}
			data, err := os.ReadFile("testdata/assimp/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			files["testdata/assimp/"+tt.file] = string(data)
			_, err = loadFiles(t, files, Limits{})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// FuzzGLTF loads arbitrary glTF files (JSON or binary) as the one object of
// a scene, beside the buffers and images assimp's box references: the
// loader returns a scene or a *LoadError, never panics, and a scene that
// loads renders. Seeds: assimp's glTF test models, good and broken, and
// small files made by the tests' builder.
func FuzzGLTF(f *testing.F) {
	paths, _ := filepath.Glob("testdata/gltf/*/*.gl*")
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Size() < 20000 {
			f.Add(readSeed(f, p))
		}
	}
	g := &gltfBuilder{}
	pos := g.floats("VEC3", quadXY...)
	uv := g.floats("VEC2", 0, 0, 1, 0, 1, 1, 0, 1)
	tan := g.floats("VEC4", 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1)
	doc := meshDoc(map[string]any{"attributes": map[string]any{"POSITION": pos, "TEXCOORD_0": uv, "TANGENT": tan},
		"indices": g.indices(gltfUShort, 0, 1, 2, 0, 2, 3), "mode": 4, "material": 0}, map[string]any{"scale": []any{-1, 2, 1}})
	doc["materials"] = []any{map[string]any{"alphaMode": "MASK", "normalTexture": map[string]any{"index": 0, "scale": 2},
		"emissiveFactor": []any{1, 1, 1}, "extensions": map[string]any{"KHR_materials_emissive_strength": map[string]any{"emissiveStrength": 5},
			"KHR_materials_transmission": map[string]any{"transmissionFactor": 0.5}, "KHR_materials_ior": map[string]any{"ior": 1.3}}}}
	doc["textures"] = []any{map[string]any{"source": 0, "sampler": 0}}
	doc["samplers"] = []any{map[string]any{"wrapS": 33648, "wrapT": 33071, "magFilter": 9728}}
	doc["images"] = []any{map[string]any{"uri": "CesiumLogoFlat.png"}}
	doc["extensions"] = map[string]any{"KHR_lights_punctual": map[string]any{"lights": []any{map[string]any{"type": "spot", "spot": map[string]any{"outerConeAngle": 0.5}}}}}
	doc["nodes"] = append(doc["nodes"].([]any), map[string]any{"extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 0}}, "translation": []any{0, 0, 2}})
	doc["scenes"] = []any{map[string]any{"nodes": []any{0, 1}}}
	f.Add([]byte(g.file(f, doc)))
	// Animations of every kind, a light and the camera on moving nodes.
	ga := &gltfBuilder{}
	times := ga.floats("SCALAR", 0, 0.5, 1)
	adoc := animDoc(ga, []any{map[string]any{
		"samplers": []any{
			map[string]any{"input": times, "output": ga.floats("VEC3", 0, 0, 0, 1, 2, 3, 0, 0, 1)},
			map[string]any{"input": times, "output": ga.floats("VEC4", 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0), "interpolation": "STEP"},
			map[string]any{"input": times, "output": ga.floats("VEC3", 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 1, 1, 1, 0.5, 0.5, 0.5, 1, 1, 1), "interpolation": "CUBICSPLINE"},
		},
		"channels": []any{
			map[string]any{"sampler": 0, "target": map[string]any{"node": 0, "path": "translation"}},
			map[string]any{"sampler": 1, "target": map[string]any{"node": 1, "path": "rotation"}},
			map[string]any{"sampler": 2, "target": map[string]any{"node": 2, "path": "scale"}},
		}}})
	adoc["extensions"] = map[string]any{"KHR_lights_punctual": map[string]any{"lights": []any{map[string]any{"type": "point", "intensity": 100}}}}
	adoc["nodes"].([]any)[1].(map[string]any)["extensions"] = map[string]any{"KHR_lights_punctual": map[string]any{"light": 0}}
	f.Add([]byte(ga.file(f, adoc)))
	f.Add([]byte("glTF\x02\x00\x00\x00\x14\x00\x00\x00\x00\x00\x00\x00JSON"))
	bin := readSeed(f, "testdata/gltf/BoxTextured-glTF/BoxTextured0.bin")
	png := readSeed(f, "testdata/gltf/BoxTextured-glTF/CesiumLogoFlat.png")
	scene := []byte(`{"camera": {"object": 0}, "objects": [{"type": "gltf", "file": "m.gltf", "rotate": [10, 20, 30]}]}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &Bundle{Main: "scene.json", Files: map[string][]byte{"scene.json": scene, "m.gltf": data,
			"BoxTextured0.bin": bin, "CesiumLogoFlat.png": png}}
		s, err := LoadBundle(b, fuzzLimits)
		checkLoadErr(t, err)
		if err == nil {
			fuzzRender(t, s)
			fuzzFrames(t, s)
		}
	})
}
