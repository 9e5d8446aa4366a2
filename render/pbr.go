package render

import "math"

// The glTF metallic-roughness material as one BSDF (the glTF 2.0
// specification, appendix B): with metallic m and transmission t,
//
//	f = m·metal + (1-m)·((1-t)·(specular + diffuse) + t·glass)
//
// metal and specular are GGX microfacet reflection (α = roughness², Smith
// height-correlated masking) with Schlick's Fresnel, F0 the base colour for
// the metal and ((ior-1)/(ior+1))² (0.04 at the default ior 1.5) for the
// dielectric; diffuse is Lambert with the base colour; glass is a rough
// dielectric interface (Walter et al. 2007) with the exact Fresnel
// reflectance, its transmission tinted by the base colour.
//
// Energy: single-scattering GGX loses the light that bounces between
// microfacets, up to a third at roughness 1. Each GGX reflection lobe gets
// the multiple-scattering term of Kulla and Conty ("Revisiting Physically
// Based Shading at Imageworks", 2017), so that a white metal reflects all
// the light at any roughness, and the diffuse layer under the dielectric
// specular receives exactly what the specular lobe does not reflect:
//
//	diffuse = base/π · (1-Es(μo))(1-Es(μi)) / (1-Es_avg)
//
// Es being the directional albedo of the specular lobe. A white dielectric
// thus reflects all the light too, and the BSDF stays reciprocal. The
// albedos come from tables integrated once (pbrTables). The glass lobe
// gets no compensation (rough glass loses some energy).
//
// Sampling: one of three strategies, chosen with probabilities from the
// lobes' estimated albedos: the GGX distribution of visible normals
// (Heitz 2018) for the reflection lobes, the cosine for the diffuse and
// multiple-scattering terms, and for the glass a visible normal, then
// reflection or refraction by the Fresnel reflectance. A sample's weight
// is the whole BSDF over the whole mixture density (one-sample MIS among
// the strategies), and the mixture density is what light sampling's MIS
// weight compares with. A roughness below 0.01 makes the reflection and
// glass lobes perfect mirrors and smooth glass: delta lobes, sampled only.
//
// Refraction through rough glass is sampled only, never light-sampled: its
// MIS weight on hitting a light is 1.

// pbrDeltaAlpha is the GGX α below which reflection and glass are smooth.
const pbrDeltaAlpha = 1e-4

// pbrTable sizes: roughness from 0 to 1 and cos θ from 0 to 1.
const (
	pbrTableR  = 32
	pbrTableMu = 32
)

// pbrTable holds, for roughness r (α = r²) and cos θo μ, the directional
// albedo E of single-scattering GGX reflection with F = 1, and Ef, the part
// weighted by (1 - cos θh)^5, so that with Schlick's Fresnel of reflectance
// F0 the albedo is F0·(E-Ef) + Ef. avg holds the cosine-weighted averages
// over μ (2∫X(μ)μdμ).
type pbrTable struct {
	e, ef       [pbrTableR][pbrTableMu]float64
	eAvg, efAvg [pbrTableR]float64
}

// pbrTables returns the albedo tables: integrated once with 65,536
// samples an entry and kept in pbrtable.go (go test ./render -run
// TestPBRTables -update writes it again), so that loading costs nothing
// and every machine uses the same numbers.
func pbrTables() *pbrTable { return &pbrTableData }

// integratePBRTable integrates the tables with n×n stratified samples of
// the visible normals per entry.
func integratePBRTable(n int) *pbrTable {
	t := &pbrTable{}
	for i := range pbrTableR {
		r := float64(i) / (pbrTableR - 1)
		a := r * r
		for j := range pbrTableMu {
			mu := (float64(j) + 0.5) / pbrTableMu
			if a < pbrDeltaAlpha {
				t.e[i][j], t.ef[i][j] = 1, math.Pow(1-mu, 5)
				continue
			}
			wo := Vec{X: math.Sqrt(1 - mu*mu), Z: mu}
			e, ef := 0.0, 0.0
			for s := range n * n {
				u1 := (float64(s%n) + 0.5) / float64(n)
				u2 := (float64(s/n) + 0.5) / float64(n)
				h := sampleVNDF(wo, a, u1, u2)
				c := wo.Dot(h)
				wi := h.Scale(2 * c).Sub(wo)
				if wi.Z <= 0 || c <= 0 {
					continue
				}
				w := smithG2(wo.Z, wi.Z, a*a) / smithG1(wo.Z, a*a)
				e += w
				ef += w * math.Pow(1-c, 5)
			}
			t.e[i][j], t.ef[i][j] = e/float64(n*n), ef/float64(n*n)
		}
		for j := range pbrTableMu {
			mu := (float64(j) + 0.5) / pbrTableMu
			t.eAvg[i] += 2 * t.e[i][j] * mu / pbrTableMu
			t.efAvg[i] += 2 * t.ef[i][j] * mu / pbrTableMu
		}
	}
	return t
}

// lookup interpolates a table bilinearly at roughness r and cosine mu.
func (t *pbrTable) lookup(tab *[pbrTableR][pbrTableMu]float64, r, mu float64) float64 {
	fr := max(0, min(r*(pbrTableR-1), pbrTableR-1))
	fm := max(0, min(mu*pbrTableMu-0.5, pbrTableMu-1))
	i, j := min(int(fr), pbrTableR-2), min(int(fm), pbrTableMu-2)
	ar, am := fr-float64(i), fm-float64(j)
	a := tab[i][j]*(1-am) + tab[i][j+1]*am
	b := tab[i+1][j]*(1-am) + tab[i+1][j+1]*am
	return a*(1-ar) + b*ar
}

// avg interpolates an average at roughness r.
func (t *pbrTable) avg(tab *[pbrTableR]float64, r float64) float64 {
	fr := max(0, min(r*(pbrTableR-1), pbrTableR-1))
	i := min(int(fr), pbrTableR-2)
	a := fr - float64(i)
	return tab[i]*(1-a) + tab[i+1]*a
}

// smithLambda is Λ of the GGX distribution for a direction of cosine c.
func smithLambda(c, a2 float64) float64 {
	c2 := c * c
	if c2 >= 1 {
		return 0
	}
	return (math.Sqrt(1+a2*(1-c2)/c2) - 1) / 2
}

// smithG1 is the masking of one direction.
func smithG1(c, a2 float64) float64 { return 1 / (1 + smithLambda(c, a2)) }

// smithG2 is the height-correlated masking-shadowing of two directions.
func smithG2(co, ci, a2 float64) float64 {
	return 1 / (1 + smithLambda(co, a2) + smithLambda(ci, a2))
}

// sampleVNDF samples a microfacet normal from the GGX distribution of
// normals visible from wo (wo.Z > 0), isotropic roughness a (Heitz, "Sampling
// the GGX Distribution of Visible Normals", JCGT 2018).
func sampleVNDF(wo Vec, a, u1, u2 float64) Vec {
	vh := Vec{X: a * wo.X, Y: a * wo.Y, Z: wo.Z}.Norm()
	l2 := vh.X*vh.X + vh.Y*vh.Y
	t1 := Vec{X: 1}
	if l2 > 0 {
		k := 1 / math.Sqrt(l2)
		t1 = Vec{X: -vh.Y * k, Y: vh.X * k}
	}
	t2 := vh.Cross(t1)
	r := math.Sqrt(u1)
	s, c := sincos2pi(u2)
	p1, p2 := r*c, r*s
	sh := 0.5 * (1 + vh.Z)
	p2 = (1-sh)*math.Sqrt(max(0, 1-p1*p1)) + sh*p2
	nh := t1.Scale(p1).Add(t2.Scale(p2)).Add(vh.Scale(math.Sqrt(max(0, 1-p1*p1-p2*p2))))
	return Vec{X: a * nh.X, Y: a * nh.Y, Z: max(1e-12, nh.Z)}.Norm()
}

// vndfPdf is the density of reflection direction wi when the visible normal
// h is sampled for wo (both local, above the surface): G1(wo)·D(h)/(4 μo).
func vndfPdf(wo, h Vec, a2 float64) float64 {
	return smithG1(wo.Z, a2) * ggxD(h.Z, a2) / (4 * wo.Z)
}

// pbrMaterial holds the glTF metallic-roughness parameters of a material.
type pbrMaterial struct {
	base         Vec     // base colour factor, linear
	opacity      float64 // base colour factor's alpha
	baseTex      texRef  // RGB x base (sRGB), A x opacity
	metallic     float64 // factor
	roughness    float64 // factor
	mrTex        texRef  // B x metallic, G x roughness (linear)
	normTex      texRef  // tangent-space normal map (linear)
	normScale    float64 // scales the map's X and Y
	emTex        texRef  // multiplies the material's emission (sRGB)
	cutoff       float64 // alpha MASK: texels with alpha below it are cut out; < 0 opaque
	transmission float64
	ior          float64
	f0           float64 // dielectric reflectance at normal incidence
}

// pbrHit is the BSDF of a pbr material at one hit, for one outgoing direction.
type pbrHit struct {
	base                 Vec
	alpha, a2, rough     float64
	ior, f0              float64
	wM, wD, wT           float64 // lobe weights: metal, opaque dielectric, glass
	pSpec, pDiff, pGlass float64 // strategy probabilities
	smooth               bool    // reflection and glass lobes are delta
	eo                   float64 // E(μo): single-scattering albedo with F = 1
	eAvg                 float64
	esO, esAvg           float64 // dielectric specular albedo at μo, and average
	fmsD                 float64 // multiple-scattering Fresnel of the dielectric
	fmsM                 Vec     // and of the metal
	entering             bool    // wo is outside (for the glass lobe)
	tab                  *pbrTable
}

// schlickAvg is the cosine-weighted average of Schlick's Fresnel for f0.
func schlickAvg(f0 float64) float64 { return f0 + (1-f0)/21 }

// fms is Kulla and Conty's Fresnel factor of the multiple-scattering term.
func fms(favg, eavg float64) float64 { return favg * favg * eavg / (1 - favg*(1-eavg)) }

// setup prepares the BSDF for outgoing direction wo (local, wo.Z > 0), base
// colour, metallic and roughness at the hit. It reports false when the
// material reflects nothing.
func (b *pbrHit) setup(pm *pbrMaterial, base Vec, metallic, rough float64, wo Vec, entering bool) bool {
	t := pbrTables()
	b.entering = entering
	b.tab = t
	b.base, b.rough = base, rough
	b.alpha = rough * rough
	b.a2 = b.alpha * b.alpha
	b.smooth = b.alpha < pbrDeltaAlpha
	b.ior, b.f0 = pm.ior, pm.f0
	b.wM = metallic
	b.wD = (1 - metallic) * (1 - pm.transmission)
	b.wT = (1 - metallic) * pm.transmission
	mu := wo.Z
	b.eo = t.lookup(&t.e, rough, mu)
	b.eAvg = t.avg(&t.eAvg, rough)
	efo := t.lookup(&t.ef, rough, mu)
	efAvg := t.avg(&t.efAvg, rough)
	b.fmsD = fms(schlickAvg(b.f0), b.eAvg)
	b.esO = b.f0*(b.eo-efo) + efo + b.fmsD*(1-b.eo)
	b.esAvg = b.f0*(b.eAvg-efAvg) + efAvg + b.fmsD*(1-b.eAvg)
	b.fmsM = Vec{X: fms(schlickAvg(base.X), b.eAvg), Y: fms(schlickAvg(base.Y), b.eAvg), Z: fms(schlickAvg(base.Z), b.eAvg)}

	// Strategy probabilities from the lobes' albedos at wo.
	fm := schlick(base, mu).Luminance()
	sSpec := b.wM*fm*b.eo + b.wD*(b.esO-b.fmsD*(1-b.eo))
	sDiff := b.wD*(1-b.esO)*base.Luminance() + (b.wD*b.fmsD+b.wM*b.fmsM.Luminance())*(1-b.eo)
	sGlass := b.wT
	sum := sSpec + sDiff + sGlass
	if !(sum > 0) {
		return false
	}
	b.pSpec, b.pDiff, b.pGlass = sSpec/sum, sDiff/sum, sGlass/sum
	return true
}

// esAt is the dielectric specular lobe's albedo at cosine mu.
func (b *pbrHit) esAt(mu float64) (e, es float64) {
	t := b.tab
	e = t.lookup(&t.e, b.rough, mu)
	ef := t.lookup(&t.ef, b.rough, mu)
	return e, b.f0*(e-ef) + ef + b.fmsD*(1-e)
}

// eval returns the non-delta part of the BSDF times cos θi for light
// arriving from wi (local; zero below the surface: transmission is never
// light-sampled), and the density with which sample would choose wi.
func (b *pbrHit) eval(wo, wi Vec) (Vec, float64) {
	if wi.Z <= 0 {
		return Vec{}, 0
	}
	ei, esi := b.esAt(wi.Z)
	// Diffuse under the dielectric specular, and the multiple-scattering terms.
	kd := b.wD * (1 - b.esO) * (1 - esi) / ((1 - b.esAvg) * math.Pi)
	f := b.base.Scale(kd)
	if !b.smooth && b.eAvg < 1 {
		ms := (1 - b.eo) * (1 - ei) / (math.Pi * (1 - b.eAvg))
		f = f.Add(b.fmsM.Scale(b.wM * ms)).Add(Vec{X: 1, Y: 1, Z: 1}.Scale(b.wD * b.fmsD * ms))
	}
	pdf := b.pDiff * wi.Z / math.Pi
	if !b.smooth {
		h := wo.Add(wi).Norm()
		c := wo.Dot(h)
		if c > 0 {
			spec := ggxD(h.Z, b.a2) * smithG2(wo.Z, wi.Z, b.a2) / (4 * wo.Z * wi.Z)
			fr := schlick(b.base, c).Scale(b.wM).Add(Vec{X: 1, Y: 1, Z: 1}.Scale(b.wD * schlick1(b.f0, c)))
			fg := 0.0
			if b.wT > 0 {
				fg = b.glassFresnel(c, b.entering)
				fr = fr.Add(Vec{X: 1, Y: 1, Z: 1}.Scale(b.wT * fg))
			}
			f = f.Add(fr.Scale(spec))
			pdf += vndfPdf(wo, h, b.a2) * (b.pSpec + b.pGlass*fg)
		}
	}
	return f.Scale(wi.Z), pdf
}

// schlick1 is Schlick's Fresnel for a scalar f0.
func schlick1(f0, cos float64) float64 {
	c := 1 - cos
	c2 := c * c
	return f0 + (1-f0)*c2*c2*c
}

// glassFresnel is the exact reflectance of the glass interface at a
// microfacet of cosine c with the outgoing direction, from outside when
// entering.
func (b *pbrHit) glassFresnel(c float64, entering bool) float64 {
	eta := b.ior // ηi/ηt
	if entering {
		eta = 1 / b.ior
	}
	sin2t := eta * eta * max(0, 1-c*c)
	if sin2t >= 1 {
		return 1
	}
	return fresnelDielectric(c, math.Sqrt(1-sin2t), eta)
}

// sample chooses an incoming direction for wo (local, wo.Z > 0; entering
// says whether wo is outside the glass).
func (b *pbrHit) sample(wo Vec, u1, u2, u3 float64) (bsdfSample, bool) {
	entering := b.entering
	switch {
	case u3 < b.pSpec:
		if b.smooth {
			wi := Vec{X: -wo.X, Y: -wo.Y, Z: wo.Z}
			f := schlick(b.base, wo.Z).Scale(b.wM).Add(Vec{X: 1, Y: 1, Z: 1}.Scale(b.wD * schlick1(b.f0, wo.Z)))
			return bsdfSample{wi: wi, weight: f.Scale(1 / b.pSpec), delta: true}, true
		}
		h := sampleVNDF(wo, b.alpha, u1, u2)
		wi := h.Scale(2 * wo.Dot(h)).Sub(wo)
		return b.weigh(wo, wi)
	case u3 < b.pSpec+b.pDiff:
		return b.weigh(wo, cosineHemisphere(u1, u2))
	}
	// Glass: reflect or refract at a (visible) microfacet.
	u := (u3 - b.pSpec - b.pDiff) / b.pGlass
	h := Vec{Z: 1}
	if !b.smooth {
		h = sampleVNDF(wo, b.alpha, u1, u2)
	}
	c := wo.Dot(h)
	if c <= 0 {
		return bsdfSample{}, false
	}
	fr := b.glassFresnel(c, entering)
	if u < fr {
		wi := h.Scale(2 * c).Sub(wo)
		if b.smooth {
			return bsdfSample{wi: wi, weight: Vec{X: b.wT, Y: b.wT, Z: b.wT}.Scale(1 / b.pGlass), delta: true}, true
		}
		return b.weigh(wo, wi)
	}
	eta := b.ior
	if entering {
		eta = 1 / b.ior
	}
	cost := math.Sqrt(max(0, 1-eta*eta*(1-c*c)))
	wi := h.Scale(eta*c - cost).Sub(wo.Scale(eta))
	if wi.Z >= 0 {
		return bsdfSample{}, false
	}
	w := b.base.Scale(b.wT / b.pGlass)
	if !b.smooth {
		wi = wi.Norm()
		w = w.Scale(smithG2(wo.Z, -wi.Z, b.a2) / smithG1(wo.Z, b.a2))
	}
	return bsdfSample{wi: wi, weight: w, delta: true, transmit: true}, true
}

// weigh makes a sample of direction wi above the surface: the whole BSDF
// over the whole mixture density.
func (b *pbrHit) weigh(wo, wi Vec) (bsdfSample, bool) {
	if wi.Z <= 0 {
		return bsdfSample{}, false
	}
	f, pdf := b.eval(wo, wi)
	if !(pdf > 0) {
		return bsdfSample{}, false
	}
	return bsdfSample{wi: wi, weight: f.Scale(1 / pdf), pdf: pdf}, true
}

// pbrSurface is what a pbr material's textures say at a hit.
type pbrSurface struct {
	base            Vec
	metallic, rough float64
	le              Vec // emitted radiance
}

// pbrSurfaceAt reads the textures of pbr material m at the hit: base
// colour, metallic and roughness, emission, and the normal map, which
// replaces sf.ns. It reports false for a cut-out texel (alpha below the
// MASK cutoff), which the ray passes through.
func (s *sceneData) pbrSurfaceAt(m *material, h *hit, sf *surface, ps *pbrSurface) bool {
	pm := m.pbr
	ps.base, ps.metallic, ps.rough, ps.le = pm.base, pm.metallic, pm.roughness, m.emission
	if t := &pm.baseTex; t.img >= 0 {
		c, a := t.lookup(s.images[t.img], sf.u, sf.v, &srgbToLinear)
		if pm.cutoff >= 0 && a*pm.opacity < pm.cutoff {
			return false
		}
		ps.base = ps.base.Mul(c)
	} else if pm.cutoff >= 0 && pm.opacity < pm.cutoff {
		return false
	}
	if t := &pm.mrTex; t.img >= 0 {
		c, _ := t.lookup(s.images[t.img], sf.u, sf.v, &linear8)
		ps.metallic *= c.Z
		ps.rough *= c.Y
	}
	if t := &pm.emTex; t.img >= 0 && !ps.le.IsZero() {
		c, _ := t.lookup(s.images[t.img], sf.u, sf.v, &srgbToLinear)
		ps.le = ps.le.Mul(c)
	}
	if t := &pm.normTex; t.img >= 0 && h.prim >= 0 {
		if s.info[h.prim].attrs&hasT != 0 {
			c, _ := t.lookup(s.images[t.img], sf.u, sf.v, &linear8)
			v := &s.pv[h.prim]
			t0, t1, t2 := &s.tan[v[0]], &s.tan[v[1]], &s.tan[v[2]]
			w0 := 1 - h.a - h.b
			n := sf.ns
			tv := vec3f{t0[0], t0[1], t0[2]}.vec().Scale(w0).AddScaled(vec3f{t1[0], t1[1], t1[2]}.vec(), h.a).AddScaled(vec3f{t2[0], t2[1], t2[2]}.vec(), h.b)
			tv = tv.Sub(n.Scale(n.Dot(tv))).Norm()
			bv := n.Cross(tv).Scale(float64(t0[3])) // the first vertex's sign is the triangle's
			x, y := (2*c.X-1)*pm.normScale, (2*c.Y-1)*pm.normScale
			if mapped := tv.Scale(x).Add(bv.Scale(y)).Add(n.Scale(2*c.Z - 1)).Norm(); mapped.finite() && !mapped.IsZero() {
				sf.ns = mapped
			}
		}
	}
	return true
}

// cutAway reports whether the hit is on a cut-out texel of pbr material m.
func (s *sceneData) cutAway(m *material, h *hit, sf *surface) bool {
	pm := m.pbr
	a := pm.opacity
	if t := &pm.baseTex; t.img >= 0 {
		_, ta := t.lookup(s.images[t.img], sf.u, sf.v, &linear8)
		a *= ta
	}
	return a < pm.cutoff
}

// glassTransmittance is what a straight shadow ray keeps crossing the
// surface of pbr material m along d: the glass lobe's weight times its
// base colour and Fresnel transmittance (zero for opaque materials).
func (s *sceneData) glassTransmittance(m *material, sf *surface, d Vec) Vec {
	pm := m.pbr
	w := (1 - pm.metallic) * pm.transmission
	if w == 0 {
		return Vec{}
	}
	c := math.Abs(d.Dot(sf.ng))
	eta := 1 / pm.ior
	if d.Dot(sf.ng) > 0 {
		eta = pm.ior // leaving the glass
	}
	sin2t := eta * eta * (1 - c*c)
	if sin2t >= 1 {
		return Vec{}
	}
	f := fresnelDielectric(c, math.Sqrt(1-sin2t), eta)
	base := pm.base
	if t := &pm.baseTex; t.img >= 0 {
		col, _ := t.lookup(s.images[t.img], sf.u, sf.v, &srgbToLinear)
		base = base.Mul(col)
	}
	return base.Scale(w * (1 - f))
}
