package render

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gltfBuilder writes small glTF files for tests: one buffer (a data: URI)
// that views and accessors are appended to.
type gltfBuilder struct {
	buf       []byte
	views     []map[string]any
	accessors []map[string]any
}

// view appends data as a bufferView (4-byte aligned) and returns its index.
func (g *gltfBuilder) view(data []byte, stride int) int {
	for len(g.buf)%4 != 0 {
		g.buf = append(g.buf, 0)
	}
	v := map[string]any{"buffer": 0, "byteOffset": len(g.buf), "byteLength": len(data)}
	if stride > 0 {
		v["byteStride"] = stride
	}
	g.buf = append(g.buf, data...)
	g.views = append(g.views, v)
	return len(g.views) - 1
}

// accessor appends an accessor and returns its index.
func (g *gltfBuilder) accessor(a map[string]any) int {
	g.accessors = append(g.accessors, a)
	return len(g.accessors) - 1
}

// floats appends float32 data as a view and an accessor of type typ.
func (g *gltfBuilder) floats(typ string, v ...float32) int {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	n := map[string]int{"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[typ]
	return g.accessor(map[string]any{"bufferView": g.view(b, 0), "componentType": gltfFloat, "count": len(v) / n, "type": typ})
}

// indices appends indices of component type comp.
func (g *gltfBuilder) indices(comp int, idx ...int) int {
	size := componentSize(comp)
	b := make([]byte, size*len(idx))
	for i, v := range idx {
		switch size {
		case 1:
			b[i] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
		default:
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
	}
	return g.accessor(map[string]any{"bufferView": g.view(b, 0), "componentType": comp, "count": len(idx), "type": "SCALAR"})
}

// file returns the glTF JSON with doc's fields and the buffer, views and accessors.
func (g *gltfBuilder) file(t testing.TB, doc map[string]any) string {
	t.Helper()
	doc["asset"] = map[string]any{"version": "2.0"}
	if _, ok := doc["buffers"]; !ok && len(g.buf) > 0 {
		doc["buffers"] = []any{map[string]any{"byteLength": len(g.buf), "uri": "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(g.buf)}}
	}
	if len(g.buf) > 0 {
		doc["bufferViews"] = g.views
		doc["accessors"] = g.accessors
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// quadXY is a unit quad in the XY plane, facing +Z, as 4 positions.
var quadXY = []float32{0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0}

// meshDoc is a document whose scene is one node per entry of nodes, each
// with mesh 0 made of one primitive.
func meshDoc(prim map[string]any, nodes ...map[string]any) map[string]any {
	var ns []any
	var roots []any
	for i, n := range nodes {
		n["mesh"] = 0
		ns = append(ns, n)
		roots = append(roots, i)
	}
	return map[string]any{
		"scene": 0, "scenes": []any{map[string]any{"nodes": roots}},
		"nodes": ns, "meshes": []any{map[string]any{"primitives": []any{prim}}},
	}
}

// loadGLTFScene loads a JSON scene whose one object is m.gltf.
func loadGLTFScene(t testing.TB, gltf string, extra ...string) (*Scene, error) {
	t.Helper()
	files := map[string]string{"m.gltf": gltf, "scene.json": `{"camera": {"object": 0}, "image": {"width": 8, "height": 8, "spp": 1},
  "objects": [{"type": "gltf", "file": "m.gltf"` + strings.Join(extra, "") + `}]}`}
	return loadFiles(t, files, Limits{})
}

// triangles returns the scene's triangles as vertex triples, in BVH leaf
// order (compare as sets).
func triangles(s *Scene) [][3]Vec {
	var out [][3]Vec
	for i := range s.info {
		if s.info[i].kind == primTriangle {
			v := &s.pv[i]
			out = append(out, [3]Vec{s.verts[v[0]], s.verts[v[1]], s.verts[v[2]]})
		}
	}
	return out
}

// TestGLTFGeometry reads the ways glTF stores triangles: indexed or not, 8,
// 16 and 32-bit indices, strips and fans, normalized integers, interleaved
// views with a byte stride, sparse accessors, node transforms (TRS and
// matrix, composed), a mesh drawn by two nodes and a mirroring transform.
func TestGLTFGeometry(t *testing.T) {
	up := Vec{Z: 1}
	tests := []struct {
		name   string
		build  func(g *gltfBuilder) map[string]any
		tris   int
		lo, hi Vec // bounds of every vertex
		front  Vec // the geometric normal of every triangle
	}{
		{"not indexed", func(g *gltfBuilder) map[string]any {
			p := g.floats("VEC3", 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0)
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"8-bit indices", func(g *gltfBuilder) map[string]any {
			p := g.floats("VEC3", quadXY...)
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}, "indices": g.indices(gltfUByte, 0, 1, 2, 0, 2, 3)}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"16-bit indices", func(g *gltfBuilder) map[string]any {
			p := g.floats("VEC3", quadXY...)
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}, "indices": g.indices(gltfUShort, 0, 1, 2, 0, 2, 3)}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"32-bit indices", func(g *gltfBuilder) map[string]any {
			p := g.floats("VEC3", quadXY...)
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}, "indices": g.indices(gltfUInt, 0, 1, 2, 0, 2, 3)}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"strip", func(g *gltfBuilder) map[string]any {
			p := g.floats("VEC3", 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0)
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}, "mode": 5}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"fan", func(g *gltfBuilder) map[string]any {
			p := g.floats("VEC3", quadXY...)
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}, "mode": 6}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"normalized shorts", func(g *gltfBuilder) map[string]any {
			b := make([]byte, 4*8) // 4 vertices x (3 shorts + padding)
			for i, v := range []int16{0, 0, 0, 0, 32767, 0, 0, 0, 32767, 32767, 0, 0, 0, 32767, 0, 0} {
				binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
			}
			p := g.accessor(map[string]any{"bufferView": g.view(b, 8), "componentType": gltfShort, "normalized": true, "count": 4, "type": "VEC3"})
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}, "indices": g.indices(gltfUByte, 0, 1, 2, 0, 2, 3)}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"interleaved with a stride", func(g *gltfBuilder) map[string]any {
			var b []byte
			for i := 0; i < 4; i++ { // position then normal, 24 bytes a vertex
				for _, f := range []float32{quadXY[3*i], quadXY[3*i+1], quadXY[3*i+2], 0, 0, 1} {
					b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
				}
			}
			v := g.view(b, 24)
			p := g.accessor(map[string]any{"bufferView": v, "componentType": gltfFloat, "count": 4, "type": "VEC3"})
			n := g.accessor(map[string]any{"bufferView": v, "byteOffset": 12, "componentType": gltfFloat, "count": 4, "type": "VEC3"})
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p, "NORMAL": n}, "indices": g.indices(gltfUByte, 0, 1, 2, 0, 2, 3)}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"sparse", func(g *gltfBuilder) map[string]any {
			// Zeros, then vertices 1 to 3 of the quad from the sparse values.
			vals := make([]byte, 0, 36)
			for _, f := range quadXY[3:] {
				vals = binary.LittleEndian.AppendUint32(vals, math.Float32bits(f))
			}
			p := g.accessor(map[string]any{"componentType": gltfFloat, "count": 4, "type": "VEC3", "sparse": map[string]any{
				"count":   3,
				"indices": map[string]any{"bufferView": g.view([]byte{1, 2, 3}, 0), "componentType": gltfUByte},
				"values":  map[string]any{"bufferView": g.view(vals, 0)},
			}})
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}, "indices": g.indices(gltfUByte, 0, 1, 2, 0, 2, 3)}, map[string]any{})
		}, 2, V(0, 0, 0), V(1, 1, 0), up},
		{"TRS and matrix, composed; one mesh, two nodes", func(g *gltfBuilder) map[string]any {
			p := g.floats("VEC3", quadXY...)
			d := meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p}, "indices": g.indices(gltfUByte, 0, 1, 2, 0, 2, 3)},
				map[string]any{"translation": []any{10, 0, 0}, "scale": []any{2, 2, 2}},
				// Column-major: translate by (0, 5, 0) after rotating 90° about Z.
				map[string]any{"matrix": []any{0, 1, 0, 0, -1, 0, 0, 0, 0, 0, 1, 0, 0, 5, 0, 1}, "children": []any{2}},
			)
			// Node 2, a child of node 1, draws the mesh again, 1 further up.
			d["nodes"] = append(d["nodes"].([]any), map[string]any{"mesh": 0, "translation": []any{0, 0, 1}})
			return d
		}, 6, V(-1, 0, 0), V(12, 6, 1), up},
		{"a mirror keeps the front side", func(g *gltfBuilder) map[string]any {
			p := g.floats("VEC3", quadXY...)
			n := g.floats("VEC3", 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1)
			return meshDoc(map[string]any{"attributes": map[string]any{"POSITION": p, "NORMAL": n}, "indices": g.indices(gltfUByte, 0, 1, 2, 0, 2, 3)},
				map[string]any{"scale": []any{-1, 1, 1}})
		}, 2, V(-1, 0, 0), V(0, 1, 0), up},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gltfBuilder{}
			s, err := loadGLTFScene(t, g.file(t, tt.build(g)))
			if err != nil {
				t.Fatal(err)
			}
			tris := triangles(s)
			if len(tris) != tt.tris {
				t.Fatalf("%d triangles, want %d", len(tris), tt.tris)
			}
			lo, hi := emptyBounds()
			for _, tr := range tris {
				for _, v := range tr {
					lo, hi = lo.Min(v), hi.Max(v)
				}
				if n := tr[1].Sub(tr[0]).Cross(tr[2].Sub(tr[0])).Norm(); !nearVec(n, tt.front, 1e-9) {
					t.Errorf("triangle %v faces %v, want %v", tr, n, tt.front)
				}
			}
			if !nearVec(lo, tt.lo, 1e-6) || !nearVec(hi, tt.hi, 1e-6) {
				t.Errorf("bounds %v to %v, want %v to %v", lo, hi, tt.lo, tt.hi)
			}
			for i := range s.info {
				if s.info[i].attrs&hasN != 0 {
					if n, ng := s.nrm[s.pv[i][0]].vec(), s.normal(int32(i)); n.Dot(ng) <= 0 {
						t.Errorf("vertex normal %v disagrees with the front %v", n, ng)
					}
				}
			}
		})
	}
}

// TestGLTFErrors: a broken file fails with a *LoadError naming the file, the
// JSON path and what is wrong.
func TestGLTFErrors(t *testing.T) {
	quad := func(g *gltfBuilder, prim map[string]any) map[string]any {
		prim["attributes"] = map[string]any{"POSITION": g.floats("VEC3", quadXY...)}
		return meshDoc(prim, map[string]any{})
	}
	tests := []struct {
		name  string
		build func(g *gltfBuilder) map[string]any
		extra string // fields of the scene's glTF object
		lim   Limits
		want  string
	}{
		{"lines", func(g *gltfBuilder) map[string]any { return quad(g, map[string]any{"mode": 1}) }, "", Limits{},
			"m.gltf: meshes[0].primitives[0].mode: mode 1 (lines): only triangles (modes 4, 5 and 6) can be rendered"},
		{"index past the vertices", func(g *gltfBuilder) map[string]any {
			return quad(g, map[string]any{"indices": g.indices(gltfUByte, 0, 1, 7)})
		}, "", Limits{}, "m.gltf: meshes[0].primitives[0].indices: accessor 0: index 7 (element 2) is past the 4 vertices"},
		{"accessor past its view", func(g *gltfBuilder) map[string]any {
			d := quad(g, map[string]any{})
			g.accessors[0]["count"] = 5
			return d
		}, "", Limits{}, "m.gltf: accessors[0]: 5 elements of 12 bytes from byte 0 read past the end of bufferView 0 (48 bytes)"},
		{"required extension", func(g *gltfBuilder) map[string]any {
			d := quad(g, map[string]any{})
			d["extensionsRequired"] = []any{"KHR_draco_mesh_compression"}
			return d
		}, "", Limits{}, "m.gltf: extensionsRequired[0]: the file requires extension KHR_draco_mesh_compression, which tessera does not implement"},
		{"unknown camera", func(g *gltfBuilder) map[string]any { return quad(g, map[string]any{}) }, "", Limits{},
			"scene.json: camera.name: objects[0] (m.gltf) has no camera named \"Closeup\" (its cameras: none)"},
		{"too many triangles", func(g *gltfBuilder) map[string]any { return quad(g, map[string]any{"mode": 6}) }, "", Limits{MaxTriangles: 1},
			"m.gltf: meshes[0].primitives[0]: 2 triangles exceed limit MaxTriangles=1"},
		{"bad attribute type", func(g *gltfBuilder) map[string]any {
			d := quad(g, map[string]any{})
			g.accessors[0]["type"] = "VEC4"
			g.accessors[0]["count"] = 3
			return d
		}, "", Limits{}, "m.gltf: meshes[0].primitives[0].attributes.POSITION: accessor 0 is VEC4, expected VEC3"},
		{"a node with two parents", func(g *gltfBuilder) map[string]any {
			d := quad(g, map[string]any{})
			d["nodes"] = []any{map[string]any{"children": []any{2}}, map[string]any{"children": []any{2}}, map[string]any{"mesh": 0}}
			d["scenes"] = []any{map[string]any{"nodes": []any{0, 1}}}
			return d
		}, "", Limits{}, "m.gltf: nodes[1].children[0]: node 2 is already a child of node 0"},
		{"buffer too short", func(g *gltfBuilder) map[string]any {
			d := quad(g, map[string]any{})
			d["buffers"] = []any{map[string]any{"byteLength": 48, "uri": "data:application/octet-stream;base64,AAAA"}}
			return d
		}, "", Limits{}, "m.gltf: buffers[0]: byteLength is 48 but the data has 3 bytes"},
		{"missing buffer file", func(g *gltfBuilder) map[string]any {
			d := quad(g, map[string]any{})
			d["buffers"] = []any{map[string]any{"byteLength": 48, "uri": "gone%20away.bin"}}
			return d
		}, "", Limits{}, `m.gltf: buffers[0].uri: "gone away.bin": not in the scene bundle`},
		{"not a glTF file", nil, "", Limits{}, "m.gltf: line 1, column 2: malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gltfBuilder{}
			doc := "this is not JSON"
			if tt.build != nil {
				d := tt.build(g)
				doc = g.file(t, d)
			}
			cam := `{"object": 0}`
			if tt.name == "unknown camera" {
				cam = `{"object": 0, "name": "Closeup"}`
			}
			files := map[string]string{"m.gltf": doc, "scene.json": `{"camera": ` + cam + `, "objects": [{"type": "gltf", "file": "m.gltf"}]}`}
			_, err := loadFiles(t, files, tt.lim)
			var le *LoadError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a *LoadError containing %q", err, tt.want)
			}
		})
	}
}

// TestAssimpGLTFFiles loads the glTF 2.0 files of assimp's test models
// directly (as tessera render FILE does): the valid ones render an image
// in which the model is seen, the broken ones fail naming the file and
// what is wrong.
func TestAssimpGLTFFiles(t *testing.T) {
	tests := []struct {
		file string
		want string // "" when the file renders
	}{
		{"BoxTextured-glTF/BoxTextured.gltf", ""},
		{"BoxTextured-glTF-Binary/BoxTextured.glb", ""},
		{"BoxTextured-glTF-Embedded/BoxTextured.gltf", ""},
		{"BoxTextured-glTF-pbrSpecularGlossiness/BoxTextured.gltf", ""}, // the extension is optional: its pbrMetallicRoughness is drawn
		{"2CylinderEngine-glTF-Binary/2CylinderEngine.glb", ""},
		{"cameras/Cameras.gltf", ""},
		{"textureTransform/TextureTransformTest.gltf", ""},
		{"BoxTexcoords-glTF/boxTexcoords.gltf", ""},
		{"BoxBadNormals-glTF-Binary/BoxBadNormals.glb", ""},
		{"ClearCoat-glTF/ClearCoatTest.gltf", ""},
		{"issue_3269/texcoord_crash.gltf", ""},
		{"glTF-Sample-Models/AnimatedMorphCube-glTF/AnimatedMorphCube.gltf", ""},
		{"BoxTextured-glTF-techniqueWebGL/BoxTextured.gltf", "BoxTextured.gltf: extensionsRequired[0]: the file requires extension KHR_technique_webgl, which tessera does not implement"},
		{"draco/2CylinderEngine.gltf", "2CylinderEngine.gltf: extensionsRequired[0]: the file requires extension KHR_draco_mesh_compression"},
		{"IndexOutOfRange/IndexOutOfRange.gltf", "IndexOutOfRange.gltf: meshes[0].primitives[0].indices: accessor 0: index 255 (element 0) is past the 24 vertices"},
		{"IndexOutOfRange/AllIndicesOutOfRange.gltf", "AllIndicesOutOfRange.gltf: meshes[0].primitives[0].indices: accessor 0: index 65535 (element 0) is past the 24 vertices"},
		{"MissingBin/BoxTextured.gltf", `BoxTextured.gltf: buffers[0].uri: "BoxTextured0.bin": open `},
		{"RecursiveNodes/RecursiveNodes.gltf", "RecursiveNodes.gltf: nodes[0]: the node hierarchy has a cycle through node 0"},
		{"SchemaFailures/sceneWrongType.gltf", `sceneWrongType.gltf: scene: expected a number, got the string "hello"`},
		{"wrongTypes/badArray.gltf", "badArray.gltf: meshes[0].primitives: expected an array, got an object"},
		{"wrongTypes/badExtension.gltf", `badExtension.gltf: materials[0].pbrMetallicRoughness.baseColorTexture.extensions.KHR_texture_transform: expected an object, got the string "Not an object"`},
		{"wrongTypes/badNumber.gltf", `badNumber.gltf: materials[0].normalTexture.scale: expected a number, got the string "not a number"`},
		{"wrongTypes/badObject.gltf", "badObject.gltf: materials[0].pbrMetallicRoughness: expected an object, got an array of 1"},
		{"wrongTypes/badString.gltf", "badString.gltf: scenes[0].name: expected a string, got the number 42"},
		{"wrongTypes/badUint.gltf", "badUint.gltf: materials[0].pbrMetallicRoughness.baseColorTexture.index: expected the index of a texture (an integer >= 0), got -1"},
		{"BoxWithInfinites-glTF-Binary/BoxWithInfinites.glb", "BoxWithInfinites.glb: meshes[0].primitives[0].attributes.POSITION: accessor 2: element 0 is not a finite number (-Inf)"},
		{"IncorrectVertexArrays/Cube.gltf", "Cube.gltf: bufferViews[2]: bytes 504 to 936 are past the end of buffer 0 (514 bytes)"},
		{"TestNoRootNode/NoScene.gltf", "NoScene.gltf: scene: scene 0 does not exist (the file has 0)"},
		{"glTF-Asset-Generator/Mesh_PrimitiveMode/Mesh_PrimitiveMode_01.gltf", "Mesh_PrimitiveMode_01.gltf: meshes[0].primitives[0].mode: mode 1 (lines): only triangles"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, _, err := LoadDirect(filepath.Join("testdata/gltf", tt.file), Direct{Width: 24}, Limits{})
			if tt.want != "" {
				var le *LoadError
				if !errors.As(err, &le) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want a *LoadError containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			set := s.Resolve(Settings{SPP: 2, MaxDepth: 3})
			dst := make([]float32, set.Width*set.Height*3)
			if _, err := s.RenderTile(context.Background(), set, image.Rect(0, 0, set.Width, set.Height), dst); err != nil {
				t.Fatal(err)
			}
			// The model is seen: some pixels differ from the first one.
			differ := 0
			for i, v := range dst {
				if !(v >= 0) || math.IsInf(float64(v), 0) {
					t.Fatalf("channel %d = %v", i, v)
				}
				if math.Abs(float64(v-dst[i%3])) > 0.02 {
					differ++
				}
			}
			if differ == 0 {
				t.Errorf("a uniform %dx%d image: the model is not seen", set.Width, set.Height)
			}
		})
	}
}

// TestGLTFSceneObject places a glTF file in a JSON scene with translate,
// rotate and scale, beside the scene's own objects, and takes its camera.
func TestGLTFSceneObject(t *testing.T) {
	g := &gltfBuilder{}
	doc := meshDoc(map[string]any{"attributes": map[string]any{"POSITION": g.floats("VEC3", quadXY...)}, "indices": g.indices(gltfUByte, 0, 1, 2, 0, 2, 3)}, map[string]any{})
	doc["cameras"] = []any{
		map[string]any{"type": "orthographic", "name": "Ortho", "orthographic": map[string]any{"xmag": 1, "ymag": 1, "znear": 0.1, "zfar": 10}},
		map[string]any{"type": "perspective", "name": "Wide", "perspective": map[string]any{"yfov": 1.0, "aspectRatio": 2.0, "znear": 0.1}},
	}
	doc["nodes"] = append(doc["nodes"].([]any), map[string]any{"camera": 1, "translation": []any{0, 0, 3}}, map[string]any{"camera": 0})
	doc["scenes"] = []any{map[string]any{"nodes": []any{0, 1, 2}}}
	files := map[string]string{"m.gltf": g.file(t, doc), "scene.json": `{"camera": {"object": 1, "name": "Wide"}, "image": {"height": 50},
  "materials": {"white": {"type": "diffuse"}},
  "objects": [{"type": "sphere", "center": [0, 0, -5], "radius": 1, "material": "white"},
              {"type": "gltf", "file": "m.gltf", "translate": [1, 2, 3], "rotate": [0, 0, 90], "scale": 2}]}`}
	s, err := loadFiles(t, files, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := emptyBounds()
	for _, tr := range triangles(s) {
		for _, v := range tr {
			lo, hi = lo.Min(v), hi.Max(v)
		}
	}
	// The quad (0..1)² scaled by 2, turned 90° about Z, moved by (1, 2, 3).
	if !nearVec(lo, V(-1, 2, 3), 1e-9) || !nearVec(hi, V(1, 4, 3), 1e-9) {
		t.Errorf("bounds %v to %v, want (-1, 2, 3) to (1, 4, 3)", lo, hi)
	}
	c := s.camera
	// The camera node sits at (0, 0, 3) in the file, looking down -Z: at
	// (1, 2, 9) after the object's transform.
	if !nearVec(c.from, V(1, 2, 9), 1e-9) || !nearVec(c.to.Sub(c.from).Norm(), V(0, 0, -1), 1e-9) || !near(c.fov, 180/math.Pi, 1e-9) {
		t.Errorf("camera from %v to %v fov %v", c.from, c.to, c.fov)
	}
	if set := s.Settings(); set.Width != 100 || set.Height != 50 {
		t.Errorf("image %dx%d, want 100x50 from the height and the aspect ratio 2", set.Width, set.Height)
	}
	files["scene.json"] = strings.Replace(files["scene.json"], `"Wide"`, `"Ortho"`, 1)
	if _, err := loadFiles(t, files, Limits{}); err == nil || !strings.Contains(err.Error(), `camera "Ortho" of objects[1] (m.gltf) is orthographic`) {
		t.Errorf("error %v, want the orthographic camera refused", err)
	}
}

// TestDirectScene: rendering a glTF file on its own is rendering the scene
// file written into the bundle, which carries every Direct field.
func TestDirectScene(t *testing.T) {
	path := "../testdata/scenes/stilllife.glb"
	s, b, err := LoadDirect(path, Direct{Camera: "Camera", Width: 200}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Main != "stilllife.glb.scene.json" || len(b.Files) != 2 || b.Files["stilllife.glb"] == nil {
		t.Fatalf("bundle %q with %d files", b.Main, len(b.Files))
	}
	want := "{\n  \"camera\": {\"object\": 0, \"name\": \"Camera\"},\n  \"image\": {\"width\": 200},\n  \"objects\": [{\"type\": \"gltf\", \"file\": \"stilllife.glb\"}]\n}\n"
	if got := string(b.Files[b.Main]); got != want {
		t.Errorf("scene file\n%s\nwant\n%s", got, want)
	}
	if set := s.Settings(); set.Width != 200 || set.Height != 125 {
		t.Errorf("image %dx%d, want 200x125 (the camera's aspect ratio 1.6)", set.Width, set.Height)
	}
	// A node loads the bundle alone, and another camera makes another hash.
	s2, err := LoadBundle(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if s2.camera != s.camera || len(s2.punctual) != 3 || len(s2.lights) != len(s.lights) {
		t.Errorf("the bundle loads another scene: camera %+v, %d punctual lights", s2.camera, len(s2.punctual))
	}
	_, b2, err := LoadDirect(path, Direct{Width: 200}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b2.Hash() == b.Hash() {
		t.Error("a different -camera gives the same bundle hash")
	}
	if _, _, err := LoadDirect("../testdata/scenes/cornell.json", Direct{Camera: "x"}, Limits{}); !errors.Is(err, ErrBadSettings) {
		t.Errorf("a camera name for a JSON scene: error %v, want ErrBadSettings", err)
	}
	// A frame rate other than 24 is written into the scene file, and plays
	// the animations at that rate: frame 30 at 30 fps is frame 24 at 24.
	orbit := "../testdata/scenes/orbit.glb"
	s24, b24, err := LoadDirect(orbit, Direct{FPS: 24}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s30, b30, err := LoadDirect(orbit, Direct{FPS: 30}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b24.Files[b24.Main]), "fps") || !strings.Contains(string(b30.Files[b30.Main]), "\"fps\": 30,") {
		t.Errorf("scene files for 24 and 30 fps:\n%s\n%s", b24.Files[b24.Main], b30.Files[b30.Main])
	}
	f24, _ := s24.Frame(24)
	f30, _ := s30.Frame(30)
	if f24.camera != f30.camera {
		t.Errorf("frame 30 at 30 fps has camera %+v, frame 24 at 24 fps %+v", f30.camera, f24.camera)
	}
	if _, _, err := LoadDirect(orbit, Direct{FPS: -1}, Limits{}); !errors.Is(err, ErrBadSettings) {
		t.Errorf("-1 fps: %v, want ErrBadSettings", err)
	}
	// A file without lights is lit by a white sky.
	_, b3, err := LoadDirect("testdata/gltf/BoxTextured-glTF-Binary/BoxTextured.glb", Direct{}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b3.Files[b3.Main]), `"background": [1, 1, 1]`) {
		t.Errorf("scene file of an unlit model:\n%s", b3.Files[b3.Main])
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
