package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"tessera/render"
	"tessera/scheduler/sim"
)

func init() {
	register(command{name: "sim", summary: "simulated nodes for benchmarks: N nodes in one process answering with the right pixels", run: runSim})
}

const simSynopsis = "sim [-nodes N] [-cores C] [-delay D] [-prefix S] [-scene FILE -width W -height H -spp N -depth N] [-token T] [-log text|json]"

// runSim serves a fleet of simulated nodes on 127.0.0.1 until ctx ends.
// It prints one line per node, "node ID listening on ADDR", then
// "sim: N nodes ready".
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", simSynopsis, stderr)
	nodes := fs.Int("nodes", 10, "how many simulated nodes, `N`, each on a loopback port of its own")
	cores := fs.Int("cores", 1, "workers of each node")
	delay := fs.Duration("delay", 0, "how long a worker takes per tile (0: it answers at once)")
	prefix := fs.String("prefix", "sim-", "node ids are this prefix and a number from 1")
	scene := fs.String("scene", "", "render this scene `file` at -width, -height, -spp, -depth before listening, so that its jobs are answered at once (otherwise each image is rendered at its first job)")
	width := fs.Int("width", 0, "with -scene: image width")
	height := fs.Int("height", 0, "with -scene: image height")
	spp := fs.Int("spp", 0, "with -scene: samples per pixel (0: the scene file's)")
	depth := fs.Int("depth", 0, "with -scene: the longest path in bounces (0: the scene file's)")
	token := tokenFlag(fs)
	logFormat := logFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput(fmt.Errorf("unexpected argument %q (sim takes flags only)", fs.Arg(0)))
	}
	switch {
	case *nodes < 1 || *nodes > 10000:
		return badInput(fmt.Errorf("-nodes %d: want 1 to 10000", *nodes))
	case *cores < 1 || *cores > 1024:
		return badInput(fmt.Errorf("-cores %d: want 1 to 1024", *cores))
	case *delay < 0:
		return badInput(fmt.Errorf("-delay %v: want 0 or more", *delay))
	case *scene == "" && (*width != 0 || *height != 0 || *spp != 0 || *depth != 0):
		return badInput(fmt.Errorf("-width, -height, -spp and -depth need -scene"))
	}
	log, err := newLogger(stderr, *logFormat)
	if err != nil {
		return err
	}
	cache := sim.NewCache()
	if *scene != "" {
		s, b, err := render.LoadFile(*scene, render.Limits{})
		if err != nil {
			return badInput(err)
		}
		set := s.Resolve(render.Settings{Width: *width, Height: *height, SPP: *spp, MaxDepth: *depth})
		start := time.Now()
		if err := cache.Prepare(b, set); err != nil {
			return err
		}
		log.Info().Str("scene", *scene).Int("width", set.Width).Int("height", set.Height).Dur("took", time.Since(start)).Msg("image rendered")
	}
	f, err := sim.Start(sim.Config{Nodes: *nodes, Cores: *cores, Delay: *delay, Prefix: *prefix, Token: *token, Pixels: cache, Logger: log})
	if err != nil {
		return err
	}
	defer f.Close()
	for _, n := range f.Nodes() {
		fmt.Fprintf(stdout, "node %s listening on %s\n", n.ID, n.Addr)
	}
	fmt.Fprintf(stdout, "sim: %d nodes ready\n", *nodes)
	<-ctx.Done()
	t := f.Totals()
	log.Info().Int64("connections", t.Connections).Int64("jobs", t.Jobs).Int64("results", t.Results).Int64("cancelled", t.Cancelled).Msg("sim stopped")
	return nil
}
