package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBenchJSON runs a tiny `tessera bench -quick -json` with two spawned
// nodes and checks that the report has every field of issue 6 with a sane
// value (not the timings: the machine is shared).
func TestBenchJSON(t *testing.T) {
	bin := tesseraBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", "-quick", "-json", "-spawn", "2", "-workers", "1",
		"-width", "48", "-height", "40", "-spp", "1", "-triangles", "3000", "-scenes", "../../testdata/scenes")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tessera bench: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep map[string]any
	dec := json.NewDecoder(&stdout)
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON object")
	}
	if !strings.Contains(stderr.String(), "section=kernel") || !strings.Contains(stderr.String(), "section=polite") {
		t.Errorf("no progress lines on stderr:\n%s", stderr.String())
	}

	machine := object(t, rep, "machine")
	if n := number(t, machine, "cpus"); n != float64(runtime.NumCPU()) {
		t.Errorf("machine.cpus %v, want %d", n, runtime.NumCPU())
	}
	for key, want := range map[string]string{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "version": version} {
		if got, _ := machine[key].(string); got != want {
			t.Errorf("machine.%s %q, want %q", key, got, want)
		}
	}

	kernel := list(t, rep, "kernel")
	var scenes []string
	for _, k := range kernel {
		k := k.(map[string]any)
		scenes = append(scenes, k["scene"].(string))
		positive(t, k, "kernel", "raysPerSecondPerCore", "samplesPerSecond")
		if rps, sps := number(t, k, "raysPerSecondPerCore"), number(t, k, "samplesPerSecond"); rps < sps {
			t.Errorf("kernel %s: %v rays/s < %v samples/s: every sample casts at least one ray", k["scene"], rps, sps)
		}
	}
	if got := strings.Join(scenes, ","); got != "cornell,bunny,spheres" {
		t.Errorf("kernel scenes %s, want cornell,bunny,spheres", got)
	}

	scaling := list(t, rep, "scaling")
	if len(scaling) != 2 {
		t.Fatalf("%d scaling rows, want 2 (-spawn 2): %v", len(scaling), scaling)
	}
	for i, s := range scaling {
		s := s.(map[string]any)
		nodes := number(t, s, "nodes")
		if nodes != float64(i+1) || number(t, s, "workersPerNode") != 1 {
			t.Errorf("scaling row %d: %v, want %d nodes of 1 worker", i, s, i+1)
		}
		positive(t, s, "scaling", "wallSeconds", "speedup", "efficiency", "busy")
		if busy := number(t, s, "busy"); busy > 1 {
			t.Errorf("scaling row %d: workers busy %v of the time, more than all of it", i, busy)
		}
		if sp, eff := number(t, s, "speedup"), number(t, s, "efficiency"); !near(eff, sp/nodes) {
			t.Errorf("scaling row %d: efficiency %v, want speedup / nodes = %v", i, eff, sp/nodes)
		}
		// On an image of a few tiles the first node to connect may render
		// them all before the second one has finished its handshake.
		if used := number(t, s, "nodesUsed"); used < 1 || used > nodes {
			t.Errorf("scaling row %d: %v nodes rendered tiles, want 1 to %v", i, used, nodes)
		}
	}
	if sp := number(t, scaling[0].(map[string]any), "speedup"); sp != 1 {
		t.Errorf("one node's speedup against itself is %v, want 1", sp)
	}

	overhead := object(t, rep, "overhead")
	positive(t, overhead, "overhead", "inProcessSeconds", "loopbackSeconds", "ratio", "tileLatencyP50Ms", "tileLatencyP99Ms",
		"inProcessRenderSeconds", "loopbackRenderSeconds", "ratioAtEqualSpeed")
	for _, side := range []string{"inProcess", "loopback"} {
		if wall, render := number(t, overhead, side+"Seconds"), number(t, overhead, side+"RenderSeconds"); render > wall {
			t.Errorf("overhead: %s rendered for %v s of a %v s render", side, render, wall)
		}
	}
	if in, loop, ratio := number(t, overhead, "inProcessSeconds"), number(t, overhead, "loopbackSeconds"), number(t, overhead, "ratio"); !near(ratio, in/loop) {
		t.Errorf("overhead ratio %v, want inProcessSeconds / loopbackSeconds = %v (one run: the medians are the values)", ratio, in/loop)
	}
	// Every pixel crosses as 12 bytes; frames and the scene add some, and on a
	// 48x40 image the scene's few kilobytes weigh several bytes a pixel.
	if bpp := number(t, overhead, "bytesPerPixel"); bpp < 12 || bpp > 100 {
		t.Errorf("overhead.bytesPerPixel %v, want 12 (float32 RGB) plus a little", bpp)
	}
	if p50, p99 := number(t, overhead, "tileLatencyP50Ms"), number(t, overhead, "tileLatencyP99Ms"); p99 < p50 {
		t.Errorf("tile latency p99 %v < p50 %v", p99, p50)
	}

	positive(t, object(t, rep, "scheduling"), "scheduling", "tilesPerSecond")
	sealing := object(t, object(t, rep, "security"), "sealing")
	positive(t, sealing, "security.sealing", "plainSeconds", "sealedSeconds", "tiles", "frames")
	if perFrame := number(t, sealing, "bytesPerFrame"); perFrame != 16 {
		t.Errorf("security.sealing.bytesPerFrame %v, want the 16 bytes of the tag on every frame after the handshake", perFrame)
	}
	if frames, tiles := number(t, sealing, "frames"), number(t, sealing, "tiles"); frames < 2*tiles+1 {
		t.Errorf("security.sealing: %v frames for %v tiles, want at least a job and a result a tile and the scene", frames, tiles)
	}
	audits := object(t, object(t, rep, "security"), "audits")
	positive(t, audits, "security.audits", "offSeconds", "onSeconds", "tiles", "work", "audits")
	if n, a, s := number(t, audits, "tiles"), number(t, audits, "audits"), number(t, audits, "spotChecks"); a+s != n {
		t.Errorf("security.audits: %v audits and %v spot checks for %v tiles, want one check a tile", a, s, n)
	}
	discovery := object(t, rep, "discovery")
	reg, watch := number(t, discovery, "registrySeconds"), number(t, discovery, "watcherSeconds")
	if reg <= 0 || watch < reg || watch > 15 {
		t.Errorf("discovery: registrySeconds %v, watcherSeconds %v; want 0 < registry <= watcher <= the 15 s the bench waits", reg, watch)
	}

	// polite: the rows in order, the first the reference of the ratios. Not
	// the ratios themselves (the machine is shared); but the node's own CPU
	// time, which the kernel decides: beside two busy loops a SCHED_IDLE
	// node gets next to nothing, a normal one its share.
	polite := object(t, rep, "polite")
	rows := list(t, polite, "rows")
	var beside []string
	cpu := map[string]float64{}
	for _, r := range rows {
		r := r.(map[string]any)
		name := r["beside"].(string)
		beside = append(beside, name)
		positive(t, r, "polite "+name, "loopsPerSecond", "ratio")
		cpu[name] = number(t, r, "nodeCPUs")
	}
	if got := strings.Join(beside, ","); got != "nothing,idle,low,normal" {
		t.Fatalf("polite rows %s, want nothing,idle,low,normal", got)
	}
	if ratio := number(t, rows[0].(map[string]any), "ratio"); ratio != 1 {
		t.Errorf("polite: the program alone has ratio %v against itself, want 1", ratio)
	}
	if runtime.GOOS == "linux" && !(cpu["idle"] < cpu["normal"]) {
		t.Errorf("polite: the idle node took %v CPUs beside the busy program, the normal one %v: want idle < normal", cpu["idle"], cpu["normal"])
	}

	mesh := object(t, rep, "mesh")
	positive(t, mesh, "mesh", "objBytes", "loadSecondsOneCore", "buildSecondsOneCore", "loadSeconds", "buildSeconds",
		"raysPerSecond", "bunnyRaysPerSecond", "raysRatio")
	// 3000 asked: 12 n² = 3072 of the sphere, 12 of the box.
	if tris := number(t, mesh, "triangles"); tris != 3072+12 {
		t.Errorf("mesh.triangles %v, want 3084", tris)
	}
	if load, build := number(t, mesh, "loadSecondsOneCore"), number(t, mesh, "buildSecondsOneCore"); build > load {
		t.Errorf("mesh: the BVH took %v s of a %v s load", build, load)
	}
	if runtime.GOOS == "linux" {
		// A Go process holding even a small scene is several megabytes.
		for _, k := range []string{"renderPeakBytes", "nodePeakBytes", "controllerPeakBytes"} {
			if v := number(t, mesh, k); v < 4<<20 || v > 1<<30 {
				t.Errorf("mesh.%s %v, want between 4 MiB and 1 GiB", k, v)
			}
		}
	}
}

// TestBenchBadInput: mistakes are refused with exit status 2 and a message
// that names them, before any node is started.
func TestBenchBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown scene", args: []string{"-scene", "teapot", "-scenes", "../../testdata/scenes"}, want: `scene "teapot": no teapot.json in ../../testdata/scenes`},
		{name: "spawn and nodes", args: []string{"-spawn", "2", "-nodes", "10.0.0.7:7701"}, want: "-spawn with -registry or -nodes"},
		{name: "bad node address", args: []string{"-nodes", "10.0.0.7"}, want: "-nodes 10.0.0.7"},
		{name: "no workers", args: []string{"-workers", "0"}, want: "-workers 0"},
		{name: "negative runs", args: []string{"-runs", "-1"}, want: "-runs -1"},
		{name: "unknown section", args: []string{"-only", "kernel,speed"}, want: `unknown section "speed"`},
		{name: "a positional argument", args: []string{"cornell"}, want: `unexpected argument "cornell"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"bench"}, tt.args...), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and a message containing %q", code, stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func object(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is %T (%v), want an object", key, m[key], m[key])
	}
	return v
}

func list(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	v, ok := m[key].([]any)
	if !ok || len(v) == 0 {
		t.Fatalf("%q is %v, want a non-empty list", key, m[key])
	}
	return v
}

func number(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%q is %T (%v), want a number, in %v", key, m[key], m[key], m)
	}
	return v
}

// positive checks that every key is a number above zero.
func positive(t *testing.T, m map[string]any, where string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v := number(t, m, k); v <= 0 {
			t.Errorf("%s.%s is %v, want more than 0", where, k, v)
		}
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9*max(1, b) && -d < 1e-9*max(1, b)
}
