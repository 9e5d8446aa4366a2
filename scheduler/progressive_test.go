package scheduler

import (
	"context"
	"errors"
	"image"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/node"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

// progressiveRun renders cfg on nodes (none: in-process with two workers)
// and returns the result and the passes OnPass saw.
func progressiveRun(t *testing.T, cfg Config, nodes ...string) (*Result, []PassEvent) {
	t.Helper()
	cfg.Progressive = true
	if len(nodes) == 0 {
		cfg.Local = 2
	}
	var passes []PassEvent
	cfg.OnPass = func(ev PassEvent) { passes = append(passes, ev) }
	c, err := NewController(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range nodes {
		c.AddNode(discovery.Node{Addr: a, Source: discovery.SourceFlag})
	}
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, passes
}

// An adaptive render on two nodes is byte for byte the same adaptive
// render in-process: the same pixels, the same samples per pixel; every
// pass leaves a whole image, and converged tiles are not sent again.
func TestProgressiveAdaptiveTwoNodesMatchLocal(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell-glass.json")
	set := scene.Resolve(render.Settings{Width: 32, Height: 24, SPP: 128, MaxDepth: 4})
	cfg := Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Noise: 0.1, AuditSeed: 7}
	want, wantPasses := progressiveRun(t, cfg)
	_, a := startNode(t, node.Config{ID: "node-a", Workers: 1})
	_, b := startNode(t, node.Config{ID: "node-b", Workers: 1})
	got, passes := progressiveRun(t, cfg, a, b)
	schedtest.SameImage(t, got.Image, want.Image)
	schedtest.SameImage(t, got.Samples, want.Samples)
	st := got.Stats
	t.Logf("samples per pixel %d/%d/%d, %d passes, %d tiles", st.SPPMin, st.SPPMedian, st.SPPMax, len(st.Passes), st.Tiles)
	if st.SPPMin >= st.SPPMax || st.SPPMin < render.AdaptiveMinSPP(0.1) {
		t.Errorf("samples per pixel %d/%d/%d: want some pixels stopped at %d or later, others going on", st.SPPMin, st.SPPMedian, st.SPPMax, render.AdaptiveMinSPP(0.1))
	}
	if len(passes) != len(wantPasses) || len(passes) != len(st.Passes) {
		t.Fatalf("%d passes on nodes, %d in-process, %d in the stats", len(passes), len(wantPasses), len(st.Passes))
	}
	grid := len(tileGrid(set.Width, set.Height, 8))
	sent := 0
	for k, p := range passes {
		if p.Pass != k+1 || p.Image == nil || p.Pixels != wantPasses[k].Pixels || p.Tiles != wantPasses[k].Tiles {
			t.Errorf("pass %d: %+v, in-process %+v", k+1, p, wantPasses[k])
		}
		schedtest.SameImage(t, p.Image, wantPasses[k].Image)
		sent += p.Tiles
	}
	if last := passes[len(passes)-1]; !last.Last || last.SPP != st.SPPMax {
		t.Errorf("last pass %+v: want Last, ending at the most samples, %d", last, st.SPPMax)
	}
	if sent != st.Tiles || sent >= grid*len(render.PassEnds(set.SPP)) {
		t.Errorf("%d tiles sent, stats say %d; a fixed render sends %d", sent, st.Tiles, grid*len(render.PassEnds(set.SPP)))
	}
	// The samples are what the film says: their sum is the stats'.
	var sum int64
	for i := 0; i < len(got.Samples.Pix); i += 3 {
		sum += int64(got.Samples.Pix[i])
	}
	if sum != st.Samples {
		t.Errorf("the samples image sums to %d, the stats say %d", sum, st.Samples)
	}
}

// A progressive render without a noise target, stopped after k passes by
// its budget or not at all, is byte for byte the fixed render of the
// samples it reached, on nodes.
func TestProgressiveEqualsFixedRender(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell-glass.json")
	_, a := startNode(t, node.Config{ID: "node-a", Workers: 1})
	_, b := startNode(t, node.Config{ID: "node-b", Workers: 1})
	for _, tt := range []struct {
		spp    int
		budget time.Duration
	}{{24, 0}, {4096, time.Millisecond}, {4096, 300 * time.Millisecond}} {
		set := scene.Resolve(render.Settings{Width: 24, Height: 20, SPP: tt.spp, MaxDepth: 4})
		res, passes := progressiveRun(t, Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Budget: tt.budget}, a, b)
		st := res.Stats
		t.Logf("spp %d, budget %v: %d passes, the last ending at %d", tt.spp, tt.budget, len(passes), passes[len(passes)-1].SPP)
		if st.SPPMin != st.SPPMax || st.SPPMax != passes[len(passes)-1].SPP {
			t.Fatalf("spp %d: samples %d/%d/%d after %d passes: want every pixel at the last pass's", tt.spp, st.SPPMin, st.SPPMedian, st.SPPMax, len(passes))
		}
		if tt.budget == 0 && st.SPPMax != tt.spp {
			t.Errorf("spp %d without a budget: stopped at %d", tt.spp, st.SPPMax)
		}
		if tt.budget > 0 && st.SPPMax == tt.spp {
			t.Errorf("a budget of %v reached all %d samples", tt.budget, tt.spp)
		}
		fixed := set
		fixed.SPP = st.SPPMax
		schedtest.SameImage(t, res.Image, schedtest.LocalRender(t, scene, fixed))
	}
}

func TestProgressiveBadConfig(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell-glass.json")
	for _, cfg := range []Config{
		{Noise: 0.01},
		{Budget: time.Second},
		{Progressive: true, Noise: -1},
		{Progressive: true, Noise: math.NaN()},
		{Progressive: true, Budget: -time.Second},
	} {
		cfg.Scene, cfg.Bundle = scene, bundle
		if _, err := NewController(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("NewController(%+v) = %v, want ErrBadConfig", cfg, err)
		}
	}
}

// Stopped mid-render, a progressive render's image is its last pass
// written, whole: the fixed render of that pass's samples; the tiles the
// preview got in between cover the image after the first pass.
func TestProgressiveInterruptedKeepsLastPass(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell-glass.json")
	set := scene.Resolve(render.Settings{Width: 24, Height: 16, SPP: 64, MaxDepth: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := map[int]int{} // OnTile pixels per pass
	var passes []PassEvent
	cfg := Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Local: 1, Progressive: true,
		OnPass: func(ev PassEvent) {
			passes = append(passes, ev)
			if ev.Pass == 2 {
				cancel()
			}
		},
		OnTile: func(ev TileEvent) { seen[len(passes)] += ev.Rect.Dx() * ev.Rect.Dy() },
	}
	c, err := NewController(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(ctx)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run: %v, want ErrInterrupted", err)
	}
	if seen[0] != set.Width*set.Height {
		t.Errorf("the preview got %d pixels in the first pass, want the whole image's %d", seen[0], set.Width*set.Height)
	}
	last := passes[len(passes)-1].SPP
	fixed := set
	fixed.SPP = last
	schedtest.SameImage(t, res.Image, schedtest.LocalRender(t, scene, fixed))
	if res.Stats.SPPMax != last {
		t.Errorf("stats say %d samples per pixel at most, the last pass written ends at %d", res.Stats.SPPMax, last)
	}
}

// With frames, every frame is adaptive by the same rule: on two nodes, each
// frame is byte for byte the in-process one.
func TestProgressiveFramesTwoNodesMatchLocal(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "orbit.glb")
	set := scene.Resolve(render.Settings{Width: 16, Height: 12, SPP: 64, MaxDepth: 3})
	run := func(nodes ...string) map[int]*render.Image {
		frames := map[int]*render.Image{}
		cfg := Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Noise: 0.1, Frames: []int{3, 40},
			OnFrame: func(ev FrameEvent) { frames[ev.Frame] = ev.Image }}
		res, passes := progressiveRun(t, cfg, nodes...)
		if res.MissingFrames != 0 || len(res.Stats.Frames) != 2 || len(passes) < 2*len(render.PassEnds(render.AdaptiveMinSPP(0.1))) {
			t.Fatalf("%d frames missing, %d in the stats, %d passes", res.MissingFrames, len(res.Stats.Frames), len(passes))
		}
		if most := int64(2 * set.Width * set.Height * set.SPP); res.Stats.Samples <= 0 || res.Stats.Samples > most {
			t.Errorf("%d samples in the stats: want the frames' pixels' samples, at most %d", res.Stats.Samples, most)
		}
		return frames
	}
	want := run()
	_, a := startNode(t, node.Config{ID: "node-a", Workers: 1})
	_, b := startNode(t, node.Config{ID: "node-b", Workers: 1})
	got := run(a, b)
	for _, f := range []int{3, 40} {
		if got[f] == nil || want[f] == nil {
			t.Fatalf("frame %d: not written", f)
		}
		schedtest.SameImage(t, got[f], want[f])
	}
}

// passJob renders a job as a node does, with s (a pass, or a whole tile;
// the job's frame of s in an animation),
// spoiling with spoil the results that lie says so of (their index from 1).
func passJob(s *render.Scene, results *atomic.Int64, lie func(n int64, j protocol.TileJob) bool, spoil func([]byte)) func(*fakeConn, protocol.TileJob) {
	return func(c *fakeConn, j protocol.TileJob) {
		set := render.Settings{Width: j.Width, Height: j.Height, SPP: j.SPP, MaxDepth: j.MaxDepth}
		r := image.Rect(j.X0, j.Y0, j.X1, j.Y1)
		pix := make([]float32, 3*j.ResultPixels())
		s := s
		if j.Frame != nil {
			fs, err := s.Frame(*j.Frame)
			if err != nil {
				panic(err)
			}
			s = fs
		}
		var err error
		if j.To > 0 {
			_, err = s.RenderPass(context.Background(), set, r, render.Pass{From: j.From, To: j.To, Mask: j.Mask}, pix)
		} else {
			_, err = s.RenderTile(context.Background(), set, r, pix)
		}
		if err != nil {
			panic(err)
		}
		b := protocol.EncodePixels(pix)
		if lie(results.Add(1), j) {
			spoil(b)
		}
		c.replyPix(j, b)
	}
}

// A node that lies in an adaptive render, subtly at its first result and
// grossly now and then, is caught by the checks of its passes (full audits
// of masked passes, spot checks of their pixels) before its pass is added
// to the film: it is excluded, its tiles rendered again, and the image and
// the samples per pixel are those of the render in-process, byte for byte.
func TestProgressiveLiarCaught(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell-glass.json")
	set := scene.Resolve(render.Settings{Width: 24, Height: 16, SPP: 64, MaxDepth: 4})
	cfg := Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Noise: 0.1, AuditSeed: 3}
	want, _ := progressiveRun(t, cfg)
	var masked atomic.Bool
	for _, tt := range []struct {
		name  string
		lie   func(int64, protocol.TileJob) bool
		spoil func([]byte)
		alone bool // the liar renders alone until it is caught
	}{
		{"first result, one value", func(n int64, _ protocol.TileJob) bool { return n == 1 }, spoilOne, false},
		{"every fifth, everywhere", func(n int64, _ protocol.TileJob) bool { return n%5 == 0 }, spoilAll, false},
		{"its first masked pass", func(_ int64, j protocol.TileJob) bool { return j.Mask != nil && !masked.Swap(true) }, spoilAll, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var lies, honest atomic.Int64
			lie, spoil := tt.lie, tt.spoil
			net := newFakeNet()
			ln := net.add("liar:1", &fakeNode{id: "liar", cores: 2, onJob: passJob(scene, &lies, lie, spoil)})
			net.add("honest:1", &fakeNode{id: "honest", cores: 1, onJob: passJob(scene, &honest, func(int64, protocol.TileJob) bool { return false }, nil)})
			c := cfg
			c.Progressive, c.Dial, c.Discover = true, net.dial, liarAloneWait
			ctl, err := newController(c, sceneRenderer{scene})
			if err != nil {
				t.Fatal(err)
			}
			ctl.AddNode(discovery.Node{ID: "liar", Addr: "liar:1"})
			done := runAsync(context.Background(), ctl)
			enough := func() int64 { return lies.Load() }
			if tt.alone {
				enough = never
			}
			waitLiar(t, ln, enough, 8)
			ctl.AddNode(discovery.Node{ID: "honest", Addr: "honest:1"})
			r := <-done
			if r.err != nil {
				t.Fatalf("Run: %v", r.err)
			}
			schedtest.SameImage(t, r.res.Image, want.Image)
			schedtest.SameImage(t, r.res.Samples, want.Samples)
			lst, hst := nodeStats(t, r.res.Stats, "liar"), nodeStats(t, r.res.Stats, "honest")
			t.Logf("liar: %d results, honest: %d; samples %d/%d/%d; %s", lies.Load(), honest.Load(),
				r.res.Stats.SPPMin, r.res.Stats.SPPMedian, r.res.Stats.SPPMax, lst.Excluded)
			if hst.Tiles == 0 {
				t.Errorf("honest node %+v rendered nothing", hst)
			}
			if st := lst; !strings.Contains(st.Excluded, "wrong pixels") {
				t.Errorf("liar %+v: want it excluded for wrong pixels", st)
			}
		})
	}
}

// A node that slips a wrong value past the spot check of a pass that is
// then added to the film, and is caught later, makes the still render again
// from its first pass: the image is exact all the same. (A spot check
// could catch the first lie at once; of a few seeds, at least one render
// must have been restarted.)
func TestProgressiveLiarCaughtAfterItsPassRestarts(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell-glass.json")
	set := scene.Resolve(render.Settings{Width: 32, Height: 32, SPP: 64, MaxDepth: 3})
	cfg := Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 4, Noise: 0.1,
		Audit: AuditPolicy{FullRun: 1, Floor: 1e-9, SpotShare: 1.0 / 128, SpotMin: 2}}
	want, _ := progressiveRun(t, cfg)
	restarts := 0
	for seed := uint64(1); seed <= 4 && restarts == 0; seed++ {
		var lies, honest atomic.Int64
		// One value wrong in its 40th result (pass 1 has 64 tiles), then
		// everything wrong in its 100th (pass 2).
		lie := func(n int64, _ protocol.TileJob) bool { return n == 40 || n == 100 }
		spoil := func(b []byte) {
			if lies.Load() == 40 {
				spoilOne(b)
			} else {
				spoilAll(b)
			}
		}
		c := cfg
		c.AuditSeed = seed
		r := liarThenHonest(t, scene, c, &lies, &honest, lie, spoil)
		schedtest.SameImage(t, r.res.Image, want.Image)
		schedtest.SameImage(t, r.res.Samples, want.Samples)
		st := r.res.Stats
		t.Logf("seed %d: liar %d results, honest %d; %d restarts; %d passes; liar: %s", seed, lies.Load(), honest.Load(), st.Restarts, len(st.Passes), nodeStats(t, st, "liar").Excluded)
		if len(st.Passes) != len(want.Stats.Passes) {
			t.Errorf("seed %d: %d passes in the stats, %d in-process", seed, len(st.Passes), len(want.Stats.Passes))
		}
		restarts += st.Restarts
	}
	if restarts == 0 {
		t.Error("no render restarted: every first lie was caught before its pass was added up")
	}
}

// The same in an animation: a liar's one wrong value slips past the spot
// checks of a pass of frame 3, and its gross lie in frame 40 gets it
// excluded after passes of both frames it rendered part of were added to
// their films. Each such frame starts its passes again (Stats.Restarts),
// frame 3 after it was written: it is written anew, and the last image
// OnFrame gets of every frame is the in-process one, byte for byte.
func TestProgressiveFramesLiarCaughtAfterItsPassRestarts(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "orbit.glb")
	set := scene.Resolve(render.Settings{Width: 16, Height: 16, SPP: 64, MaxDepth: 3})
	nums := []int{3, 40}
	cfg := Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 4, Noise: 0.1, Frames: nums,
		Audit: AuditPolicy{FullRun: 1, Floor: 1e-9, SpotShare: 1.0 / 128, SpotMin: 2}}
	want := map[int]*render.Image{}
	c := cfg
	c.OnFrame = func(ev FrameEvent) { want[ev.Frame] = ev.Image }
	wantRes, _ := progressiveRun(t, c)
	restarts, rewritten := 0, 0
	for seed := uint64(1); seed <= 4 && (restarts == 0 || rewritten == 0); seed++ {
		var lies, honest atomic.Int64
		var badFrame atomic.Int64
		badFrame.Store(-1)
		var wrote3 atomic.Bool
		// One value wrong in its 10th result (frame 3's first pass has 16
		// tiles), everything wrong in its first result of frame 40 once
		// frame 3 is written (an event: the restart must rewrite it).
		lie := func(n int64, j protocol.TileJob) bool {
			if n == 10 {
				return true
			}
			if j.Frame != nil && *j.Frame == 40 && wrote3.Load() && badFrame.CompareAndSwap(-1, n) {
				return true
			}
			return false
		}
		spoil := func(b []byte) {
			if lies.Load() == 10 {
				spoilOne(b)
			} else {
				spoilAll(b)
			}
		}
		got, writes := map[int]*render.Image{}, map[int]int{}
		c := cfg
		c.AuditSeed = seed
		c.OnFrame = func(ev FrameEvent) {
			got[ev.Frame] = ev.Image
			writes[ev.Frame]++
			if ev.Frame == 3 {
				wrote3.Store(true)
			}
		}
		r := liarThenHonest(t, scene, c, &lies, &honest, lie, spoil)
		for _, f := range nums {
			if got[f] == nil {
				t.Fatalf("seed %d: frame %d not written", seed, f)
			}
			schedtest.SameImage(t, got[f], want[f])
		}
		st := r.res.Stats
		t.Logf("seed %d: liar %d results (frame 40's lie at %d), honest %d; %d restarts; frames written %v; %d passes; liar: %s",
			seed, lies.Load(), badFrame.Load(), honest.Load(), st.Restarts, writes, len(st.Passes), nodeStats(t, st, "liar").Excluded)
		if r.res.MissingFrames != 0 || len(st.Frames) != len(nums) {
			t.Errorf("seed %d: %d frames missing, %d in the stats", seed, r.res.MissingFrames, len(st.Frames))
		}
		if len(st.Passes) != len(wantRes.Stats.Passes) {
			t.Errorf("seed %d: %d passes in the stats, %d in-process", seed, len(st.Passes), len(wantRes.Stats.Passes))
		}
		if st.Samples != wantRes.Stats.Samples {
			t.Errorf("seed %d: %d samples in the stats, %d in-process", seed, st.Samples, wantRes.Stats.Samples)
		}
		if st.Restarts > len(nums) {
			t.Errorf("seed %d: %d restarts of %d frames: a frame restarted twice", seed, st.Restarts, len(nums))
		}
		restarts += st.Restarts
		if writes[3] > 1 {
			rewritten++
		}
	}
	if restarts == 0 {
		t.Error("no frame restarted: every first lie was caught before its pass was added up")
	}
	if rewritten == 0 {
		t.Error("frame 3 was never written again: the liar was caught before frame 3 was written")
	}
}

// liarThenHonest runs the progressive render cfg with a liar alone (its
// results spoiled where lie says), then, once the liar is excluded, an
// honest node; both render with passJob.
func liarThenHonest(t *testing.T, scene *render.Scene, cfg Config, lies, honest *atomic.Int64, lie func(int64, protocol.TileJob) bool, spoil func([]byte)) runResult {
	t.Helper()
	net := newFakeNet()
	ln := net.add("liar:1", &fakeNode{id: "liar", cores: 2, onJob: passJob(scene, lies, lie, spoil)})
	net.add("honest:1", &fakeNode{id: "honest", cores: 1, onJob: passJob(scene, honest, func(int64, protocol.TileJob) bool { return false }, nil)})
	cfg.Progressive, cfg.Dial, cfg.Discover = true, net.dial, liarAloneWait
	ctl, err := newController(cfg, sceneRenderer{scene})
	if err != nil {
		t.Fatal(err)
	}
	ctl.AddNode(discovery.Node{ID: "liar", Addr: "liar:1"})
	done := runAsync(context.Background(), ctl)
	waitLiar(t, ln, never, 1)
	ctl.AddNode(discovery.Node{ID: "honest", Addr: "honest:1"})
	r := <-done
	if r.err != nil {
		t.Fatalf("seed %d: Run: %v", cfg.AuditSeed, r.err)
	}
	return r
}
