package render

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"strings"
	"testing"
)

// constantHDR is a small map of one colour, and the radiance it decodes to.
func constantHDR(w, h int, c [3]float32) (string, Vec) {
	p := rgbe(c)
	line := make([][4]byte, w)
	for i := range line {
		line[i] = p
	}
	lines := make([][][4]byte, h)
	for i := range lines {
		lines[i] = line
	}
	v := unrgbe(p)
	return string(hdrBytes(nil, fmt.Sprintf("-Y %d +X %d", h, w), lines, hdrRLE)), Vec{X: float64(v[0]), Y: float64(v[1]), Z: float64(v[2])}
}

// diffStats returns the mean of a-b over every channel and its standard
// error (from the pixels' means of their channels, which are not
// independent of one another), and the RMS of a-b over every channel.
func diffStats(a, b []float32) (mean, stderr, rms float64) {
	var s, s2, sq float64
	for i := 0; i < len(a); i += 3 {
		p := 0.0
		for c := i; c < i+3; c++ {
			d := float64(a[c]) - float64(b[c])
			p += d / 3
			sq += d * d
		}
		s += p
		s2 += p * p
	}
	n := float64(len(a) / 3)
	mean = s / n
	return mean, math.Sqrt(max(0, s2/n-mean*mean) / n), math.Sqrt(sq / float64(len(a)))
}

// TestEnvFurnace: a map of one colour lights a scene as the same uniform
// background does, within noise, whatever the material. The background
// render is exact for diffuse spheres (every path escapes with the
// background's radiance); the map's is noisy, as light sampling and BSDF
// sampling share the work by MIS, but its mean difference must be within
// the noise and its pixels close.
func TestEnvFurnace(t *testing.T) {
	hdr, l := constantHDR(16, 8, [3]float32{0.5, 0.5, 0.5})
	tests := []struct {
		name string
		mat  string
		rms  float64 // bound on the RMS pixel difference, relative to l
	}{
		{"diffuse", `{"type": "diffuse", "albedo": [1, 1, 1]}`, 0.08},
		{"grey diffuse", `{"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}`, 0.06},
		{"rough metal", `{"type": "metal", "albedo": [1, 1, 1], "roughness": 0.5}`, 0.2},
		{"mirror", `{"type": "metal", "albedo": [0.9, 0.9, 0.9], "roughness": 0}`, 1e-6},
		{"glass", `{"type": "dielectric", "ior": 1.5}`, 0.15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scene := func(light string) string {
				return `{
  "camera": {"from": [0, 0, 4], "to": [0, 0, 0], "fov": 40},
  "image": {"width": 24, "height": 24, "spp": 16, "maxDepth": 64},
  ` + light + `,
  "materials": {"m": ` + tt.mat + `},
  "objects": [{"type": "sphere", "center": [0, 0, 0], "radius": 1.2, "material": "m"}]}`
			}
			bg := mustLoad(t, map[string]string{"scene.json": scene(fmt.Sprintf(`"background": [%v, %v, %v]`, l.X, l.Y, l.Z))})
			env := mustLoad(t, map[string]string{"scene.json": scene(`"environment": {"file": "c.hdr", "rotate": 37}`), "c.hdr": hdr})
			want, _ := renderAll(t, bg, Settings{}, 2, 8)
			got, _ := renderAll(t, env, Settings{}, 2, 8)
			mean, se, rms := diffStats(got.Pix, want.Pix)
			t.Logf("map - background: mean %.2e (standard error %.2e), RMS %.4f of %.4f", mean, se, rms, l.X)
			if math.Abs(mean) > 4*se+1e-6*l.X {
				t.Errorf("mean difference %v is more than 4 standard errors (%v): the map is not the background", mean, se)
			}
			if rms > tt.rms*l.X {
				t.Errorf("RMS difference %v, want at most %v", rms, tt.rms*l.X)
			}
		})
	}
}

// withoutEnvSampling returns a copy of s, a scene lit only by its map, in
// which the map is found by BSDF sampling alone.
func withoutEnvSampling(t *testing.T, s *Scene) *Scene {
	t.Helper()
	if len(s.lights) != 1 || s.lights[0].kind != lightEnv {
		t.Fatalf("the scene has %d lights besides its map", len(s.lights)-1)
	}
	c := &Scene{sceneData: s.sceneData}
	c.lights, c.lightTree, c.suns, c.envLight, c.envPick = nil, nil, nil, -1, 0
	return c
}

// rmse is the root mean square difference of two images.
func rmse(a, b *Image) float64 {
	_, _, r := diffStats(a.Pix, b.Pix)
	return r
}

// TestEnvConvergence: a sphere and a floor lit only by a map that is black
// but for one small bright patch (a sun of 3x2 pixels of a 128x64 map,
// 0.0036 sr). At equal samples, importance sampling the map must reach an
// RMSE against a high-sample reference at least 4 times lower than BSDF
// sampling alone, and about that of a spherical area light of the same
// size, radiance and direction, as the issue asks.
func TestEnvConvergence(t *testing.T) {
	const w, h, px, py, pw, ph = 128, 64, 84, 18, 3, 2
	sun := [3]float32{3000, 2800, 2500}
	line := func(y int) [][4]byte {
		l := make([][4]byte, w)
		for x := range l {
			if x >= px && x < px+pw && y >= py && y < py+ph {
				l[x] = rgbe(sun)
			}
		}
		return l
	}
	var lines [][][4]byte
	for y := 0; y < h; y++ {
		lines = append(lines, line(y))
	}
	hdr := string(hdrBytes(nil, "-Y 64 +X 128", lines, hdrRLE))
	objects := `{"type": "sphere", "center": [0, 0.6, 0], "radius": 0.6, "material": "white"},
              {"type": "quad", "corner": [-3, 0, 3], "u": [6, 0, 0], "v": [0, 0, -6], "material": "grey"}`
	scene := func(light, extra string) string {
		return `{
  "camera": {"from": [0, 1.5, 4], "to": [0, 0.4, 0], "fov": 40},
  "image": {"width": 24, "height": 16, "spp": 16, "maxDepth": 4},
  ` + light + `
  "materials": {"white": {"type": "diffuse", "albedo": [0.8, 0.8, 0.8]},
                "grey": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
                "sun": {"type": "emissive", "emission": [` + fmt.Sprint(unrgbe(rgbe(sun))[0], ",", unrgbe(rgbe(sun))[1], ",", unrgbe(rgbe(sun))[2]) + `]}},
  "objects": [` + objects + extra + `]}`
	}
	is := mustLoad(t, map[string]string{"scene.json": scene(`"environment": {"file": "sun.hdr"},`, ""), "sun.hdr": hdr})
	bsdf := withoutEnvSampling(t, is)

	// The same sun as a sphere: the direction of the patch's centre, far
	// away, subtending the patch's solid angle.
	e := is.env
	uc, vc := (float64(px)+float64(pw)/2)/w, (float64(py)+float64(ph)/2)/h
	sinT, cosT := math.Sincos(math.Pi * vc)
	sp, cp := sincos2pi(uc - 0.5)
	dir := e.fromMap(Vec{X: sinT * cp, Y: cosT, Z: sinT * sp})
	omega := 2 * math.Pi * math.Pi * sinT * float64(pw*ph) / (w * h)
	const dist = 1000.0
	r := dist * math.Sqrt(omega/math.Pi)
	c := dir.Scale(dist)
	area := mustLoad(t, map[string]string{"scene.json": scene("", fmt.Sprintf(`,
              {"type": "sphere", "center": [%v, %v, %v], "radius": %v, "material": "sun"}`, c.X, c.Y, c.Z, r))})

	set := Settings{SPP: 16}
	ref, _ := renderAll(t, is, Settings{SPP: 256}, 2, 8)
	areaRef, _ := renderAll(t, area, Settings{SPP: 256}, 2, 8)
	imgIS, _ := renderAll(t, is, set, 2, 8)
	imgBSDF, _ := renderAll(t, bsdf, set, 2, 8)
	imgArea, _ := renderAll(t, area, set, 2, 8)
	eIS, eBSDF, eArea := rmse(imgIS, ref), rmse(imgBSDF, ref), rmse(imgArea, areaRef)
	mean := 0.0
	for _, v := range ref.Pix {
		mean += float64(v) / float64(len(ref.Pix))
	}
	t.Logf("16 spp against 256: RMSE importance sampling %.4f, BSDF sampling alone %.4f (%.1fx), the sun as a sphere light %.4f; mean radiance %.4f (sphere light's %.4f)",
		eIS, eBSDF, eBSDF/eIS, eArea, mean, meanOf(areaRef))
	if eBSDF < 4*eIS {
		t.Errorf("RMSE %.4f with importance sampling, %.4f without: want at least 4x lower", eIS, eBSDF)
	}
	if eIS > 1.5*eArea {
		t.Errorf("RMSE %.4f with the map, %.4f with a sphere light of the same size: want at most 1.5x", eIS, eArea)
	}
	// The patch and the sphere light are the same light: the references agree.
	if m, a := mean, meanOf(areaRef); math.Abs(m-a) > 0.03*a {
		t.Errorf("mean radiance %.4f under the map, %.4f under the sphere light: want within 3%%", m, a)
	}
}

func meanOf(m *Image) float64 {
	s := 0.0
	for _, v := range m.Pix {
		s += float64(v)
	}
	return s / float64(len(m.Pix))
}

// quadrants returns the mean luminance of each quarter of an image (top
// left, top right, bottom left, bottom right).
func quadrants(m *Image) [4]float64 {
	var q [4]float64
	for y := 0; y < m.Height; y++ {
		for x := 0; x < m.Width; x++ {
			i := (y*m.Width + x) * 3
			l := Vec{X: float64(m.Pix[i]), Y: float64(m.Pix[i+1]), Z: float64(m.Pix[i+2])}.Luminance()
			q[2*(2*y/m.Height)+2*x/m.Width] += 4 * l / float64(m.Width*m.Height)
		}
	}
	return q
}

// TestEnvSphereMatchesCycles renders testdata/scenes/envsphere.json (a
// white diffuse sphere under a sunset) and compares it with Cycles' render
// of the same scene in Blender (testdata/env/envsphere.py): each quarter of
// the image within 2%, so the map faces the same way, lights the sphere
// from the same side and with the same power. Cycles reads .hdr files
// without the half step Radiance's decoding adds (see README), which makes
// it 0.2-0.4% darker. The same render with the map turned half a turn
// must fail the comparison.
func TestEnvSphereMatchesCycles(t *testing.T) {
	want := quadrants(readPFM(t, "../testdata/env/envsphere-cycles.pfm"))
	s, b, err := LoadFile("../testdata/scenes/envsphere.json", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Files["../env/sunset-128.hdr"]; !ok {
		t.Errorf("the bundle holds %d files, not the map", len(b.Files))
	}
	img, _ := renderAll(t, s, Settings{}, 2, 16)
	got := quadrants(img)
	for i := range got {
		if math.Abs(got[i]-want[i]) > 0.02*want[i] {
			t.Errorf("quarter %d: mean luminance %.4f, Cycles %.4f: want within 2%%", i, got[i], want[i])
		}
	}
	t.Logf("quarters %.4f, Cycles %.4f", got, want)

	turned := *s
	env := *s.env
	env.sinR, env.cosR = 0, -1
	turned.env = &env
	img, _ = renderAll(t, &turned, Settings{}, 2, 16)
	worst := 0.0
	for i, q := range quadrants(img) {
		worst = max(worst, math.Abs(q-want[i])/want[i])
	}
	if worst < 0.1 {
		t.Errorf("with the map turned 180 degrees the quarters are within %.1f%% of Cycles: the comparison cannot see orientation", 100*worst)
	}
}

// TestEnvDeterminism: with a map, a pixel is the same whatever the tiles
// and workers, alone or in the image, and the map's bytes alone decide the
// sampling tables.
func TestEnvDeterminism(t *testing.T) {
	s, b, err := LoadFile("../testdata/scenes/envsphere.json", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	set := Settings{Width: 40, Height: 30, SPP: 2}
	ref, refSt := renderAll(t, s, set, 1, 8)
	for _, r := range []struct{ workers, tile int }{{2, 8}, {2, 7}, {1, 32}} {
		img, st := renderAll(t, s, set, r.workers, r.tile)
		if i := firstDiff(ref.Pix, img.Pix); i >= 0 || st.Rays != refSt.Rays {
			t.Errorf("%d workers, tile %d: pixel %d differs (%d rays, want %d)", r.workers, r.tile, i/3, st.Rays, refSt.Rays)
		}
	}
	again, err := LoadBundle(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]float32, 3)
	if _, err := again.RenderTile(context.Background(), set, image.Rect(21, 14, 22, 15), pix); err != nil {
		t.Fatal(err)
	}
	if want := ref.Tile(image.Rect(21, 14, 22, 15)); firstDiff(pix, want) >= 0 {
		t.Errorf("pixel (21, 14) from the bundle alone = %v, in the image %v", pix, want)
	}
	dst := make([]float32, 8*8*3)
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := s.RenderTile(context.Background(), set, image.Rect(16, 8, 24, 16), dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per tile, want 0", allocs)
	}
}

// TestEnvWithAreaLights: a map and an emissive surface together are both
// light-sampled (half the choices each) and the image equals, within
// noise, the sum of the two lit alone.
func TestEnvWithAreaLights(t *testing.T) {
	hdr, _ := constantHDR(8, 4, [3]float32{0.2, 0.3, 0.4})
	scene := func(env, light string) string {
		return `{
  "camera": {"from": [0, 1, 4], "to": [0, 0.5, 0], "fov": 40},
  "image": {"width": 16, "height": 12, "spp": 64, "maxDepth": 2},
  ` + env + `
  "materials": {"white": {"type": "diffuse", "albedo": [0.8, 0.8, 0.8]},
                "light": {"type": "emissive", "emission": [20, 20, 20]}},
  "objects": [{"type": "sphere", "center": [0, 0.5, 0], "radius": 0.5, "material": "white"},
              {"type": "quad", "corner": [-2, 0, 2], "u": [4, 0, 0], "v": [0, 0, -4], "material": "white"}` + light + `]}`
	}
	lamp := `, {"type": "sphere", "center": [1.5, 2, 1], "radius": 0.2, "material": "light"}`
	files := func(json string) map[string]string { return map[string]string{"scene.json": json, "e.hdr": hdr} }
	both := mustLoad(t, files(scene(`"environment": {"file": "e.hdr"},`, lamp)))
	if len(both.lights) != 2 || both.envPick != envShare || both.lights[0].kind != lightSphere {
		t.Fatalf("lights %+v, map chosen with probability %v: want the lamp and the map, half each", both.lights, both.envPick)
	}
	envOnly := mustLoad(t, files(scene(`"environment": {"file": "e.hdr"},`, "")))
	lampOnly := mustLoad(t, files(scene("", lamp)))
	a, _ := renderAll(t, both, Settings{}, 2, 8)
	b, _ := renderAll(t, envOnly, Settings{}, 2, 8)
	c, _ := renderAll(t, lampOnly, Settings{}, 2, 8)
	sum := NewImage(a.Width, a.Height)
	for i := range sum.Pix {
		sum.Pix[i] = b.Pix[i] + c.Pix[i]
	}
	mean, se, _ := diffStats(a.Pix, sum.Pix)
	if math.Abs(mean) > 4*se {
		t.Errorf("both lights minus the sum of each alone: mean %v, standard error %v", mean, se)
	}
}

func TestEnvironmentStrength(t *testing.T) {
	hdr, l := constantHDR(4, 2, [3]float32{1, 0.5, 0.25})
	scene := func(strength string) string {
		return `{"camera": {"from": [0, 0, 1], "to": [0, 0, 0]}, "image": {"width": 2, "height": 2, "spp": 1},
  "environment": {"file": "e.hdr"` + strength + `}, "objects": []}`
	}
	for _, k := range []float64{0, 1, 2.5} {
		s := mustLoad(t, map[string]string{"scene.json": scene(fmt.Sprintf(`, "strength": %v`, k)), "e.hdr": hdr})
		img, _ := renderAll(t, s, Settings{}, 1, 2)
		for i := 0; i < len(img.Pix); i += 3 {
			got := Vec{X: float64(img.Pix[i]), Y: float64(img.Pix[i+1]), Z: float64(img.Pix[i+2])}
			if got.Sub(l.Scale(k)).Len() > 1e-6 {
				t.Fatalf("strength %v: pixel %v, want %v", k, got, l.Scale(k))
			}
		}
	}
	if s := mustLoad(t, map[string]string{"scene.json": scene(`, "strength": 0`), "e.hdr": hdr}); len(s.lights) != 0 {
		t.Errorf("a map of strength 0 is sampled as a light: %+v", s.lights)
	}
}

// withoutPunctualLights returns a copy of a .glb whose nodes carry no
// KHR_lights_punctual light: Blender's still life with its lamps deleted.
func withoutPunctualLights(t *testing.T, glb []byte) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(glb[12:]))
	var doc map[string]any
	if err := json.Unmarshal(glb[20:20+n], &doc); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, node := range doc["nodes"].([]any) {
		if ext, ok := node.(map[string]any)["extensions"].(map[string]any); ok && ext["KHR_lights_punctual"] != nil {
			delete(ext, "KHR_lights_punctual")
			removed++
		}
	}
	if removed == 0 {
		t.Fatal("the file has no punctual light")
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for len(js)%4 != 0 {
		js = append(js, ' ')
	}
	rest := glb[20+n:]
	out := binary.LittleEndian.AppendUint32(append([]byte(nil), glb[:8]...), uint32(20+len(js)+len(rest)))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(js)))
	out = append(append(append(out, "JSON"...), js...), rest...)
	return out
}

// TestStillLifeEnvMatchesCycles renders Blender's still life with its
// punctual lights removed, lit by the sunset map (the emissive panel stays)
// as `tessera render -env` writes it, and compares it with Cycles rendering
// the same in Blender (tools/cycles_ref.py of the shared models with --env
// testdata/env/sunset-128.hdr --no-lights; 320x200, 256 spp, clamped at 10
// and box-filtered to 80x50 as testdata/golden/README says): the image's
// mean within 6%, each of 4x4 regions within 12%. What remains is the
// Principled BSDF (see TestStillLifeMatchesCycles).
func TestStillLifeEnvMatchesCycles(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of rendering")
	}
	glb, err := os.ReadFile("../testdata/scenes/stilllife.glb")
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := os.ReadFile("../testdata/env/sunset-128.hdr")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bundle{Main: "stilllife.glb.scene.json", Files: map[string][]byte{
		"stilllife.glb":            withoutPunctualLights(t, glb),
		"sunset-128.hdr":           hdr,
		"stilllife.glb.scene.json": DirectScene("stilllife.glb", Direct{Env: "sunset-128.hdr"}, true),
	}}
	s, err := LoadBundle(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.punctual) != 0 || s.env == nil || s.envPick != envShare {
		t.Fatalf("%d punctual lights, map %v chosen with probability %v: want only the map and the panel", len(s.punctual), s.env != nil, s.envPick)
	}
	img, _ := renderAll(t, s, Settings{Width: 80, Height: 50, SPP: 32}, 2, 16)
	cy := readPFM(t, "../testdata/golden/stilllife-cycles-sunset-80x50.pfm")
	all, reg := regionMeans(img, 10)
	call, creg := regionMeans(cy, 10)
	t.Logf("mean %.4f, Cycles %.4f (ratio %.3f)", all, call, all/call)
	if math.Abs(all/call-1) > 0.06 {
		t.Errorf("mean radiance %.4f, Cycles %.4f: more than 6%% apart", all, call)
	}
	for k := range reg {
		r := reg[k] / creg[k]
		t.Logf("  region row %d column %d: %.4f / %.4f = %.3f", k/4, k%4, reg[k], creg[k], r)
		if math.Abs(r-1) > 0.12 {
			t.Errorf("region row %d column %d: %.4f, Cycles %.4f (ratio %.3f)", k/4, k%4, reg[k], creg[k], r)
		}
	}
}

// TestDirectEnvironment: -env and its strength and rotation become the
// "environment" of the scene file written for a glTF file, the map joins
// the bundle under its name relative to the glTF file, and the white sky of
// an unlit file gives way to it.
func TestDirectEnvironment(t *testing.T) {
	const glb = "../testdata/scenes/stilllife.glb"
	d := Direct{Env: "../testdata/env/sunset-128.hdr", EnvStrength: 2, EnvRotate: 30}
	s, b, err := LoadDirect(glb, d, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := "\"environment\": {\"file\": \"../env/sunset-128.hdr\", \"strength\": 2, \"rotate\": 30}"
	if js := string(b.Files[b.Main]); !strings.Contains(js, want) || strings.Contains(js, "background") {
		t.Errorf("scene file\n%s\nwant it to contain %s and no background", js, want)
	}
	if b.Files["../env/sunset-128.hdr"] == nil || len(b.Files) != 3 {
		t.Errorf("bundle of %d files without the map", len(b.Files))
	}
	if s.env == nil || s.env.strength != 2 || math.Abs(s.env.sinR-0.5) > 1e-12 {
		t.Fatalf("environment %+v, want strength 2 turned 30 degrees", s.env)
	}
	again, err := LoadBundle(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if again.env == nil || again.env.power != s.env.power {
		t.Error("the bundle alone builds another map")
	}
	_, b2, err := LoadDirect(glb, Direct{Env: d.Env}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if b2.Hash() == b.Hash() || !strings.Contains(string(b2.Files[b2.Main]), `"strength": 1, "rotate": 0}`) {
		t.Errorf("strength 0 is not the default 1, or another strength gives the same hash:\n%s", b2.Files[b2.Main])
	}
	_, b3, err := LoadDirect("testdata/gltf/BoxTextured-glTF-Binary/BoxTextured.glb", Direct{Env: "../testdata/env/sunset-128.hdr"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if js := string(b3.Files[b3.Main]); strings.Contains(js, "background") || !strings.Contains(js, `"file": "../../../../testdata/env/sunset-128.hdr"`) {
		t.Errorf("scene file of an unlit model with a map:\n%s", js)
	}
	for _, tt := range []struct {
		name string
		path string
		d    Direct
		want string
	}{
		{"strength without a map", glb, Direct{EnvStrength: 2}, "strength or rotation without an environment map"},
		{"strength not a number", glb, Direct{Env: d.Env, EnvStrength: math.NaN()}, "environment strength NaN"},
		{"rotation infinite", glb, Direct{Env: d.Env, EnvRotate: math.Inf(1)}, "environment rotation +Inf degrees"},
		{"a map for a JSON scene", "../testdata/scenes/cornell.json", Direct{Env: d.Env}, "-env and the like apply to a .gltf or .glb file"},
	} {
		if _, _, err := LoadDirect(tt.path, tt.d, Limits{}); !errors.Is(err, ErrBadSettings) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want ErrBadSettings saying %q", tt.name, err, tt.want)
		}
	}
	if _, _, err := LoadDirect(glb, Direct{Env: "../testdata/env/none.hdr"}, Limits{}); err == nil || !strings.Contains(err.Error(), `environment "../env/none.hdr"`) {
		t.Errorf("a missing map: error %v", err)
	}
}
