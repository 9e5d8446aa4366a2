package render

import "math"

// matKind is the kind of a material.
type matKind uint8

const (
	matDiffuse    matKind = iota // Lambertian reflection
	matMetal                     // GGX microfacet reflection, Schlick Fresnel tinted by albedo
	matDielectric                // smooth glass: Fresnel reflection and refraction
	matEmissive                  // a light: emits on its front side (both with twoSided), reflects nothing
	matPBR                       // glTF metallic-roughness (pbr.go): reflects, refracts and may emit
)

var matKindNames = [...]string{
	matDiffuse:    "diffuse",
	matMetal:      "metal",
	matDielectric: "dielectric",
	matEmissive:   "emissive",
	matPBR:        "pbr",
}

func (k matKind) String() string { return matKindNames[k] }

// material is a resolved material. Textures are indices into Scene.textures.
type material struct {
	name     string
	kind     matKind
	albedo   Vec     // diffuse reflectance, metal F0, dielectric transmission tint
	tex      int32   // albedo texture multiplying albedo, or -1
	checker  bool    // albedo alternates between albedo and odd in world-space cubes
	odd      Vec     // checker's second colour
	cell     float64 // checker's cube size, in scene units
	emission Vec     // radiance of an emissive or pbr material
	ior      float64 // dielectric index of refraction
	alpha    float64 // metal GGX roughness (roughness squared); 0 is a perfect mirror
	twoSided bool    // an emissive or pbr material emits from the back side too
	pbr      *pbrMaterial
}

// smoothMetal is the GGX alpha below which a metal is a perfect mirror.
const smoothMetal = 1e-4

// delta reports whether the material scatters into single directions, which
// light sampling cannot hit.
func (m *material) delta() bool {
	return m.kind == matDielectric || (m.kind == matMetal && m.alpha < smoothMetal)
}

// schlick is Schlick's Fresnel approximation with reflectance f0 at normal incidence.
func schlick(f0 Vec, cos float64) Vec {
	c := 1 - cos
	c2 := c * c
	k := c2 * c2 * c
	return Vec{X: f0.X + (1-f0.X)*k, Y: f0.Y + (1-f0.Y)*k, Z: f0.Z + (1-f0.Z)*k}
}

// fresnelDielectric is the unpolarised Fresnel reflectance for light going
// from a medium into one with relative index eta (ηi/ηt), given the cosines
// of incidence and transmission.
func fresnelDielectric(cosi, cost, eta float64) float64 {
	// With n = ηt/ηi = 1/eta: r∥ = (n cosi - cost)/(n cosi + cost), r⊥ = (cosi - n cost)/(cosi + n cost).
	n := 1 / eta
	rpar := (n*cosi - cost) / (n*cosi + cost)
	rper := (cosi - n*cost) / (cosi + n*cost)
	return 0.5 * (rpar*rpar + rper*rper)
}

// ggxD is the GGX (Trowbridge-Reitz) normal distribution at a half vector
// whose cosine to the normal is c.
func ggxD(c, a2 float64) float64 {
	k := c*c*(a2-1) + 1
	return a2 / (math.Pi * k * k)
}

// ggxG1 is Smith's masking function for a direction whose cosine to the normal is c.
func ggxG1(c, a2 float64) float64 {
	c2 := c * c
	return 2 / (1 + math.Sqrt(1+a2*(1-c2)/c2))
}

// evalBSDF returns the BSDF value times |cos θi| for light arriving along wi
// and leaving along wo (both local to the shading frame, wo.Z > 0), and the
// density with which sampleBSDF would choose wi. Delta materials return zero.
func (m *material) evalBSDF(albedo, wo, wi Vec) (fcos Vec, pdf float64) {
	if wi.Z <= 0 {
		return Vec{}, 0
	}
	switch m.kind {
	case matDiffuse:
		c := wi.Z / math.Pi
		return albedo.Scale(c), c
	case matMetal:
		if m.alpha < smoothMetal {
			return Vec{}, 0
		}
		h := wo.Add(wi).Norm()
		a2 := m.alpha * m.alpha
		d := ggxD(h.Z, a2)
		woh := wo.Dot(h)
		if woh <= 0 {
			return Vec{}, 0
		}
		g := ggxG1(wo.Z, a2) * ggxG1(wi.Z, a2)
		f := schlick(albedo, woh)
		return f.Scale(d * g / (4 * wo.Z)), d * h.Z / (4 * woh)
	}
	return Vec{}, 0
}

// bsdfSample is a direction chosen by a material.
type bsdfSample struct {
	wi       Vec     // local direction
	weight   Vec     // BSDF × |cos θi| / pdf
	pdf      float64 // solid-angle density; 0 for delta scattering
	delta    bool
	transmit bool // wi is on the other side of the surface
}

// sampleBSDF chooses an incoming direction for outgoing wo (local, wo.Z > 0
// except for dielectrics, where the frame's normal faces wo and entering
// says which side is outside). It reports false when the path ends. (A
// pbr material's BSDF is a pbrHit, which the tracer sets up at each hit.)
func (m *material) sampleBSDF(albedo, wo Vec, entering bool, u1, u2, u3 float64) (bsdfSample, bool) {
	switch m.kind {
	case matDiffuse:
		wi := cosineHemisphere(u1, u2)
		if wi.Z <= 0 {
			return bsdfSample{}, false
		}
		return bsdfSample{wi: wi, weight: albedo, pdf: wi.Z / math.Pi}, true
	case matMetal:
		if m.alpha < smoothMetal {
			wi := Vec{X: -wo.X, Y: -wo.Y, Z: wo.Z}
			return bsdfSample{wi: wi, weight: schlick(albedo, wo.Z), delta: true}, true
		}
		a2 := m.alpha * m.alpha
		tan2 := a2 * u1 / (1 - u1)
		cz := 1 / math.Sqrt(1+tan2)
		sz := math.Sqrt(max(0, 1-cz*cz))
		s, c := sincos2pi(u2)
		h := Vec{X: sz * c, Y: sz * s, Z: cz}
		woh := wo.Dot(h)
		if woh <= 0 {
			return bsdfSample{}, false
		}
		wi := h.Scale(2 * woh).Sub(wo)
		if wi.Z <= 0 {
			return bsdfSample{}, false
		}
		g := ggxG1(wo.Z, a2) * ggxG1(wi.Z, a2)
		f := schlick(albedo, woh)
		pdf := ggxD(cz, a2) * cz / (4 * woh)
		return bsdfSample{wi: wi, weight: f.Scale(g * woh / (wo.Z * cz)), pdf: pdf}, true
	case matDielectric:
		eta := m.ior // ηi/ηt
		if entering {
			eta = 1 / m.ior
		}
		cosi := wo.Z
		sin2t := eta * eta * max(0, 1-cosi*cosi)
		refl := Vec{X: -wo.X, Y: -wo.Y, Z: wo.Z}
		if sin2t >= 1 {
			return bsdfSample{wi: refl, weight: Vec{X: 1, Y: 1, Z: 1}, delta: true}, true
		}
		cost := math.Sqrt(1 - sin2t)
		if u3 < fresnelDielectric(cosi, cost, eta) {
			return bsdfSample{wi: refl, weight: Vec{X: 1, Y: 1, Z: 1}, delta: true}, true
		}
		wi := Vec{X: -wo.X * eta, Y: -wo.Y * eta, Z: -cost}
		return bsdfSample{wi: wi, weight: albedo, delta: true, transmit: true}, true
	}
	return bsdfSample{}, false
}
