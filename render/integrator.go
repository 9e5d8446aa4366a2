package render

import (
	"context"
	"image"
	"math"
)

// Russian roulette: from vertex rrDepth on, a path whose throughput (its
// largest channel) is below rrWeight goes on with probability
// throughput/rrWeight, and its throughput is raised to rrWeight if it
// does. Measured on cornell and bunny at depth 8, variance times rays per
// sample is lowest (flat) for weights of 0.25 to 0.35 and starts at 2 to 3:
// 23-29% below the throughput-as-probability roulette (capped at 0.95)
// used before, which ended most paths after three bounces.
const (
	rrDepth  = 3
	rrWeight = 0.25
)

// shadowEnd is where a shadow ray stops, as a fraction of the distance to
// the point it samples on a light: short of the light by a millionth of the
// distance where the box test sees it end (it widens distances by boxSlack),
// so that the light's own box is usually culled rather than entered and its
// primitives tested. The gap also keeps the light from shadowing itself
// through rounding in the distance, except on rare grazing rays.
const shadowEnd = (1 - 1e-6) / boxSlack

// offsetEps returns how far a new ray's origin is moved off the surface at p:
// far above float64 intersection error, far below anything visible.
func offsetEps(p Vec) float64 {
	// The largest magnitude: non-negative floats order like their bits
	// (and a NaN stays NaN, as with max).
	const abs = 1<<63 - 1
	m := max(math.Float64bits(p.X)&abs, math.Float64bits(p.Y)&abs, math.Float64bits(p.Z)&abs)
	return 1e-7 * (1 + math.Float64frombits(m))
}

// offset moves p off a surface along n (the unit normal on the side the
// new ray leaves from) by offsetEps(p).
func offset(p, n Vec) Vec {
	e := offsetEps(p)
	return Vec{X: p.X + n.X*e, Y: p.Y + n.Y*e, Z: p.Z + n.Z*e}
}

// tracer holds what one call of RenderTile needs per path.
type tracer struct {
	s        *sceneData
	maxDepth int
	rays     uint64  // counted here, per call, and summed by the caller
	passes   int     // cut-out texels passed through by the current path
	seg      float64 // distance from the last vertex to the ray's origin, after cut-outs
	ps       pbrSurface
	ph       pbrHit // the BSDF of the pbr material at the current vertex
	stack    traversalStack
}

// splitFirst: a camera sample's path splits at its first (non-delta)
// vertex into this many paths, each carrying 1/splitFirst of its weight,
// after the vertex's light sample, which is taken once. Most of the noise
// of an interior is in the indirect light (on the bunny 97% of the
// variance comes after the first bounce), and a second branch costs only
// its own rays: on cornell and the bunny a sample has 0.56x the variance
// for 1.5-1.6x the time, 1.1-1.2x the efficiency (BENCHMARKS.md, "Equal
// quality beside Cycles"). A delta vertex (mirror, glass) is not split:
// its branches would mostly repeat one another. The branches draw their
// decisions at indices splitFirst*i to splitFirst*i+splitFirst-1 of their
// dimensions (sampler.branch), so they stay stratified among all the
// pixel's samples and depend on the pixel and i alone.
const splitFirst = 2

// firstVertex is what the first vertex of a path leaves for its branches
// after the first: its ray, surface and shading state, before the BSDF is
// sampled.
type firstVertex struct {
	r           Ray
	sf          surface
	m           *material
	ng, ns, wol Vec
	albedo      Vec
	fr          frame
	entering    bool
	ph          pbrHit
	passes      int
}

// radiance estimates the radiance arriving along r with path tracing:
// next-event estimation of the lights combined with BSDF sampling by
// multiple importance sampling (power heuristic), Russian roulette after
// rrDepth bounces, the path split at its first vertex (splitFirst). A path
// has at most maxDepth surface vertices. Every decision draws its numbers
// from its own dimension of the sample (sp).
func (tr *tracer) radiance(r Ray, sp *sampler) Vec {
	var first firstVertex
	l, split := tr.branch(r, sp, &first, 0)
	for b := 1; split && b < splitFirst; b++ {
		lb, _ := tr.branch(r, sp, &first, b)
		l = l.Add(lb)
	}
	return l
}

// branch follows branch b of the path of camera ray r: branch 0 from the
// camera, which records the first vertex in first and reports whether the
// path splits there (its first vertex is not delta), the others from that
// vertex.
func (tr *tracer) branch(r Ray, sp *sampler, first *firstVertex, b int) (l Vec, split bool) {
	s := tr.s
	split = b > 0
	beta := Vec{X: 1, Y: 1, Z: 1}
	specular := true // the previous vertex was the camera or a delta bounce
	prevPdf := 0.0
	var prev vertex
	var h hit
	var sf surface
	tr.passes, tr.seg = 0, 0
	for depth := 1; ; depth++ {
		var m *material
		var ng, ns, wol, albedo Vec
		var fr frame
		var entering bool
		if b > 0 && depth == 1 {
			// The first vertex as the first branch found it; its light
			// sample is the first branch's.
			f := first
			r, sf, m, ng, ns, wol, albedo, fr, entering = f.r, f.sf, f.m, f.ng, f.ns, f.wol, f.albedo, f.fr, f.entering
			tr.ph, tr.passes, tr.seg = f.ph, f.passes, 0
			sp.branch(b)
		} else {
			tr.rays++
			if !s.intersectWith(&tr.stack, &r, math.Inf(1), &h) {
				if s.env == nil {
					l = l.Add(beta.Mul(s.background))
				} else {
					l = l.Add(beta.Mul(s.escaped(r.Dir, specular, prevPdf)))
				}
				break
			}
			s.surfaceAt(&r, &h, &sf)
			m = &s.materials[sf.mat]
			if m.kind >= matEmissive {
				if m.kind == matEmissive {
					if !m.twoSided && r.Dir.Dot(sf.ng) >= 0 {
						break // the back of a one-sided light is black
					}
					w := 1.0
					if !specular && h.prim >= 0 {
						w = powerHeuristic(prevPdf, s.lightPdf(h.prim, &prev, r.Dir, tr.seg+h.t))
					}
					l = l.Add(beta.Mul(m.emission).Scale(w))
					break
				}
				if !s.pbrSurfaceAt(m, &h, &sf, &tr.ps) {
					// A cut-out: the ray goes on through, and this was no vertex.
					if tr.passes++; tr.passes > maxCutouts {
						break
					}
					tr.seg += h.t
					r.Origin = offset(sf.p, sf.ng.Scale(math.Copysign(1, r.Dir.Dot(sf.ng))))
					depth--
					continue
				}
				if le := tr.ps.le; !le.IsZero() && (m.twoSided || r.Dir.Dot(sf.ng) < 0) {
					w := 1.0
					if !specular && h.prim >= 0 {
						w = powerHeuristic(prevPdf, s.lightPdf(h.prim, &prev, r.Dir, tr.seg+h.t))
					}
					l = l.Add(beta.Mul(le).Scale(w))
				}
			}
			if depth >= tr.maxDepth {
				break
			}

			wo := r.Dir.Neg()
			ng, ns = sf.ng, sf.ns
			entering = wo.Dot(ng) > 0
			if !entering {
				ng, ns = ng.Neg(), ns.Neg()
			}
			if wo.Dot(ns) <= 0 {
				ns = ng // a shading normal facing away from the viewer: fall back
			}
			fr = newFrame(ns)
			wol = fr.toLocal(wo)
			// A pbr material's BSDF at this hit is tr.ph; the others' is the
			// material and its albedo.
			if m.kind != matPBR {
				albedo = s.albedoAt(m, &sf)
			} else if ps := &tr.ps; !tr.ph.setup(m.pbr, ps.base, ps.metallic, ps.rough, wol, entering) {
				break
			}

			if !m.delta() {
				if len(s.lights) > 0 {
					u0 := 0.0
					if len(s.lights) > 1 {
						u0 = sp.get1D(bounceDim(depth, slotLightPick))
					}
					u1, u2 := sp.get2D(bounceDim(depth, slotLight))
					if ls, delta, ok := s.sampleLight(sf.p, ng, ns, u0, u1, u2); ok {
						l = l.Add(beta.Mul(tr.direct(m, albedo, sf.p, ng, &fr, wol, &ls, delta)))
					}
				}
				if s.eachPunctual {
					for i := range s.punctual {
						if ls, ok := s.punctual[i].sample(sf.p, 1); ok {
							l = l.Add(beta.Mul(tr.direct(m, albedo, sf.p, ng, &fr, wol, &ls, true)))
						}
					}
				}
				if depth == 1 {
					// The split: this branch is the first of splitFirst.
					split = true
					*first = firstVertex{r: r, sf: sf, m: m, ng: ng, ns: ns, wol: wol, albedo: albedo, fr: fr,
						entering: entering, passes: tr.passes}
					if m.kind == matPBR {
						first.ph = tr.ph
					}
					sp.branch(0)
				}
			}
		}

		// Dielectrics choose only between reflection and refraction (u3),
		// diffuse and metal only a direction (u1, u2), pbr materials both.
		var u1, u2, u3 float64
		if m.kind != matDielectric {
			u1, u2 = sp.get2D(bounceDim(depth, slotBSDF))
		}
		if m.kind >= matDielectric {
			u3 = sp.get1D(bounceDim(depth, slotLobe))
		}
		var bs bsdfSample
		var ok bool
		if m.kind == matPBR {
			bs, ok = tr.ph.sample(wol, u1, u2, u3)
		} else {
			bs, ok = m.sampleBSDF(albedo, wol, entering, u1, u2, u3)
		}
		if !ok {
			break
		}
		wi := fr.toWorld(bs.wi)
		// Reflections must leave on the viewer's side of the true surface,
		// refractions on the other.
		side := wi.Dot(ng)
		if (side <= 0) != bs.transmit {
			break
		}
		beta = beta.Mul(bs.weight)
		if depth == 1 && split {
			beta = beta.Scale(1.0 / splitFirst)
		}
		if beta.IsZero() {
			break
		}
		specular, prevPdf = bs.delta, bs.pdf
		prev = vertex{p: sf.p, ng: ng, ns: ns}
		tr.seg = 0
		if side < 0 {
			ng = ng.Neg() // a refraction leaves from the back
		}
		r = Ray{Origin: offset(sf.p, ng), Dir: wi}

		if depth >= rrDepth {
			if q := beta.MaxComp() / rrWeight; q < 1 {
				if sp.get1D(bounceDim(depth, slotRoulette)) >= q {
					break
				}
				beta = beta.Scale(1 / q)
			}
		}
	}
	return l, split
}

// direct is the light a light sample brings to the vertex at p (geometric
// normal ng on the viewer's side, shading frame fr, outgoing direction wol)
// through material m: the BSDF times the light over the sample's density,
// weighted by MIS against BSDF sampling (delta: a punctual light, which no
// BSDF sample can hit), if the shadow ray gets through.
func (tr *tracer) direct(m *material, albedo, p, ng Vec, fr *frame, wol Vec, ls *lightSample, delta bool) Vec {
	if ls.wi.Dot(ng) <= 0 {
		return Vec{}
	}
	wil := fr.toLocal(ls.wi)
	var fcos Vec
	var bpdf float64
	if m.kind == matPBR {
		fcos, bpdf = tr.ph.eval(wol, wil)
	} else {
		fcos, bpdf = m.evalBSDF(albedo, wol, wil)
	}
	if fcos.IsZero() {
		return Vec{}
	}
	s := tr.s
	tr.rays++
	// The shadow ray leaves from p moved off the surface, and must end at
	// the point it samples, not beside it: aimed along wi from the moved
	// origin, a ray towards a light close to the surface and seen at a
	// grazing angle (the still life's panel, 10 cm before the wall) crosses
	// the light's plane short of the point, by the offset over the cosine,
	// and the light shadows itself: 7% of the wall's light was lost so.
	o := offset(p, ng)
	dir, dist := ls.wi, ls.dist
	if !math.IsInf(dist, 1) {
		d := p.AddScaled(ls.wi, ls.dist).Sub(o)
		dist = d.Len()
		dir = d.Scale(1 / dist)
	}
	sr := Ray{Origin: o, Dir: dir}
	le := ls.le
	if !s.seeThrough {
		if s.occludedWith(&tr.stack, &sr, dist*shadowEnd) {
			return Vec{}
		}
	} else if !tr.seeThrough(&sr, dist*shadowEnd, delta, &le) {
		return Vec{}
	}
	if delta {
		bpdf = 0
	}
	return fcos.Mul(le).Scale(powerHeuristic(ls.pdf, bpdf) / ls.pdf)
}

// maxCutouts bounds the cut-out texels one path (or shadow ray) passes
// through, so that a ray caught between two coincident cut-out surfaces
// ends.
const maxCutouts = 64

// seeThrough reports whether a shadow ray reaches tmax unblocked in a
// scene with alpha cut-outs or glass (sceneData.seeThrough; the others
// test occlusion alone). It looks at what the ray meets: a cut-out texel
// lets it through, and glass lets through the light of a punctual light
// (delta), tinted by its colour and Fresnel transmittance (which multiply
// *tint), as if the rays went straight on. A point light's caustic
// through glass is a path no path tracer finds (no ray hits the point);
// passing its shadow rays keeps the light the glass transmits, near where
// it would land, instead of casting a black shadow.
func (tr *tracer) seeThrough(r *Ray, tmax float64, delta bool, tint *Vec) bool {
	s := tr.s
	var h hit
	var sf surface
	ray := *r
	for range maxCutouts {
		if !s.intersectWith(&tr.stack, &ray, tmax, &h) {
			return true
		}
		s.surfaceAt(&ray, &h, &sf)
		m := &s.materials[sf.mat]
		if m.kind != matPBR {
			return false
		}
		if !(m.pbr.cutoff >= 0 && s.cutAway(m, &h, &sf)) {
			t := s.glassTransmittance(m, &sf, ray.Dir)
			if !delta || t.IsZero() {
				return false
			}
			*tint = tint.Mul(t)
		}
		tmax -= h.t
		ray.Origin = offset(sf.p, sf.ng.Scale(math.Copysign(1, ray.Dir.Dot(sf.ng))))
	}
	return false
}

// renderTile is RenderTile on resolved, validated settings. Each pixel's
// samples are summed pass by pass (PassEnds), each pass's sum rounded to
// float32 and added to the pixel's in pass order, exactly as a Film adds
// the passes of a progressive render, so that the two give the same bits.
func (s *sceneData) renderTile(ctx context.Context, set Settings, r image.Rectangle, dst []float32) (uint64, error) {
	px := newPixelTracer(s, set)
	var endBuf [maxPasses]int
	ends := passEnds(set.SPP, endBuf[:0])
	k := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		if err := ctx.Err(); err != nil {
			return px.tr.rays, err
		}
		for x := r.Min.X; x < r.Max.X; x++ {
			var acc [3]float32
			from := 0
			for _, to := range ends {
				sum := px.sum(x, y, from, to)
				acc[0] += float32(sum.X)
				acc[1] += float32(sum.Y)
				acc[2] += float32(sum.Z)
				from = to
			}
			dst[k] = passMean(acc[0], set.SPP)
			dst[k+1] = passMean(acc[1], set.SPP)
			dst[k+2] = passMean(acc[2], set.SPP)
			k += 3
		}
	}
	return px.tr.rays, nil
}

// renderPass is RenderPass on resolved, validated settings and pass.
func (s *sceneData) renderPass(ctx context.Context, set Settings, r image.Rectangle, p Pass, dst []float32) (uint64, error) {
	px := newPixelTracer(s, set)
	k, i := 0, 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		if err := ctx.Err(); err != nil {
			return px.tr.rays, err
		}
		for x := r.Min.X; x < r.Max.X; x, i = x+1, i+1 {
			if p.Mask != nil && p.Mask[i>>3]&(1<<(i&7)) == 0 {
				continue
			}
			sum := px.sum(x, y, p.From, p.To)
			dst[k] = float32(sum.X)
			dst[k+1] = float32(sum.Y)
			dst[k+2] = float32(sum.Z)
			k += 3
		}
	}
	return px.tr.rays, nil
}

// pixelTracer traces the samples of pixels of one image.
type pixelTracer struct {
	s    *sceneData
	cam  camera
	lens bool // the camera has a lens: its samples take dimLens
	tr   tracer
}

func newPixelTracer(s *sceneData, set Settings) pixelTracer {
	cam := s.camera.view(set.Width, set.Height)
	return pixelTracer{s: s, cam: cam, lens: cam.lensRadius > 0, tr: tracer{s: s, maxDepth: set.MaxDepth}}
}

// sum returns the sum of samples [from, to) of pixel (x, y), in float64,
// in sample order; a sample that is not finite adds nothing. Sample i of
// a pixel depends on the scene, the pixel, the frame and i alone.
func (px *pixelTracer) sum(x, y, from, to int) Vec {
	key := pixelKey(x, y, px.s.frameSeed)
	var sum Vec
	for i := from; i < to; i++ {
		sp := newSampler(key, i)
		jx, jy := sp.get2D(dimPixel)
		var lu, lv float64
		if px.lens {
			lu, lv = sp.get2D(dimLens)
		}
		ray := px.cam.ray(float64(x)+jx, float64(y)+jy, lu, lv)
		if c := px.tr.radiance(ray, &sp); c.finite() {
			sum = sum.Add(c)
		}
	}
	return sum
}
