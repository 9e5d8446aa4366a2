package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const orbit = "../../testdata/scenes/orbit.glb"

func TestParseFrames(t *testing.T) {
	tests := []struct {
		spec string
		want []int
		err  string
	}{
		{"1-4", []int{1, 2, 3, 4}, ""},
		{"17", []int{17}, ""},
		{"0", []int{0}, ""},
		{"1-3,10,20-21", []int{1, 2, 3, 10, 20, 21}, ""},
		{"1-9:4", []int{1, 5, 9}, ""},
		{"5,1-3,2", []int{5, 1, 2, 3}, ""}, // as given, each once
		{" 1 - 2 ", []int{1, 2}, ""},
		{"3-1", nil, "range 3-1 ends before it starts"},
		{"-2", nil, `"" is not a frame number`},
		{"1,,2", nil, "an empty item"},
		{"x", nil, `"x" is not a frame number from 0 to 1048574`},
		{"1048575", nil, "is not a frame number"},
		{"1-5:0", nil, "step \"0\""},
		{"7:2", nil, "a step applies to a range"},
	}
	for _, tt := range tests {
		got, err := parseFrames(tt.spec)
		switch {
		case tt.err == "" && (err != nil || !slices.Equal(got, tt.want)):
			t.Errorf("parseFrames(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseFrames(%q): error %v, want one saying %q", tt.spec, err, tt.err)
		}
	}
}

func TestFrameName(t *testing.T) {
	tests := []struct {
		pattern string
		f       int
		rng     bool
		want    string
	}{
		{"frames/orbit-####.png", 17, true, "frames/orbit-0017.png"},
		{"frames/orbit-####.png", 17, false, "frames/orbit-0017.png"},
		{"o#.pfm", 123, true, "o123.pfm"}, // a longer number is written whole
		{"a##b##.png", 5, true, "a##b05.png"},
		{"f17.png", 17, false, "f17.png"},
		{"out.png", 3, true, "out-0003.png"},
		{"dir#/x.png", 3, true, "dir#/x-0003.png"}, // the file name's #, not the directory's
	}
	for _, tt := range tests {
		if got := frameName(tt.pattern, tt.f, tt.rng); got != tt.want {
			t.Errorf("frameName(%q, %d, %v) = %q, want %q", tt.pattern, tt.f, tt.rng, got, tt.want)
		}
	}
	if got := describeFrames([]int{1, 2, 3, 5, 9, 10}); got != "1-3, 5, 9-10" {
		t.Errorf("describeFrames = %q", got)
	}
}

func TestRenderFrameFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "f-####.png")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"both", []string{"-frame", "1", "-frames", "1-2", "-o", out, orbit}, "-frame and -frames: give one of them"},
		{"bad frame", []string{"-frame", "x", "-o", out, orbit}, "-frame x: expected a frame number"},
		{"bad range", []string{"-frames", "9-3", "-o", out, orbit}, "-frames 9-3: range 9-3 ends before it starts"},
		{"fps without frames", []string{"-fps", "30", "-o", out, orbit}, "-fps: only with -frame or -frames"},
		{"overwrite without frames", []string{"-overwrite", "-o", out, orbit}, "-overwrite: only with -frame or -frames"},
		{"fps for a scene file", []string{"-fps", "30", "-frame", "1", "-o", out, cornell}, "-fps 30: only for a .glb or .gltf file"},
		{"bad fps", []string{"-fps", "0", "-frame", "1", "-o", out, orbit}, "-fps 0: expected frames per second"},
		{"degenerate camera", []string{"-frames", "1-9", "-o", out, writeScene(t, dir, "cam.json",
			`{"camera": {"from": [0, 0, 5], "to": [0, 0, 0], "keys": [{"frame": 1, "to": [0, 0, 0]}, {"frame": 9, "to": [0, 0, 10]}]}, "objects": []}`)},
			"frame 5: the camera looks at its own position"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runRenderCmd(t, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line saying %q", code, stderr, tt.want)
			}
		})
	}
}

func writeScene(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// frameArgs are the settings of the animation tests: orbit.glb small and
// noisy, enough tiles (16x16) to share.
func frameArgs(extra ...string) []string {
	return append([]string{"-width", "80", "-height", "50", "-spp", "4", "-tile", "16", "-no-mdns", "-q", orbit}, extra...)
}

// localFrames renders frames with two in-process workers of the built
// binary into dir (f-####.pfm): the reference.
func localFrames(t *testing.T, dir string, frames string, args []string) {
	t.Helper()
	p := startProcess(t, tesseraBinary(t), append([]string{"render", "-no-mdns", "-local", "2", "-frames", frames, "-o", filepath.Join(dir, "f-####.pfm")}, args...)...)
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("local render: exit %d: %s", code, p.out.String())
	}
}

// sameFiles fails unless dir a and dir b hold the same frame files, byte
// for byte.
func sameFiles(t *testing.T, what, a, b string, frames []int) {
	t.Helper()
	for _, f := range frames {
		name := fmt.Sprintf("f-%04d.pfm", f)
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		y, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s: frame %d differs from the reference", what, f)
		}
	}
}

// frameFiles lists the frame files in dir (nothing else: no temporary or
// partial file).
func frameFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestE2EFramesOnTwoNodes: orbit.glb's 48 frames rendered in one job
// (-frames 1-48) on two node processes are 48 files, and frames 1, 24, 48
// and a random one are byte for byte the local render of that frame alone
// (-frame N).
func TestE2EFramesOnTwoNodes(t *testing.T) {
	a, b := startNode(t, "frames-a"), startNode(t, "frames-b")
	frames := []int{1, 24, 48, 2 + rand.IntN(46)}
	t.Logf("frames compared: %v", frames)
	dist := t.TempDir()
	stats := filepath.Join(t.TempDir(), "stats.json")
	p := startProcess(t, tesseraBinary(t), append([]string{"render", "-no-mdns", "-local", "0", "-nodes", a.addr + "," + b.addr,
		"-frames", "1-48", "-o", filepath.Join(dist, "f-####.pfm"), "-stats", stats}, frameArgs()...)...)
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("render exited with %d:\n%s", code, p.out.String())
	}
	st := readStats(t, stats)
	// Each frame alone, locally.
	alone := t.TempDir()
	for _, f := range frames {
		q := startProcess(t, tesseraBinary(t), append([]string{"render", "-no-mdns", "-local", "2", "-frame", fmt.Sprint(f),
			"-o", filepath.Join(alone, fmt.Sprintf("f-%04d.pfm", f))}, frameArgs()...)...)
		if code := q.wait(t, 2*time.Minute); code != 0 {
			t.Fatalf("-frame %d: exit %d: %s", f, code, q.out.String())
		}
	}
	sameFiles(t, "two nodes against -frame N alone", dist, alone, frames)
	got := frameFiles(t, dist)
	var want []string
	for f := 1; f <= 48; f++ {
		want = append(want, fmt.Sprintf("f-%04d.pfm", f))
	}
	if !slices.Equal(got, want) {
		t.Errorf("files %v, want f-0001.pfm to f-0048.pfm and nothing else", got)
	}
	if len(st.Frames) != 48 || st.Tiles != 48*20 {
		t.Errorf("stats: %d frames, %d tiles; want 48 frames of 20 tiles", len(st.Frames), st.Tiles)
	}
	if tiles := nodeTiles(st); tiles["frames-a"]+tiles["frames-b"] != st.Tiles {
		t.Errorf("tiles per node %v, want all %d from the two nodes", tiles, st.Tiles)
	}
	// The frames move: no two are the same.
	first, _ := os.ReadFile(filepath.Join(dist, "f-0001.pfm"))
	last, _ := os.ReadFile(filepath.Join(dist, "f-0048.pfm"))
	if bytes.Equal(first, last) {
		t.Error("frames 1 and 48 are the same image")
	}
}

// TestE2EFramesNodeKilledAndJoined: a node killed (SIGKILL) mid-range and
// one that joins mid-range through the registry: every frame is still
// exact, none is missing.
func TestE2EFramesNodeKilledAndJoined(t *testing.T) {
	reg := startProcess(t, tesseraBinary(t), "registry", "-listen", "127.0.0.1:0", "-no-mdns")
	regAddr := reg.waitAddr(t, "", 20*time.Second)
	steady := startNode(t, "fr-steady", "-registry", regAddr)
	victim := startNode(t, "fr-victim", "-registry", regAddr)
	args := frameArgs("-spp", "8")
	dist := t.TempDir()
	stats := filepath.Join(dist, "stats.json")
	p := startProcess(t, tesseraBinary(t), append([]string{"render", "-no-mdns", "-local", "0", "-registry", regAddr,
		"-frames", "1-24", "-o", filepath.Join(dist, "f-####.pfm"), "-stats", stats}, args...)...)
	// Mid-range: once the victim has done a few tiles and the first frame
	// is on disk, it dies, and another node arrives.
	victim.waitJobs(t, 3, time.Minute)
	waitFor(t, "frame 1 on disk", time.Minute, func() bool {
		_, err := os.Stat(filepath.Join(dist, "f-0001.pfm"))
		return err == nil
	})
	victim.signal(t, syscall.SIGKILL)
	late := startNode(t, "fr-late", "-registry", regAddr)
	late.waitJobs(t, 1, time.Minute)
	if code := p.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("render exited with %d:\n%s", code, p.out.String())
	}
	st := readStats(t, stats)
	os.Remove(stats)
	ref := t.TempDir()
	localFrames(t, ref, "1-24", args)
	var frames []int
	for f := 1; f <= 24; f++ {
		frames = append(frames, f)
	}
	sameFiles(t, "a node killed, one joined", dist, ref, frames)
	// The late node rendered tiles (waitJobs above: which of them made it
	// into the frames, first of their copies, is the scheduler's business).
	tiles := nodeTiles(st)
	if tiles["fr-late"]+tiles["fr-steady"]+tiles["fr-victim"] != st.Tiles || st.Tiles != 24*20 {
		t.Errorf("tiles per node %v do not add up to %d (want 480)", tiles, st.Tiles)
	}
	_ = steady
}

// TestE2EFramesControllerKilledResumes: the controller SIGKILLed mid-range
// and started again with the same command renders only the frames missing,
// never touches those written, and leaves the same set of frames, byte for
// byte, as an uninterrupted run.
func TestE2EFramesControllerKilledResumes(t *testing.T) {
	a, b := startNode(t, "resume-a"), startNode(t, "resume-b")
	args := frameArgs()
	dist := t.TempDir()
	stats := filepath.Join(t.TempDir(), "stats.json")
	cmd := append([]string{"render", "-no-mdns", "-local", "0", "-nodes", a.addr + "," + b.addr,
		"-frames", "1-12", "-o", filepath.Join(dist, "f-####.pfm"), "-stats", stats}, args...)
	first := startProcess(t, tesseraBinary(t), cmd...)
	waitFor(t, "three frames on disk", time.Minute, func() bool {
		n := 0
		for _, name := range frameFiles(t, dist) {
			if strings.HasPrefix(name, "f-") && strings.HasSuffix(name, ".pfm") {
				n++
			}
		}
		return n >= 3
	})
	first.signal(t, syscall.SIGKILL)
	first.wait(t, 30*time.Second)
	// What the killed controller left: whole frames only (and perhaps a
	// temporary file it was writing).
	kept := map[string]time.Time{}
	for _, name := range frameFiles(t, dist) {
		if !strings.HasPrefix(name, "f-") {
			continue
		}
		fi, err := os.Stat(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		kept[name] = fi.ModTime()
	}
	if len(kept) == 0 || len(kept) == 12 {
		t.Fatalf("the killed controller left %d frames, want some but not all 12", len(kept))
	}
	second := startProcess(t, tesseraBinary(t), cmd...)
	if code := second.wait(t, 2*time.Minute); code != 0 {
		t.Fatalf("the second run exited with %d:\n%s", code, second.out.String())
	}
	st := readStats(t, stats)
	if len(st.Frames) != 12-len(kept) {
		t.Errorf("the second run rendered %d frames, want the %d missing", len(st.Frames), 12-len(kept))
	}
	for _, fs := range st.Frames {
		if _, ok := kept[fmt.Sprintf("f-%04d.pfm", fs.Frame)]; ok {
			t.Errorf("the second run rendered frame %d again, which was on disk", fs.Frame)
		}
	}
	for name, mod := range kept {
		if fi, err := os.Stat(filepath.Join(dist, name)); err != nil || !fi.ModTime().Equal(mod) {
			t.Errorf("%s was written again (or lost): %v", name, err)
		}
	}
	ref := t.TempDir()
	localFrames(t, ref, "1-12", args)
	sameFiles(t, "killed and resumed", dist, ref, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	// A third run has nothing to do.
	third := startProcess(t, tesseraBinary(t), cmd...)
	if code := third.wait(t, time.Minute); code != 0 {
		t.Fatalf("the third run exited with %d:\n%s", code, third.out.String())
	}
}
