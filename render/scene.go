package render

import (
	"math"
	"time"
)

// Scene fields. The public methods are in api.go.
type sceneData struct {
	shapes     []shape    // in BVH leaf order once built
	geo        []primGeo  // the shapes' intersection form (see prim), same order
	bary       []primBary // same order
	info       []primInfo // same order
	tris       []triShading
	tangents   []triTangents
	planes     []plane
	bvh        bvh
	materials  []material
	textures   []*texture
	lights     []light
	punctual   []punctualLight // KHR_lights_punctual lights, sampled through lights
	lightCDF   []float64       // lightCDF[i] is the probability of choosing a light < i+1
	images     []*texImage     // pbr materials' textures
	cutouts    bool            // some material has alpha cut-outs
	seeThrough bool            // cut-outs or glass: shadow rays look at what they hit (tracer.seeThrough)
	full       bool            // pbr materials or punctual lights: paths are traced by radianceFull
	// eachPunctual: every punctual light is sampled at every vertex (a
	// shadow ray each) rather than chosen among the lights.
	eachPunctual bool
	warnings     []string // what the loader ignored, one line per file
	camera       cameraSpec
	settings     Settings
	background   Vec
	env          *envMap // nil: escaping rays see background
	envPick      float64 // probability that light sampling chooses env
	triangles    int     // triangles from meshes, for limits and statistics
	lim          Limits  // as loaded (defaults filled): what RenderTile accepts
	stats        SceneStats

	anim      *sceneAnim  // what moves from frame to frame; nil: nothing (frame.go)
	frames    *frameCache // the still's: its frames' scenes, shared by every worker
	still     *sceneData  // a frame's: the scene it is a frame of; nil for the still
	frameSeed uint64      // what the frame adds to every pixel's seed; 0 for the still
}

// light is what next-event estimation samples: an emissive primitive, a
// punctual light or the environment map.
type light struct {
	prim int32   // index into prims; lightEnv or lightPunctual
	aux  int32   // a punctual light's index into punctual; 1 for a primitive whose emission is textured
	pick float64 // probability of choosing this light
}

// light.prim of the lights that are not primitives.
const (
	lightEnv      = -1
	lightPunctual = -2
)

// maxEachPunctual is the most punctual lights a scene may have for every one
// of them to be sampled at every vertex. A few spots and a sun are the rule
// in a glTF scene, and sampling each costs a shadow ray but none of the
// noise of choosing: a narrow spot emits little power in all, and chosen by
// power it would be sampled too rarely where it shines (the still life's
// Suzanne was grainy so). More lights than this join the others, chosen
// by power.
const maxEachPunctual = 8

// envShare is the probability of sampling the environment map when the
// scene also has emissive surfaces: their powers and the map's are not
// comparable without knowing how much of the map the scene sees.
const envShare = 0.5

// finish builds the BVH over the primitives, reorders them to leaf order
// and indexes the lights: the still is ready to render. A scene that moves
// keeps its primitives as they were before the reordering, for its frames.
func (s *sceneData) finish() {
	start := time.Now()
	defer func() {
		s.stats.Triangles, s.stats.Primitives, s.stats.Build = s.triangles, len(s.geo), time.Since(start)
	}()
	if s.anim != nil && len(s.anim.movers) > 0 {
		s.anim.shapes, s.anim.info = s.shapes, s.info
	}
	s.finishShapes()
	s.indexLights(true)
	s.frames = &frameCache{}
}

// finishShapes builds the BVH over the primitives and reorders them to leaf
// order.
func (s *sceneData) finishShapes() {
	tree, order := buildBVH(s.shapes)
	shapes := make([]shape, len(order))
	geo := make([]primGeo, len(order))
	bary := make([]primBary, len(order))
	info := make([]primInfo, len(order))
	for slot, i := range order {
		shapes[slot], info[slot] = s.shapes[i], s.info[i]
		p := shapes[slot].prim()
		geo[slot], bary[slot] = p.primGeo, p.primBary
	}
	s.shapes, s.geo, s.bary, s.info, s.bvh = shapes, geo, bary, info, tree

	for i := range s.materials {
		if pm := s.materials[i].pbr; pm != nil && pm.transmission > 0 {
			s.seeThrough = true
		}
	}
	s.seeThrough = s.seeThrough || s.cutouts
	s.full = s.seeThrough || len(s.punctual) > 0
	for i := range s.materials {
		s.full = s.full || s.materials[i].kind == matPBR
	}
}

// indexLights builds the table of lights that next-event estimation
// chooses from: emissive primitives, then punctual lights (when there are
// more than maxEachPunctual), then the environment. With writeInfo it
// records each primitive's light in s.info; without, s.info already holds
// them (a frame whose primitives are the still's, whose punctual lights
// moved: the primitives' lights come first and keep their places).
func (s *sceneData) indexLights(writeInfo bool) {
	s.full = s.full || len(s.punctual) > 0
	var power []float64
	total := 0.0
	s.lights = s.lights[:0]
	for i := range s.info {
		if writeInfo {
			s.info[i].light = -1
		}
		m := &s.materials[s.info[i].mat]
		if m.kind != matEmissive && m.kind != matPBR {
			continue
		}
		// Power over π: luminance times area.
		pw := m.emission.Luminance() * s.info[i].area
		textured := int32(0)
		if m.kind == matPBR && m.pbr.emTex.img >= 0 {
			pw *= s.images[m.pbr.emTex.img].meanLuminance()
			textured = 1
		}
		if !(pw > 0) || math.IsInf(pw, 0) {
			continue
		}
		if writeInfo {
			s.info[i].light = int32(len(s.lights))
		}
		s.lights = append(s.lights, light{prim: int32(i), aux: textured})
		power = append(power, pw)
		total += pw
	}
	s.eachPunctual = len(s.punctual) > 0 && len(s.punctual) <= maxEachPunctual
	if len(s.punctual) > 0 && !s.eachPunctual {
		radius := s.boundingRadius()
		for i := range s.punctual {
			pw := s.punctual[i].power(radius)
			if !(pw > 0) || math.IsInf(pw, 0) {
				continue
			}
			s.lights = append(s.lights, light{prim: lightPunctual, aux: int32(i)})
			power = append(power, pw)
			total += pw
		}
	}
	share := 1.0 // of the surfaces' and punctual lights' among all lights
	s.envPick = 0
	if s.env != nil && s.env.power > 0 {
		s.envPick = 1
		if len(s.lights) > 0 {
			share, s.envPick = 1-envShare, envShare
		}
	}
	s.lightCDF = make([]float64, len(s.lights), len(s.lights)+1)
	acc := 0.0
	for i, pw := range power {
		s.lights[i].pick = share * pw / total
		acc += pw
		s.lightCDF[i] = share * acc / total
	}
	if s.envPick > 0 {
		s.lights = append(s.lights, light{prim: lightEnv, pick: s.envPick})
		s.lightCDF = append(s.lightCDF, 1)
	}
	if n := len(s.lightCDF); n > 0 {
		s.lightCDF[n-1] = 1
	}
}

// prim returns primitive i (BVH leaf order) in its intersection form.
func (s *sceneData) prim(i int) prim {
	return prim{primGeo: s.geo[i], primBary: s.bary[i], kind: s.shapes[i].kind}
}

// pickLight returns the index of the light that u in [0,1) selects: the
// first whose cumulative probability exceeds u (the last if rounding left
// none).
func (s *sceneData) pickLight(u float64) int { return firstAbove(s.lightCDF, u) }

// lightSample is a point on a light seen from a shading point.
type lightSample struct {
	wi   Vec     // unit direction from the shading point to the light
	dist float64 // distance to the point on the light (+Inf for a directional light)
	le   Vec     // emitted radiance; for a punctual light, the irradiance it gives normal to wi
	pdf  float64 // solid-angle density, light choice included; a punctual light's: the choice only
}

// sampleLight chooses a point on a light as seen from p, in a scene
// without punctual lights or textured emission (sceneData.full: those take
// sampleLightFull).
func (s *sceneData) sampleLight(p Vec, u0, u1, u2 float64) (lightSample, bool) {
	l := &s.lights[s.pickLight(u0)]
	if l.prim < 0 {
		return s.env.sample(l.pick, u1, u2)
	}
	pr := &s.shapes[l.prim]
	inf := &s.info[l.prim]
	le := s.materials[inf.mat].emission
	var q, n Vec
	switch pr.kind {
	case primSphere:
		return sampleSphereLight(pr, p, le, l.pick, u1, u2)
	case primQuad:
		q = pr.p.AddScaled(pr.e1, u1).AddScaled(pr.e2, u2)
	default:
		su := math.Sqrt(u1)
		q = pr.p.AddScaled(pr.e1, su*(1-u2)).AddScaled(pr.e2, su*u2)
	}
	n = inf.n
	d := q.Sub(p)
	if d.Dot(n) >= 0 && !s.materials[inf.mat].twoSided {
		return lightSample{}, false // the back of a one-sided light
	}
	d2 := d.Dot(d)
	if d2 == 0 {
		return lightSample{}, false
	}
	dist := math.Sqrt(d2)
	wi := d.Scale(1 / dist)
	cos := math.Abs(n.Dot(wi))
	if cos == 0 {
		return lightSample{}, false
	}
	return lightSample{wi: wi, dist: dist, le: le, pdf: l.pick * d2 / (cos * inf.area)}, true
}

// sampleLightFull is sampleLight for any scene: it samples punctual lights
// too (delta says one was chosen: no BSDF sample can hit it) and reads the
// emissive textures of pbr materials.
func (s *sceneData) sampleLightFull(p Vec, u0, u1, u2 float64) (ls lightSample, delta, ok bool) {
	l := &s.lights[s.pickLight(u0)]
	if l.prim == lightPunctual {
		ls, ok = s.punctual[l.aux].sample(p, l.pick)
		return ls, true, ok
	}
	if ls, ok = s.sampleLight(p, u0, u1, u2); ok && l.aux != 0 {
		// The point sampleLight chose on the triangle (the same numbers).
		su := math.Sqrt(u1)
		inf := &s.info[l.prim]
		ls.le = ls.le.Mul(s.emissionTexel(&s.materials[inf.mat], inf.tri, su*(1-u2), su*u2))
	}
	return ls, false, ok
}

// sampleSphereLight samples the cone of directions a sphere subtends from p.
func sampleSphereLight(pr *shape, p, le Vec, pick, u1, u2 float64) (lightSample, bool) {
	d := pr.p.Sub(p)
	d2 := d.Dot(d)
	r2 := pr.r * pr.r
	if d2 <= r2 {
		return lightSample{}, false // inside the light: left to BSDF sampling
	}
	dc := math.Sqrt(d2)
	sin2max := r2 / d2
	cosMax := math.Sqrt(max(0, 1-sin2max))
	cos := 1 - u1*(1-cosMax)
	sin := math.Sqrt(max(0, 1-cos*cos))
	sp, cp := sincos2pi(u2)
	fr := newFrame(d.Scale(1 / dc))
	wi := fr.toWorld(Vec{X: sin * cp, Y: sin * sp, Z: cos})
	// Distance to the near intersection with the sphere along wi.
	b := dc * cos
	disc := r2 - (d2 - b*b)
	dist := b - math.Sqrt(max(0, disc))
	return lightSample{wi: wi, dist: dist, le: le, pdf: pick / (2 * math.Pi * (1 - cosMax))}, cosMax < 1
}

// lightPdf is the solid-angle density with which sampleLight would have
// chosen the point at distance t along direction d from p on primitive i.
func (s *sceneData) lightPdf(i int32, p, d Vec, t float64) float64 {
	inf := &s.info[i]
	if inf.light < 0 {
		return 0
	}
	pick := s.lights[inf.light].pick
	pr := &s.shapes[i]
	if pr.kind == primSphere {
		d2 := pr.p.Sub(p).Dot(pr.p.Sub(p))
		r2 := pr.r * pr.r
		if d2 <= r2 {
			return 0
		}
		cosMax := math.Sqrt(max(0, 1-r2/d2))
		if cosMax >= 1 {
			return 0
		}
		return pick / (2 * math.Pi * (1 - cosMax))
	}
	cos := math.Abs(inf.n.Dot(d))
	if cos == 0 {
		return 0
	}
	return pick * t * t / (cos * inf.area)
}

// surface is what shading needs to know about a hit.
type surface struct {
	p      Vec     // the point
	ng, ns Vec     // unit geometric and shading normals on the front side
	u, v   float64 // texture coordinates (0 on a sphere without a texture)
	mat    int32
}

// surfaceAt fills the surface of hit h along r.
func (s *sceneData) surfaceAt(r *Ray, h *hit, sf *surface) {
	sf.p = r.At(h.t)
	if h.prim < -1 {
		pl := &s.planes[-h.prim-2]
		sf.ng, sf.ns, sf.mat = pl.n, pl.n, pl.mat
		q := sf.p.Sub(pl.p)
		sf.u, sf.v = q.Dot(pl.u), q.Dot(pl.v)
		return
	}
	pr := &s.shapes[h.prim]
	inf := &s.info[h.prim]
	sf.mat = inf.mat
	switch pr.kind {
	case primSphere:
		n := sf.p.Sub(pr.p).Scale(1 / pr.r)
		sf.ng, sf.ns = n, n
		sf.u, sf.v = 0, 0
		if s.materials[inf.mat].tex >= 0 { // only a texture reads them
			sf.u = 0.5 + math.Atan2(n.Z, n.X)/(2*math.Pi)
			sf.v = 0.5 + math.Asin(max(-1, min(1, n.Y)))/math.Pi
		}
	case primQuad:
		sf.ng, sf.ns = inf.n, inf.n
		sf.u, sf.v = h.a, h.b
	default:
		sf.ng, sf.ns = inf.n, inf.n
		sf.u, sf.v = h.a, h.b
		if inf.tri >= 0 {
			ts := &s.tris[inf.tri]
			w0 := 1 - h.a - h.b
			if ts.hasN {
				n := ts.n[0].Scale(w0).AddScaled(ts.n[1], h.a).AddScaled(ts.n[2], h.b).Norm()
				if !n.IsZero() {
					if n.Dot(inf.n) < 0 {
						n = n.Neg() // normals that disagree with the winding: keep the side
					}
					sf.ns = n
				}
			}
			if ts.hasUV {
				sf.u = ts.uv[0][0]*w0 + ts.uv[1][0]*h.a + ts.uv[2][0]*h.b
				sf.v = ts.uv[0][1]*w0 + ts.uv[1][1]*h.a + ts.uv[2][1]*h.b
			}
		}
	}
}

// albedoAt returns the material's reflectance at the surface. The common
// case, a plain colour, is small enough to inline.
func (s *sceneData) albedoAt(m *material, sf *surface) Vec {
	if m.tex < 0 && !m.checker {
		return m.albedo
	}
	return s.patternAt(m, sf)
}

// patternAt is albedoAt for a textured or checkered material.
func (s *sceneData) patternAt(m *material, sf *surface) Vec {
	a := m.albedo
	if m.tex >= 0 {
		a = a.Mul(s.textures[m.tex].sample(sf.u, sf.v))
	}
	if m.checker {
		k := math.Floor(sf.p.X/m.cell) + math.Floor(sf.p.Y/m.cell) + math.Floor(sf.p.Z/m.cell)
		if math.Mod(math.Abs(k), 2) == 1 {
			a = m.odd
		}
	}
	return a
}
