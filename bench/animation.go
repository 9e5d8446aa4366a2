package bench

// What an animation costs: the frames of orbit.glb (the still life, its
// camera orbiting) rendered through one `tessera render -frames` job
// against a `tessera render -frame N` process per frame, one after the
// other, on the same two spawned nodes; and a frame's set-up on a node
// (its scene at the frame) against the frame's render.

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tessera/render"
)

// animationScene is the scene the section renders: the still life whose
// camera orbits it over 48 frames (Blender's own export).
const animationScene = "orbit.glb"

// Animation compares one job of many frames with one render per frame
// (medians).
type Animation struct {
	Scene  string `json:"scene"`
	Frames int    `json:"frames"`
	Image  string `json:"image"` // WIDTHxHEIGHTxSPP
	Nodes  int    `json:"nodes"`
	// JobSeconds is one `tessera render -frames 1-N` process, start to
	// exit; SeparateSeconds the N `tessera render -frame f` processes, one
	// after the other; Ratio JobSeconds / SeparateSeconds, the median of
	// the runs' ratios.
	JobSeconds      float64 `json:"jobSeconds"`
	SeparateSeconds float64 `json:"separateSeconds"`
	Ratio           float64 `json:"ratio"`
	// FrameSetupSeconds is what a node spends to have the scene of a frame
	// (render.Scene.Frame, its first call for the frame, on the scene as a
	// node loads it), the median over the frames; FrameRenderSeconds the
	// render of one frame on one core; SetupShare the first over the
	// second.
	FrameSetupSeconds  float64 `json:"frameSetupSeconds"`
	FrameRenderSeconds float64 `json:"frameRenderSeconds"`
	SetupShare         float64 `json:"setupShare"`
}

// animation measures the section.
func (b *bencher) animation(ctx context.Context) (*Animation, error) {
	path, err := b.s.fileIn(animationScene)
	if err != nil {
		return nil, err
	}
	w := b.s.work
	frames, set := w.AnimFrames, w.Anim
	procs, err := b.spawnNodes(ctx, 2, b.s.Workers, "")
	if err != nil {
		return nil, err
	}
	defer stopProcs(procs)
	var addrs []string
	for _, p := range procs {
		addrs = append(addrs, p.addr)
	}
	out, err := os.MkdirTemp("", "tessera-bench-frames-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	args := func(dir string, frameArgs ...string) []string {
		return append([]string{"render", "-no-mdns", "-local", "0", "-nodes", strings.Join(addrs, ","), "-q",
			"-width", strconv.Itoa(set.Width), "-height", strconv.Itoa(set.Height), "-spp", strconv.Itoa(set.SPP),
			"-o", filepath.Join(dir, "f-####.png")}, append(frameArgs, path)...)
	}
	pass := 0
	runJob := func() (time.Duration, error) {
		pass++
		dir := filepath.Join(out, strconv.Itoa(pass))
		return b.exec(ctx, args(dir, "-frames", fmt.Sprintf("1-%d", frames)))
	}
	runSeparate := func() (time.Duration, error) {
		pass++
		dir := filepath.Join(out, strconv.Itoa(pass))
		var total time.Duration
		for f := 1; f <= frames; f++ {
			d, err := b.exec(ctx, args(dir, "-frame", strconv.Itoa(f)))
			if err != nil {
				return 0, err
			}
			total += d
		}
		return total, nil
	}
	// Warm up: the nodes load the scene once (they keep it by its hash).
	if _, err := b.exec(ctx, args(filepath.Join(out, "warm"), "-frame", "1")); err != nil {
		return nil, err
	}
	var jobs, seps, ratios []float64
	for run := 1; run <= b.s.Runs; run++ {
		var job, sep time.Duration
		for _, turn := range turns(2, run) {
			var err error
			if turn == 1 {
				job, err = runJob()
			} else {
				sep, err = runSeparate()
			}
			if err != nil {
				return nil, err
			}
		}
		jobs = append(jobs, job.Seconds())
		seps = append(seps, sep.Seconds())
		ratios = append(ratios, job.Seconds()/sep.Seconds())
		b.log.Info().Int("run", run).Float64("job", round(job.Seconds(), 3)).Float64("separate", round(sep.Seconds(), 3)).
			Float64("ratio", round(ratios[len(ratios)-1], 3)).Msg("animation")
	}
	setup, frame, err := b.frameSetup(ctx, path, frames, set)
	if err != nil {
		return nil, err
	}
	return &Animation{
		Scene: animationScene, Frames: frames, Image: fmt.Sprintf("%dx%dx%d", set.Width, set.Height, set.SPP), Nodes: len(procs),
		JobSeconds: median(jobs), SeparateSeconds: median(seps), Ratio: median(ratios),
		FrameSetupSeconds: setup, FrameRenderSeconds: frame, SetupShare: setup / frame,
	}, nil
}

// frameSetup loads the scene as a node does (from its bundle) and times the
// first Frame call of each frame (the median), and the render of the
// middle frame on one core.
func (b *bencher) frameSetup(ctx context.Context, path string, frames int, set render.Settings) (setup, frame float64, err error) {
	_, bundle, err := render.LoadFile(path, render.Limits{})
	if err != nil {
		return 0, 0, err
	}
	var setups []float64
	for range b.s.Runs {
		sc, err := render.LoadBundle(bundle, render.Limits{})
		if err != nil {
			return 0, 0, err
		}
		for f := 1; f <= frames; f++ {
			start := time.Now()
			if _, err := sc.Frame(f); err != nil {
				return 0, 0, err
			}
			setups = append(setups, time.Since(start).Seconds())
		}
	}
	sc, err := render.LoadBundle(bundle, render.Limits{})
	if err != nil {
		return 0, 0, err
	}
	fs, err := sc.Frame(max(1, frames/2))
	if err != nil {
		return 0, 0, err
	}
	set = fs.Resolve(set)
	pix := make([]float32, 3*set.Width*set.Height)
	var renders []float64
	for range b.s.Runs {
		start := time.Now()
		if _, err := fs.RenderTile(ctx, set, image.Rect(0, 0, set.Width, set.Height), pix); err != nil {
			return 0, 0, err
		}
		renders = append(renders, time.Since(start).Seconds())
	}
	return median(setups), median(renders), nil
}

// exec runs the tessera binary with args and returns how long it took.
func (b *bencher) exec(ctx context.Context, args []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, b.s.Executable, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("bench: tessera %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return d, nil
}
