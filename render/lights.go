package render

import "math"

// Punctual lights (glTF's KHR_lights_punctual): points, spots and
// directional lights. They are delta lights: next-event estimation samples
// them, no ray ever hits them. Their units are those Blender writes and
// reads: a point or spot's intensity in candela is 683 × W/sr, a
// directional light's illuminance in lux is 683 × W/m² of irradiance.

// lumensPerWatt converts glTF's photometric units to radiometric ones.
const lumensPerWatt = 683

// punctualKind says what a punctual light is.
type punctualKind uint8

const (
	lightPoint punctualKind = iota
	lightSpot
	lightDirectional
)

// punctualLight is a light without extent.
type punctualLight struct {
	kind punctualKind
	pos  Vec // point and spot
	dir  Vec // unit direction the light travels along: the spot's axis, the sun's rays
	// intensity is in W/sr for points and spots and in W/m² (irradiance
	// normal to dir) for directional lights, colour included.
	intensity Vec
	// A spot's angular attenuation is clamp(cos θ · scale + offset, 0, 1)²,
	// θ the angle to its axis (the formula of the KHR_lights_punctual
	// specification), from 1 inside the inner cone to 0 at the outer.
	scale, offset float64
	cosOuter      float64
}

// newSpot returns the attenuation terms of a spot with the cone half-angles
// inner < outer.
func newSpot(inner, outer float64) (scale, offset, cosOuter float64) {
	cosOuter = math.Cos(outer)
	scale = 1 / max(1e-3, math.Cos(inner)-cosOuter)
	return scale, -cosOuter * scale, cosOuter
}

// spotFalloff is the attenuation at cosine cd to the axis.
func (pl *punctualLight) spotFalloff(cd float64) float64 {
	a := max(0, min(1, cd*pl.scale+pl.offset))
	return a * a
}

// sample returns the light's sample as seen from p, chosen with probability pick.
func (pl *punctualLight) sample(p Vec, pick float64) (lightSample, bool) {
	if pl.kind == lightDirectional {
		return lightSample{wi: pl.dir.Neg(), dist: math.Inf(1), le: pl.intensity, pdf: pick}, true
	}
	d := pl.pos.Sub(p)
	d2 := d.Dot(d)
	if !(d2 > 0) {
		return lightSample{}, false
	}
	dist := math.Sqrt(d2)
	wi := d.Scale(1 / dist)
	le := pl.intensity.Scale(1 / d2)
	if pl.kind == lightSpot {
		f := pl.spotFalloff(-wi.Dot(pl.dir))
		if f == 0 {
			return lightSample{}, false
		}
		le = le.Scale(f)
	}
	return lightSample{wi: wi, dist: dist, le: le, pdf: pick}, true
}

// emissionTexel returns the emissive texture of material m (a pbr one with
// an emissive texture) at barycentrics (a, b) of primitive i.
func (s *sceneData) emissionTexel(m *material, i int32, a, b float64) Vec {
	u, v := 0.0, 0.0
	if s.info[i].attrs&hasUV != 0 {
		u, v = s.uvAt(&s.pv[i], a, b)
	}
	c, _ := m.pbr.emTex.lookup(s.images[m.pbr.emTex.img], u, v, &srgbToLinear)
	return c
}

// meanLuminance is the image's mean luminance read as sRGB colour.
func (t *texImage) meanLuminance() float64 {
	sum := 0.0
	for i := 0; i < len(t.pix); i += 4 {
		sum += Vec{X: float64(srgbToLinear[t.pix[i]]), Y: float64(srgbToLinear[t.pix[i+1]]), Z: float64(srgbToLinear[t.pix[i+2]])}.Luminance()
	}
	return sum / float64(max(1, len(t.pix)/4))
}
