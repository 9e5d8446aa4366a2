package scheduler

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/node"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

// frameLog collects OnFrame events.
type frameLog struct {
	mu     sync.Mutex
	events []FrameEvent
	onNth  map[int]func() // called after the n-th event (from 1)
}

func (fl *frameLog) add(ev FrameEvent) {
	fl.mu.Lock()
	fl.events = append(fl.events, ev)
	f := fl.onNth[len(fl.events)]
	fl.mu.Unlock()
	if f != nil {
		f()
	}
}

func (fl *frameLog) frames() []int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	var out []int
	for _, ev := range fl.events {
		out = append(out, ev.Frame)
	}
	return out
}

// jobFrames returns the frames of the jobs n received, in order; it fails
// the test on a job without a frame.
func jobFrames(t *testing.T, n *fakeNode) []int {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []int
	for _, j := range n.jobs {
		if j.Frame == nil {
			t.Fatalf("node %s: job %d of an animation has no frame", n.id, j.Job)
		}
		out = append(out, *j.Frame)
	}
	return out
}

// TestFramesShareOneQueue renders three frames, given out of numerical
// order: every frame is written once, complete; a node gets a frame's tiles
// before the next frame's, in the order given; the stats count them. Then
// the same on two nodes, which share the frames' tiles.
func TestFramesShareOneQueue(t *testing.T) {
	frames := []int{5, 3, 9}
	run := func(t *testing.T, nodes ...*fakeNode) (*Controller, runResult, *frameLog, []Progress) {
		net := newFakeNet()
		fl := &frameLog{}
		var progress []Progress
		c := fakeController(t, net, Config{Frames: frames, OnFrame: fl.add, OnProgress: func(p Progress) { progress = append(progress, p) }}, nil)
		for _, n := range nodes {
			net.add(n.id+":1", n)
			c.AddNode(discovery.Node{ID: n.id, Addr: n.id + ":1", Source: discovery.SourceFlag})
		}
		r := await(t, runAsync(context.Background(), c))
		if r.err != nil {
			t.Fatal(r.err)
		}
		got := fl.frames()
		if slices.Sort(got); !slices.Equal(got, []int{3, 5, 9}) {
			t.Fatalf("frames written %v, want 3, 5 and 9 once each", fl.frames())
		}
		want := schedtest.FakeImage(c.cfg.Settings)
		for _, ev := range fl.events {
			schedtest.SameImage(t, ev.Image, want)
			if ev.Stats.Frame != ev.Frame || ev.Stats.Tiles != 12 {
				t.Errorf("frame %d: stats %+v, want 12 tiles", ev.Frame, ev.Stats)
			}
		}
		return c, r, fl, progress
	}
	t.Run("one node", func(t *testing.T) {
		a := &fakeNode{id: "a", cores: 2}
		_, r, _, progress := run(t, a)
		fs := jobFrames(t, a)
		rank := map[int]int{5: 0, 3: 1, 9: 2}
		for i := 1; i < len(fs); i++ {
			if rank[fs[i]] < rank[fs[i-1]] {
				t.Fatalf("frame %d handed out after frame %d: %v", fs[i], fs[i-1], fs)
			}
		}
		if len(fs) != 36 {
			t.Errorf("%d jobs, want 36: %v", len(fs), fs)
		}
		st := r.res.Stats
		if st.Tiles != 36 || len(st.Frames) != 3 || r.res.Image != nil || r.res.MissingFrames != 0 {
			t.Errorf("stats: %d tiles, %d frames, image %v, %d frames missing; want 36, 3, nil, 0", st.Tiles, len(st.Frames), r.res.Image != nil, r.res.MissingFrames)
		}
		last := progress[len(progress)-1]
		if last.FramesDone != 3 || last.Frames != 3 || last.Done != 36 || last.Total != 36 {
			t.Errorf("last progress %+v, want 3 of 3 frames, 36 of 36 tiles", last)
		}
	})
	t.Run("two nodes", func(t *testing.T) {
		// Answers wait until both nodes have a job: nodes that answer at
		// once could otherwise finish the range before the other's
		// handshake is done.
		a, b := &fakeNode{id: "a", cores: 2}, &fakeNode{id: "b", cores: 1}
		var mu sync.Mutex
		var held []func()
		got := map[string]bool{}
		gate := func(fc *fakeConn, j protocol.TileJob) {
			mu.Lock()
			got[fc.n.id] = true
			if len(got) < 2 {
				held = append(held, func() { fc.reply(j) })
				mu.Unlock()
				return
			}
			release := held
			held = nil
			mu.Unlock()
			for _, f := range release {
				f()
			}
			fc.reply(j)
		}
		a.onJob, b.onJob = gate, gate
		_, r, _, _ := run(t, a, b)
		if len(jobFrames(t, a)) == 0 || len(jobFrames(t, b)) == 0 {
			t.Error("a node got no tile")
		}
		if st := r.res.Stats; st.Tiles != 36 || len(st.Frames) != 3 {
			t.Errorf("stats: %d tiles, %d frames; want 36 and 3", st.Tiles, len(st.Frames))
		}
	})
}

// TestFramesNodeLostAndJoined: a node that dies mid-range has its tiles
// rendered elsewhere, a node that joins mid-range gets tiles of the frames
// left; every frame is written whole.
func TestFramesNodeLostAndJoined(t *testing.T) {
	net := newFakeNet()
	steady := net.add("a:1", &fakeNode{id: "a", cores: 1})
	dying := net.add("b:1", &fakeNode{id: "b", cores: 1})
	joiner := net.add("c:1", &fakeNode{id: "c", cores: 1})
	// The dying node dies holding its fifth tile; until then the steady
	// node holds every tile it gets, so that the dying one surely gets five
	// (else the steady node, its window grown, could take them all). Until
	// the joiner has a tile, the others hold their tiles of frame 2 and
	// later: the frames left wait for it.
	var mu sync.Mutex
	dyingJobs := 0
	var held []func()
	joined := false
	dead := false
	var heldSteady []func() // until the dying node dies
	holdLate := func(fc *fakeConn, j protocol.TileJob) bool {
		mu.Lock()
		defer mu.Unlock()
		if *j.Frame >= 2 && !joined {
			held = append(held, func() { fc.reply(j) })
			return true
		}
		return false
	}
	steady.onJob = func(fc *fakeConn, j protocol.TileJob) {
		answer := func() {
			if !holdLate(fc, j) {
				fc.reply(j)
			}
		}
		mu.Lock()
		if !dead {
			heldSteady = append(heldSteady, answer)
			mu.Unlock()
			return
		}
		mu.Unlock()
		answer()
	}
	dying.onJob = func(fc *fakeConn, j protocol.TileJob) {
		mu.Lock()
		dyingJobs++
		n := dyingJobs
		mu.Unlock()
		if n == 5 {
			mu.Lock()
			dead = true
			release := heldSteady
			heldSteady = nil
			mu.Unlock()
			dying.kill()
			for _, f := range release {
				f()
			}
			return
		}
		if !holdLate(fc, j) {
			fc.reply(j)
		}
	}
	// The joiner releases the held tiles once the controller has seen the
	// dying node go (it could otherwise finish on copies of its tiles
	// before it reads the end of its connection).
	bGone := make(chan struct{})
	var goneOnce sync.Once
	onProgress := func(p Progress) {
		for _, n := range p.Nodes {
			if n.ID == "b" && n.State != NodeWorking && n.State != NodeConnecting {
				goneOnce.Do(func() { close(bGone) })
			}
		}
	}
	joiner.onJob = func(fc *fakeConn, j protocol.TileJob) {
		select {
		case <-bGone:
		case <-time.After(10 * time.Second):
			t.Error("the controller never saw the dying node go")
		}
		mu.Lock()
		joined = true
		release := held
		held = nil
		mu.Unlock()
		for _, f := range release {
			f()
		}
		fc.reply(j)
	}
	fl := &frameLog{}
	var c *Controller
	fl.onNth = map[int]func(){1: func() { c.AddNode(discovery.Node{ID: "c", Addr: "c:1", Source: discovery.SourceFlag}) }}
	frames := []int{0, 1, 2, 3, 4, 5}
	c = fakeController(t, net, Config{Frames: frames, OnFrame: fl.add, OnProgress: onProgress}, nil)
	c.tune.progressInterval = 0
	c.AddNode(discovery.Node{ID: "a", Addr: "a:1", Source: discovery.SourceFlag})
	c.AddNode(discovery.Node{ID: "b", Addr: "b:1", Source: discovery.SourceFlag})
	r := await(t, runAsync(context.Background(), c))
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := fl.frames()
	if slices.Sort(got); !slices.Equal(got, frames) {
		t.Fatalf("frames written %v, want each of %v once", fl.frames(), frames)
	}
	want := schedtest.FakeImage(c.cfg.Settings)
	for _, ev := range fl.events {
		schedtest.SameImage(t, ev.Image, want)
	}
	if n := len(jobFrames(t, dying)); n < 5 {
		t.Errorf("the dying node got %d tiles, want at least 5", n)
	}
	if n := len(jobFrames(t, joiner)); n == 0 {
		t.Error("the node that joined mid-range got no tile")
	}
	if st := nodeStats(t, r.res.Stats, "b").State; st == NodeWorking {
		t.Errorf("the dead node is %v at the end", st)
	}
}

// TestFramesInterrupted: a render stopped mid-range says how many frames
// are missing and hands back the frames begun with their tiles so far.
func TestFramesInterrupted(t *testing.T) {
	net := newFakeNet()
	n := net.add("a:1", &fakeNode{id: "a", cores: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	jobs := 0
	n.onJob = func(fc *fakeConn, j protocol.TileJob) {
		mu.Lock()
		jobs++
		k := jobs
		mu.Unlock()
		if k <= 17 { // frame 0 whole, 5 tiles of frame 1; the rest is held
			fc.reply(j)
		}
	}
	// Cancelled once both are true: 17 tiles in, frame 0 written.
	tiles, wrote := 0, false
	maybeCancel := func() {
		if tiles == 17 && wrote {
			cancel()
		}
	}
	fl := &frameLog{}
	c := fakeController(t, net, Config{Frames: []int{0, 1, 2},
		OnFrame: func(ev FrameEvent) { fl.add(ev); wrote = true; maybeCancel() },
		OnTile:  func(TileEvent) { tiles++; maybeCancel() }}, nil)
	c.AddNode(discovery.Node{ID: "a", Addr: "a:1", Source: discovery.SourceFlag})
	r := await(t, runAsync(ctx, c))
	if !errors.Is(r.err, ErrInterrupted) || !strings.Contains(r.err.Error(), "2 of 3 frames (19 of 36 tiles) missing") {
		t.Fatalf("error %v, want ErrInterrupted with 2 of 3 frames (19 of 36 tiles) missing", r.err)
	}
	if got := fl.frames(); !slices.Equal(got, []int{0}) {
		t.Fatalf("frames written %v, want [0]", got)
	}
	if r.res.MissingFrames != 2 || len(r.res.Partial) != 1 || r.res.Partial[0].Frame != 1 || r.res.Partial[0].Stats.Tiles != 5 {
		t.Fatalf("missing %d frames, partial %+v; want 2, frame 1 with 5 tiles", r.res.MissingFrames, r.res.Partial)
	}
}

// TestFramesBadConfig: frames out of range, given twice, or whose camera
// cannot render are refused before anything is dialled.
func TestFramesBadConfig(t *testing.T) {
	for _, fs := range [][]int{{-1}, {render.MaxFrame + 1}, {1, 2, 1}} {
		if _, err := newController(Config{Bundle: schedtest.Bundle(), Settings: render.Settings{Width: 8, Height: 8, SPP: 1, MaxDepth: 1}, Frames: fs}, &fakeRender{}); !errors.Is(err, ErrBadConfig) {
			t.Errorf("frames %v: %v, want ErrBadConfig", fs, err)
		}
	}
	b := &render.Bundle{Main: "s.json", Files: map[string][]byte{"s.json": []byte(`{"camera": {"from": [0, 0, 5], "to": [0, 0, 0],
	  "keys": [{"frame": 0, "to": [0, 0, 0]}, {"frame": 10, "to": [0, 0, 10]}]}, "objects": []}`)}}
	scene, err := render.LoadBundle(b, render.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// At frame 5 the camera looks at its own position.
	_, err = NewController(Config{Scene: scene, Bundle: b, Settings: render.Settings{Width: 8, Height: 8}, Frames: []int{4, 5}})
	if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "frame 5: the camera looks at its own position") {
		t.Fatalf("got %v, want ErrBadConfig naming frame 5", err)
	}
}

// TestFramesOnTwoNodesMatchLocalRender: frames of orbit.glb rendered
// through one job on two real nodes are each byte for byte the local render
// of that frame alone (1, 24, 48 and a random one).
func TestFramesOnTwoNodesMatchLocalRender(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "orbit.glb")
	set := scene.Resolve(render.Settings{Width: 32, Height: 20, SPP: 2})
	frames := []int{1, 24, 48, 2 + rand.IntN(21)}
	_, a := startNode(t, node.Config{ID: "node-a", Workers: 1})
	_, b := startNode(t, node.Config{ID: "node-b", Workers: 1})
	fl := &frameLog{}
	c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Local: 0, Frames: frames, OnFrame: fl.add})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(discovery.Node{ID: "node-a", Addr: a, Source: discovery.SourceFlag})
	c.AddNode(discovery.Node{ID: "node-b", Addr: b, Source: discovery.SourceFlag})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(fl.events) != len(frames) {
		t.Fatalf("%d frames written, want %d", len(fl.events), len(frames))
	}
	for _, ev := range fl.events {
		fs, err := scene.Frame(ev.Frame)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("frame %d", ev.Frame)
		schedtest.SameImage(t, ev.Image, schedtest.LocalRender(t, fs, set))
	}
	// One scene a node, whatever the number of frames.
	if st := res.Stats; st.BytesSent > int64(2*len(bundle.Files["orbit.glb"])+200_000) {
		t.Errorf("%d bytes sent for a %d-byte scene on two nodes: the scene went out more than once a node", st.BytesSent, len(bundle.Files["orbit.glb"]))
	}
}
