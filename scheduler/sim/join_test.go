package sim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/render"
	"tessera/scheduler"
	"tessera/scheduler/schedtest"
	"tessera/scheduler/sim"
)

// TestLateJoinersGetWork: 40 simulated nodes at work (20 ms a tile), 40 more
// offered once a quarter of the tiles are in. The joiners render a fair
// share of what was left (the bench's scale section measures it with 100 +
// 100 nodes against the target of 40%; here the bar is lower, for a loaded
// machine), copies stay few, and the image is exact. Also with nodes that
// report renders of no time: windows follow their real pace, not what they
// say, and do not hoard the queue.
func TestLateJoinersGetWork(t *testing.T) {
	scene, bundle, err := render.LoadFile("../testdata/trivial.json", render.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	set := scene.Resolve(render.Settings{Width: 4 * 50, Height: 4 * 40, SPP: 1, MaxDepth: 1})
	cache := sim.NewCache()
	if err := cache.Prepare(bundle, set); err != nil {
		t.Fatal(err)
	}
	for _, zero := range []bool{false, true} {
		name := "honest"
		if zero {
			name = "zero-nanos"
		}
		t.Run(name, func(t *testing.T) {
			cfg := sim.Config{Nodes: 40, Delay: 20 * time.Millisecond, Pixels: cache, ZeroNanos: zero}
			cfg.Prefix = "base-"
			base, err := sim.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer base.Close()
			cfg.Prefix = "late-"
			late, err := sim.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer late.Close()
			var ctl *scheduler.Controller
			remaining := 0
			ctl, err = scheduler.NewController(scheduler.Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 4, Local: 0,
				OnProgress: func(p scheduler.Progress) {
					if remaining == 0 && 4*p.Done >= p.Total {
						remaining = p.Total - p.Done
						for _, n := range late.Nodes() {
							ctl.AddNode(discovery.Node{ID: n.ID, Addr: n.Addr, Source: discovery.SourceFlag})
						}
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range base.Nodes() {
				ctl.AddNode(discovery.Node{ID: n.ID, Addr: n.Addr, Source: discovery.SourceFlag})
			}
			res, err := ctl.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			schedtest.SameImage(t, res.Image, schedtest.LocalRender(t, scene, set))
			lateTiles, lateUsed := 0, 0
			for _, n := range res.Stats.Nodes {
				if n.Excluded != "" || n.Suspensions > 0 {
					t.Errorf("healthy node %s set aside: %+v", n.ID, n)
				}
				if strings.HasPrefix(n.ID, "late-") {
					lateTiles += n.Tiles
					if n.Tiles > 0 {
						lateUsed++
					}
				}
			}
			share := float64(lateTiles) / float64(remaining)
			t.Logf("%d tiles, %d left when the joiners came; they rendered %d (%.0f%%), %d of them some; %d copies, %d taken back",
				res.Stats.Tiles, remaining, lateTiles, 100*share, lateUsed, res.Stats.Duplicates, res.Stats.TakenBack)
			if share < 0.3 || lateUsed < 30 {
				t.Errorf("the joiners rendered %.0f%% of the tiles left, %d of them some: want a fair share (about half), most of them", 100*share, lateUsed)
			}
			if res.Stats.Duplicates > res.Stats.Tiles/10 {
				t.Errorf("%d copies of %d tiles: windows hoard tiles that others then copy", res.Stats.Duplicates, res.Stats.Tiles)
			}
		})
	}
}
