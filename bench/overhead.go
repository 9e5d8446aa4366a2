package bench

import "context"

// overhead renders the main scene with Workers in-process workers and on one
// loopback node process with as many, back to back, Runs times.
func (b *bencher) overhead(ctx context.Context, sc *scene) (*Overhead, error) {
	procs, err := b.spawnNodes(ctx, 1, b.s.Workers, "")
	if err != nil {
		return nil, err
	}
	defer stopProcs(procs)
	nodes := candidates(procs)
	set := sc.scene.Resolve(b.s.work.Render)
	if err := b.warmUp(ctx, sc, set, nodes); err != nil {
		return nil, err
	}
	times := newTileTimes()
	pixels := float64(set.Width) * float64(set.Height)
	var ins, loops, ratios, bpp, inRender, loopRender, equal []float64
	for run := 1; run <= b.s.Runs; run++ {
		var in, loop outcome
		for _, turn := range turns(2, run) { // in-process first in odd runs, loopback first in even ones
			var err error
			if turn == 1 {
				in, err = job{scene: sc, set: set, tile: b.s.work.Tile, local: b.s.Workers, log: b.log}.run(ctx)
			} else {
				loop, err = job{scene: sc, set: set, tile: b.s.work.Tile, nodes: nodes, times: times, token: b.s.Token, log: b.log}.run(ctx)
			}
			if err != nil {
				return nil, err
			}
		}
		ins = append(ins, in.wall.Seconds())
		loops = append(loops, loop.wall.Seconds())
		ratios = append(ratios, in.wall.Seconds()/loop.wall.Seconds())
		inRender = append(inRender, in.renderSeconds())
		loopRender = append(loopRender, loop.renderSeconds())
		equal = append(equal, (loop.renderSeconds()/loop.wall.Seconds())/(in.renderSeconds()/in.wall.Seconds()))
		bytes := float64(loop.stats.BytesSent + loop.stats.BytesReceived)
		bpp = append(bpp, bytes/pixels)
		b.log.Info().Int("run", run).Float64("inProcess", round(in.wall.Seconds(), 3)).Float64("loopback", round(loop.wall.Seconds(), 3)).
			Float64("ratio", round(ratios[len(ratios)-1], 3)).
			Float64("inProcessRender", round(in.renderSeconds(), 3)).Float64("loopbackRender", round(loop.renderSeconds(), 3)).Float64("bytes/pixel", round(bytes/pixels, 2)).Msg("overhead")
	}
	trips, renders, _ := times.snapshot()
	return &Overhead{
		Workers:          b.s.Workers,
		InProcessSeconds: median(ins),
		LoopbackSeconds:  median(loops),
		Ratio:            median(ratios),
		BytesPerPixel:    median(bpp),
		TileLatencyP50Ms: ms(percentile(trips, 50)),
		TileLatencyP99Ms: ms(percentile(trips, 99)),
		TileRenderP50Ms:  ms(percentile(renders, 50)),
		SceneBytes:       sc.bytes(),

		InProcessRenderSeconds: median(inRender),
		LoopbackRenderSeconds:  median(loopRender),
		RatioAtEqualSpeed:      median(equal),
	}, nil
}
