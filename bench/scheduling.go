package bench

import (
	"context"

	"tessera/render"
)

// scheduling moves the tiles of a trivial image through one loopback node
// process, Runs times, and reports tiles per second.
func (b *bencher) scheduling(ctx context.Context) (*Scheduling, error) {
	sc, err := trivialScene()
	if err != nil {
		return nil, err
	}
	procs, err := b.spawnNodes(ctx, 1, b.s.Workers, "")
	if err != nil {
		return nil, err
	}
	defer stopProcs(procs)
	nodes := candidates(procs)
	side := b.s.work.SchedSide
	set := sc.scene.Resolve(render.Settings{Width: side, Height: side, SPP: 1, MaxDepth: 1})
	if err := b.warmUp(ctx, sc, set, nodes); err != nil {
		return nil, err
	}
	var rates []float64
	tiles := 0
	for run := 1; run <= b.s.Runs; run++ {
		out, err := job{scene: sc, set: set, tile: b.s.work.SchedTile, nodes: nodes, token: b.s.Token, log: b.log}.run(ctx)
		if err != nil {
			return nil, err
		}
		tiles = out.stats.Tiles
		rate := float64(tiles) / out.wall.Seconds()
		rates = append(rates, rate)
		b.log.Info().Int("run", run).Int("tiles", tiles).Float64("seconds", round(out.wall.Seconds(), 3)).Float64("tiles/s", round(rate, 0)).Msg("scheduling")
	}
	return &Scheduling{TilesPerSecond: median(rates), Tiles: tiles, Workers: b.s.Workers}, nil
}
