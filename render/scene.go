package render

import (
	"math"
	"runtime"
	"time"
)

// Scene fields. The public methods are in api.go.
type sceneData struct {
	// Every bounded primitive is three points of verts (pv: a triangle's
	// vertices, a quad's corner and edges, a sphere's centre and radius in
	// the second's X) and a primInfo; loaders append them (addMesh, addQuad,
	// addSphere) and finish puts them in BVH leaf order and adds geo, the
	// plane that traversal reads first. nrm, uv and tan are mesh vertex
	// attributes, beside verts (zero for points that have none), or nil when
	// no mesh has them.
	verts  []Vec
	nrm    []vec3f
	uv     []vec2f
	tan    []vec4f
	pv     [][3]uint32
	info   []primInfo
	geo    []primGeo
	bary   []primBary // nil for a big scene (see prim)
	planes []plane

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

// bigScene is the number of primitives from which finishShapes collects
// the garbage of loading between its stages.
const bigScene = 1 << 16

// finish builds the BVH over the primitives, reorders them to leaf order
// and indexes the lights: the still is ready to render. A scene that moves
// keeps its primitives as they were before the reordering, for its frames.
func (s *sceneData) finish() {
	start := time.Now()
	defer func() {
		s.stats.Triangles, s.stats.Primitives, s.stats.Build = s.triangles, len(s.geo), time.Since(start)
	}()
	if s.anim != nil && len(s.anim.movers) > 0 {
		s.anim.pv, s.anim.info = s.pv, s.info // finishShapes makes new ones
	}
	s.finishShapes()
	if len(s.info) >= bigScene {
		// What traversal and shading read, in huge pages where Linux gives
		// them: a ray through a big mesh reads nodes and planes scattered
		// over tens of megabytes, more 4 KB pages than the TLB holds.
		hugePages(s.bvh.nodes)
		hugePages(s.geo)
		hugePages(s.bary)
		hugePages(s.pv)
		hugePages(s.verts)
		hugePages(s.info)
		hugePages(s.nrm)
		hugePages(s.uv)
		hugePages(s.tan)
	}
	s.indexLights(true)
	s.frames = &frameCache{}
}

// finishShapes builds the BVH over the primitives and puts them in leaf
// order, into new arrays (the points stay as they are).
func (s *sceneData) finishShapes() {
	// A big scene's parse and build leave temporaries as big as what they
	// make (the files' decoded arrays, the builder's records and binary
	// nodes); collecting them before the next stage allocates (here, and
	// in buildBVH) keeps the peak near what the scene holds, where the
	// collector's own pace would let the heap grow by half again.
	big := len(s.info) >= bigScene
	if big {
		runtime.GC()
	}
	tree, order := buildBVH(len(s.info), s.shapeOf)
	if big {
		runtime.GC()
	}
	s.finishTree(tree, order)
}

// finishTree puts the primitives in the leaf order of tree (order[slot] is
// the primitive as loaded at that slot) and adds what traversal reads.
func (s *sceneData) finishTree(tree bvh, order []int32) {
	s.pv = permute(s.pv, order)
	s.info = permute(s.info, order)
	s.geo = make([]primGeo, len(order))
	s.bary = nil
	if len(order) <= baryMax {
		s.bary = make([]primBary, len(order))
	}
	for i := range s.geo {
		sh := s.shapeOf(i)
		p := sh.prim(s.bary == nil)
		s.geo[i] = p.primGeo
		if s.bary != nil {
			s.bary[i] = p.primBary
		}
	}
	s.bvh = tree
	for i := range s.materials {
		if pm := s.materials[i].pbr; pm != nil && pm.transmission > 0 {
			s.seeThrough = true
		}
	}
	s.seeThrough = s.seeThrough || s.cutouts
	s.order = order
}

// shapeOf returns primitive i's geometry (load order before finish, leaf
// order after): the same values the loader gave, so that bounds and planes
// come out as they would from a copy of the shape.
func (s *sceneData) shapeOf(i int) shape {
	v := &s.pv[i]
	p := s.verts[v[0]]
	switch kind := s.info[i].kind; kind {
	case primSphere:
		return shape{kind: kind, p: p, r: s.verts[v[1]].X}
	case primQuad:
		return shape{kind: kind, p: p, e1: s.verts[v[1]], e2: s.verts[v[2]]}
	default:
		return shape{kind: kind, p: p, e1: s.verts[v[1]].Sub(p), e2: s.verts[v[2]].Sub(p)}
	}
}

// normalArea returns the shape's unit normal (its front side; zero for a
// sphere) and its area.
func (sh *shape) normalArea() (Vec, float64) {
	if sh.kind == primSphere {
		return Vec{}, 4 * math.Pi * sh.r * sh.r
	}
	cr := sh.e1.Cross(sh.e2)
	l := cr.Len()
	if sh.kind == primTriangle {
		return cr.Scale(1 / l), l / 2
	}
	return cr.Scale(1 / l), l
}

// prim returns primitive i (BVH leaf order) in its intersection form, as
// traverse reads it.
func (s *sceneData) prim(i int) prim {
	sh := s.shapeOf(i)
	return sh.prim(s.bary == nil)
}

// normal returns the unit geometric normal of the triangle or quad i (leaf
// order): its front side.
func (s *sceneData) normal(i int32) Vec {
	n := s.geo[i].n
	return n.Scale(1 / n.Len())
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
	inf := &s.info[h.prim]
	sf.mat = inf.mat
	switch inf.kind {
	case primSphere:
		g := &s.geo[h.prim] // its centre and radius
		n := sf.p.Sub(g.n).Scale(1 / g.w)
		sf.ng, sf.ns = n, n
		sf.u, sf.v = 0, 0
		if s.materials[inf.mat].tex >= 0 { // only a texture reads them
			sf.u = 0.5 + math.Atan2(n.Z, n.X)/(2*math.Pi)
			sf.v = 0.5 + math.Asin(max(-1, min(1, n.Y)))/math.Pi
		}
	case primQuad:
		ng := s.normal(h.prim)
		sf.ng, sf.ns = ng, ng
		sf.u, sf.v = h.a, h.b
	default:
		ng := s.normal(h.prim)
		sf.ng, sf.ns = ng, ng
		sf.u, sf.v = h.a, h.b
		if inf.attrs == 0 {
			return
		}
		v := &s.pv[h.prim]
		w0 := 1 - h.a - h.b
		if inf.attrs&hasN != 0 {
			n0, n1, n2 := s.nrm[v[0]].vec(), s.nrm[v[1]].vec(), s.nrm[v[2]].vec()
			if inf.attrs&fixN != 0 {
				n0, n1, n2 = orFace(n0, ng), orFace(n1, ng), orFace(n2, ng)
			}
			n := n0.Scale(w0).AddScaled(n1, h.a).AddScaled(n2, h.b).Norm()
			if !n.IsZero() {
				if n.Dot(ng) < 0 {
					n = n.Neg() // normals that disagree with the winding: keep the side
				}
				sf.ns = n
			}
		}
		if inf.attrs&hasUV != 0 {
			// s.uvAt(v, h.a, h.b), written out: the call cost as much.
			t0, t1, t2 := &s.uv[v[0]], &s.uv[v[1]], &s.uv[v[2]]
			sf.u = float64(t0[0])*w0 + float64(t1[0])*h.a + float64(t2[0])*h.b
			sf.v = float64(t0[1])*w0 + float64(t1[1])*h.a + float64(t2[1])*h.b
		}
	}
}

// orFace is the vertex normal n, or the face normal where n is zero or not
// finite, so that a file with broken normals still shades.
func orFace(n, face Vec) Vec {
	if n.IsZero() || !n.finite() {
		return face
	}
	return n
}

// uvAt interpolates the texture coordinates of the triangle whose points
// are v at barycentrics (a, b).
func (s *sceneData) uvAt(v *[3]uint32, a, b float64) (float64, float64) {
	t0, t1, t2 := &s.uv[v[0]], &s.uv[v[1]], &s.uv[v[2]]
	w0 := 1 - a - b
	return float64(t0[0])*w0 + float64(t1[0])*a + float64(t2[0])*b, float64(t0[1])*w0 + float64(t1[1])*a + float64(t2[1])*b
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
