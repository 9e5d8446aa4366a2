package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// bencher is one Run.
type bencher struct {
	s     *settings
	log   zerolog.Logger
	nodes nodeSet // every process started, stopped when Run returns
	seq   int     // numbers the spawned nodes' ids
}

// Run measures the suite cfg describes and returns its report. Bad
// configuration (wrapping ErrBadConfig, or a scene that does not load) fails
// before anything is measured or started. Cancelling ctx stops the suite;
// every node process it started has stopped when Run returns.
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	s, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	b := &bencher{s: s, log: cfg.Logger}
	kernelScenes, main, bunny, err := b.loadScenes()
	if err != nil {
		return nil, err
	}
	defer func() {
		if stopErr := b.nodes.stopAll(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	start := time.Now()
	rep = &Report{Machine: machine(cfg.Version), Method: b.method(main)}
	steps := []struct {
		sec Section
		run func() error
	}{
		{SectionKernel, func() (err error) { rep.Kernel, err = b.kernel(ctx, kernelScenes); return err }},
		{SectionScaling, func() (err error) { rep.Scaling, err = b.scaling(ctx, main); return err }},
		{SectionOverhead, func() (err error) { rep.Overhead, err = b.overhead(ctx, main); return err }},
		{SectionScheduling, func() (err error) { rep.Scheduling, err = b.scheduling(ctx); return err }},
		{SectionDiscovery, func() (err error) { rep.Discovery, err = b.discovery(ctx); return err }},
		{SectionSecurity, func() (err error) { rep.Security, err = b.security(ctx, main); return err }},
		{SectionPolite, func() (err error) { rep.Polite, err = b.polite(ctx, main); return err }},
		{SectionMesh, func() (err error) { rep.Mesh, err = b.mesh(ctx, bunny); return err }},
		{SectionAnimation, func() (err error) { rep.Animation, err = b.animation(ctx); return err }},
		{SectionWatchers, func() (err error) { rep.Watchers, err = b.watchers(ctx); return err }},
		{SectionScale, func() (err error) { rep.Scale, err = b.scale(ctx); return err }},
	}
	for _, st := range steps {
		if !s.sections[st.sec] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bench: interrupted before %s: %w", st.sec, context.Cause(ctx))
		}
		b.log.Info().Str("section", string(st.sec)).Int("runs", s.Runs).Msg("measuring")
		if err := st.run(); err != nil {
			return nil, err
		}
	}
	if rep.Kernel == nil {
		rep.Kernel = []Kernel{}
	}
	if rep.Scaling == nil {
		rep.Scaling = []Scaling{}
	}
	rep.Method.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// loadScenes loads the kernel's scenes (the standard three, plus the main
// scene when it is another), the main scene of scaling and overhead, and the
// bunny the mesh section compares with.
func (b *bencher) loadScenes() (kernel []*scene, main, bunny *scene, err error) {
	mainPath, err := b.s.scenePath(b.s.Scene)
	if err != nil {
		return nil, nil, nil, err
	}
	byPath := map[string]*scene{}
	load := func(path string) (*scene, error) {
		if sc := byPath[path]; sc != nil {
			return sc, nil
		}
		sc, err := loadScene(path)
		if err != nil {
			return nil, err
		}
		byPath[path] = sc
		return sc, nil
	}
	if b.s.sections[SectionKernel] {
		for _, name := range KernelScenes {
			path, err := b.s.scenePath(name)
			if err != nil {
				return nil, nil, nil, err
			}
			sc, err := load(path)
			if err != nil {
				return nil, nil, nil, err
			}
			kernel = append(kernel, sc)
		}
	}
	if main, err = load(mainPath); err != nil {
		return nil, nil, nil, err
	}
	if b.s.sections[SectionKernel] && !containsScene(kernel, main) {
		kernel = append(kernel, main)
	}
	if b.s.sections[SectionMesh] {
		path, err := b.s.scenePath("bunny")
		if err != nil {
			return nil, nil, nil, err
		}
		if bunny, err = load(path); err != nil {
			return nil, nil, nil, err
		}
	}
	return kernel, main, bunny, nil
}

func containsScene(list []*scene, sc *scene) bool {
	for _, x := range list {
		if x == sc {
			return true
		}
	}
	return false
}

// spawnNodes starts n node processes with the given workers (and registry),
// with the room's token,
// stopped when Run returns.
func (b *bencher) spawnNodes(ctx context.Context, n, workers int, registry string) ([]*nodeProc, error) {
	return b.spawnNodesToken(ctx, n, workers, registry, b.s.Token)
}

// spawnNodesToken is spawnNodes with another token ("": none).
func (b *bencher) spawnNodesToken(ctx context.Context, n, workers int, registry, token string) ([]*nodeProc, error) {
	var procs []*nodeProc
	for range n {
		b.seq++
		p, err := b.s.spawn(ctx, spawnOpts{id: "bench-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(b.seq), workers: workers, registry: registry, token: token})
		if err != nil {
			return nil, err
		}
		b.nodes.add(p)
		procs = append(procs, p)
		b.log.Info().Str("node", p.id).Str("addr", p.addr).Int("workers", workers).Msg("node started")
	}
	return procs, nil
}

// stopProcs stops spawned nodes now, at the end of their section. (Run's
// stopAll stops them again, which only waits: stop may be called twice.)
func stopProcs(procs []*nodeProc) error {
	var errs []error
	for _, p := range procs {
		errs = append(errs, p.stop())
	}
	return errors.Join(errs...)
}

// method describes the suite for the report.
func (b *bencher) method(main *scene) Method {
	w := b.s.work
	nodes := "spawned"
	if b.s.Spawn == 0 {
		nodes = "real"
	}
	return Method{
		Runs: b.s.Runs, Quick: b.s.Quick, Scene: main.name, Workers: b.s.Workers, Nodes: nodes,
		Work: WorkSizes{
			Kernel:     fmt.Sprintf("%dx%dx%d", w.Kernel.Width, w.Kernel.Height, w.Kernel.SPP),
			Render:     fmt.Sprintf("%dx%dx%d", w.Render.Width, w.Render.Height, w.Render.SPP),
			Tile:       w.Tile,
			Scheduling: fmt.Sprintf("%dx%dx1", w.SchedSide, w.SchedSide),
			SchedTile:  w.SchedTile,
		},
	}
}

// machine describes this machine.
func machine(version string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Version: version, GoVersion: runtime.Version(), LoadAverage: -1}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(data)); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				m.LoadAverage = v
			}
		}
	}
	return m
}
