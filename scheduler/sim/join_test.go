package sim_test

import (
	"context"
	"os"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/render"
	"tessera/scheduler"
	"tessera/scheduler/sim"
)

func TestJoinProbe(t *testing.T) {
	if os.Getenv("JOINPROBE") == "" {
		t.Skip()
	}
	scene, bundle, err := render.LoadFile("../testdata/trivial.json", render.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	set := scene.Resolve(render.Settings{Width: 4 * 70, Height: 4 * 70, SPP: 1, MaxDepth: 1})
	cache := sim.NewCache()
	if err := cache.Prepare(bundle, set); err != nil {
		t.Fatal(err)
	}
	zero := os.Getenv("JOINPROBE") == "zero"
	a, _ := sim.Start(sim.Config{Nodes: 50, Delay: 50 * time.Millisecond, Pixels: cache, ZeroNanos: zero, Prefix: "a-"})
	b, _ := sim.Start(sim.Config{Nodes: 50, Delay: 50 * time.Millisecond, Pixels: cache, ZeroNanos: zero, Prefix: "b-"})
	defer a.Close()
	defer b.Close()
	var ctl *scheduler.Controller
	joined, remaining := false, 0
	ctl, _ = scheduler.NewController(scheduler.Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 4, Local: 0,
		OnProgress: func(p scheduler.Progress) {
			if !joined && p.Done >= p.Total/4 {
				joined, remaining = true, p.Total-p.Done
				for _, n := range b.Nodes() {
					ctl.AddNode(discovery.Node{ID: n.ID, Addr: n.Addr, Source: discovery.SourceFlag})
				}
			}
		}})
	for _, n := range a.Nodes() {
		ctl.AddNode(discovery.Node{ID: n.ID, Addr: n.Addr, Source: discovery.SourceFlag})
	}
	start := time.Now()
	res, err := ctl.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	late := 0
	for _, n := range res.Stats.Nodes {
		if n.ID[0] == 'b' {
			late += n.Tiles
		}
	}
	t.Logf("zero=%v wall %v tiles %d remaining %d late %d (%.0f%%) dups %d", zero, time.Since(start), res.Stats.Tiles, remaining, late, 100*float64(late)/float64(remaining), res.Stats.Duplicates)
}
