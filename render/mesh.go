package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// mat3 is a 3x3 matrix, row-major.
type mat3 [3][3]float64

func (m *mat3) apply(v Vec) Vec {
	return Vec{
		X: m[0][0]*v.X + m[0][1]*v.Y + m[0][2]*v.Z,
		Y: m[1][0]*v.X + m[1][1]*v.Y + m[1][2]*v.Z,
		Z: m[2][0]*v.X + m[2][1]*v.Y + m[2][2]*v.Z,
	}
}

func (a mat3) mul(b mat3) mat3 {
	var c mat3
	for i := range 3 {
		for j := range 3 {
			c[i][j] = a[i][0]*b[0][j] + a[i][1]*b[1][j] + a[i][2]*b[2][j]
		}
	}
	return c
}

// rotation returns the rotation by the Euler angles r (degrees), about X
// first, then Y, then Z.
func rotation(r Vec) mat3 {
	sx, cx := math.Sincos(r.X * math.Pi / 180)
	sy, cy := math.Sincos(r.Y * math.Pi / 180)
	sz, cz := math.Sincos(r.Z * math.Pi / 180)
	rx := mat3{{1, 0, 0}, {0, cx, -sx}, {0, sx, cx}}
	ry := mat3{{cy, 0, sy}, {0, 1, 0}, {-sy, 0, cy}}
	rz := mat3{{cz, -sz, 0}, {sz, cz, 0}, {0, 0, 1}}
	return rz.mul(ry).mul(rx)
}

// meshScale reads "scale": a number or an array of three, all non-zero.
func (p *sceneParser) meshScale(o *jobj) Vec {
	v, ok := o.m["scale"]
	if !ok {
		o.get("scale")
		return white
	}
	var s Vec
	if _, isNum := v.(json.Number); isNum {
		k := o.num("scale", 1)
		s = Vec{X: k, Y: k, Z: k}
	} else {
		s = o.vec("scale", white)
	}
	if p.r.err == nil && (s.X == 0 || s.Y == 0 || s.Z == 0) {
		p.r.fail(o.at("scale"), "expected a non-zero scale, got [%v, %v, %v]", s.X, s.Y, s.Z)
	}
	return s
}

// placedFile reads what the objects made of a file (mesh, gltf) share: the
// required "file" (what says what it should be), the transform,
// "translate", "rotate" and "scale", and its keyframes (nil: none).
func (p *sceneParser) placedFile(o *jobj, what string) (file string, xf trsXf, keys *trsKeys) {
	o.require("file", what)
	file = o.str("file", "")
	xf.translate = o.vec("translate", Vec{})
	xf.rotate = o.vec("rotate", Vec{})
	xf.scale = p.meshScale(o)
	keys = p.objectKeys(o)
	return file, xf, keys
}

// keyedObject registers an object with keyframes (or a glTF object with
// animations) as something that moves, and returns its index among the
// animation's objects.
func (p *sceneParser) keyedObject(ao *animObject) int {
	a := p.anim()
	a.objects = append(a.objects, ao)
	return len(a.objects) - 1
}

// fileDone refuses the object's unknown fields and an empty file name, and
// returns the first error so far.
func (p *sceneParser) fileDone(o *jobj, file string) error {
	o.done()
	if p.r.err == nil && file == "" {
		p.r.fail(o.at("file"), "expected a file name")
	}
	return p.r.err
}

// mesh loads a "mesh" object: its OBJ file, the MTL files and textures the
// OBJ references (unless the object names a material), and its transform.
func (p *sceneParser) mesh(o *jobj) error {
	file, xf, keys := p.placedFile(o, "an OBJ file name, relative to the scene file")
	hasMat := o.has("material")
	mat := int32(-1)
	if hasMat {
		mat = p.materialRef(o, "material")
	} else {
		o.get("material")
	}
	smooth := o.boolean("smooth", false)
	if err := p.fileDone(o, file); err != nil {
		return err
	}
	name := resolveRef(p.main, file)
	data, err := p.src.read(name)
	if err != nil {
		return &LoadError{File: p.main, Where: o.at("file"), Err: fmt.Errorf("mesh %q: %w", file, err)}
	}
	m, err := parseOBJ(name, data, p.lim.MaxTriangles, &p.sd.triangles)
	if err != nil {
		return err
	}

	// Materials by usemtl name, unless the object overrides them all.
	mats := make([]int32, len(m.mtlNames))
	if !hasMat {
		if err := p.objMaterials(name, m, mats); err != nil {
			return err
		}
	}
	om := &objPlacement{m: m, name: name, objPath: o.path, mat: mat, mats: mats, smooth: smooth}
	lo := len(p.sd.info)
	if err := om.place(p.sd, xf); err != nil {
		return err
	}
	if keys != nil {
		obj := p.keyedObject(&animObject{rest: xf, keys: keys})
		a := p.anim()
		a.movers = append(a.movers, mover{obj: obj, node: -1, lo: lo, hi: len(p.sd.info),
			place: func(sd *sceneData, x *frameXf) error { return om.place(sd, x.trs) }})
	}
	return nil
}

// objPlacement is an OBJ mesh and what a mesh object says of it, placed
// by a transform (once for the still, again at every frame when it moves).
type objPlacement struct {
	m       *objMesh
	name    string  // bundle name of the OBJ file
	objPath string  // JSON path of the object, for errors
	mat     int32   // the object's material for every face; -1: the faces' usemtl
	mats    []int32 // per usemtl name
	smooth  bool
}

// place adds the mesh's triangles at transform xf to sd.
func (om *objPlacement) place(sd *sceneData, x trsXf) error {
	m, name := om.m, om.name
	md := meshData{mat: om.mat}
	if om.mat < 0 && len(m.runs) > 0 {
		md.mats = make([]int32, 0, len(m.runs))
		md.runs = make([]int32, 0, len(m.runs))
		for r := range m.runs {
			if m.runs[r].mtl < 0 {
				return loadErr(name, "line "+strconv.Itoa(int(m.runs[r].line)), "f: face without a material: no usemtl comes before it and %s names no \"material\"", om.objPath)
			}
			md.runs = append(md.runs, m.runs[r].start)
			md.mats = append(md.mats, om.mats[m.runs[r].mtl])
		}
	}
	translate, rotate, scale := x.translate, x.rotate, x.scale
	rot := rotation(rotate)
	xf := rot.mul(mat3{{scale.X, 0, 0}, {0, scale.Y, 0}, {0, 0, scale.Z}})
	nxf := rot.mul(mat3{{1 / scale.X, 0, 0}, {0, 1 / scale.Y, 0}, {0, 0, 1 / scale.Z}})
	pos := make([]Vec, len(m.v))
	for i, v := range m.v {
		pos[i] = xf.apply(v).Add(translate)
		if !pos[i].finite() {
			return loadErr(name, "", "vertex %d is not finite after the transform of %s", i+1, om.objPath)
		}
	}
	// Smooth shading for meshes without normals: area-weighted vertex normals.
	var vnorm []Vec
	if om.smooth {
		vnorm = make([]Vec, len(pos))
		for _, t := range m.tv {
			a, b, c := pos[t[0]], pos[t[1]], pos[t[2]]
			cr := b.Sub(a).Cross(c.Sub(a))
			for _, k := range t {
				vnorm[k] = vnorm[k].Add(cr)
			}
		}
		for i := range vnorm {
			vnorm[i] = vnorm[i].Norm()
		}
	}
	md.pos, md.tris = pos, m.tv
	if m.tvt == nil {
		// Every corner is a vertex and nothing else: the mesh as parsed.
		md.nrm = vnorm
		sd.addMesh(&md)
		return nil
	}
	nrm := make([]Vec, len(m.vn))
	for i, n := range m.vn {
		nrm[i] = nxf.apply(n).Norm()
	}
	weldOBJ(m, &md, nrm, vnorm)
	sd.addMesh(&md)
	return nil
}

// weldOBJ gives md one vertex for each distinct (position, texture
// coordinate, normal) of the OBJ's corners, with the attributes beside it,
// and the triangles that index them, with which attributes each has: a
// corner without a normal (unless smooth gives one) or a texture
// coordinate leaves its triangle without them, as the file says.
func weldOBJ(m *objMesh, md *meshData, nrm, vnorm []Vec) {
	type key struct{ v, vt, vn int32 }
	// The first combination each position is used with, and a map for
	// the others (a seam of texture coordinates, a hard edge).
	first := make([]int32, len(m.v))
	for i := range first {
		first[i] = -1
	}
	var firstKey []key = make([]key, len(m.v))
	more := map[key]int32{}
	pos := make([]Vec, 0, len(m.v))
	var vn []Vec
	var vt [][2]float64
	if len(m.vn) > 0 || vnorm != nil {
		vn = make([]Vec, 0, len(m.v))
	}
	if len(m.vt) > 0 {
		vt = make([][2]float64, 0, len(m.v))
	}
	vertex := func(k key) uint32 {
		if i := first[k.v]; i >= 0 {
			if firstKey[k.v] == k {
				return uint32(i)
			}
			if j, ok := more[k]; ok {
				return uint32(j)
			}
		}
		i := int32(len(pos))
		if first[k.v] < 0 {
			first[k.v], firstKey[k.v] = i, k
		} else {
			more[k] = i
		}
		pos = append(pos, md.pos[k.v])
		if vn != nil {
			var n Vec
			switch {
			case k.vn >= 0:
				n = nrm[k.vn]
			case vnorm != nil:
				n = vnorm[k.v]
			}
			vn = append(vn, n)
		}
		if vt != nil {
			var t [2]float64
			if k.vt >= 0 {
				t = m.vt[k.vt]
			}
			vt = append(vt, t)
		}
		return uint32(i)
	}
	tris := make([][3]uint32, len(m.tv))
	md.attrs = make([]attrs, len(m.tv))
	for t, tv := range m.tv {
		a := hasN | hasUV
		for c := range 3 {
			k := key{int32(tv[c]), m.tvt[t][c], m.tvn[t][c]}
			if k.vn < 0 && vnorm == nil {
				a &^= hasN
			}
			if k.vt < 0 {
				a &^= hasUV
			}
			tris[t][c] = vertex(k)
		}
		md.attrs[t] = a
	}
	md.pos, md.nrm, md.uv, md.tris = pos, vn, vt, tris
}

// meshData is a mesh in world space, as every mesh loader (OBJ, glTF) hands
// it to addMesh: the one place that turns mesh triangles into primitives.
// The slices are the mesh's own: addMesh may keep them.
type meshData struct {
	pos   []Vec        // vertices
	nrm   []Vec        // unit vertex normals, or nil
	uv    [][2]float64 // texture coordinates, v up (OBJ's convention), or nil
	tan   []Vec        // unit vertex tangents (along increasing u), or nil
	tsign []float64    // the bitangent of a vertex is tsign * n×t, when tan
	tris  [][3]uint32  // vertex indices; the front side is the one (p1-p0)×(p2-p0) points to
	attrs []attrs      // the attributes (hasN, hasUV) each triangle has, or nil: all it has arrays for
	mat   int32        // the material of every triangle, unless runs
	runs  []int32      // the triangles from runs[k] on (to the next run) have material mats[k]
	mats  []int32      //
	fixN  bool         // zero or non-finite vertex normals shade with the face normal
}

// addMesh adds a mesh's triangles to the scene. A degenerate one (zero or
// non-finite area) is dropped: no ray can hit it.
func (sd *sceneData) addMesh(md *meshData) {
	base := uint32(len(sd.verts))
	if base == 0 {
		sd.verts = md.pos
	} else {
		sd.verts = append(sd.verts, md.pos...)
	}
	sd.nrm = appendAttr(sd.nrm, int(base), md.nrm, func(n Vec) vec3f { return toVec3f(n) })
	sd.uv = appendAttr(sd.uv, int(base), md.uv, func(t [2]float64) vec2f { return vec2f{float32(t[0]), float32(t[1])} })
	var tan []vec4f
	if md.tan != nil {
		tan = make([]vec4f, len(md.tan))
		for i, t := range md.tan {
			tan[i] = vec4f{float32(t.X), float32(t.Y), float32(t.Z), float32(md.tsign[i])}
		}
	}
	sd.tan = appendAttr(sd.tan, int(base), tan, func(t vec4f) vec4f { return t })
	whole := attrs(0)
	var bad []bool // the vertices whose normal fixN replaces
	if md.nrm != nil {
		whole |= hasN
		if md.fixN {
			for i, n := range md.nrm {
				if n.IsZero() || !n.finite() {
					if bad == nil {
						bad = make([]bool, len(md.nrm))
					}
					bad[i] = true
				}
			}
		}
	}
	if md.uv != nil {
		whole |= hasUV
	}
	if md.tan != nil && md.nrm != nil {
		whole |= hasT
	}
	sd.pv, sd.info = slices.Grow(sd.pv, len(md.tris)), slices.Grow(sd.info, len(md.tris))
	mat, run := md.mat, 0
	for t, tri := range md.tris {
		for run < len(md.runs) && int(md.runs[run]) <= t {
			mat = md.mats[run]
			run++
		}
		a, b, c := md.pos[tri[0]], md.pos[tri[1]], md.pos[tri[2]]
		cr := b.Sub(a).Cross(c.Sub(a))
		if area2 := cr.Len(); !(area2 > 0) || math.IsInf(area2, 0) {
			continue
		}
		at := whole
		if md.attrs != nil {
			at &= md.attrs[t]
		}
		if bad != nil && (bad[tri[0]] || bad[tri[1]] || bad[tri[2]]) {
			at |= fixN
		}
		sd.pv = append(sd.pv, [3]uint32{base + tri[0], base + tri[1], base + tri[2]})
		sd.info = append(sd.info, primInfo{mat: mat, light: -1, kind: primTriangle, attrs: at})
	}
}

// appendAttr extends the attribute array have (one per point of the scene so
// far, or nil) by add converted, or by zeros where add is nil, so that it
// stays beside the points: base points are there before add's. It stays
// nil while no mesh has the attribute.
func appendAttr[T, A any](have []A, base int, add []T, conv func(T) A) []A {
	if have == nil && add == nil {
		return nil
	}
	if len(have) < base {
		have = append(have, make([]A, base-len(have))...)
	}
	if add == nil {
		return have
	}
	have = slices.Grow(have, len(add))
	for _, x := range add {
		have = append(have, conv(x))
	}
	return have
}

// addQuad adds the parallelogram corner + a*u + b*v, a, b in [0, 1].
func (sd *sceneData) addQuad(corner, u, v Vec, mat int32) {
	i := uint32(len(sd.verts))
	sd.verts = append(sd.verts, corner, u, v)
	sd.pv = append(sd.pv, [3]uint32{i, i + 1, i + 2})
	sd.info = append(sd.info, primInfo{mat: mat, light: -1, kind: primQuad})
}

// addShape adds a primitive as a shape describes it (a triangle as its
// corner and edges: its vertices are corner + edge).
func (sd *sceneData) addShape(sh shape, mat int32) {
	switch sh.kind {
	case primSphere:
		sd.addSphere(sh.p, sh.r, mat)
	case primQuad:
		sd.addQuad(sh.p, sh.e1, sh.e2, mat)
	default:
		i := uint32(len(sd.verts))
		sd.verts = append(sd.verts, sh.p, sh.p.Add(sh.e1), sh.p.Add(sh.e2))
		sd.pv = append(sd.pv, [3]uint32{i, i + 1, i + 2})
		sd.info = append(sd.info, primInfo{mat: mat, light: -1, kind: primTriangle})
	}
}

// addSphere adds a sphere.
func (sd *sceneData) addSphere(centre Vec, r float64, mat int32) {
	i := uint32(len(sd.verts))
	sd.verts = append(sd.verts, centre, Vec{X: r})
	sd.pv = append(sd.pv, [3]uint32{i, i + 1, i + 1})
	sd.info = append(sd.info, primInfo{mat: mat, light: -1, kind: primSphere})
}

// objMaterials resolves the usemtl names of the OBJ file name: first in its
// mtllib files, then among the scene's materials.
func (p *sceneParser) objMaterials(name string, m *objMesh, out []int32) error {
	var libs []map[string]int32
	for i, lib := range m.mtllibs {
		libName := resolveRef(name, lib)
		idx, err := p.mtlLib(libName)
		if err != nil {
			var le *LoadError
			if errors.As(err, &le) {
				return err
			}
			return loadErr(name, "line "+strconv.Itoa(m.libLines[i]), "mtllib %q: %v", lib, err)
		}
		libs = append(libs, idx)
	}
next:
	for i, mn := range m.mtlNames {
		for _, idx := range libs {
			if k, ok := idx[mn]; ok {
				out[i] = k
				continue next
			}
		}
		if k, ok := p.matIndex[mn]; ok {
			out[i] = k
			continue
		}
		where := "line " + strconv.Itoa(m.mtlLines[i])
		if len(m.mtllibs) > 0 {
			return loadErr(name, where, "usemtl: material %q is in neither %s nor the scene's materials", mn, strings.Join(m.mtllibs, ", "))
		}
		return loadErr(name, where, "usemtl: material %q is not among the scene's materials (and the file has no mtllib)", mn)
	}
	return nil
}

// mtlLib loads (once) the MTL file libName and returns its materials' indices.
func (p *sceneParser) mtlLib(libName string) (map[string]int32, error) {
	if idx, ok := p.mtlLibs[libName]; ok {
		return idx, nil
	}
	data, err := p.src.read(libName)
	if err != nil {
		return nil, err
	}
	mms, err := parseMTL(libName, data)
	if err != nil {
		return nil, err
	}
	idx := map[string]int32{}
	for _, mm := range mms {
		m := mm.toMaterial()
		if mm.mapKd != "" && m.kind == matDiffuse {
			m.tex = p.texture(libName, "line "+strconv.Itoa(mm.mapKdAt), mm.mapKd)
			if p.r.err != nil {
				return nil, p.r.err
			}
		}
		m.name = libName + ":" + mm.name
		idx[mm.name] = int32(len(p.sd.materials))
		p.sd.materials = append(p.sd.materials, m)
	}
	p.mtlLibs[libName] = idx
	return idx, nil
}
