package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	tiles := nodeTiles(st)
	if tiles["env-a"] == 0 || tiles["env-b"] == 0 {
		t.Errorf("tiles per node %v, want both nodes to render", tiles)
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
