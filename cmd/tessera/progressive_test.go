package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tessera/scheduler"
)

const cornellGlass = "../../testdata/scenes/cornell-glass.json"

// -noise renders adaptively: the stats give the samples per pixel and
// the passes, -o-spp writes them (the PFM's counts sum to the stats'
// samples), no .partial is left, and the same render stopped by -spp at a
// pass equals -spp of that pass without -noise, byte for byte.
func TestRenderNoise(t *testing.T) {
	dir := t.TempDir()
	out, spp, stats := filepath.Join(dir, "a.pfm"), filepath.Join(dir, "spp.pfm"), filepath.Join(dir, "st.json")
	code, _, stderr := runRenderCmd(t, "-o", out, "-o-spp", spp, "-stats", stats, "-width", "24", "-height", "20",
		"-spp", "128", "-noise", "0.1", "-tile", "8", "-local", "2", cornellGlass)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "spp (min/median/max of 128) in ") {
		t.Errorf("summary %q does not give the samples per pixel", stderr)
	}
	data, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var st scheduler.Stats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.SPPMin != 32 || st.SPPMax <= st.SPPMin || st.SPPMedian < st.SPPMin || st.SPPMedian > st.SPPMax || len(st.Passes) < 5 {
		t.Errorf("stats: samples %d/%d/%d in %d passes, want some pixels stopped at 32 and others going on", st.SPPMin, st.SPPMedian, st.SPPMax, len(st.Passes))
	}
	counts := readPFM(t, spp)
	var sum int64
	for i := 0; i < len(counts); i += 3 {
		sum += int64(counts[i])
	}
	if sum != st.Samples {
		t.Errorf("-o-spp sums to %d samples, the stats say %d", sum, st.Samples)
	}
	if _, err := os.Stat(partialName(out)); !os.IsNotExist(err) {
		t.Errorf("%s after a render that ended: %v, want none", partialName(out), err)
	}
	// -noise with a ceiling at its first decision is the fixed render (the
	// last pass decides nothing).
	a, b := filepath.Join(dir, "n.pfm"), filepath.Join(dir, "f.pfm")
	for _, args := range [][]string{{"-noise", "0.1", "-o", a}, {"-o", b}} {
		if code, _, stderr := runRenderCmd(t, append(args, "-width", "24", "-height", "20", "-spp", "32", "-tile", "8", "-local", "2", "-q", cornellGlass)...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Error("-noise 0.1 -spp 32 (passes of 4 to 32 samples) differs from -spp 32")
	}
}

// readPFM reads a little-endian RGB PFM's floats (as written: bottom row
// first).
func readPFM(t *testing.T, name string) []float32 {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var magic string
	var w, h int
	var scale float64
	r := bytes.NewReader(data)
	if _, err := fmt.Fscan(r, &magic, &w, &h, &scale); err != nil || magic != "PF" || scale >= 0 {
		t.Fatalf("%s: header %q %d %d %v: %v", name, magic, w, h, scale, err)
	}
	body := data[len(data)-12*w*h:]
	out := make([]float32, 3*w*h)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	return out
}

func TestRenderProgressiveFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.png")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-noise", "-1"}, "-noise -1: expected"},
		{[]string{"-noise", "NaN"}, "-noise NaN: expected"},
		{[]string{"-time", "-3s"}, "-time -3s: expected"},
		{[]string{"-time", "10s", "-frames", "1-3"}, "-time 10s: only for a still"},
		{[]string{"-o-spp", filepath.Join(dir, "s.png")}, "-o-spp: only with -noise or -time"},
		{[]string{"-noise", "0.1", "-o-spp", filepath.Join(dir, "s.jpg")}, "expected a file name ending in .png or .pfm"},
		{[]string{"-noise", "0.1", "-frames", "1-2", "-o-spp", filepath.Join(dir, "s.png")}, "-o-spp: only for a still"},
	} {
		code, _, stderr := runRenderCmd(t, append(tt.args, "-o", out, cornellGlass)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 saying %q", tt.args, code, stderr, tt.want)
		}
	}
}
