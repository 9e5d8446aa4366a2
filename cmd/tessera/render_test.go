package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tessera/discovery"
	"tessera/scheduler"
)

const cornell = "../../testdata/scenes/cornell.json"

// runRenderCmd runs tessera render with args and returns the exit status,
// stdout and stderr.
func runRenderCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// Never multicast from the machine's own network namespace.
	code := run(append([]string{"render", "-no-mdns"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRenderWritesImageAndStats(t *testing.T) {
	dir := t.TempDir()
	out, stats := filepath.Join(dir, "c.png"), filepath.Join(dir, "stats.json")
	// Flags before and after the scene file.
	code, _, stderr := runRenderCmd(t, "-o", out, "-width", "24", "-height", "16", "-spp", "2", cornell, "-tile", "8",
		"-local", "2", "-stats", stats, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("-q printed %q", stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 24 || b.Dy() != 16 {
		t.Errorf("image %v, want 24x16", b)
	}
	data, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"wallSeconds", "width", "height", "spp", "tiles", "samples", "rays", "raysPerSecond",
		"retries", "duplicates", "bytesSent", "bytesReceived", "nodes"} {
		if _, ok := m[k]; !ok {
			t.Errorf("stats lack %q", k)
		}
	}
	var st scheduler.Stats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"size", st.Width == 24 && st.Height == 16 && st.SPP == 2},
		{"tiles", st.Tiles == 6},
		{"samples", st.Samples == 24*16*2},
		{"rays at least one per sample", st.Rays >= uint64(st.Samples)},
		{"rate", st.WallSeconds > 0 && st.RaysPerSecond > 0},
		{"one local node with every tile", len(st.Nodes) == 1 && st.Nodes[0].Source == discovery.SourceLocal && st.Nodes[0].Tiles == 6 && st.Nodes[0].Rays == st.Rays},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: stats %s", c.name, data)
		}
	}
}

// TestRenderIsDeterministic: the PFM is byte-identical for 1 and 2 workers
// and for tiles of 8 and 32.
func TestRenderIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	var outs [][]byte
	for i, args := range [][]string{{"-local", "1", "-tile", "8"}, {"-local", "2", "-tile", "32"}} {
		out := filepath.Join(dir, "c"+string(rune('0'+i))+".pfm")
		code, _, stderr := runRenderCmd(t, append(args, "-o", out, "-width", "20", "-height", "20", "-spp", "2", "-q", cornell)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, data)
	}
	if !bytes.HasPrefix(outs[0], []byte("PF\n20 20\n")) || !bytes.Equal(outs[0], outs[1]) {
		t.Error("PFM output differs between 1 worker with tiles of 8 and 2 workers with tiles of 32")
	}
}

func TestRenderExitStatus(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{\n  \"camera\": {\"from\": [0, 0, 1], \"to\": [0, 0, 0]},\n  \"objects\": [{\"type\": \"cube\"}]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.png")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad scene", []string{"-o", out, bad}, 2, "bad.json: objects[0].type: expected \"sphere\", \"quad\", \"plane\", \"mesh\" or \"gltf\", got \"cube\""},
		{"missing scene", []string{"-o", out, filepath.Join(dir, "none.json")}, 2, "none.json"},
		{"no scene", []string{"-o", out}, 2, "expected one scene file"},
		{"two scenes", []string{"-o", out, cornell, "-q", cornell}, 2, "expected one scene file, got 2"},
		{"bad flag", []string{"-spp", "many", cornell}, 2, "invalid value \"many\" for flag -spp"},
		{"bad output", []string{"-o", filepath.Join(dir, "x.jpg"), cornell}, 2, "expected a file name ending in .png or .pfm"},
		{"negative size", []string{"-width", "-3", "-o", out, cornell}, 2, "-width -3"},
		{"size over the maximum", []string{"-width", "100000", "-o", out, "-q", cornell}, 2, "bad settings"},
		{"bad -local", []string{"-local", "some", "-o", out, cornell}, 2, "-local \"some\""},
		{"-local 0", []string{"-local", "0", "-o", out, cornell}, 1, "nothing can render"},
		{"bad -nodes", []string{"-nodes", "nohost", "-o", out, cornell}, 2, "-nodes nohost"},
		{"bad -log", []string{"-log", "xml", "-o", out, cornell}, 2, "-log \"xml\""},
		{"unwritable output", []string{"-o", filepath.Join(dir, "no", "such", "dir.png"), "-width", "4", "-height", "4", "-spp", "1", "-q", cornell}, 1, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runRenderCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.want)
			}
			if tt.code == 2 && tt.name != "bad flag" && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("stderr has more than one line: %q", stderr)
			}
		})
	}
}

// TestRenderInterrupted: a render canceled before any tile is done fails
// (exit status 1), says what is missing and writes no image at all.
func TestRenderInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "partial.pfm")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr bytes.Buffer
	err := runRender(ctx, []string{"-no-mdns", "-o", out, "-width", "16", "-height", "16", "-q", cornell}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "render interrupted with 1 of 1 tiles missing") {
		t.Fatalf("error %v, want an interruption", err)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		t.Errorf("exit status %d, want 1", ee.code)
	}
	for _, name := range []string{out, partialName(out)} {
		if _, err := os.Stat(name); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want no file", name, err)
		}
	}
}

// TestHelpHidesToken: -h never prints the token taken from the environment.
func TestHelpHidesToken(t *testing.T) {
	t.Setenv("TESSERA_TOKEN", "do-not-print-me")
	for _, cmd := range []string{"render", "node", "registry"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{cmd, "-h"}, &stdout, &stderr); code != 0 {
			t.Errorf("%s -h: exit %d", cmd, code)
		}
		if out := stdout.String() + stderr.String(); strings.Contains(out, "do-not-print-me") || !strings.Contains(out, "-token") {
			t.Errorf("%s -h shows the token or no -token flag:\n%s", cmd, out)
		}
	}
}

// TestRenderGLTFExitStatus: every broken glTF file of assimp's test models
// exits 2 with one line naming the file and what is wrong; a valid one
// with an optional extension tessera ignores renders and says so in one
// warning line.
func TestRenderGLTFExitStatus(t *testing.T) {
	dir := "../../render/testdata/gltf/"
	out := filepath.Join(t.TempDir(), "x.png")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"index out of range", []string{dir + "IndexOutOfRange/IndexOutOfRange.gltf"}, "IndexOutOfRange.gltf: meshes[0].primitives[0].indices: accessor 0: index 255"},
		{"missing bin", []string{dir + "MissingBin/BoxTextured.gltf"}, `BoxTextured.gltf: buffers[0].uri: "BoxTextured0.bin"`},
		{"recursive nodes", []string{dir + "RecursiveNodes/RecursiveNodes.gltf"}, "RecursiveNodes.gltf: nodes[0]: the node hierarchy has a cycle"},
		{"schema failure", []string{dir + "SchemaFailures/sceneWrongType.gltf"}, "sceneWrongType.gltf: scene: expected a number"},
		{"wrong types", []string{dir + "wrongTypes/badArray.gltf"}, "badArray.gltf: meshes[0].primitives: expected an array"},
		{"infinities", []string{dir + "BoxWithInfinites-glTF-Binary/BoxWithInfinites.glb"}, "BoxWithInfinites.glb: meshes[0].primitives[0].attributes.POSITION: accessor 2: element 0 is not a finite number"},
		{"incorrect vertex arrays", []string{dir + "IncorrectVertexArrays/Cube.gltf"}, "Cube.gltf: bufferViews[2]"},
		{"required extension", []string{dir + "draco/2CylinderEngine.gltf"}, "2CylinderEngine.gltf: extensionsRequired[0]: the file requires extension KHR_draco_mesh_compression"},
		{"unknown camera", []string{"-camera", "Closeup", stilllife}, `stilllife.glb: the file has no camera named "Closeup" (its cameras: "Camera")`},
		{"camera of a JSON scene", []string{"-camera", "Closeup", cornell}, "-camera Closeup: only for a .glb or .gltf file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runRenderCmd(t, append([]string{"-o", out, "-no-mdns"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line containing %q", code, stderr, tt.want)
			}
		})
	}
	t.Run("ignored extension", func(t *testing.T) {
		code, _, stderr := runRenderCmd(t, "-o", out, "-no-mdns", "-local", "1", "-q", "-width", "8", "-spp", "1", dir+"BoxTextured-glTF-pbrSpecularGlossiness/BoxTextured.gltf")
		if code != 0 || strings.Count(stderr, "ignored: extension KHR_materials_pbrSpecularGlossiness") != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("exit %d, stderr %q; want 0 and one warning line", code, stderr)
		}
	})
}
