package bench

// The polite section: what a node rendering on this PC costs the person
// who uses it.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"tessera/discovery"
	"tessera/render"
	"tessera/scheduler"
)

// PoliteBeside are the rows of the polite section: the foreground program
// alone, then beside a node at each priority (tessera node's default,
// idle, first).
var PoliteBeside = []string{"nothing", "idle", "low", "normal"}

// Polite window lengths: how long the foreground program counts in each
// measurement.
const (
	politeWindow      = 3 * time.Second
	politeQuickWindow = time.Second
	politeStartLimit  = 30 * time.Second // for the node to be at work
)

// politeRender is what the node renders during a measurement: far more
// than a window's worth, cancelled when the window ends.
var politeRender = render.Settings{Width: 2048, Height: 2048, SPP: 64}

// polite measures a CPU-bound foreground program, one counting loop per
// CPU in this process, alone and beside one node process (in a session of
// its own, as a service or another terminal would be) rendering the main
// scene at each priority. The rows take turns within each run (the order
// rotates from run to run), so that a drift of the machine's load favours
// none; each ratio is taken against the run's own measurement alone.
func (b *bencher) polite(ctx context.Context, sc *scene) (*Polite, error) {
	window := politeWindow
	if b.s.Quick {
		window = politeQuickWindow
	}
	loops := runtime.NumCPU()
	set := sc.scene.Resolve(politeRender)
	per := make([][]politeSample, len(PoliteBeside))
	for run := 1; run <= b.s.Runs; run++ {
		samples := make([]politeSample, len(PoliteBeside))
		for k := range PoliteBeside {
			i := (k + run - 1) % len(PoliteBeside) // each run starts one row later
			var err error
			if samples[i], err = b.politeOnce(ctx, sc, set, PoliteBeside[i], loops, window); err != nil {
				return nil, err
			}
		}
		for i, s := range samples {
			s.ratio = s.loopsPerSecond / samples[0].loopsPerSecond
			per[i] = append(per[i], s)
			b.log.Info().Int("run", run).Str("beside", PoliteBeside[i]).Float64("Mloops/s", round(s.loopsPerSecond/1e6, 2)).
				Float64("ratio", round(s.ratio, 3)).Float64("nodeMrays/s", round(s.nodeRays/1e6, 3)).Float64("nodeCPUs", round(s.nodeCPU, 3)).Float64("load", s.load).Msg("polite")
		}
	}
	out := &Polite{Seconds: window.Seconds(), Loops: loops}
	for i, beside := range PoliteBeside {
		var lps, ratios, rays, cpus, loads []float64
		for _, s := range per[i] {
			lps = append(lps, s.loopsPerSecond)
			ratios = append(ratios, s.ratio)
			rays = append(rays, s.nodeRays)
			cpus = append(cpus, s.nodeCPU)
			loads = append(loads, s.load)
		}
		out.Rows = append(out.Rows, PoliteRow{Beside: beside, LoopsPerSecond: median(lps), Ratio: median(ratios),
			NodeRaysPerSecond: median(rays), NodeCPUs: median(cpus), LoadAverage: median(loads)})
	}
	return out, nil
}

// politeSample is one measurement.
type politeSample struct {
	loopsPerSecond float64
	nodeRays       float64 // per second, during the window (tiles finished in it, begun before it included)
	nodeCPU        float64 // the node process's CPU seconds per second during the window; -1 unknown
	ratio          float64 // against the run's measurement alone
	load           float64 // 1-minute load average after the window; -1 unknown
}

// politeOnce counts for window with nothing else of ours running, or
// beside a node of priority beside that renders the whole time.
func (b *bencher) politeOnce(ctx context.Context, sc *scene, set render.Settings, beside string, loops int, window time.Duration) (politeSample, error) {
	if beside == "nothing" {
		return politeSample{loopsPerSecond: spin(loops, window), load: loadAverage()}, nil // nodeCPU 0: no node
	}
	b.seq++
	p, err := b.s.spawn(ctx, spawnOpts{id: "bench-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(b.seq),
		workers: runtime.NumCPU(), token: b.s.Token, priority: beside, session: true})
	if err != nil {
		return politeSample{}, err
	}
	b.nodes.add(p)
	defer p.stop()

	rctx, cancel := context.WithCancel(ctx)
	var rays atomic.Uint64
	// The node is at work once the controller's session with it is live:
	// it has the scene and its first jobs. Whether it gets the CPU to
	// render them is the kernel's choice, which is what is measured (an
	// idle node on a machine busy with other work may not even finish
	// loading the scene).
	first := make(chan struct{})
	firstOnce := sync.OnceFunc(func() { close(first) })
	ctl, err := scheduler.NewController(scheduler.Config{
		Scene: sc.scene, Bundle: sc.bundle, Settings: set, Tile: 32, Token: b.s.Token,
		Logger: b.log.Level(zerolog.ErrorLevel),
		OnProgress: func(pr scheduler.Progress) {
			rays.Store(pr.Rays)
			if pr.Live > 0 {
				firstOnce()
			}
		},
	})
	if err != nil {
		cancel()
		return politeSample{}, fmt.Errorf("bench: %w", err)
	}
	ctl.AddNode(discovery.Node{ID: p.id, Name: p.id, Addr: p.addr, Source: discovery.SourceFlag})
	done := make(chan error, 1)
	go func() {
		_, err := ctl.Run(rctx)
		done <- err
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-first:
	case err := <-done:
		done <- err
		return politeSample{}, fmt.Errorf("bench: polite: the render on the %s node ended before it began: %v", beside, err)
	case <-time.After(politeStartLimit):
		return politeSample{}, fmt.Errorf("bench: polite: the %s node was not at work within %v", beside, politeStartLimit)
	case <-ctx.Done():
		return politeSample{}, context.Cause(ctx)
	}
	pid := p.cmd.Process.Pid
	cpu0, cpuOK := processCPU(pid)
	r0, t0 := rays.Load(), time.Now()
	lps := spin(loops, window)
	r1, t1 := rays.Load(), time.Now()
	cpu1, cpuOK1 := processCPU(pid)
	nodeCPU := -1.0
	if cpuOK && cpuOK1 {
		nodeCPU = (cpu1 - cpu0).Seconds() / t1.Sub(t0).Seconds()
	}
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) {
			return politeSample{}, fmt.Errorf("bench: polite: the render on the %s node ended within the window (%v): make politeRender bigger", beside, err)
		}
	default:
	}
	return politeSample{loopsPerSecond: lps, nodeRays: float64(r1-r0) / t1.Sub(t0).Seconds(), nodeCPU: nodeCPU, load: loadAverage()}, nil
}

// spin runs n CPU-bound loops (xorshift steps: integer work that no
// compiler removes) for d and returns their steps per second, summed.
func spin(n int, d time.Duration) float64 {
	var stop atomic.Bool
	counts := make([]struct {
		steps uint64
		_     [56]byte // a cache line each
	}, n)
	var sink atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range counts {
		wg.Go(func() {
			x, steps := uint64(i+1)*0x9e3779b97f4a7c15, uint64(0)
			for !stop.Load() {
				for range 1 << 12 {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
				}
				steps += 1 << 12
			}
			counts[i].steps = steps
			sink.Add(x)
		})
	}
	time.Sleep(d) // the measured program's own time: nothing to wait for but the clock
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var total uint64
	for _, c := range counts {
		total += c.steps
	}
	return float64(total) / elapsed
}

// loadAverage is the 1-minute load average, or -1 where unknown.
func loadAverage() float64 { return machine("").LoadAverage }
