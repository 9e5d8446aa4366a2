package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	"tessera/render"
)

// SphereOBJ returns a Wavefront OBJ (v and f only) of a displaced sphere of
// radius about 1 with at least triangles triangles (12n² for the least n
// that gives as many): each face of a cube cut into an n x n grid of quad
// pairs, projected onto the sphere and pushed in and out by a sum of sines,
// so that the surface has bumps at several scales and no two triangles are
// alike. The same count always gives the same bytes. Every face of the cube
// has its own vertices (6(n+1)² in all, about one per two triangles).
func SphereOBJ(triangles int) []byte {
	n := max(1, int(math.Ceil(math.Sqrt(float64(triangles)/12))))
	// Each face: its normal and two axes u, v with u x v = normal, so that
	// the triangles wind outwards.
	faces := [6][3][3]float64{
		{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}},
		{{-1, 0, 0}, {0, 0, 1}, {0, 1, 0}},
		{{0, 1, 0}, {0, 0, 1}, {1, 0, 0}},
		{{0, -1, 0}, {1, 0, 0}, {0, 0, 1}},
		{{0, 0, 1}, {1, 0, 0}, {0, 1, 0}},
		{{0, 0, -1}, {0, 1, 0}, {1, 0, 0}},
	}
	buf := make([]byte, 0, 6*(n+1)*(n+1)*32+12*n*n*24)
	buf = append(buf, "# displaced sphere, "...)
	buf = strconv.AppendInt(buf, int64(12*n*n), 10)
	buf = append(buf, " triangles (tessera bench)\n"...)
	for _, f := range faces {
		for i := 0; i <= n; i++ {
			for j := 0; j <= n; j++ {
				a, b := 2*float64(i)/float64(n)-1, 2*float64(j)/float64(n)-1
				var p [3]float64
				for k := range 3 {
					p[k] = f[0][k] + a*f[1][k] + b*f[2][k]
				}
				l := math.Sqrt(p[0]*p[0] + p[1]*p[1] + p[2]*p[2])
				x, y, z := p[0]/l, p[1]/l, p[2]/l
				r := 1 + 0.06*math.Sin(5*x+1)*math.Sin(6*y+2)*math.Sin(7*z+3) +
					0.02*math.Sin(23*x+17*y)*math.Cos(19*z) + 0.005*math.Sin(97*x-89*y+83*z)
				buf = append(buf, 'v')
				for _, c := range [3]float64{x * r, y * r, z * r} {
					buf = append(buf, ' ')
					buf = strconv.AppendFloat(buf, c, 'f', 6, 64)
				}
				buf = append(buf, '\n')
			}
		}
	}
	for fi := range faces {
		base := fi*(n+1)*(n+1) + 1
		at := func(i, j int) int64 { return int64(base + i*(n+1) + j) }
		for i := range n {
			for j := range n {
				for _, t := range [2][3]int64{{at(i, j), at(i+1, j), at(i+1, j+1)}, {at(i, j), at(i+1, j+1), at(i, j+1)}} {
					buf = append(buf, 'f')
					for _, v := range t {
						buf = append(buf, ' ')
						buf = strconv.AppendInt(buf, v, 10)
					}
					buf = append(buf, '\n')
				}
			}
		}
	}
	return buf
}

// meshSceneJSON puts the sphere where bunny.json has the bunny, in the same
// box, with the same camera, light and material, so that the two differ in
// the mesh alone. %s: the box's OBJ file, the sphere's.
const meshSceneJSON = `{
  "camera": {"from": [278, 273, -800], "to": [278, 273, 0], "up": [0, 1, 0], "fov": 39.3077},
  "image": {"width": 512, "height": 512, "spp": 64, "maxDepth": 8},
  "background": [0, 0, 0],
  "materials": {
    "white": {"type": "diffuse", "albedo": [0.725, 0.71, 0.68]},
    "red":   {"type": "diffuse", "albedo": [0.63, 0.065, 0.05]},
    "green": {"type": "diffuse", "albedo": [0.14, 0.45, 0.091]},
    "light": {"type": "emissive", "emission": [17, 12, 4]},
    "clay":  {"type": "diffuse", "albedo": [0.8, 0.55, 0.35]}
  },
  "objects": [
    {"type": "mesh", "file": %q},
    {"type": "mesh", "file": %q, "material": "clay", "smooth": true,
     "scale": 130, "rotate": [0, 200, 0], "translate": [278, 140, 290]}
  ]
}
`

// writeMeshScene writes the sphere of the given triangles and its scene
// into dir and returns the scene's path and the OBJ's size.
func (s *settings) writeMeshScene(dir string, triangles int) (string, int64, error) {
	bunny, err := s.scenePath("bunny")
	if err != nil {
		return "", 0, err
	}
	box, err := filepath.Abs(filepath.Join(filepath.Dir(bunny), "..", "meshes", "cornell-box.obj"))
	if err != nil {
		return "", 0, err
	}
	obj := SphereOBJ(triangles)
	if err := os.WriteFile(filepath.Join(dir, "sphere.obj"), obj, 0o644); err != nil {
		return "", 0, err
	}
	path := filepath.Join(dir, "sphere.json")
	if err := os.WriteFile(path, fmt.Appendf(nil, meshSceneJSON, box, "sphere.obj"), 0o644); err != nil {
		return "", 0, err
	}
	return path, int64(len(obj)), nil
}

// mesh measures a big generated mesh: loading and building it on one core
// and on all, the peak resident memory of the processes that hold it, and
// its rays per second against the bunny's.
func (b *bencher) mesh(ctx context.Context, bunny *scene) (*Mesh, error) {
	dir, err := os.MkdirTemp("", "tessera-bench-mesh-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path, objBytes, err := b.s.writeMeshScene(dir, b.s.work.MeshTriangles)
	if err != nil {
		return nil, fmt.Errorf("bench: mesh: %w", err)
	}
	out := &Mesh{OBJBytes: objBytes}
	if err := b.meshMemory(ctx, path, dir, out); err != nil {
		return nil, err
	}

	// Load and build, on one core and then on all of them, in turn.
	var load1, build1, cpu1, loadN, buildN []float64
	var sc *render.Scene
	for run := 1; run <= b.s.Runs; run++ {
		for _, procs := range []int{1, runtime.NumCPU()} {
			sc = nil
			runtime.GC()
			prev := runtime.GOMAXPROCS(procs)
			c0, ok0 := processCPU(os.Getpid())
			start := time.Now()
			s, _, err := render.LoadFile(path, render.Limits{})
			wall := time.Since(start)
			c1, ok1 := processCPU(os.Getpid())
			runtime.GOMAXPROCS(prev)
			if err != nil {
				return nil, fmt.Errorf("bench: mesh: %w", err)
			}
			sc = s
			st := s.Stats()
			if procs == 1 {
				load1, build1 = append(load1, wall.Seconds()), append(build1, st.Build.Seconds())
				if ok0 && ok1 {
					cpu1 = append(cpu1, (c1 - c0).Seconds())
				}
			} else {
				loadN, buildN = append(loadN, wall.Seconds()), append(buildN, st.Build.Seconds())
			}
			b.log.Info().Int("run", run).Int("cores", procs).Int("triangles", st.Triangles).Float64("load", round(wall.Seconds(), 3)).
				Float64("cpu", round((c1-c0).Seconds(), 3)).Float64("build", round(st.Build.Seconds(), 3)).Msg("mesh load")
		}
	}
	out.Triangles = sc.Stats().Triangles
	out.LoadSecondsOneCore, out.BuildSecondsOneCore = median(load1), median(build1)
	if len(cpu1) == len(load1) {
		out.LoadCPUSecondsOneCore = median(cpu1)
	}
	out.LoadSeconds, out.BuildSeconds = median(loadN), median(buildN)

	// Rays per second, the bunny and the sphere in turn.
	set := sc.Resolve(b.s.work.Kernel)
	var mrps, brps, mcpu, bcpu, ratios []float64
	for run := 1; run <= b.s.Runs; run++ {
		var m, bn kernelSample
		for _, turn := range turns(2, run) {
			var err error
			if turn == 1 {
				m, err = renderKernel(ctx, sc, set)
			} else {
				bn, err = renderKernel(ctx, bunny.scene, bunny.scene.Resolve(b.s.work.Kernel))
			}
			if err != nil {
				return nil, fmt.Errorf("bench: mesh kernel: %w", err)
			}
		}
		mr, br := float64(m.rays)/m.wall.Seconds(), float64(bn.rays)/bn.wall.Seconds()
		ratio := mr / br
		if m.cpu > 0 && bn.cpu > 0 {
			mc, bc := float64(m.rays)/m.cpu.Seconds(), float64(bn.rays)/bn.cpu.Seconds()
			mcpu, bcpu, ratio = append(mcpu, mc), append(bcpu, bc), mc/bc
		}
		mrps, brps, ratios = append(mrps, mr), append(brps, br), append(ratios, ratio)
		b.log.Info().Int("run", run).Float64("mesh Mrays/s", round(mr/1e6, 3)).Float64("bunny Mrays/s", round(br/1e6, 3)).
			Float64("ratio", round(ratio, 3)).Msg("mesh kernel")
	}
	out.RaysPerSecond, out.BunnyRaysPerSecond, out.RaysRatio = median(mrps), median(brps), median(ratios)
	out.RaysPerCPUSecond, out.BunnyRaysPerCPUSecond = median(mcpu), median(bcpu)
	return out, nil
}

// meshMemory measures the peak resident memory of a whole render in one
// process, then of a node and of the controller that sends it the scene.
// It runs before this process loads the mesh itself: Linux counts in a
// child's peak the memory of the process that started it (os/exec shares
// its address space until the exec), so the parent must stay small.
func (b *bencher) meshMemory(ctx context.Context, path, dir string, out *Mesh) error {
	var rend, node, ctl []float64
	img := filepath.Join(dir, "out.png")
	args := func(more ...string) []string {
		return slices.Concat([]string{"render", "-no-mdns", "-q", "-width", "32", "-height", "32", "-spp", "1", "-o", img}, more, []string{path})
	}
	for run := 1; run <= b.s.Runs; run++ {
		rss, err := b.s.childPeak(ctx, args("-local", "1")...)
		if err != nil {
			return err
		}
		rend = append(rend, float64(rss))
		procs, err := b.spawnNodes(ctx, 1, 1, "")
		if err != nil {
			return err
		}
		crss, err := b.s.childPeak(ctx, args("-local", "0", "-nodes", procs[0].addr)...)
		// The node's own high-water mark, read while it runs: exact, unlike
		// its resource usage at exit (see above).
		nrss := liveHWM(procs[0].cmd.Process.Pid)
		if stopErr := stopProcs(procs); err == nil {
			err = stopErr
		}
		if err != nil {
			return err
		}
		if nrss == 0 {
			nrss = peakRSS(procs[0].cmd.ProcessState)
		}
		ctl, node = append(ctl, float64(crss)), append(node, float64(nrss))
		b.log.Info().Int("run", run).Float64("render MB", round(rss/1e6, 1)).Float64("node MB", round(float64(nrss)/1e6, 1)).
			Float64("controller MB", round(crss/1e6, 1)).Msg("mesh memory")
	}
	out.RenderPeakBytes, out.NodePeakBytes, out.ControllerPeakBytes = int64(median(rend)), int64(median(node)), int64(median(ctl))
	return nil
}

// childPeak runs the tessera binary with args to its end and returns its
// peak resident memory in bytes (0 where the system does not say).
func (s *settings) childPeak(ctx context.Context, args ...string) (float64, error) {
	cmd := exec.CommandContext(ctx, s.Executable, args...)
	cmd.Env = append(os.Environ(), "TESSERA_TOKEN="+s.Token)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("bench: mesh: tessera %s: %w\n%s", args[0], err, out)
	}
	return float64(peakRSS(cmd.ProcessState)), nil
}
