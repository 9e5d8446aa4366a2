package render

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
)

// This file reads a glTF 2.0 asset (.gltf with external or data: buffers
// and images, or binary .glb) into a gltfDoc: the JSON typed and checked
// against the Khronos specification, every index checked against what it
// points to, and accessor data read on demand. gltfscene.go turns a
// document into scene primitives, materials, lights and cameras.
//
// The document keeps the node hierarchy as the file has it (each node's
// TRS or matrix and its children), not only the world transforms it
// composes to, so that animations can move nodes (gltfanim.go reads them,
// frame.go moves the nodes).

// gltf component types (accessor.componentType).
const (
	gltfByte   = 5120
	gltfUByte  = 5121
	gltfShort  = 5122
	gltfUShort = 5123
	gltfUInt   = 5125
	gltfFloat  = 5126
)

// gltfDoc is a parsed glTF asset.
type gltfDoc struct {
	file string // bundle name of the .gltf or .glb
	src  source
	lim  Limits
	bin  []byte // the GLB BIN chunk; nil for a .gltf or a .glb without one

	scene     int // the default scene, -1 when the file names none
	scenes    []gltfScene
	nodes     []gltfNode
	meshes    []gltfMesh
	accessors []gltfAccessor
	views     []gltfView
	buffers   []gltfBuffer
	images    []gltfImage
	textures  []gltfTexture
	samplers  []gltfSampler
	materials []gltfMaterial
	cameras   []gltfCamera
	lights    []gltfLight   // KHR_lights_punctual
	channels  []gltfChannel // every animation's, played together (gltfanim.go)
	rawAnims  []any         // the animations as JSON, decoded once buffers can be read

	used     []string // extensionsUsed
	ignored  []string // what the file uses that tessera ignores, for the warning line
	bufCache [][]byte // buffer data once read
}

type gltfScene struct {
	name  string
	nodes []int // root nodes
}

// gltfNode is a node of the hierarchy: its local transform is matrix when
// hasMatrix, else translation × rotation × scale.
type gltfNode struct {
	name      string
	children  []int
	mesh      int // -1: none
	camera    int // -1: none
	light     int // KHR_lights_punctual light, -1: none
	hasMatrix bool
	matrix    affine
	t         Vec
	r         [4]float64 // unit quaternion x, y, z, w
	s         Vec
}

// local returns the node's transform relative to its parent.
func (n *gltfNode) local() affine {
	if n.hasMatrix {
		return n.matrix
	}
	return trs(n.t, n.r, n.s)
}

type gltfMesh struct {
	name  string
	prims []gltfPrim
}

type gltfPrim struct {
	where    string         // JSON path, for errors
	attrs    map[string]int // attribute name → accessor
	indices  int            // accessor, -1: not indexed
	material int            // -1: the default material
	mode     int
}

type gltfAccessor struct {
	view       int // -1: all zeros (then perhaps sparse)
	offset     int64
	comp       int // component type
	normalized bool
	count      int
	typ        string
	ncomp      int
	sparse     *gltfSparse
}

type gltfSparse struct {
	count                int
	idxView, valView     int
	idxOffset, valOffset int64
	idxComp              int
}

type gltfView struct {
	buffer         int
	offset, length int64
	stride         int // 0: tightly packed
}

type gltfBuffer struct {
	uri    string // "" for the GLB BIN chunk
	length int64
}

type gltfImage struct {
	uri  string
	view int // -1 unless the image is in a bufferView
	mime string
}

type gltfTexture struct {
	source  int // image, -1: none tessera can read
	sampler int // -1: the default (repeat, linear)
}

type gltfSampler struct {
	mag          int
	wrapS, wrapT int
}

// gltfTexRef is a material's use of a texture (a textureInfo).
type gltfTexRef struct {
	tex      int // -1: none
	texCoord int
	scale    float64    // normalTexture.scale
	xf       [6]float64 // KHR_texture_transform in glTF UV space: u' = xf0 u + xf1 v + xf2, v' = xf3 u + xf4 v + xf5
}

const (
	alphaOpaque = iota
	alphaMask
	alphaBlend
)

type gltfMaterial struct {
	name         string
	base         [4]float64
	baseTex      gltfTexRef
	metallic     float64
	roughness    float64
	mrTex        gltfTexRef
	normalTex    gltfTexRef
	emissive     Vec
	emTex        gltfTexRef
	strength     float64 // KHR_materials_emissive_strength
	alphaMode    int
	cutoff       float64
	doubleSided  bool
	transmission float64 // KHR_materials_transmission
	ior          float64 // KHR_materials_ior
}

type gltfCamera struct {
	name        string
	perspective bool
	yfov        float64 // radians
	aspect      float64 // 0: not given
}

type gltfLight struct {
	name         string
	typ          string // point, spot, directional
	color        Vec
	intensity    float64 // candela (point, spot) or lux (directional)
	inner, outer float64 // spot cone half-angles, radians
}

// gltfExtensions are the extensions tessera implements, or ignores on
// purpose, as extensionsRequired may name them. Others that a file
// requires refuse it.
var gltfExtensions = map[string]bool{
	"KHR_lights_punctual":             true,
	"KHR_materials_emissive_strength": true,
	"KHR_materials_transmission":      true,
	"KHR_materials_ior":               true,
	"KHR_texture_transform":           true,
	"KHR_mesh_quantization":           true, // integer attributes: read as the accessors say
}

// isGLTF reports whether a file name is a glTF asset by its extension.
func isGLTF(name string) bool {
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".gltf") || strings.HasSuffix(n, ".glb")
}

// parseGLTF reads the glTF asset file (a bundle name) from src.
func parseGLTF(src source, file string, lim Limits) (*gltfDoc, error) {
	data, err := src.read(file)
	if err != nil {
		return nil, &LoadError{File: file, Err: err}
	}
	d := &gltfDoc{file: file, src: src, lim: lim, scene: -1}
	js := data
	if len(data) >= 4 && string(data[:4]) == "glTF" {
		if js, err = d.glb(data); err != nil {
			return nil, err
		}
	} else if strings.HasSuffix(strings.ToLower(file), ".glb") {
		return nil, loadErr(file, "", "not a binary glTF file: it does not start with \"glTF\"")
	}
	if int64(len(js)) > lim.MaxJSONBytes {
		return nil, &LoadError{File: file, Err: &LimitError{Limit: "MaxJSONBytes", What: "bytes of glTF JSON", Value: int64(len(js)), Max: lim.MaxJSONBytes}}
	}
	v, err := decodeJSON(file, js)
	if err != nil {
		return nil, err
	}
	r := &jsonReader{file: file}
	d.read(r, r.object("", v))
	if r.err != nil {
		return nil, r.err
	}
	d.bufCache = make([][]byte, len(d.buffers))
	if d.readAnimations(r, d.rawAnims); r.err != nil {
		return nil, r.err
	}
	d.rawAnims = nil
	return d, nil
}

// glb splits a binary glTF file into its JSON and BIN chunks.
func (d *gltfDoc) glb(data []byte) ([]byte, error) {
	bad := func(format string, args ...any) error { return loadErr(d.file, "", "GLB: "+format, args...) }
	if len(data) < 20 {
		return nil, bad("%d bytes, shorter than a header and one chunk", len(data))
	}
	if v := binary.LittleEndian.Uint32(data[4:]); v != 2 {
		return nil, bad("container version %d (expected 2)", v)
	}
	if n := binary.LittleEndian.Uint32(data[8:]); uint64(n) > uint64(len(data)) {
		return nil, bad("the header says %d bytes, the file has %d", n, len(data))
	} else {
		data = data[:n]
	}
	var js []byte
	for off, i := 12, 0; off < len(data); i++ {
		if len(data)-off < 8 {
			return nil, bad("chunk %d at byte %d: truncated header", i, off)
		}
		n := uint64(binary.LittleEndian.Uint32(data[off:]))
		typ := binary.LittleEndian.Uint32(data[off+4:])
		if n > uint64(len(data)-off-8) {
			return nil, bad("chunk %d at byte %d: %d bytes, past the end of the file", i, off, n)
		}
		body := data[off+8 : off+8+int(n)]
		switch {
		case i == 0 && typ != 0x4E4F534A:
			return nil, bad("the first chunk is not JSON")
		case i == 0:
			js = body
		case i == 1 && typ == 0x004E4942:
			d.bin = body
		}
		off += 8 + int(n)
		off += (4 - off%4) % 4 // chunks are 4-byte aligned
	}
	return js, nil
}

// read reads the whole JSON document.
func (d *gltfDoc) read(r *jsonReader, root *jobj) {
	asset := root.sub("asset")
	if asset == nil {
		r.fail("", `missing field "asset" (the glTF version)`)
		return
	}
	if v := asset.str("version", ""); !strings.HasPrefix(v, "2.") {
		r.fail(asset.at("version"), "glTF version %q: expected 2.x (glTF 1.0 is not supported)", v)
		return
	}
	asset.str("minVersion", "")
	d.used = d.strings(root, "extensionsUsed")
	required := d.strings(root, "extensionsRequired")
	for i, e := range required {
		if !gltfExtensions[e] {
			r.fail(fmt.Sprintf("extensionsRequired[%d]", i), "the file requires extension %s, which tessera does not implement", e)
			return
		}
	}
	for _, e := range d.used {
		if !gltfExtensions[e] {
			d.ignore("extension " + e)
		}
	}
	// Counts first, so that every index can be checked where it is read.
	lists := map[string][]any{}
	for _, k := range []string{"scenes", "nodes", "meshes", "accessors", "bufferViews", "buffers", "images", "textures", "samplers", "materials", "cameras", "skins", "animations"} {
		lists[k] = root.array(k)
	}
	var lightList []any
	if ext := root.sub("extensions"); ext != nil {
		if lp := ext.sub("KHR_lights_punctual"); lp != nil {
			lightList = lp.array("lights")
		}
	}
	if r.err != nil {
		return
	}
	n := func(k string) int { return len(lists[k]) }
	d.buffers = make([]gltfBuffer, n("buffers"))
	for i, v := range lists["buffers"] {
		o := r.object(fmt.Sprintf("buffers[%d]", i), v)
		d.name(o)
		b := &d.buffers[i]
		b.uri = o.str("uri", "")
		b.length = d.count(o, "byteLength", 1, true)
	}
	d.views = make([]gltfView, n("bufferViews"))
	for i, v := range lists["bufferViews"] {
		o := r.object(fmt.Sprintf("bufferViews[%d]", i), v)
		d.name(o)
		w := &d.views[i]
		w.buffer = d.index(o, "buffer", n("buffers"), "buffer", true)
		w.offset = d.count(o, "byteOffset", 0, false)
		w.length = d.count(o, "byteLength", 1, true)
		w.stride = int(d.count(o, "byteStride", 0, false))
		if o.has("byteStride") && (w.stride < 4 || w.stride > 252 || w.stride%4 != 0) {
			r.fail(o.at("byteStride"), "expected a stride from 4 to 252 bytes, a multiple of 4, got %d", w.stride)
		}
		o.int("target", 0)
		if r.err == nil && w.buffer >= 0 && w.offset+w.length > d.buffers[w.buffer].length {
			r.fail(o.path, "bytes %d to %d are past the end of buffer %d (%d bytes)", w.offset, w.offset+w.length, w.buffer, d.buffers[w.buffer].length)
		}
	}
	d.accessors = make([]gltfAccessor, n("accessors"))
	for i, v := range lists["accessors"] {
		d.accessor(r, r.object(fmt.Sprintf("accessors[%d]", i), v), &d.accessors[i], i)
	}
	d.images = make([]gltfImage, n("images"))
	for i, v := range lists["images"] {
		o := r.object(fmt.Sprintf("images[%d]", i), v)
		d.name(o)
		im := &d.images[i]
		im.uri = o.str("uri", "")
		im.view = d.index(o, "bufferView", n("bufferViews"), "bufferView", false)
		im.mime = o.str("mimeType", "")
		if r.err == nil && (im.uri == "") == (im.view < 0) {
			r.fail(o.path, `expected exactly one of "uri" and "bufferView"`)
		}
	}
	d.samplers = make([]gltfSampler, n("samplers"))
	for i, v := range lists["samplers"] {
		o := r.object(fmt.Sprintf("samplers[%d]", i), v)
		d.name(o)
		s := &d.samplers[i]
		s.mag = o.int("magFilter", 9729)
		o.int("minFilter", 0)
		s.wrapS = o.int("wrapS", 10497)
		s.wrapT = o.int("wrapT", 10497)
		for _, k := range []string{"wrapS", "wrapT"} {
			if w := o.int(k, 10497); w != 10497 && w != 33071 && w != 33648 {
				r.fail(o.at(k), "expected 33071 (clamp), 33648 (mirrored repeat) or 10497 (repeat), got %d", w)
			}
		}
		if s.mag != 9728 && s.mag != 9729 {
			r.fail(o.at("magFilter"), "expected 9728 (nearest) or 9729 (linear), got %d", s.mag)
		}
	}
	d.textures = make([]gltfTexture, n("textures"))
	for i, v := range lists["textures"] {
		o := r.object(fmt.Sprintf("textures[%d]", i), v)
		d.name(o)
		t := &d.textures[i]
		t.source = d.index(o, "source", n("images"), "image", false)
		t.sampler = d.index(o, "sampler", n("samplers"), "sampler", false)
		if ext := o.sub("extensions"); ext != nil && t.source < 0 && len(ext.m) > 0 {
			d.ignore(fmt.Sprintf("texture sources of extensions (textures[%d])", i))
		}
	}
	d.materials = make([]gltfMaterial, n("materials"))
	for i, v := range lists["materials"] {
		d.material(r, r.object(fmt.Sprintf("materials[%d]", i), v), &d.materials[i])
	}
	d.meshes = make([]gltfMesh, n("meshes"))
	for i, v := range lists["meshes"] {
		d.mesh(r, r.object(fmt.Sprintf("meshes[%d]", i), v), &d.meshes[i])
	}
	d.cameras = make([]gltfCamera, n("cameras"))
	for i, v := range lists["cameras"] {
		d.camera(r, r.object(fmt.Sprintf("cameras[%d]", i), v), &d.cameras[i])
	}
	d.lights = make([]gltfLight, len(lightList))
	for i, v := range lightList {
		d.light(r, r.object(fmt.Sprintf("extensions.KHR_lights_punctual.lights[%d]", i), v), &d.lights[i])
	}
	d.nodes = make([]gltfNode, n("nodes"))
	for i, v := range lists["nodes"] {
		d.node(r, r.object(fmt.Sprintf("nodes[%d]", i), v), &d.nodes[i])
	}
	d.scenes = make([]gltfScene, n("scenes"))
	for i, v := range lists["scenes"] {
		o := r.object(fmt.Sprintf("scenes[%d]", i), v)
		d.scenes[i].name = d.name(o)
		d.scenes[i].nodes = d.indices(o, "nodes", n("nodes"), "node")
	}
	d.scene = d.index(root, "scene", n("scenes"), "scene", false)
	if len(lists["skins"]) > 0 {
		d.ignore("skins (meshes are drawn in their bind pose)")
	}
	d.rawAnims = lists["animations"]
	if r.err == nil {
		d.checkHierarchy(r)
	}
}

// ignore records something the file uses that tessera ignores, once.
func (d *gltfDoc) ignore(what string) {
	if !slices.Contains(d.ignored, what) {
		d.ignored = append(d.ignored, what)
	}
}

// name reads an object's optional "name", checking that it is a string,
// and its "extensions" and "extras" (extensions must be an object).
func (d *gltfDoc) name(o *jobj) string {
	o.sub("extensions")
	o.get("extras")
	return o.str("name", "")
}

// strings reads an optional array of strings.
func (d *gltfDoc) strings(o *jobj, key string) []string {
	var out []string
	for i, v := range o.array(key) {
		s, ok := v.(string)
		if !ok {
			o.r.fail(fmt.Sprintf("%s[%d]", o.at(key), i), "expected a string, got %s", describe(v))
			return nil
		}
		out = append(out, s)
	}
	return out
}

// count reads a non-negative integer at least least; def when absent (and
// not required).
func (d *gltfDoc) count(o *jobj, key string, least int64, required bool) int64 {
	if required && !o.require(key, "an integer") {
		return 0
	}
	f, ok := o.number(key, 0)
	if !ok {
		return 0
	}
	if f != math.Trunc(f) || f < float64(least) || f > 1<<53 {
		o.r.fail(o.at(key), "expected an integer >= %d, got %v", least, f)
		return 0
	}
	return int64(f)
}

// index reads an index into a list of n elements called what; -1 when
// absent and not required.
func (d *gltfDoc) index(o *jobj, key string, n int, what string, required bool) int {
	if !o.has(key) {
		if required {
			o.require(key, "the index of a "+what)
		}
		return -1
	}
	v, _ := o.get(key)
	return d.indexValue(o.r, o.at(key), v, n, what)
}

func (d *gltfDoc) indexValue(r *jsonReader, where string, v any, n int, what string) int {
	f, ok := r.number(where, v)
	if !ok {
		return -1
	}
	if f != math.Trunc(f) || f < 0 {
		r.fail(where, "expected the index of a %s (an integer >= 0), got %v", what, f)
		return -1
	}
	if f >= float64(n) {
		r.fail(where, "%s %v does not exist (the file has %d)", what, f, n)
		return -1
	}
	return int(f)
}

// indices reads an optional array of indices.
func (d *gltfDoc) indices(o *jobj, key string, n int, what string) []int {
	var out []int
	for i, v := range o.array(key) {
		k := d.indexValue(o.r, fmt.Sprintf("%s[%d]", o.at(key), i), v, n, what)
		if k < 0 {
			return nil
		}
		out = append(out, k)
	}
	return out
}

// floats reads an optional array of exactly len(def) numbers.
func (d *gltfDoc) floats(o *jobj, key string, def ...float64) []float64 {
	v, ok := o.get(key)
	if !ok {
		return def
	}
	a, ok := v.([]any)
	if !ok || len(a) != len(def) {
		o.r.fail(o.at(key), "expected an array of %d numbers, got %s", len(def), describe(v))
		return def
	}
	out := make([]float64, len(a))
	for i := range a {
		f, ok := o.r.number(fmt.Sprintf("%s[%d]", o.at(key), i), a[i])
		if !ok {
			return def
		}
		out[i] = f
	}
	return out
}

// unit reads an optional number from 0 to 1.
func (d *gltfDoc) unit(o *jobj, key string, def float64) float64 {
	f := o.num(key, def)
	if f < 0 || f > 1 {
		o.r.fail(o.at(key), "expected a number from 0 to 1, got %v", f)
		return def
	}
	return f
}

var gltfTypes = map[string]int{"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}

// componentSize returns the bytes of a component type, 0 for an unknown one.
func componentSize(comp int) int {
	switch comp {
	case gltfByte, gltfUByte:
		return 1
	case gltfShort, gltfUShort:
		return 2
	case gltfUInt, gltfFloat:
		return 4
	}
	return 0
}

func (d *gltfDoc) accessor(r *jsonReader, o *jobj, a *gltfAccessor, i int) {
	d.name(o)
	nv := len(d.views)
	a.view = d.index(o, "bufferView", nv, "bufferView", false)
	a.offset = d.count(o, "byteOffset", 0, false)
	o.require("componentType", "5120 to 5126")
	a.comp = o.int("componentType", gltfFloat)
	if componentSize(a.comp) == 0 || r.err != nil {
		r.fail(o.at("componentType"), "expected 5120, 5121, 5122, 5123, 5125 or 5126, got %d", a.comp)
		return
	}
	a.normalized = o.boolean("normalized", false)
	a.count = int(d.count(o, "count", 1, true))
	o.require("type", `"SCALAR", "VEC2", "VEC3", "VEC4", "MAT2", "MAT3" or "MAT4"`)
	a.typ = o.str("type", "")
	a.ncomp = gltfTypes[a.typ]
	if r.err == nil && a.ncomp == 0 {
		r.fail(o.at("type"), `expected "SCALAR", "VEC2", "VEC3", "VEC4", "MAT2", "MAT3" or "MAT4", got %q`, a.typ)
	}
	o.array("min")
	o.array("max")
	if r.err != nil {
		return
	}
	if a.view >= 0 {
		w := &d.views[a.view]
		esize := int64(componentSize(a.comp) * a.ncomp)
		stride := int64(w.stride)
		if stride == 0 {
			stride = esize
		}
		if end := a.offset + stride*int64(a.count-1) + esize; end > w.length {
			r.fail(o.path, "%d elements of %d bytes from byte %d read past the end of bufferView %d (%d bytes)", a.count, esize, a.offset, a.view, w.length)
			return
		}
	} else if lim := int(3*int64(d.lim.MaxTriangles) + 2); a.count > lim {
		// Without a bufferView the elements are zeros: nothing bounds
		// their number but this.
		r.err = &LoadError{File: d.file, Where: o.path, Err: &LimitError{Limit: "MaxTriangles", What: "elements without data (more vertices than 3 per triangle)", Value: int64(a.count), Max: int64(lim)}}
		return
	}
	sp := o.sub("sparse")
	if sp == nil {
		return
	}
	s := &gltfSparse{}
	s.count = int(d.count(sp, "count", 1, true))
	if s.count > a.count && r.err == nil {
		r.fail(sp.at("count"), "%d sparse elements, more than the accessor's %d", s.count, a.count)
	}
	if ix := sp.sub("indices"); ix != nil {
		s.idxView = d.index(ix, "bufferView", nv, "bufferView", true)
		s.idxOffset = d.count(ix, "byteOffset", 0, false)
		s.idxComp = ix.int("componentType", 0)
		if c := s.idxComp; c != gltfUByte && c != gltfUShort && c != gltfUInt && r.err == nil {
			r.fail(ix.at("componentType"), "expected 5121, 5123 or 5125, got %d", c)
		}
		if r.err == nil && s.idxOffset+int64(s.count*componentSize(s.idxComp)) > d.views[s.idxView].length {
			r.fail(ix.path, "%d indices read past the end of bufferView %d", s.count, s.idxView)
		}
	} else {
		sp.require("indices", "the sparse indices")
	}
	if vs := sp.sub("values"); vs != nil {
		s.valView = d.index(vs, "bufferView", nv, "bufferView", true)
		s.valOffset = d.count(vs, "byteOffset", 0, false)
		if r.err == nil && s.valOffset+int64(s.count*componentSize(a.comp)*a.ncomp) > d.views[s.valView].length {
			r.fail(vs.path, "%d values read past the end of bufferView %d", s.count, s.valView)
		}
	} else {
		sp.require("values", "the sparse values")
	}
	a.sparse = s
}

// texRef reads an optional textureInfo.
func (d *gltfDoc) texRef(o *jobj, key string) gltfTexRef {
	t := gltfTexRef{tex: -1, scale: 1, xf: [6]float64{1, 0, 0, 0, 1, 0}}
	ti := o.sub(key)
	if ti == nil {
		return t
	}
	ti.get("extras")
	if key == "normalTexture" {
		t.scale = ti.num("scale", 1)
	} else if key == "occlusionTexture" {
		d.unit(ti, "strength", 1)
	}
	t.texCoord = int(d.count(ti, "texCoord", 0, false))
	t.tex = d.index(ti, "index", len(d.textures), "texture", true)
	if ext := ti.sub("extensions"); ext != nil {
		if tt := ext.sub("KHR_texture_transform"); tt != nil {
			off := d.floats(tt, "offset", 0, 0)
			rot := tt.num("rotation", 0)
			sc := d.floats(tt, "scale", 1, 1)
			if tt.has("texCoord") {
				t.texCoord = int(d.count(tt, "texCoord", 0, false))
			}
			s, c := math.Sincos(rot)
			t.xf = [6]float64{c * sc[0], s * sc[1], off[0], -s * sc[0], c * sc[1], off[1]}
		}
	}
	if t.texCoord != 0 {
		d.ignore("texture coordinates other than TEXCOORD_0 (TEXCOORD_0 is used)")
	}
	return t
}

func (d *gltfDoc) material(r *jsonReader, o *jobj, m *gltfMaterial) {
	m.name = d.name(o)
	m.base = [4]float64{1, 1, 1, 1}
	m.metallic, m.roughness = 1, 1
	m.baseTex, m.mrTex = gltfTexRef{tex: -1}, gltfTexRef{tex: -1}
	if pbr := o.sub("pbrMetallicRoughness"); pbr != nil {
		d.name(pbr)
		copy(m.base[:], d.floats(pbr, "baseColorFactor", 1, 1, 1, 1))
		for i, c := range m.base {
			if c < 0 || c > 1 {
				r.fail(pbr.at("baseColorFactor")+fmt.Sprintf("[%d]", i), "expected a number from 0 to 1, got %v", c)
			}
		}
		m.baseTex = d.texRef(pbr, "baseColorTexture")
		m.metallic = d.unit(pbr, "metallicFactor", 1)
		m.roughness = d.unit(pbr, "roughnessFactor", 1)
		m.mrTex = d.texRef(pbr, "metallicRoughnessTexture")
	}
	m.normalTex = d.texRef(o, "normalTexture")
	if d.texRef(o, "occlusionTexture").tex >= 0 {
		d.ignore("occlusion textures (a path tracer computes occlusion)")
	}
	e := d.floats(o, "emissiveFactor", 0, 0, 0)
	m.emissive = Vec{X: e[0], Y: e[1], Z: e[2]}
	if m.emissive.X < 0 || m.emissive.Y < 0 || m.emissive.Z < 0 || m.emissive.MaxComp() > 1 {
		r.fail(o.at("emissiveFactor"), "expected numbers from 0 to 1, got %v", e)
	}
	m.emTex = d.texRef(o, "emissiveTexture")
	m.strength = 1
	switch mode := o.str("alphaMode", "OPAQUE"); mode {
	case "OPAQUE":
	case "MASK":
		m.alphaMode = alphaMask
	case "BLEND":
		m.alphaMode = alphaBlend
		d.ignore("alpha blending (BLEND is drawn as MASK with cutoff 0.5)")
	default:
		r.fail(o.at("alphaMode"), `expected "OPAQUE", "MASK" or "BLEND", got %q`, mode)
	}
	m.cutoff = o.num("alphaCutoff", 0.5)
	if m.cutoff < 0 {
		r.fail(o.at("alphaCutoff"), "expected a number >= 0, got %v", m.cutoff)
	}
	if m.alphaMode == alphaBlend {
		m.cutoff = 0.5
	}
	m.doubleSided = o.boolean("doubleSided", false)
	m.ior = 1.5
	ext := o.sub("extensions")
	if ext == nil {
		return
	}
	for k := range ext.m {
		switch k {
		case "KHR_materials_emissive_strength", "KHR_materials_transmission", "KHR_materials_ior":
		default:
			d.ignore("extension " + k)
		}
	}
	if es := ext.sub("KHR_materials_emissive_strength"); es != nil {
		m.strength = es.num("emissiveStrength", 1)
		if m.strength < 0 {
			r.fail(es.at("emissiveStrength"), "expected a number >= 0, got %v", m.strength)
		}
	}
	if tr := ext.sub("KHR_materials_transmission"); tr != nil {
		m.transmission = d.unit(tr, "transmissionFactor", 0)
		if d.texRef(tr, "transmissionTexture").tex >= 0 {
			d.ignore("transmission textures (the factor is used)")
		}
	}
	if ir := ext.sub("KHR_materials_ior"); ir != nil {
		m.ior = ir.num("ior", 1.5)
		if m.ior != 0 && (m.ior < 1 || m.ior > 10) {
			r.fail(ir.at("ior"), "expected 0 or an index of refraction from 1 to 10, got %v", m.ior)
		}
		if m.ior == 0 {
			m.ior = 1.5 // 0 means an infinite index: not a dielectric we can refract through
		}
	}
}

func (d *gltfDoc) mesh(r *jsonReader, o *jobj, m *gltfMesh) {
	m.name = d.name(o)
	o.require("primitives", "an array of primitives")
	for i, v := range o.array("primitives") {
		po := r.object(o.at(fmt.Sprintf("primitives[%d]", i)), v)
		d.name(po)
		p := gltfPrim{where: po.path, attrs: map[string]int{}}
		po.require("attributes", "an object of vertex attributes")
		if at := po.sub("attributes"); at != nil {
			names := make([]string, 0, len(at.m))
			for k := range at.m {
				names = append(names, k)
			}
			slices.Sort(names)
			for _, k := range names {
				p.attrs[k] = d.index(at, k, len(d.accessors), "accessor", true)
			}
		}
		p.indices = d.index(po, "indices", len(d.accessors), "accessor", false)
		p.material = d.index(po, "material", len(d.materials), "material", false)
		p.mode = po.int("mode", 4)
		if len(po.array("targets")) > 0 {
			d.ignore("morph targets (meshes are drawn in their base shape)")
		}
		if r.err != nil {
			return
		}
		m.prims = append(m.prims, p)
	}
}

func (d *gltfDoc) camera(r *jsonReader, o *jobj, c *gltfCamera) {
	c.name = d.name(o)
	o.require("type", `"perspective" or "orthographic"`)
	switch typ := o.str("type", ""); typ {
	case "perspective":
		c.perspective = true
		p := o.sub("perspective")
		if p == nil {
			o.require("perspective", "the perspective projection")
			return
		}
		d.name(p)
		p.require("yfov", "the vertical field of view in radians")
		c.yfov = p.num("yfov", 0.8)
		c.aspect = p.num("aspectRatio", 0)
		p.num("znear", 0)
		p.num("zfar", 0)
		if !(c.yfov > 0 && c.yfov < math.Pi) {
			r.fail(p.at("yfov"), "expected a field of view from 0 to π radians, got %v", c.yfov)
		}
		if c.aspect < 0 || (p.has("aspectRatio") && c.aspect == 0) {
			r.fail(p.at("aspectRatio"), "expected an aspect ratio > 0, got %v", c.aspect)
		}
	case "orthographic":
		o.sub("orthographic")
	default:
		r.fail(o.at("type"), `expected "perspective" or "orthographic", got %q`, typ)
	}
}

func (d *gltfDoc) light(r *jsonReader, o *jobj, l *gltfLight) {
	l.name = d.name(o)
	c := d.floats(o, "color", 1, 1, 1)
	l.color = Vec{X: c[0], Y: c[1], Z: c[2]}
	if l.color.X < 0 || l.color.Y < 0 || l.color.Z < 0 {
		r.fail(o.at("color"), "expected a colour with components >= 0, got %v", c)
	}
	l.intensity = o.num("intensity", 1)
	if l.intensity < 0 {
		r.fail(o.at("intensity"), "expected an intensity >= 0, got %v", l.intensity)
	}
	if o.has("range") {
		o.num("range", 0)
		d.ignore("light ranges (lights fall off with the square of the distance only)")
	}
	o.require("type", `"point", "spot" or "directional"`)
	switch l.typ = o.str("type", ""); l.typ {
	case "point", "directional":
	case "spot":
		l.outer = math.Pi / 4
		if sp := o.sub("spot"); sp != nil {
			l.inner = sp.num("innerConeAngle", 0)
			l.outer = sp.num("outerConeAngle", math.Pi/4)
			if !(l.outer > 0 && l.outer <= math.Pi/2) {
				r.fail(sp.at("outerConeAngle"), "expected an angle > 0 and <= π/2, got %v", l.outer)
			} else if !(l.inner >= 0 && l.inner < l.outer) {
				r.fail(sp.at("innerConeAngle"), "expected an angle >= 0 and below outerConeAngle (%v), got %v", l.outer, l.inner)
			}
		}
	default:
		r.fail(o.at("type"), `expected "point", "spot" or "directional", got %q`, l.typ)
	}
}

func (d *gltfDoc) node(r *jsonReader, o *jobj, n *gltfNode) {
	n.name = d.name(o)
	n.children = d.indices(o, "children", len(d.nodes), "node")
	n.mesh = d.index(o, "mesh", len(d.meshes), "mesh", false)
	n.camera = d.index(o, "camera", len(d.cameras), "camera", false)
	n.light = -1
	if ext := o.sub("extensions"); ext != nil {
		if lp := ext.sub("KHR_lights_punctual"); lp != nil {
			n.light = d.index(lp, "light", len(d.lights), "light", true)
		}
	}
	o.get("skin")
	o.array("weights")
	if o.has("matrix") {
		m := d.floats(o, "matrix", 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1)
		if m[3] != 0 || m[7] != 0 || m[11] != 0 || m[15] != 1 {
			r.fail(o.at("matrix"), "expected an affine transform (last row 0, 0, 0, 1), got row %v, %v, %v, %v", m[3], m[7], m[11], m[15])
		}
		n.hasMatrix = true
		// Column-major.
		n.matrix = affine{
			m: mat3{{m[0], m[4], m[8]}, {m[1], m[5], m[9]}, {m[2], m[6], m[10]}},
			t: Vec{X: m[12], Y: m[13], Z: m[14]},
		}
		if o.has("translation") || o.has("rotation") || o.has("scale") {
			r.fail(o.path, `expected either "matrix" or "translation", "rotation" and "scale", not both`)
		}
		return
	}
	t := d.floats(o, "translation", 0, 0, 0)
	q := d.floats(o, "rotation", 0, 0, 0, 1)
	s := d.floats(o, "scale", 1, 1, 1)
	n.t, n.s = Vec{X: t[0], Y: t[1], Z: t[2]}, Vec{X: s[0], Y: s[1], Z: s[2]}
	l := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	if r.err == nil && !(l > 0.5 && l < 2) {
		r.fail(o.at("rotation"), "expected a unit quaternion, got [%v, %v, %v, %v]", q[0], q[1], q[2], q[3])
		return
	}
	n.r = [4]float64{q[0] / l, q[1] / l, q[2] / l, q[3] / l}
}

// checkHierarchy refuses cycles and nodes with two parents: glTF nodes
// form disjoint trees.
func (d *gltfDoc) checkHierarchy(r *jsonReader) {
	parent := make([]int, len(d.nodes))
	for i := range parent {
		parent[i] = -1
	}
	for i := range d.nodes {
		for k, c := range d.nodes[i].children {
			where := fmt.Sprintf("nodes[%d].children[%d]", i, k)
			switch {
			case c == i:
				r.fail(where, "node %d is its own child", i)
				return
			case parent[c] >= 0:
				r.fail(where, "node %d is already a child of node %d (glTF nodes form trees: one parent each)", c, parent[c])
				return
			}
			parent[c] = i
		}
	}
	// With one parent each, a cycle is a loop of parents.
	for i := range d.nodes {
		slow, fast := i, i
		for fast >= 0 && parent[fast] >= 0 {
			slow, fast = parent[slow], parent[parent[fast]]
			if slow == fast {
				r.fail(fmt.Sprintf("nodes[%d]", slow), "the node hierarchy has a cycle through node %d", slow)
				return
			}
		}
	}
	for s, sc := range d.scenes {
		seen := map[int]bool{}
		for k, n := range sc.nodes {
			where := fmt.Sprintf("scenes[%d].nodes[%d]", s, k)
			if parent[n] >= 0 {
				r.fail(where, "node %d is a root of the scene but a child of node %d", n, parent[n])
				return
			}
			if seen[n] {
				r.fail(where, "node %d is listed twice", n)
				return
			}
			seen[n] = true
		}
	}
}

// buffer returns the data of buffer i, reading it on first use.
func (d *gltfDoc) buffer(i int) ([]byte, error) {
	if d.bufCache[i] != nil {
		return d.bufCache[i], nil
	}
	b := &d.buffers[i]
	where := fmt.Sprintf("buffers[%d]", i)
	var data []byte
	switch {
	case b.uri == "" && i == 0 && d.bin != nil:
		data = d.bin
	case b.uri == "":
		return nil, loadErr(d.file, where, "no uri, and the file has no binary chunk for it")
	default:
		var err error
		if data, err = d.uriData(b.uri); err != nil {
			return nil, &LoadError{File: d.file, Where: where + ".uri", Err: err}
		}
	}
	if int64(len(data)) < b.length {
		return nil, loadErr(d.file, where, "byteLength is %d but the data has %d bytes", b.length, len(data))
	}
	d.bufCache[i] = data[:b.length]
	return d.bufCache[i], nil
}

// uriData returns the bytes a uri names: a data: URI's content or a file
// beside the glTF file.
func (d *gltfDoc) uriData(uri string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(uri, "data:"); ok {
		meta, payload, ok := strings.Cut(rest, ",")
		if !ok {
			return nil, fmt.Errorf("malformed data: URI (no comma)")
		}
		if !strings.HasSuffix(meta, ";base64") {
			s, err := url.PathUnescape(payload)
			if err != nil {
				return nil, fmt.Errorf("data: URI: %v", err)
			}
			return []byte(s), nil
		}
		out, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return nil, fmt.Errorf("data: URI: malformed base64: %v", err)
		}
		return out, nil
	}
	if strings.Contains(uri, "://") {
		return nil, fmt.Errorf("%q: only files beside the glTF file and data: URIs can be read", uri)
	}
	ref, err := url.PathUnescape(uri)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", uri, err)
	}
	data, err := d.src.read(resolveRef(d.file, ref))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", ref, err)
	}
	return data, nil
}

// viewData returns the bytes of bufferView i.
func (d *gltfDoc) viewData(i int) ([]byte, error) {
	w := &d.views[i]
	buf, err := d.buffer(w.buffer)
	if err != nil {
		return nil, err
	}
	return buf[w.offset : w.offset+w.length], nil // checked against byteLength when read
}

// component reads one component at p as a float64.
func component(p []byte, comp int, normalized bool) float64 {
	switch comp {
	case gltfFloat:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(p)))
	case gltfUByte:
		if normalized {
			return float64(p[0]) / 255
		}
		return float64(p[0])
	case gltfByte:
		if normalized {
			return max(float64(int8(p[0]))/127, -1)
		}
		return float64(int8(p[0]))
	case gltfUShort:
		v := binary.LittleEndian.Uint16(p)
		if normalized {
			return float64(v) / 65535
		}
		return float64(v)
	case gltfShort:
		v := int16(binary.LittleEndian.Uint16(p))
		if normalized {
			return max(float64(v)/32767, -1)
		}
		return float64(v)
	case gltfUInt:
		v := binary.LittleEndian.Uint32(p)
		if normalized {
			return float64(v) / 4294967295
		}
		return float64(v)
	}
	return 0
}

// floats returns the elements of accessor i (ncomp numbers each), which
// where (the JSON path of the reference, for errors) needs as one of types.
func (d *gltfDoc) accessorFloats(i int, where string, types ...string) ([]float64, int, error) {
	a := &d.accessors[i]
	if !slices.Contains(types, a.typ) {
		return nil, 0, loadErr(d.file, where, "accessor %d is %s, expected %s", i, a.typ, strings.Join(types, " or "))
	}
	out := make([]float64, a.count*a.ncomp)
	csize := componentSize(a.comp)
	if a.view >= 0 {
		data, err := d.viewData(a.view)
		if err != nil {
			return nil, 0, err
		}
		stride := d.views[a.view].stride
		if stride == 0 {
			stride = csize * a.ncomp
		}
		for e := range a.count {
			p := data[a.offset+int64(e*stride):]
			for c := range a.ncomp {
				out[e*a.ncomp+c] = component(p[c*csize:], a.comp, a.normalized)
			}
		}
	}
	if s := a.sparse; s != nil {
		idx, err := d.viewData(s.idxView)
		if err != nil {
			return nil, 0, err
		}
		val, err := d.viewData(s.valView)
		if err != nil {
			return nil, 0, err
		}
		isz := componentSize(s.idxComp)
		prev := -1
		for k := range s.count {
			e := int(component(idx[s.idxOffset+int64(k*isz):], s.idxComp, false))
			if e >= a.count || e <= prev {
				return nil, 0, loadErr(d.file, fmt.Sprintf("accessors[%d].sparse.indices", i), "index %d (entry %d) is out of order or past the accessor's %d elements", e, k, a.count)
			}
			prev = e
			p := val[s.valOffset+int64(k*csize*a.ncomp):]
			for c := range a.ncomp {
				out[e*a.ncomp+c] = component(p[c*csize:], a.comp, a.normalized)
			}
		}
	}
	for k, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, loadErr(d.file, where, "accessor %d: element %d is not a finite number (%v)", i, k/a.ncomp, v)
		}
	}
	return out, a.ncomp, nil
}

// accessorIndices returns the elements of a SCALAR accessor of unsigned
// integers, each checked to be below n.
func (d *gltfDoc) accessorIndices(i int, where string, n int) ([]uint32, error) {
	a := &d.accessors[i]
	if a.typ != "SCALAR" || (a.comp != gltfUByte && a.comp != gltfUShort && a.comp != gltfUInt) || a.normalized {
		return nil, loadErr(d.file, where, "accessor %d is %s of component type %d, expected SCALAR of 5121, 5123 or 5125 (unsigned integers)", i, a.typ, a.comp)
	}
	f, _, err := d.accessorFloats(i, where, "SCALAR")
	if err != nil {
		return nil, err
	}
	out := make([]uint32, len(f))
	for k, v := range f {
		if v >= float64(n) {
			return nil, loadErr(d.file, where, "accessor %d: index %v (element %d) is past the %d vertices", i, v, k, n)
		}
		out[k] = uint32(v)
	}
	return out, nil
}

// imageData returns the encoded bytes of image i and a name for it.
func (d *gltfDoc) imageData(i int) ([]byte, string, error) {
	im := &d.images[i]
	where := fmt.Sprintf("images[%d]", i)
	if im.view >= 0 {
		data, err := d.viewData(im.view)
		if err != nil {
			return nil, "", err
		}
		return data, fmt.Sprintf("%s#images[%d]", d.file, i), nil
	}
	data, err := d.uriData(im.uri)
	if err != nil {
		return nil, "", &LoadError{File: d.file, Where: where + ".uri", Err: err}
	}
	name := fmt.Sprintf("%s#images[%d]", d.file, i)
	if !strings.HasPrefix(im.uri, "data:") {
		if ref, err := url.PathUnescape(im.uri); err == nil {
			name = resolveRef(d.file, ref)
		}
	}
	return data, name, nil
}

// isPNGOrJPEG reports whether data starts like a PNG or a JPEG file.
func isPNGOrJPEG(data []byte) bool {
	return bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF})
}
