package render

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestSphericalRectangle: the map from the square onto a rectangle's
// directions preserves solid angle (the share of samples that land in a
// part of the rectangle is the part's share of the solid angle), its
// solid angle is the two triangles', and invert undoes sample.
func TestSphericalRectangle(t *testing.T) {
	cases := []struct{ x0, y0, z0, w, h float64 }{
		{-1, -1, -1, 2, 2},      // centred, close
		{-0.5, -0.3, -20, 1, 2}, // far: a small solid angle
		{0.5, 0.2, -0.05, 3, 1}, // beside, grazing
		{-4, -0.1, -0.01, 8, 5}, // almost the whole hemisphere
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v", c), func(t *testing.T) {
			r, ok := newSphRect(c.x0, c.y0, c.z0, c.w, c.h)
			if !ok {
				t.Fatal("no solid angle")
			}
			v := func(x, y float64) Vec { return V(x, y, c.z0).Norm() }
			x1, y1 := c.x0+c.w, c.y0+c.h
			want := triangleSolidAngle(v(c.x0, c.y0), v(x1, c.y0), v(x1, y1)) + triangleSolidAngle(v(c.x0, c.y0), v(x1, y1), v(c.x0, y1))
			if math.Abs(r.area-want) > 1e-9*want {
				t.Errorf("solid angle %v, two triangles %v", r.area, want)
			}
			// The part x < xm, y < ym.
			xm, ym := c.x0+0.37*c.w, c.y0+0.61*c.h
			part := triangleSolidAngle(v(c.x0, c.y0), v(xm, c.y0), v(xm, ym)) + triangleSolidAngle(v(c.x0, c.y0), v(xm, ym), v(c.x0, ym))
			const n = 256
			in := 0
			for i := range n {
				for j := range n {
					u0, u1 := (float64(i)+0.5)/n, (float64(j)+0.5)/n
					x, y := r.sample(u0, u1)
					if x < xm && y < ym {
						in++
					}
					a, b := r.invert(x, y)
					if math.Abs(a-u0) > 1e-6 || math.Abs(b-u1) > 1e-6 {
						t.Fatalf("sample(%v, %v) = (%v, %v), inverted (%v, %v)", u0, u1, x, y, a, b)
					}
				}
			}
			if got, w := float64(in)/(n*n), part/r.area; math.Abs(got-w) > 2.0/n {
				t.Errorf("%.4f of the samples in a part of %.4f of the solid angle", got, w)
			}
		})
	}
}

// TestSphericalTriangle: the same for a triangle's directions.
func TestSphericalTriangle(t *testing.T) {
	cases := [][3]Vec{
		{V(-1, -1, -1), V(1, -1, -1), V(0, 1, -1)},
		{V(-0.1, 0, -30), V(0.1, 0, -30), V(0, 0.2, -30)},
		{V(0.1, 0, -0.02), V(3, 0, -0.02), V(0.1, 2, -0.02)},
		{V(-5, -5, -0.05), V(5, -5, -0.05), V(0, 6, -0.05)},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v", c), func(t *testing.T) {
			a, b, cc := c[0].Norm(), c[1].Norm(), c[2].Norm()
			st, ok := newSphTri(a, b, cc)
			if !ok {
				t.Fatal("degenerate")
			}
			// The part on a's side of the great circle through b and the
			// midpoint of a-c.
			m := c[0].Add(c[2]).Scale(0.5).Norm()
			part := triangleSolidAngle(a, b, m)
			side := b.Cross(m)
			if side.Dot(a) < 0 {
				side = side.Neg()
			}
			const n = 256
			in := 0
			for i := range n {
				for j := range n {
					u0, u1 := (float64(i)+0.5)/n, (float64(j)+0.5)/n
					w := st.sample(u0, u1)
					if math.Abs(w.Len()-1) > 1e-9 {
						t.Fatalf("sample(%v, %v) = %v, not a unit vector", u0, u1, w)
					}
					if w.Dot(side) > 0 {
						in++
					}
					x, y := st.invert(w)
					if math.Abs(x-u0) > 1e-5 || math.Abs(y-u1) > 1e-5 {
						t.Fatalf("sample(%v, %v) = %v, inverted (%v, %v)", u0, u1, w, x, y)
					}
				}
			}
			if got, w := float64(in)/(n*n), part/st.area; math.Abs(got-w) > 2.0/n {
				t.Errorf("%.4f of the samples in a part of %.4f of the solid angle", got, w)
			}
		})
	}
}

// lightTestScene loads a scene of one light object (JSON) or mesh (OBJ).
func lightTestScene(t *testing.T, object, obj string, twoSided bool) *sceneData {
	t.Helper()
	files := map[string]string{"scene.json": fmt.Sprintf(`{
  "camera": {"from": [0, 0, 5], "to": [0, 0, 0]},
  "materials": {"light": {"type": "emissive", "emission": [2, 3, 4], "twoSided": %v}},
  "objects": [%s]}`, twoSided, object)}
	if obj != "" {
		files["l.obj"] = obj
	}
	return &mustLoad(t, files).sceneData
}

// cosineIntegral is ∫ max(0, n·ω) dω over the directions from p towards
// the polygon q, q+e1, q+e2 (triangle) or the parallelogram q + [0,1]e1 +
// [0,1]e2, by the midpoint rule over the surface (front side only unless
// twoSided).
func cosineIntegral(p, n Vec, q, e1, e2 Vec, tri, twoSided bool) float64 {
	const k = 1000
	nl := e1.Cross(e2)
	area := nl.Len()
	nl = nl.Scale(1 / area)
	dA := area / (k * k)
	sum := 0.0
	for i := range k {
		for j := range k {
			a, b := (float64(i)+0.5)/k, (float64(j)+0.5)/k
			if tri && a+b > 1 {
				continue
			}
			d := q.AddScaled(e1, a).AddScaled(e2, b).Sub(p)
			r2 := d.Dot(d)
			w := d.Scale(1 / math.Sqrt(r2))
			cl := -nl.Dot(w)
			if twoSided {
				cl = math.Abs(cl)
			}
			if cl <= 0 {
				continue
			}
			sum += max(0, n.Dot(w)) * cl / r2 * dA
		}
	}
	return sum
}

// TestLightSampling: for each kind of area light seen from points near and
// far, beside and at grazing angles, light sampling is unbiased (the mean
// of max(0, cos θ)/pdf over the samples is the integral of the cosine over
// the light's directions), the density it reports is the one lightPdf
// computes for the direction (what MIS compares), and the point it reports
// lies on the light.
func TestLightSampling(t *testing.T) {
	rectObj := "v 0 0 0\nv 2 0 0\nv 2 0 1\nv 0 0 1\nf 1 4 3 2\n" // a quad facing +Y, cut in two
	paraObj := "v 0 0 0\nv 2 0 0\nv 3 0 1\nv 1 0 1\nf 1 4 3 2\n" // a parallelogram: two triangles
	triObj := "v 0 0 0\nv 1 0 2\nv 2 0 0\nf 1 2 3\n"
	tests := []struct {
		name        string
		object, obj string
		kinds       []lightKind
		q, e1, e2   Vec // the light's surface, for the reference integral
		tri         bool
	}{
		{"quad", `{"type": "quad", "corner": [0, 0, 0], "u": [0, 0, 1], "v": [2, 0, 0], "material": "light"}`, "",
			[]lightKind{lightRect}, V(0, 0, 0), V(0, 0, 1), V(2, 0, 0), false},
		{"OBJ quad", `{"type": "mesh", "file": "l.obj", "material": "light"}`, rectObj,
			[]lightKind{lightRect}, V(0, 0, 0), V(0, 0, 1), V(2, 0, 0), false},
		{"OBJ parallelogram: two triangles", `{"type": "mesh", "file": "l.obj", "material": "light"}`, paraObj,
			[]lightKind{lightTriangle, lightTriangle}, V(0, 0, 0), V(1, 0, 1), V(2, 0, 0), false},
		{"parallelogram quad", `{"type": "quad", "corner": [0, 0, 0], "u": [1, 0, 1], "v": [2, 0, 0], "material": "light"}`, "",
			[]lightKind{lightQuad}, V(0, 0, 0), V(1, 0, 1), V(2, 0, 0), false},
		{"triangle", `{"type": "mesh", "file": "l.obj", "material": "light"}`, triObj,
			[]lightKind{lightTriangle}, V(0, 0, 0), V(1, 0, 2), V(2, 0, 0), true},
	}
	points := []struct {
		name string
		p, n Vec
	}{
		{"below, far", V(0.7, -30, 0.4), V(0, 1, 0)},
		{"below, close", V(0.7, -0.3, 0.4), V(0.3, 1, 0).Norm()},
		{"beside, grazing", V(-0.5, -0.05, 0.5), V(1, 0, 0)},
		{"below, tilted away", V(1, -1, 0.5), V(0.2, 0.1, -1).Norm()},
		{"above", V(0.5, 0.5, 0.5), V(0, -1, 0)},
	}
	for _, tt := range tests {
		for _, twoSided := range []bool{false, true} {
			s := lightTestScene(t, tt.object, tt.obj, twoSided)
			kinds := []lightKind{}
			for _, l := range s.lights {
				kinds = append(kinds, l.kind)
			}
			if fmt.Sprint(kinds) != fmt.Sprint(tt.kinds) {
				t.Fatalf("%s: lights of kinds %v, want %v", tt.name, kinds, tt.kinds)
			}
			for _, pt := range points {
				t.Run(fmt.Sprintf("%s two-sided %v %s", tt.name, twoSided, pt.name), func(t *testing.T) {
					checkLightSampling(t, s, pt.p, pt.n, cosineIntegral(pt.p, pt.n, tt.q, tt.e1, tt.e2, tt.tri, twoSided))
				})
			}
		}
	}
	t.Run("sphere", func(t *testing.T) {
		s := lightTestScene(t, `{"type": "sphere", "center": [0, 1, 0], "radius": 0.5, "material": "light"}`, "", false)
		// Straight below at distance d, normal up: π sin²θmax.
		checkLightSampling(t, s, V(0, -1, 0), V(0, 1, 0), math.Pi*0.25/4)
	})
}

// checkLightSampling samples the scene's light from p (normal n) with 2^14
// samples and compares the estimate of ∫ max(0, cos) dω with want.
func checkLightSampling(t *testing.T, s *sceneData, p, n Vec, want float64) {
	t.Helper()
	const samples = 1 << 14
	var stack traversalStack
	sum, sum2, found := 0.0, 0.0, 0
	key := pixelKey(1, 2, 0)
	for i := range samples {
		sp := newSampler(key, i)
		u1, u2 := sp.get2D(bounceDim(1, slotLight))
		ls, delta, ok := s.sampleLight(p, n, n, sp.get1D(bounceDim(1, slotLightPick)), u1, u2)
		if delta {
			t.Fatal("an area light sampled as a punctual one")
		}
		if !ok {
			continue
		}
		found++
		if !(ls.pdf > 0) || math.Abs(ls.wi.Len()-1) > 1e-9 {
			t.Fatalf("sample %d: pdf %v, direction %v", i, ls.pdf, ls.wi)
		}
		f := max(0, n.Dot(ls.wi)) / ls.pdf
		sum, sum2 = sum+f, sum2+f*f
		r := Ray{Origin: p, Dir: ls.wi}
		var h hit
		if !s.intersectWith(&stack, &r, math.Inf(1), &h) {
			t.Fatalf("sample %d: the ray along %v misses the light", i, ls.wi)
		}
		if math.Abs(h.t-ls.dist) > 1e-7*(1+h.t) {
			t.Fatalf("sample %d: distance %v, the ray meets the light at %v", i, ls.dist, h.t)
		}
		v := vertex{p: p, ng: n, ns: n}
		if pdf := s.lightPdf(h.prim, &v, ls.wi, h.t); math.Abs(pdf-ls.pdf) > 1e-6*ls.pdf {
			t.Fatalf("sample %d along %v: pdf %v, lightPdf %v", i, ls.wi, ls.pdf, pdf)
		}
	}
	got := sum / samples
	if want == 0 {
		if got != 0 {
			t.Errorf("estimate %v of a light the point cannot see", got)
		}
		return
	}
	// Within 0.2%, or four standard errors of independent samples
	// (stratified ones do better) where the samples vary much.
	stderr := math.Sqrt(max(0, sum2/samples-got*got) / samples)
	if tol := max(0.002*want, 4*stderr); math.Abs(got-want) > tol {
		t.Errorf("estimate %.6f, want %.6f within %.6f (%d of %d samples on the light)", got, want, tol, found, samples)
	}
}

// manyLightsScene has 24 emissive quads and spheres of various sizes,
// orientations and brightnesses, maxEachPunctual punctual lights and three
// more (points, a spot, two suns), and with env an environment map.
func manyLightsScene(t *testing.T, env bool) *sceneData {
	t.Helper()
	rg := newRNG(5, 6)
	var objs []string
	for i := range 24 {
		c := V(-10+20*rg.float(), -2+6*rg.float(), -10+20*rg.float())
		if i%3 == 0 {
			objs = append(objs, fmt.Sprintf(`{"type": "sphere", "center": [%g, %g, %g], "radius": %g, "material": "l%d"}`, c.X, c.Y, c.Z, 0.1+rg.float(), i%4))
			continue
		}
		u := V(rg.float()-0.5, rg.float()-0.5, rg.float()-0.5).Scale(3)
		v := u.Cross(V(rg.float()-0.5, rg.float()-0.5, rg.float()-0.5)).Norm().Scale(0.2 + 2*rg.float())
		objs = append(objs, fmt.Sprintf(`{"type": "quad", "corner": [%g, %g, %g], "u": [%g, %g, %g], "v": [%g, %g, %g], "material": "l%d"}`,
			c.X, c.Y, c.Z, u.X, u.Y, u.Z, v.X, v.Y, v.Z, i%4))
	}
	lights := []any{
		map[string]any{"type": "point", "intensity": 500},
		map[string]any{"type": "point", "intensity": 2000, "color": []any{1, 0.5, 0.2}},
		map[string]any{"type": "point", "intensity": 100},
		map[string]any{"type": "spot", "intensity": 5000, "spot": map[string]any{"innerConeAngle": 0.2, "outerConeAngle": 0.4}},
		map[string]any{"type": "directional", "intensity": 300},
		map[string]any{"type": "directional", "intensity": 1000},
	}
	down := []any{-math.Sqrt2 / 2, 0, 0, math.Sqrt2 / 2}
	nodes := []any{
		map[string]any{"translation": []any{1, 3, -2}, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 0}}},
		map[string]any{"translation": []any{-4, 1, 5}, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 1}}},
		map[string]any{"translation": []any{6, 0, 0}, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 2}}},
		map[string]any{"translation": []any{0, 5, 0}, "rotation": down, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 3}}},
		map[string]any{"rotation": down, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 4}}},
		map[string]any{"rotation": []any{0.3, 0.1, 0.2, 0.927}, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 5}}},
	}
	// More punctual lights than are sampled each at every vertex, so
	// that they are chosen among the others.
	for i := range maxEachPunctual - 3 {
		lights = append(lights, map[string]any{"type": "point", "intensity": 50 * (i + 1)})
		nodes = append(nodes, map[string]any{"translation": []any{-8 + 3*float64(i), 2, 8 - 2*float64(i)},
			"extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": len(lights) - 1}}})
	}
	doc := punctualLightsDoc(t, lights, nodes)
	files := map[string]string{"l.gltf": doc}
	world := ""
	if env {
		hdr, _ := constantHDR(8, 4, [3]float32{0.5, 0.6, 0.7})
		files["e.hdr"] = hdr
		world = `"environment": {"file": "e.hdr"},`
	}
	files["scene.json"] = `{"camera": {"from": [0, 0, 30], "to": [0, 0, 0]}, ` + world + `
  "materials": {"l0": {"type": "emissive", "emission": [1, 2, 3]}, "l1": {"type": "emissive", "emission": [20, 20, 20], "twoSided": true},
                "l2": {"type": "emissive", "emission": [5, 1, 1]}, "l3": {"type": "emissive", "emission": [0.5, 0.5, 0.5]}},
  "objects": [` + strings.Join(objs, ", ") + `, {"type": "gltf", "file": "l.gltf"}]}`
	return &mustLoad(t, files).sceneData
}

// TestLightChoice: with many lights (more punctual ones than are sampled
// each at every vertex, so that they are chosen too), at shading points all
// over the scene: the probabilities lightPMF gives the lights sum to at
// most 1, chooseLight reports the probability lightPMF gives what it chose,
// and it chooses each light that often (and no light for the rest).
func TestLightChoice(t *testing.T) {
	for _, env := range []bool{false, true} {
		s := manyLightsScene(t, env)
		t.Run(fmt.Sprintf("environment %v", env), func(t *testing.T) {
			if want := 24 + maxEachPunctual + 3 + map[bool]int{false: 0, true: 1}[env]; s.eachPunctual || len(s.lights) != want {
				t.Fatalf("%d lights, want %d", len(s.lights), want)
			}
			rg := newRNG(7, 8)
			for k := range 40 {
				p := V(-12+24*rg.float(), -4+10*rg.float(), -12+24*rg.float())
				n := uniformSphere(rg.float(), rg.float())
				pmf := make([]float64, len(s.lights))
				sum := 0.0
				for i := range s.lights {
					pmf[i] = s.lightPMF(int32(i), p, n)
					sum += pmf[i]
				}
				// Where a node's bounds promise light that none of its
				// children's does, the choice ends with no light: the
				// probabilities sum to less than 1, never more.
				if !(sum <= 1+1e-12) {
					t.Fatalf("point %d: probabilities sum to %v", k, sum)
				}
				const draws = 20000
				count := make([]int, len(s.lights))
				none := 0
				for j := range draws {
					li, pick := s.chooseLight(p, n, (float64(j)+0.5)/draws)
					if li < 0 {
						none++
						continue
					}
					if pick != pmf[li] {
						t.Fatalf("point %d: chose light %d with probability %v, lightPMF says %v", k, li, pick, pmf[li])
					}
					count[li]++
				}
				if math.Abs(float64(none)/draws-(1-sum)) > 64.0/draws {
					t.Errorf("point %d: no light %d times of %d, probabilities sum to %v", k, none, draws, sum)
				}
				for i, c := range count {
					// The draws are stratified: each light is chosen for
					// its share of [0, 1), give or take the one draw at
					// each end of each interval of the tree's choices.
					if math.Abs(float64(c)/draws-pmf[i]) > 64.0/draws {
						t.Errorf("point %d light %d (kind %d): chosen %d times of %d, probability %v", k, i, s.lights[i].kind, c, draws, pmf[i])
					}
				}
			}
		})
	}
}

// TestLightChoiceSkipsWhatCannotLight: a one-sided quad light facing away
// from the point, a point light below the surface, and a spot pointing
// elsewhere get no samples; a light the point sees does.
func TestLightChoiceSkipsWhatCannotLight(t *testing.T) {
	s := manyLightsScene(t, false)
	for i := range s.lights {
		l := &s.lights[i]
		if l.kind == lightPunctual || l.kind == lightSun {
			continue
		}
		if l.kind != lightRect || l.twoSided {
			continue
		}
		// A point behind the quad, facing it: it sees the quad's back.
		p := l.c.Sub(l.n.Scale(0.01))
		if got := s.lightPMF(int32(i), p, l.n); got != 0 {
			t.Errorf("light %d chosen with probability %v from behind", i, got)
		}
		// In front, facing it: some.
		q := l.c.Add(l.n)
		if got := s.lightPMF(int32(i), q, l.n.Neg()); !(got > 0) {
			t.Errorf("light %d chosen with probability %v from the front", i, got)
		}
	}
	for i := range s.lights {
		l := &s.lights[i]
		if l.kind != lightPunctual {
			continue
		}
		pl := &s.punctual[l.punct]
		// Straight below a point or spot, the surface facing down.
		if got := s.lightPMF(int32(i), pl.pos.Add(V(0, -1, 0)), V(0, -1, 0)); got != 0 {
			t.Errorf("punctual light %d chosen with probability %v by a surface facing away", i, got)
		}
		if pl.kind == lightSpot {
			// Beside the spot, outside its cone, facing it.
			side := pl.pos.Add(V(3, 0.1, 0))
			if got := s.lightPMF(int32(i), side, V(-1, 0, 0)); got != 0 {
				t.Errorf("spot chosen with probability %v outside its cone", got)
			}
		}
	}
}
