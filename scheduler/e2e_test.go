package scheduler

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"tessera/render"
)

// End-to-end tests: real Nodes on 127.0.0.1:0, the real protocol, the real
// renderer; every image must equal render.Render's byte for byte.

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
	st := res.Stats
	if st.BytesSent == 0 || st.BytesReceived < int64(12*48*40) || st.Rays == 0 || st.RaysPerSecond <= 0 {
		t.Errorf("stats %+v: want bytes both ways and rays", st)
	}
	a1, b1 := nodeStats(t, st, "node-a"), nodeStats(t, st, "node-b")
	if a1.Tiles+b1.Tiles != st.Tiles || a1.Rays+b1.Rays != st.Rays {
		t.Errorf("node stats %+v %+v do not add up to %d tiles, %d rays", a1, b1, st.Tiles, st.Rays)
	}
}

// A node that dies mid-render (its process gone, connections reset) has
// its tiles re-queued; the image is still exact.
func TestNodeClosedMidRender(t *testing.T) {
	scene, bundle := loadTestScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 48, Height: 32, SPP: 1})
	want := localRender(t, scene, set)
	doomed, a := startNodeWith(t, NodeConfig{ID: "doomed", Workers: 2}, slowScenes(5*time.Millisecond))
	_, b := startNodeWith(t, NodeConfig{ID: "survivor", Workers: 1}, slowScenes(5*time.Millisecond))
	var once sync.Once
	killed := make(chan struct{})
	c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, OnTile: func(e TileEvent) {
		if e.NodeID == "doomed" {
			once.Do(func() {
				go func() { doomed.Close(); close(killed) }()
			})
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(Candidate{ID: "doomed", Addr: a})
	c.AddNode(Candidate{ID: "survivor", Addr: b})
	res, err := c.Run(context.Background())
	<-killed
	if err != nil {
		t.Fatal(err)
	}
	sameImage(t, res.Image, want)
	if res.Stats.Retries == 0 || nodeStats(t, res.Stats, "doomed").Failures == 0 {
		t.Errorf("stats %+v: want retries and a failure of the dead node", res.Stats)
	}
}

// SIGTERM on a node mid-render: its queued tiles come back at once and are
// rendered elsewhere; that is no failure of the node.
func TestNodeShutdownMidRender(t *testing.T) {
	scene, bundle := loadTestScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 48, Height: 32, SPP: 1})
	want := localRender(t, scene, set)
	leaving, a := startNodeWith(t, NodeConfig{ID: "leaving", Workers: 1}, slowScenes(10*time.Millisecond))
	_, b := startNodeWith(t, NodeConfig{ID: "staying", Workers: 1}, slowScenes(2*time.Millisecond))
	var once sync.Once
	var shutErr error
	left := make(chan struct{})
	c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, OnTile: func(e TileEvent) {
		if e.NodeID == "leaving" {
			once.Do(func() {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					shutErr = leaving.Shutdown(ctx)
					close(left)
				}()
			})
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(Candidate{ID: "leaving", Addr: a})
	c.AddNode(Candidate{ID: "staying", Addr: b})
	res, err := c.Run(context.Background())
	<-left
	if err != nil {
		t.Fatal(err)
	}
	if shutErr != nil {
		t.Errorf("Shutdown: %v", shutErr)
	}
	sameImage(t, res.Image, want)
	if l := nodeStats(t, res.Stats, "leaving"); l.Failures != 0 || res.Stats.Retries == 0 {
		t.Errorf("leaving node %+v, retries %d: want its tiles handed back, no failure", l, res.Stats.Retries)
	}
}

func TestNodeStartedMidRenderGetsTiles(t *testing.T) {
	scene, bundle := loadTestScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 48, Height: 32, SPP: 1})
	want := localRender(t, scene, set)
	_, a := startNodeWith(t, NodeConfig{ID: "early", Workers: 1}, slowScenes(10*time.Millisecond))
	var c *Controller
	var once sync.Once
	c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, OnTile: func(TileEvent) {
		once.Do(func() {
			_, b := startNode(t, NodeConfig{ID: "late", Workers: 1})
			c.AddNode(Candidate{ID: "late", Addr: b, Source: SourceMDNS})
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(Candidate{ID: "early", Addr: a})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sameImage(t, res.Image, want)
	if late := nodeStats(t, res.Stats, "late"); late.Tiles == 0 {
		t.Errorf("the node started mid-render rendered nothing: %+v", res.Stats.Nodes)
	}
}

func TestLocalZeroNoReachableNodeFails(t *testing.T) {
	scene, bundle := loadTestScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 16, Height: 16, SPP: 1})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, Local: 0, Discover: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(Candidate{Addr: closed, Source: SourceFlag})
	res, err := c.Run(context.Background())
	if !errors.Is(err, ErrNoNodes) || !strings.Contains(err.Error(), "4 of 4 tiles missing") {
		t.Fatalf("Run: %v, want ErrNoNodes naming the 4 missing tiles", err)
	}
	if res == nil || res.Missing != 4 {
		t.Fatalf("result %+v: want the (empty) partial image with 4 missing", res)
	}
}

func TestWrongTokenExcluded(t *testing.T) {
	scene, bundle := loadTestScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 16, Height: 16, SPP: 1})
	_, addr := startNode(t, NodeConfig{ID: "guarded", Token: "room-7"})
	for _, tc := range []struct {
		token string
		ok    bool
	}{{"room-7", true}, {"room-8", false}, {"", false}} {
		c, err := NewController(Config{Scene: scene, Bundle: bundle, Settings: set, Token: tc.token, Local: 0, Discover: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.AddNode(Candidate{ID: "guarded", Addr: addr})
		_, err = c.Run(context.Background())
		if tc.ok != (err == nil) {
			t.Errorf("token %q: Run: %v", tc.token, err)
		}
		if !tc.ok && !strings.Contains(err.Error(), "guarded excluded: handshake failed") {
			t.Errorf("token %q: error %v does not name the node and the handshake", tc.token, err)
		}
	}
}

// Two controllers rendering different scenes on the same two nodes at once:
// the nodes share their workers round robin, so both progress on both
// nodes, and both images are exact.
func TestTwoControllersShareTwoNodes(t *testing.T) {
	cornell, cb := loadTestScene(t, "cornell.json")
	spheres, sb := loadTestScene(t, "spheres.json")
	cset := cornell.Resolve(render.Settings{Width: 40, Height: 32, SPP: 1})
	sset := spheres.Resolve(render.Settings{Width: 40, Height: 24, SPP: 1})
	cwant, swant := localRender(t, cornell, cset), localRender(t, spheres, sset)
	_, a := startNodeWith(t, NodeConfig{ID: "a", Workers: 1}, slowScenes(2*time.Millisecond))
	_, b := startNodeWith(t, NodeConfig{ID: "b", Workers: 1}, slowScenes(2*time.Millisecond))
	run := func(s *render.Scene, bundle *render.Bundle, set render.Settings, out **Result, errp *error, wg *sync.WaitGroup) {
		defer wg.Done()
		c, err := NewController(Config{Scene: s, Bundle: bundle, Settings: set, Tile: 8})
		if err != nil {
			*errp = err
			return
		}
		c.AddNode(Candidate{ID: "a", Addr: a})
		c.AddNode(Candidate{ID: "b", Addr: b})
		*out, *errp = c.Run(context.Background())
	}
	var wg sync.WaitGroup
	var cres, sres *Result
	var cerr, serr error
	wg.Add(2)
	go run(cornell, cb, cset, &cres, &cerr, &wg)
	go run(spheres, sb, sset, &sres, &serr, &wg)
	wg.Wait()
	if cerr != nil || serr != nil {
		t.Fatalf("Run: %v / %v", cerr, serr)
	}
	sameImage(t, cres.Image, cwant)
	sameImage(t, sres.Image, swant)
	for _, st := range []Stats{cres.Stats, sres.Stats} {
		for _, id := range []string{"a", "b"} {
			if n := nodeStats(t, st, id); n.Tiles == 0 {
				t.Errorf("node %s rendered nothing for one controller: %+v", id, st.Nodes)
			}
		}
	}
}
