package render

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// objCorner is one corner of a face: 0-based indices, -1 when absent.
type objCorner struct{ v, vt, vn int32 }

// objMesh is a parsed Wavefront OBJ file. Its triangles are three arrays of
// corner indices (0-based), so that a big mesh costs 12 bytes a triangle
// here, 36 with texture coordinates and normals.
type objMesh struct {
	v        []Vec
	vt       [][2]float64
	vn       []Vec
	tv       [][3]uint32 // the vertices of each triangle, after triangulation
	tvt, tvn [][3]int32  // its texture coordinates and normals, -1 for none; nil while no corner has one
	runs     []objRun    // the material of the triangles, run by run
	mtlNames []string    // names given to usemtl, in order of first use
	mtlLines []int       // line of each name's first usemtl
	mtllibs  []string    // mtllib file names as written, relative to the OBJ file
	libLines []int
}

// objRun says that the triangles from start on (up to the next run) have
// material mtl (an index into objMesh.mtlNames, -1 for none); line is the
// line of the run's first face.
type objRun struct{ start, mtl, line int32 }

// objFields splits a line into fields, dropping a trailing comment.
func objFields(line []byte) [][]byte {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return bytes.Fields(line)
}

// parseFloat parses a finite float from an OBJ or MTL field.
func parseFloat(b []byte) (float64, error) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("expected a finite number, got %q", truncate(b))
	}
	return f, nil
}

func truncate(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "..."
	}
	return string(b)
}

// parseFloats parses exactly want numbers (or between want and most).
func parseFloats(fields [][]byte, want, most int) ([]float64, error) {
	if len(fields) < want || len(fields) > most {
		if want == most {
			return nil, fmt.Errorf("expected %d numbers, got %d", want, len(fields))
		}
		return nil, fmt.Errorf("expected %d to %d numbers, got %d", want, most, len(fields))
	}
	out := make([]float64, len(fields))
	for i, f := range fields {
		x, err := parseFloat(f)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

// lines calls fn for each line of data with its 1-based number; a line may
// end in a backslash to continue on the next.
func lines(data []byte, fn func(n int, line []byte) error) error {
	n := 0
	var cont []byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		n++
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if bytes.HasSuffix(line, []byte{'\\'}) {
			cont = append(cont, line[:len(line)-1]...)
			cont = append(cont, ' ')
			continue
		}
		if cont != nil {
			line = append(cont, line...)
			cont = nil
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if cont != nil {
		return fn(n, cont)
	}
	return nil
}

// parseOBJ parses a Wavefront OBJ file: v, vt, vn, f (polygons are
// triangulated as fans; negative indices count back from the last element
// defined), o and g (accepted; one mesh is one object), usemtl and mtllib.
// Other statements (s, l, p, vp, curves) are ignored. At most maxTris
// triangles are accepted; *triangles is increased by the count.
//
// The lines that make up a big mesh (v, vt and vn with plain numbers, f with
// plain indices) are read by a fast path that allocates nothing; every
// other line, and any line the fast path does not take whole, goes through
// the general one (statement), which also says what is wrong with it.
func parseOBJ(file string, data []byte, maxTris int, triangles *int) (*objMesh, error) {
	return parseOBJPaths(file, data, maxTris, triangles, true)
}

// parseOBJPaths is parseOBJ, with the fast path or (for tests that compare
// the two) without it.
func parseOBJPaths(file string, data []byte, maxTris int, triangles *int, fast bool) (*objMesh, error) {
	p := &objParser{file: file, m: &objMesh{}, maxTris: maxTris, triangles: triangles, mtl: -1, mtlIndex: map[string]int32{}}
	// Room for the vertices and triangles the file holds, counted first
	// (bytes.Count is fast), so that a big mesh's arrays are not regrown:
	// regrowing leaves the old copies to the collector, half again the
	// memory. Polygons with more than three corners make more triangles
	// than lines; those arrays grow.
	p.m.v = make([]Vec, 0, bytes.Count(data, []byte("\nv "))+1)
	p.m.tv = make([][3]uint32, 0, bytes.Count(data, []byte("\nf "))+1)
	n := 0
	var cont []byte
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		n++
		if k := len(line); k > 0 && line[k-1] == '\r' {
			line = line[:k-1]
		}
		if k := len(line); k > 0 && line[k-1] == '\\' {
			cont = append(cont, line[:k-1]...)
			cont = append(cont, ' ')
			continue
		}
		if cont != nil {
			line = append(cont, line...)
			cont = nil
		} else if fast && p.fast(n, line) {
			continue
		}
		if err := p.statement(n, line); err != nil {
			return nil, err
		}
	}
	if cont != nil {
		if err := p.statement(n, cont); err != nil {
			return nil, err
		}
	}
	return p.m, nil
}

// objParser is the state of parseOBJ.
type objParser struct {
	file      string
	m         *objMesh
	maxTris   int
	triangles *int
	mtl       int32 // the current material, -1 before any usemtl
	mtlIndex  map[string]int32
	face      []objCorner // the corners of the face being read
}

// statement parses one line of any kind, or says what is wrong with it.
func (p *objParser) statement(n int, line []byte) error {
	m := p.m
	f := objFields(line)
	if len(f) == 0 {
		return nil
	}
	where := "line " + strconv.Itoa(n)
	bad := func(format string, args ...any) error {
		return loadErr(p.file, where, "%s: %s", f[0], fmt.Sprintf(format, args...))
	}
	switch string(f[0]) {
	case "v":
		x, err := parseFloats(f[1:], 3, 7) // x y z [w] or x y z r g b
		if err != nil {
			return bad("%v", err)
		}
		m.v = append(m.v, Vec{X: x[0], Y: x[1], Z: x[2]})
	case "vt":
		x, err := parseFloats(f[1:], 1, 3)
		if err != nil {
			return bad("%v", err)
		}
		uv := [2]float64{x[0], 0}
		if len(x) > 1 {
			uv[1] = x[1]
		}
		m.vt = append(m.vt, uv)
	case "vn":
		x, err := parseFloats(f[1:], 3, 3)
		if err != nil {
			return bad("%v", err)
		}
		m.vn = append(m.vn, Vec{X: x[0], Y: x[1], Z: x[2]})
	case "f", "fo":
		if len(f) < 4 {
			return bad("expected at least 3 vertices, got %d", len(f)-1)
		}
		p.face = p.face[:0]
		for i, c := range f[1:] {
			corner, err := m.corner(c)
			if err != nil {
				return bad("vertex %d (%q): %v", i+1, truncate(c), err)
			}
			p.face = append(p.face, corner)
		}
		return p.addFace(n)
	case "usemtl":
		if len(f) < 2 {
			return bad("expected a material name")
		}
		name := string(bytes.Join(f[1:], []byte{' '}))
		i, ok := p.mtlIndex[name]
		if !ok {
			i = int32(len(m.mtlNames))
			p.mtlIndex[name] = i
			m.mtlNames = append(m.mtlNames, name)
			m.mtlLines = append(m.mtlLines, n)
		}
		p.mtl = i
	case "mtllib":
		if len(f) < 2 {
			return bad("expected a file name")
		}
		for _, lib := range f[1:] {
			m.mtllibs = append(m.mtllibs, string(lib))
			m.libLines = append(m.libLines, n)
		}
	}
	return nil
}

// addFace adds p.face, the face of line n, as a fan of triangles.
func (p *objParser) addFace(n int) error {
	m, face := p.m, p.face
	add := len(face) - 2
	if *p.triangles+add > p.maxTris {
		return &LoadError{File: p.file, Where: "line " + strconv.Itoa(n), Err: &LimitError{Limit: "MaxTriangles", What: "triangles", Value: int64(*p.triangles + add), Max: int64(p.maxTris)}}
	}
	*p.triangles += add
	if k := len(m.runs); k == 0 || m.runs[k-1].mtl != p.mtl {
		m.runs = append(m.runs, objRun{start: int32(len(m.tv)), mtl: p.mtl, line: int32(n)})
	}
	attrs := m.tvt != nil
	for _, c := range face {
		if !attrs && (c.vt >= 0 || c.vn >= 0) {
			// The first corner with a texture coordinate or a normal: the
			// triangles so far have none.
			m.tvt, m.tvn = make([][3]int32, len(m.tv), cap(m.tv)), make([][3]int32, len(m.tv), cap(m.tv))
			for i := range m.tvt {
				m.tvt[i], m.tvn[i] = [3]int32{-1, -1, -1}, [3]int32{-1, -1, -1}
			}
			attrs = true
		}
	}
	for i := 1; i+1 < len(face); i++ {
		a, b, c := face[0], face[i], face[i+1]
		m.tv = append(m.tv, [3]uint32{uint32(a.v), uint32(b.v), uint32(c.v)})
		if attrs {
			m.tvt = append(m.tvt, [3]int32{a.vt, b.vt, c.vt})
			m.tvn = append(m.tvn, [3]int32{a.vn, b.vn, c.vn})
		}
	}
	return nil
}

// fast parses line n if it is a v, vt, vn or f statement of plain numbers
// separated by spaces or tabs, and reports whether it did. It changes
// nothing when it returns false: the line then goes to statement.
func (p *objParser) fast(n int, line []byte) bool {
	if len(line) < 2 {
		return false
	}
	m := p.m
	switch {
	case line[0] == 'v' && isBlank(line[1]):
		var x [3]float64
		if !fastFloats(line[2:], x[:]) {
			return false
		}
		m.v = append(m.v, Vec{X: x[0], Y: x[1], Z: x[2]})
	case line[0] == 'v' && line[1] == 'n' && len(line) > 2 && isBlank(line[2]):
		var x [3]float64
		if !fastFloats(line[3:], x[:]) {
			return false
		}
		m.vn = append(m.vn, Vec{X: x[0], Y: x[1], Z: x[2]})
	case line[0] == 'v' && line[1] == 't' && len(line) > 2 && isBlank(line[2]):
		var x [2]float64
		if !fastFloats(line[3:], x[:]) {
			return false
		}
		m.vt = append(m.vt, x)
	case line[0] == 'f' && isBlank(line[1]):
		return p.fastFace(n, line[2:])
	default:
		return false
	}
	return true
}

// fastFace is fast for the corners of an f statement.
func (p *objParser) fastFace(n int, b []byte) bool {
	m := p.m
	p.face = p.face[:0]
	for {
		b = skipBlanks(b)
		if len(b) == 0 {
			break
		}
		c := objCorner{v: -1, vt: -1, vn: -1}
		var ok bool
		if c.v, b, ok = fastIndex(b, len(m.v)); !ok {
			return false
		}
		if len(b) > 0 && b[0] == '/' {
			b = b[1:]
			if len(b) > 0 && b[0] != '/' {
				if c.vt, b, ok = fastIndex(b, len(m.vt)); !ok {
					return false
				}
			}
			if len(b) > 0 && b[0] == '/' {
				if c.vn, b, ok = fastIndex(b[1:], len(m.vn)); !ok {
					return false
				}
			}
		}
		if len(b) > 0 && !isBlank(b[0]) {
			return false
		}
		p.face = append(p.face, c)
	}
	if len(p.face) < 3 || *p.triangles+len(p.face)-2 > p.maxTris {
		return false
	}
	return p.addFace(n) == nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func skipBlanks(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	return b
}

// fastFloats parses exactly len(x) numbers from b, separated and perhaps
// surrounded by blanks, each as strconv.ParseFloat would, or reports false.
func fastFloats(b []byte, x []float64) bool {
	for i := range x {
		b = skipBlanks(b)
		var ok bool
		if x[i], b, ok = fastFloat(b); !ok || (len(b) > 0 && !isBlank(b[0])) {
			return false
		}
	}
	return len(skipBlanks(b)) == 0
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastFloat parses a decimal number at the start of b ([-+]digits[.digits]
// [e[-+]digits]) when its value is exact in float64 arithmetic: at most 15
// significant digits (so below 2^53) and a power of ten of at most 22 either
// way. A single multiplication or division of two exact values rounds
// correctly, so the result is strconv.ParseFloat's (Clinger's fast path,
// which strconv takes too). Anything else reports false.
func fastFloat(b []byte) (float64, []byte, bool) {
	i, neg := 0, false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	var mant uint64
	digits, exp, seen := 0, 0, false
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		seen = true
		if mant == 0 && b[i] == '0' {
			continue // leading zeros count for nothing
		}
		mant = mant*10 + uint64(b[i]-'0')
		digits++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			seen = true
			exp--
			if mant == 0 && b[i] == '0' {
				continue
			}
			mant = mant*10 + uint64(b[i]-'0')
			digits++
		}
	}
	if !seen || digits > 15 {
		return 0, b, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			eneg = b[i] == '-'
			i++
		}
		e, ed := 0, 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && ed < 4; i++ {
			e = e*10 + int(b[i]-'0')
			ed++
		}
		if ed == 0 || (i < len(b) && b[i] >= '0' && b[i] <= '9') {
			return 0, b, false
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	f := float64(mant)
	switch {
	case mant == 0:
	case exp >= 0 && exp < len(pow10):
		f *= pow10[exp]
	case exp < 0 && -exp < len(pow10):
		f /= pow10[-exp]
	default:
		return 0, b, false
	}
	if neg {
		f = -f
	}
	return f, b[i:], true
}

// fastIndex parses a face index at the start of b and resolves it against
// the n elements defined so far, as objIndex does, or reports false.
func fastIndex(b []byte, n int) (int32, []byte, bool) {
	i, neg := 0, false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	v, d := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if d++; d > 10 {
			return 0, b, false
		}
		v = v*10 + int(b[i]-'0')
	}
	switch {
	case d == 0 || v == 0:
		return 0, b, false
	case !neg && v <= n:
		return int32(v - 1), b[i:], true
	case neg && v <= n:
		return int32(n - v), b[i:], true
	}
	return 0, b, false
}

// corner parses one face corner: v, v/vt, v//vn or v/vt/vn.
func (m *objMesh) corner(b []byte) (objCorner, error) {
	c := objCorner{v: -1, vt: -1, vn: -1}
	parts := bytes.Split(b, []byte{'/'})
	if len(parts) > 3 {
		return c, fmt.Errorf("expected v, v/vt, v//vn or v/vt/vn")
	}
	var err error
	if c.v, err = objIndex(parts[0], len(m.v), "vertex"); err != nil {
		return c, err
	}
	if len(parts) > 1 && len(parts[1]) > 0 {
		if c.vt, err = objIndex(parts[1], len(m.vt), "texture coordinate"); err != nil {
			return c, err
		}
	}
	if len(parts) > 2 && len(parts[2]) > 0 {
		if c.vn, err = objIndex(parts[2], len(m.vn), "normal"); err != nil {
			return c, err
		}
	}
	return c, nil
}

// objIndex resolves a 1-based or negative (relative) OBJ index against the
// n elements defined so far.
func objIndex(b []byte, n int, what string) (int32, error) {
	if len(b) == 0 {
		return -1, fmt.Errorf("missing %s index", what)
	}
	i, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return -1, fmt.Errorf("expected a %s index, got %q", what, truncate(b))
	}
	switch {
	case i == 0:
		return -1, fmt.Errorf("%s index 0 (OBJ indices start at 1)", what)
	case i > 0 && i <= int64(n):
		return int32(i - 1), nil
	case i < 0 && -i <= int64(n):
		return int32(int64(n) + i), nil
	}
	return -1, fmt.Errorf("%s %d does not exist (%d defined so far)", what, i, n)
}

// mtlMaterial is a material of an MTL file, before it becomes a material.
type mtlMaterial struct {
	name     string
	line     int
	kd, ks   Vec
	ke       Vec
	ni, d    float64
	ns       float64
	illum    int
	mapKd    string // as written, relative to the MTL file
	mapKdAt  int    // line of map_Kd
	hasKs    bool
	hasNs    bool
	hasIllum bool
}

// parseMTL parses an MTL file: newmtl, Kd, Ks, Ke, Ni, Ns, d, Tr, illum and
// map_Kd. Other statements are ignored.
func parseMTL(file string, data []byte) ([]*mtlMaterial, error) {
	var out []*mtlMaterial
	var cur *mtlMaterial
	err := lines(data, func(n int, line []byte) error {
		f := objFields(line)
		if len(f) == 0 {
			return nil
		}
		where := fmt.Sprintf("line %d", n)
		bad := func(format string, args ...any) error {
			return loadErr(file, where, "%s: %s", f[0], fmt.Sprintf(format, args...))
		}
		key := string(f[0])
		if key == "newmtl" {
			if len(f) < 2 {
				return bad("expected a material name")
			}
			cur = &mtlMaterial{name: string(bytes.Join(f[1:], []byte{' '})), line: n, kd: Vec{X: 0.8, Y: 0.8, Z: 0.8}, ni: 1, d: 1}
			out = append(out, cur)
			return nil
		}
		switch key {
		case "Kd", "Ks", "Ke", "Ni", "Ns", "d", "Tr", "illum", "map_Kd":
		default:
			return nil
		}
		if cur == nil {
			return bad("comes before any newmtl")
		}
		switch key {
		case "Kd", "Ks", "Ke":
			if len(f) > 1 && (string(f[1]) == "spectral" || string(f[1]) == "xyz") {
				return bad("only RGB colours are supported")
			}
			x, err := parseFloats(f[1:], 1, 3)
			if err != nil {
				return bad("%v", err)
			}
			c := Vec{X: x[0], Y: x[0], Z: x[0]}
			if len(x) == 3 {
				c = Vec{X: x[0], Y: x[1], Z: x[2]}
			} else if len(x) == 2 {
				return bad("expected 1 or 3 numbers, got 2")
			}
			if c.X < 0 || c.Y < 0 || c.Z < 0 {
				return bad("expected non-negative values")
			}
			switch key {
			case "Kd":
				cur.kd = c
			case "Ks":
				cur.ks, cur.hasKs = c, true
			case "Ke":
				cur.ke = c
			}
		case "Ni", "Ns", "d", "Tr":
			x, err := parseFloats(f[1:], 1, 1)
			if err != nil {
				return bad("%v", err)
			}
			switch key {
			case "Ni":
				if x[0] <= 0 {
					return bad("expected a positive index of refraction")
				}
				cur.ni = x[0]
			case "Ns":
				cur.ns, cur.hasNs = max(0, x[0]), true
			case "d":
				cur.d = x[0]
			case "Tr":
				cur.d = 1 - x[0]
			}
		case "illum":
			if len(f) != 2 {
				return bad("expected one integer")
			}
			i, err := strconv.Atoi(string(f[1]))
			if err != nil || i < 0 || i > 10 {
				return bad("expected an integer from 0 to 10, got %q", truncate(f[1]))
			}
			cur.illum, cur.hasIllum = i, true
		case "map_Kd":
			if len(f) < 2 {
				return bad("expected a file name")
			}
			// Options (-s, -o, ...) are not supported: the file is the rest
			// of the line after the keyword.
			if f[1][0] == '-' {
				return bad("options are not supported, expected a file name")
			}
			rest := bytes.TrimSpace(line[bytes.Index(line, f[0])+len(f[0]):])
			if i := bytes.IndexByte(rest, '#'); i >= 0 {
				rest = bytes.TrimSpace(rest[:i])
			}
			cur.mapKd, cur.mapKdAt = string(rest), n
		}
		return nil
	})
	return out, err
}

// toMaterial turns an MTL material into one of ours:
//   - Ke not black: emissive, with radiance Ke;
//   - illum 4, 6, 7 or 9, or d < 1: dielectric with index Ni (1.5 when Ni is 1);
//   - illum 3, 5 or 8 (reflection on), or Ks brighter than Kd: metal with F0
//     Ks and roughness sqrt(2/(Ns+2)) (a Blinn-Phong exponent turned to GGX);
//   - otherwise diffuse with albedo Kd and map_Kd as texture.
func (mm *mtlMaterial) toMaterial() material {
	m := material{name: mm.name, tex: -1}
	switch {
	case !mm.ke.IsZero():
		m.kind, m.emission = matEmissive, mm.ke
	case mm.illum == 4 || mm.illum == 6 || mm.illum == 7 || mm.illum == 9 || mm.d < 1:
		m.kind, m.ior, m.albedo = matDielectric, mm.ni, Vec{X: 1, Y: 1, Z: 1}
		if m.ior == 1 {
			m.ior = 1.5
		}
	case mm.illum == 3 || mm.illum == 5 || mm.illum == 8 || (mm.hasKs && mm.ks.MaxComp() > mm.kd.MaxComp()):
		m.kind, m.albedo = matMetal, clampColor(mm.ks)
		r := 0.0
		if mm.hasNs {
			r = math.Sqrt(2 / (mm.ns + 2))
		}
		m.alpha = r * r
	default:
		m.kind, m.albedo = matDiffuse, clampColor(mm.kd)
	}
	return m
}

func clampColor(c Vec) Vec {
	return Vec{X: min(c.X, 1), Y: min(c.Y, 1), Z: min(c.Z, 1)}
}
