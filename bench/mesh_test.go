package bench

import (
	"bytes"
	"context"
	"flag"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"tessera/render"
)

var meshTriangles = flag.Int("mesh-triangles", 1_000_000, "triangles of the generated mesh of BenchmarkMesh*")

func TestSphereOBJ(t *testing.T) {
	for _, want := range []int{1, 12, 13, 5000} {
		obj := SphereOBJ(want)
		if !bytes.Equal(obj, SphereOBJ(want)) {
			t.Fatalf("%d triangles: two calls gave different bytes", want)
		}
		var v, f int
		for line := range bytes.Lines(obj) {
			switch {
			case bytes.HasPrefix(line, []byte("v ")):
				v++
			case bytes.HasPrefix(line, []byte("f ")):
				f++
			}
		}
		n := 1
		for 12*n*n < want {
			n++
		}
		if f != 12*n*n || v != 6*(n+1)*(n+1) {
			t.Errorf("%d triangles asked: %d faces and %d vertices, want %d and %d", want, f, v, 12*n*n, 6*(n+1)*(n+1))
		}
	}
}

// TestMeshScene loads the generated scene and checks that the sphere is
// there, whole, where the bunny would be: rays through the middle of the
// image hit it (the image's centre is the sphere's clay, not the back wall).
func TestMeshScene(t *testing.T) {
	s := &settings{Config: Config{SceneDir: "../testdata/scenes"}}
	path, size, err := s.writeMeshScene(t.TempDir(), 3000)
	if err != nil {
		t.Fatal(err)
	}
	sc, _, err := render.LoadFile(path, render.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	st := sc.Stats()
	if st.Triangles < 3000 || size == 0 {
		t.Fatalf("%d triangles, %d bytes of OBJ: want at least 3000 triangles", st.Triangles, size)
	}
	pix := make([]float32, 16*16*3)
	if _, err := sc.RenderTile(context.Background(), render.Settings{Width: 16, Height: 16, SPP: 16}, image.Rect(0, 0, 16, 16), pix); err != nil {
		t.Fatal(err)
	}
	// Clay (0.8, 0.55, 0.35) is redder than blue; the white wall behind is
	// nearly grey.
	i := (8*16 + 8) * 3
	if r, b := pix[i], pix[i+2]; !(r > 1.5*b) {
		t.Errorf("centre pixel %v: not the sphere's clay", pix[i:i+3])
	}
}

// meshBench writes the generated scene of -mesh-triangles once per binary.
func meshBench(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "tessera-bench-mesh-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	s := &settings{Config: Config{SceneDir: "../testdata/scenes"}}
	path, _, err := s.writeMeshScene(dir, *meshTriangles)
	if err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkMeshLoad loads (parses and builds) the generated scene; run it
// with -cpu 1 for one core.
func BenchmarkMeshLoad(b *testing.B) {
	path := meshBench(b)
	var st render.SceneStats
	cpu0, ok0 := processCPU(os.Getpid())
	for b.Loop() {
		sc, _, err := render.LoadFile(path, render.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		st = sc.Stats()
	}
	b.ReportMetric(float64(st.Triangles), "triangles")
	b.ReportMetric(st.Build.Seconds(), "build-s")
	// The process's CPU time (collector included) a load, which a shared
	// machine disturbs less than the wall time.
	if cpu1, ok1 := processCPU(os.Getpid()); ok0 && ok1 {
		b.ReportMetric((cpu1-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	}
}

// BenchmarkMeshRenderTile is render's BenchmarkRenderTile on the bunny and
// on the generated mesh in its place: 64x64 pixels, 4 samples, one
// goroutine. For instructions per ray: valgrind --tool=callgrind
// --toggle-collect='tessera/render.(*sceneData).renderTile' on the test
// binary with -test.bench 'MeshRenderTile/sphere' -test.benchtime 3x.
func BenchmarkMeshRenderTile(b *testing.B) {
	for _, name := range []string{"bunny", "sphere"} {
		b.Run(name, func(b *testing.B) {
			path := "../testdata/scenes/bunny.json"
			if name == "sphere" {
				path = meshBench(b)
			}
			sc, _, err := render.LoadFile(path, render.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			set := render.Settings{Width: 64, Height: 64, SPP: 4}
			r := image.Rect(0, 0, 64, 64)
			dst := make([]float32, 64*64*3)
			var rays uint64
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, _ := threadCPU()
			for b.Loop() {
				n, err := sc.RenderTile(context.Background(), set, r, dst)
				if err != nil {
					b.Fatal(err)
				}
				rays += n
			}
			b.ReportMetric(float64(rays)/b.Elapsed().Seconds()/1e6, "Mrays/s")
			if cpu1, ok := threadCPU(); ok && cpu1 > cpu0 {
				b.ReportMetric(float64(rays)/(cpu1-cpu0).Seconds()/1e6, "Mrays/cpu-s")
			}
			b.ReportMetric(float64(rays)/float64(b.N)/float64(64*64*4), "rays/sample")
		})
	}
}
