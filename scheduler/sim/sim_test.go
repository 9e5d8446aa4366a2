package sim_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"tessera/discovery"
	"tessera/render"
	"tessera/scheduler"
	"tessera/scheduler/schedtest"
	"tessera/scheduler/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFleetRendersExactly: a controller on a fleet of simulated nodes (the
// real protocol, pixels from the cache) makes the image of a local render,
// bit for bit, and no node is excluded.
func TestFleetRendersExactly(t *testing.T) {
	for _, delay := range []time.Duration{0, 2 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			scene, bundle, err := render.LoadFile("../testdata/trivial.json", render.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			set := scene.Resolve(render.Settings{Width: 96, Height: 64, SPP: 2, MaxDepth: 2})
			f, err := sim.Start(sim.Config{Nodes: 8, Cores: 2, Delay: delay})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c, err := scheduler.NewController(scheduler.Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Local: 0})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range f.Nodes() {
				c.AddNode(discovery.Node{ID: n.ID, Addr: n.Addr, Source: discovery.SourceFlag})
			}
			res, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			schedtest.SameImage(t, res.Image, schedtest.LocalRender(t, scene, set))
			if res.Stats.Mismatches != 0 {
				t.Errorf("%d mismatches: the fleet's pixels differ from the controller's audits", res.Stats.Mismatches)
			}
			for _, n := range res.Stats.Nodes {
				if n.Excluded != "" {
					t.Errorf("node %s excluded: %s", n.ID, n.Excluded)
				}
			}
			// Instant nodes may finish the image before the last of them is
			// reached: every node the controller reached worked.
			if tot := f.Totals(); tot.Connections < 1 || tot.Connections > 8 || tot.Results < int64(res.Stats.Tiles) {
				t.Errorf("fleet totals %+v: want 1 to 8 connections and at least %d results", tot, res.Stats.Tiles)
			}

		})
	}
}
