package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/preview"
	"tessera/render"
	"tessera/scheduler"
)

func init() {
	register(command{
		name:    "render",
		summary: "render a scene on every node found (mDNS, -registry, -nodes), or on this machine",
		run:     runRender,
	})
}

const renderSynopsis = `render [-o out.png] [-registry host:port] [-nodes h:p,h:p] [-local auto|N] [-no-mdns]
               [-discover 1s] [-width W] [-height H] [-spp N] [-noise E] [-time D] [-o-spp spp.pfm]
               [-tile 32] [-camera NAME]
               [-env sky.hdr [-env-strength K] [-env-rotate DEG]]
               [-frame N | -frames A-B[,C,D-E:STEP]] [-fps 24] [-overwrite]
               [-stats stats.json] [-preview :8080] [-token T] [-q] SCENE.json|SCENE.glb|SCENE.gltf

An animation: -frames 1-240 -o frames/orbit-####.png renders frames 1 to
240 in one job (#### is the frame number, zero-padded: orbit-0017.png; a
name without # gets -#### before its extension). Frames whose file exists
are skipped, so the same command run again after Ctrl-C or a crash renders
only what is missing; -overwrite renders them again.

Progressive: -noise 0.01 renders in passes (4 samples a pixel, then
doubling) and stops each pixel once its estimated error is below 1%
(Cycles' measure; -spp is then the most a pixel gets, 4096 without it);
-time 10m renders passes while the next one is expected to end within 10
minutes, the last one cut to what fits (a still only; -spp the most,
65536 without it). Either way the image after every pass is whole: the
.partial file holds the last one while the render runs, and a render
stopped after passes of N samples is bit for bit -spp N. -o-spp writes
the samples each pixel got.`

// renderJob is one render as the flags (or tessera demo) describe it.
type renderJob struct {
	scene      string         // scene file (or, with bundle, its name)
	bundle     *render.Bundle // when not nil: the scene itself, read from no file (tessera demo)
	camera     string         // -camera: a glTF file's camera by name
	env        string         // -env: an environment map lighting a glTF file
	envK, envR float64        // -env-strength, -env-rotate
	out        string         // output image, .png or .pfm
	set        render.Settings
	tile       int
	local      int // scheduler.LocalAuto, 0 or N workers
	discover   time.Duration
	mdns       bool
	registry   []string
	nodes      []string
	token      string
	statsFile  string
	preview    string        // listen address of the preview page; "" for none
	linger     time.Duration // how long the preview stays up after the render
	quiet      bool
	log        zerolog.Logger

	frames     []int   // -frame or -frames: the animation's frames to render; nil: the still
	frameRange bool    // -frames (not -frame): names without # get the frame number
	fps        float64 // -fps: the frame rate of a glTF file's animations; 0: the default
	overwrite  bool    // -overwrite: render frames whose output exists

	noise  float64       // -noise: the adaptive threshold; 0 for none
	budget time.Duration // -time: the time budget; 0 for none
	sppOut string        // -o-spp: where the samples per pixel go
	sppSet bool          // -spp was given: the ceiling of a progressive render
}

// Ceilings of a progressive render's samples per pixel without -spp: a
// noise target's (Cycles' default maximum) and a time budget's (MaxSPP).
const (
	noiseCeiling = 4096
	timeCeiling  = 1 << 16
)

// progressive reports whether the job renders in passes.
func (j *renderJob) progressive() bool { return j.noise > 0 || j.budget > 0 }

func parseRenderFlags(args []string, stderr io.Writer) (*renderJob, error) {
	j := &renderJob{}
	var local, registry, nodes, logFormat string
	var noMDNS bool
	fs := newFlagSet("render", renderSynopsis, stderr)
	fs.StringVar(&j.out, "o", "out.png", "output image: .png (8-bit sRGB) or .pfm (linear float RGB); with -frame or -frames the last run of # in the file name is the frame number, zero-padded (f-####.png)")
	fs.StringVar(&registry, "registry", "", "registries to list nodes from, `host:port[,host:port]`")
	fs.StringVar(&nodes, "nodes", "", "nodes to render on, by address: `host:port[,host:port]`")
	fs.StringVar(&local, "local", "auto", "workers of an in-process node: auto (none while remote nodes work; every core when none is found or all are lost), 0 (never render here) or N")
	fs.BoolVar(&noMDNS, "no-mdns", false, "do not look for nodes over mDNS")
	fs.DurationVar(&j.discover, "discover", time.Second, "with -local auto: how long to look for nodes before rendering here")
	fs.IntVar(&j.set.Width, "width", 0, fmt.Sprintf("image width in pixels (0: the scene file's; at most %d, MaxImageSide)", render.DefaultLimits.MaxImageSide))
	fs.IntVar(&j.set.Height, "height", 0, fmt.Sprintf("image height in pixels (0: the scene file's; at most %d, MaxImageSide)", render.DefaultLimits.MaxImageSide))
	fs.IntVar(&j.set.SPP, "spp", 0, fmt.Sprintf("samples per pixel (0: the scene file's; at most %d, MaxSPP)", render.DefaultLimits.MaxSPP))
	fs.Float64Var(&j.noise, "noise", 0, "render in passes and stop each pixel once its estimated error is below this (0.01: 1%; Cycles' noise threshold); -spp is then the ceiling (default 4096)")
	fs.DurationVar(&j.budget, "time", 0, "render in passes while the next one is expected to end within this `duration` (10m); a still only; -spp is then the ceiling (default 65536)")
	fs.StringVar(&j.sppOut, "o-spp", "", "with -noise or -time: write the samples per pixel to this `file`: .pfm (the counts) or .png (gray on a log scale: black the fewest, white the most)")
	fs.StringVar(&j.camera, "camera", "", "for a .glb or .gltf file: its camera of this `name` (default: the first perspective camera)")
	fs.StringVar(&j.env, "env", "", "for a .glb or .gltf file: an equirectangular Radiance `file.hdr` that lights the scene and is what escaping rays see (oriented as Blender's Environment Texture)")
	fs.Float64Var(&j.envK, "env-strength", 1, "with -env: multiplies the map's radiance (more than 0)")
	fs.Float64Var(&j.envR, "env-rotate", 0, "with -env: turns the map about the up axis by this many `degrees`, counter-clockwise seen from above")
	fs.IntVar(&j.tile, "tile", 32, fmt.Sprintf("tile side in pixels, 1 to %d (a tile holds at most %d pixels, MaxTilePixels)", maxTileSide(), render.DefaultLimits.MaxTilePixels))
	fs.StringVar(&j.statsFile, "stats", "", "write statistics as JSON to this `file`")
	var frame, frames string
	fs.StringVar(&frame, "frame", "", "render frame `N` of the scene's animation alone")
	fs.StringVar(&frames, "frames", "", "render these frames of the scene's animation in one job: `A-B`, a list of frames and ranges (1-10,20,30-40) or a range with a step (1-240:2); -o names each with its # (see above)")
	fs.Float64Var(&j.fps, "fps", render.DefaultFPS, "for a .glb or .gltf file: the frame rate its animations play at, frame f at time f/fps (Blender writes frame 1 at 1/24 s at 24)")
	fs.BoolVar(&j.overwrite, "overwrite", false, "with -frame or -frames: render frames whose output file exists too (without it they are skipped: a render run again resumes)")
	fs.StringVar(&j.preview, "preview", "", "serve a live preview page on `host:port` (e.g. :8080) while rendering")
	fs.DurationVar(&j.linger, "linger", 10*time.Second, "with -preview: keep the page up this long after the render (Ctrl-C ends it sooner)")
	token := tokenFlag(fs)
	logFlag := logFlag(fs)
	fs.BoolVar(&j.quiet, "q", false, "no progress bar and no summary line")
	if err := parseInterleaved(fs, args, func(a string) { j.scene = a }); err != nil {
		return nil, err
	}
	if j.scene == "" {
		return nil, badInput(fmt.Errorf("expected one scene file, got 0 (see tessera render -h)"))
	}
	logFormat = *logFlag
	switch ext := strings.ToLower(filepath.Ext(j.out)); ext {
	case ".png", ".pfm":
	default:
		return nil, badInput(fmt.Errorf("-o %s: expected a file name ending in .png or .pfm", j.out))
	}
	for _, v := range []struct {
		name string
		val  int
	}{{"width", j.set.Width}, {"height", j.set.Height}, {"spp", j.set.SPP}} {
		if v.val < 0 {
			return nil, badInput(fmt.Errorf("-%s %d: expected 0 (the scene's value) or more", v.name, v.val))
		}
	}
	if most := maxTileSide(); j.tile < 1 || j.tile > most {
		return nil, badInput(fmt.Errorf("-tile %d: expected 1 to %d pixels a side (a tile holds at most limit MaxTilePixels=%d pixels)", j.tile, most, render.DefaultLimits.MaxTilePixels))
	}
	if j.discover < 0 {
		return nil, badInput(fmt.Errorf("-discover %v: expected 0 or more", j.discover))
	}
	if err := checkEnvFlags(fs, j); err != nil {
		return nil, err
	}
	if err := checkFrameFlags(fs, j, frame, frames); err != nil {
		return nil, err
	}
	if err := checkProgressiveFlags(fs, j); err != nil {
		return nil, err
	}
	var err error
	if j.local, err = parseLocal(local); err != nil {
		return nil, err
	}
	j.mdns, j.token = !noMDNS, *token
	j.registry, j.nodes = splitList(registry), splitList(nodes)
	for _, addr := range j.nodes {
		if err := discovery.CheckAddr(addr); err != nil {
			return nil, badInput(fmt.Errorf("-nodes %s: %w", addr, err))
		}
	}
	if j.log, err = newLogger(stderr, logFormat); err != nil {
		return nil, err
	}
	if j.quiet {
		j.log = j.log.Level(zerolog.WarnLevel)
	}
	return j, nil
}

// checkEnvFlags refuses -env-strength and -env-rotate without -env, and
// values the scene file does not take.
func checkEnvFlags(fs *flag.FlagSet, j *renderJob) error {
	var set []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "env-strength" || f.Name == "env-rotate" {
			set = append(set, "-"+f.Name)
		}
	})
	switch {
	case j.env == "" && len(set) > 0:
		return badInput(fmt.Errorf("%s: only with -env (an environment map)", strings.Join(set, " and ")))
	case !(j.envK > 0 && j.envK <= 1e12):
		return badInput(fmt.Errorf("-env-strength %v: expected a number more than 0, at most 1e12", j.envK))
	case !(math.Abs(j.envR) <= 1e6):
		return badInput(fmt.Errorf("-env-rotate %v: expected degrees from -1e6 to 1e6", j.envR))
	}
	return nil
}

// checkFrameFlags reads -frame and -frames (one of them at most) and
// refuses -fps and -overwrite without them, and -fps for a scene file.
func checkFrameFlags(fs *flag.FlagSet, j *renderJob, frame, frames string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["frame"] && set["frames"]:
		return badInput(errors.New("-frame and -frames: give one of them (-frames N is frame N alone too)"))
	case set["frame"]:
		f, err := strconv.Atoi(frame)
		if err != nil || f < 0 || f > render.MaxFrame {
			return badInput(fmt.Errorf("-frame %s: expected a frame number from 0 to %d", frame, render.MaxFrame))
		}
		j.frames = []int{f}
	case set["frames"]:
		fs, err := parseFrames(frames)
		if err != nil {
			return err
		}
		j.frames, j.frameRange = fs, true
	}
	switch {
	case j.frames == nil && set["fps"]:
		return badInput(errors.New("-fps: only with -frame or -frames (a still plays no animation)"))
	case j.frames == nil && j.overwrite:
		return badInput(errors.New("-overwrite: only with -frame or -frames (a still always writes its image)"))
	case set["fps"] && !render.IsGLTF(j.scene):
		return badInput(fmt.Errorf("-fps %v: only for a .glb or .gltf file (a scene file gives its own \"fps\")", j.fps))
	case !(j.fps > 0 && j.fps <= 1000):
		return badInput(fmt.Errorf("-fps %v: expected frames per second, more than 0 and at most 1000", j.fps))
	}
	if !set["fps"] {
		j.fps = 0
	}
	return nil
}

// checkProgressiveFlags refuses what -noise, -time and -o-spp cannot do.
func checkProgressiveFlags(fs *flag.FlagSet, j *renderJob) error {
	fs.Visit(func(f *flag.Flag) { j.sppSet = j.sppSet || f.Name == "spp" })
	switch {
	case math.IsNaN(j.noise) || math.IsInf(j.noise, 0) || j.noise < 0:
		return badInput(fmt.Errorf("-noise %v: expected an error to reach, more than 0 (0.01 is 1%%), or 0 for none", j.noise))
	case j.budget < 0:
		return badInput(fmt.Errorf("-time %v: expected a duration of more than 0 (10m, 30s)", j.budget))
	case j.budget > 0 && j.frames != nil:
		return badInput(fmt.Errorf("-time %v: only for a still, not with -frame or -frames (how the budget shares out over frames is not defined; -noise applies to each frame)", j.budget))
	case j.sppOut != "" && !j.progressive():
		return badInput(errors.New("-o-spp: only with -noise or -time (without them every pixel gets -spp samples)"))
	case j.sppOut != "" && j.frames != nil:
		return badInput(errors.New("-o-spp: only for a still, not with -frame or -frames"))
	}
	if j.sppOut != "" {
		switch ext := strings.ToLower(filepath.Ext(j.sppOut)); ext {
		case ".png", ".pfm":
		default:
			return badInput(fmt.Errorf("-o-spp %s: expected a file name ending in .png or .pfm", j.sppOut))
		}
	}
	if j.progressive() && !j.sppSet {
		j.set.SPP = noiseCeiling
		if j.budget > 0 {
			j.set.SPP = timeCeiling
		}
	}
	return nil
}

// sppImage is the samples-per-pixel image -o-spp writes: the counts for a
// .pfm; for a .png a gray on a log scale, as the passes double, from black
// (the fewest samples, fewest) to white (the most, most), even steps as
// displayed.
func sppImage(samples *render.Image, name string, fewest, most int) *render.Image {
	if !strings.EqualFold(filepath.Ext(name), ".png") {
		return samples
	}
	m := render.NewImage(samples.Width, samples.Height)
	lo, hi := math.Log2(float64(max(fewest, 1))), math.Log2(float64(max(most, 1)))
	for i, v := range samples.Pix {
		g := 1.0
		if hi > lo {
			g = (math.Log2(max(float64(v), 1)) - lo) / (hi - lo)
		}
		m.Pix[i] = float32(math.Pow(g, 2.2)) // Save encodes sRGB: about even steps on screen
	}
	return m
}

// parseInterleaved parses flags that may also follow the positional argument
// (tessera render scene.json -o x.png), which must come exactly once.
func parseInterleaved(fs *flag.FlagSet, args []string, positional func(string)) error {
	var got []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		got = append(got, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(got) > 1 {
		return badInput(fmt.Errorf("expected one scene file, got %d (%s) (see tessera render -h)", len(got), strings.Join(got, " ")))
	}
	if len(got) == 1 {
		positional(got[0])
	}
	return nil
}

// parseLocal resolves -local: auto, 0 or a number of workers.
func parseLocal(s string) (int, error) {
	if s == "auto" {
		return scheduler.LocalAuto, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badInput(fmt.Errorf("-local %q: expected auto or a number of workers >= 0", s))
	}
	return n, nil
}

func runRender(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	j, err := parseRenderFlags(args, stderr)
	if err != nil {
		return err
	}
	return j.run(ctx, stdout, stderr)
}

// run loads the scene, renders it on every node found and writes the image
// (or, when the render fails, the part that is done, next to the output).
func (j *renderJob) run(ctx context.Context, stdout, stderr io.Writer) error {
	// A glTF file on its own is rendered as a scene file written into the
	// bundle, which holds these flags, so that every node sees them.
	direct := render.Direct{Camera: j.camera}
	switch {
	case render.IsGLTF(j.scene):
		direct.Width, direct.Height, direct.FPS = j.set.Width, j.set.Height, j.fps
		if j.env != "" {
			direct.Env, direct.EnvStrength, direct.EnvRotate = j.env, j.envK, j.envR
		}
	case j.camera != "":
		return badInput(fmt.Errorf("-camera %s: only for a .glb or .gltf file (a scene file names its camera)", j.camera))
	case j.env != "":
		return badInput(fmt.Errorf("-env %s: only for a .glb or .gltf file (a scene file names its environment)", j.env))
	}
	var scene *render.Scene
	var bundle *render.Bundle
	var err error
	if j.bundle != nil {
		bundle = j.bundle
		scene, err = render.LoadBundle(bundle, render.Limits{})
	} else {
		scene, bundle, err = render.LoadDirect(j.scene, direct, render.Limits{})
	}
	if err != nil {
		var le *render.LoadError
		if errors.As(err, &le) || errors.Is(err, render.ErrLimit) || errors.Is(err, os.ErrNotExist) || errors.Is(err, render.ErrBadSettings) {
			return badInput(err)
		}
		return err
	}
	for _, w := range scene.Warnings() {
		j.log.Warn().Msg(w)
	}
	var plan *framePlan
	if j.frames != nil {
		if plan, err = j.planFrames(); err != nil {
			return err
		}
		if !scene.Animated() {
			j.log.Warn().Msgf("%s: nothing in the scene moves: every frame shows the still (each with samples of its own)", j.scene)
		}
		if len(plan.skipped) > 0 {
			j.log.Info().Msgf("frames %s: their files exist, skipped (-overwrite renders them again)", describeFrames(plan.skipped))
		}
		if len(plan.todo) == 0 {
			if !j.quiet {
				fmt.Fprintf(stderr, "%s: all %d frames are there already: nothing to render (-overwrite renders them again)\n", framePattern(j.out, j.frameRange), len(plan.asked))
			}
			return nil
		}
	}
	remote := j.mdns || len(j.registry) > 0 || len(j.nodes) > 0
	local := j.local
	if local == scheduler.LocalAuto && !remote {
		local = runtime.NumCPU() // nothing to discover: do not wait for it
	}
	if local == 0 && !remote {
		return errors.New("-local 0 and no way to find a node (-no-mdns without -registry or -nodes): nothing can render")
	}
	// Refused at start, what every node would refuse: a scene too big to
	// send (unless no node can be involved), settings or a tile over the
	// nodes' limits (NewController).
	if err := scheduler.CheckScene(bundle); err != nil && remote {
		return badInput(fmt.Errorf("%s: %w: no node can receive it (render it on this machine alone with -no-mdns and no -registry or -nodes)", j.scene, err))
	}
	var bar *tileBar
	var pv *preview.Server
	var pvFrames *previewFrames
	var writer *frameWriter
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cfg := scheduler.Config{
		Scene:    scene,
		Bundle:   bundle,
		Settings: j.set,
		Tile:     j.tile,
		Local:    local,
		Discover: j.discover,
		Token:    j.token,
		Logger:   j.log,

		Progressive: j.progressive(),
		Noise:       j.noise,
		Budget:      j.budget,
		OnProgress: func(p scheduler.Progress) {
			bar.update(p)
			if pv != nil {
				if plan != nil {
					pv.FramesProgress(p.Done, p.Total, p.FramesDone, p.Frames, p.Rays, eta(p))
				} else {
					pv.Progress(p.Done, p.Total, p.Rays, eta(p))
				}
				pv.Nodes(p.Nodes)
			}
		},
		OnTile: func(ev scheduler.TileEvent) {
			switch {
			case pvFrames != nil:
				pvFrames.tile(ev)
			case pv != nil:
				pv.Tile(ev.Rect, ev.Pixels, ev.NodeID)
			}
		},
	}
	var passes *passWriter
	if j.progressive() && plan == nil {
		passes = newPassWriter(partialName(j.out))
		cfg.OnPass = passes.put
	}
	if plan != nil {
		cfg.Frames = plan.todo
		cfg.OnFrame = func(ev scheduler.FrameEvent) {
			writer.put(ev)
			if pvFrames != nil {
				pvFrames.frameDone(ev)
			}
		}
	}
	ctl, err := scheduler.NewController(cfg)
	if err != nil {
		if errors.Is(err, scheduler.ErrBadConfig) {
			// The settings or the tile: name the scene, not the package.
			if m, ok := err.(interface{ Unwrap() []error }); ok && len(m.Unwrap()) == 2 {
				err = m.Unwrap()[1]
			}
			if errors.Is(err, render.ErrLimit) {
				return badInput(fmt.Errorf("%s: %w: no node would render it", j.scene, err))
			}
			return badInput(fmt.Errorf("%s: %w", j.scene, err))
		}
		return err
	}
	set := ctl.Settings()
	frameCount := 1
	if plan != nil {
		frameCount = len(plan.todo)
	}
	bar = newTileBar(stderr, frameCount*len(render.Tiles(set.Width, set.Height, j.tile)), j.quiet)
	if j.preview != "" {
		if pv, err = j.startPreview(set, stdout); err != nil {
			return err
		}
		defer pv.Close()
		if plan != nil {
			pvFrames = newPreviewFrames(pv, plan.todo)
		}
	}
	if plan != nil {
		writer = newFrameWriter(plan, cancel)
	}
	stopWatch, err := j.watch(ctl)
	if err != nil {
		return err
	}
	res, runErr := ctl.Run(ctx)
	stopWatch()
	bar.finish()
	if err := passes.close(); err != nil && runErr == nil {
		j.log.Warn().Err(err).Msg("the image of a pass could not be written")
	}

	if plan != nil {
		return j.finishFrames(ctx, res, runErr, plan, writer, pv, set, stderr)
	}
	if runErr != nil {
		return j.fail(res, runErr)
	}
	if err := res.Image.Save(j.out); err != nil {
		return err
	}
	if passes != nil {
		os.Remove(partialName(j.out)) // the passes' image: the output is whole now
	}
	if j.sppOut != "" && res.Samples != nil {
		if err := sppImage(res.Samples, j.sppOut, res.Stats.SPPMin, res.Stats.SPPMax).Save(j.sppOut); err != nil {
			return fmt.Errorf("-o-spp: %w", err)
		}
	}
	if err := j.writeStats(res.Stats); err != nil {
		return err
	}
	if !j.quiet {
		st := res.Stats
		spp := fmt.Sprintf("%d spp", set.SPP)
		if j.progressive() {
			spp = fmt.Sprintf("%d/%d/%d spp (min/median/max of %d) in %d passes", st.SPPMin, st.SPPMedian, st.SPPMax, set.SPP, len(st.Passes))
		}
		fmt.Fprintf(stderr, "%s: %dx%d, %s, %d tiles on %d nodes, %.2f s, %.2f Mrays/s\n",
			j.out, set.Width, set.Height, spp, st.Tiles, len(st.Nodes), st.WallSeconds, st.RaysPerSecond/1e6)
	}
	if pv != nil {
		j.finishPreview(ctx, pv, res.Image, stderr)
	}
	return nil
}

// fail reports a failed render: it writes what was rendered next to the
// output (NAME.partial.EXT), so no finished tile is lost, and the stats.
// runErr already says how many tiles are missing.
func (j *renderJob) fail(res *scheduler.Result, runErr error) error {
	if res == nil || res.Image == nil {
		return runErr
	}
	var notes []string
	if n := len(res.Stats.Passes); j.progressive() && n > 0 {
		partial := partialName(j.out)
		if err := res.Image.Save(partial); err != nil {
			notes = append(notes, fmt.Sprintf("the partial image could not be written: %v", err))
		} else {
			notes = append(notes, fmt.Sprintf("the image of the %d passes written (%d/%d/%d spp, min/median/max) is in %s",
				n, res.Stats.SPPMin, res.Stats.SPPMedian, res.Stats.SPPMax, partial))
		}
	} else if done := res.Stats.Tiles - res.Missing; done > 0 && !j.progressive() {
		partial := partialName(j.out)
		if err := res.Image.Save(partial); err != nil {
			notes = append(notes, fmt.Sprintf("the partial image could not be written: %v", err))
		} else {
			notes = append(notes, fmt.Sprintf("the %d tiles rendered are in %s", done, partial))
		}
	}
	if err := j.writeStats(res.Stats); err != nil {
		notes = append(notes, fmt.Sprintf("stats not written: %v", err))
	}
	if len(notes) == 0 {
		return runErr
	}
	return fmt.Errorf("%w; %s", runErr, strings.Join(notes, "; "))
}

// finishFrames ends an animation render: it waits for the frames to be on
// disk, writes the frames begun and not finished to their .partial files
// when the render failed, the stats, and says what was done.
func (j *renderJob) finishFrames(ctx context.Context, res *scheduler.Result, runErr error, plan *framePlan, w *frameWriter, pv *preview.Server, set render.Settings, stderr io.Writer) error {
	writeErr := w.close()
	if writeErr != nil {
		// The cause of the interruption, said once.
		runErr = fmt.Errorf("-o %s: %w", j.out, writeErr)
	}
	var notes []string
	if runErr != nil && res != nil {
		for _, pf := range res.Partial {
			name := partialName(plan.names[pf.Frame])
			if err := pf.Image.Save(name); err != nil {
				notes = append(notes, fmt.Sprintf("the partial image of frame %d could not be written: %v", pf.Frame, err))
			} else {
				notes = append(notes, fmt.Sprintf("the %d tiles of frame %d rendered are in %s", pf.Stats.Tiles, pf.Frame, name))
			}
		}
	}
	if res != nil {
		if err := j.writeStats(res.Stats); err != nil {
			if runErr == nil {
				return err
			}
			notes = append(notes, fmt.Sprintf("stats not written: %v", err))
		}
	}
	done := w.count()
	if runErr != nil {
		msg := fmt.Sprintf("%d of %d frames written", done, len(plan.todo))
		if len(plan.skipped) > 0 {
			msg += fmt.Sprintf(" (and %d there before)", len(plan.skipped))
		}
		msg += "; run the same command again to render the rest"
		return fmt.Errorf("%w; %s", runErr, strings.Join(append([]string{msg}, notes...), "; "))
	}
	if !j.quiet {
		st := res.Stats
		skipped := ""
		if len(plan.skipped) > 0 {
			skipped = fmt.Sprintf(", %d skipped (there already)", len(plan.skipped))
		}
		fmt.Fprintf(stderr, "%s: %d frames (%s)%s, %dx%d, %d spp, %d tiles on %d nodes, %.2f s, %.2f Mrays/s\n",
			framePattern(j.out, j.frameRange), done, describeFrames(plan.todo), skipped, set.Width, set.Height, set.SPP, st.Tiles, len(st.Nodes), st.WallSeconds, st.RaysPerSecond/1e6)
	}
	if pv != nil && w.last != nil {
		j.finishPreview(ctx, pv, w.last, stderr)
	}
	return nil
}

// partialName is where a failed render's image goes: out.png -> out.partial.png.
func partialName(out string) string {
	ext := filepath.Ext(out)
	return strings.TrimSuffix(out, ext) + ".partial" + ext
}

func (j *renderJob) writeStats(st scheduler.Stats) error {
	if j.statsFile == "" {
		return nil
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(j.statsFile, append(data, '\n'), 0o644)
}

// watch feeds the controller with the nodes discovery finds, until the
// returned function is called.
func (j *renderJob) watch(ctl *scheduler.Controller) (stop func(), err error) {
	w, err := discovery.NewWatcher(discovery.WatcherConfig{
		MDNS:       j.mdns,
		Registries: j.registry,
		Static:     j.nodes,
		Token:      j.token,
		Logger:     j.log,
	})
	if err != nil {
		return nil, badInput(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx) })
	wg.Go(func() {
		for ev := range w.Events() {
			n := ev.Node
			switch ev.Kind {
			case discovery.Join:
				j.log.Debug().Str("node", n.Name).Str("addr", n.Addr).Stringer("source", n.Source).Msg("node found")
				ctl.AddNode(n)
			case discovery.Leave:
				// The connection, not discovery, decides: a node that
				// still answers keeps its tiles; a dead one is noticed by
				// its connection (pings) and its tiles are re-queued.
				j.log.Debug().Str("node", n.Name).Str("addr", n.Addr).Msg("node no longer announced")
			}
		}
	})
	return func() { cancel(); wg.Wait() }, nil
}

// eta estimates the time left from the rate so far.
func eta(p scheduler.Progress) time.Duration {
	if p.Done == 0 || p.Done >= p.Total {
		return 0
	}
	return time.Duration(float64(p.Elapsed) * float64(p.Total-p.Done) / float64(p.Done))
}

// startPreview serves the live preview page and prints its URL.
func (j *renderJob) startPreview(set render.Settings, stdout io.Writer) (*preview.Server, error) {
	pv, err := preview.New(preview.Config{Width: set.Width, Height: set.Height, Title: filepath.Base(j.scene), Logger: j.log})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", j.preview)
	if err != nil {
		return nil, badInput(fmt.Errorf("-preview %s: %w", j.preview, err))
	}
	go pv.Serve(l)
	fmt.Fprintf(stdout, "preview: %s\n", previewURL(l.Addr().(*net.TCPAddr)))
	return pv, nil
}

// previewURL is a URL a browser on this machine can open.
func previewURL(a *net.TCPAddr) string {
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.Port)) + "/"
}

// finishPreview hands the finished image to the page and keeps it up for
// -linger (or until ctx ends).
func (j *renderJob) finishPreview(ctx context.Context, pv *preview.Server, img *render.Image, stderr io.Writer) {
	var png bytes.Buffer
	if err := img.WritePNG(&png); err == nil {
		pv.Finish(png.Bytes())
	}
	if j.linger > 0 {
		if !j.quiet {
			fmt.Fprintf(stderr, "preview stays up for %v (Ctrl-C to quit)\n", j.linger)
		}
		select {
		case <-ctx.Done():
		case <-time.After(j.linger):
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pv.Shutdown(sctx)
}

// maxTileSide is the largest square tile the nodes' MaxTilePixels allows.
func maxTileSide() int {
	n := render.DefaultLimits.MaxTilePixels
	side := int(math.Sqrt(float64(n)))
	for side*side > n {
		side--
	}
	return side
}

// passWriter writes the image of every pass of a progressive still to
// its file as the passes come (atomically: Image.Save), off the
// controller's loop, the latest one only when the disk lags: so that a
// render killed at any moment leaves the last pass written whole.
type passWriter struct {
	name string
	next chan *render.Image // capacity 1: the newest pass not yet written
	done chan error
}

func newPassWriter(name string) *passWriter {
	w := &passWriter{name: name, next: make(chan *render.Image, 1), done: make(chan error, 1)}
	go func() {
		var first error
		for img := range w.next {
			if err := img.Save(w.name); err != nil && first == nil {
				first = err
			}
		}
		w.done <- first
	}()
	return w
}

// put hands the writer a pass; a pass not yet written gives way to it.
func (w *passWriter) put(ev scheduler.PassEvent) {
	for {
		select {
		case w.next <- ev.Image:
			return
		default:
		}
		select {
		case <-w.next:
		default:
		}
	}
}

// close waits for the last pass to be written; nil w does nothing.
func (w *passWriter) close() error {
	if w == nil {
		return nil
	}
	close(w.next)
	return <-w.done
}
