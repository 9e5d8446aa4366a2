package render

import "math"

// envMap is an equirectangular environment: the radiance arriving from
// every direction, seen by rays that escape the scene and sampled as a
// light by next-event estimation.
//
// Orientation, as Blender's Environment Texture node (Cycles) with a scene
// exported from Blender to glTF (Blender's +Z up is +Y here, its +Y is -Z):
// the image's top row is straight up (+Y), its centre column faces +X, the
// column at a quarter of the width faces -Z, and u grows clockwise seen from
// above: u = 0.5 + atan2(z, x)/2π, v (from the top) = acos(y)/π. Turning the
// map by rotate degrees turns it about +Y, right-handed (counter-clockwise
// seen from above), as the "rotate" of a mesh turns the mesh.
//
// Sampling draws a cell of the grid between pixel centres (w columns,
// h+1 rows: the first and last are half as tall, from the poles to the
// first and last centres) from a piecewise-constant 2D distribution (a
// marginal over rows, a conditional over the columns of each row), then a
// point in the cell with density proportional to the bilinear lookup's
// luminance there (as pbrt-v4 samples a bilinear patch). A cell's weight is
// the mean of the bilinear lookup over it (the mean of its four corner
// pixels' luminance) times sin θ at its centre and its height, so the
// density follows the lookup's luminance times sin θ, exactly zero where
// the lookup is zero: a sample never lands on black beside a small bright
// sun, and one inside it weighs about the same as any other. Both searches
// are binary, O(log n); sample takes its uniform numbers as arguments.
type envMap struct {
	name       string
	w, h       int
	pix        []float32 // linear RGB, 3 a pixel, row 0 at the top
	strength   float64
	cosR, sinR float64   // the map's rotation about +Y
	rowCDF     []float64 // rowCDF[j]: probability of choosing a cell row <= j (h+1 rows)
	colCDF     []float32 // colCDF[j*w+i]: probability of a cell column <= i within row j
	power      float64   // the distribution's total: 0 for a black map
}

// newEnvMap builds the environment of a decoded picture and its sampling
// tables, from the pixels alone (so every node builds the same tables).
func newEnvMap(name string, pic *hdrPicture, strength, rotateDeg float64) *envMap {
	e := &envMap{name: name, w: pic.w, h: pic.h, pix: pic.pix, strength: strength}
	e.sinR, e.cosR = math.Sincos(rotateDeg * math.Pi / 180)
	if rotateDeg == 0 {
		e.sinR, e.cosR = 0, 1
	}
	if strength > 0 {
		e.buildDistribution()
	}
	return e
}

// lum is the luminance of pixel (x, y), x wrapped around, y clamped.
func (e *envMap) lum(x, y int) float64 { return e.texel(x, y).Luminance() }

// cellRow returns where cell row j (0..h) starts and how tall it is, in
// image coordinates (v from the top): it spans the centres of pixel rows
// j-1 and j, clipped to the image.
func (e *envMap) cellRow(j int) (v0, dv float64) {
	fh := float64(e.h)
	v0 = max(0, (float64(j)-0.5)/fh)
	return v0, min(1, (float64(j)+0.5)/fh) - v0
}

// buildDistribution fills rowCDF, colCDF and power.
func (e *envMap) buildDistribution() {
	w, h := e.w, e.h
	e.rowCDF = make([]float64, h+1)
	e.colCDF = make([]float32, w*(h+1))
	f := make([]float64, w)
	rows := make([]float64, h+1)
	total := 0.0
	for j := 0; j <= h; j++ {
		v0, dv := e.cellRow(j)
		k := math.Sin(math.Pi*(v0+dv/2)) * dv / 4
		sum := 0.0
		for i := range f {
			// Cell (i, j) has pixels i and i+1 of rows j-1 and j at its corners.
			f[i] = (e.lum(i, j-1) + e.lum(i+1, j-1) + e.lum(i, j) + e.lum(i+1, j)) * k
			sum += f[i]
		}
		rows[j] = sum
		total += sum
		cdf := e.colCDF[j*w : (j+1)*w]
		acc := 0.0
		for i := range cdf {
			acc += f[i]
			if sum > 0 {
				cdf[i] = float32(acc / sum)
			} else {
				cdf[i] = float32(i+1) / float32(w)
			}
		}
		cdf[w-1] = 1
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return // a black map lights nothing; power stays 0
	}
	e.power = total
	acc := 0.0
	for j, r := range rows {
		acc += r
		e.rowCDF[j] = acc / total
	}
	e.rowCDF[h] = 1
}

// toMap turns a world direction into the map's frame (undoing its rotation).
func (e *envMap) toMap(d Vec) Vec {
	return Vec{X: e.cosR*d.X - e.sinR*d.Z, Y: d.Y, Z: e.sinR*d.X + e.cosR*d.Z}
}

// fromMap turns a direction in the map's frame into the world.
func (e *envMap) fromMap(d Vec) Vec {
	return Vec{X: e.cosR*d.X + e.sinR*d.Z, Y: d.Y, Z: -e.sinR*d.X + e.cosR*d.Z}
}

// uv returns the image coordinates of world direction d (unit): u from the
// left edge, v from the top, both in [0, 1].
func (e *envMap) uv(d Vec) (u, v float64) {
	m := e.toMap(d)
	u = 0.5 + math.Atan2(m.Z, m.X)/(2*math.Pi)
	// atan2 rather than acos(y): as accurate near the poles as elsewhere.
	v = math.Atan2(math.Sqrt(m.X*m.X+m.Z*m.Z), m.Y) / math.Pi
	return u, v
}

// texel returns pixel (x, y), x wrapped around, y clamped.
func (e *envMap) texel(x, y int) Vec {
	x %= e.w
	if x < 0 {
		x += e.w
	}
	y = max(0, min(e.h-1, y))
	i := (y*e.w + x) * 3
	return Vec{X: float64(e.pix[i]), Y: float64(e.pix[i+1]), Z: float64(e.pix[i+2])}
}

// lookup is the radiance at image coordinates (u, v), bilinear between
// pixel centres, wrapping around horizontally and clamped at the poles.
func (e *envMap) lookup(u, v float64) Vec {
	fx := u*float64(e.w) - 0.5
	fy := v*float64(e.h) - 0.5
	if !(fx > -1 && fx < float64(2*e.w)) || !(fy > -1 && fy < float64(e.h)) {
		return Vec{} // NaN, or a direction no unit vector has
	}
	x0, y0 := math.Floor(fx), math.Floor(fy)
	ax, ay := fx-x0, fy-y0
	ix, iy := int(x0), int(y0)
	c00, c10 := e.texel(ix, iy), e.texel(ix+1, iy)
	c01, c11 := e.texel(ix, iy+1), e.texel(ix+1, iy+1)
	top := c00.Scale(1 - ax).Add(c10.Scale(ax))
	bot := c01.Scale(1 - ax).Add(c11.Scale(ax))
	return top.Scale(1 - ay).Add(bot.Scale(ay)).Scale(e.strength)
}

// radiance is what a ray escaping along unit direction d sees.
func (e *envMap) radiance(d Vec) Vec {
	u, v := e.uv(d)
	return e.lookup(u, v)
}

// corners returns the luminance of the four pixels at the corners of cell
// (i, j): pixels i and i+1 of rows j-1 (w0, w1) and j (w2, w3).
func (e *envMap) corners(i, j int) [4]float64 {
	return [4]float64{e.lum(i, j-1), e.lum(i+1, j-1), e.lum(i, j), e.lum(i+1, j)}
}

// sampleLinear maps u in [0,1) to [0,1) with density proportional to the
// line from a at 0 to b at 1 (both >= 0).
func sampleLinear(u, a, b float64) float64 {
	if a+b == 0 || (u == 0 && a == 0) {
		return u
	}
	x := u * (a + b) / (a + math.Sqrt((1-u)*a*a+u*b*b))
	return min(x, 1-0x1p-53)
}

// bilinearPdf is the density at (x, y) of the unit square of the bilinear
// function with corner values w, normalised (1 if they are all 0).
func bilinearPdf(x, y float64, w [4]float64) float64 {
	sum := w[0] + w[1] + w[2] + w[3]
	if sum == 0 {
		return 1
	}
	return 4 * ((1-x)*(1-y)*w[0] + x*(1-y)*w[1] + (1-x)*y*w[2] + x*y*w[3]) / sum
}

// sample chooses a direction with (u1, u2) in [0,1)²: its radiance and
// solid-angle density, pick (the probability of choosing the map among the
// lights) included. It reports false for a direction at a pole, where the
// density is unbounded.
func (e *envMap) sample(pick, u1, u2 float64) (lightSample, bool) {
	j, prev, pj := searchCDF(e.rowCDF, u1)
	fj := min((u1-prev)/pj, 1-0x1p-53)
	i, prev, pi := searchCDF(e.colCDF[j*e.w:(j+1)*e.w], u2)
	fi := min((u2-prev)/pi, 1-0x1p-53)
	// Within the cell, the remainders of the searches pick a point with
	// the bilinear luminance's density: y from its marginal, then x.
	w := e.corners(i, j)
	y := sampleLinear(fj, w[0]+w[1], w[2]+w[3])
	x := sampleLinear(fi, w[0]+y*(w[2]-w[0]), w[1]+y*(w[3]-w[1]))
	v0, dv := e.cellRow(j)
	v := v0 + y*dv
	u := (float64(i) + 0.5 + x) / float64(e.w)
	if u >= 1 {
		u--
	}
	sinT, cosT := math.Sincos(math.Pi * v)
	if !(sinT > 0) {
		return lightSample{}, false
	}
	sinP, cosP := sincos2pi(u - 0.5)
	wi := e.fromMap(Vec{X: sinT * cosP, Y: cosT, Z: sinT * sinP})
	// Density pj·pi·bilinear over a cell of dv by 1/w in (u, v);
	// dω = 2π² sin θ du dv.
	pdf := pick * pj * pi * bilinearPdf(x, y, w) * float64(e.w) / (dv * 2 * math.Pi * math.Pi * sinT)
	return lightSample{wi: wi, dist: math.Inf(1), le: e.lookup(u, v), pdf: pdf}, true
}

// pdf is the solid-angle density with which sample chooses unit direction
// d, without the probability of choosing the map.
func (e *envMap) pdf(d Vec) float64 {
	u, v := e.uv(d)
	sinT := math.Sin(math.Pi * v)
	if !(sinT > 0) {
		return 0
	}
	j := min(e.h, max(0, int(v*float64(e.h)+0.5)))
	fx := u*float64(e.w) - 0.5
	i := int(math.Floor(fx))
	x := fx - float64(i)
	if i < 0 {
		i += e.w
	}
	i = min(e.w-1, max(0, i))
	pj := e.rowCDF[j]
	if j > 0 {
		pj -= e.rowCDF[j-1]
	}
	row := e.colCDF[j*e.w : (j+1)*e.w]
	pi := float64(row[i])
	if i > 0 {
		pi -= float64(row[i-1])
	}
	if pj == 0 || pi == 0 {
		return 0
	}
	v0, dv := e.cellRow(j)
	y := min(1, max(0, (v-v0)/dv))
	return pj * pi * bilinearPdf(x, y, e.corners(i, j)) * float64(e.w) / (dv * 2 * math.Pi * math.Pi * sinT)
}

// escaped is the radiance of the environment map along the direction d of
// a ray that left the scene, weighted by multiple importance sampling
// against light sampling unless the ray came from the camera or a delta
// bounce (specular); bsdfPdf is the density with which the last bounce
// chose d.
func (s *sceneData) escaped(d Vec, specular bool, bsdfPdf float64) Vec {
	le := s.env.radiance(d)
	if specular || s.envPick == 0 {
		return le
	}
	return le.Scale(powerHeuristic(bsdfPdf, s.envPick*s.env.pdf(d)))
}
