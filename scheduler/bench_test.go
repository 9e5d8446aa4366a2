package scheduler

import (
	"context"
	"fmt"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/node"
	"tessera/render"
)

// benchRender renders scene once per iteration through the given nodes (and
// local in-process workers), reporting tiles/s and Mrays/s.
func benchRender(b *testing.B, scene *render.Scene, bundle *render.Bundle, set render.Settings, tile, local int, addrs []string) {
	b.Helper()
	b.ReportAllocs()
	var tiles int
	var rays uint64
	var elapsed time.Duration
	for b.Loop() {
		c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: tile, Local: local})
		if err != nil {
			b.Fatal(err)
		}
		for i, a := range addrs {
			c.AddNode(discovery.Node{ID: fmt.Sprintf("bench-%d", i), Addr: a})
		}
		start := time.Now()
		res, err := c.Run(context.Background())
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		tiles += res.Stats.Tiles
		rays += res.Stats.Rays
	}
	b.ReportMetric(float64(tiles)/elapsed.Seconds(), "tiles/s")
	b.ReportMetric(float64(rays)/elapsed.Seconds()/1e6, "Mrays/s")
}

// BenchmarkTilesPerSecond moves tiny tiles of a trivial scene through the
// whole path: controller, frames, a real Node on loopback, results. It
// measures scheduling and protocol overhead (issue 6 "scheduling": at least
// 20,000 tiles/s on a 2-core machine).
func BenchmarkTilesPerSecond(b *testing.B) {
	scene, bundle, err := render.LoadFile("testdata/trivial.json", render.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	set := scene.Resolve(render.Settings{Width: 256, Height: 256, SPP: 1, MaxDepth: 1})
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			_, addr := startNode(b, node.Config{ID: "bench-0", Workers: workers})
			benchRender(b, scene, bundle, set, 4, 0, []string{addr})
		})
	}
}

// BenchmarkLoopbackVsInProcess renders the Cornell box with one worker,
// in-process and on a Node over loopback: the ratio of their Mrays/s is the
// cost of distribution (issue 5: loopback within 5% of in-process).
func BenchmarkLoopbackVsInProcess(b *testing.B) {
	scene, bundle, err := render.LoadFile("../testdata/scenes/cornell.json", render.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	set := scene.Resolve(render.Settings{Width: 256, Height: 256, SPP: 4})
	b.Run("inprocess", func(b *testing.B) {
		benchRender(b, scene, bundle, set, 32, 1, nil)
	})
	b.Run("loopback", func(b *testing.B) {
		_, addr := startNode(b, node.Config{ID: "bench-0", Workers: 1})
		benchRender(b, scene, bundle, set, 32, 0, []string{addr})
	})
}

// BenchmarkLoopbackRatio alternates the two renders of
// BenchmarkLoopbackVsInProcess within each iteration, so that the noise of a
// shared machine falls on both alike, and reports in-process time over
// loopback time: 1 means distribution costs nothing, the target is >= 0.95.
func BenchmarkLoopbackRatio(b *testing.B) {
	scene, bundle, err := render.LoadFile("../testdata/scenes/cornell.json", render.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	set := scene.Resolve(render.Settings{Width: 256, Height: 256, SPP: 4})
	_, addr := startNode(b, node.Config{ID: "bench-0", Workers: 1})
	once := func(local int, addrs ...string) time.Duration {
		c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 32, Local: local})
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range addrs {
			c.AddNode(discovery.Node{ID: "bench-0", Addr: a})
		}
		start := time.Now()
		if _, err := c.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	b.ReportAllocs()
	var in, loop time.Duration
	for b.Loop() {
		in += once(1)
		loop += once(0, addr)
	}
	b.ReportMetric(in.Seconds()/loop.Seconds(), "ratio")
}

// BenchmarkTwoNodesSpeedup alternates a render on one in-process worker and
// one on two one-worker Nodes over loopback, and reports the speedup of the
// second (issue 5: at least 1.8 on a 2-core machine).
func BenchmarkTwoNodesSpeedup(b *testing.B) {
	scene, bundle, err := render.LoadFile("../testdata/scenes/cornell.json", render.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	set := scene.Resolve(render.Settings{Width: 256, Height: 256, SPP: 4})
	_, a := startNode(b, node.Config{ID: "bench-a", Workers: 1})
	_, c2 := startNode(b, node.Config{ID: "bench-b", Workers: 1})
	once := func(local int, addrs ...string) time.Duration {
		c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 32, Local: local})
		if err != nil {
			b.Fatal(err)
		}
		for i, addr := range addrs {
			c.AddNode(discovery.Node{ID: fmt.Sprintf("bench-%d", i), Addr: addr})
		}
		start := time.Now()
		if _, err := c.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	b.ReportAllocs()
	var one, two time.Duration
	for b.Loop() {
		one += once(1)
		two += once(0, a, c2)
	}
	b.ReportMetric(one.Seconds()/two.Seconds(), "speedup")
}
