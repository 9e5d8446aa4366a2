package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
	lo := len(p.sd.shapes)
	if err := om.place(p.sd, xf); err != nil {
		return err
	}
	if keys != nil {
		obj := p.keyedObject(&animObject{rest: xf, keys: keys})
		a := p.anim()
		a.movers = append(a.movers, mover{obj: obj, node: -1, lo: lo, hi: len(p.sd.shapes),
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
	nrm := make([]Vec, len(m.vn))
	for i, n := range m.vn {
		nrm[i] = nxf.apply(n).Norm()
	}
	// Smooth shading for meshes without normals: area-weighted vertex normals.
	var vnorm []Vec
	if om.smooth {
		vnorm = make([]Vec, len(pos))
		for _, t := range m.tris {
			a, b, c := pos[t.c[0].v], pos[t.c[1].v], pos[t.c[2].v]
			cr := b.Sub(a).Cross(c.Sub(a))
			for _, k := range t.c {
				vnorm[k.v] = vnorm[k.v].Add(cr)
			}
		}
		for i := range vnorm {
			vnorm[i] = vnorm[i].Norm()
		}
	}

	var mt meshTri
	for _, t := range m.tris {
		mt.p = [3]Vec{pos[t.c[0].v], pos[t.c[1].v], pos[t.c[2].v]}
		mt.mat = om.mat
		if om.mat < 0 {
			if t.mtl < 0 {
				return loadErr(name, "line "+strconv.Itoa(int(t.line)), "f: face without a material: no usemtl comes before it and %s names no \"material\"", om.objPath)
			}
			mt.mat = om.mats[t.mtl]
		}
		mt.hasN, mt.hasUV = true, true
		for k, cn := range t.c {
			switch {
			case cn.vn >= 0:
				mt.n[k] = nrm[cn.vn]
			case vnorm != nil:
				mt.n[k] = vnorm[cn.v]
			default:
				mt.hasN = false
			}
			if cn.vt >= 0 {
				mt.uv[k] = m.vt[cn.vt]
			} else {
				mt.hasUV = false
			}
		}
		sd.addTriangle(&mt)
	}
	return nil
}

// meshTri is one triangle of a mesh in world space, as every mesh loader
// (OBJ, glTF) hands it to addTriangle: the one place that turns mesh
// triangles into primitives.
type meshTri struct {
	p           [3]Vec        // vertices; the front side is the one (p1-p0)×(p2-p0) points to
	n           [3]Vec        // unit vertex normals, when hasN
	uv          [3][2]float64 // texture coordinates, v up (OBJ's convention), when hasUV
	t           [3]Vec        // unit vertex tangents (along increasing u), when hasT
	tsign       float64       // the bitangent is tsign * n×t, when hasT
	hasN, hasUV bool
	hasT        bool
	mat         int32
}

// addTriangle adds a mesh triangle to the scene. A degenerate one (zero or
// non-finite area) is dropped: no ray can hit it.
func (sd *sceneData) addTriangle(mt *meshTri) {
	a, b, c := mt.p[0], mt.p[1], mt.p[2]
	e1, e2 := b.Sub(a), c.Sub(a)
	cr := e1.Cross(e2)
	area2 := cr.Len()
	if !(area2 > 0) || math.IsInf(area2, 0) {
		return
	}
	info := primInfo{n: cr.Scale(1 / area2), mat: mt.mat, tri: -1, area: area2 / 2}
	if mt.hasN || mt.hasUV {
		ts := triShading{hasN: mt.hasN, hasUV: mt.hasUV, tan: -1}
		if mt.hasN {
			ts.n = mt.n
		}
		if mt.hasUV {
			ts.uv = mt.uv
		}
		if mt.hasT && mt.hasN {
			ts.tan = int32(len(sd.tangents))
			sd.tangents = append(sd.tangents, triTangents{t: mt.t, sign: mt.tsign})
		}
		info.tri = int32(len(sd.tris))
		sd.tris = append(sd.tris, ts)
	}
	sd.shapes = append(sd.shapes, shape{kind: primTriangle, p: a, e1: e1, e2: e2})
	sd.info = append(sd.info, info)
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
