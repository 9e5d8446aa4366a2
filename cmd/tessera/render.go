package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"tessera/render"
)

func init() {
	register(command{
		name:    "render",
		summary: "render a scene to an image (for now with this machine's cores)",
		run:     runRender,
	})
}

// renderFlags are the flags of tessera render that exist so far. The
// distributed controller adds -registry, -nodes, -discover, -no-mdns,
// -token, -preview and -log.
type renderFlags struct {
	out       string
	width     int
	height    int
	spp       int
	tile      int
	local     string
	statsFile string
	quiet     bool
	scene     string
}

// renderStats is the JSON written by -stats (field names from SPEC).
type renderStats struct {
	WallSeconds   float64     `json:"wallSeconds"`
	Width         int         `json:"width"`
	Height        int         `json:"height"`
	SPP           int         `json:"spp"`
	Tiles         int         `json:"tiles"`
	Samples       uint64      `json:"samples"`
	Rays          uint64      `json:"rays"`
	RaysPerSecond float64     `json:"raysPerSecond"`
	Retries       int         `json:"retries"`
	Duplicates    int         `json:"duplicates"`
	BytesSent     int64       `json:"bytesSent"`
	BytesReceived int64       `json:"bytesReceived"`
	Nodes         []nodeStats `json:"nodes"`
}

type nodeStats struct {
	ID      string  `json:"id"`
	Name    string  `json:"name"`
	Addr    string  `json:"addr"`
	Source  string  `json:"source"` // mdns, registry, flag or local
	Tiles   int     `json:"tiles"`
	Rays    uint64  `json:"rays"`
	Seconds float64 `json:"seconds"`
}

func parseRenderFlags(args []string, stderr io.Writer) (*renderFlags, error) {
	f := &renderFlags{}
	fs := newFlagSet("render", "render [-o out.png|out.pfm] [-width W] [-height H] [-spp N] [-tile 32] [-local auto|N] [-stats FILE] [-q] SCENE.json", stderr)
	fs.StringVar(&f.out, "o", "out.png", "output image: .png (8-bit sRGB) or .pfm (linear float RGB)")
	fs.IntVar(&f.width, "width", 0, "image width in pixels (0: the scene file's)")
	fs.IntVar(&f.height, "height", 0, "image height in pixels (0: the scene file's)")
	fs.IntVar(&f.spp, "spp", 0, "samples per pixel (0: the scene file's)")
	fs.IntVar(&f.tile, "tile", 32, "tile side in pixels")
	fs.StringVar(&f.local, "local", "auto", "workers of the in-process node: auto (all cores) or N")
	fs.StringVar(&f.statsFile, "stats", "", "write statistics as JSON to this file")
	fs.BoolVar(&f.quiet, "q", false, "no progress bar")
	// Flags may also follow the scene file (tessera render scene.json -o x.png).
	var scenes []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		scenes = append(scenes, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(scenes) != 1 {
		return nil, badInput(fmt.Errorf("expected one scene file, got %d (%s) (see tessera render -h)", len(scenes), strings.Join(scenes, " ")))
	}
	f.scene = scenes[0]
	switch ext := strings.ToLower(filepath.Ext(f.out)); ext {
	case ".png", ".pfm":
	default:
		return nil, badInput(fmt.Errorf("-o %s: expected a file name ending in .png or .pfm", f.out))
	}
	for _, v := range []struct {
		name string
		val  int
	}{{"width", f.width}, {"height", f.height}, {"spp", f.spp}} {
		if v.val < 0 {
			return nil, badInput(fmt.Errorf("-%s %d: expected 0 (the scene's value) or more", v.name, v.val))
		}
	}
	if f.tile < 1 || f.tile > 4096 {
		return nil, badInput(fmt.Errorf("-tile %d: expected 1 to 4096 pixels", f.tile))
	}
	return f, nil
}

// localWorkers resolves -local: auto means every core.
func localWorkers(s string) (int, error) {
	if s == "auto" {
		return runtime.NumCPU(), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badInput(fmt.Errorf("-local %q: expected auto or a number of workers >= 0", s))
	}
	return n, nil
}

func runRender(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseRenderFlags(args, stderr)
	if err != nil {
		return err
	}
	workers, err := localWorkers(f.local)
	if err != nil {
		return err
	}
	scene, _, err := render.LoadFile(f.scene, render.Limits{})
	if err != nil {
		var le *render.LoadError
		if errors.As(err, &le) {
			return badInput(err)
		}
		return err
	}
	set := scene.Resolve(render.Settings{Width: f.width, Height: f.height, SPP: f.spp})
	if workers == 0 {
		return errors.New("-local 0 and no remote nodes (not supported yet): nothing can render")
	}

	total := len(render.Tiles(set.Width, set.Height, f.tile))
	bar := newTileBar(stderr, total, f.quiet)
	start := time.Now()
	img, st, err := render.Render(ctx, scene, set, render.Options{
		Workers: workers,
		Tile:    f.tile,
		OnTile:  func(_ image.Rectangle, rays uint64) { bar.tile(rays) },
	})
	wall := time.Since(start).Seconds()
	bar.finish()
	if errors.Is(err, render.ErrBadSettings) {
		return badInput(err)
	}
	if err != nil && img != nil && ctx.Err() != nil {
		if serr := img.Save(f.out); serr == nil {
			return fmt.Errorf("interrupted after %d of %d tiles: partial image written to %s", st.Tiles, total, f.out)
		}
	}
	if err != nil {
		return err
	}
	if err := img.Save(f.out); err != nil {
		return err
	}
	if f.statsFile != "" {
		host, _ := os.Hostname()
		rs := renderStats{
			WallSeconds: wall,
			Width:       set.Width, Height: set.Height, SPP: set.SPP,
			Tiles:   st.Tiles,
			Samples: uint64(set.Width) * uint64(set.Height) * uint64(set.SPP),
			Rays:    st.Rays,
			Nodes: []nodeStats{{
				ID: "local", Name: host, Source: "local",
				Tiles: st.Tiles, Rays: st.Rays, Seconds: wall,
			}},
		}
		if wall > 0 {
			rs.RaysPerSecond = float64(st.Rays) / wall
		}
		data, err := json.MarshalIndent(rs, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.statsFile, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	if !f.quiet {
		fmt.Fprintf(stderr, "%s: %dx%d, %d spp, %.1f s, %.2f Mrays/s\n", f.out, set.Width, set.Height, set.SPP, wall, float64(st.Rays)/wall/1e6)
	}
	return nil
}
