package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"tessera/render"
)

// kernelTile is the tile side the kernel renders its image in.
const kernelTile = 32

// kernelSample is one kernel run of one scene.
type kernelSample struct {
	rays    uint64
	samples int64
	wall    time.Duration
	cpu     time.Duration // 0 when unknown
}

// renderKernel renders set's whole image tile by tile on the calling
// goroutine, locked to its thread so that the thread's CPU time is the
// render's.
func renderKernel(ctx context.Context, sc *render.Scene, set render.Settings) (kernelSample, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tiles := render.Tiles(set.Width, set.Height, kernelTile)
	dst := make([]float32, kernelTile*kernelTile*3)
	cpu0, cpuOK := threadCPU()
	start := time.Now()
	var rays uint64
	for _, r := range tiles {
		n, err := sc.RenderTile(ctx, set, r, dst[:r.Dx()*r.Dy()*3])
		if err != nil {
			return kernelSample{}, err
		}
		rays += n
	}
	ks := kernelSample{rays: rays, samples: int64(set.Width) * int64(set.Height) * int64(set.SPP), wall: time.Since(start)}
	if cpu1, ok := threadCPU(); ok && cpuOK {
		ks.cpu = cpu1 - cpu0
	}
	return ks, nil
}

// kernel measures each scene's speed on one core, Runs times, and reports
// medians. The scenes take turns within each run.
func (b *bencher) kernel(ctx context.Context, scenes []*scene) ([]Kernel, error) {
	per := make([][]kernelSample, len(scenes))
	for run := 1; run <= b.s.Runs; run++ {
		for i, sc := range scenes {
			set := sc.scene.Resolve(b.s.work.Kernel)
			ks, err := renderKernel(ctx, sc.scene, set)
			if err != nil {
				return nil, fmt.Errorf("bench: kernel %s: %w", sc.name, err)
			}
			per[i] = append(per[i], ks)
			b.log.Info().Str("scene", sc.name).Int("run", run).Float64("Mrays/s", round(mrays(ks.rays, ks.wall), 3)).
				Float64("Mrays/cpu-s", round(mrays(ks.rays, ks.cpu), 3)).Msg("kernel")
		}
	}
	out := make([]Kernel, len(scenes))
	for i, sc := range scenes {
		var rps, sps, rpc, rpsam []float64
		for _, ks := range per[i] {
			rps = append(rps, float64(ks.rays)/ks.wall.Seconds())
			sps = append(sps, float64(ks.samples)/ks.wall.Seconds())
			if ks.cpu > 0 {
				rpc = append(rpc, float64(ks.rays)/ks.cpu.Seconds())
			}
			rpsam = append(rpsam, float64(ks.rays)/float64(ks.samples))
		}
		out[i] = Kernel{
			Scene:                sc.name,
			RaysPerSecondPerCore: median(rps),
			SamplesPerSecond:     median(sps),
			RaysPerCPUSecond:     median(rpc),
			RaysPerSample:        median(rpsam),
		}
	}
	return out, nil
}

// mrays is millions of rays per second of d, or 0 when d is not positive.
func mrays(rays uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(rays) / d.Seconds() / 1e6
}
