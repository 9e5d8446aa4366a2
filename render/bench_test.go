package render

import (
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"runtime"
	"testing"
)

// BenchmarkRenderTile renders a 64x64 image of each scene, 4 samples per
// pixel, on one goroutine, and reports rays (camera, bounce and shadow) per
// second: the kernel's speed per core.
func BenchmarkRenderTile(b *testing.B) {
	for _, name := range []string{"cornell", "bunny", "spheres", "stilllife"} {
		b.Run(name, func(b *testing.B) {
			file := "../testdata/scenes/" + name + ".json"
			if name == "stilllife" {
				file = "../testdata/scenes/stilllife.glb"
			}
			s, _, err := LoadFile(file, Limits{})
			if err != nil {
				b.Fatal(err)
			}
			set := Settings{Width: 64, Height: 64, SPP: 4}
			r := image.Rect(0, 0, 64, 64)
			dst := make([]float32, 64*64*3)
			ctx := context.Background()
			var rays uint64
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := threadCPU()
			for b.Loop() {
				n, err := s.RenderTile(ctx, set, r, dst)
				if err != nil {
					b.Fatal(err)
				}
				rays += n
			}
			b.ReportMetric(float64(rays)/b.Elapsed().Seconds()/1e6, "Mrays/s")
			if cpu := threadCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(rays)/cpu.Seconds()/1e6, "Mrays/cpu-s")
			}
			b.ReportMetric(float64(rays)/float64(b.N)/float64(64*64*4), "rays/sample")
		})
	}
}

func BenchmarkBVHBuild(b *testing.B) {
	prims := loadTestOBJ(b, "../testdata/meshes/bunny.obj")
	b.ReportAllocs()
	shapeOf := func(i int) shape { return prims[i] }
	for b.Loop() {
		buildBVH(len(prims), shapeOf)
	}
	b.ReportMetric(float64(len(prims)), "triangles")
}

// BenchmarkBVHBuildBig builds the tree of a million triangles (a sphere of
// 500x1000 quads cut in two, pushed in and out by a sine, as the mesh
// section's sphere is) and reports the process's CPU seconds a build, the
// collections it runs included: run it with -cpu 1 for one core.
func BenchmarkBVHBuildBig(b *testing.B) {
	const rows, cols = 500, 1000
	at := func(i, j int) Vec {
		th, ph := math.Pi*float64(i)/rows, 2*math.Pi*float64(j)/cols
		r := 1 + 0.05*math.Sin(7*th)*math.Sin(11*ph)
		return V(r*math.Sin(th)*math.Cos(ph), r*math.Cos(th), r*math.Sin(th)*math.Sin(ph))
	}
	var prims []shape
	for i := range rows {
		for j := range cols {
			p00, p01, p10, p11 := at(i, j), at(i, j+1), at(i+1, j), at(i+1, j+1)
			for _, t := range []shape{tri(p00, p10, p11), tri(p00, p11, p01)} {
				if _, area := t.normalArea(); area > 0 {
					prims = append(prims, t)
				}
			}
		}
	}
	shapeOf := func(i int) shape { return prims[i] }
	cpu0 := processCPU()
	for b.Loop() {
		buildBVH(len(prims), shapeOf)
	}
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
	b.ReportMetric(float64(len(prims)), "triangles")
}

func BenchmarkRayTriangle(b *testing.B) {
	sh := tri(V(0, 0, 0), V(1, 0, 0), V(0, 1, 0))
	p := sh.prim(false)
	rays := make([]Ray, 256)
	rg := newRNG(5, 0)
	for i := range rays {
		rays[i] = Ray{Origin: V(rg.float(), rg.float(), 1), Dir: V(rg.float()-0.5, rg.float()-0.5, -1).Norm()}
	}
	hits := 0
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &rays[i&255]
		if _, _, _, ok := p.intersectPlanar(r.Origin, r.Dir, 0, math.Inf(1)); ok {
			hits++
		}
		i++
	}
	if hits == 0 {
		b.Fatal("no ray hit")
	}
}

// BenchmarkIntersectBunny measures nearest-hit queries through the BVH.
func BenchmarkIntersectBunny(b *testing.B) {
	sd := testScene(b, loadTestOBJ(b, "../testdata/meshes/bunny.obj"))
	rays := make([]Ray, 1024)
	rg := newRNG(6, 0)
	for i := range rays {
		o := V(-8+16*rg.float(), -3+16*rg.float(), 10)
		rays[i] = Ray{Origin: o, Dir: V(-2+4*rg.float(), 2+6*rg.float(), 0).Sub(o).Norm()}
	}
	var h hit
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sd.intersect(&rays[i&1023], math.Inf(1), &h)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrays/s")
}

// movingStillLife is the still life with its camera orbiting (orbit.glb)
// and, in a scene file around it, the whole file turning by keyframes:
// every mesh moves at every frame.
func movingStillLife(b *testing.B) *Scene {
	b.Helper()
	glb, err := os.ReadFile("../testdata/scenes/orbit.glb")
	if err != nil {
		b.Fatal(err)
	}
	scene := `{"camera": {"object": 0}, "image": {"width": 160, "height": 100},
	  "objects": [{"type": "gltf", "file": "orbit.glb", "keys": [{"frame": 1, "rotate": [0, 0, 0]}, {"frame": 48, "rotate": [0, 20, 0]}]}]}`
	s, err := LoadBundle(&Bundle{Main: "scene.json", Files: map[string][]byte{"scene.json": []byte(scene), "orbit.glb": glb}}, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// movingSphere is a bumpy sphere of about n triangles (a latitude and
// longitude grid, open at the poles: no slivers there, whose count would
// change with the pose) turning and sliding by keyframes over a floor.
func movingSphere(b *testing.B, n int) *Scene {
	b.Helper()
	k := max(2, int(math.Sqrt(float64(n)/2)))
	var obj []byte
	for i := range k + 1 {
		th := math.Pi * (float64(i) + 0.5) / float64(k+1)
		for j := range k {
			ph := 2 * math.Pi * float64(j) / float64(k)
			r := 1 + 0.05*math.Sin(7*th)*math.Sin(5*ph)
			obj = fmt.Appendf(obj, "v %g %g %g\n", r*math.Sin(th)*math.Cos(ph), r*math.Cos(th), r*math.Sin(th)*math.Sin(ph))
		}
	}
	for i := range k {
		for j := range k {
			a, c := 1+i*k+j, 1+i*k+(j+1)%k
			obj = fmt.Appendf(obj, "f %d %d %d\nf %d %d %d\n", a, c, c+k, a, c+k, a+k)
		}
	}
	scene := `{"camera": {"from": [0, 1, 4], "to": [0, 0, 0], "fov": 40}, "image": {"width": 160, "height": 100},
	  "materials": {"w": {"type": "diffuse", "albedo": [0.7, 0.7, 0.7]}},
	  "objects": [{"type": "quad", "corner": [-4, -1.2, 4], "u": [8, 0, 0], "v": [0, 0, -8], "material": "w"},
	    {"type": "mesh", "file": "m.obj", "material": "w",
	     "keys": [{"frame": 1, "rotate": [0, 0, 0]}, {"frame": 48, "rotate": [0, 90, 30], "translate": [0.5, 0, 0]}]}]}`
	s, err := LoadBundle(&Bundle{Main: "scene.json", Files: map[string][]byte{"scene.json": []byte(scene), "m.obj": obj}}, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// rebuilding makes s build every frame's tree anew, as before the two-level
// tree: its groups are none.
func rebuilding(s *Scene) *Scene {
	s.anim.groupsOnce.Do(func() {})
	return s
}

// BenchmarkFrameSetup is what a node spends to have the scene of a frame
// (Scene.Frame's work, without its cache): orbit, the still life where
// only the camera moves; moving, the still life where every mesh moves
// (the two-level tree), and moving-rebuilt, the same with the whole tree
// built anew at every frame; sphere and sphere-rebuilt, a moving mesh of
// 200,000 triangles. For comparison, each frame's render at the issue's
// 160x100 and 16 samples per pixel on one goroutine; setup-% is the
// set-up over the render.
func BenchmarkFrameSetup(b *testing.B) {
	orbit := loadTestScene(b, "orbit.glb")
	set := Settings{Width: 160, Height: 100, SPP: 16}
	for _, tc := range []struct {
		name string
		s    *Scene
	}{
		{"orbit", orbit}, {"moving", movingStillLife(b)}, {"moving-rebuilt", rebuilding(movingStillLife(b))},
		{"sphere", movingSphere(b, 200_000)}, {"sphere-rebuilt", rebuilding(movingSphere(b, 200_000))},
	} {
		if _, err := tc.s.atFrame(1); err != nil { // the groups' trees, once
			b.Fatal(err)
		}
		var setup float64
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			f := 0
			for b.Loop() {
				if _, err := tc.s.atFrame(1 + f%48); err != nil {
					b.Fatal(err)
				}
				f++
			}
			setup = b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(setup*1e3, "ms/frame")
		})
		b.Run(tc.name+"/render", func(b *testing.B) {
			fs, err := tc.s.Frame(24)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]float32, 160*100*3)
			for b.Loop() {
				if _, err := fs.RenderTile(context.Background(), set, image.Rect(0, 0, 160, 100), dst); err != nil {
					b.Fatal(err)
				}
			}
			frame := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(frame, "s/frame")
			if setup > 0 {
				b.ReportMetric(100*setup/frame, "setup-%")
			}
		})
	}
}
