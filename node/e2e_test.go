package node

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler"
	"tessera/scheduler/schedtest"
)

// End-to-end tests: real Nodes on 127.0.0.1:0 under the real controller,
// the real protocol, the real renderer; every image must equal the local
// render byte for byte.

// nodeStats finds a node's stats by id.
func nodeStats(t testing.TB, st scheduler.Stats, id string) scheduler.NodeStats {
	t.Helper()
	for _, n := range st.Nodes {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("no stats for node %q in %+v", id, st.Nodes)
	return scheduler.NodeStats{}
}

// Issue 3's last bullet, against a real Node: hundreds of idle connections,
// 4 GiB length prefixes, random bytes, garbage after a handshake. The node
// does not panic, frees everything, keeps accepting, its memory stays
// bounded, and it then serves a real render right.
func TestNodeSurvivesHostilePeers(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 24, Height: 16, SPP: 1})
	want := schedtest.LocalRender(t, scene, set)

	n, addr := startNode(t, Config{ID: "victim", Workers: 1, HandshakeTimeout: 300 * time.Millisecond})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	rng := rand.New(rand.NewPCG(1, 2))
	var hostile []net.Conn
	dial := func() net.Conn {
		t.Helper()
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		hostile = append(hostile, nc)
		return nc
	}
	for range 300 { // idle: never say hello
		dial()
	}
	for range 20 { // a 4 GiB frame announced
		nc := dial()
		_, _ = nc.Write([]byte{0xff, 0xff, 0xff, 0xff, 0x93})
	}
	for range 20 { // random bytes
		nc := dial()
		junk := make([]byte, 1024)
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		_, _ = nc.Write(junk)
	}
	for range 5 { // a proper handshake, then garbage frames
		nc := dial()
		c := protocol.NewConn(nc, protocol.Config{})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.Handshake(ctx, protocol.Hello{Role: protocol.RoleController, ID: "vandal"}, ""); err == nil {
			var frame [4 + 16]byte
			binary.BigEndian.PutUint32(frame[:], 16)
			for i := range 16 {
				frame[4+i] = byte(rng.Uint32())
			}
			_, _ = nc.Write(frame[:])
		}
		cancel()
	}
	// Every hostile connection is closed by the node (the handshake
	// deadline, the frame limit, the decoder), freeing its place.
	schedtest.WaitFor(t, "the node to shed every hostile connection", 20*time.Second, func() bool { return n.Counters().Conns == 0 })
	for _, nc := range hostile {
		nc.Close()
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 32<<20 {
		t.Errorf("heap grew by %d MiB under attack", grew>>20)
	}

	// And it still renders, right.
	c, err := scheduler.NewController(scheduler.Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(discovery.Node{ID: "victim", Addr: addr, Source: discovery.SourceFlag})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	schedtest.SameImage(t, res.Image, want)
	if nodeStats(t, res.Stats, "victim").Tiles != res.Stats.Tiles {
		t.Error("the victim node did not render the image")
	}
}

// A node that dies mid-render (its process gone, connections reset) has
// its tiles re-queued; the image is still exact.
func TestNodeClosedMidRender(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 48, Height: 32, SPP: 1})
	want := schedtest.LocalRender(t, scene, set)
	doomed, a := startNodeWith(t, Config{ID: "doomed", Workers: 2}, slowScenes(5*time.Millisecond))
	_, b := startNodeWith(t, Config{ID: "survivor", Workers: 1}, slowScenes(5*time.Millisecond))
	var once sync.Once
	killed := make(chan struct{})
	c, err := scheduler.NewController(scheduler.Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, OnTile: func(e scheduler.TileEvent) {
		if e.NodeID == "doomed" {
			once.Do(func() {
				go func() { doomed.Close(); close(killed) }()
			})
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(discovery.Node{ID: "doomed", Addr: a})
	c.AddNode(discovery.Node{ID: "survivor", Addr: b})
	res, err := c.Run(context.Background())
	<-killed
	if err != nil {
		t.Fatal(err)
	}
	schedtest.SameImage(t, res.Image, want)
	if res.Stats.Retries == 0 || nodeStats(t, res.Stats, "doomed").Failures == 0 {
		t.Errorf("stats %+v: want retries and a failure of the dead node", res.Stats)
	}
}

// SIGTERM on a node mid-render: its queued tiles come back at once and are
// rendered elsewhere; that is no failure of the node.
func TestNodeShutdownMidRender(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 48, Height: 32, SPP: 1})
	want := schedtest.LocalRender(t, scene, set)
	gate := make(chan struct{}) // holds the leaving node's tiles
	leaving, a := startNodeWith(t, Config{ID: "leaving", Workers: 1}, gatedScenes(gate))
	_, b := startNodeWith(t, Config{ID: "staying", Workers: 1}, slowScenes(2*time.Millisecond))
	c, err := scheduler.NewController(scheduler.Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(discovery.Node{ID: "leaving", Addr: a})
	c.AddNode(discovery.Node{ID: "staying", Addr: b})
	type result struct {
		res *scheduler.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.Run(context.Background())
		done <- result{res, err}
	}()
	// SIGTERM while the node renders one tile and holds another queued.
	schedtest.WaitFor(t, "the leaving node to hold a running and a queued tile", 10*time.Second, func() bool {
		k := leaving.Counters()
		return k.JobsRunning == 1 && k.JobsQueued >= 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- leaving.Shutdown(ctx) }()
	schedtest.WaitFor(t, "the queued tiles to be handed back", 10*time.Second, func() bool { return leaving.Counters().JobsQueued == 0 })
	close(gate) // the running tile finishes
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, want)
	if l := nodeStats(t, r.res.Stats, "leaving"); l.Failures != 0 || l.Tiles == 0 || r.res.Stats.Retries == 0 {
		t.Errorf("leaving node %+v, retries %d: want its running tile in, its queued ones handed back, no failure", l, r.res.Stats.Retries)
	}
}

func TestNodeStartedMidRenderGetsTiles(t *testing.T) {
	scene, bundle := schedtest.LoadScene(t, "cornell.json")
	set := scene.Resolve(render.Settings{Width: 48, Height: 32, SPP: 1})
	want := schedtest.LocalRender(t, scene, set)
	_, a := startNodeWith(t, Config{ID: "early", Workers: 1}, slowScenes(10*time.Millisecond))
	var c *scheduler.Controller
	var once sync.Once
	c, err := scheduler.NewController(scheduler.Config{Scene: scene, Bundle: bundle, Settings: set, Tile: 8, OnTile: func(scheduler.TileEvent) {
		once.Do(func() {
			_, b := startNode(t, Config{ID: "late", Workers: 1})
			c.AddNode(discovery.Node{ID: "late", Addr: b, Source: discovery.SourceMDNS})
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.AddNode(discovery.Node{ID: "early", Addr: a})
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	schedtest.SameImage(t, res.Image, want)
	if late := nodeStats(t, res.Stats, "late"); late.Tiles == 0 {
		t.Errorf("the node started mid-render rendered nothing: %+v", res.Stats.Nodes)
	}
}

// Two controllers rendering different scenes on the same two nodes at once:
// the nodes share their workers round robin, so both progress on both
// nodes, and both images are exact.
func TestTwoControllersShareTwoNodes(t *testing.T) {
	cornell, cb := schedtest.LoadScene(t, "cornell.json")
	spheres, sb := schedtest.LoadScene(t, "spheres.json")
	cset := cornell.Resolve(render.Settings{Width: 40, Height: 32, SPP: 1})
	sset := spheres.Resolve(render.Settings{Width: 40, Height: 24, SPP: 1})
	cwant, swant := schedtest.LocalRender(t, cornell, cset), schedtest.LocalRender(t, spheres, sset)
	_, a := startNodeWith(t, Config{ID: "a", Workers: 1}, slowScenes(2*time.Millisecond))
	_, b := startNodeWith(t, Config{ID: "b", Workers: 1}, slowScenes(2*time.Millisecond))
	run := func(s *render.Scene, bundle *render.Bundle, set render.Settings, out **scheduler.Result, errp *error, wg *sync.WaitGroup) {
		defer wg.Done()
		c, err := scheduler.NewController(scheduler.Config{Scene: s, Bundle: bundle, Settings: set, Tile: 8})
		if err != nil {
			*errp = err
			return
		}
		c.AddNode(discovery.Node{ID: "a", Addr: a})
		c.AddNode(discovery.Node{ID: "b", Addr: b})
		*out, *errp = c.Run(context.Background())
	}
	var wg sync.WaitGroup
	var cres, sres *scheduler.Result
	var cerr, serr error
	wg.Add(2)
	go run(cornell, cb, cset, &cres, &cerr, &wg)
	go run(spheres, sb, sset, &sres, &serr, &wg)
	wg.Wait()
	if cerr != nil || serr != nil {
		t.Fatalf("Run: %v / %v", cerr, serr)
	}
	schedtest.SameImage(t, cres.Image, cwant)
	schedtest.SameImage(t, sres.Image, swant)
	for _, st := range []scheduler.Stats{cres.Stats, sres.Stats} {
		for _, id := range []string{"a", "b"} {
			if n := nodeStats(t, st, id); n.Tiles == 0 {
				t.Errorf("node %s rendered nothing for one controller: %+v", id, st.Nodes)
			}
		}
	}
}
