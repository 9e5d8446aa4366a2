package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tessera/scheduler"
)

const envsphere = "../../testdata/scenes/envsphere.json"

// TestE2EEnvironmentEqualsLocal: a scene lit by an environment map (the
// .hdr travels in the bundle, each node builds its sampling tables from its
// bytes) renders on two node processes byte for byte as in one process.
func TestE2EEnvironmentEqualsLocal(t *testing.T) {
	a, b := startNode(t, "env-a"), startNode(t, "env-b")
	args := renderArgs(envsphere)
	d := startRender(t, append(args, "-local", "0", "-nodes", a.addr+","+b.addr)...)
	img, st := d.finish(t)
	sameImage(t, "two nodes, environment map", img, localPNG(t, args))
	nodesRenderedAll(t, st, "env-a", "env-b")
}

// nodesRenderedAll fails unless the named nodes rendered every tile and
// none of them failed (as a node that cannot load the bundle would): which
// node took how many depends on timing.
func nodesRenderedAll(t *testing.T, st scheduler.Stats, names ...string) {
	t.Helper()
	for _, n := range st.Nodes {
		if n.Failures != 0 || n.Excluded != "" {
			t.Errorf("node %s: %d failures, excluded %q: want it to load the bundle and render", n.Name, n.Failures, n.Excluded)
		}
	}
	tiles, sum := nodeTiles(st), 0
	for _, name := range names {
		sum += tiles[name]
	}
	if sum != st.Tiles {
		t.Errorf("tiles per node %v, want %v to render all %d", tiles, names, st.Tiles)
	}
}

// TestRenderBrokenHDR: a broken environment map is bad input (exit 2),
// told in one line naming the .hdr file, the byte offset and what is wrong.
func TestRenderBrokenHDR(t *testing.T) {
	good, err := os.ReadFile("../../testdata/env/sunset-128.hdr")
	if err != nil {
		t.Fatal(err)
	}
	pixels := bytes.Index(good, []byte("+X 128\n")) + len("+X 128\n")
	header := string(good[:pixels])
	tests := []struct {
		name string
		data string
		want string
	}{
		{"truncated", string(good[:len(good)/2]), fmt.Sprintf("sky.hdr: byte %d: truncated: the file ends (%d bytes) in scanline", len(good)/2, len(good)/2)},
		{"bad header", "#?RADIANCE\nFORMAT=32-bit_rle_xyze\n\n-Y 1 +X 1\n\x80\x80\x80\x80", "sky.hdr: byte 11: header: FORMAT=32-bit_rle_xyze: expected 32-bit_rle_rgbe"},
		{"not a picture", "P6\n1 1\n255\n\x00\x00\x00", `sky.hdr: byte 0: not a Radiance picture: expected "#?RADIANCE" at byte 0, got "P6"`},
		{"run longer than the line", header + "\x02\x02\x00\x80\xff\x07\x82\x07", fmt.Sprintf("sky.hdr: byte %d: scanline 1 of 64, red: a run of 2 pixels is longer than the 1 left in the line", pixels+6)},
		{"huge dimensions", "#?RADIANCE\n\n-Y 30000 +X 60000\n", "sky.hdr: byte 12: 1800000000 pixels (60000x30000) exceed limit MaxTexturePixels=67108864"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			scene := filepath.Join(dir, "scene.json")
			write := func(path, data string) {
				if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			write(scene, `{"camera": {"from": [0, 0, 5], "to": [0, 0, 0]}, "environment": {"file": "sky.hdr"}, "objects": []}`)
			write(filepath.Join(dir, "sky.hdr"), tt.data)
			code, _, stderr := runRenderCmd(t, "-o", filepath.Join(dir, "x.png"), "-q", scene)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("stderr %q: want one line containing %q", stderr, tt.want)
			}
		})
	}
}

const sunset128 = "../../testdata/env/sunset-128.hdr"

// TestE2EGLTFEnvironmentOnTwoNodes: a glTF file rendered on its own under
// -env (turned and strengthened) comes out of two nodes byte for byte as
// out of this machine: the map travels in the bundle beside the .glb and
// the scene file written for both.
func TestE2EGLTFEnvironmentOnTwoNodes(t *testing.T) {
	a, b := startNode(t, "genv-a"), startNode(t, "genv-b")
	plain := []string{"-width", "64", "-spp", "4", "-tile", "8", "-no-mdns", "-q", stilllife}
	args := append([]string{"-env", sunset128, "-env-strength", "1.5", "-env-rotate", "40"}, plain...)
	d := startRender(t, append(args, "-local", "0", "-nodes", a.addr+","+b.addr)...)
	img, st := d.finish(t)
	local := localPNG(t, args)
	sameImage(t, "two nodes, -env", img, local)
	nodesRenderedAll(t, st, "genv-a", "genv-b")
	if bytes.Equal(local, localPNG(t, plain)) {
		t.Error("the image without -env is the same")
	}
}

// TestRenderEnvFlags: -env and its settings are refused where they mean
// nothing, with exit status 2 and one line.
func TestRenderEnvFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.png")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"-env for a JSON scene", []string{"-env", sunset128, cornell}, "-env " + sunset128 + ": only for a .glb or .gltf file (a scene file names its environment)"},
		{"-env-strength alone", []string{"-env-strength", "2", stilllife}, "-env-strength: only with -env"},
		{"both alone", []string{"-env-rotate", "10", "-env-strength", "2", stilllife}, "-env-rotate and -env-strength: only with -env"},
		{"zero strength", []string{"-env", sunset128, "-env-strength", "0", stilllife}, "-env-strength 0: expected a number more than 0"},
		{"rotation not a number", []string{"-env", sunset128, "-env-rotate", "NaN", stilllife}, "-env-rotate NaN: expected degrees"},
		{"missing map", []string{"-env", "../../testdata/env/none.hdr", stilllife}, `environment "../env/none.hdr": open`},
		{"not a map", []string{"-env", cornell, stilllife}, `cornell.json: byte 0: not a Radiance picture`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runRenderCmd(t, append([]string{"-o", out, "-q"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line containing %q", code, stderr, tt.want)
			}
		})
	}
}
