package render

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"slices"
	"strconv"
	"strings"
)

// This file places a glTF document in a scene: the default scene's node
// hierarchy walked with its transforms composed, every mesh instance's
// triangles, the metallic-roughness materials and their textures, the
// punctual lights and the cameras.

// affine is an affine transform: x ↦ m·x + t.
type affine struct {
	m mat3
	t Vec
}

func (a affine) apply(p Vec) Vec { return a.m.apply(p).Add(a.t) }

// mul returns a∘b: b first, then a.
func (a affine) mul(b affine) affine { return affine{m: a.m.mul(b.m), t: a.m.apply(b.t).Add(a.t)} }

// trs returns translation × rotation (unit quaternion x, y, z, w) × scale.
func trs(t Vec, q [4]float64, s Vec) affine {
	x, y, z, w := q[0], q[1], q[2], q[3]
	r := mat3{
		{1 - 2*(y*y+z*z), 2 * (x*y - z*w), 2 * (x*z + y*w)},
		{2 * (x*y + z*w), 1 - 2*(x*x+z*z), 2 * (y*z - x*w)},
		{2 * (x*z - y*w), 2 * (y*z + x*w), 1 - 2*(x*x+y*y)},
	}
	return affine{m: r.mul(mat3{{s.X, 0, 0}, {0, s.Y, 0}, {0, 0, s.Z}}), t: t}
}

// det returns the determinant of m.
func (m *mat3) det() float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// cofactor returns det(m)·m⁻ᵀ, which maps normals as m maps points (up to
// the sign and length of det).
func (m *mat3) cofactor() mat3 {
	return mat3{
		{m[1][1]*m[2][2] - m[1][2]*m[2][1], m[1][2]*m[2][0] - m[1][0]*m[2][2], m[1][0]*m[2][1] - m[1][1]*m[2][0]},
		{m[0][2]*m[2][1] - m[0][1]*m[2][2], m[0][0]*m[2][2] - m[0][2]*m[2][0], m[0][1]*m[2][0] - m[0][0]*m[2][1]},
		{m[0][1]*m[1][2] - m[0][2]*m[1][1], m[0][2]*m[1][0] - m[0][0]*m[1][2], m[0][0]*m[1][1] - m[0][1]*m[1][0]},
	}
}

// gltfPlaced is a glTF object of a scene file once placed: what a scene
// camera that refers to it needs.
type gltfPlaced struct {
	doc     *gltfDoc
	cameras []placedCamera // in the order the nodes were walked
	lo, hi  Vec            // bounds of its triangles
	tris    int
	obj     int         // its index among the animation's objects; -1: nothing of it moves
	ao      *animObject // that object, or nil
}

// placedCamera is a glTF camera at its node's world transform.
type placedCamera struct {
	cam  *gltfCamera
	xf   affine
	node int
}

// gltfCache holds, per glTF document, what several instances share.
type gltfCache struct {
	mats  map[int]int32 // glTF material (-1: the default) → scene material
	prims map[[2]int]*primData
}

// primData is a primitive's vertex data, decoded once for every instance.
type primData struct {
	pos, nrm, tan []Vec
	tsign         []float64
	uv            [][2]float64 // v up
	tris          [][3]uint32
}

// gltfObject loads a "gltf" object of the scene file: the file's default
// scene placed by translate, rotate and scale.
func (p *sceneParser) gltfObject(o *jobj, index int) error {
	file, rest, keys := p.placedFile(o, "a .gltf or .glb file name, relative to the scene file")
	if err := p.fileDone(o, file); err != nil {
		return err
	}
	name := resolveRef(p.main, file)
	doc, err := parseGLTF(p.src, name, p.lim)
	if err != nil {
		var le *LoadError
		if asLoadError(err, &le) && le.File == name && le.Where == "" {
			// The file itself is unreadable: say who names it.
			return &LoadError{File: p.main, Where: o.at("file"), Err: fmt.Errorf("glTF file %q: %w", file, le.Err)}
		}
		return err
	}
	pl, err := p.placeGLTF(doc, rest, keys)
	if err != nil {
		return err
	}
	if p.gltfObjects == nil {
		p.gltfObjects = map[int]*gltfPlaced{}
	}
	p.gltfObjects[index] = pl
	if len(doc.ignored) > 0 {
		p.sd.warnings = append(p.sd.warnings, fmt.Sprintf("%s: ignored: %s", name, strings.Join(doc.ignored, "; ")))
	}
	return nil
}

// roots returns the root nodes of the document's default scene.
func (d *gltfDoc) roots() []int {
	switch {
	case d.scene >= 0:
		return d.scenes[d.scene].nodes
	case len(d.scenes) > 0:
		return d.scenes[0].nodes
	}
	// No scene: every node without a parent, as viewers show such files.
	child := make([]bool, len(d.nodes))
	for _, n := range d.nodes {
		for _, c := range n.children {
			child[c] = true
		}
	}
	var roots []int
	for i := range d.nodes {
		if !child[i] {
			roots = append(roots, i)
		}
	}
	return roots
}

// animObject returns what moves in the glTF document placed by rest and
// keys: nil when nothing does (no keyframes, no animation channels).
func (d *gltfDoc) animObject(rest trsXf, keys *trsKeys) *animObject {
	if keys == nil && len(d.channels) == 0 {
		return nil
	}
	ao := &animObject{rest: rest, keys: keys, nodes: d.nodes, roots: d.roots(),
		chans: make([][]gltfChannel, len(d.nodes)), moving: make([]bool, len(d.nodes))}
	for _, ch := range d.channels {
		ao.chans[ch.node] = append(ao.chans[ch.node], ch)
	}
	var mark func(n int, moving bool)
	mark = func(n int, moving bool) {
		ao.moving[n] = moving || keys != nil || len(ao.chans[n]) > 0
		for _, c := range d.nodes[n].children {
			mark(c, ao.moving[n])
		}
	}
	for _, n := range ao.roots {
		mark(n, false)
	}
	return ao
}

// placeGLTF adds the default scene of doc, placed by the object's
// transform rest (its keyframes, when it has them, move it at frames).
func (p *sceneParser) placeGLTF(doc *gltfDoc, rest trsXf, keys *trsKeys) (*gltfPlaced, error) {
	pl := &gltfPlaced{doc: doc, obj: -1}
	pl.lo, pl.hi = emptyBounds()
	if pl.ao = doc.animObject(rest, keys); pl.ao != nil {
		pl.obj = p.keyedObject(pl.ao)
	}
	moving := func(n int) bool { return pl.ao != nil && pl.ao.moving[n] }
	cache := &gltfCache{mats: map[int]int32{}, prims: map[[2]int]*primData{}}
	var walk func(n int, parent affine) error
	walk = func(n int, parent affine) error {
		nd := &doc.nodes[n]
		world := parent.mul(nd.local())
		if nd.mesh >= 0 {
			prims, err := p.meshPrims(doc, cache, nd.mesh)
			if err != nil {
				return err
			}
			lo := len(p.sd.info)
			tris, err := placePrims(p.sd, doc.file, prims, world, &pl.lo, &pl.hi)
			if err != nil {
				return err
			}
			pl.tris += tris
			if moving(n) {
				file := doc.file
				a := p.anim()
				a.movers = append(a.movers, mover{obj: pl.obj, node: n, lo: lo, hi: len(p.sd.info),
					place: func(sd *sceneData, x *frameXf) error {
						var lo, hi Vec
						_, err := placePrims(sd, file, prims, x.worlds[n], &lo, &hi)
						return err
					}})
			}
		}
		if nd.camera >= 0 {
			pl.cameras = append(pl.cameras, placedCamera{cam: &doc.cameras[nd.camera], xf: world, node: n})
		}
		if nd.light >= 0 {
			l := &doc.lights[nd.light]
			pt, ok := placedLight(l, world)
			if ok {
				p.sd.punctual = append(p.sd.punctual, pt)
			}
			a := p.anim()
			if moving(n) {
				a.lights = append(a.lights, lightSlot{obj: pl.obj, node: n, l: l})
				a.lightsMove = true
			} else if ok {
				a.lights = append(a.lights, lightSlot{still: pt, obj: -1})
			}
		}
		for _, c := range nd.children {
			if err := walk(c, world); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range doc.roots() {
		if err := walk(n, rest.affine()); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// placedLight returns a KHR_lights_punctual light at its node's transform:
// at the node's origin, shining along its -Z axis; false for a degenerate
// transform, where the light points nowhere.
func placedLight(l *gltfLight, world affine) (punctualLight, bool) {
	pl := punctualLight{
		pos:       world.apply(Vec{}),
		dir:       world.m.apply(Vec{Z: -1}).Norm(),
		intensity: l.color.Scale(l.intensity / lumensPerWatt),
	}
	switch l.typ {
	case "spot":
		pl.kind = lightSpot
		pl.scale, pl.offset, pl.cosOuter = newSpot(l.inner, l.outer)
	case "directional":
		pl.kind = lightDirectional
	}
	if pl.dir.IsZero() || !pl.dir.finite() || !pl.pos.finite() {
		return pl, false
	}
	return pl, true
}

// meshPrim is a primitive of a glTF mesh, decoded, with its scene material.
type meshPrim struct {
	pd    *primData
	mat   int32
	where string // JSON path, for errors
}

// meshPrims decodes the primitives of mesh mi (once for every instance),
// counts their triangles against MaxTriangles, and converts their
// materials.
func (p *sceneParser) meshPrims(doc *gltfDoc, cache *gltfCache, mi int) ([]meshPrim, error) {
	mesh := &doc.meshes[mi]
	var out []meshPrim
	for k := range mesh.prims {
		pr := &mesh.prims[k]
		pd, err := p.primitive(doc, cache, mi, k)
		if err != nil {
			return nil, err
		}
		if pd == nil {
			continue
		}
		if p.sd.triangles += len(pd.tris); p.sd.triangles > p.lim.MaxTriangles {
			return nil, &LoadError{File: doc.file, Where: pr.where, Err: &LimitError{Limit: "MaxTriangles", What: "triangles", Value: int64(p.sd.triangles), Max: int64(p.lim.MaxTriangles)}}
		}
		mat, err := p.gltfMaterial(doc, cache, pr.material)
		if err != nil {
			return nil, err
		}
		out = append(out, meshPrim{pd: pd, mat: mat, where: pr.where})
	}
	return out, nil
}

// placePrims adds the triangles of a mesh's primitives (of the glTF file
// named file) at transform world to sd, widening the bounds *lo, *hi by
// their vertices. It returns the number of triangles placed.
func placePrims(sd *sceneData, file string, prims []meshPrim, world affine, lo, hi *Vec) (int, error) {
	nm := world.m.cofactor()
	flip := world.m.det() < 0 // the winding turns: keep the front side
	if world.m.det() < 0 {
		nm = mat3{{-nm[0][0], -nm[0][1], -nm[0][2]}, {-nm[1][0], -nm[1][1], -nm[1][2]}, {-nm[2][0], -nm[2][1], -nm[2][2]}}
	}
	tris := 0
	for _, mp := range prims {
		pd := mp.pd
		pos := make([]Vec, len(pd.pos))
		for i, v := range pd.pos {
			pos[i] = world.apply(v)
			if !pos[i].finite() {
				return tris, loadErr(file, mp.where+".attributes.POSITION", "vertex %d is not finite after its node's transform", i)
			}
			*lo, *hi = lo.Min(pos[i]), hi.Max(pos[i])
		}
		var nrm, tan []Vec
		if pd.nrm != nil {
			nrm = make([]Vec, len(pd.nrm))
			for i, n := range pd.nrm {
				nrm[i] = nm.apply(n).Norm()
			}
		}
		if pd.tan != nil {
			tan = make([]Vec, len(pd.tan))
			for i, t := range pd.tan {
				tan[i] = world.m.apply(t).Norm()
			}
		}
		md := meshData{pos: pos, nrm: nrm, uv: pd.uv, tan: tan, mat: mp.mat, fixN: nrm != nil}
		if tan != nil {
			md.tsign = pd.tsign
			if flip {
				md.tsign = make([]float64, len(pd.tsign))
				for i, sg := range pd.tsign {
					md.tsign[i] = -sg
				}
			}
		}
		md.tris = pd.tris
		if flip {
			md.tris = make([][3]uint32, len(pd.tris))
			for i, t := range pd.tris {
				md.tris[i] = [3]uint32{t[0], t[2], t[1]}
			}
		}
		sd.addMesh(&md)
		tris += len(pd.tris)
	}
	return tris, nil
}

// primitive decodes primitive k of mesh mi (once for every instance). It
// returns nil for a primitive without positions, which has nothing to draw.
func (p *sceneParser) primitive(doc *gltfDoc, cache *gltfCache, mi, k int) (*primData, error) {
	key := [2]int{mi, k}
	if pd, ok := cache.prims[key]; ok {
		return pd, nil
	}
	pr := &doc.meshes[mi].prims[k]
	at := func(a string) string { return pr.where + ".attributes." + a }
	if pr.mode < 4 || pr.mode > 6 {
		modes := map[int]string{0: "points", 1: "lines", 2: "line loop", 3: "line strip"}
		return nil, loadErr(doc.file, pr.where+".mode", "mode %d (%s): only triangles (modes 4, 5 and 6) can be rendered", pr.mode, modes[pr.mode])
	}
	pa, ok := pr.attrs["POSITION"]
	if !ok {
		doc.ignore("primitives without POSITION")
		cache.prims[key] = nil
		return nil, nil
	}
	pd := &primData{}
	f, _, err := doc.accessorFloats(pa, at("POSITION"), "VEC3")
	if err != nil {
		return nil, err
	}
	nv := len(f) / 3
	if nv > 3*p.lim.MaxTriangles+2 {
		return nil, &LoadError{File: doc.file, Where: at("POSITION"), Err: &LimitError{Limit: "MaxTriangles", What: "vertices (3 per triangle at most)", Value: int64(nv), Max: int64(3*p.lim.MaxTriangles + 2)}}
	}
	pd.pos = vecs(f)
	same := func(a string, n int) error {
		if n != nv {
			return loadErr(doc.file, at(a), "accessor %d has %d elements, POSITION has %d", pr.attrs[a], n, nv)
		}
		return nil
	}
	if na, ok := pr.attrs["NORMAL"]; ok {
		if f, _, err = doc.accessorFloats(na, at("NORMAL"), "VEC3"); err != nil {
			return nil, err
		}
		if err := same("NORMAL", len(f)/3); err != nil {
			return nil, err
		}
		pd.nrm = vecs(f)
		for i := range pd.nrm {
			pd.nrm[i] = pd.nrm[i].Norm()
		}
	}
	if ta, ok := pr.attrs["TEXCOORD_0"]; ok {
		if f, _, err = doc.accessorFloats(ta, at("TEXCOORD_0"), "VEC2"); err != nil {
			return nil, err
		}
		if err := same("TEXCOORD_0", len(f)/2); err != nil {
			return nil, err
		}
		pd.uv = make([][2]float64, nv)
		for i := range pd.uv {
			pd.uv[i] = [2]float64{f[2*i], 1 - f[2*i+1]}
		}
	}
	var idx []uint32
	if pr.indices >= 0 {
		a := &doc.accessors[pr.indices]
		if a.count > 3*p.lim.MaxTriangles+2 {
			return nil, &LoadError{File: doc.file, Where: pr.where + ".indices", Err: &LimitError{Limit: "MaxTriangles", What: "indices (3 per triangle at most)", Value: int64(a.count), Max: int64(3*p.lim.MaxTriangles + 2)}}
		}
		if idx, err = doc.accessorIndices(pr.indices, pr.where+".indices", nv); err != nil {
			return nil, err
		}
	} else {
		idx = make([]uint32, nv)
		for i := range idx {
			idx[i] = uint32(i)
		}
	}
	switch pr.mode {
	case 4:
		for i := 0; i+2 < len(idx); i += 3 {
			pd.tris = append(pd.tris, [3]uint32{idx[i], idx[i+1], idx[i+2]})
		}
	case 5: // strip: every other triangle turns the other way
		for i := 0; i+2 < len(idx); i++ {
			if i%2 == 0 {
				pd.tris = append(pd.tris, [3]uint32{idx[i], idx[i+1], idx[i+2]})
			} else {
				pd.tris = append(pd.tris, [3]uint32{idx[i+1], idx[i], idx[i+2]})
			}
		}
	case 6: // fan
		for i := 1; i+1 < len(idx); i++ {
			pd.tris = append(pd.tris, [3]uint32{idx[i], idx[i+1], idx[0]})
		}
	}
	needTan := pr.material >= 0 && doc.materials[pr.material].normalTex.tex >= 0
	if ta, ok := pr.attrs["TANGENT"]; ok && needTan && pd.nrm != nil {
		if f, _, err = doc.accessorFloats(ta, at("TANGENT"), "VEC4"); err != nil {
			return nil, err
		}
		if err := same("TANGENT", len(f)/4); err != nil {
			return nil, err
		}
		pd.tan = make([]Vec, nv)
		pd.tsign = make([]float64, nv)
		for i := range pd.tan {
			pd.tan[i] = Vec{X: f[4*i], Y: f[4*i+1], Z: f[4*i+2]}
			pd.tsign[i] = math.Copysign(1, f[4*i+3])
		}
	} else if needTan && pd.nrm != nil && pd.uv != nil {
		pd.generateTangents()
	}
	cache.prims[key] = pd
	return pd, nil
}

func vecs(f []float64) []Vec {
	out := make([]Vec, len(f)/3)
	for i := range out {
		out[i] = Vec{X: f[3*i], Y: f[3*i+1], Z: f[3*i+2]}
	}
	return out
}

// generateTangents computes vertex tangents for a normal map from the
// texture coordinates, as MikkTSpace does in the common case: per triangle
// the direction of increasing u, summed at each vertex, made perpendicular
// to the vertex normal; the bitangent's sign from the direction of
// increasing v.
func (pd *primData) generateTangents() {
	n := len(pd.pos)
	tu, tv := make([]Vec, n), make([]Vec, n)
	for _, t := range pd.tris {
		p0, p1, p2 := pd.pos[t[0]], pd.pos[t[1]], pd.pos[t[2]]
		a, b, c := pd.uv[t[0]], pd.uv[t[1]], pd.uv[t[2]]
		e1, e2 := p1.Sub(p0), p2.Sub(p0)
		du1, dv1, du2, dv2 := b[0]-a[0], b[1]-a[1], c[0]-a[0], c[1]-a[1]
		det := du1*dv2 - du2*dv1
		if det == 0 || math.IsNaN(det) {
			continue
		}
		r := 1 / det
		su := e1.Scale(dv2 * r).Sub(e2.Scale(dv1 * r))
		sv := e2.Scale(du1 * r).Sub(e1.Scale(du2 * r))
		for _, v := range t {
			tu[v], tv[v] = tu[v].Add(su), tv[v].Add(sv)
		}
	}
	pd.tan = make([]Vec, n)
	pd.tsign = make([]float64, n)
	for i := range pd.tan {
		nn := pd.nrm[i]
		t := tu[i].Sub(nn.Scale(nn.Dot(tu[i]))).Norm()
		if t.IsZero() || !t.finite() {
			t = newFrame(nn).t // no texture coordinates to follow: any tangent
		}
		pd.tan[i] = t
		pd.tsign[i] = 1
		if nn.Cross(t).Dot(tv[i]) < 0 {
			pd.tsign[i] = -1
		}
	}
}

// gltfMaterial returns the scene material of glTF material i (-1: the
// default material), converting it on first use.
func (p *sceneParser) gltfMaterial(doc *gltfDoc, cache *gltfCache, i int) (int32, error) {
	if k, ok := cache.mats[i]; ok {
		return k, nil
	}
	gm := gltfMaterial{base: [4]float64{1, 1, 1, 1}, metallic: 1, roughness: 1, ior: 1.5, strength: 1,
		baseTex: gltfTexRef{tex: -1}, mrTex: gltfTexRef{tex: -1}, normalTex: gltfTexRef{tex: -1}, emTex: gltfTexRef{tex: -1}}
	name := doc.file + ":default material"
	where := ""
	if i >= 0 {
		gm = doc.materials[i]
		name = doc.file + ":" + gm.name
		where = fmt.Sprintf("materials[%d]", i)
		if gm.name == "" {
			name = doc.file + ":" + where
		}
	}
	pm := &pbrMaterial{
		base:         Vec{X: gm.base[0], Y: gm.base[1], Z: gm.base[2]},
		opacity:      gm.base[3],
		metallic:     gm.metallic,
		roughness:    gm.roughness,
		normScale:    gm.normalTex.scale,
		cutoff:       -1,
		transmission: gm.transmission,
		ior:          gm.ior,
	}
	if gm.alphaMode != alphaOpaque {
		pm.cutoff = gm.cutoff
		p.sd.cutouts = true
	}
	pm.f0 = sq((pm.ior - 1) / (pm.ior + 1))
	var err error
	if pm.baseTex, err = p.gltfTexture(doc, gm.baseTex, where+".pbrMetallicRoughness.baseColorTexture"); err != nil {
		return -1, err
	}
	if pm.mrTex, err = p.gltfTexture(doc, gm.mrTex, where+".pbrMetallicRoughness.metallicRoughnessTexture"); err != nil {
		return -1, err
	}
	if pm.normTex, err = p.gltfTexture(doc, gm.normalTex, where+".normalTexture"); err != nil {
		return -1, err
	}
	if pm.emTex, err = p.gltfTexture(doc, gm.emTex, where+".emissiveTexture"); err != nil {
		return -1, err
	}
	m := material{name: name, kind: matPBR, tex: -1, pbr: pm, twoSided: gm.doubleSided,
		emission: gm.emissive.Scale(gm.strength)}
	k := int32(len(p.sd.materials))
	p.sd.materials = append(p.sd.materials, m)
	cache.mats[i] = k
	return k, nil
}

func sq(x float64) float64 { return x * x }

// gltfTexture resolves a material's texture reference into the scene's
// images (each image decoded once).
func (p *sceneParser) gltfTexture(doc *gltfDoc, ref gltfTexRef, where string) (texRef, error) {
	out := noTex
	if ref.tex < 0 {
		return out, nil
	}
	tx := &doc.textures[ref.tex]
	if tx.source < 0 {
		return out, nil // no image tessera can read; ignored (said in the warning)
	}
	if tx.sampler >= 0 {
		s := &doc.samplers[tx.sampler]
		out.wrapS, out.wrapT = glWrap(s.wrapS), glWrap(s.wrapT)
		out.nearest = s.mag == 9728
	}
	out.xf = ref.xf
	data, name, err := doc.imageData(tx.source)
	if err != nil {
		return out, err
	}
	if i, ok := p.imgIndex[name]; ok {
		out.img = i
		return out, nil
	}
	img, err := decodeImage8(name, data, p.lim)
	if err != nil {
		return out, &LoadError{File: doc.file, Where: fmt.Sprintf("images[%d]", tx.source), Err: fmt.Errorf("%s: %w", where, err)}
	}
	if p.imgIndex == nil {
		p.imgIndex = map[string]int32{}
	}
	out.img = int32(len(p.sd.images))
	p.imgIndex[name] = out.img
	p.sd.images = append(p.sd.images, img)
	return out, nil
}

func glWrap(w int) wrapMode {
	switch w {
	case 33071:
		return wrapClamp
	case 33648:
		return wrapMirror
	}
	return wrapRepeat
}

// decodeImage8 decodes a PNG or JPEG image into 8-bit RGBA, not
// premultiplied.
func decodeImage8(name string, data []byte, lim Limits) (*texImage, error) {
	if !isPNGOrJPEG(data) {
		return nil, fmt.Errorf("not a PNG or JPEG image")
	}
	img, err := decodeImage(data, lim)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	nrgba, ok := img.(*image.NRGBA)
	if !ok || nrgba.Stride != 4*b.Dx() {
		nrgba = image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(nrgba, nrgba.Bounds(), img, b.Min, draw.Src)
	}
	t := &texImage{name: name, w: b.Dx(), h: b.Dy(), pix: nrgba.Pix[:4*b.Dx()*b.Dy()]}
	for i := 3; i < len(t.pix); i += 4 {
		if t.pix[i] != 255 {
			t.alpha = true
			break
		}
	}
	return t, nil
}

// resolveCamera turns a camera that refers to a glTF object ("camera":
// {"object": I, "name": N}) into the scene's camera, once the objects are
// loaded. With no name, the first perspective camera of the object's
// scene is taken, or, when it has none, one that frames its triangles.
func (p *sceneParser) resolveCamera() error {
	ref := p.camRef
	if ref == nil {
		return nil
	}
	pl := p.gltfObjects[ref.object]
	if pl == nil {
		return loadErr(p.main, ref.where+".object", "objects[%d] is not a glTF object", ref.object)
	}
	// Errors name the scene file's camera, or for a glTF file rendered on
	// its own, the glTF file.
	file, where, what := p.main, ref.where+".name", fmt.Sprintf("objects[%d] (%s)", ref.object, pl.doc.file)
	if strings.HasSuffix(p.main, directSuffix) {
		file, where, what = pl.doc.file, "", "the file"
	}
	c := &p.sd.camera
	var pc *placedCamera
	var names []string
	for i := range pl.cameras {
		cam := pl.cameras[i].cam
		names = append(names, strconv.Quote(cam.name))
		if ref.name != "" && cam.name == ref.name {
			if !cam.perspective {
				return loadErr(file, where, "camera %q of %s is orthographic: only perspective cameras are supported", ref.name, what)
			}
			pc = &pl.cameras[i]
			break
		}
		if ref.name == "" && cam.perspective && pc == nil {
			pc = &pl.cameras[i]
		}
	}
	if ref.name != "" && pc == nil {
		have := "none"
		if len(names) > 0 {
			slices.Sort(names)
			have = strings.Join(slices.Compact(names), ", ")
		}
		return loadErr(file, where, "%s has no camera named %q (its cameras: %s)", what, ref.name, have)
	}
	aspect := 0.0
	if pc != nil {
		if err := c.fromNode(pc.cam, pc.xf); err != nil {
			return loadErr(pl.doc.file, "", "%v", err)
		}
		aspect = pc.cam.aspect
		if pl.ao != nil && pl.ao.moving[pc.node] {
			p.anim().camera = &camAnim{base: *c, obj: pl.obj, node: pc.node, cam: pc.cam}
		}
	} else {
		p.frame(pl)
		aspect = 4.0 / 3
	}
	// The image size follows the camera's aspect where the scene gives
	// only one side, or none.
	s := &p.sd.settings
	switch {
	case p.imgW && p.imgH:
	case aspect == 0:
	case p.imgW:
		s.Height = max(1, min(p.lim.MaxImageSide, int(math.Round(float64(s.Width)/aspect))))
	case p.imgH:
		s.Width = max(1, min(p.lim.MaxImageSide, int(math.Round(float64(s.Height)*aspect))))
	default:
		s.Width = 640
		s.Height = max(1, min(p.lim.MaxImageSide, int(math.Round(640/aspect))))
	}
	return nil
}

// frame points the camera at a glTF object without a camera of its own:
// from the front (+Z) and a little above, far enough for its bounds to
// fit a 40° field of view.
func (p *sceneParser) frame(pl *gltfPlaced) {
	c := &p.sd.camera
	c.fov, c.up = 40, Vec{Y: 1}
	if pl.tris == 0 || !pl.lo.finite() || !pl.hi.finite() {
		c.from, c.to = Vec{Z: 5}, Vec{}
		return
	}
	center := pl.lo.Add(pl.hi).Scale(0.5)
	radius := max(pl.hi.Sub(pl.lo).Len()/2, 1e-9)
	dist := radius / math.Sin(20*math.Pi/180) * 1.1
	dir := Vec{X: 0, Y: 0.35, Z: 1}.Norm()
	c.from, c.to = center.AddScaled(dir, dist), center
}
