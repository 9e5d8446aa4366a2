package render

import (
	"math"
	"slices"
)

// What next-event estimation samples: the scene's lights, each sampled by
// the solid angle it subtends where that pays (light sampling), chosen by
// their estimated contribution at the shading point (lighttree.go).

// lightKind says how a light is sampled.
type lightKind uint8

const (
	lightTriangle lightKind = iota // an emissive triangle: its spherical triangle
	lightRect                      // an emissive rectangle (a quad, or two triangles of a mesh): its spherical rectangle
	lightQuad                      // an emissive parallelogram that is no rectangle: by area
	lightSphere                    // an emissive sphere: the cone of directions it subtends
	lightPunctual                  // a punctual point or spot light
	lightSun                       // a punctual directional light
	lightEnv                       // the environment map
)

// light is one light of the scene.
type light struct {
	kind     lightKind
	twoSided bool
	textured bool  // the emission is a pbr material's emissive texture times le
	sh       shape // an area light's geometry: triangle (p, p+e1, p+e2), rectangle or parallelogram, sphere
	n        Vec   // unit normal of the front side (triangles and quads)
	ux, uy   Vec   // a rectangle's unit edges (along e1, e2)
	c        Vec   // the centroid
	area     float64
	le       Vec     // emitted radiance of an area light
	phi      float64 // the most radiant intensity (luminance) it emits in a direction, W/sr; a sun's irradiance
	mat      int32   // the material of a textured light
	tri      int32   // a triangle's primitive (leaf order), for its texture coordinates, or -1
	punct    int32   // a punctual light's index into Scene.punctual
	// The light tree's choices from the root to the light's leaf: bit k
	// set when the second child was taken at depth k.
	trail uint64
	depth uint8
}

// solidAngleMin is the solid angle (estimated as area × cosine / distance²)
// below which a triangle or rectangle is sampled by area rather than by
// solid angle: where a light is small or far, both densities are nearly the
// same, and sampling by area costs a fifth as much.
const solidAngleMin = 0.1

// bySolidAngle reports whether the area light l is sampled by solid angle
// from p: where its estimated solid angle area × cos / d² exceeds
// solidAngleMin. Sampling and the density use the same decision.
func (l *light) bySolidAngle(p Vec) bool {
	dc := l.c.Sub(p)
	d2 := dc.Dot(dc)
	if d2*solidAngleMin >= l.area {
		return false // area/d² alone is below the least
	}
	a := l.area * l.n.Dot(dc)
	return a*a > solidAngleMin*solidAngleMin*d2*d2*d2
}

// rectFrame returns the rectangle's corner in the frame of p (x, y along
// the unit edges, z along axis, the normal turned away from p) and axis.
// It reports false when p is behind a one-sided rectangle or in its plane.
func (l *light) rectFrame(p Vec) (x0, y0, z0 float64, axis Vec, ok bool) {
	d := l.sh.p.Sub(p)
	x0, y0, z0, axis = d.Dot(l.ux), d.Dot(l.uy), d.Dot(l.n), l.n
	if z0 >= 0 {
		if !l.twoSided || z0 == 0 {
			return 0, 0, 0, axis, false
		}
		z0, axis = -z0, axis.Neg()
	}
	return x0, y0, z0, axis, true
}

// rectWeights are the bilinear warp's corner weights of a rectangle seen
// from p with shading normal ns: the cosines to its corners.
func rectWeights(r *sphRect, ns Vec) [4]float64 {
	c := func(x, y, l float64) float64 { return max(minCornerCos, (ns.X*x+ns.Y*y+ns.Z*r.z0)/l) }
	return [4]float64{c(r.x0, r.y0, r.l00), c(r.x1, r.y0, r.l10), c(r.x0, r.y1, r.l01), c(r.x1, r.y1, r.l11)}
}

// triDirs returns the unit directions from p to the triangle's vertices
// and reports false when p is behind a one-sided triangle or a vertex.
func (l *light) triDirs(p Vec) (a, b, c Vec, ok bool) {
	d0 := l.sh.p.Sub(p)
	if side := d0.Dot(l.n); side >= 0 && (!l.twoSided || side == 0) {
		return a, b, c, false
	}
	d1, d2 := d0.Add(l.sh.e1), d0.Add(l.sh.e2)
	a, b, c = d0.Norm(), d1.Norm(), d2.Norm()
	return a, b, c, !a.IsZero() && !b.IsZero() && !c.IsZero()
}

// triWeights are the warp's corner weights for a spherical triangle: (0,0)
// and (1,0) map to b, (0,1) to a, (1,1) to c.
func triWeights(a, b, c, ns Vec) [4]float64 {
	wb := max(minCornerCos, ns.Dot(b))
	return [4]float64{wb, wb, max(minCornerCos, ns.Dot(a)), max(minCornerCos, ns.Dot(c))}
}

// sampleArea chooses a point of area light l (triangle, rectangle or
// parallelogram) as seen from p, whose shading normal ns the warp of a
// solid-angle sample follows: the unit direction, the distance, the
// surface coordinates of the point (for a textured triangle's texel) and
// the solid-angle density. It reports false when no point can be seen.
func (l *light) sampleArea(p, ns Vec, u1, u2 float64) (wi Vec, dist, a, b, pdf float64, ok bool) {
	switch l.kind {
	case lightRect:
		if !l.bySolidAngle(p) {
			break
		}
		x0, y0, z0, axis, ok := l.rectFrame(p)
		if !ok {
			return wi, 0, 0, 0, 0, false
		}
		r, ok := newSphRect(x0, y0, z0, l.sh.e1.Len(), l.sh.e2.Len())
		if !ok {
			return wi, 0, 0, 0, 0, false
		}
		w := rectWeights(&r, Vec{X: ns.Dot(l.ux), Y: ns.Dot(l.uy), Z: ns.Dot(axis)})
		s, t := bilinearWarp(u1, u2, &w)
		x, y := r.sample(s, t)
		v := l.ux.Scale(x).AddScaled(l.uy, y).AddScaled(axis, z0)
		dist = v.Len()
		return v.Scale(1 / dist), dist, 0, 0, bilinearPdf(s, t, w) / r.area, true
	case lightTriangle:
		if !l.bySolidAngle(p) {
			break
		}
		va, vb, vc, ok := l.triDirs(p)
		if !ok {
			return wi, 0, 0, 0, 0, false
		}
		st, ok := newSphTri(va, vb, vc)
		if !ok {
			return wi, 0, 0, 0, 0, false
		}
		w := triWeights(va, vb, vc, ns)
		s, t := bilinearWarp(u1, u2, &w)
		wi = st.sample(s, t)
		// The distance to the triangle's plane along wi.
		cos := wi.Dot(l.n)
		dist = l.sh.p.Sub(p).Dot(l.n) / cos
		if !(dist > 0) || math.IsInf(dist, 1) {
			return wi, 0, 0, 0, 0, false
		}
		if l.textured {
			a, b = l.barycentrics(p.AddScaled(wi, dist))
		}
		return wi, dist, a, b, bilinearPdf(s, t, w) / st.area, true
	}
	// By area: uniform on the surface.
	var q Vec
	if l.kind == lightTriangle {
		su := math.Sqrt(u1)
		a, b = su*(1-u2), su*u2
	} else {
		a, b = u1, u2
	}
	q = l.sh.p.AddScaled(l.sh.e1, a).AddScaled(l.sh.e2, b)
	d := q.Sub(p)
	cosL := d.Dot(l.n)
	if cosL >= 0 && !l.twoSided {
		return wi, 0, 0, 0, 0, false // the back of a one-sided light
	}
	d2 := d.Dot(d)
	if d2 == 0 || cosL == 0 {
		return wi, 0, 0, 0, 0, false
	}
	dist = math.Sqrt(d2)
	wi = d.Scale(1 / dist)
	return wi, dist, a, b, d2 * dist / (math.Abs(cosL) * l.area), true
}

// barycentrics returns the weights of a triangle light's second and third
// vertices at the point q of its plane.
func (l *light) barycentrics(q Vec) (a, b float64) {
	n := l.sh.e1.Cross(l.sh.e2)
	k := 1 / n.Dot(n)
	d := q.Sub(l.sh.p)
	return max(0, d.Cross(l.sh.e2).Dot(n)*k), max(0, l.sh.e1.Cross(d).Dot(n)*k)
}

// areaPdf is the solid-angle density with which sampleArea, from p with
// shading normal ns, chooses the unit direction d that meets l at
// distance t.
func (l *light) areaPdf(p, ns, d Vec, t float64) float64 {
	switch l.kind {
	case lightRect:
		if !l.bySolidAngle(p) {
			break
		}
		x0, y0, z0, axis, ok := l.rectFrame(p)
		if !ok {
			return 0
		}
		r, ok := newSphRect(x0, y0, z0, l.sh.e1.Len(), l.sh.e2.Len())
		if !ok {
			return 0
		}
		w := rectWeights(&r, Vec{X: ns.Dot(l.ux), Y: ns.Dot(l.uy), Z: ns.Dot(axis)})
		s, tt := r.invert(d.Dot(l.ux)*t, d.Dot(l.uy)*t)
		return bilinearPdf(s, tt, w) / r.area
	case lightTriangle:
		if !l.bySolidAngle(p) {
			break
		}
		va, vb, vc, ok := l.triDirs(p)
		if !ok {
			return 0
		}
		st, ok := newSphTri(va, vb, vc)
		if !ok {
			return 0
		}
		w := triWeights(va, vb, vc, ns)
		s, tt := st.invert(d)
		return bilinearPdf(s, tt, w) / st.area
	}
	cos := math.Abs(l.n.Dot(d))
	if cos == 0 {
		return 0
	}
	return t * t / (cos * l.area)
}

// sampleSphereLight samples the cone of directions a sphere subtends from p.
func sampleSphereLight(pr *shape, p Vec, u1, u2 float64) (wi Vec, dist, pdf float64, ok bool) {
	d := pr.p.Sub(p)
	d2 := d.Dot(d)
	r2 := pr.r * pr.r
	if d2 <= r2 {
		return wi, 0, 0, false // inside the light: left to BSDF sampling
	}
	dc := math.Sqrt(d2)
	sin2max := r2 / d2
	cosMax := math.Sqrt(max(0, 1-sin2max))
	cos := 1 - u1*(1-cosMax)
	sin := math.Sqrt(max(0, 1-cos*cos))
	sp, cp := sincos2pi(u2)
	fr := newFrame(d.Scale(1 / dc))
	wi = fr.toWorld(Vec{X: sin * cp, Y: sin * sp, Z: cos})
	// Distance to the near intersection with the sphere along wi.
	b := dc * cos
	disc := r2 - (d2 - b*b)
	dist = b - math.Sqrt(max(0, disc))
	return wi, dist, 1 / (2 * math.Pi * (1 - cosMax)), cosMax < 1
}

// spherePdf is the density of sampleSphereLight's directions from p.
func spherePdf(pr *shape, p Vec) float64 {
	d2 := pr.p.Sub(p).Dot(pr.p.Sub(p))
	r2 := pr.r * pr.r
	if d2 <= r2 {
		return 0
	}
	cosMax := math.Sqrt(max(0, 1-r2/d2))
	if cosMax >= 1 {
		return 0
	}
	return 1 / (2 * math.Pi * (1 - cosMax))
}

// lightSample is a point on a light seen from a shading point.
type lightSample struct {
	wi   Vec     // unit direction from the shading point to the light
	dist float64 // distance to the point on the light (+Inf for a directional light)
	le   Vec     // emitted radiance; for a punctual light, the irradiance it gives normal to wi
	pdf  float64 // solid-angle density, light choice included; a punctual light's: the choice only
}

// sampleLight chooses a light by its estimated contribution at p (u0) and
// a point on it (u1, u2), as seen from a surface of geometric normal ng (on
// the viewer's side) and shading normal ns. delta says a punctual light
// was chosen, which no BSDF sample can hit.
func (s *sceneData) sampleLight(p, ng, ns Vec, u0, u1, u2 float64) (ls lightSample, delta, ok bool) {
	li, pick := int32(0), 1.0
	if len(s.lights) > 1 {
		if li, pick = s.chooseLight(p, ng, u0); li < 0 {
			return ls, false, false
		}
	}
	l := &s.lights[li]
	switch l.kind {
	case lightEnv:
		ls, ok = s.env.sample(pick, u1, u2)
		return ls, false, ok
	case lightPunctual, lightSun:
		ls, ok = s.punctual[l.punct].sample(p, pick)
		return ls, true, ok
	case lightSphere:
		wi, dist, pdf, ok := sampleSphereLight(&l.sh, p, u1, u2)
		return lightSample{wi: wi, dist: dist, le: l.le, pdf: pick * pdf}, false, ok
	}
	wi, dist, a, b, pdf, ok := l.sampleArea(p, ns, u1, u2)
	if !ok {
		return ls, false, false
	}
	le := l.le
	if l.textured {
		le = le.Mul(s.emissionTexel(&s.materials[l.mat], l.tri, a, b))
	}
	return lightSample{wi: wi, dist: dist, le: le, pdf: pick * pdf}, false, true
}

// vertex is what the MIS weight of a light that a BSDF sample hits needs
// of the vertex the sample left: the point, its geometric normal on the
// viewer's side and its shading normal.
type vertex struct{ p, ng, ns Vec }

// lightPdf is the solid-angle density with which sampleLight, at vertex v,
// would have chosen the point at distance t along unit direction d on
// primitive i.
func (s *sceneData) lightPdf(i int32, v *vertex, d Vec, t float64) float64 {
	li := s.info[i].light
	if li < 0 {
		return 0
	}
	l := &s.lights[li]
	pick := 1.0
	if len(s.lights) > 1 {
		if pick = s.lightPMF(li, v.p, v.ng); pick == 0 {
			return 0
		}
	}
	if l.kind == lightSphere {
		return pick * spherePdf(&l.sh, v.p)
	}
	return pick * l.areaPdf(v.p, v.ns, d, t)
}

// indexLights builds the table of lights that next-event estimation
// samples and the tree that chooses among them: emissive primitives, then
// punctual lights (unless each is sampled at every vertex), then the
// environment. With writeInfo it finds the primitives' lights (after
// finishShapes: s.order) and records each primitive's light in s.info;
// without, the primitives are the still's (a frame whose punctual lights
// moved) and so are their lights, which keep their places.
func (s *sceneData) indexLights(writeInfo bool) {
	if writeInfo {
		s.lights = s.areaLightsOf(s.order)
		s.order = nil
	} else {
		s.lights = slices.Clone(s.still.lights[:s.still.areaLights])
	}
	s.areaLights = len(s.lights)
	s.suns, s.envLight, s.envPick = nil, -1, 0
	s.eachPunctual = len(s.punctual) > 0 && len(s.punctual) <= maxEachPunctual
	if !s.eachPunctual {
		for i := range s.punctual {
			pl := &s.punctual[i]
			lum := pl.intensity.Luminance()
			if !(lum > 0) || math.IsInf(lum, 0) {
				continue
			}
			l := light{kind: lightPunctual, punct: int32(i), mat: -1, tri: -1, phi: lum}
			if pl.kind == lightDirectional {
				l.kind = lightSun
				s.suns = append(s.suns, int32(len(s.lights)))
			}
			s.lights = append(s.lights, l)
		}
	}
	s.lightTree, s.lightFlat = nil, nil
	if len(s.lights) <= flatLights {
		s.lightFlat = make([]lightBounds, len(s.lights))
		for i := range s.lights {
			if l := &s.lights[i]; l.kind != lightSun {
				s.lightFlat[i] = s.lightBoundsOf(l)
			}
		}
	} else {
		var ids []int32
		var bs []lightBounds
		for i := range s.lights {
			if l := &s.lights[i]; l.kind != lightSun {
				ids = append(ids, int32(i))
				bs = append(bs, s.lightBoundsOf(l))
			}
		}
		s.lightTree = buildLightTree(s.lights, ids, bs)
	}
	if s.env != nil && s.env.power > 0 {
		s.envPick = 1
		if len(s.lights) > 0 {
			s.envPick = envShare
		}
		s.envLight = int32(len(s.lights))
		s.lights = append(s.lights, light{kind: lightEnv, punct: -1, mat: -1, tri: -1})
	}
}

// lightBoundsOf returns what the light tree knows of light l (an area or
// a positioned punctual light).
func (s *sceneData) lightBoundsOf(l *light) lightBounds {
	switch l.kind {
	case lightPunctual:
		pl := &s.punctual[l.punct]
		if pl.kind == lightSpot {
			cosIn := min(1, pl.cosOuter+1/pl.scale)
			cosE := math.Cos(math.Acos(pl.cosOuter) - math.Acos(cosIn))
			return lightBounds{lo: pl.pos, hi: pl.pos, w: pl.dir, cosO: cosIn, cosE: cosE, phi: l.phi}
		}
		return lightBounds{lo: pl.pos, hi: pl.pos, w: Vec{Z: 1}, cosO: -1, phi: l.phi}
	case lightSphere:
		lo, hi := l.sh.bounds()
		return lightBounds{lo: lo, hi: hi, w: Vec{Z: 1}, cosO: -1, phi: l.phi, twoSided: true}
	}
	lo, hi := l.sh.bounds()
	return lightBounds{lo: lo, hi: hi, w: l.n, cosO: 1, cosE: 0, phi: l.phi, front: l.c.Dot(l.n), twoSided: l.twoSided}
}

// areaLightsOf returns the lights of the scene's emissive primitives and
// records each primitive's light in s.info; order[slot] is the index of
// the primitive at slot as the scene loaded it (two triangles in a row
// there that make a rectangle are one light).
func (s *sceneData) areaLightsOf(order []int32) []light {
	slotOf := make([]int32, len(order))
	for slot, i := range order {
		slotOf[i] = int32(slot)
	}
	for i := range s.info {
		s.info[i].light = -1
	}
	var lights []light
	for i := 0; i < len(order); i++ {
		slot := slotOf[i]
		inf := &s.info[slot]
		m := &s.materials[inf.mat]
		if m.kind != matEmissive && m.kind != matPBR {
			continue
		}
		lum := m.emission.Luminance()
		textured := m.kind == matPBR && m.pbr.emTex.img >= 0
		if textured {
			lum *= s.images[m.pbr.emTex.img].meanLuminance()
		}
		if !(lum > 0) || math.IsInf(lum, 0) {
			continue
		}
		geom := s.shapeOf(int(slot))
		sh := &geom
		n, area := sh.normalArea()
		tri := int32(-1)
		if sh.kind == primTriangle {
			tri = slot
		}
		l := light{sh: *sh, n: n, area: area, le: m.emission, twoSided: m.twoSided,
			textured: textured, mat: inf.mat, tri: tri, punct: -1}
		inf.light = int32(len(lights))
		switch sh.kind {
		case primSphere:
			l.kind, l.c = lightSphere, sh.p
			// The intensity of a sphere: its radiance times its disc.
			l.phi = lum * math.Pi * sh.r * sh.r
			lights = append(lights, l)
			continue
		case primQuad:
			l.kind = lightQuad
			if isRectangle(sh.e1, sh.e2) {
				l.kind = lightRect
			}
		default:
			l.kind = lightTriangle
			// Two triangles of one mesh and material in a row that
			// make a rectangle (a quad of the file, cut in two) are
			// one light, sampled as a rectangle.
			if i+1 < len(order) && !textured {
				next := slotOf[i+1]
				if s.info[next].mat == inf.mat && s.info[next].kind == primTriangle {
					nsh := s.shapeOf(int(next))
					if r, ok := rectangleOf(sh, &nsh, n); ok {
						l.kind, l.sh, l.area = lightRect, r, r.e1.Len()*r.e2.Len()
						s.info[next].light = inf.light
						i++
					}
				}
			}
		}
		if l.kind == lightTriangle {
			l.c = l.sh.p.Add(l.sh.e1.Add(l.sh.e2).Scale(1.0 / 3))
		} else {
			l.c = l.sh.p.Add(l.sh.e1.Add(l.sh.e2).Scale(0.5))
			l.ux, l.uy = l.sh.e1.Norm(), l.sh.e2.Norm()
		}
		// The intensity along the normal: radiance times area.
		l.phi = lum * l.area
		lights = append(lights, l)
	}
	return lights
}

// isRectangle reports whether edges e1 and e2 meet at a right angle, to
// rounding.
func isRectangle(e1, e2 Vec) bool {
	return math.Abs(e1.Dot(e2)) <= 1e-9*e1.Len()*e2.Len()
}

// rectangleOf returns the rectangle that triangles a and b make together,
// when they share an edge, their other corners complete a rectangle and
// they face the same side n: its corner and edges, e1×e2 along n.
func rectangleOf(a, b *shape, n Vec) (shape, bool) {
	va := [3]Vec{a.p, a.p.Add(a.e1), a.p.Add(a.e2)}
	vb := [3]Vec{b.p, b.p.Add(b.e1), b.p.Add(b.e2)}
	scale := a.e1.Len() + a.e2.Len()
	near := func(x, y Vec) bool { return x.Sub(y).Len() <= 1e-9*scale }
	// The corner of a that b lacks, and the one of b that a lacks.
	ua, ub, shared := -1, -1, 0
	for i := range 3 {
		found := false
		for j := range 3 {
			if near(va[i], vb[j]) {
				found = true
			}
		}
		if found {
			shared++
		} else {
			ua = i
		}
	}
	for j := range 3 {
		found := false
		for i := range 3 {
			if near(va[i], vb[j]) {
				found = true
			}
		}
		if !found {
			ub = j
		}
	}
	if shared != 2 || ua < 0 || ub < 0 {
		return shape{}, false
	}
	u := va[ua]
	d0, d1 := va[(ua+1)%3], va[(ua+2)%3]
	if !near(u.Add(vb[ub]), d0.Add(d1)) {
		return shape{}, false
	}
	e1, e2 := d0.Sub(u), d1.Sub(u)
	if !isRectangle(e1, e2) {
		return shape{}, false
	}
	bn := b.e1.Cross(b.e2)
	if e1.Cross(e2).Dot(n) < 0 {
		e1, e2 = e2, e1
	}
	if bn.Dot(n) <= 0 {
		return shape{}, false // the two face opposite sides
	}
	return shape{kind: primQuad, p: u, e1: e1, e2: e2}, true
}
