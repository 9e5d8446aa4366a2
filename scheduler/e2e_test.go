package scheduler

import (
	"context"
	"testing"

	"tessera/render"
)

func TestTwoNodesMatchLocalRender(t *testing.T) {
	scene, bundle := loadTestScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 48, Height: 40, SPP: 2})
	want := localRender(t, scene, set)
	_, a := startNode(t, NodeConfig{ID: "node-a", Workers: 1})
	_, b := startNode(t, NodeConfig{ID: "node-b", Workers: 1})
	c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Local: 0})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(Candidate{ID: "node-a", Addr: a, Source: SourceFlag})
	c.AddNode(Candidate{ID: "node-b", Addr: b, Source: SourceRegistry})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	sameImage(t, res.Image, want)
	t.Logf("stats: %+v", res.Stats)
}
