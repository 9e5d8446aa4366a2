package render

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// loadFiles loads a scene from in-memory files; the scene is "scene.json".
func loadFiles(t testing.TB, files map[string]string, lim Limits) (*Scene, error) {
	t.Helper()
	b := &Bundle{Main: "scene.json", Files: map[string][]byte{}}
	for k, v := range files {
		b.Files[k] = []byte(v)
	}
	return LoadBundle(b, lim)
}

// pngBytes returns a w x h PNG of one colour.
func pngBytes(t testing.TB, w, h int, c color.NRGBA) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const okCamera = `"camera": {"from": [0, 1, 5], "to": [0, 1, 0]}`

// sceneWith returns a scene file with the given materials and objects JSON.
func sceneWith(materials, objects string) string {
	return `{` + okCamera + `, "image": {"width": 8, "height": 8, "spp": 1},
  "materials": {` + materials + `},
  "objects": [` + objects + `]}`
}

const whiteMat = `"white": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}`

func TestLoaderErrorsNameFileAndPlace(t *testing.T) {
	tri := "v 0 0 0\nv 1 0 0\nv 0 1 0\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error, in order
	}{
		{"malformed JSON", map[string]string{"scene.json": "{\n  \"camera\": {\"from\": [0, 1, 5],}\n}"},
			[]string{"scene.json: line 2, column 32: malformed JSON"}},
		{"truncated JSON", map[string]string{"scene.json": "{\"camera\": "},
			[]string{"scene.json: line 1, column 12: malformed JSON"}},
		{"data after the JSON", map[string]string{"scene.json": sceneWith(whiteMat, "") + "\n{}"},
			[]string{"scene.json: line 4", "unexpected data after the JSON value"}},
		{"not an object", map[string]string{"scene.json": "[1, 2]"},
			[]string{"scene.json", "expected an object, got an array of 2"}},
		{"missing camera", map[string]string{"scene.json": `{"objects": []}`},
			[]string{"scene.json", `missing field "camera"`}},
		{"unknown material", map[string]string{"scene.json": sceneWith(whiteMat,
			`{"type": "sphere", "center": [0,0,0], "radius": 1, "material": "white"},
			 {"type": "sphere", "center": [0,0,0], "radius": 1, "material": "gold"}`)},
			[]string{"scene.json: objects[1].material: unknown material \"gold\" (the scene defines \"white\")"}},
		{"unknown field", map[string]string{"scene.json": sceneWith(whiteMat,
			`{"type": "sphere", "center": [0,0,0], "radious": 1, "material": "white"}`)},
			[]string{"scene.json: objects[0]", `missing field "radius"`}},
		{"unknown field with the required ones", map[string]string{"scene.json": sceneWith(whiteMat,
			`{"type": "sphere", "center": [0,0,0], "radius": 1, "colour": 2, "material": "white"}`)},
			[]string{"scene.json: objects[0].colour: unknown field \"colour\" (expected one of", `"radius"`}},
		{"wrong type", map[string]string{"scene.json": `{"camera": {"from": [0,1,5], "to": [0,0,0], "fov": "wide"}, "objects": []}`},
			[]string{"scene.json: camera.fov: expected a number, got the string \"wide\""}},
		{"short vector", map[string]string{"scene.json": `{"camera": {"from": [0,1], "to": [0,0,0]}, "objects": []}`},
			[]string{"scene.json: camera.from: expected an array of 3 numbers, got an array of 2"}},
		{"bad material type", map[string]string{"scene.json": sceneWith(`"x": {"type": "plastic"}`, "")},
			[]string{"scene.json: materials.x.type: expected \"diffuse\", \"metal\", \"dielectric\", \"emissive\" or \"pbr\", got \"plastic\""}},
		{"albedo above one", map[string]string{"scene.json": sceneWith(`"x": {"type": "diffuse", "albedo": [2, 0, 0]}`, "")},
			[]string{"scene.json: materials.x.albedo: expected a reflectance with components from 0 to 1"}},
		{"negative radius", map[string]string{"scene.json": sceneWith(whiteMat,
			`{"type": "sphere", "center": [0,0,0], "radius": -1, "material": "white"}`)},
			[]string{"scene.json: objects[0].radius: expected a radius > 0, got -1"}},
		{"degenerate quad", map[string]string{"scene.json": sceneWith(whiteMat,
			`{"type": "quad", "corner": [0,0,0], "u": [1,0,0], "v": [2,0,0], "material": "white"}`)},
			[]string{"scene.json: objects[0].v: expected \"u\" and \"v\" to be non-zero and not parallel"}},
		{"image size", map[string]string{"scene.json": `{` + okCamera + `, "image": {"width": 0}, "objects": []}`},
			[]string{"scene.json: image.width: expected an integer from 1 to 32768, got 0"}},
		{"missing mesh file", map[string]string{"scene.json": sceneWith(whiteMat,
			`{"type": "mesh", "file": "../meshes/gone.obj", "material": "white"}`)},
			[]string{"scene.json: objects[0].file: mesh \"../meshes/gone.obj\": not in the scene bundle"}},
		{"face with a missing vertex", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "material": "white"}`),
			"m.obj":      "v 0 0 0\nv 1 0 0\n\nf 1 2 3\n"},
			[]string{"m.obj: line 4: f: vertex 3 (\"3\"): vertex 3 does not exist (2 defined so far)"}},
		{"face index zero", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "material": "white"}`),
			"m.obj":      tri + "f 0 1 2\n"},
			[]string{"m.obj: line 4: f: vertex 1 (\"0\"): vertex index 0 (OBJ indices start at 1)"}},
		{"negative index out of range", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "material": "white"}`),
			"m.obj":      tri + "f -1 -2 -4\n"},
			[]string{"m.obj: line 4: f: vertex 3 (\"-4\"): vertex -4 does not exist"}},
		{"bad number in OBJ", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "material": "white"}`),
			"m.obj":      "v 0 0 0\nv 1 x 0\n"},
			[]string{"m.obj: line 2: v: expected a finite number, got \"x\""}},
		{"NaN vertex", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "material": "white"}`),
			"m.obj":      "v 0 NaN 0\n"},
			[]string{"m.obj: line 1: v: expected a finite number, got \"NaN\""}},
		{"face with two vertices", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "material": "white"}`),
			"m.obj":      tri + "f 1 2\n"},
			[]string{"m.obj: line 4: f: expected at least 3 vertices, got 2"}},
		{"usemtl of an unknown material", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj"}`),
			"m.obj":      tri + "usemtl chrome\nf 1 2 3\n"},
			[]string{"m.obj: line 4: usemtl: material \"chrome\" is not among the scene's materials"}},
		{"face without a material", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj"}`),
			"m.obj":      tri + "f 1 2 3\n"},
			[]string{"m.obj: line 4: f: face without a material", "objects[0] names no \"material\""}},
		{"missing mtllib", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj"}`),
			"m.obj":      "mtllib gone.mtl\n" + tri + "usemtl a\nf 1 2 3\n"},
			[]string{"m.obj: line 1: mtllib \"gone.mtl\": not in the scene bundle"}},
		{"MTL statement before newmtl", map[string]string{
			"scene.json": sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj"}`),
			"m.obj":      "mtllib m.mtl\n" + tri + "usemtl a\nf 1 2 3\n",
			"m.mtl":      "# comment\nKd 1 1 1\n"},
			[]string{"m.mtl: line 2: Kd: comes before any newmtl"}},
		{"missing texture file in the scene", map[string]string{"scene.json": sceneWith(
			`"wood": {"type": "diffuse", "texture": "textures/wood.png"}`, "")},
			[]string{"scene.json: materials.wood.texture: texture \"textures/wood.png\": not in the scene bundle"}},
		{"missing texture file in an MTL file", map[string]string{
			"scene.json":   sceneWith(whiteMat, `{"type": "mesh", "file": "meshes/m.obj"}`),
			"meshes/m.obj": "mtllib m.mtl\n" + tri + "usemtl a\nf 1 2 3\n",
			"meshes/m.mtl": "newmtl a\nKd 1 1 1\nmap_Kd wood.png\n"},
			[]string{"meshes/m.mtl: line 3: texture \"wood.png\": not in the scene bundle"}},
		{"texture that is not an image", map[string]string{"scene.json": sceneWith(
			`"wood": {"type": "diffuse", "texture": "wood.png"}`, ""), "wood.png": "not a png"},
			[]string{"scene.json: materials.wood.texture: texture \"wood.png\": not a PNG or JPEG image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadFiles(t, tt.files, Limits{})
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %q (%T) is not a *LoadError", err, err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q does not contain %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// TestLoaderReadsEveryFeature loads a scene with every kind of object and
// material and checks what came out.
func TestLoaderReadsEveryFeature(t *testing.T) {
	files := map[string]string{
		"scene.json": `{
  "camera": {"from": [0, 1, 5], "to": [0, 1, 0], "up": [0, 1, 0], "fov": 50, "aperture": 0.1, "focusDistance": 4},
  "image": {"width": 20, "height": 10, "spp": 3, "maxDepth": 4},
  "background": [0.1, 0.2, 0.3],
  "materials": {
    "white": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
    "tex":   {"type": "diffuse", "texture": "t.png"},
    "check": {"type": "diffuse", "checker": {"even": [1, 1, 1], "odd": [0, 0, 0], "size": 0.5}},
    "steel": {"type": "metal", "albedo": [0.9, 0.9, 0.9], "roughness": 0.5},
    "glass": {"type": "dielectric", "ior": 1.33},
    "light": {"type": "emissive", "emission": [5, 5, 5]}
  },
  "objects": [
    {"type": "sphere", "center": [0, 1, 0], "radius": 0.5, "material": "glass"},
    {"type": "quad", "corner": [-1, 3, -1], "u": [2, 0, 0], "v": [0, 0, 2], "material": "light"},
    {"type": "plane", "point": [0, 0, 0], "normal": [0, 2, 0], "material": "check"},
    {"type": "mesh", "file": "../m/box.obj", "translate": [1, 0, 0], "rotate": [0, 90, 0], "scale": [2, 1, 1]},
    {"type": "mesh", "file": "../m/box.obj", "material": "steel", "scale": 0.5, "smooth": true}
  ]
}`,
		"../m/box.obj": "# a square\nmtllib box.mtl\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvn 0 0 1\no sq\ng sq\nusemtl red\nf 1/1/1 2/2/1 3/3/1 4/4/1\nusemtl white\nf -4//-1 -2//-1 -1//-1\n",
		"../m/box.mtl": "newmtl red\nKd 0.8 0.1 0.1\nmap_Kd t.png\nnewmtl glow\nKe 1 1 1\n",
		"../m/t.png":   string(pngBytes(t, 2, 2, color.NRGBA{R: 255, G: 128, B: 0, A: 255})),
		"t.png":        string(pngBytes(t, 1, 1, color.NRGBA{R: 0, G: 0, B: 255, A: 255})),
	}
	s, err := loadFiles(t, files, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"settings", s.Settings(), Settings{Width: 20, Height: 10, SPP: 3, MaxDepth: 4}},
		{"resolve keeps given fields", s.Resolve(Settings{Width: 7, SPP: 9}), Settings{Width: 7, Height: 10, SPP: 9, MaxDepth: 4}},
		{"background", s.background, V(0.1, 0.2, 0.3)},
		{"fov", s.camera.fov, 50.0},
		{"aperture", s.camera.aperture, 0.1},
		{"planes", len(s.planes), 1},
		{"plane normal is unit", s.planes[0].n, V(0, 1, 0)},
		{"primitives: sphere, quad, 2+1 and 2+1 triangles", len(s.geo), 8},
		{"lights: the quad", len(s.lights), 1},
		{"textures: t.png and ../m/t.png", len(s.textures), 2},
		{"triangles counted", s.triangles, 6},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	// The first mesh uses the MTL's "red" (textured) and the scene's "white";
	// the second mesh overrides both with "steel".
	kinds := map[string]int{}
	for i := range s.info {
		kinds[s.materials[s.info[i].mat].name]++
	}
	want := map[string]int{"glass": 1, "light": 1, "../m/box.mtl:red": 2, "white": 1, "steel": 3}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("%d primitives of material %q, want %d (all: %v)", kinds[k], k, v, kinds)
		}
	}
	// The scale [2,1,1] then a rotation of 90° about Y maps x to -z.
	for i := range s.geo {
		if s.materials[s.info[i].mat].name == "white" {
			sh := s.shapeOf(i)
			lo, hi := sh.bounds()
			if !nearVec(lo, V(1, 0, -2), 1e-9) || !nearVec(hi, V(1, 1, 0), 1e-9) {
				t.Errorf("transformed triangle spans %v..%v, want (1,0,-2)..(1,1,0)", lo, hi)
			}
		}
	}
}

func TestJPEGTexture(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 255, 255, 255, 255
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	s, err := loadFiles(t, map[string]string{
		"scene.json": sceneWith(`"j": {"type": "diffuse", "texture": "white.jpg", "albedo": [0.5, 0.5, 0.5]}`, ""),
		"white.jpg":  buf.String(),
	}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := s.albedoAt(&s.materials[0], &surface{u: 0.3, v: 0.6})
	if !nearVec(got, V(0.5, 0.5, 0.5), 0.01) {
		t.Errorf("albedo %v, want the white texture times 0.5", got)
	}
}

// writeTree writes files (slash paths relative to dir) to disk.
func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBundle(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"scenes/s.json": []byte(sceneWith(whiteMat+`, "tex": {"type": "diffuse", "texture": "../tex/a.png"}`,
			`{"type": "mesh", "file": "../meshes/m.obj"}, {"type": "mesh", "file": "../meshes/m.obj", "material": "tex"}`)),
		"meshes/m.obj":     []byte("mtllib sub/m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nusemtl a\nf 1 2 3\n"),
		"meshes/sub/m.mtl": []byte("newmtl a\nmap_Kd ../../tex/b.png\n"),
		"tex/a.png":        pngBytes(t, 1, 1, color.NRGBA{R: 1, A: 255}),
		"tex/b.png":        pngBytes(t, 1, 1, color.NRGBA{G: 1, A: 255}),
		"tex/unused.png":   pngBytes(t, 1, 1, color.NRGBA{B: 1, A: 255}),
	}
	writeTree(t, dir, files)
	scenePath := filepath.Join(dir, "scenes", "s.json")
	b, err := ReadBundle(scenePath, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range b.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	wantNames := []string{"../meshes/m.obj", "../meshes/sub/m.mtl", "../tex/a.png", "../tex/b.png", "s.json"}
	if b.Main != "s.json" || !slices.Equal(names, wantNames) {
		t.Fatalf("bundle main %q files %q, want s.json and %q", b.Main, names, wantNames)
	}
	for name, data := range b.Files {
		if want := files[filepath.ToSlash(filepath.Join("scenes", name))]; !bytes.Equal(data, want) {
			t.Errorf("bundle file %s differs from the disk", name)
		}
	}

	t.Run("loads without the files on disk", func(t *testing.T) {
		b2, err := ReadBundle(scenePath, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		moved := t.TempDir()
		if err := os.Rename(dir, filepath.Join(moved, "gone")); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(filepath.Join(moved, "gone"), dir)
		s, err := LoadBundle(b2, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.geo) != 2 || len(s.textures) != 2 {
			t.Errorf("%d primitives and %d textures, want 2 and 2", len(s.geo), len(s.textures))
		}
	})
	t.Run("hash is stable and follows content", func(t *testing.T) {
		b2, err := ReadBundle(scenePath, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		h := b.Hash()
		if len(h) != 64 || h != b2.Hash() {
			t.Fatalf("hashes %q and %q of the same files", h, b2.Hash())
		}
		b2.Files["../tex/a.png"] = append([]byte{}, b2.Files["../tex/a.png"]...)
		b2.Files["../tex/a.png"][len(b2.Files["../tex/a.png"])-1] ^= 1
		if b2.Hash() == h {
			t.Error("changing one byte kept the hash")
		}
		b3 := &Bundle{Main: b.Main, Files: map[string][]byte{}}
		for k, v := range b.Files {
			b3.Files[k] = v
		}
		b3.Files["../meshes/m2.obj"] = b3.Files["../meshes/m.obj"]
		delete(b3.Files, "../meshes/m.obj")
		if b3.Hash() == h {
			t.Error("renaming a file kept the hash")
		}
	})
	t.Run("LoadFile", func(t *testing.T) {
		s, b2, err := LoadFile(scenePath, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if b2.Hash() != b.Hash() || len(s.bvh.nodes) == 0 {
			t.Errorf("LoadFile: hash %s (want %s), %d BVH nodes", b2.Hash(), b.Hash(), len(s.bvh.nodes))
		}
	})
	t.Run("missing scene file", func(t *testing.T) {
		_, err := ReadBundle(filepath.Join(dir, "nope.json"), Limits{})
		var le *LoadError
		if !errors.As(err, &le) || le.File != "nope.json" || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want a *LoadError for nope.json wrapping ErrNotExist", err)
		}
	})
	t.Run("the testdata scenes load", func(t *testing.T) {
		for _, name := range []string{"cornell", "bunny", "spheres"} {
			if _, _, err := LoadFile("../testdata/scenes/"+name+".json", Limits{}); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
}

func TestLimits(t *testing.T) {
	obj := "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 2 4 3\nf 1 2 4 3\n"
	files := map[string]string{
		"scene.json": sceneWith(whiteMat+`, "tex": {"type": "diffuse", "texture": "t.png"}`,
			`{"type": "mesh", "file": "m.obj", "material": "tex"}`),
		"m.obj": obj,
		"t.png": string(pngBytes(t, 20, 10, color.NRGBA{R: 9, A: 255})),
	}
	total := 0
	for _, v := range files {
		total += len(v)
	}
	tests := []struct {
		name string
		lim  Limits
		want string // "" for no error
	}{
		{"defaults", Limits{}, ""},
		{"all at the limit", Limits{MaxSceneBytes: int64(total), MaxTriangles: 4, MaxTexturePixels: 200, MaxJSONBytes: int64(len(files["scene.json"]))}, ""},
		{"bytes", Limits{MaxSceneBytes: int64(total - 1)}, "render: scene.json: " + itoa(total) + " bytes of scene files exceed limit MaxSceneBytes=" + itoa(total-1)},
		{"triangles", Limits{MaxTriangles: 3}, "render: m.obj: line 7: 4 triangles exceed limit MaxTriangles=3"},
		{"texture pixels", Limits{MaxTexturePixels: 199}, "render: scene.json: materials.tex.texture: texture \"t.png\": 200 pixels (20x10) exceed limit MaxTexturePixels=199"},
		{"JSON bytes", Limits{MaxJSONBytes: int64(len(files["scene.json"]) - 1)}, "render: scene.json: " + itoa(len(files["scene.json"])) + " bytes of scene JSON exceed limit MaxJSONBytes=" + itoa(len(files["scene.json"])-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadFiles(t, files, tt.lim)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want == "":
				return
			case err == nil:
				t.Fatalf("loaded; want %q", tt.want)
			case err.Error() != tt.want:
				t.Fatalf("error %q, want %q", err, tt.want)
			case !errors.Is(err, ErrLimit):
				t.Fatalf("error %q does not match ErrLimit", err)
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error %q holds no *LimitError", err)
			}
		})
	}
	t.Run("ReadBundle stops reading at the byte limit", func(t *testing.T) {
		dir := t.TempDir()
		big := bytes.Repeat([]byte("# padding\n"), 10000)
		writeTree(t, dir, map[string][]byte{
			"s.json": []byte(sceneWith(whiteMat, `{"type": "mesh", "file": "m.obj", "material": "white"}`)),
			"m.obj":  append(big, obj...),
		})
		_, err := ReadBundle(filepath.Join(dir, "s.json"), Limits{MaxSceneBytes: 50000})
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "objects[0].file") || !strings.Contains(err.Error(), "MaxSceneBytes=50000") {
			t.Fatalf("got %v, want a MaxSceneBytes error at objects[0].file", err)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// checkOBJPaths parses obj again without parseOBJ's fast path and checks
// that the result is the same, bit for bit, error included.
func checkOBJPaths(t *testing.T, obj []byte, fast *objMesh, fastTris int, fastErr error) {
	t.Helper()
	n := 0
	slow, err := parseOBJPaths("m.obj", obj, fuzzLimits.MaxTriangles, &n, false)
	if (err == nil) != (fastErr == nil) || (err != nil && err.Error() != fastErr.Error()) {
		t.Fatalf("fast path: error %v; general path: %v", fastErr, err)
	}
	if err != nil {
		return
	}
	if n != fastTris {
		t.Fatalf("fast path counted %d triangles, general path %d", fastTris, n)
	}
	same := func(what string, a, b any) {
		t.Helper()
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s differ: fast path %v, general path %v", what, a, b)
		}
	}
	bits := func(vs []Vec) []uint64 {
		var out []uint64
		for _, v := range vs {
			out = append(out, math.Float64bits(v.X), math.Float64bits(v.Y), math.Float64bits(v.Z))
		}
		return out
	}
	same("vertices", bits(fast.v), bits(slow.v))
	same("normals", bits(fast.vn), bits(slow.vn))
	var ft, st []uint64
	for i := range fast.vt {
		ft = append(ft, math.Float64bits(fast.vt[i][0]), math.Float64bits(fast.vt[i][1]))
	}
	for i := range slow.vt {
		st = append(st, math.Float64bits(slow.vt[i][0]), math.Float64bits(slow.vt[i][1]))
	}
	same("texture coordinates", ft, st)
	same("triangles", fast.tv, slow.tv)
	same("texture coordinate indices", fast.tvt, slow.tvt)
	same("normal indices", fast.tvn, slow.tvn)
	same("material runs", fast.runs, slow.runs)
	same("material names", fast.mtlNames, slow.mtlNames)
}

// TestOBJFastPath: the fast path reads the lines it takes as the general
// path does, numbers bit for bit, on the repository's meshes and on lines
// made to sit at its edges (long mantissas, exponents, signs, relative
// indices, comments, odd spacing, errors).
func TestOBJFastPath(t *testing.T) {
	for _, name := range []string{"bunny.obj", "teapot.obj", "cornell-box.obj", "cornell-blocks.obj", "ground.obj"} {
		data, err := os.ReadFile("../testdata/meshes/" + name)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		m, err := parseOBJ(name, data, fuzzLimits.MaxTriangles, &n)
		checkOBJPaths(t, data, m, n, err)
		if len(m.tv) == 0 {
			t.Fatalf("%s: no triangles", name)
		}
	}
	edges := []string{
		"v 1 2 3\nv -1.5 +2.25 .5\nv 1. -0. 0.000000000000001\nf 1 2 3\n",
		"v 123456789012345 1e22 1e-22\nv 1234567890123456 1e23 1e-23\nv 0.1 0.2 0.3\nf -3 -2 -1\n",
		"v 1e5 1E-5 -2.5e+3\nv 1e 2 3\n",
		"v 1 2 3 # comment\nv 4\t5\t6\nv  7   8   9  \nf 1 2 3 # c\n",
		"v 1 2 3 4\nv 1 2 3\nv 1 2 3\nf 1/1 2/1 3/1\n",
		"v 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0 0\nvn 0 0 1\nf 1/1/1 2/2/1 3/1/1\nf 1//1 2//1 3//1\nf 1/1/ 2/2/ 3/1/\n",
		"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 4 3\nusemtl a\nf 1 2 3\nusemtl b\nf 2 4 3\nusemtl a\nf 1 2 3\n",
		"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3 4\nf 0 1 2\n",
		"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 +3\nf 1 2 99999999999\n",
		"v 0x1p3 nan inf\n",
		"v 1_0 2 3\nvn 1 2\nvt\n",
		"v 0 0 0\r\nv 1 0 0\r\nv 0 1 0\r\nf 1 2 3\r\n",
		"v 0 0 \\\n0\nv 1 0 0\nv 0 1 0\nf 1 2 \\\n3\n",
		"vt 0.5\nvt 0.25 0.75 1\nvn 1 0 0\n",
	}
	for _, obj := range edges {
		n := 0
		m, err := parseOBJ("m.obj", []byte(obj), fuzzLimits.MaxTriangles, &n)
		checkOBJPaths(t, []byte(obj), m, n, err)
	}
}
