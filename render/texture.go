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

// wrapMode is how texture coordinates outside [0, 1] are folded back.
type wrapMode uint8

const (
	wrapRepeat wrapMode = iota
	wrapClamp
	wrapMirror
)

// texImage is an 8-bit RGBA image, row 0 at the top. How its values are
// read (sRGB or linear) is up to the material that uses it, so one image
// serves as a colour map and as a data map alike.
type texImage struct {
	name  string
	w, h  int
	pix   []uint8 // 4 per texel
	alpha bool    // some texel is not opaque
}

// texRef is a material's use of a texImage: which image, how coordinates
// wrap and are transformed, and whether it is filtered.
type texRef struct {
	img          int32 // index into Scene.images, -1 for none
	wrapS, wrapT wrapMode
	nearest      bool
	xf           [6]float64 // glTF UV space: u' = xf0 u + xf1 v + xf2, v' = xf3 u + xf4 v + xf5
}

// noTex is a texRef that names no texture.
var noTex = texRef{img: -1, xf: [6]float64{1, 0, 0, 0, 1, 0}}

// linear8 converts an 8-bit value to [0, 1].
var linear8 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// wrap folds texel coordinate i into [0, n).
func wrap(i, n int, m wrapMode) int {
	switch m {
	case wrapClamp:
		return max(0, min(i, n-1))
	case wrapMirror:
		i %= 2 * n
		if i < 0 {
			i += 2 * n
		}
		if i >= n {
			i = 2*n - 1 - i
		}
		return i
	}
	i %= n
	if i < 0 {
		i += n
	}
	return i
}

// lookup returns the filtered RGBA of t at texture coordinates (u, v) (v
// up, as meshes store them), the colour channels decoded through lut (an
// sRGB or a linear table), alpha linear.
func (ref *texRef) lookup(t *texImage, u, v float64, lut *[256]float32) (Vec, float64) {
	gu, gv := u, 1-v // glTF UV space: v down from the top of the image
	x := ref.xf
	u, v = x[0]*gu+x[1]*gv+x[2], x[3]*gu+x[4]*gv+x[5]
	fx, fy := u*float64(t.w), v*float64(t.h)
	if !(math.Abs(fx) < 1e9 && math.Abs(fy) < 1e9) { // NaN too
		return Vec{}, 1
	}
	if ref.nearest {
		ix, iy := wrap(int(math.Floor(fx)), t.w, ref.wrapS), wrap(int(math.Floor(fy)), t.h, ref.wrapT)
		p := t.pix[(iy*t.w+ix)*4:]
		return Vec{X: float64(lut[p[0]]), Y: float64(lut[p[1]]), Z: float64(lut[p[2]])}, float64(p[3]) / 255
	}
	fx, fy = fx-0.5, fy-0.5
	x0, y0 := math.Floor(fx), math.Floor(fy)
	ax, ay := fx-x0, fy-y0
	ix, iy := int(x0), int(y0)
	xs := [2]int{wrap(ix, t.w, ref.wrapS), wrap(ix+1, t.w, ref.wrapS)}
	ys := [2]int{wrap(iy, t.h, ref.wrapT), wrap(iy+1, t.h, ref.wrapT)}
	var c Vec
	var a float64
	for j, y := range ys {
		wy := ay
		if j == 0 {
			wy = 1 - ay
		}
		for i, xx := range xs {
			w := ax
			if i == 0 {
				w = 1 - ax
			}
			w *= wy
			p := t.pix[(y*t.w+xx)*4:]
			c = c.Add(Vec{X: float64(lut[p[0]]), Y: float64(lut[p[1]]), Z: float64(lut[p[2]])}.Scale(w))
			a += w * float64(p[3]) / 255
		}
	}
	return c, a
}
