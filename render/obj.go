package render

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// objCorner is one corner of a face: 0-based indices, -1 when absent.
type objCorner struct{ v, vt, vn int32 }

// objTri is a triangle of an OBJ file, after triangulation.
type objTri struct {
	c    [3]objCorner
	mtl  int32 // index into objMesh.mtlNames, -1 for none
	line int32
}

// objMesh is a parsed Wavefront OBJ file.
type objMesh struct {
	v        []Vec
	vt       [][2]float64
	vn       []Vec
	tris     []objTri
	mtlNames []string // names given to usemtl, in order of first use
	mtlLines []int    // line of each name's first usemtl
	mtllibs  []string // mtllib file names as written, relative to the OBJ file
	libLines []int
}

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
func parseOBJ(file string, data []byte, maxTris int, triangles *int) (*objMesh, error) {
	m := &objMesh{}
	mtl := int32(-1)
	mtlIndex := map[string]int32{}
	var face []objCorner
	err := lines(data, func(n int, line []byte) error {
		f := objFields(line)
		if len(f) == 0 {
			return nil
		}
		where := fmt.Sprintf("line %d", n)
		bad := func(format string, args ...any) error {
			return loadErr(file, where, "%s: %s", f[0], fmt.Sprintf(format, args...))
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
			face = face[:0]
			for i, c := range f[1:] {
				corner, err := m.corner(c)
				if err != nil {
					return bad("vertex %d (%q): %v", i+1, truncate(c), err)
				}
				face = append(face, corner)
			}
			add := len(face) - 2
			if *triangles+add > maxTris {
				return &LoadError{File: file, Where: where, Err: &LimitError{Limit: "MaxTriangles", What: "triangles", Value: int64(*triangles + add), Max: int64(maxTris)}}
			}
			*triangles += add
			for i := 1; i+1 < len(face); i++ {
				m.tris = append(m.tris, objTri{c: [3]objCorner{face[0], face[i], face[i+1]}, mtl: mtl, line: int32(n)})
			}
		case "usemtl":
			if len(f) < 2 {
				return bad("expected a material name")
			}
			name := string(bytes.Join(f[1:], []byte{' '}))
			i, ok := mtlIndex[name]
			if !ok {
				i = int32(len(m.mtlNames))
				mtlIndex[name] = i
				m.mtlNames = append(m.mtlNames, name)
				m.mtlLines = append(m.mtlLines, n)
			}
			mtl = i
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
	})
	if err != nil {
		return nil, err
	}
	return m, nil
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
