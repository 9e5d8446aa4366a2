package render

import (
	"context"
	"fmt"
	"go/format"
	"image"
	"image/color"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestPBRWhiteFurnace: a sphere of the metallic-roughness material with a
// white base colour under a uniform background neither loses nor gains
// energy, metal or dielectric, smooth or rough: the multiple-scattering
// terms give back what single-scattering GGX loses, and the diffuse layer
// takes exactly what the specular lobe leaves.
func TestPBRWhiteFurnace(t *testing.T) {
	for _, metallic := range []float64{0, 1} {
		for _, rough := range []float64{0, 0.5, 1} {
			t.Run(fmt.Sprintf("metallic %v roughness %v", metallic, rough), func(t *testing.T) {
				s := mustLoad(t, map[string]string{"scene.json": fmt.Sprintf(`{
  "camera": {"from": [0, 0, 4], "to": [0, 0, 0], "fov": 40},
  "image": {"width": 24, "height": 24, "spp": 16, "maxDepth": 64},
  "background": [0.5, 0.5, 0.5],
  "materials": {"m": {"type": "pbr", "baseColor": [1, 1, 1], "metallic": %v, "roughness": %v}},
  "objects": [{"type": "sphere", "center": [0, 0, 0], "radius": 1.2, "material": "m"}]}`, metallic, rough)})
				img, _ := renderAll(t, s, Settings{}, 2, 8)
				sum, hi := 0.0, 0.0
				for _, v := range img.Pix {
					sum += float64(v)
					hi = max(hi, float64(v))
				}
				mean := sum / float64(len(img.Pix))
				if math.Abs(mean-0.5) > 0.005 {
					t.Errorf("mean %v, want 0.5 within 1%%", mean)
				}
				if metallic == 1 && rough == 0 && hi > 0.5+1e-6 {
					t.Errorf("a perfect white mirror shows %v, more than the background 0.5", hi)
				}
			})
		}
	}
}

// TestPBRAlbedo integrates the BSDF's reflectance by its own sampling for
// several viewing angles: 1 for a white base colour (no energy lost or
// gained), at most the base colour's for a coloured one; and checks that
// each sample's weight and density agree with eval.
func TestPBRAlbedo(t *testing.T) {
	tests := []struct {
		name         string
		base         Vec
		metallic     float64
		rough        float64
		transmission float64
		want         float64 // albedo; -1: at most 1
	}{
		{"white dielectric, rough 0.3", white, 0, 0.3, 0, 1},
		{"white dielectric, rough 1", white, 0, 1, 0, 1},
		{"white metal, rough 0.7", white, 1, 0.7, 0, 1},
		{"half metal, rough 0.4", white, 0.5, 0.4, 0, 1},
		{"red dielectric", V(0.8, 0.1, 0.1), 0, 0.5, 0, -1},
		{"rough glass", white, 0, 0.4, 1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pm := &pbrMaterial{base: tt.base, metallic: tt.metallic, roughness: tt.rough, transmission: tt.transmission, ior: 1.5, f0: 0.04}
			rg := newRNG(9, 1)
			for _, mu := range []float64{1, 0.6, 0.25} {
				wo := V(math.Sqrt(1-mu*mu), 0, mu)
				var b pbrHit
				if !b.setup(pm, tt.base, tt.metallic, tt.rough, wo, true) {
					t.Fatal("setup: reflects nothing")
				}
				const n = 200000
				sum := Vec{}
				for range n {
					bs, ok := b.sample(wo, rg.float(), rg.float(), rg.float())
					if !ok {
						continue
					}
					sum = sum.Add(bs.weight)
					if bs.delta || bs.transmit {
						continue
					}
					f, pdf := b.eval(wo, bs.wi)
					if !near(pdf, bs.pdf, 1e-9*max(1, pdf)) || !nearVec(f.Scale(1/pdf), bs.weight, 1e-9*max(1, bs.weight.MaxComp())) {
						t.Fatalf("μo %v, wi %v: sample (weight %v, pdf %v) disagrees with eval (%v, %v)", mu, bs.wi, bs.weight, bs.pdf, f.Scale(1/pdf), pdf)
					}
				}
				albedo := sum.Scale(1.0 / n)
				switch {
				case tt.want > 0 && !nearVec(albedo, V(tt.want, tt.want, tt.want), 0.01):
					t.Errorf("μo %v: albedo %v, want %v within 1%%", mu, albedo, tt.want)
				case tt.want < 0 && albedo.MaxComp() > 1.01:
					t.Errorf("μo %v: albedo %v, more than 1", mu, albedo)
				}
			}
		})
	}
}

// TestPBRTables: entries of the albedo tables in pbrtable.go agree with a
// brute-force integration of the BSDF over a grid of directions. With
// -update it writes pbrtable.go again, with 65,536 samples an entry.
func TestPBRTables(t *testing.T) {
	if *update {
		writePBRTable(t, integratePBRTable(256))
		return
	}
	tab := pbrTables()
	// (Where the lobe is narrow, at low roughness or grazing angles, the
	// grid is too coarse to judge; the furnace tests cover those.)
	for _, i := range []int{11, 20, 31} {
		for _, j := range []int{5, 16, 31} {
			r := float64(i) / (pbrTableR - 1)
			mu := (float64(j) + 0.5) / pbrTableMu
			a2 := r * r * r * r
			wo := Vec{X: math.Sqrt(1 - mu*mu), Z: mu}
			const n = 400
			e, ef := 0.0, 0.0
			for k := range n * n {
				ct := (float64(k%n) + 0.5) / n // cos θi, uniform: dω = dcos dφ
				st := math.Sqrt(1 - ct*ct)
				s, c := math.Sincos(2 * math.Pi * (float64(k/n) + 0.5) / n)
				wi := Vec{X: st * c, Y: st * s, Z: ct}
				h := wo.Add(wi).Norm()
				f := ggxD(h.Z, a2) * smithG2(wo.Z, wi.Z, a2) / (4 * wo.Z)
				e += f
				ef += f * math.Pow(1-wo.Dot(h), 5)
			}
			e, ef = e*2*math.Pi/(n*n), ef*2*math.Pi/(n*n)
			if math.Abs(tab.e[i][j]-e) > 2e-3 || math.Abs(tab.ef[i][j]-ef) > 2e-3 {
				t.Errorf("roughness %v, μ %v: E %v, Ef %v; the grid gives %v, %v", r, mu, tab.e[i][j], tab.ef[i][j], e, ef)
			}
		}
	}
	// Smooth GGX loses nothing; at roughness 1 it loses more than half.
	if e := tab.e[0][pbrTableMu-1]; e != 1 {
		t.Errorf("E at roughness 0: %v, want 1", e)
	}
	if a := tab.eAvg[pbrTableR-1]; a < 0.35 || a > 0.6 {
		t.Errorf("average E at roughness 1: %v, want about 0.4", a)
	}
}

// writePBRTable writes pbrtable.go.
func writePBRTable(t *testing.T, tab *pbrTable) {
	var b strings.Builder
	b.WriteString("// Code generated by go test ./render -run TestPBRTables -update; DO NOT EDIT.\n\npackage render\n\n")
	b.WriteString("// pbrTableData: see pbrTable and integratePBRTable (256x256 samples an entry).\nvar pbrTableData = pbrTable{\n")
	rows := func(name string, tb *[pbrTableR][pbrTableMu]float64) {
		fmt.Fprintf(&b, "\t%s: [pbrTableR][pbrTableMu]float64{\n", name)
		for i := range tb {
			b.WriteString("\t\t{")
			for j, v := range tb[i] {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.FormatFloat(v, 'g', 9, 64))
			}
			b.WriteString("},\n")
		}
		b.WriteString("\t},\n")
	}
	avg := func(name string, tb *[pbrTableR]float64) {
		fmt.Fprintf(&b, "\t%s: [pbrTableR]float64{", name)
		for i, v := range tb {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatFloat(v, 'g', 9, 64))
		}
		b.WriteString("},\n")
	}
	rows("e", &tab.e)
	rows("ef", &tab.ef)
	avg("eAvg", &tab.eAvg)
	avg("efAvg", &tab.efAvg)
	b.WriteString("}\n")
	src, err := format.Source([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("pbrtable.go", src, 0o644); err != nil {
		t.Fatal(err)
	}
}

// punctualLightsDoc returns a glTF document of the given nodes, every one a
// root, holding the lights of lights (KHR_lights_punctual).
func punctualLightsDoc(t *testing.T, lights, nodes []any) string {
	t.Helper()
	roots := make([]any, len(nodes))
	for i := range nodes {
		roots[i] = i
	}
	g := &gltfBuilder{}
	return g.file(t, map[string]any{
		"extensionsUsed": []any{"KHR_lights_punctual"},
		"extensions":     map[string]any{"KHR_lights_punctual": map[string]any{"lights": lights}},
		"scene":          0, "scenes": []any{map[string]any{"nodes": roots}}, "nodes": nodes,
	})
}

// lightScene is a JSON scene of a floor (quad at y = 0, albedo 1) seen from
// above through a pinhole camera at one point, with a glTF object holding
// the lights of lights (KHR_lights_punctual) on nodes.
func lightScene(t *testing.T, look Vec, lights []any, nodes []any, extra string) *Scene {
	t.Helper()
	doc := punctualLightsDoc(t, lights, nodes)
	return mustLoad(t, map[string]string{"l.gltf": doc, "scene.json": fmt.Sprintf(`{
  "camera": {"from": [%v, 0.5, %v], "to": [%v, 0, %v], "up": [0, 0, -1], "fov": 0.01},
  "image": {"width": 1, "height": 1, "spp": 64, "maxDepth": 2},
  "materials": {"floor": {"type": "diffuse", "albedo": [1, 1, 1]}%s},
  "objects": [{"type": "quad", "corner": [-10, 0, 10], "u": [20, 0, 0], "v": [0, 0, -20], "material": "floor"},
              {"type": "gltf", "file": "l.gltf"}]}`, look.X, look.Z, look.X, look.Z, extra)})
}

// radianceAt renders the scene's one pixel.
func radianceAt(t *testing.T, s *Scene) float64 {
	t.Helper()
	pix := make([]float32, 3)
	if _, err := s.RenderTile(context.Background(), Settings{}, image.Rect(0, 0, 1, 1), pix); err != nil {
		t.Fatal(err)
	}
	return float64(pix[0])
}

// TestPunctualLightsAnalytic: point, spot and directional lights over a
// white Lambert floor give the radiance of the formulas, in Blender's
// units: a point light of P watts has intensity P/4π·683 candela and gives
// L = (P/4π)·cos θ/d² / π; a sun of E W/m² has E·683 lux and gives
// L = E·cos θ/π. (Cycles, here: 100 W 1 m above the floor, 2.53.)
func TestPunctualLightsAnalytic(t *testing.T) {
	down := []any{-math.Sqrt2 / 2, 0, 0, math.Sqrt2 / 2} // -Z turned to -Y
	watts := func(p float64) float64 { return p / (4 * math.Pi) * lumensPerWatt }
	tilt := 30 * math.Pi / 180
	tests := []struct {
		name   string
		look   Vec
		light  map[string]any
		node   map[string]any
		want   float64
		within float64
	}{
		{"100 W point 1 m above", V(0, 0, 0), map[string]any{"type": "point", "intensity": watts(100)},
			map[string]any{"translation": []any{0, 1, 0}}, 100 / (4 * math.Pi) / math.Pi, 1e-9},
		{"point 2 m above, 1 m aside", V(1, 0, 0), map[string]any{"type": "point", "intensity": watts(100), "color": []any{1, 0.5, 0.5}},
			map[string]any{"translation": []any{0, 2, 0}}, 100 / (4 * math.Pi) * (2 / math.Sqrt(5)) / 5 / math.Pi, 1e-9},
		{"3 W/m² sun straight down", V(0, 0, 0), map[string]any{"type": "directional", "intensity": 3 * lumensPerWatt},
			map[string]any{"rotation": down}, 3 / math.Pi, 1e-9},
		{"sun 30° from the zenith", V(0, 0, 0), map[string]any{"type": "directional", "intensity": 3 * lumensPerWatt},
			map[string]any{"rotation": []any{-math.Sin((math.Pi/2 - tilt) / 2), 0, 0, math.Cos((math.Pi/2 - tilt) / 2)}}, 3 * math.Cos(tilt) / math.Pi, 1e-9},
		{"spot, inside the inner cone", V(0, 0, 0), map[string]any{"type": "spot", "intensity": watts(50), "spot": map[string]any{"innerConeAngle": 0.2, "outerConeAngle": 0.4}},
			map[string]any{"translation": []any{0, 1, 0}, "rotation": down}, 50 / (4 * math.Pi) / math.Pi, 1e-9},
		{"spot, outside the outer cone", V(1, 0, 0), map[string]any{"type": "spot", "intensity": watts(50), "spot": map[string]any{"innerConeAngle": 0.2, "outerConeAngle": 0.4}},
			map[string]any{"translation": []any{0, 1, 0}, "rotation": down}, 0, 0},
		{"spot, between the cones", V(math.Tan(0.3), 0, 0), map[string]any{"type": "spot", "intensity": watts(50), "spot": map[string]any{"innerConeAngle": 0.2, "outerConeAngle": 0.4}},
			map[string]any{"translation": []any{0, 1, 0}, "rotation": down},
			50 / (4 * math.Pi) * math.Pow(math.Cos(0.3), 3) / math.Pi * sq((math.Cos(0.3)-math.Cos(0.4))/(math.Cos(0.2)-math.Cos(0.4))), 1e-9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.node["extensions"] = map[string]any{"KHR_lights_punctual": map[string]any{"light": 0}}
			s := lightScene(t, tt.look, []any{tt.light}, []any{tt.node}, "")
			got := radianceAt(t, s)
			if math.Abs(got-tt.want) > 1e-4*tt.want+1e-9 {
				t.Errorf("radiance %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("two lights, each sampled at every vertex, sum", func(t *testing.T) {
		pt := map[string]any{"translation": []any{0, 1, 0}, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 0}}}
		sun := map[string]any{"rotation": down, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 1}}}
		s := lightScene(t, V(0, 0, 0), []any{
			map[string]any{"type": "point", "intensity": watts(100)},
			map[string]any{"type": "directional", "intensity": 3 * lumensPerWatt},
		}, []any{pt, sun}, "")
		want := 100/(4*math.Pi)/math.Pi + 3/math.Pi
		if got := radianceAt(t, s); math.Abs(got-want) > 1e-4*want {
			t.Errorf("radiance %v, want %v", got, want)
		}
	})
	t.Run("more lights than are sampled each, chosen by power", func(t *testing.T) {
		var lights, nodes []any
		want := 0.0
		for i := range maxEachPunctual + 2 {
			lights = append(lights, map[string]any{"type": "point", "intensity": watts(float64(10 * (i + 1)))})
			nodes = append(nodes, map[string]any{"translation": []any{0, 1, 0}, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": i}}})
			want += float64(10*(i+1)) / (4 * math.Pi) / math.Pi
		}
		s := lightScene(t, V(0, 0, 0), lights, nodes, "")
		s.settings.SPP = 1 << 14
		if s.eachPunctual || len(s.lights) != maxEachPunctual+2 {
			t.Fatalf("%d lights to choose from, eachPunctual %v", len(s.lights), s.eachPunctual)
		}
		if got := radianceAt(t, s); math.Abs(got-want) > 0.02*want {
			t.Errorf("radiance %v, want %v within 2%%", got, want)
		}
	})
}

// TestAlphaCutouts: camera and shadow rays pass through the cut-out texels
// of an alpha MASK material, and stop at the others.
func TestAlphaCutouts(t *testing.T) {
	down := []any{-math.Sqrt2 / 2, 0, 0, math.Sqrt2 / 2}
	for _, alpha := range []uint8{0, 255} {
		t.Run(fmt.Sprintf("alpha %d", alpha), func(t *testing.T) {
			tex := pngBytes(t, 2, 2, color.NRGBA{R: 255, G: 255, B: 255, A: alpha})
			g := &gltfBuilder{}
			// A leaf at y = 0.25 over the floor, between it and the camera and the sun.
			leaf := g.floats("VEC3", -1, 0.25, 1, 1, 0.25, 1, 1, 0.25, -1, -1, 0.25, -1)
			uv := g.floats("VEC2", 0, 0, 1, 0, 1, 1, 0, 1)
			img := g.view(tex, 0)
			doc := g.file(t, map[string]any{
				"extensions": map[string]any{"KHR_lights_punctual": map[string]any{"lights": []any{map[string]any{"type": "directional", "intensity": 3 * lumensPerWatt}}}},
				"scene":      0, "scenes": []any{map[string]any{"nodes": []any{0, 1}}},
				"nodes": []any{
					map[string]any{"rotation": down, "extensions": map[string]any{"KHR_lights_punctual": map[string]any{"light": 0}}},
					map[string]any{"mesh": 0},
				},
				"meshes": []any{map[string]any{"primitives": []any{map[string]any{
					"attributes": map[string]any{"POSITION": leaf, "TEXCOORD_0": uv}, "indices": g.indices(gltfUByte, 0, 1, 2, 0, 2, 3), "material": 0}}}},
				"materials": []any{map[string]any{"alphaMode": "MASK", "doubleSided": true,
					"pbrMetallicRoughness": map[string]any{"baseColorTexture": map[string]any{"index": 0}, "metallicFactor": 0}}},
				"textures": []any{map[string]any{"source": 0}},
				"images":   []any{map[string]any{"bufferView": img, "mimeType": "image/png"}},
			})
			s := mustLoad(t, map[string]string{"l.gltf": doc, "scene.json": `{
  "camera": {"from": [0, 0.5, 0], "to": [0, 0, 0], "up": [0, 0, -1], "fov": 0.01},
  "image": {"width": 1, "height": 1, "spp": 16, "maxDepth": 2},
  "materials": {"floor": {"type": "diffuse", "albedo": [1, 1, 1]}},
  "objects": [{"type": "quad", "corner": [-10, 0, 10], "u": [20, 0, 0], "v": [0, 0, -20], "material": "floor"},
              {"type": "gltf", "file": "l.gltf"}]}`})
			got := radianceAt(t, s)
			want := 3 / math.Pi // the floor, lit by the sun through the cut-out leaf
			if alpha == 255 {
				want = 3 * pbrEval(t, s) // the leaf itself, white, lit from straight above
			}
			if math.Abs(got-want) > 1e-6*want {
				t.Errorf("radiance %v, want %v", got, want)
			}
		})
	}
}

// pbrEval returns f·cos θi of the scene's first pbr material for light
// and viewer both along the normal.
func pbrEval(t *testing.T, s *Scene) float64 {
	t.Helper()
	for i := range s.materials {
		if pm := s.materials[i].pbr; pm != nil {
			var b pbrHit
			b.setup(pm, pm.base, pm.metallic, pm.roughness, V(0, 0, 1), true)
			f, _ := b.eval(V(0, 0, 1), V(0, 0, 1))
			return f.X
		}
	}
	t.Fatal("no pbr material")
	return 0
}

// TestLightCloseToSurface: a two-sided rectangular light 10 cm above a
// Lambert floor, seen from a floor point beside it at a grazing angle (the
// still life's panel before its wall), 20 units from the origin (where the
// shadow rays' offset off the floor is 2e-6): the shadow rays must reach
// the sampled points on the light, not be shadowed by the light itself. The
// radiance is the form factor's: a rectangle [x1, x2] x [y1, y2] at height
// h from corner rectangles, F(x2, y2) - F(x1, y2) - F(x2, y1) + F(x1, y1).
func TestLightCloseToSurface(t *testing.T) {
	corner := func(x, y float64) float64 { // x, y in units of the height
		a, b := math.Sqrt(1+x*x), math.Sqrt(1+y*y)
		return math.Copysign(1, x*y) * (math.Abs(x)/a*math.Atan(math.Abs(y)/a) + math.Abs(y)/b*math.Atan(math.Abs(x)/b)) / (2 * math.Pi)
	}
	h := 0.1
	f := corner(2/h, 0.5/h) - corner(1/h, 0.5/h) - corner(2/h, -0.5/h) + corner(1/h, -0.5/h)
	want := 0.5 * 10 * f
	// The same light as a JSON emitter and as a pbr one.
	for _, light := range []string{
		`{"type": "emissive", "emission": [10, 10, 10], "twoSided": true}`,
		`{"type": "pbr", "baseColor": [0, 0, 0], "emission": [10, 10, 10], "twoSided": true}`,
	} {
		s := mustLoad(t, map[string]string{"scene.json": `{
  "camera": {"from": [20, 0.5, 3], "to": [20, 0, 0], "fov": 0.01},
  "image": {"width": 1, "height": 1, "spp": 16384, "maxDepth": 2},
  "materials": {"floor": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
                "light": ` + light + `},
  "objects": [{"type": "quad", "corner": [10, 0, 10], "u": [20, 0, 0], "v": [0, 0, -20], "material": "floor"},
              {"type": "quad", "corner": [21, 0.1, -0.5], "u": [0, 0, 1], "v": [1, 0, 0], "material": "light"}]}`})
		if got := radianceAt(t, s); math.Abs(got-want) > 0.02*want {
			t.Errorf("%s: radiance %v, want %v within 2%%", light, got, want)
		}
	}
}
