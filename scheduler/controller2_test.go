package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tessera/discovery"
	"tessera/protocol"
	"tessera/render"
	"tessera/scheduler/schedtest"
)

// answerAll answers every job of n on its first connection until stop.
func answerAll(n *fakeNode, stop <-chan struct{}, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case j := <-n.jobc:
				n.mu.Lock()
				c := n.conns[len(n.conns)-1]
				n.mu.Unlock()
				c.reply(j)
			case <-stop:
				return
			}
		}
	}()
}

func TestNodeJoiningMidRenderGetsTiles(t *testing.T) {
	net := newFakeNet()
	quiet := func(*fakeConn, protocol.TileJob) {}
	first := net.add("first:1", &fakeNode{id: "first", cores: 1, onJob: quiet, jobc: make(chan protocol.TileJob, 64)})
	net.add("late:1", &fakeNode{id: "late", cores: 1})
	c := fakeController(t, net, Config{}, nil)
	c.AddNode(discovery.Node{ID: "first", Addr: "first:1"})
	done := runAsync(context.Background(), c)
	<-first.jobc // the render is under way, its only node stuck
	c.AddNode(discovery.Node{ID: "late", Addr: "late:1", Source: discovery.SourceMDNS})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	answerAll(first, stop, &wg)
	r := await(t, done)
	close(stop)
	wg.Wait()
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, schedtest.FakeImage(c.cfg.Settings))
	if n := nodeStats(t, r.res.Stats, "late"); n.Tiles == 0 || n.Source != discovery.SourceMDNS {
		t.Errorf("late node %+v: want tiles, from mdns", n)
	}
}

func TestSameNodeByThreeRoutesUsedOnce(t *testing.T) {
	net := newFakeNet()
	n := &fakeNode{id: "n1", cores: 1}
	net.add("10.0.0.1:7701", n)
	net.add("127.0.0.1:7701", n)
	c := fakeController(t, net, Config{}, nil)
	c.AddNode(discovery.Node{ID: "n1", Addr: "10.0.0.1:7701", Source: discovery.SourceMDNS})
	c.AddNode(discovery.Node{ID: "n1", Addr: "10.0.0.1:7701", Source: discovery.SourceRegistry}) // same id: ignored
	c.AddNode(discovery.Node{Addr: "127.0.0.1:7701", Source: discovery.SourceFlag})              // id proven in the handshake
	r := renderedRight(t, c, runAsync(context.Background(), c))
	if len(r.res.Stats.Nodes) != 1 || r.res.Stats.Nodes[0].Tiles != r.res.Stats.Tiles {
		t.Errorf("stats nodes %+v: want one node with every tile", r.res.Stats.Nodes)
	}
	n.mu.Lock()
	scenes := n.scenes
	n.mu.Unlock()
	if scenes > 2 {
		t.Errorf("scene sent %d times to one node over at most 2 connections", scenes)
	}
}

func TestEveryNodeLostLocalFinishes(t *testing.T) {
	net := newFakeNet()
	var dead atomic.Bool
	var doomed *fakeNode
	doomed = net.add("doomed:1", &fakeNode{id: "doomed", cores: 2, onJob: func(c *fakeConn, j protocol.TileJob) {
		if dead.Swap(true) {
			return // dead: the jobs it had queued get no answer
		}
		c.reply(j)
		doomed.kill() // dies after its first tile, before it reads another job
	}})
	c := fakeController(t, net, Config{Local: LocalAuto, Discover: 10 * time.Millisecond}, nil)
	c.AddNode(discovery.Node{ID: "doomed", Addr: "doomed:1"})
	r := renderedRight(t, c, runAsync(context.Background(), c))
	if l := nodeStats(t, r.res.Stats, "local"); l.Source != discovery.SourceLocal || l.Tiles == 0 {
		t.Errorf("local node %+v: want tiles, source local", l)
	}
}

func TestLocalAutoWaitsForDiscover(t *testing.T) {
	clk := newFakeClock()
	c := fakeController(t, newFakeNet(), Config{Local: LocalAuto, Discover: 2 * time.Second, Clock: clk}, nil)
	var mu sync.Mutex
	tiles := 0
	c.cfg.OnTile = func(TileEvent) { mu.Lock(); tiles++; mu.Unlock() }
	done := runAsync(context.Background(), c)
	clk.Advance(time.Second)
	select {
	case <-done:
		t.Fatal("Run finished before Discover with no node")
	default:
	}
	mu.Lock()
	early := tiles
	mu.Unlock()
	if early != 0 {
		t.Fatalf("%d tiles rendered before Discover", early)
	}
	var r runResult
	schedtest.WaitFor(t, "the in-process node to render", 5*time.Second, func() bool {
		clk.Advance(100 * time.Millisecond)
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, schedtest.FakeImage(c.cfg.Settings))
}

func TestLocalZeroWithoutNodesFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*fakeNet, *Controller) // before Run
		lose  func(*fakeNet)              // once some tiles are in
		want  string
	}{
		{name: "nothing offered", want: "no remote node reachable"},
		{
			name:  "unreachable",
			setup: func(_ *fakeNet, c *Controller) { c.AddNode(discovery.Node{ID: "gone", Addr: "gone:1"}) },
			want:  "no remote node reachable",
		},
		{
			name: "lost mid-render",
			setup: func(net *fakeNet, c *Controller) {
				var n *fakeNode
				k := 0
				n = net.add("mortal:1", &fakeNode{id: "mortal", cores: 1, onJob: func(c *fakeConn, j protocol.TileJob) {
					if k++; k <= 3 {
						c.reply(j)
						return
					}
					go n.kill()
				}})
				c.AddNode(discovery.Node{ID: "mortal", Addr: "mortal:1"})
			},
			want: "no remote node reachable",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newFakeNet()
			c := fakeController(t, net, Config{Local: 0, Discover: 20 * time.Millisecond}, nil)
			if tc.setup != nil {
				tc.setup(net, c)
			}
			r := await(t, runAsync(context.Background(), c))
			if !errors.Is(r.err, ErrNoNodes) || !strings.Contains(r.err.Error(), tc.want) || !strings.Contains(r.err.Error(), "tiles missing") {
				t.Fatalf("error %v: want ErrNoNodes saying %q and how many tiles are missing", r.err, tc.want)
			}
			if r.res == nil || r.res.Image == nil || r.res.Missing == 0 {
				t.Fatalf("result %+v: want the partial image and the missing count", r.res)
			}
			// What was rendered is in the partial image.
			want := schedtest.FakeImage(c.cfg.Settings)
			got := r.res.Stats.Tiles - r.res.Missing
			n := 0
			for _, rect := range tileGrid(want.Width, want.Height, c.cfg.Tile) {
				if samePixels(r.res.Image.Tile(rect), want.Tile(rect)) {
					n++
				}
			}
			if n != got {
				t.Errorf("%d tiles of the partial image are right, stats say %d are in", n, got)
			}
		})
	}
}

func TestInterruptCancelsJobsAndKeepsPartialImage(t *testing.T) {
	net := newFakeNet()
	k := 0
	n := net.add("n:1", &fakeNode{id: "n", cores: 2, jobc: make(chan protocol.TileJob, 64)})
	n.onJob = func(c *fakeConn, j protocol.TileJob) {
		if k++; k <= 2 {
			c.reply(j)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	in := 0
	cfg := Config{OnTile: func(TileEvent) {
		mu.Lock()
		defer mu.Unlock()
		if in++; in == 2 {
			cancel() // SIGINT
		}
	}}
	c := fakeController(t, net, cfg, nil)
	c.AddNode(discovery.Node{ID: "n", Addr: "n:1"})
	r := await(t, runAsync(ctx, c))
	if !errors.Is(r.err, ErrInterrupted) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("error %v: want ErrInterrupted wrapping context.Canceled", r.err)
	}
	if r.res.Missing != r.res.Stats.Tiles-2 {
		t.Errorf("missing %d of %d, want all but 2", r.res.Missing, r.res.Stats.Tiles)
	}
	if n.live() != 0 {
		t.Fatal("Run returned with its connection open")
	}
	n.settle() // the node has read everything sent before the close
	if got, want := len(n.cancelled()), n.jobCount()-2; got != want {
		t.Errorf("%d cancels for %d outstanding jobs", got, want)
	}
}

func TestBlackHolesDoNotHoldTheRender(t *testing.T) {
	net := newFakeNet()
	net.add("mute:1", &fakeNode{id: "mute", noHandshake: true})
	net.add("hole:1", &fakeNode{id: "hole", cores: 4, silent: true})
	hole := net.nodes["hole:1"]
	hole.jobc = make(chan protocol.TileJob, 64)
	good := net.add("good:1", &fakeNode{id: "good", cores: 1})
	c := fakeController(t, net, Config{Local: 0}, nil)
	c.AddNode(discovery.Node{ID: "mute", Addr: "mute:1"})
	c.AddNode(discovery.Node{ID: "hole", Addr: "hole:1"})
	done := runAsync(context.Background(), c)
	<-hole.jobc // the black hole took tiles first
	c.AddNode(discovery.Node{ID: "good", Addr: "good:1"})
	start := time.Now()
	r := await(t, done)
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The render must not wait for the handshake timeout, the liveness
	// timeout or the first progress deadline.
	if d := time.Since(start); d >= c.tune.handshake {
		t.Errorf("render took %v with black holes, want well under %v", d, c.tune.handshake)
	}
	schedtest.SameImage(t, r.res.Image, schedtest.FakeImage(c.cfg.Settings))
	if r.res.Stats.Duplicates == 0 {
		t.Error("no duplicates: the black hole's tiles were not copied onto the good node")
	}
	if good.live() != 0 || hole.live() != 0 {
		t.Error("connections left open")
	}
}

// TestSilentNodeSuspendedThenNamed: a node that stops answering is dropped
// after tune.live, dialled again and dropped again until suspended (lapses,
// not faults: not excluded); it is probed again after backoffs but answers
// no ping, so it takes no tile; with Local 0 and no other node the render
// waits tune.suspendedWait for it, then fails naming it.
func TestSilentNodeSuspendedThenNamed(t *testing.T) {
	net := newFakeNet()
	hole := net.add("hole:1", &fakeNode{id: "hole", cores: 1, silent: true, jobc: make(chan protocol.TileJob, 64)})
	clk := newFakeClock()
	c := fakeController(t, net, Config{Local: 0, Clock: clk}, nil)
	c.AddNode(discovery.Node{ID: "hole", Addr: "hole:1"})
	done := runAsync(context.Background(), c)
	<-hole.jobc
	var r runResult
	start := clk.Now()
	schedtest.WaitFor(t, "the render to give up", 10*time.Second, func() bool {
		clk.Advance(500 * time.Millisecond)
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if !errors.Is(r.err, ErrNoNodes) || !strings.Contains(r.err.Error(), "hole (fake hole) suspended") || !strings.Contains(r.err.Error(), "no answer") {
		t.Fatalf("error %v: want ErrNoNodes naming the suspended node and why", r.err)
	}
	if waited := clk.Now().Sub(start); waited < c.tune.suspendedWait {
		t.Errorf("gave up after %v, want at least suspendedWait %v", waited, c.tune.suspendedWait)
	}
	n := nodeStats(t, r.res.Stats, "hole")
	if n.Failures != 3 || n.Suspensions != 1 || n.Excluded != "" || n.State != NodeSuspended {
		t.Errorf("hole stats %+v: want 3 failures, suspended once, not excluded", n)
	}
	// Probed again (dialled: handshakes) but given no tile once suspended:
	// it answered no ping.
	hole.mu.Lock()
	handshakes, jobs := hole.handshakes, len(hole.jobs)
	hole.mu.Unlock()
	if handshakes < 5 {
		t.Errorf("%d handshakes: want the three before the suspension and probes after", handshakes)
	}
	if jobs > 3*2 {
		t.Errorf("%d jobs: a suspended node that answers no ping got tiles", jobs)
	}
}

func TestShutdownHandBackIsNoFailure(t *testing.T) {
	net := newFakeNet()
	leaving := net.add("leaving:1", &fakeNode{id: "leaving", cores: 2, jobc: make(chan protocol.TileJob, 64)})
	leaving.onJob = func(c *fakeConn, j protocol.TileJob) {
		c.send(protocol.Error{Code: protocol.CodeShutdown, Message: "node leaving is shutting down", Job: j.Job})
	}
	net.add("good:1", &fakeNode{id: "good", cores: 1})
	c := fakeController(t, net, Config{Local: 0}, nil)
	c.AddNode(discovery.Node{ID: "leaving", Addr: "leaving:1"})
	done := runAsync(context.Background(), c)
	<-leaving.jobc
	c.AddNode(discovery.Node{ID: "good", Addr: "good:1"})
	r := renderedRight(t, c, done)
	if n := nodeStats(t, r.res.Stats, "leaving"); n.Failures != 0 || n.Excluded != "" {
		t.Errorf("node that handed its jobs back: %+v, want no failure", n)
	}
	if got := leaving.jobCount(); got > 4 {
		t.Errorf("a draining node got %d jobs, want no more than its first window", got)
	}
}

func TestRunTwice(t *testing.T) {
	c := fakeController(t, newFakeNet(), Config{Local: 1}, nil)
	if r := await(t, runAsync(context.Background(), c)); r.err != nil {
		t.Fatal(r.err)
	}
	if _, err := c.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("second Run: %v, want ErrAlreadyRun", err)
	}
	c.AddNode(discovery.Node{ID: "late", Addr: "late:1"}) // after the end: ignored, no panic
}

func TestLocalWorkersOnly(t *testing.T) {
	for _, workers := range []int{1, 3} {
		c := fakeController(t, newFakeNet(), Config{Local: workers, Settings: render.Settings{Width: 40, Height: 30, SPP: 2, MaxDepth: 2}, Tile: 7}, nil)
		renderedRight(t, c, runAsync(context.Background(), c))
	}
}

// The in-process node is the reference: a remote copy of a duplicated tile
// that differs from it is wrong, without arbitration.
func TestDuplicateAgainstLocalDistrustsRemote(t *testing.T) {
	net := newFakeNet()
	quiet := func(*fakeConn, protocol.TileJob) {}
	liar := net.add("liar:1", &fakeNode{id: "liar", cores: 1, onJob: quiet, jobc: make(chan protocol.TileJob, 64)})
	gate := make(chan struct{})
	accepted := make(chan TileEvent, 64)
	cfg := Config{Local: 1, Settings: render.Settings{Width: 16, Height: 8, SPP: 1, MaxDepth: 1}, OnTile: func(e TileEvent) { accepted <- e }}
	c := fakeController(t, net, cfg, &fakeRender{gate: gate})
	c.AddNode(discovery.Node{ID: "liar", Addr: "liar:1"})
	done := runAsync(context.Background(), c)
	j := <-liar.jobc // a copy of a tile the gated local worker holds
	liar.conns[0].replyPix(j, make([]byte, len(schedtest.JobPixels(j))))
	if e := <-accepted; e.NodeID != "liar" {
		t.Fatalf("first tile in by %s, want the liar's copy", e.NodeID)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case gate <- struct{}{}:
			case <-accepted:
			case <-stop:
				return
			}
		}
	}()
	r := await(t, done)
	close(stop)
	wg.Wait()
	if r.err != nil {
		t.Fatal(r.err)
	}
	schedtest.SameImage(t, r.res.Image, schedtest.FakeImage(c.cfg.Settings))
	if l := nodeStats(t, r.res.Stats, "liar"); !strings.Contains(l.Excluded, "wrong pixels") || l.Tiles != 0 {
		t.Errorf("liar %+v: want excluded for wrong pixels, no tile", l)
	}
	if r.res.Stats.Mismatches != 1 {
		t.Errorf("mismatches %d, want 1", r.res.Stats.Mismatches)
	}
}

func TestBusyNodeShrinksItsWindow(t *testing.T) {
	net := newFakeNet()
	k := 0
	n := net.add("small:1", &fakeNode{id: "small", cores: 4})
	n.onJob = func(c *fakeConn, j protocol.TileJob) {
		if k++; k > 2 && k <= 5 { // MaxInFlight of 2
			c.send(protocol.Error{Code: protocol.CodeBusy, Message: "limit MaxInFlight=2 jobs per connection reached", Job: j.Job})
			return
		}
		c.reply(j)
	}
	c := fakeController(t, net, Config{}, nil)
	c.AddNode(discovery.Node{ID: "small", Addr: "small:1"})
	r := renderedRight(t, c, runAsync(context.Background(), c))
	if s := nodeStats(t, r.res.Stats, "small"); s.Failures != 0 || s.Tiles != r.res.Stats.Tiles {
		t.Errorf("busy node %+v: want no failure and every tile", s)
	}
}

// A node announced at an address that does not answer, and reached by
// another: the working route is used, under the proven id.
func TestSecondRouteTakesOverADeadOne(t *testing.T) {
	net := newFakeNet()
	net.add("live:1", &fakeNode{id: "n", cores: 1})
	c := fakeController(t, net, Config{Local: 0}, nil)
	c.AddNode(discovery.Node{ID: "n", Addr: "dead:1", Source: discovery.SourceMDNS})
	done := runAsync(context.Background(), c)
	c.AddNode(discovery.Node{Addr: "live:1", Source: discovery.SourceFlag})
	r := renderedRight(t, c, done)
	if len(r.res.Stats.Nodes) != 1 {
		t.Fatalf("stats nodes %+v: want the one node", r.res.Stats.Nodes)
	}
	if n := r.res.Stats.Nodes[0]; n.ID != "n" || n.Addr != "live:1" || n.Tiles != r.res.Stats.Tiles {
		t.Errorf("node stats %+v: want n at live:1 with every tile", n)
	}
}

// With Local > 0 the in-process node starts at once: the render needs no
// tick of the clock (the fake one here never moves).
func TestLocalStartsWithoutWaiting(t *testing.T) {
	c := fakeController(t, newFakeNet(), Config{Local: 2, Clock: newFakeClock()}, nil)
	renderedRight(t, c, runAsync(context.Background(), c))
}

// A scene too big for one frame cannot go to nodes: each is excluded with a
// reason that says so, and LocalAuto renders here.
func TestSceneTooBigForTheWire(t *testing.T) {
	defer func(limit int) { sceneFrameLimit = limit }(sceneFrameLimit)
	sceneFrameLimit = 1 << 20 // the real one is 272 MiB
	net := newFakeNet()
	n := net.add("n:1", &fakeNode{id: "n", cores: 1})
	big := &render.Bundle{Main: "s.json", Files: map[string][]byte{"s.json": []byte("{}"), "huge.obj": make([]byte, sceneFrameLimit)}}
	c := fakeController(t, net, Config{Bundle: big, Local: LocalAuto, Discover: 10 * time.Millisecond}, nil)
	c.AddNode(discovery.Node{ID: "n", Addr: "n:1"})
	r := renderedRight(t, c, runAsync(context.Background(), c))
	if s := nodeStats(t, r.res.Stats, "n"); !strings.Contains(s.Excluded, "frame limit") {
		t.Errorf("node %+v: want excluded for the frame limit", s)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.scenes != 0 || len(n.jobs) != 0 {
		t.Errorf("node got %d scenes and %d jobs", n.scenes, len(n.jobs))
	}
}

// An interrupted render reports what happened before the interrupt, not
// what its teardown did: the silent node's four tiles were handed out once
// and never again, so retries is 0, and the node is reported working (a
// regression test: the teardown used to re-queue every outstanding lease,
// which reported retries: 4).
func TestInterruptedRenderReportsWhatRan(t *testing.T) {
	net := newFakeNet()
	hole := net.add("hole:1", &fakeNode{id: "hole", cores: 2, silent: true, jobc: make(chan protocol.TileJob, 64)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The fake clock never moves: no deadline, ping or liveness check can
	// act before the interrupt.
	c := fakeController(t, net, Config{Local: 0, Clock: newFakeClock()}, nil)
	c.AddNode(discovery.Node{ID: "hole", Addr: "hole:1"})
	done := runAsync(ctx, c)
	for range 4 { // its window: twice its cores
		<-hole.jobc
	}
	cancel()
	r := await(t, done)
	if !errors.Is(r.err, ErrInterrupted) {
		t.Fatalf("Run: %v, want ErrInterrupted", r.err)
	}
	st := r.res.Stats
	if st.Retries != 0 || st.Duplicates != 0 {
		t.Errorf("retries %d, duplicates %d: want 0 and 0, no tile was handed out twice", st.Retries, st.Duplicates)
	}
	if n := nodeStats(t, st, "hole"); n.State != NodeWorking || n.Failures != 0 || n.Excluded != "" {
		t.Errorf("silent node %+v: want working, as it was when the render stopped, with no failure", n)
	}
	if r.res.Missing != st.Tiles {
		t.Errorf("missing %d of %d tiles, want all", r.res.Missing, st.Tiles)
	}
}

// The end of a render waits for the writers to send their cancels on the
// controller's clock, like every other wait: with a stuck connection and
// an hour's grace, Run returns once the fake clock has moved an hour.
func TestFinishWaitsOnTheControllersClock(t *testing.T) {
	net := newFakeNet()
	stuck := net.add("stuck:1", &fakeNode{id: "stuck", cores: 1, stuck: true, blocked: make(chan struct{}, 1)})
	clk := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := fakeController(t, net, Config{Local: 0, Clock: clk}, nil)
	c.tune.finishGrace = time.Hour
	c.AddNode(discovery.Node{ID: "stuck", Addr: "stuck:1"})
	done := runAsync(ctx, c)
	<-stuck.blocked // the writer is stuck sending the scene
	cancel()
	var r runResult
	schedtest.WaitFor(t, "Run to return once its clock passed the grace", 10*time.Second, func() bool {
		clk.Advance(time.Hour)
		select {
		case r = <-done:
			return true
		default:
			return false
		}
	})
	if !errors.Is(r.err, ErrInterrupted) {
		t.Fatalf("Run: %v, want ErrInterrupted", r.err)
	}
	if stuck.live() != 0 {
		t.Error("the stuck connection was left open")
	}
}

// Every scene the render package's default limits load fits in a Scene frame
// that nodes accept by default: its files, and the names of as many files as
// a Scene may carry, each as long as a path may be (4096 bytes).
func TestLoadableScenesFitTheWire(t *testing.T) {
	const maxPath = 4096
	m := protocol.Scene{Hash: strings.Repeat("h", 64), Main: strings.Repeat("m", maxPath)}
	per := int(render.DefaultLimits.MaxSceneBytes) / protocol.MaxSceneFiles
	data := make([]byte, per)
	for i := range protocol.MaxSceneFiles {
		m.Files = append(m.Files, protocol.Blob{Name: fmt.Sprintf("%0*d", maxPath, i), Data: data})
	}
	if err := checkScene(m); err != nil {
		t.Fatalf("a scene at MaxSceneBytes (%d MiB) in %d files: %v", render.DefaultLimits.MaxSceneBytes>>20, protocol.MaxSceneFiles, err)
	}
}

// A connection that a dial posts as the render ends, with nobody left to
// take its event, is closed by the teardown (goleak once found the fake
// node of such a connection still serving after the tests).
func TestFinishClosesAConnectionPostedLate(t *testing.T) {
	net := newFakeNet()
	net.add("n:1", &fakeNode{id: "n", cores: 1})
	c := fakeController(t, net, Config{Local: 1}, nil)
	r := newRun(context.Background(), c)
	conn, err := net.dial(context.Background(), "n:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Handshake(context.Background(), r.self, ""); err != nil {
		t.Fatal(err)
	}
	r.events <- event{kind: evUp, conn: conn}
	r.finish()
	select {
	case <-conn.(*fakeConn).closed:
	default:
		t.Fatal("the connection posted after the loop is still open")
	}
}
