package render

import "math"

// texture is an image in linear RGB, sampled bilinearly with repetition.
// Row 0 is the top of the image; texture coordinate v = 0 is the bottom, as
// in OBJ files.
type texture struct {
	name string
	w, h int
	pix  []float32 // 3 per texel
}

// srgbToLinear converts an 8-bit sRGB value to linear.
var srgbToLinear = func() (t [256]float32) {
	for i := range t {
		c := float64(i) / 255
		if c <= 0.04045 {
			t[i] = float32(c / 12.92)
		} else {
			t[i] = float32(math.Pow((c+0.055)/1.055, 2.4))
		}
	}
	return t
}()

func (t *texture) texel(x, y int) Vec {
	x %= t.w
	if x < 0 {
		x += t.w
	}
	y %= t.h
	if y < 0 {
		y += t.h
	}
	i := (y*t.w + x) * 3
	return Vec{X: float64(t.pix[i]), Y: float64(t.pix[i+1]), Z: float64(t.pix[i+2])}
}

// sample returns the bilinearly filtered colour at texture coordinates (u, v).
func (t *texture) sample(u, v float64) Vec {
	fx := u*float64(t.w) - 0.5
	fy := (1-v)*float64(t.h) - 0.5
	if math.IsNaN(fx) || math.IsNaN(fy) || math.IsInf(fx, 0) || math.IsInf(fy, 0) {
		return Vec{}
	}
	// Keep the coordinates small so the conversion to int cannot overflow.
	fx = math.Mod(fx, float64(t.w))
	fy = math.Mod(fy, float64(t.h))
	x0, y0 := math.Floor(fx), math.Floor(fy)
	ax, ay := fx-x0, fy-y0
	ix, iy := int(x0), int(y0)
	c00, c10 := t.texel(ix, iy), t.texel(ix+1, iy)
	c01, c11 := t.texel(ix, iy+1), t.texel(ix+1, iy+1)
	top := c00.Scale(1 - ax).Add(c10.Scale(ax))
	bot := c01.Scale(1 - ax).Add(c11.Scale(ax))
	return top.Scale(1 - ay).Add(bot.Scale(ay))
}
