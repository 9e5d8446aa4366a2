package bench

import (
	"context"
	"fmt"

	"tessera/discovery"
	"tessera/render"
)

// scaling renders the main scene on 1..N nodes, Runs times, the node counts
// taking turns within each run (1..N, then N..1 in the next run, so that a
// drift of the machine's load favours none).
func (b *bencher) scaling(ctx context.Context, sc *scene) ([]Scaling, error) {
	var nodes []discovery.Node
	if b.s.Spawn > 0 {
		procs, err := b.spawnNodes(ctx, b.s.Spawn, b.s.Workers, "")
		if err != nil {
			return nil, err
		}
		defer stopProcs(procs)
		nodes = candidates(procs)
	} else {
		var err error
		if nodes, err = b.realNodes(ctx); err != nil {
			return nil, err
		}
	}
	set := sc.scene.Resolve(b.s.work.Render)
	if err := b.warmUp(ctx, sc, set, nodes); err != nil {
		return nil, err
	}
	type sample struct {
		out   outcome
		cores []int
	}
	per := make([][]sample, len(nodes)) // per[n-1]: the runs on n nodes
	for run := 1; run <= b.s.Runs; run++ {
		for _, n := range turns(len(nodes), run) {
			times := newTileTimes()
			out, err := job{scene: sc, set: set, tile: b.s.work.Tile, nodes: nodes[:n], times: times, token: b.s.Token, log: b.log}.run(ctx)
			if err != nil {
				return nil, err
			}
			_, _, cores := times.snapshot()
			per[n-1] = append(per[n-1], sample{out: out, cores: cores})
			if out.used() < n {
				b.log.Warn().Int("nodes", n).Int("nodesUsed", out.used()).Msg("not every node rendered tiles: the image is too small to measure scaling")
			}
			b.log.Info().Int("nodes", n).Int("run", run).Float64("seconds", round(out.wall.Seconds(), 3)).
				Int("nodesUsed", out.used()).Msg("scaling")
		}
	}
	out := make([]Scaling, len(nodes))
	for i := range nodes {
		var walls, speedups, rps, busy []float64
		used := len(nodes)
		workers := -1
		for run, sm := range per[i] {
			w := sm.out.wall.Seconds()
			walls = append(walls, w)
			speedups = append(speedups, per[0][run].out.wall.Seconds()/w)
			rps = append(rps, float64(sm.out.stats.Rays)/w)
			used = min(used, sm.out.used())
			if workers := sum(sm.cores); workers > 0 {
				busy = append(busy, sm.out.renderSeconds()/(float64(workers)*w))
			}
			for _, c := range sm.cores {
				switch workers {
				case -1:
					workers = c
				case c:
				default:
					workers = 0 // the nodes differ
				}
			}
		}
		sp := median(speedups)
		out[i] = Scaling{
			Nodes: i + 1, WorkersPerNode: max(workers, 0), WallSeconds: median(walls),
			Speedup: sp, Efficiency: sp / float64(i+1), RaysPerSecond: median(rps), NodesUsed: used, Busy: median(busy),
		}
	}
	return out, nil
}

// warmUp renders a small image on every node once, so that each has loaded
// the scene (it is cached by hash) and the measured runs are alike.
func (b *bencher) warmUp(ctx context.Context, sc *scene, set render.Settings, nodes []discovery.Node) error {
	small := set
	small.Width, small.Height, small.SPP = min(set.Width, 64), min(set.Height, 64), 1
	_, err := job{scene: sc, set: small, tile: min(b.s.work.Tile, 16), nodes: nodes, token: b.s.Token, log: b.log}.run(ctx)
	if err != nil {
		return fmt.Errorf("%w (warming up)", err)
	}
	return nil
}

// realNodes lists the nodes of Config.Nodes and of the registries, without
// duplicates, in that order.
func (b *bencher) realNodes(ctx context.Context) ([]discovery.Node, error) {
	var out []discovery.Node
	seen := map[string]bool{}
	for _, addr := range b.s.Nodes {
		if err := discovery.CheckAddr(addr); err != nil {
			return nil, fmt.Errorf("%w: node %s: %w", ErrBadConfig, addr, err)
		}
		if !seen[addr] {
			seen[addr] = true
			out = append(out, discovery.Node{Addr: addr, Source: discovery.SourceFlag})
		}
	}
	for _, reg := range b.s.Registry {
		client := &discovery.RegistryClient{Addr: reg, Token: b.s.Token}
		recs, err := client.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("bench: list the nodes of registry %s: %w", reg, err)
		}
		for _, r := range recs {
			if !seen[r.Addr] {
				seen[r.Addr] = true
				out = append(out, discovery.Node{ID: r.ID, Name: r.Name, Addr: r.Addr, Source: discovery.SourceRegistry})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bench: no node to measure scaling on: the registries list none")
	}
	b.log.Info().Int("nodes", len(out)).Msg("real nodes")
	return out, nil
}

// turns is the order of 1..n in the given run (from 1): ascending in odd
// runs, descending in even ones.
func turns(n, run int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
		if run%2 == 0 {
			out[i] = n - i
		}
	}
	return out
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
