package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"

	"tessera/bench"
	"tessera/discovery"
)

func init() {
	register(command{name: "bench", summary: "measure kernel speed, scaling with nodes, protocol overhead, scheduling, discovery, what sealing costs and what an animation job saves", run: runBench})
}

const benchSynopsis = `bench [-json] [-quick] [-scene NAME|FILE] [-spawn N] [-workers K]
              [-registry host:port | -nodes h:p,h:p] [-runs R] [-only SECTIONS] [-fake N,N]
              [-width W] [-height H] [-spp N] [-triangles N] [-scenes DIR] [-token T] [-q]`

// runBench runs bench.Run and prints its report: a table, or one JSON object
// with -json. Progress goes to stderr.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg bench.Config
	var registry, nodes, only, fake string
	var asJSON, quiet bool
	fs := newFlagSet("bench", benchSynopsis, stderr)
	fs.BoolVar(&asJSON, "json", false, "write the report as one JSON object instead of tables")
	fs.BoolVar(&cfg.Quick, "quick", false, "small images and one run: the whole suite within a minute on 2 cores")
	fs.StringVar(&cfg.Scene, "scene", "cornell", "scene of the scaling and overhead renders: a `name` of -scenes or a JSON file")
	fs.StringVar(&cfg.SceneDir, "scenes", "", "`directory` of the named scenes (default testdata/scenes here, else beside the binary)")
	fs.IntVar(&cfg.Spawn, "spawn", 0, "node processes to start on 127.0.0.1 for the scaling section, `N` (default 2 without -registry or -nodes)")
	fs.IntVar(&cfg.Workers, "workers", 1, "workers of each spawned node, and of the in-process side of the overhead section")
	fs.StringVar(&registry, "registry", "", "measure scaling on the nodes these registries list, `host:port[,host:port]`")
	fs.StringVar(&nodes, "nodes", "", "measure scaling on these nodes, `host:port[,host:port]`")
	fs.IntVar(&cfg.Runs, "runs", 0, "repetitions of each section, `R`; medians are reported (default 3, 1 with -quick)")
	fs.StringVar(&only, "only", "", "run only these `sections`: kernel,scaling,overhead,scheduling,discovery,security,polite,mesh,animation (the default), watchers, scale (named only)")
	fs.StringVar(&fake, "fake", "", "node `counts` of the scale section's simulated fleets (default 10,100,300,1000)")
	fs.IntVar(&cfg.Workload.Render.Width, "width", 0, "width of the scaling and overhead images, and of the kernel's (0: the preset's)")
	fs.IntVar(&cfg.Workload.Render.Height, "height", 0, "height of the scaling and overhead images, and of the kernel's (0: the preset's)")
	fs.IntVar(&cfg.Workload.Render.SPP, "spp", 0, "samples per pixel of the scaling, overhead and kernel images (0: the preset's)")
	fs.IntVar(&cfg.Workload.MeshTriangles, "triangles", 0, "at least `N` triangles in the mesh section's generated mesh (0: the preset's, 1000000 or 50000 with -quick)")
	token := tokenFlag(fs)
	logFlag := logFlag(fs)
	fs.BoolVar(&quiet, "q", false, "no progress lines")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput(fmt.Errorf("unexpected argument %q (bench takes flags only; -scene names the scene)", fs.Arg(0)))
	}
	for _, v := range []struct {
		name string
		val  int
	}{{"spawn", cfg.Spawn}, {"runs", cfg.Runs}, {"width", cfg.Workload.Render.Width}, {"height", cfg.Workload.Render.Height}, {"spp", cfg.Workload.Render.SPP}, {"triangles", cfg.Workload.MeshTriangles}} {
		if v.val < 0 {
			return badInput(fmt.Errorf("-%s %d: expected 0 (the default) or more", v.name, v.val))
		}
	}
	if cfg.Workers < 1 {
		return badInput(fmt.Errorf("-workers %d: expected at least 1", cfg.Workers))
	}
	cfg.Workload.Kernel = cfg.Workload.Render
	cfg.Registry, cfg.Nodes = splitList(registry), splitList(nodes)
	for _, addr := range cfg.Nodes {
		if err := discovery.CheckAddr(addr); err != nil {
			return badInput(fmt.Errorf("-nodes %s: %w", addr, err))
		}
	}
	if cfg.Spawn > 0 && (len(cfg.Nodes) > 0 || len(cfg.Registry) > 0) {
		return badInput(errors.New("-spawn with -registry or -nodes: scaling is measured on spawned nodes or on real ones, not both"))
	}
	var err error
	if cfg.Fake, err = bench.ParseFake(fake); err != nil {
		return badInput(err)
	}
	if cfg.Only, err = bench.ParseSections(only); err != nil {
		return badInput(fmt.Errorf("-only: %w", err))
	}
	if cfg.Executable, err = os.Executable(); err != nil {
		return fmt.Errorf("cannot find this binary to start nodes with: %w", err)
	}
	cfg.Token, cfg.Version = *token, version
	if cfg.Logger, err = newLogger(stderr, *logFlag); err != nil {
		return err
	}
	if quiet {
		cfg.Logger = cfg.Logger.Level(zerolog.WarnLevel)
	}

	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, bench.ErrBadConfig) {
			return badInput(err)
		}
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}
