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
	lights     []light         // what next-event estimation samples (arealight.go)
	lightTree  []lightNode     // the lights with a position, for choosing among them (lighttree.go)
	lightFlat  []lightBounds   // or, with few lights, each light's bounds (a sun's unused)
	suns       []int32         // the directional lights among lights, chosen beside the tree
	envLight   int32           // the environment map's index in lights, or -1
	areaLights int             // lights[:areaLights] are emissive primitives
	order      []int32         // finishShapes' order[slot]: the primitive as loaded, until indexLights
	punctual   []punctualLight // KHR_lights_punctual lights, sampled through lights
	images     []*texImage     // pbr materials' textures
	cutouts    bool            // some material has alpha cut-outs
	seeThrough bool            // cut-outs or glass: shadow rays look at what they hit (tracer.seeThrough)
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

// maxEachPunctual is the most punctual lights a scene may have for every one
// of them to be sampled at every vertex. A few spots and a sun are the rule
// in a glTF scene, and sampling each costs a shadow ray but none of the
// noise of choosing: a narrow spot emits little power in all, and chosen by
// power it would be sampled too rarely where it shines (the still life's
// Suzanne was grainy so). Chosen by their estimated contribution instead
// (lighttree.go), the still life's three punctual lights and panel take
// 0.57x the rays a sample and 0.70x the CPU time, but have 3.3x the
// variance (160x100, 64 spp, against 4096 spp): the estimate knows neither
// shadows nor glossy lobes, and a light seen in a highlight but chosen
// rarely makes fireflies. Beyond 8 they join the other lights, chosen by
// their estimated contribution.
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
	s.order = order
}

// prim returns primitive i (BVH leaf order) in its intersection form.
func (s *sceneData) prim(i int) prim {
	return prim{primGeo: s.geo[i], primBary: s.bary[i], kind: s.shapes[i].kind}
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
